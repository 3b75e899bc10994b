#!/bin/sh
# Retention: a collector with retention_days prunes the usage rows and
# reports of windows older than that at start, keeps their hourly sums
# (whole hours of usage stay exact) and each chain's latest report,
# refuses ranges that need the pruned windows themselves (usage inside an
# hour, audit exports) with a message, and says where it pruned (truemeter
# prune, /metrics).  Each month is archived as an audit bundle before its
# first window goes.  Bad settings refused.
# san: yes
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"
. "$TM_ROOT/tests/lib/scratch.sh"
B=${TM_BUILD:?TM_BUILD not set}
scratch tmret
export TRUEMETER_DB=$TMP/c.db
T="$B/truemeter"
OLD=$(date -u -d '100 days ago' +%Y-%m-%d)
NEXT=$(date -u -d '99 days ago' +%Y-%m-%d)
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)

"$B/tests/usage_put" "$TRUEMETER_DB" acme api_requests "${OLD}T10:30:00Z" 700
"$B/tests/usage_put" "$TRUEMETER_DB" acme api_requests "${OLD}T14:00:00Z" 300
"$B/tests/usage_put" "$TRUEMETER_DB" acme api_requests "$NOW" 50
value() {       # truemeter usage's value for acme over --from $1 --to $2
	$T usage --tenant acme --from "$1" --to "$2" --json 2> "$TMP/usage.err" | jq -r '.value'
}
check "before pruning: usage inside an old hour" 700 "$(value "${OLD}T10:15:00Z" "${OLD}T11:00:00Z")"
check "truemeter prune: never pruned" 1 "$($T prune | grep -c '^not pruned')"

cat > "$TMP/c.conf" <<CONF
[collector]
listen = ipc://$TMP/c.sock
database = $TRUEMETER_DB
enroll = $(printf 'ab%.0s' $(seq 32))
retention_days = 63
retention_archive = $TMP/archive
[http]
port = 0
CONF
sed 's/retention_days = 63/retention_days = 30/' "$TMP/c.conf" > "$TMP/short.conf"
"$B/truemeter-collector" -n -c "$TMP/short.conf" 2> "$TMP/short.err"
check "retention_days under 63 is refused" 1 "$?"
check "and the message says why" 1 "$(grep -c 'retention_days = 30 is under 63' "$TMP/short.err")"

sed '/^retention_days/d' "$TMP/c.conf" > "$TMP/noret.conf"
"$B/truemeter-collector" -n -c "$TMP/noret.conf" 2> "$TMP/noret.err"
check "an archive without retention_days is refused" 1 \
	"$(grep -c 'retention_archive is set but retention_days is not' "$TMP/noret.err")"

mkdir "$TMP/archive"
"$B/truemeter-collector" -c "$TMP/c.conf" > /dev/null 2> "$TMP/err.log" &
PID=$!
i=0
until grep -q 'retention: pruned' "$TMP/err.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && break
	sleep 0.1
done
check "the collector prunes the old windows at start" 1 \
	"$(grep -c 'retention: pruned 2 usage rows and 2 reports of windows before' "$TMP/err.log")"
MONTH=$(echo "$OLD" | cut -c1-7)
check "the old month was archived first" 1 \
	"$(grep -c "retention: archived $MONTH (0 signed reports) to $TMP/archive/$MONTH.tmb" "$TMP/err.log")"
check "as an audit bundle of that month" "$(date -u -d "$MONTH-01" +%s)000" \
	"$($T audit verify "$TMP/archive/$MONTH.tmb" --json 2>/dev/null | jq -r '.from_ms')"
check "their rows are gone, the recent one stays" 1 \
	"$(sqlite3 "$TRUEMETER_DB" 'SELECT COUNT(*) FROM usage')"
check "the old reports go, the recent one stays" 1 \
	"$(sqlite3 "$TRUEMETER_DB" 'SELECT COUNT(*) FROM reports')"
check "whole hours: the old day's usage is exact" 1000 "$(value "${OLD}T00:00:00Z" "${NEXT}T00:00:00Z")"
check "the old hour alone" 700 "$(value "${OLD}T10:00:00Z" "${OLD}T11:00:00Z")"
check "recent usage is untouched" 50 "$(value "$(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ)" \
	"$(date -u -d '1 hour' +%Y-%m-%dT%H:%M:%SZ)")"
value "${OLD}T10:15:00Z" "${OLD}T11:00:00Z" > /dev/null
check "a range inside a pruned hour is refused" 1 \
	"$(grep -c 'the range needs windows the store pruned' "$TMP/usage.err")"
check "naming the pruning point" 1 "$(grep -c 'is kept only as hourly sums (retention)' "$TMP/usage.err")"
$T audit export --from "${OLD}T00:00:00Z" --to "$NOW" -o "$TMP/bundle" 2> "$TMP/audit.err"
check "an audit export from before the point fails" 1 "$?"
check "and says why" 1 "$(grep -c 'starts where the store pruned the signed reports' "$TMP/audit.err")"
check "writing nothing" no "$([ -e "$TMP/bundle" ] && echo yes || echo no)"
check "truemeter prune shows the point" 1 "$($T prune | grep -c '^pruned before ')"

PORT=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/err.log" | head -1)
point=$(curl -s "http://127.0.0.1:$PORT/metrics" |
	sed -n 's/^truemeter_store_pruned_before_seconds //p')
check "/metrics: the point, 63 days back on a whole hour" 1 \
	"$([ "${point:-0}" -gt 0 ] && [ $((point % 3600)) -eq 0 ] &&
	   [ $(( $(date -u +%s) - point )) -ge $((63 * 86400)) ] &&
	   [ $(( $(date -u +%s) - point )) -lt $((63 * 86400 + 3600)) ] && echo 1)"
kill -TERM "$PID"
wait "$PID"
check "collector stops cleanly" 0 "$?"
PID=

$T prune --archive "$TMP/archive" 2> "$TMP/cli.err"
check "prune --archive alone is a usage error" 2 "$?"
$T prune --keep-days 10 2> "$TMP/cli.err"
check "prune --keep-days 10 is a usage error" 2 "$?"
check "naming the minimum" 1 "$(grep -c "'10' is not a number of days from 63" "$TMP/cli.err")"
check "prune --keep-days 63 by hand: nothing more" 1 \
	"$($T prune --keep-days 63 | grep -c '^pruned 0 usage rows and 0 reports')"
