#!/bin/sh
# make bench: runs every tests/bench/*.sh with TM_BUILD/TM_ROOT set.  Each
# prints "BENCH <name> <value> <unit>" lines; this collects them into one
# table at the end.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-build}" && pwd)
OUT=$(mktemp /tmp/truemeter-bench.XXXXXX)
status=0
for b in "$ROOT"/tests/bench/*.sh; do
	[ -f "$b" ] || continue
	[ "$(basename "$b")" = run.sh ] && continue
	echo "== $(basename "$b")"
	if ! TM_ROOT="$ROOT" TM_BUILD="$BUILD" sh "$b" | tee -a "$OUT"; then
		echo "bench $(basename "$b") failed" >&2
		status=1
	fi
done
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
printf '%-28s %14s  %s\n' name value unit
grep '^BENCH ' "$OUT" | awk '{ printf "%-28s %14s  %s\n", $2, $3, $4 }'
rm -f "$OUT"
exit $status
