#!/bin/sh
# A silent agent: once a running collector has had no report from an
# enrolled agent for [reconcile] silent_after (2 s here), it raises
# metering_gap ("agent silent", from the end of the agent's last window, its
# hostname named) on stdout and the exec sink, once; `truemeter agents`,
# the dashboard and /metrics say "silent".  The agent comes back, its
# reports cover the time: the alert is resolved.  Retired with `truemeter
# agents retire`, a stopped agent raises nothing; its next report puts it
# back in service.  A restarted collector still lists it on /metrics.  An
# agent enrolled that never reports is silent too, from its enrolment, until
# its key is taken out of the enrolled keys.  A collector restarted after a
# short downtime goes on counting the silence from its earlier start.
# san: yes
NAME=sil
INTERVAL=200ms
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

COLLECTOR_EXTRA="[reconcile]
interval = 200ms
silent_after = 2s
[alerts]
exec = cat >> $TMP/exec.out; echo >> $TMP/exec.out"
write_confs

stored() { [ "$(q 'SELECT COUNT(*) FROM reports')" -gt "$1" ]; }
gap_status() { q "SELECT status FROM alert WHERE kind = 'metering_gap'"; }
gap_is() { [ "$(gap_status)" = "$1" ]; }
exec_lines() { # kind status: alerts the exec sink got
	grep -c "\"kind\":\"$1\".*\"status\":\"$2\"" "$TMP/exec.out" 2>/dev/null
}
# with the collector's config: its database and silent_after
status() { "$B/truemeter" -c "$TMP/collector.conf" agents --json | jq -r .status; }

start_collector || { nok "collector did not start"; exit 1; }
start_agent
wait_until 20 stored 2 || { nok "no reports stored"; exit 1; }
check "a reporting agent: no metering gap" "" "$(gap_status)"
check "truemeter agents: reporting" reporting "$(status)"
# a stray SIGHUP does not end the agent (systemd would not restart it)
kill -HUP "$AG_PID"
hup_logged() { grep -q 'SIGHUP: the agent reloads nothing' "$TMP/agent.log"; }
if wait_until 10 hup_logged && kill -0 "$AG_PID" 2>/dev/null; then
	ok "SIGHUP: the agent says so and runs on"; else nok "SIGHUP ended the agent"; fi

kill_agent TERM
if wait_until 20 gap_is open; then ok "agent stopped: metering_gap open"; else
	nok "agent stopped: no metering_gap within 20 s ($(gap_status))"; fi
last=$(q "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', MAX(window_end_ms) / 1000, 'unixepoch') FROM reports")
check "the gap runs from the agent's last window, names its host, has no end" \
	"agent silent $last $ID null 1" \
	"$(q "SELECT evidence FROM alert WHERE kind = 'metering_gap'" |
		jq -r '"\(.gaps[0].reason) \(.gaps[0].from) \(.gaps[0].hostname) \(.gaps[0].to) \(.silent_agents)"')"
check "truemeter agents: silent" silent "$(status)"
port=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/collector.log" | head -n 1)
check "dashboard: the agent's row stands out, silent" 1 \
	"$(curl -s "http://127.0.0.1:${port:-0}/" | grep -c "<tr class=\"warn\"><td>[0-9a-f]\{16\}</td><td>$ID</td><td>$last</td><td>silent</td>")"
agents_metric() { # reporting silent retired, from /metrics
	curl -s "http://127.0.0.1:${port:-0}/metrics" |
		awk '/^truemeter_agents\{status="(reporting|silent|retired)"\}/ { printf "%s%s", s, $2; s = " " }'
}
check "/metrics: one agent silent" "0 1 0" "$(agents_metric)"
sleep 1    # five more reconcile ticks: the alert stays as it was
check "raised once on the exec sink" 1 "$(exec_lines metering_gap open)"
check "raised once on stdout" 1 \
	"$(grep -c '"kind":"metering_gap".*"status":"open".*"reason":"agent silent"' "$TMP/collector.log")"

start_agent
if wait_until 20 gap_is resolved; then ok "agent back: metering_gap resolved"; else
	nok "agent back: metering_gap still $(gap_status)"; fi
exec_got() { [ "$(exec_lines "$1" "$2")" -gt 0 ]; }
wait_until 10 exec_got metering_gap resolved   # the sink runs on its own thread
check "resolved on the exec sink" 1 "$(exec_lines metering_gap resolved)"
check "no gap stored: its reports cover the time" 0 "$(q 'SELECT COUNT(*) FROM gaps')"
check "truemeter agents: reporting again" reporting "$(status)"

