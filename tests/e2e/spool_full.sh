#!/bin/sh
# Collector down for a while: reports spool on disk and all arrive, in
# order and exactly once, when it comes back.  Then with a small spool
# (max_reports = 15): the oldest unsent reports are dropped, counted, and
# declared upstream, so the store shows spool_drops > 0 and a gap whose
# missing seqs are exactly the declared drops.
NAME=spf
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

start_listener
# part 1: no collector yet
start_agent
sleep 0.5
tenant_conns 30 2000 > /dev/null 2>&1
sleep 1
check "running agent: no capability effective, permitted or in its bounding set; no_new_privs" \
	"0000000000000000 0000000000000000 0000000000000000 1" \
	"$(awk '/^(CapEff|CapPrm|CapBnd|NoNewPrivs):/ { printf "%s%s", sep, $2; sep = " " }' "/proc/$AG_PID/status")"
n_spooled=$(spooled)
if [ "$n_spooled" -ge 40 ]; then ok "reports spooled while the collector is down ($n_spooled)"
else nok "only $n_spooled reports spooled while the collector is down"; fi
no_connection() { grep -q "no connection to the collector at $URL_SCHEME://127.0.0.1:$PORT" "$TMP/agent.log"; }
if wait_until 15 no_connection; then ok "the agent says it has no connection to the collector"
else nok "no 'no connection to the collector' warning: $(grep warn "$TMP/agent.log" | tail -n 2)"; fi
start_collector
check_drained "spool drained after the collector came back"
sleep 0.3
kill_agent TERM
set -- $(chain_summary | tr '|' ' ')
check "all spooled reports stored once, in sequence" "$1 1 $1 $1" "$1 $2 $3 $4"
if [ "$1" -ge "$n_spooled" ]; then ok "store holds at least the spooled reports ($1)"
else nok "store holds $1 reports, fewer than the $n_spooled spooled"; fi
check "no gap" 0 "$(q 'SELECT COUNT(*) FROM gaps;')"
check "tcp_connections made while the collector was down all arrived" 30 \
	"$(stored_metric tcp_connections)"
first_n=$1

# the CLI over this data
T=$B/truemeter
"$T" -d "$DB" usage > "$TMP/usage.txt"
check "usage table lists the tenant's connections" 1 \
	"$(awk -v t="$ID" '$2 == t && $3 == "tcp_connections" && $4 == 30' "$TMP/usage.txt" | wc -l)"
"$T" -d "$DB" usage --by hour --tenant "$ID" --metric tcp_connections --json > "$TMP/usage.json"
check "usage --json by hour sums to the same" 30 \
	"$(sed -n 's/.*"value":\([0-9]*\).*/\1/p' "$TMP/usage.json" | awk '{ s += $1 } END { print s }')"
check "usage for another month is empty" 0 \
	"$("$T" -d "$DB" usage --period 2001-01 --json | wc -l)"
for args in "--by week" "--period 2026-13" "--metric bogus" "--from 2026-02-30" \
	    "--period 2026-01 --from 2026-01-01" "extra"; do
	# shellcheck disable=SC2086
	"$T" -d "$DB" usage $args > /dev/null 2> "$TMP/usage.err"
	rc=$?
	check "usage $args: exit 2 with a message" "2 1" "$rc $(grep -c 'truemeter usage:' "$TMP/usage.err")"
done

# part 2: a spool of at most 15 reports, collector down for ~3 s
kill_collector TERM
SPOOL_CONF="max_reports = 15"
write_confs
# this time without CAP_SETPCAP, as under a service manager that keeps it
# from the agent: the bounding set stays as given, the rest goes
AGENT_WRAP="setpriv --bounding-set=-setpcap"
start_agent
AGENT_WRAP=
sleep 3
check "without CAP_SETPCAP: no capability effective or permitted, no_new_privs" \
	"0000000000000000 0000000000000000 1" \
	"$(awk '/^(CapEff|CapPrm|NoNewPrivs):/ { printf "%s%s", sep, $2; sep = " " }' "/proc/$AG_PID/status")"
check "without CAP_SETPCAP: the agent says the bounding set stays" 1 \
	"$(grep -c 'kept none (the bounding set stays as given: no CAP_SETPCAP)' "$TMP/agent.log")"
n_spooled=$(spooled)
if [ "$n_spooled" -le 15 ]; then ok "spool stays within max_reports ($n_spooled)"
else nok "spool holds $n_spooled reports, above max_reports 15"; fi
if grep -q 'spool full' "$TMP/agent.log"; then ok "agent logs the drops"
else nok "agent did not log its spool drops"; fi
start_collector
wait_until 20 drained
sleep 0.3
kill_agent TERM
kill_collector TERM
declared=$(q 'SELECT MAX(spool_drops) FROM reports;')
missing=$(q "SELECT COALESCE(SUM(to_seq - from_seq + 1), 0) FROM gaps;")
echo "# declared spool drops $declared, missing seqs $missing"
if [ "${declared:-0}" -gt 0 ]; then ok "stored health shows spool_drops ($declared)"
else nok "stored health shows no spool_drops"; fi
ngaps=$(q 'SELECT COUNT(*) FROM gaps;')
if [ "$ngaps" -ge 1 ]; then ok "gap recorded ($ngaps ranges)"; else nok "no gap recorded"; fi
check "missing seqs equal the declared drops" "$declared" "$missing"
check "every gap reason names the spool drops" "$ngaps" \
	"$(q "SELECT COUNT(*) FROM gaps WHERE reason LIKE '%spool drops%';")"
set -- $(chain_summary | tr '|' ' ')
check "stored + dropped = every seq" "$3" "$(( $1 + missing ))"
if grep -q "gap: agent" "$TMP/collector.log"; then ok "collector logs the gap"
else nok "collector did not log the gap"; fi
[ "$1" -gt "$first_n" ] || nok "no reports stored in part 2"

# part 3: no bpffs in sight, in mount and pid namespaces of the agent's own
# (as in a container): it mounts one, and warns that the pins end with it
cat > "$TMP/no_bpffs.sh" <<'EOS'
while umount -l /sys/fs/bpf 2>/dev/null; do :; done
exec "$@"
EOS
AGENT_WRAP="unshare -m -p --fork --kill-child --mount-proc --propagation private sh $TMP/no_bpffs.sh"
start_agent
AGENT_WRAP=
bpffs_warned() { grep -q 'mounted bpffs at /sys/fs/bpf in a mount namespace of this agent.s own' "$TMP/agent.log"; }
if wait_until 10 bpffs_warned; then ok "an agent mounting bpffs in its own mount namespace warns that its pins end with it"
else nok "no warning about a bpffs in the agent's own mount namespace: $(tail -n 3 "$TMP/agent.log")"; fi
# unshare waits out SIGTERM; its child, the agent, takes it
pkill -TERM -P "$AG_PID"
wait "$AG_PID" 2>/dev/null
AG_PID=
