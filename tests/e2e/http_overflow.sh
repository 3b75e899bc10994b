#!/bin/sh
# A full HTTP counter table loses nothing silently: with [meter] max_entries
# = 64, a real nginx serves 80 tenants (each one key: tenant x route x
# method x status class), two keep-alive requests each.  The first 64
# tenants to arrive are counted exactly; every request of the other 16 is
# counted in health as a map overflow, so counted + overflow = sent.  One
# connection then switches tenants request by request (A, B, A: the
# connection's remembered counter slot must follow the key), and a tenant
# already in the table still counts while the table is full.  Then a new
# max_entries (66) must start the key table, the counters and the slot
# allocator afresh together: two slots more than before would not hold
# three new tenants if the allocator kept its place.  Then an upgrade from
# a build that counted into a per-CPU hash (http_counts, the same keys and
# values) must carry its counts into the slots.  Last, a full connection
# table ([meter] max_connections = 64) under 80 wrk connections: each one
# refused counts once as a drop, not again when it moves bytes; and while a
# full old table drains after an upgrade, new connections count no drop.
# HTTP_HOOKS=socket|syscall as in http_exact.sh (default socket; the
# syscall-exit fallback runs from http_overflow_syscall.sh).
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"

B=${TM_BUILD:?TM_BUILD not set}
R=${TM_ROOT:?TM_ROOT not set}
. "$R/tests/lib/nginx.sh"
DUMP=$B/tests/meter_dump
ID=tmhovf$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PORT=$((13000 + $$ % 3000 * 2))   # below the ephemeral range
NGINX_PID=
TENANTS=80
ROOM=64

cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
	wait 2>/dev/null
	[ -f "$TMP/meter.conf" ] && "$DUMP" -c "$TMP/meter.conf" -u 2>/dev/null
	[ -f "$TMP/upgrade.conf" ] && "$DUMP" -c "$TMP/upgrade.conf" -u 2>/dev/null
	[ -f "$TMP/conns.conf" ] && "$DUMP" -c "$TMP/conns.conf" -u 2>/dev/null
	rm -rf "$PIN" "${PIN}u" "${PIN}c" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
	nok "http_overflow needs root (BPF)"
	exit 1
fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

nginx_conf "$TMP" "$(nginx_ok_server "$PORT")"
nginx_start "$TMP" 2>"$TMP/nginx.err" || { nok "$(cat "$TMP/nginx.err")"; exit 1; }

printf '[meter]\npin_dir = %s\nmax_entries = %d\n[http]\nports = %d\nhooks = %s\ntenant_header = X-Tenant-Id\n' \
	"$PIN" "$ROOM" "$PORT" "${HTTP_HOOKS:-socket}" > "$TMP/meter.conf"
if "$DUMP" -c "$TMP/meter.conf" </dev/null 2>"$TMP/load.err"; then
	ok "meter loaded with room for $ROOM counter keys"
else
	nok "meter did not load: $(cat "$TMP/load.err")"
	exit 1
fi

URL=http://127.0.0.1:$PORT/v1/items/1
sent=0
for t in $(seq "$TENANTS"); do
	# two requests on one keep-alive connection
	curl -s -o /dev/null -o /dev/null -H "X-Tenant-Id: t$t" "$URL" "$URL" || break
	sent=$((sent + 2))
done
check "curl sent every request" "$((TENANTS * 2))" "$sent"
# t1 is counted already; full table: "late" is not
curl -s -o /dev/null -H "X-Tenant-Id: t1" "$URL" \
	--next -s -o /dev/null -H "X-Tenant-Id: late" "$URL" \
	--next -s -o /dev/null -H "X-Tenant-Id: t1" "$URL" || nok "curl --next failed"

echo | "$DUMP" -c "$TMP/meter.conf" >"$TMP/dump.out" 2>"$TMP/dump.err"
grep -q '^END$' "$TMP/dump.out" || { nok "meter_dump failed: $(cat "$TMP/dump.err")"; exit 1; }
awk -F'\t' '$2 == "api_requests" { print $1, $6 }' "$TMP/dump.out" | sort > "$TMP/rows"
ovf=$(sed -n 's/^#health overflow //p' "$TMP/dump.out")

check "the table holds exactly its room in tenants" "$ROOM" "$(wc -l < "$TMP/rows")"
check "every counted tenant but t1 has exactly its 2 requests" "" \
	"$(awk '$1 != "t1" && $2 != 2' "$TMP/rows")"
