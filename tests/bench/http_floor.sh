#!/bin/sh
# The least a meter reading the bytes at the socket hooks can cost: the
# pinned benchmark (http_overhead_pinned.sh) of a build of the HTTP
# programs that stops after the user-memory copies a request's bytes need
# (bpf/http.bpf.c, TM_HTTP_FLOOR): the tracepoints, the port check, the
# connection's state, the stream check, the syscall's registers, the
# iovec and the bytes themselves.  No parsing, no counting.  Beside the
# full meter's figures it splits the cost in what parsing adds and what
# any such meter pays, and it says whether 97% of a CPU-bound worker's
# requests/s is within reach of this design on this host.  Prints the
# pinned benchmark's figures with a "_floor" suffix, and
#   BENCH nginx_cpu_budget_per_request_pinned_floor <ns> ns   3.1% of the
#         worker's CPU time per request without a meter: what the meter
#         may add for the worker to keep 97% of its requests/s
set -u

R=${TM_ROOT:?TM_ROOT not set}
TMP=$(mktemp -d /tmp/tmfloor.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

FB=$TMP/build
echo "# building the floor copy in $FB"
make -s -C "$R" BUILD="$FB" BPF_DEFS=-DTM_HTTP_FLOOR -j"$(nproc)" \
	"$FB/tests/meter_dump" "$FB/tests/hook_toggle" "$FB/tests/stats_calib" \
	"$FB/truemeter-agent" "$FB/truemeter-collector" >"$TMP/make.log" 2>&1 ||
	{ echo "the floor build failed: $(tail -n 20 "$TMP/make.log")" >&2; exit 1; }

TM_BUILD=$FB SUFFIX=_floor sh "$R/tests/bench/http_overhead_pinned.sh" >"$TMP/out"
status=$?
cat "$TMP/out"
[ $status = 0 ] || exit $status
grep -q '^# skipped' "$TMP/out" && exit 0
awk '$1 == "BENCH" && $2 == "nginx_cpu_per_request_pinned_floor" {
	printf "BENCH nginx_cpu_budget_per_request_pinned_floor %.0f ns\n", $3 * (1 / 0.97 - 1) }' "$TMP/out"
