#!/bin/sh
# Revoking an agent: its key file removed from enrolled_keys and the
# collector sent SIGHUP, its reports are refused (REJECTED, unknown key,
# counted on /metrics; the agent keeps them in spool/rejected), nothing
# more of it is stored, and once [reconcile] silent_after has passed the
# collector raises metering_gap for it: usage it meters is no longer
# verified.  What was stored before stays.
# san: yes
NAME=rvk
INTERVAL=200ms
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

COLLECTOR_EXTRA="[reconcile]
interval = 200ms
silent_after = 2s"
write_confs

stored() { [ "$(q 'SELECT COUNT(*) FROM reports')" -gt "$1" ]; }
rejected_unknown() {
	port=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/collector.log" | head -n 1)
	curl -s "http://127.0.0.1:${port:-0}/metrics" |
		sed -n 's/^truemeter_reports_rejected_total{reason="unknown_key"} //p'
}
has_rejected() { [ "$(rejected_unknown)" -gt 0 ]; }
gap_open() { [ "$(q "SELECT status FROM alert WHERE kind = 'metering_gap'")" = open ]; }

start_collector || { nok "collector did not start"; exit 1; }
start_agent
wait_until 20 stored 2 || { nok "no reports stored"; exit 1; }
check "enrolled: nothing rejected" 0 "$(rejected_unknown)"

rm "$TMP/keys/agent.pub"
kill -HUP "$COL_PID"
if wait_until 10 has_rejected; then ok "revoked: the agent's reports are refused as unknown"; else
	nok "revoked: nothing rejected ($(rejected_unknown))"; fi
check "the collector logged the reload" 1 \
	"$(grep -c 'enrolled_keys .*: 0 agent keys (0 added, 1 removed)' "$TMP/collector.log")"
n=$(q 'SELECT COUNT(*) FROM reports')
sleep 1
check "nothing more of it is stored" "$n" "$(q 'SELECT COUNT(*) FROM reports')"
check "what was stored before stays" 1 "$([ "$n" -gt 2 ] && echo 1 || echo 0)"
check "the agent keeps what was refused" 1 \
	"$([ "$(ls "$TMP/state/spool/rejected" 2>/dev/null | wc -l)" -gt 0 ] && echo 1 || echo 0)"
if wait_until 20 gap_open; then ok "silent since: metering_gap open"; else
	nok "no metering_gap for the revoked agent"; fi
check "the gap names the agent's host" "agent silent $ID" \
	"$(q "SELECT evidence FROM alert WHERE kind = 'metering_gap'" |
		jq -r '"\(.gaps[0].reason) \(.gaps[0].hostname)"')"
kill_agent TERM
kill_collector TERM
exit 0
