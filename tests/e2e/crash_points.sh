#!/bin/sh
# Power-loss safety, as far as a test can go: the agent dies hard (exit
# without cleanup) exactly after sealing a report, after spooling it and
# after saving its state, and is SIGKILLed at 20 more arbitrary moments,
# each time restarted at once, while a tenant makes K connections.  The
# store must then hold seq 1..N of one epoch exactly once, chained, without
# gaps, and exactly K tcp_connections.  A crash right after the spool
# write must be recovered by rolling the state forward.
NAME=crp
INTERVAL=20ms
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

K=250
start_listener
start_collector
start_agent
sleep 0.5
tenant_conns $K 14000 > "$TMP/conns.out" 2>&1 &
CONN_PID=$!
PIDS=$CONN_PID

# deterministic crash points: die in the 7th window after starting
for point in sealed spooled saved spooled; do
	kill_agent KILL
	TRUEMETER_CRASH_POINT=$point:7 "$B/truemeter-agent" -c "$TMP/agent.conf" \
		>> "$TMP/agent.log" 2>&1
	echo "# crash point $point: agent exited with $?"
	start_agent
	sleep 0.4
done
check "agent hit every crash point" 4 "$(grep -c "test crash point" "$TMP/agent.log")"
# at least the two "spooled" crashes; a SIGKILL before a crash run may
# land between the two writes too
rolled=$(grep -c 'recovered report seq' "$TMP/agent.log")
if [ "$rolled" -ge 2 ]; then ok "crashes after the spool write were rolled forward ($rolled)"
else nok "only $rolled roll-forwards after 2 crashes between the spool and state writes"; fi

# arbitrary moments: a fixed list of delays (ms) so runs are comparable
for d in 130 310 70 450 220 90 380 160 270 50 340 110 290 190 60 410 140 250 80 360; do
	sleep "$(echo "$d" | awk '{ printf "%.3f", $1 / 1000 }')"
	kill_agent KILL
	start_agent
done

wait $CONN_PID
check "tenant made all $K connections" "0 done $K" "$? $(cat "$TMP/conns.out")"
PIDS=
sleep 0.3
check_drained "spool drained"
kill_agent TERM
kill_collector TERM

check_chain
check "no report rejected" 0 "$(grep -c 'rejected report' "$TMP/collector.log")"
check "stored tcp_connections equal the real connections" "$K" \
	"$(stored_metric tcp_connections)"
check "agent started fresh only once" 1 "$(grep -c 'new epoch' "$TMP/agent.log")"
