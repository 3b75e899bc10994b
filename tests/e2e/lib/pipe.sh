# Shared by the pipe's end-to-end tests (delivery, spool_full, crash_points,
# tls, bad_input): a collector and an agent metering one tenant cgroup, with
# unique ports, pin dir and cgroup per test run, all removed on exit.
#
# The caller sets NAME before sourcing, and may set INTERVAL (agent window,
# default 50ms), SPOOL_CONF (extra [spool] lines), URL_SCHEME (tcp/tls+tcp)
# and COLLECTOR_EXTRA / AGENT_EXTRA (extra config lines).
set -u

B=${TM_BUILD:?TM_BUILD not set}
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/wait.sh"
ID=tm$NAME$$
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PIN=/sys/fs/bpf/$ID
# below the ephemeral range (32768+): a dialer reconnecting to a dead port
# there can be handed that very port and connect to itself, which then
# keeps the restarted collector from binding
PORT=$((10000 + ($$ % 11000) * 2))
LPORT=$((PORT + 1))           # the tcp_conn listener (outside the tenant)
INTERVAL=${INTERVAL:-50ms}
URL_SCHEME=${URL_SCHEME:-tcp}
COLLECTOR_EXTRA=${COLLECTOR_EXTRA:-}
AGENT_EXTRA=${AGENT_EXTRA:-}
SPOOL_CONF=${SPOOL_CONF:-}
DB=$TMP/collector.db
COL_PID=
AG_PID=
LST_PID=
PIDS=""

if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	CGROOT=/sys/fs/cgroup
else
	CGROOT=/sys/fs/cgroup/unified
fi
CG=$CGROOT/$ID

pipe_cleanup() {
	if [ "$FAILS" -gt 0 ]; then
		for l in collector agent; do
			echo "# last lines of the $l log:"
			tail -n 25 "$TMP/$l.log" 2>/dev/null | sed 's/^/#   /'
		done
	fi
	for p in $AG_PID $COL_PID $LST_PID $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -d "$CG" ]; then
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do
			echo "$p" > "$CGROOT/cgroup.procs" 2>/dev/null
		done
		rmdir "$CG" 2>/dev/null
	fi
	[ -f "$TMP/agent.conf" ] && "$B/truemeter-agent" -q -c "$TMP/agent.conf" detach 2>/dev/null
	rm -rf "$PIN"
	if [ -n "${KEEP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap pipe_cleanup EXIT
trap 'exit 1' INT TERM

FAILS=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; FAILS=$((FAILS + 1)); }
check() { # description expected got
	if [ "$2" = "$3" ]; then ok "$1 ($3)"; else nok "$1: expected $2, got $3"; fi
}
q() { sqlite3 -batch -noheader "$DB" "$1"; }

mkdir -p "$CG" "$TMP/keys" || { nok "cannot create cgroup $CG"; exit 1; }
"$B/truemeter-agent" keygen "$TMP/agent.key" "$TMP/keys/agent.pub" ||
	{ nok "keygen"; exit 1; }

write_confs() {
	cat > "$TMP/collector.conf" <<EOC
[collector]
listen = $URL_SCHEME://127.0.0.1:$PORT
database = $DB
enrolled_keys = $TMP/keys
max_message = 1M
$COLLECTOR_EXTRA
[http]
# the judge's HTTP server on an ephemeral port, so tests never collide
port = 0
EOC
	cat > "$TMP/agent.conf" <<EOA
[agent]
key = $TMP/agent.key
state_dir = $TMP/state
interval = $INTERVAL
hostname = $ID
[collector]
url = $URL_SCHEME://127.0.0.1:$PORT
timeout = 1s
retry_min = 20ms
retry_max = 300ms
$AGENT_EXTRA
[spool]
$SPOOL_CONF
[meter]
pin_dir = $PIN
[tenant $ID]
cgroup = $CG
EOA
}
write_confs

