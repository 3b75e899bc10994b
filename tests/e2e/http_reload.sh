#!/bin/sh
# The HTTP meter across a reload and across a gap, under keep-alive load.
#
# Reload: a changed config (a route appended) loads the meter afresh while
# wrk keeps 8 keep-alive connections busy.  The new programs load while the
# old ones count, attach beside them and take over: every request must
# still be counted exactly as nginx's access log has it, with no drops.
# (Before, the old programs stopped while the new ones were verified, about
# a second in which requests went unseen without a trace, and the pipelining
# queue of each connection came out of step: later responses were matched
# to the wrong requests.)
#
# Gap: the programs are detached for a moment (tests/bench/hook_toggle)
# and attached again.  The connections that moved bytes meanwhile must be
# counted as drops, and nothing may be counted that nginx did not serve
# under the same tenant, route, method and status class.
#
# Older connections: wrk connects before the meter loads; each of its
# connections must be counted once as a drop, and none of its requests.
#
# Upgrade: a new build loads under load; the old programs finish their own
# connections, the new ones take every new connection: exact, no drops.
# A drain ended early (drain_max, end-drain): each connection left counts
# once as a drop; both work without capabilities, as the running agent has
# none.
#
# HTTP_HOOKS=socket|syscall picks the meter's hooks (default socket; the
# syscall-exit fallback runs from http_reload_syscall.sh).
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"

B=${TM_BUILD:?TM_BUILD not set}
R=${TM_ROOT:?TM_ROOT not set}
. "$R/tests/lib/nginx.sh"
DUMP=$B/tests/meter_dump
TOGGLE=$B/tests/hook_toggle
ID=tmhrl$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PORT=$((13001 + $$ % 3000 * 2))   # below the ephemeral range
NGINX_PID=
WRK_PID=
WRK2_PID=
TOGGLE_PID=
HOOKS=${HTTP_HOOKS:-socket}
case $HOOKS in socket|syscall) ;; *) echo "HTTP_HOOKS must be socket or syscall" >&2; exit 2 ;; esac