check "t1 counts its 2 requests and both of the tenant-switching connection" \
	"t1 4" "$(grep '^t1 ' "$TMP/rows")"
check "no row for a tenant that came after the table was full" "" "$(grep '^late ' "$TMP/rows")"
check "requests that found no room are counted as overflow" \
	"$(((TENANTS - ROOM) * 2 + 1))" "$ovf"
counted=$(awk '{ s += $2 } END { print s + 0 }' "$TMP/rows")
check "counted + overflow = every request sent" "$((sent + 3))" "$((counted + ovf))"
grep -q '^#health drops 0$' "$TMP/dump.out" && ok "nothing dropped" ||
	nok "drops: $(grep '^#health drops' "$TMP/dump.out")"

# A new table size: the three counter maps (key table, counters, slot
# allocator) start afresh together, with a warning; the new table has room
# again, and the health counters carry on.
sed -i 's/^max_entries = .*/max_entries = 66/' "$TMP/meter.conf"
if "$DUMP" -c "$TMP/meter.conf" </dev/null 2>"$TMP/reload.err"; then
	ok "meter reloaded with room for 66 keys"
else
	nok "meter did not reload: $(cat "$TMP/reload.err")"
	exit 1
fi
grep -q 'pinned counters have another layout or size; they start afresh' "$TMP/reload.err" &&
	ok "the resized counters start afresh with a warning" ||
	nok "no warning about the resized counters: $(cat "$TMP/reload.err")"
for t in n1 n2 n3; do
	curl -s -o /dev/null -H "X-Tenant-Id: $t" "$URL" || nok "curl failed"
done
echo | "$DUMP" -c "$TMP/meter.conf" >"$TMP/dump2.out" 2>"$TMP/dump2.err"
check "only the new traffic is in the new table, each request counted" "n1 1 n2 1 n3 1" \
	"$(awk -F'\t' '$2 == "api_requests" { print $1, $6 }' "$TMP/dump2.out" | sort | tr '\n' ' ' | sed 's/ $//')"
check "the overflow count carried on, with nothing new" "$ovf" \
	"$(sed -n 's/^#health overflow //p' "$TMP/dump2.out")"

# An older build's counters, pinned where the meter will load: tenant "old",
# route other, GET, 2xx; 5 requests, 100 and 200 bytes on every CPU.
PIN_UP=${PIN}u
mkdir -p "$PIN_UP/http"
sed "s|^pin_dir = .*|pin_dir = $PIN_UP|" "$TMP/meter.conf" > "$TMP/upgrade.conf"
OLD_KEY="6f 6c 64 $(for i in $(seq 61); do printf '00 '; done)ff 00 02 00 00 00 00 00"
le64() { printf '%016x' "$1" | sed 's/../& /g' | awk '{ for (i = 8; i >= 1; i--) printf "%s ", $i }'; }
if bpftool map create "$PIN_UP/http/http_counts" type percpu_hash key 72 value 24 \
	entries 64 name http_counts &&
	bpftool map update pinned "$PIN_UP/http/http_counts" key hex $OLD_KEY \
		value hex $(le64 5) $(le64 100) $(le64 200); then
	ok "an older build's counter map is pinned"
else
	nok "could not pin an old-format counter map"
	exit 1
fi
ncpu=$(bpftool map dump pinned "$PIN_UP/http/http_counts" | grep -c '^value (CPU')
if "$DUMP" -c "$TMP/upgrade.conf" </dev/null 2>"$TMP/upgrade.err"; then
	ok "meter loaded over the older build's counters"
else
	nok "meter did not load: $(cat "$TMP/upgrade.err")"
	exit 1
fi
[ -e "$PIN_UP/http/http_counts" ] && nok "the old counter map is still pinned" ||
	ok "the old counter map is gone"
old_rows() { # the rows of tenant "old": metric=value, sorted
	echo | "$DUMP" -c "$TMP/upgrade.conf" 2>"$TMP/dump3.err" |
		awk -F'\t' '$1 == "old" { print $2 "=" $6 }' | sort | tr '\n' ' ' | sed 's/ $//'
}
check "the old counts moved into the slots exactly" \
	"api_request_bytes=$((100 * ncpu)) api_requests=$((5 * ncpu)) api_response_bytes=$((200 * ncpu))" \
	"$(old_rows)"
curl -s -o /dev/null -H "X-Tenant-Id: old" "$URL" || nok "curl failed"
check "the same key counts on from there" "api_requests=$((5 * ncpu + 1))" \
	"$(old_rows | tr ' ' '\n' | grep '^api_requests=')"

