#!/bin/sh
# make fuzz: runs each libFuzzer target (tests/fuzz/fuzz_*.c, built with
# clang under ASan/UBSan) for SECS seconds, seeded from examples/ and
# keeping what it learns in BUILD/fuzz/corpus/NAME between runs.  A crash
# leaves its input as BUILD/fuzz/crash-NAME-*; reproduce it with
# `BUILD/fuzz/fuzz_NAME FILE`.  Ends with "N passed, N failed".
#
#   sh tests/fuzz/run.sh BUILD SECS [NAME...]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD SECS [NAME...]}" && pwd)
SECS=${2:?usage: run.sh BUILD SECS [NAME...]}
shift 2
[ $# -gt 0 ] || set -- pricing webhook import audit receiver conf
E=$ROOT/examples
pass=0
fail=0

seed() { # NAME DIR: the examples, each with the target's leading bytes
	case $1 in
	pricing)
		{ printf '\100\102\017\000\000\000\000\000'; cat "$E/pricing.json"; } > "$2/pricing"
		;;
	webhook)
		for f in "$E"/stripe/events/*.json; do
			{ printf '\001'; cat "$f"; } > "$2/stripe-$(basename "$f")"
		done
		for f in "$E"/razorpay/*.*.json; do
			{ printf '\002'; cat "$f"; } > "$2/razorpay-$(basename "$f")"
		done
		;;
	import)
		{ printf '\000'; cat "$E/billing/billing.csv"; } > "$2/csv"
		{ printf '\001'; cat "$E/billing/billing.jsonl"; } > "$2/jsonl"
		{ printf '\002'; cat "$E/stripe/invoices.json"; } > "$2/stripe"
		;;
	audit)  # a small bundle of signed reports from a real store
		t=$(mktemp -d /tmp/tm-fuzz-seed.XXXXXX)
		"$BUILD/tests/audit_bundle" fill "$t" 3 4 >/dev/null &&
			"$BUILD/truemeter" -d "$t/t.db" audit export --period 2026-11 \
				-o "$2/bundle" >/dev/null 2>&1
		rm -rf "$t"
		;;
	conf)
		{ printf '\000'; cat "$E/agent.conf"; } > "$2/agent"
		{ printf '\001'; cat "$E/collector.conf"; } > "$2/collector"
		;;
	receiver)  # the target writes real reports on its first run
		printf '\001' > "$2/empty"
		TM_FUZZ_SEED_DIR=$2 "$BUILD/fuzz/fuzz_receiver" -runs=1 "$2/empty" >/dev/null 2>&1
		;;
	esac
}

for name in "$@"; do
	bin=$BUILD/fuzz/fuzz_$name
	corpus=$BUILD/fuzz/corpus/$name
	[ -x "$bin" ] || { echo "no $bin (make fuzz builds it)" >&2; exit 2; }
	if [ ! -d "$corpus" ]; then
		mkdir -p "$corpus"
		seed "$name" "$corpus"
	fi
	echo "== fuzz_$name, $SECS s"
	# the code under test logs a warning for most bad inputs: not kept
	{ "$bin" -max_total_time="$SECS" -max_len=8192 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$BUILD/fuzz/crash-$name-" "$corpus" 2>&1
	  echo "exit $?" >&2; } 2>"$BUILD/fuzz/$name.status" |
		grep -v '^[0-9T:.-]*Z [a-z_-]*\[warn\]: ' > "$BUILD/fuzz/$name.log"
	if [ "$(cat "$BUILD/fuzz/$name.status")" = "exit 0" ]; then
		echo "ok - fuzz_$name: $(sed -n 's/^stat::number_of_executed_units: //p' \
			"$BUILD/fuzz/$name.log") runs, no crash ($(ls "$corpus" | wc -l) inputs in its corpus)"
		pass=$((pass + 1))
	else
		echo "not ok - fuzz_$name: $(grep -E 'ERROR|runtime error|Assertion' "$BUILD/fuzz/$name.log" |
			head -n 2 | tr '\n' ' ')"
		ls "$BUILD/fuzz/crash-$name-"* 2>/dev/null | sed 's/^/# input: /'
		fail=$((fail + 1))
	fi
	rm -rf "/tmp/tm-fuzz-$name."*   # the target's store and input files
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
