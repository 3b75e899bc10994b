#!/bin/sh
# http_exact.sh with the syscall-exit hooks, the meter's fallback on kernels
# without socket I/O tracepoints.
# san: yes
HTTP_HOOKS=syscall exec sh "$(dirname "$0")/http_exact.sh"
