#!/bin/sh
# The judge inside truemeter-collector: config check of the judge's
# sections, HTTP beside the receiver (/healthz, /metrics with the
# receiver's and the judge's counters), a leak alert on the collector's
# stdout within a few reconcile ticks of usage being stored, SIGHUP, SIGTERM.
# san: yes
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"
. "$TM_ROOT/tests/lib/scratch.sh"
B=${TM_BUILD:?TM_BUILD not set}
R=${TM_ROOT:?TM_ROOT not set}
scratch tmjcol
DB=$TMP/c.db
KEY=$(printf 'ab%.0s' $(seq 32))

cat > "$TMP/c.conf" <<CONF
[collector]
listen = ipc://$TMP/c.sock
database = $DB
enroll = $KEY
[http]
port = 0
[pricing]
catalog = $R/examples/pricing.json
[reconcile]
interval = 200ms
tolerance_pct = 0.5
CONF
"$B/truemeter-collector" -n -c "$TMP/c.conf" >/dev/null 2>&1
check "config with the judge's sections is valid" 0 "$?"
sed 's/tolerance_pct = 0.5/tolerance_pct = lots/' "$TMP/c.conf" > "$TMP/bad.conf"
"$B/truemeter-collector" -n -c "$TMP/bad.conf" 2> "$TMP/bad.err"
check "a bad judge value is refused with file:line" 1 "$(grep -c 'bad.conf:11: tolerance_pct' "$TMP/bad.err")"

"$B/truemeter-collector" -c "$TMP/c.conf" > "$TMP/out.jsonl" 2> "$TMP/err.log" &
PID=$!
i=0
URL=
until [ -n "$URL" ] && curl -sf "$URL/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && { nok "collector HTTP did not come up"; cat "$TMP/err.log"; exit 1; }
	sleep 0.1
	PORT=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/err.log" | head -1)
	[ -n "$PORT" ] && URL=http://127.0.0.1:$PORT
done
ok "collector serves /healthz"
curl -s "$URL/metrics" > "$TMP/metrics"
check "/metrics has the receiver's counters" 1 "$(grep -c '^truemeter_reports_received_total 0$' "$TMP/metrics")"
check "/metrics has the judge's counters" 1 "$(grep -c '^truemeter_reconcile_ticks_total [1-9]' "$TMP/metrics")"

"$B/tests/usage_put" "$DB" ghost api_requests "$(date -u +%Y-%m-%dT%H:%M:%SZ)" 1000
n=0
until grep -q '"kind":"unbilled_usage","tenant":"ghost"' "$TMP/out.jsonl" 2>/dev/null; do
	n=$((n + 1))
	[ $n -gt 30 ] && break
	sleep 0.1
done
check "unbilled_usage on stdout with its money (1000 x 0.1)" "100 usd" \
	"$(grep '"tenant":"ghost"' "$TMP/out.jsonl" | head -1 | jq -r '"\(.leak) \(.currency)"')"
kill -HUP "$PID"
sleep 0.3
check "SIGHUP reloads, the collector keeps running" 1 "$(grep -c 'SIGHUP' "$TMP/err.log")"
kill -TERM "$PID"
wait "$PID"
check "collector stops cleanly" 0 "$?"
PID=