# A full connection table: 16 of wrk's 80 keep-alive connections find no
# room.  Each counts once as a drop (with the socket hooks, not again as a
# connection without state when it first moves bytes), and only the
# metered connections' requests are counted.
sed "s|^pin_dir = .*|pin_dir = ${PIN}c|; s|^max_entries = .*|&\nmax_connections = 64|" \
	"$TMP/meter.conf" > "$TMP/conns.conf"
if "$DUMP" -c "$TMP/conns.conf" </dev/null 2>"$TMP/conns.err"; then
	ok "meter loaded with room for 64 connections"
else
	nok "meter did not load: $(cat "$TMP/conns.err")"
	exit 1
fi
printf 'wrk.headers["X-Tenant-Id"] = "conns"\nwrk.path = "/v1/items/1"\n' > "$TMP/wrk.lua"
wrk -t1 -c80 -d1s -s "$TMP/wrk.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk.out" 2>&1 ||
	nok "wrk failed: $(cat "$TMP/wrk.out")"
reqs=$(awk '/requests in/ { print $1 }' "$TMP/wrk.out")
echo | "$DUMP" -c "$TMP/conns.conf" >"$TMP/dump4.out" 2>"$TMP/dump4.err"
check "each connection the full table refused counts once as a drop" 16 \
	"$(sed -n 's/^#health drops //p' "$TMP/dump4.out")"
counted=$(awk -F'\t' '$1 == "conns" && $2 == "api_requests" { s += $6 } END { print s + 0 }' \
	"$TMP/dump4.out")
if [ "$counted" -gt 0 ] && [ "$counted" -lt "${reqs:-0}" ]; then
	ok "the metered connections' requests are counted ($counted of $reqs)"
else
	nok "counted $counted of ${reqs:-?} requests from 64 of 80 connections"
fi

# During a drain after an upgrade, a new connection is the new build's.  An
# old build whose table is full must not count it as refused: 64 old
# connections fill the old table, then 8 new ones come while it drains.
dump_drops() { # DUMP-OUTPUT
	sed -n 's/^#health drops //p' "$1"
}
printf 'wrk.headers["X-Tenant-Id"] = "fullold"\nwrk.path = "/v1/items/1"\n' > "$TMP/wrk_old.lua"
wrk -t1 -c64 -d5s -s "$TMP/wrk_old.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk_old.out" 2>&1 &
WRK_OLD=$!
sleep 1
"$B/tests/fake_new_build" "${PIN}c/http" 2>"$TMP/fake.err" ||
	nok "fake_new_build: $(cat "$TMP/fake.err")"
"$DUMP" -v -c "$TMP/conns.conf" </dev/null 2>"$TMP/upgrade_full.err"
if grep -q 'stay attached for the 64 connection(s) they meter' "$TMP/upgrade_full.err"; then
	ok "the old build drains with its table full (64 connections)"
else
	nok "no drain of a full table: $(cat "$TMP/upgrade_full.err")"
fi
echo | "$DUMP" -c "$TMP/conns.conf" >"$TMP/dump5.out" 2>"$TMP/dump5.err"
printf 'wrk.headers["X-Tenant-Id"] = "fullnew"\nwrk.path = "/v1/items/1"\n' > "$TMP/wrk_new.lua"
wrk -t1 -c8 -d1s -s "$TMP/wrk_new.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk_new.out" 2>&1 ||
	nok "wrk failed: $(cat "$TMP/wrk_new.out")"
wait "$WRK_OLD" || nok "wrk failed: $(cat "$TMP/wrk_old.out")"
echo | "$DUMP" -c "$TMP/conns.conf" >"$TMP/dump6.out" 2>"$TMP/dump6.err"
check "no drops for new connections while a full old table drains" 0 \
	"$(($(dump_drops "$TMP/dump6.out") - $(dump_drops "$TMP/dump5.out")))"
reqs=$(awk '/requests in/ { print $1 }' "$TMP/wrk_new.out")
counted=$(awk -F'\t' '$1 == "fullnew" && $2 == "api_requests" { s += $6 } END { print s + 0 }' \
	"$TMP/dump6.out")
# wrk does not count the requests still in flight when it stops
if [ "$counted" -ge "${reqs:-1}" ] && [ "$counted" -le $((${reqs:-0} + 8)) ]; then
	ok "the new build meters the new connections ($counted requests, wrk saw $reqs)"
else
	nok "new connections during the drain: counted $counted, wrk saw ${reqs:-?}"
fi
