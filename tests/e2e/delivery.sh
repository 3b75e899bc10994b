#!/bin/sh
# Delivery: an agent sends >= 1,000 reports (50 ms windows) while the
# collector is SIGKILLed and restarted 3 times and the agent SIGKILLed and
# restarted once.  The store must then hold every report exactly once
# (seq 1..N, no duplicate, no gap) and the tenant's stored tcp_connections
# must equal the K connections really made from its cgroup, spread over the
# whole run (also while the agent was dead: the pinned programs count on).
NAME=dlv
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

K=400
RUN_MS=56000

start_listener
start_collector
start_agent
sleep 1
tenant_conns $K $RUN_MS > "$TMP/conns.out" 2>&1 &
CONN_PID=$!
PIDS=$CONN_PID

# t = 8, 19, 30 s: the collector dies hard, comes back 1.5-3 s later
for down in 2 3 1.5; do
	sleep 9
	kill_collector KILL
	sleep "$down"
	start_collector
done
# t = 41 s: the agent dies hard between two writes, restarts after 2 s
sleep 4
kill_agent KILL
sleep 2
start_agent

wait $CONN_PID
conn_rc=$?
PIDS=
check "tenant made all $K connections" "0 done $K" "$conn_rc $(cat "$TMP/conns.out")"
# two more windows so the last connections are in a report, then drain
sleep 0.3
check_drained "agent spool drained"
kill_agent TERM

check_chain
if [ "$N" -ge 1000 ]; then ok "at least 1000 reports stored ($N)"; else nok "only $N reports stored"; fi
check "stored tcp_connections equal the real connections" "$K" "$(stored_metric tcp_connections)"
restarts=$(grep -c "listening on tcp://127.0.0.1:$PORT" "$TMP/collector.log")
check "collector ran 4 times (3 SIGKILL restarts)" 4 "$restarts"
dups=$(grep -c 'duplicate report' "$TMP/collector.log")
echo "# duplicates answered (resends after a kill): $dups"
kill_collector TERM