# starts the collector and waits (up to 5 s) until it listens; 1 if it died
start_collector() {
	n0=$(grep -c "listening on $URL_SCHEME://127.0.0.1:$PORT" "$TMP/collector.log" 2>/dev/null)
	"$B/truemeter-collector" -c "$TMP/collector.conf" >> "$TMP/collector.log" 2>&1 &
	COL_PID=$!
	t=50
	while [ $t -gt 0 ]; do
		n=$(grep -c "listening on $URL_SCHEME://127.0.0.1:$PORT" "$TMP/collector.log")
		[ "$n" -gt "${n0:-0}" ] && return 0
		if ! kill -0 "$COL_PID" 2>/dev/null; then
			echo "# collector exited at start:"
			tail -n 5 "$TMP/collector.log" | sed 's/^/#   /'
			return 1
		fi
		sleep 0.1
		t=$((t - 1))
	done
	return 0
}
kill_collector() { # signal
	[ -n "$COL_PID" ] && kill "-$1" "$COL_PID" 2>/dev/null && wait "$COL_PID" 2>/dev/null
	COL_PID=
}
# AGENT_WRAP: a command the agent runs under (setpriv ...)
start_agent() {
	${AGENT_WRAP:-} "$B/truemeter-agent" -c "$TMP/agent.conf" >> "$TMP/agent.log" 2>&1 &
	AG_PID=$!
}
kill_agent() { # signal
	[ -n "$AG_PID" ] && kill "-$1" "$AG_PID" 2>/dev/null && wait "$AG_PID" 2>/dev/null
	AG_PID=
}
start_listener() {
	"$B/tests/tcp_conn" listen "$LPORT" > "$TMP/listener.out" 2>&1 &
	LST_PID=$!
	i=0
	while ! grep -q ready "$TMP/listener.out" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
# tenant_conns K SPREAD_MS: K connections from inside the tenant cgroup
tenant_conns() {
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" \
		"$B/tests/tcp_conn" connect "$LPORT" "$1" "$2"
}
spooled() { ls "$TMP/state/spool" 2>/dev/null | grep -c '\.rep$'; }
# the agent writes a report every window, so "drained" is a moment in which
# nothing is waiting, not a lasting state
drained() { [ "$(spooled)" = 0 ]; }
check_drained() { # description
	if wait_until 30 drained; then ok "$1"; else nok "$1: $(spooled) reports still spooled"; fi
}
# stored_metric METRIC: the tenant's stored total
stored_metric() {
	"$B/truemeter" -d "$DB" usage --tenant "$ID" --metric "$1" --json |
		sed -n 's/.*"value":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
# check_agent_health: the collector's /metrics (and its dashboard) list the
# agent's latest declared health under its hostname ($ID): no drops, no
# missing hook, and the end of its latest window; `truemeter agents` has it
# from the store,
# with its report count (N, from check_chain)
check_agent_health() {
	port=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/collector.log" | head -n 1)
	curl -s "http://127.0.0.1:${port:-0}/metrics" > "$TMP/metrics" ||
		{ nok "/metrics: curl failed (port '${port}')"; return; }
	for g in event_drops map_overflow spool_drops hooks_missing; do
		check "/metrics: the agent's $g" 1 \
			"$(grep -c "^truemeter_agent_$g{agent=\"[0-9a-f]\{16\}\",hostname=\"$ID\"} 0\$" "$TMP/metrics")"
	done
	last=$(sed -n "s/^truemeter_agent_last_window_end_seconds{.*hostname=\"$ID\"} //p" "$TMP/metrics")
	if [ -n "$last" ] && [ $(( $(date +%s) - last )) -lt 60 ]; then
		ok "/metrics: the agent's latest window ended $(( $(date +%s) - last )) s ago"
	else
		nok "/metrics: the agent's latest window: '$last'"
	fi
	curl -s "http://127.0.0.1:${port:-0}/" > "$TMP/dashboard.html"
	check "dashboard: the agent's row, reporting, no losses" 1 \
		"$(grep -c "<tr class=\"ok\"><td>[0-9a-f]\{16\}</td><td>$ID</td><td>[0-9T:Z-]*</td><td>reporting</td><td>0</td><td>0</td><td>0</td><td>-</td></tr>" "$TMP/dashboard.html")"
	check "truemeter agents: one agent, its reports, no drops, no missing hook" \
		"1 $N 0 0 \"\" \"$ID\"" \
		"$("$B/truemeter" -d "$DB" agents --json | jq -s -c -r \
			'[length, .[0].reports, .[0].event_drops, .[0].map_overflow,
			  (.[0].hooks_missing | tojson), (.[0].hostname | tojson)] | join(" ")')"
}
# the chain as stored: count, min seq, max seq, distinct seqs, epochs
chain_summary() {
	q "SELECT COUNT(*), MIN(seq), MAX(seq), COUNT(DISTINCT seq), COUNT(DISTINCT epoch) FROM reports;"
}
# check_chain: the stored reports are seq 1..N once each in one epoch, with
# no gap recorded and every report carrying its predecessor's digest; sets
# N to the number of reports
check_chain() {
	set -- $(chain_summary | tr '|' ' ')
	N=$1
	echo "# stored reports: count $1 min $2 max $3 distinct $4 epochs $5"
	check "seqs are exactly 1..N once each, one epoch" "$1 1 $1 $1 1" "$1 $2 $3 $4 $5"
	check "no metering gaps recorded" 0 "$(q 'SELECT COUNT(*) FROM gaps;')"
	check "every report chains to the one before" 0 "$(q 'SELECT COUNT(*) FROM reports r
		JOIN reports p ON p.agent = r.agent AND p.epoch = r.epoch AND p.seq = r.seq - 1
		WHERE r.prev_digest != p.digest;')"
}
