#!/bin/sh
# The floor of the HTTP meter's cost to the host: what an empty program on
# its socket tracepoints adds to every socket call (tests/bench/hook_floor.c).
set -eu
"${TM_BUILD:?}/tests/hook_floor"
