#!/bin/sh
# Report splitting: an agent whose window holds more usage than
# [collector] max_report (here 1K) sends it as several reports with
# consecutive seqs and the same window, each within the limit, instead of
# one report the collector would refuse.  40 tenant cgroups make k + 1
# connections each (k = 0..39) inside one window; the store must hold every
# tenant's exact count, every report within 1,024 bytes, at least one window
# in several reports, and an unbroken chain with no gap.
NAME=split
INTERVAL=3s
AGENT_EXTRA="max_report = 1K"
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

T=40
split_cleanup() {
	for k in $(seq 0 $((T - 1))); do
		c=$CGROOT/${ID}_$k
		[ -d "$c" ] || continue
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do
			echo "$p" > "$CGROOT/cgroup.procs" 2>/dev/null
		done
		rmdir "$c" 2>/dev/null
	done
	pipe_cleanup
}
trap split_cleanup EXIT

for k in $(seq 0 $((T - 1))); do
	mkdir -p "$CGROOT/${ID}_$k" || { nok "cannot create cgroup ${ID}_$k"; exit 1; }
	printf '[tenant %s_%d]\ncgroup = %s\n' "$ID" "$k" "$CGROOT/${ID}_$k" >> "$TMP/agent.conf"
done

start_listener
start_collector || exit 1
start_agent
sleep 1
pids=
for k in $(seq 0 $((T - 1))); do
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CGROOT/${ID}_$k" \
		"$B/tests/tcp_conn" connect "$LPORT" $((k + 1)) 0 > "$TMP/conns.$k" 2>&1 &
	pids="$pids $!"
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
check "every tenant made its connections" 0 "$failed"
# the window with the connections ends, then its reports drain
sleep 3.5
check_drained "agent spool drained"
kill_agent TERM

bad=0
for k in $(seq 0 $((T - 1))); do
	got=$("$B/truemeter" -d "$DB" usage --tenant "${ID}_$k" --metric tcp_connections --json |
		sed -n 's/.*"value":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	[ "$got" = $((k + 1)) ] || { bad=$((bad + 1)); echo "# ${ID}_$k: expected $((k + 1)), got $got"; }
done
check "every tenant's stored tcp_connections is exact" 0 "$bad"
check "every report is within max_report (1024 bytes)" 0 \
	"$(q 'SELECT COUNT(*) FROM reports WHERE LENGTH(envelope) > 1024;')"
most=$(q 'SELECT MAX(c) FROM (SELECT COUNT(*) AS c FROM reports GROUP BY window_start_ms);')
if [ "${most:-0}" -gt 1 ]; then ok "a window went out as $most reports"; else
	nok "no window was split (most reports in one window: ${most:-none})"; fi
grep -q 'went out as' "$TMP/agent.log" && ok "the agent logged the split" ||
	nok "the agent did not log the split"
check_chain
check_agent_health
kill_collector TERM
