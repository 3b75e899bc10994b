#!/bin/sh
# A first start counts from the moment the meter's programs attach.
#  1. No state and no pins: the agent is stopped right after the meter
#     loads, before its first read (TRUEMETER_CRASH_POINT=opened:stop),
#     and the tenant makes K1 connections.  Counters made afresh count from
#     zero, so the first reports hold all K1.
#  2. The same, but the start dies there (opened:1), leaving pins the
#     meter made and no baseline read.  K2 connections follow with no
#     agent running; the next start finds the state saved before the meter
#     loaded (an epoch with nothing reported yet) and reports all K2,
#     where a missing state would have taken them for an earlier agent's.
#  3. The state file is lost while pins stay: the new epoch takes what they
#     hold (K3, made with no agent running) as its baseline, since nothing
#     says what of it was reported, and reports K4 made after it started.
NAME=fst
INTERVAL=200ms
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

K1=6
K2=11
K3=5
K4=8

conns() { stored_metric tcp_connections; }
stored_is() { [ "$(conns)" = "$1" ]; }
agent_ran() { # N: the agent has logged that it runs N times
	[ "$(grep -c 'running: interval' "$TMP/agent.log" 2>/dev/null)" -ge "$1" ]
}
stopped() { # the agent stopped itself at the test stop point
	grep -q "test stop point 'opened' reached" "$TMP/agent.log" &&
		ps -o stat= -p "$AG_PID" | grep -q '^T'
}

start_listener
start_collector

# 1. stopped between the meter's load and the first read
export TRUEMETER_CRASH_POINT=opened:stop
start_agent
unset TRUEMETER_CRASH_POINT
if wait_until 20 stopped; then ok "the agent stopped after loading the meter"
else nok "the agent did not stop at 'opened': $(tail -n 3 "$TMP/agent.log")"; fi
tenant_conns $K1 20 > "$TMP/conns1.out" 2>&1
kill -CONT "$AG_PID"
wait_until 15 stored_is $K1
check "a first start reports what was counted before its first read" $K1 "$(conns)"
check_drained "spool drained"
kill_agent TERM

# 2. dead between the meter's load and the first read
"$B/truemeter-agent" -q -c "$TMP/agent.conf" detach || nok "truemeter-agent detach"
rm -rf "$TMP/state"
TRUEMETER_CRASH_POINT=opened:1 "$B/truemeter-agent" -c "$TMP/agent.conf" >> "$TMP/agent.log" 2>&1
check "the start died at 'opened'" 99 "$?"
tenant_conns $K2 20 > "$TMP/conns2.out" 2>&1
start_agent
wait_until 15 stored_is $((K1 + K2))
check "the next start reports what the pins counted after the dead one" \
	$((K1 + K2)) "$(conns)"
check "it continued the epoch the dead start had saved" 1 \
	"$(grep -c 'continues after seq 0 ' "$TMP/agent.log")"
check_drained "spool drained"
kill_agent TERM

# 3. the state file lost, the pins kept
rm -rf "$TMP/state"
tenant_conns $K3 20 > "$TMP/conns3.out" 2>&1
start_agent
wait_until 15 agent_ran 4
tenant_conns $K4 20 > "$TMP/conns4.out" 2>&1
wait_until 15 stored_is $((K1 + K2 + K4))
sleep 0.6               # two more windows: K3 must not come after all
check "a lost state: what the pins held before is the baseline, what follows is reported" \
	$((K1 + K2 + K4)) "$(conns)"
check "three epochs began" 3 "$(grep -c 'new epoch' "$TMP/agent.log")"
check "no report rejected" 0 "$(grep -c 'rejected report' "$TMP/collector.log")"
kill_agent TERM
kill_collector TERM
exit "$FAILS"
