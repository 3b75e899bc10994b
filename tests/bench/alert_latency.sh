#!/bin/sh
# Alert latency: from one API request by a tenant nobody bills to the
# collector printing its unbilled_usage alert.  Real nginx, agent (1 s
# windows) and collector (1 s reconcile tick); the alert needs one report
# interval plus one tick, so about 1-2 s is expected.  Prints
#   BENCH alert_latency_ms <median of N> ms
set -u

B=${TM_BUILD:?TM_BUILD not set}
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/nginx.sh"
N=${N:-5}
ID=tmlat$$
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PIN=/sys/fs/bpf/$ID
PORT=$((14000 + $$ % 1500 * 2))
CPORT=$((PORT + 1))
PIDS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -f "$TMP/agent.conf" ] && "$B/truemeter-agent" -q -c "$TMP/agent.conf" detach 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$TMP/agents" "$TMP/state" "$TMP/ngx"
"$B/truemeter-agent" keygen "$TMP/agent.key" "$TMP/agents/a.pub" >/dev/null
printf '{"currency":"usd","plans":[{"name":"api","prices":[{"metric":"api_requests","model":"per_unit","unit_amount":1}]}],"assignments":[]}\n' \
	> "$TMP/pricing.json"
nginx_conf "$TMP/ngx" "$(nginx_ok_server "$PORT")"
cat > "$TMP/collector.conf" <<CONF
[collector]
listen = tcp://127.0.0.1:$CPORT
database = $TMP/t.db
enrolled_keys = $TMP/agents
[http]
port = 0
[pricing]
catalog = $TMP/pricing.json
[reconcile]
interval = 1s
anomaly = no
CONF
cat > "$TMP/agent.conf" <<CONF
[agent]
key = $TMP/agent.key
state_dir = $TMP/state
interval = 1s
[collector]
url = tcp://127.0.0.1:$CPORT
[meter]
pin_dir = $PIN
[http]
ports = $PORT
tenant_header = X-Tenant-Id
CONF
nginx_start "$TMP/ngx" || exit 1
PIDS="$PIDS $NGINX_PID"
"$B/truemeter-collector" -c "$TMP/collector.conf" > "$TMP/alerts.jsonl" 2> "$TMP/collector.log" &
PIDS="$PIDS $!"
"$B/truemeter-agent" -c "$TMP/agent.conf" 2> "$TMP/agent.log" &
PIDS="$PIDS $!"
i=0
until grep -q "running: interval" "$TMP/agent.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 200 ]; then echo "alert_latency: agent did not start" >&2; cat "$TMP/agent.log" >&2; exit 1; fi
	sleep 0.05
done
sleep 1

now_ms() { echo $(($(date +%s%N) / 1000000)); }
: > "$TMP/lat"
for k in $(seq 1 "$N"); do
	t=ghost-$k-$$
	# start at a random point of the window, as a real request would
	sleep "0.$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')"
	t0=$(now_ms)
	curl -s -o /dev/null -H "X-Tenant-Id: $t" "http://127.0.0.1:$PORT/v1/x"
	until grep -q "\"kind\":\"unbilled_usage\",\"tenant\":\"$t\"" "$TMP/alerts.jsonl"; do
		if [ $(($(now_ms) - t0)) -gt 20000 ]; then
			echo "alert_latency: no alert for $t within 20 s" >&2
			tail -5 "$TMP/collector.log" >&2
			exit 1
		fi
		sleep 0.01
	done
	echo $(($(now_ms) - t0)) >> "$TMP/lat"
done
echo "# alert latencies (ms): $(tr '\n' ' ' < "$TMP/lat")"
echo "BENCH alert_latency_ms $(sort -n "$TMP/lat" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') ms"
