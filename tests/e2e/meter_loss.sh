#!/bin/sh
# The meter's own losses are a metering gap.  An agent whose HTTP counter
# table is full ([meter] max_entries = 64) while a real nginx serves 70
# tenants cannot count some of their requests; each report declares the
# events lost in its window (health map_overflow_window), and the collector
# raises metering_gap ("meter lost events", with the agent's host and how
# many) on stdout and the exec sink.  The count equals the agent's own
# cumulative counter, and counted + lost = sent.  Losses while the agent is
# down are declared after its restart, and none twice.  `audit verify`
# finds them in the signed reports: verified, but incomplete.
# san: yes
NAME=loss
INTERVAL=200ms
. "$TM_ROOT/tests/e2e/lib/pipe.sh"
. "$TM_ROOT/tests/lib/nginx.sh"

HPORT=$LPORT                  # no tcp_conn listener in this test
COLLECTOR_EXTRA="[reconcile]
interval = 200ms
[alerts]
exec = cat >> $TMP/exec.out; echo >> $TMP/exec.out"
write_confs
sed -i "s|^pin_dir = .*|&\nmax_entries = 64|" "$TMP/agent.conf"
printf '[http]\nports = %s\ntenant_header = X-Tenant-Id\n' "$HPORT" >> "$TMP/agent.conf"

nginx_conf "$TMP" "$(nginx_ok_server "$HPORT")"
# nginx's master stops its worker on TERM (pipe_cleanup's KILL would
# orphan the worker)
NGINX_PID=
loss_cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	pipe_cleanup
}
trap loss_cleanup EXIT
nginx_start "$TMP" 2>"$TMP/nginx.err" || { nok "$(cat "$TMP/nginx.err")"; exit 1; }

stored() { [ "$(q 'SELECT COUNT(*) FROM reports')" -gt "$1" ]; }
requests() { # FROM TO: one request from each tenant tFROM..tTO
	i=$1
	while [ "$i" -le "$2" ]; do
		curl -s -o /dev/null -H "X-Tenant-Id: t$i" "http://127.0.0.1:$HPORT/" ||
			nok "request of t$i failed"
		i=$((i + 1))
	done
}
# the agent's cumulative count and what its reports declared per window
overflow() { "$B/truemeter" -d "$DB" agents --json | jq -r .map_overflow; }
declared() { q 'SELECT COALESCE(SUM(map_overflow_window), 0) FROM reports'; }
settled() { # every request seen and reported: $1 requests in all
	[ "$(( $(stored_http) + $(overflow) ))" = "$1" ] && [ "$(declared)" = "$(overflow)" ]
}
stored_http() {
	q "SELECT COALESCE(SUM(value), 0) FROM usage WHERE metric = 1 AND tenant LIKE 't%'"
}
evidence() {
	q "SELECT evidence FROM alert WHERE kind = 'metering_gap' AND status = 'open'" |
		jq -r '[(.gaps[] | select(.reason == "meter lost events") |
			"\(.hostname) \(.map_overflow) \(.event_drops)"), .lost_events] | join(" ")'
}
exec_lines() { grep -c '"kind":"metering_gap".*"status":"open"' "$TMP/exec.out" 2>/dev/null; }
# the sink got the alert as it now reads (losses spread over several
# windows send one version per change, behind the unbilled_usage alerts)
exec_got() { grep -q "\"kind\":\"metering_gap\".*\"lost_events\":$1[,}]" "$TMP/exec.out" 2>/dev/null; }
gap_shows() { [ "$(evidence)" = "$1" ]; }

start_collector || { nok "collector did not start"; exit 1; }
start_agent
wait_until 20 stored 1 || { nok "no reports stored"; exit 1; }
check "nothing lost yet: no metering gap" "" \
	"$(q "SELECT status FROM alert WHERE kind = 'metering_gap'")"

requests 1 70
if wait_until 20 settled 70; then ok "70 requests: counted + lost = sent"; else
	nok "70 requests: counted $(stored_http), lost $(overflow), declared $(declared)"; fi
lost=$(overflow)
if [ "$lost" -gt 0 ]; then ok "the full table lost $lost requests"; else
	nok "no overflow with 70 tenants in 64 entries"; fi
if wait_until 20 gap_shows "$ID $lost 0 $lost"; then
	ok "metering_gap: meter lost events, its host, how many ($ID $lost)"; else
	nok "metering_gap: expected '$ID $lost 0 $lost', got '$(evidence)'"; fi
wait_until 20 exec_got "$lost"    # the sink runs on its own thread
sent=$(exec_lines)
sleep 1    # five more reconcile ticks, nothing new lost: nothing new sent
if [ "$sent" -gt 0 ] && [ "$sent" = "$(exec_lines)" ]; then
	ok "sent on the exec sink, not again while nothing changes ($sent)"; else
	nok "exec sink: $sent, then $(exec_lines)"; fi
check "and on stdout" "$sent" \
	"$(grep -c '"kind":"metering_gap".*"status":"open".*"reason":"meter lost events"' "$TMP/collector.log")"

# The programs stay attached while the agent is down: what they lose then
# is declared by the restarted agent's first report (the state file kept
# the counter as last declared), and what was declared before is not again.
kill_agent TERM
requests 71 75      # five new tenants: the table is still full
start_agent
if wait_until 20 settled 75; then ok "lost while the agent was down: declared after its restart"; else
	nok "after a restart: counted $(stored_http), lost $(overflow), declared $(declared)"; fi
check "they add up, none declared twice" "$((lost + 5)) $((lost + 5))" "$(overflow) $(declared)"
if wait_until 20 gap_shows "$ID $((lost + 5)) 0 $((lost + 5))"; then
	ok "metering_gap updated: $((lost + 5)) lost"; else
	nok "metering_gap: expected $((lost + 5)) lost, got '$(evidence)'"; fi
kill_agent TERM
kill_collector TERM

# an auditor sees the same from the signed reports alone
"$B/truemeter" -d "$DB" audit export --period "$(date -u +%Y-%m)" -o "$TMP/audit.tmb" >/dev/null
"$B/truemeter" audit verify "$TMP/audit.tmb" --key "$TMP/keys/agent.pub" --json > "$TMP/audit.json"
rc=$?
check "audit verify: verified but incomplete, the losses from the signed reports" \
	"3 incomplete $((lost + 5)) 0" \
	"$rc $(jq -r '"\(.verdict) \(.lost_map_overflow) \(.lost_event_drops)"' "$TMP/audit.json")"
exit 0