# decommissioned: retired, its silence raises nothing
kill_agent TERM
prefix=$("$B/truemeter" -d "$DB" agents --json | jq -r .agent | cut -c1-12)
"$B/truemeter" -d "$DB" agents retire "$prefix" > "$TMP/retire.out"
check "truemeter agents retire" 1 "$(grep -c "^agent $prefix[0-9a-f]* retired since " "$TMP/retire.out")"
sleep 4    # twice silent_after
check "a retired agent's silence raises nothing" resolved "$(gap_status)"
check "truemeter agents: retired" retired "$(status)"
check "/metrics: one agent retired" "0 0 1" "$(agents_metric)"
start_agent
wait_until 20 stored "$(q 'SELECT COUNT(*) FROM reports')" ||
	nok "the agent's reports did not resume"
check "its next report puts it back in service" reporting "$(status)"

# the collector restarts while the agent stays down: /metrics still lists
# the agent (from the store), silent once silent_after has passed
kill_agent TERM
last=$(q "SELECT MAX(window_end_ms) / 1000 FROM reports")
kill_collector TERM
start_collector || { nok "collector did not restart"; exit 1; }
port=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/collector.log" | tail -n 1)
check "/metrics after a restart: the agent's last window, before any report" "$last" \
	"$(curl -s "http://127.0.0.1:${port:-0}/metrics" |
		sed -n "s/^truemeter_agent_last_window_end_seconds{.*hostname=\"$ID\"} //p")"
check "/metrics: and when its last report was received" \
	"$(q "SELECT MAX(received_ms) / 1000 FROM reports")" \
	"$(curl -s "http://127.0.0.1:${port:-0}/metrics" |
		sed -n "s/^truemeter_agent_last_heard_seconds{.*hostname=\"$ID\"} //p")"
silent_metric() { [ "$(agents_metric)" = "0 1 0" ]; }
if wait_until 20 silent_metric; then ok "/metrics after a restart: silent"; else
	nok "/metrics after a restart: $(agents_metric)"; fi

# an agent enrolled that never reports is as silent, from its enrolment
"$B/truemeter-agent" keygen "$TMP/never.key" "$TMP/keys/never.pub" > /dev/null
kill -HUP "$COL_PID"
never=$(tr -d '\n' < "$TMP/keys/never.pub")
never_field() { # jq filter: of the never-reporting agent in `truemeter agents`
	"$B/truemeter" -c "$TMP/collector.conf" agents --json |
		jq -r "select(.agent == \"$never\") | $1"
}
never_silent() { [ "$(never_field .status)" = silent ]; }
if wait_until 20 never_silent; then ok "an agent enrolled that never reported: silent"
else nok "an agent enrolled that never reported: '$(never_field .status)'"; fi
check "listed with no reports, no window, since its enrolment" "0 null null true" \
	"$(never_field '"\(.reports) \(.last_window_end) \(.last_heard) \(.enrolled != null)"')"
never_in_gap() {
	q "SELECT evidence FROM alert WHERE kind = 'metering_gap' AND status = 'open'" |
		jq -e ".gaps[] | select(.agent == \"$never\" and .reason == \"agent silent\")" \
		> /dev/null
}
if wait_until 20 never_in_gap; then ok "metering_gap lists it as silent"
else nok "metering_gap does not list it: $(q "SELECT evidence FROM alert WHERE kind = 'metering_gap'")"; fi
check "/metrics: two agents silent" "0 2 0" "$(agents_metric)"
rm "$TMP/keys/never.pub"
kill -HUP "$COL_PID"
never_gone() { [ -z "$(never_field .status)" ]; }
if wait_until 10 never_gone; then ok "no longer enrolled: no longer listed"
else nok "no longer enrolled, still listed: $(never_field .status)"; fi

# a collector that keeps restarting: its runs of uptime after short
# downtimes count as one, so the stopped agent is silent at once after a
# restart, not only silent_after (2 s) later
kill_collector TERM
start_collector || { nok "collector did not restart"; exit 1; }
t0=$(date +%s%N)
http_up() { [ "$(grep -c 'http: listening on' "$TMP/collector.log")" -ge 3 ]; }
wait_until 5 http_up
port=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/collector.log" | tail -n 1)
got=$(agents_metric)
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 1500 ]; then
	check "restarted after a short downtime: still silent ${ms} ms after the start" "0 1 0" "$got"
else
	nok "the restarted collector took ${ms} ms to answer: too slow to tell"
fi
check "the collector says its uptime goes on, at both restarts" 2 \
	"$(grep -c 'up since [0-9]* ms ago, across a short downtime' "$TMP/collector.log")"
kill_collector TERM
exit 0
