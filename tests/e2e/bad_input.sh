#!/bin/sh
# Bad input to the collector: random bytes, truncated and oversized
# messages, a valid report with a flipped bit, a replayed old report, a
# report signed by an unknown key, a broken chain and a conflicting report.
# Each gets a clear log line (and the right Ack), the collector does not
# crash, and the store is byte-for-byte the same before and after.
# san: yes
NAME=bad
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

BAD=$B/tests/badinput
URL=tcp://127.0.0.1:$PORT
EPOCH=4660
mkdir -p "$TMP/env" "$TMP/stranger"
"$B/truemeter-agent" keygen "$TMP/stranger/s.key" "$TMP/stranger/s.pub"

start_collector
wait_until 10 grep -q "listening on $URL" "$TMP/collector.log"
if "$BAD" "$URL" seed "$TMP/agent.key" $EPOCH 5 "$TMP/env" > "$TMP/seed.out"; then
	ok "5 valid reports stored"
else
	nok "seeding valid reports failed: $(cat "$TMP/seed.out")"
fi
# what the receiver owns (the judge may keep its own tables moving)
dump() { sqlite3 "$DB" ".dump reports usage gaps"; }
dump > "$TMP/before.sql"

# bad CASE EXPECTED_ANSWER LOG_PATTERN -- badinput arguments...
bad() {
	name=$1 want=$2 pat=$3
	shift 4
	before=$(grep -c "$pat" "$TMP/collector.log")
	got=$("$BAD" "$URL" "$@" 2>&1 | head -1)
	case "$got" in
	"$want"*) ok "$name answered: $got" ;;
	*) nok "$name: expected '$want...', got '$got'" ;;
	esac
	after=$(grep -c "$pat" "$TMP/collector.log")
	if [ -z "$pat" ] || [ "$after" -gt "$before" ]; then ok "$name logged"
	else nok "$name: no log line matching '$pat'"; fi
}
K=$TMP/agent.key
bad "random bytes" "ack REJECTED" "rejected report.*decode" -- random 1000 7
bad "random bytes (large)" "ack REJECTED" "rejected report.*decode" -- random 200000 9
bad "empty message" "ack REJECTED" "rejected report.*decode" -- random 0 1
bad "truncated report" "ack REJECTED" "rejected report.*decode" -- truncated "$K" $EPOCH 6
bad "flipped bit" "ack REJECTED" "rejected report.*signature" -- flipped "$K" $EPOCH 6
bad "oversized (above max_message)" "ack REJECTED" "rejected report.*oversize" -- oversize 1048676
bad "oversized (beyond the transport limit)" "noanswer" "" -- oversize 8000000
bad "replayed old report" "ack DUPLICATE" "duplicate report.*seq 3 " -- sendfile "$TMP/env/3.env"
bad "unknown key" "ack REJECTED" "rejected report.*unknown_key" -- chain "$TMP/stranger/s.key" 1 1
bad "broken chain" "ack REJECTED" "rejected report.*chain_broken" -- chain "$K" $EPOCH 6
bad "conflicting report" "ack REJECTED" "rejected report.*conflict" -- conflict "$K" $EPOCH 4

if kill -0 "$COL_PID" 2>/dev/null; then ok "collector still running"
else nok "collector died"; fi
dump > "$TMP/after.sql"
if cmp -s "$TMP/before.sql" "$TMP/after.sql"; then ok "store unchanged by bad input"
else nok "store changed:"; diff "$TMP/before.sql" "$TMP/after.sql" | head -20 | sed 's/^/# /'; fi
# and it still takes good reports
if "$BAD" "$URL" seed "$TMP/agent.key" $((EPOCH + 1)) 2 "$TMP/env" > /dev/null; then
	ok "valid reports still accepted afterwards"
else
	nok "valid reports refused after the bad input"
fi
check "stored reports" 7 "$(q 'SELECT COUNT(*) FROM reports;')"
echo "# collector log lines:"
grep -E 'rejected|duplicate' "$TMP/collector.log" | sed 's/^/#   /'
kill_collector TERM
if grep -qiE 'AddressSanitizer|runtime error' "$TMP/collector.log"; then
	nok "sanitizer reports in the collector log"
else
	ok "no sanitizer reports"
fi
