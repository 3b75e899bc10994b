#!/bin/sh
# http_reload.sh with the syscall-exit hooks, the meter's fallback on
# kernels without socket I/O tracepoints.
HTTP_HOOKS=syscall exec sh "$(dirname "$0")/http_reload.sh"