cleanup() {
	[ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null
	[ -n "$WRK2_PID" ] && kill "$WRK2_PID" 2>/dev/null
	[ -n "$TOGGLE_PID" ] && kill "$TOGGLE_PID" 2>/dev/null
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
	exec 4>&- 2>/dev/null
	wait 2>/dev/null
	[ -f "$TMP/a.conf" ] && "$DUMP" -c "$TMP/a.conf" -u 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM PIPE   # PIPE: a hook_toggle that died

if [ "$(id -u)" != 0 ]; then
	nok "http_reload needs root (BPF)"
	exit 1
fi
for t in "$DUMP" "$TOGGLE"; do
	[ -x "$t" ] || { nok "missing $t (make tests)"; exit 1; }
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

start_nginx() { # a fresh nginx logging tenant, status, bytes and completion
	nginx_conf "$TMP" "	log_format tm '\$http_x_tenant_id|\$status|\$request_length|\$bytes_sent|\$request_completion';
	server {
		listen 127.0.0.1:$PORT;
		access_log $TMP/logs/access.log tm;
		location /v1/items/ { return 200 \"item ok\\n\"; }
	}"
	rm -f "$TMP/logs/access.log"
	nginx_start "$TMP" 2>"$TMP/nginx.err" || { nok "nginx: $(cat "$TMP/nginx.err")"; exit 1; }
}
stop_nginx() { # and let the meter see every connection end
	kill "$NGINX_PID"
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
	sleep 0.5
}
start_wrk() { # SECONDS TENANT
	cat > "$TMP/wrk.lua" <<EOF
wrk.headers["X-Tenant-Id"] = "$2"
wrk.path = "/v1/items/1"
EOF
	wrk -t1 -c8 -d"$1"s -s "$TMP/wrk.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk.out" 2>&1 &
	WRK_PID=$!
}
wait_wrk() {
	if wait "$WRK_PID"; then
		ok "wrk: $(awk '/requests in/ { print $1 }' "$TMP/wrk.out") keep-alive requests"
	else
		nok "wrk failed: $(cat "$TMP/wrk.out")"
	fi
	WRK_PID=
}
# "class requests request_bytes response_bytes" per status class
nginx_rows() { # TENANT
	awk -F'|' -v t="$1" '$1 == t {
		k = $5 == "OK" ? int($2 / 100) : 0
		n[k]++; q[k] += $3; s[k] += $4 }
		END { for (k in n) print k, n[k], q[k], s[k] }' "$TMP/logs/access.log" | sort
}
meter_rows() { # TENANT DUMP-OUTPUT: the same from the meter's rows
	awk -F'\t' -v t="$1" '$1 == t && $3 == "/v1/items/*" && $4 == "GET" {
		k = $5
		if ($2 == "api_requests") n[k] = $6
		if ($2 == "api_request_bytes") q[k] = $6
		if ($2 == "api_response_bytes") s[k] = $6 }
		END { for (k in n) print k, n[k], q[k], s[k] }' "$2" | sort
}
exact_as_nginx() { # TENANT DUMP-OUTPUT WHAT: the meter's rows equal nginx's log
	want=$(nginx_rows "$1")
	got=$(meter_rows "$1" "$2")
	if [ -n "$want" ] && [ "$want" = "$got" ]; then
		ok "every request across $3 counted as nginx logged it ($(echo "$want" | tr '\n' ';'))"
	else
		nok "meter differs from nginx across $3: nginx '$(echo "$want" | tr '\n' ';')'," \
			"meter '$(echo "$got" | tr '\n' ';')'"
	fi
}
other_rows() { # TENANT DUMP-OUTPUT: rows of TENANT under another key
	awk -F'\t' -v t="$1" '$1 == t && ($3 != "/v1/items/*" || $4 != "GET")' "$2" | wc -l
}
drops() { # DUMP-OUTPUT
	sed -n 's/^#health drops //p' "$1"
}
held() { # DIR: the connections the programs pinned there hold state for
	if [ "$HOOKS" = socket ]; then
		bpftool -j map dump pinned "$1/http_nsocks" |
			sed -n 's/.*"formatted":{"key":0,"value":\(-*[0-9]*\)}.*/\1/p'
	else
		bpftool map dump pinned "$1/http_conns" | grep -c '"key": '
	fi
}

upgrade() { # CONF LOG: a new build (fake_new_build) loads while wrk's 8
	# connections are open; true if the old build stays for them
	"$B/tests/fake_new_build" "$PIN/http" 2>"$TMP/fake.err" ||
		nok "fake_new_build: $(cat "$TMP/fake.err")"
	"$DUMP" -v -c "$1" </dev/null 2>"$2"
	grep -q 'stay attached for the 8 connection(s) they meter' "$2"
}

printf '[meter]\npin_dir = %s\n[http]\nports = %d\nhooks = %s\ntenant_header = X-Tenant-Id\nroute = /v1/items/*\n' \
	"$PIN" "$PORT" "$HOOKS" > "$TMP/a.conf"
sed 's|^route = /v1/items/\*$|&\nroute = /v2/*|' "$TMP/a.conf" > "$TMP/b.conf"
# for the agent's commands on the pins (status, end-drain)
printf '[agent]\nkey = %s/none.key\n[collector]\nurl = tcp://127.0.0.1:1\n' "$TMP" |
	cat - "$TMP/b.conf" > "$TMP/agent.conf"

# ---- reload under load --------------------------------------------------------
start_nginx
"$DUMP" -c "$TMP/a.conf" </dev/null 2>"$TMP/load.err" && ok "meter loaded" ||
	nok "meter did not load: $(cat "$TMP/load.err")"
start_wrk 5 reload   # outlasts the reload's load (≈2.5 s here)
sleep 1
"$DUMP" -v -c "$TMP/b.conf" </dev/null 2>"$TMP/reload.err"
if grep -q 'loading afresh' "$TMP/reload.err"; then
	ok "an appended route loads the meter afresh while wrk runs"
else
	nok "the meter did not reload: $(cat "$TMP/reload.err")"
fi
wait_wrk
stop_nginx
echo | "$DUMP" -c "$TMP/b.conf" >"$TMP/s1.txt" 2>"$TMP/s1.err" || nok "meter_dump: $(cat "$TMP/s1.err")"
exact_as_nginx reload "$TMP/s1.txt" "the reload"
check "no drops across the reload" 0 "$(drops "$TMP/s1.txt")"
check "no rows under another route or method" 0 "$(other_rows reload "$TMP/s1.txt")"

# ---- a gap: the programs detached for a moment --------------------------------
start_nginx
start_wrk 3 gap
sleep 0.5
mkfifo "$TMP/toggle"
"$TOGGLE" "$PIN/http" <"$TMP/toggle" >"$TMP/toggle.out" 2>"$TMP/toggle.err" &
TOGGLE_PID=$!
exec 4>"$TMP/toggle"
sleep 0.5
echo off >&4
sleep 0.3
echo on >&4
sleep 0.2
# three answers: taken over, detached, attached
check "hook_toggle detached and attached again" 3 "$(grep -c '^ok$' "$TMP/toggle.out")"
wait_wrk
stop_nginx
echo | "$DUMP" -c "$TMP/b.conf" >"$TMP/s2.txt" 2>"$TMP/s2.err" || nok "meter_dump: $(cat "$TMP/s2.err")"
exec 4>&-
wait "$TOGGLE_PID" 2>/dev/null
TOGGLE_PID=
d=$(($(drops "$TMP/s2.txt") - $(drops "$TMP/s1.txt")))
if [ "$d" -ge 1 ] && [ "$d" -le 8 ]; then
	ok "connections that moved bytes unseen are counted as drops ($d of 8)"
else
	nok "drops after the gap: $d (want 1..8, one per connection)"
fi
# Each class the meter counted, nginx served at least as often; requests
# whose response went by unseen may count as class 0 (never answered).
nginx_rows gap > "$TMP/want2"
meter_rows gap "$TMP/s2.txt" > "$TMP/got2"
over=$(awk 'NR == FNR { n[$1] = $2; next } $1 != 0 && !($2 <= n[$1]) { print }' \
	"$TMP/want2" "$TMP/got2")
if [ -s "$TMP/got2" ] && [ -z "$over" ]; then
	ok "nothing counted beyond what nginx served ($(tr '\n' ';' < "$TMP/got2") against $(tr '\n' ';' < "$TMP/want2"))"
else
	nok "counted beyond nginx: $over (meter $(tr '\n' ';' < "$TMP/got2"), nginx $(tr '\n' ';' < "$TMP/want2"))"
fi
check "no rows under another route or method after the gap" 0 "$(other_rows gap "$TMP/s2.txt")"

# ---- connections older than the meter's state ----------------------------------
# wrk's connections are open before the meter loads (its first start, or a
# new build's fresh state): their requests cannot be counted, and each one
# must show as a drop, once: not again after an upgrade to a new build while
# they are still open.  The syscall hook looks only at processes that own a
# metered connection: one curl request makes nginx's worker one.
"$DUMP" -c "$TMP/b.conf" -u 2>/dev/null
start_nginx
start_wrk 8 before   # outlasts both loads (≈2.5 s each here): the drops are seen after them
sleep 0.5
"$DUMP" -c "$TMP/b.conf" </dev/null 2>"$TMP/load3.err" &&
	ok "meter loaded while wrk's connections were open" ||
	nok "meter did not load: $(cat "$TMP/load3.err")"
opener() {
	curl -s -o /dev/null -H 'X-Tenant-Id: opener' "http://127.0.0.1:$PORT/v1/items/1" ||
		nok "curl failed"
}
opener
sleep 0.5
"$B/tests/fake_new_build" "$PIN/http" 2>"$TMP/fake.err" ||
	nok "fake_new_build: $(cat "$TMP/fake.err")"
"$DUMP" -c "$TMP/b.conf" </dev/null 2>"$TMP/load3b.err" ||
	nok "new build did not load: $(cat "$TMP/load3b.err")"
opener
wait_wrk
stop_nginx
echo | "$DUMP" -c "$TMP/b.conf" >"$TMP/s3.txt" 2>"$TMP/s3.err" ||
	nok "meter_dump: $(cat "$TMP/s3.err")"
check "each connection older than the meter counted once as a drop, across an upgrade" 8 \
	"$(drops "$TMP/s3.txt")"
check "no requests counted from them" 0 "$(meter_rows before "$TMP/s3.txt" | wc -l)"
check "the new connections counted" "2 2" "$(meter_rows opener "$TMP/s3.txt" | cut -d' ' -f1,2)"
if grep -q "opened before the meter's connection state existed" "$TMP/s3.err"; then
	ok "the agent says why they are not counted"
else
	nok "no warning about connections older than the meter: $(cat "$TMP/s3.err")"
fi

# ---- an upgrade to a new build, under load ---------------------------------------
# A new build starts with fresh connection state, so the old programs stay
# attached for the connections they meter (agent/http_drain.h), and every
# connection made after the upgrade is the new build's.  fake_new_build
# makes the pinned programs look like another build's, so the next load
# takes that path.  Every request must be counted as nginx logged it, with
# no drops; once the old connections close, the old programs detach.
"$DUMP" -c "$TMP/b.conf" -u 2>/dev/null
start_nginx
"$DUMP" -c "$TMP/b.conf" </dev/null 2>"$TMP/load4.err" ||
	nok "meter did not load: $(cat "$TMP/load4.err")"
start_wrk 6 upgrade   # outlasts the upgrade load and the second wrk on a slow host
sleep 1
if upgrade "$TMP/b.conf" "$TMP/upgrade.err"; then
	ok "the old build's programs stay attached for their 8 connections"
else
	nok "no drain at the upgrade: $(cat "$TMP/upgrade.err")"
fi
check "they are pinned apart" yes "$(ls "$PIN/http/drain" | grep -q '^link_' && echo yes)"
# connections made during the drain are the new build's
wrk -t1 -c4 -d1s -s "$TMP/wrk.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk2.out" 2>&1 &
WRK2_PID=$!
sleep 0.5
check "connections held by the old build, and by the new, during the drain" "8 4" \
	"$(held "$PIN/http/drain") $(held "$PIN/http")"
"$B/truemeter-agent" -c "$TMP/agent.conf" status >"$TMP/status.out" 2>&1
if grep -q '^http: attached (' "$TMP/status.out" &&
	grep -q '^http: 4 connection(s) metered$' "$TMP/status.out" &&
	grep -q '^http: the previous build drains: 8 connection(s) left, for [0-9]* s (drain_max 86400 s' "$TMP/status.out"; then
	ok "truemeter-agent status shows the drain"
else
	nok "status during the drain: $(cat "$TMP/status.out")"
fi
wait "$WRK2_PID" && WRK2_PID= &&
	ok "wrk during the drain: $(awk '/requests in/ { print $1 }' "$TMP/wrk2.out") requests" ||
	nok "wrk during the drain failed: $(cat "$TMP/wrk2.out")"
wait_wrk
stop_nginx
echo | "$DUMP" -v -c "$TMP/b.conf" >"$TMP/s4.txt" 2>"$TMP/s4.err" ||
	nok "meter_dump: $(cat "$TMP/s4.err")"
exact_as_nginx upgrade "$TMP/s4.txt" "the upgrade"
check "no drops across the upgrade" 0 "$(drops "$TMP/s4.txt")"
if grep -q 'finished their connections and were detached' "$TMP/s4.err" &&
	! [ -e "$PIN/http/drain" ]; then
	ok "the old build's programs detach once their connections are gone"
else
	nok "the drain did not end: $(ls "$PIN/http/drain" 2>&1) $(cat "$TMP/s4.err")"
fi

# ---- a drain ended before its connections close ----------------------------------
# [http] drain_max bounds a drain (a connection that never closes, or a count
# that drifted, would keep the old programs attached for ever), and
# `truemeter-agent end-drain` ends one at once.  Either way the old
# programs detach and each connection they still held counts once as a
# drop from then on: nothing is metered twice, nothing goes by without a
# trace.  wrk2's connections are the new build's from their start (and, for
# the syscall hook, make nginx's worker a process it looks at).
"$DUMP" -c "$TMP/b.conf" -u 2>/dev/null
printf 'drain_max = 1s\n' | cat "$TMP/b.conf" - > "$TMP/c.conf"
start_nginx
"$DUMP" -c "$TMP/b.conf" </dev/null 2>"$TMP/load5.err" ||
	nok "meter did not load: $(cat "$TMP/load5.err")"
start_wrk 10 cut   # outlasts the upgrade's load (≈2.5 s here), 2 s of wrk2 and the cut
sleep 1
upgrade "$TMP/c.conf" "$TMP/upgrade5.err" ||
	nok "no drain at the upgrade: $(cat "$TMP/upgrade5.err")"
sed 's/^wrk.headers\["X-Tenant-Id"\] = .*/wrk.headers["X-Tenant-Id"] = "cut2"/' \
	"$TMP/wrk.lua" > "$TMP/wrk2.lua"
wrk -t1 -c4 -d4s -s "$TMP/wrk2.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk2.out" 2>&1 &
WRK2_PID=$!
sleep 2
# without capabilities, as the running agent reads (it drops them all)
echo | capsh --drop=all -- -c "exec \"$DUMP\" -v -c \"$TMP/c.conf\"" >/dev/null 2>"$TMP/cut.err"
if grep -q 'drain ended with 8 connection(s) left' "$TMP/cut.err" &&
	! [ -e "$PIN/http/drain" ]; then
	ok "drain_max ends the drain with its 8 connections open (no capabilities)"
else
	nok "drain_max did not end the drain: $(ls "$PIN/http/drain" 2>&1) $(cat "$TMP/cut.err")"
fi
wait "$WRK2_PID" || nok "wrk during the drain failed: $(cat "$TMP/wrk2.out")"
WRK2_PID=
wait_wrk
echo | "$DUMP" -c "$TMP/b.conf" >"$TMP/s5.txt" 2>"$TMP/s5.err" ||
	nok "meter_dump: $(cat "$TMP/s5.err")"
check "each connection the ended drain left counted once as a drop" 8 "$(drops "$TMP/s5.txt")"
n_cut=$(meter_rows cut "$TMP/s5.txt" | awk '{ n += $2 } END { print n + 0 }')
n_nginx=$(nginx_rows cut | awk '{ n += $2 } END { print n + 0 }')
if [ "$n_cut" -gt 0 ] && [ "$n_cut" -lt "$n_nginx" ]; then
	ok "their requests counted until the drain ended, not after ($n_cut of $n_nginx)"
else
	nok "requests of the ended drain's connections: $n_cut counted, nginx served $n_nginx"
fi
exact_as_nginx cut2 "$TMP/s5.txt" "a drain ended early, on the new build's connections"

# the same at once, by the agent's command
start_wrk 8 cut3   # outlasts the upgrade's load (≈2.5 s here) and the end-drain
sleep 1
upgrade "$TMP/b.conf" "$TMP/upgrade6.err" ||
	nok "no drain at the second upgrade: $(cat "$TMP/upgrade6.err")"
if capsh --drop=all -- -c "exec \"$B/truemeter-agent\" -c \"$TMP/agent.conf\" end-drain" 2>"$TMP/end.err" &&
	grep -q '8 connection(s) were left' "$TMP/end.err" && ! [ -e "$PIN/http/drain" ]; then
	ok "truemeter-agent end-drain ends a drain at once"
else
	nok "end-drain: $(cat "$TMP/end.err") $(ls "$PIN/http/drain" 2>&1)"
fi
"$B/truemeter-agent" -c "$TMP/agent.conf" end-drain 2>"$TMP/end2.err" &&
	grep -q 'no drain in progress' "$TMP/end2.err" &&
	ok "end-drain without a drain says so" ||
	nok "end-drain without a drain: $(cat "$TMP/end2.err")"
wait_wrk
stop_nginx
