#!/bin/sh
# Counters made afresh under a continued state.  Pins do not survive a
# reboot: the agent comes back with its state file (the baseline: what it
# last reported of each counter) and a meter whose maps start at zero.
# Until its first read those new counters may grow past the old baseline;
# taken as the same counters, they would be reported less the old value.
#
# Here the agent reports K1 connections of a cgroup tenant and R1 HTTP
# requests of the same tenant, stops, and its pins are removed (`detach`,
# as a reboot leaves bpffs).  It starts again and is stopped (SIGSTOP)
# before its first window ends; the tenant makes K2 > K1 connections and
# R2 > R1 requests; it goes on.  Then the same once more, with K3 > K2 and
# R3 > R2.  The store must hold every connection and request once.  The
# loss counters likewise: at each restart, wrk's two connections, open
# before the meter loads, count as a drop each.  The second restart finds
# the first's 2 drops declared, and the reports must declare all 4.
NAME=crs
INTERVAL=200ms
. "$TM_ROOT/tests/e2e/lib/pipe.sh"
. "$TM_ROOT/tests/lib/nginx.sh"

K1=4
K2=9
K3=14
R1=5
R2=13
R3=20
HPORT=$((LPORT + 1))
NGINX_PID=

mkdir -p "$TMP/ng"
nginx_conf "$TMP/ng" "$(nginx_ok_server "$HPORT")"
# nginx's master gets TERM: killed hard (as pipe_cleanup kills), it would
# leave its worker behind
stop_nginx() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}
trap 'stop_nginx; pipe_cleanup' EXIT
nginx_start "$TMP/ng" || { nok "nginx did not start"; exit 1; }
printf '[http]\nports = %s\ntenant_header = X-Tenant-Id\n' "$HPORT" >> "$TMP/agent.conf"

requests() { # N: N keep-alive requests of the tenant
	n=$1
	i=0
	set --
	while [ $i -lt "$n" ]; do
		set -- "$@" "http://127.0.0.1:$HPORT/v1/items/$i"
		i=$((i + 1))
	done
	curl -s -H "X-Tenant-Id: $ID" "$@" > /dev/null
}
old_conns() { # two keep-alive connections open before the meter loads
	wrk -t1 -c2 -d4s "http://127.0.0.1:$HPORT/" > "$TMP/wrk.out" 2>&1 &
	WRK_PID=$!
	PIDS="$PIDS $WRK_PID"
	sleep 0.3
}
drops() { q 'SELECT TOTAL(event_drops_window) FROM reports;' | cut -d. -f1; }
totals() { echo "$(stored_metric tcp_connections) $(stored_metric api_requests) $(drops)"; }
stored_are() { [ "$(totals)" = "$1" ]; }
agent_ran() { # N: the agent has logged that it runs N times
	[ "$(grep -c 'running: interval' "$TMP/agent.log" 2>/dev/null)" -ge "$1" ]
}

start_listener
start_collector
start_agent
wait_until 10 agent_ran 1
tenant_conns $K1 50 > "$TMP/conns1.out" 2>&1
requests $R1
wait_until 10 stored_are "$K1 $R1 0"
check "before the restarts: connections and requests stored" "$K1 $R1 0" "$(totals)"

restart_afresh() { # N: the agent's Nth start, its pins removed before
	kill_agent TERM
	"$B/truemeter-agent" -q -c "$TMP/agent.conf" detach ||
		nok "truemeter-agent detach"
	[ -e "$PIN/http" ] || [ -e "$PIN/tenant" ] &&
		nok "the pins are still there after detach"
	old_conns
	start_agent
	wait_until 15 agent_ran "$1"
}
# traffic_while_stopped K R: the agent stopped before its first read, K
# connections and R requests meanwhile
traffic_while_stopped() {
	kill -STOP "$AG_PID"
	tenant_conns "$1" 50 > "$TMP/conns.out" 2>&1
	requests "$2"
	kill -CONT "$AG_PID"
}

# a long window, so the agent is stopped before its first read
sed -i 's/^interval = .*/interval = 10s/' "$TMP/agent.conf"
restart_afresh 2
traffic_while_stopped $K2 $R2
wait_until 25 stored_are "$((K1 + K2)) $((R1 + R2)) 2"
check "after a restart: every connection, request and drop stored once" \
	"$((K1 + K2)) $((R1 + R2)) 2" "$(totals)"
check "the agent said it counts the new counters from zero" 1 \
	"$(grep -c 'counters were made afresh since the last report' "$TMP/agent.log")"
wait "$WRK_PID"

restart_afresh 3
traffic_while_stopped $K3 $R3
wait_until 25 stored_are "$((K1 + K2 + K3)) $((R1 + R2 + R3)) 4"
check "after another: every connection, request and drop stored once" \
	"$((K1 + K2 + K3)) $((R1 + R2 + R3)) 4" "$(totals)"
kill_agent TERM
exit "$FAILS"
