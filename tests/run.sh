#!/bin/sh
# truemeter test runner.
#   tests/unit/test_*.c  cmocka programs (build/tests/test_*): every case counts
#   tests/e2e/*.sh       scripts printing TAP lines "ok - ..." / "not ok - ..."
# Scripts with a line "# san: yes" run again against the sanitizer build.
# Ends with "N passed, N failed"; exits non-zero if anything failed.
#
# usage: tests/run.sh --build DIR [--san-build DIR] [--only PATTERN]
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
SAN_BUILD=
ONLY=
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--san-build) SAN_BUILD=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

PASSED=0
FAILED=0
FAILURES=""
LOGDIR=$(mktemp -d /tmp/truemeter-tests.XXXXXX)

note_fail() {
	FAILED=$((FAILED + $2))
	FAILURES="$FAILURES $1"
}

run_cmocka() { # bin label
	log="$LOGDIR/$(echo "$2" | tr '/ ' '__').log"
	echo "== $2"
	"$1" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1     # crashed or sanitizer abort before cmocka's summary
	fi
	PASSED=$((PASSED + p))
	[ "$f" -gt 0 ] && note_fail "$2" "$f"
}

run_script() { # script build label
	log="$LOGDIR/$(echo "$3" | tr '/ ' '__').log"
	echo "== $3"
	TM_ROOT="$ROOT" TM_BUILD="$(cd "$2" && pwd)" sh "$1" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $3 exited with status $rc"
	fi
	PASSED=$((PASSED + p))
	[ "$f" -gt 0 ] && note_fail "$3" "$f"
}

selected() {
	[ -z "$ONLY" ] && return 0
	case "$1" in *$ONLY*) return 0 ;; esac
	return 1
}

suite() { # build label-prefix san-only
	b=$1
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		selected "$t" || continue
		run_cmocka "$t" "$2$(basename "$t")"
	done
	for s in "$ROOT"/tests/e2e/*.sh; do
		[ -f "$s" ] || continue
		selected "$s" || continue
		if [ "$3" = yes ] && ! grep -q '^# san: yes' "$s"; then
			continue
		fi
		run_script "$s" "$b" "$2$(basename "$s")"
	done
}

suite "$BUILD" "" no
if [ -n "$SAN_BUILD" ]; then
	suite "$SAN_BUILD" "san:" yes
fi

rm -rf "$LOGDIR"
if [ -n "$FAILURES" ]; then
	echo "failed:$FAILURES"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
