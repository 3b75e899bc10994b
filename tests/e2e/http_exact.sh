#!/bin/sh
# HTTP API metering is exact: a real nginx on loopback serves three header
# tenants to wrk (keep-alive, mixed routes/methods/status codes, bodies,
# sendfile, chunked responses) and header + API-key tenants to
# http_pipeline (pipelining, requests split across writes, HEAD, chunked
# request bodies, HTTP/1.0), and curl with "Expect: 100-continue" (an
# interim response before the final one).  The meter's rows must equal, exactly:
#  - nginx's access log (tenant header / API key, method, $request_uri,
#    status, $request_length, $bytes_sent, $request_completion) per tenant x
#    route x method x status class (class 0 where the response was cut
#    short), and the byte sums per tenant;
#  - http_pipeline's own counts for its tenants.
# san: yes
# HTTP_HOOKS=socket|syscall picks the meter's hooks (default socket; the
# syscall-exit fallback runs from http_exact_syscall.sh).
# The meter is loaded by one meter_dump that exits at once; the traffic is
# counted by the pinned programs with no reader running, and a second
# meter_dump must reuse the pinned links (same link ids) to read.
#
# nginx's $request_length leaves out request bodies nginx discards (e.g. a
# body sent to a "return" location) although it reads them from the socket;
# the meter counts what the server read, so bodies here go only to
# locations that read them (proxy_pass, echo_read_request_body).
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"

B=${TM_BUILD:?TM_BUILD not set}
R=${TM_ROOT:?TM_ROOT not set}
DUMP=$B/tests/meter_dump
PIPE=$B/tests/http_pipeline
ID=tmhttp$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PORT=$((12000 + $$ % 4000 * 2))   # below the ephemeral range
BACKEND=$((PORT + 1))
NGINX_PID=
ROUTES='/v1/items/* /v1/users/** /static/* /v1/orders/*/lines'
KEYS='key-keyco-1=keyco key-delta-2=kdelta'
HOOKS=${HTTP_HOOKS:-socket}
case $HOOKS in
socket) HOOK_NAMES='inet_sock_set_state tcp_destroy_sock sock_recv_length sock_send_length' ;;
syscall) HOOK_NAMES='sys_exit sched_process_exit' ;;
*) echo "HTTP_HOOKS must be socket or syscall" >&2; exit 2 ;;
esac

cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
	wait 2>/dev/null
	[ -f "$TMP/meter.conf" ] && "$DUMP" -c "$TMP/meter.conf" -u 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
	nok "http_exact needs root (BPF)"
	exit 1
fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

fnv() { # FNV-1a 64 of $1 as 16 hex digits
	printf '%s' "$1" | od -An -v -tu1 | awk '
		BEGIN { h = "cbf29ce484222325" }
		{ for (i = 1; i <= NF; i++) h = step(h, $i) }
		END { print h }
		# 64-bit xor/multiply in 16-bit limbs (awk numbers are doubles)
		function step(hex, b,   l, i, p, c, r, out) {
			for (i = 0; i < 4; i++) l[i] = hexval(substr(hex, 13 - 4 * i, 4))
			l[0] = xor16(l[0], b)
			p[0] = 435; p[1] = 0; p[2] = 256; p[3] = 0    # 0x100000001b3
			for (i = 0; i < 4; i++) r[i] = 0
			for (i = 0; i < 4; i++) for (c = 0; c + i < 4; c++) r[i + c] += l[i] * p[c]
			for (i = 0; i < 3; i++) { r[i + 1] += int(r[i] / 65536); r[i] %= 65536 }
			r[3] %= 65536
			out = ""
			for (i = 3; i >= 0; i--) out = out sprintf("%04x", r[i])
			return out
		}
		function hexval(s,   i, v) {
			v = 0
			for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return v
		}
		function xor16(a, b,   r, bit) {
			r = 0
			for (bit = 1; bit < 65536; bit *= 2) {
				if ((int(a / bit) % 2) != (int(b / bit) % 2)) r += bit
			}
			return r
		}'
}

# ---- nginx -----------------------------------------------------------------
NG=$TMP/nginx
chmod 755 "$TMP"        # nginx workers run as nobody
mkdir -p "$NG/static" "$NG/html" "$NG/logs"
echo "small file" > "$NG/static/small.txt"
head -c 30000 /dev/urandom | od -An -tx1 | head -c 20000 > "$NG/static/big.txt"
ECHO_MOD=/usr/lib/nginx/modules/ngx_http_echo_module.so
if [ -f "$ECHO_MOD" ]; then
	LOAD="load_module $ECHO_MOD;"
	CHUNKED='location = /chunked { echo "chunk one"; echo "chunk two"; }'
	READBODY='location = /readbody { echo_read_request_body; echo "read"; }'
else
	# without the echo module: chunked responses through the SSI-less
	# sub_filter path (drops Content-Length), bodies read by proxy_pass
	LOAD=
	CHUNKED='location = /chunked { sub_filter_once off; sub_filter x y; sub_filter_types *; proxy_pass http://127.0.0.1:'$BACKEND'/text; proxy_http_version 1.1; }'
	READBODY='location = /readbody { proxy_pass http://127.0.0.1:'$BACKEND'/sink; }'
fi
cat > "$NG/nginx.conf" <<EOF
$LOAD
worker_processes 2;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $NG/body;
	proxy_temp_path $NG/proxy;
	fastcgi_temp_path $NG/fcgi;
	uwsgi_temp_path $NG/uwsgi;
	scgi_temp_path $NG/scgi;
	log_format tm '\$http_x_tenant_id|\$http_x_api_key|\$request_method|\$request_uri|\$status|\$request_length|\$bytes_sent|\$request_completion';
	sendfile on;
	client_body_buffer_size 64k;    # bodies stay in memory
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$PORT;
		root $NG/html;
		access_log $NG/logs/access.log tm;
		location /v1/items/ { return 200 "item ok\n"; }
		location /v1/users/ { return 201 "created\n"; }
		location /v1/orders/ { return 200 "[]\n"; }
		location = /empty { return 204; }
		location = /moved { return 301 /v1/items/1; }
		location = /found { return 302 /v1/items/2; }
		location = /boom { return 500; }
		location /static/ { root $NG; }
		location = /upload { proxy_pass http://127.0.0.1:$BACKEND/sink; }
		$CHUNKED
		$READBODY
	}
	server {
		listen 127.0.0.1:$BACKEND;
		access_log off;
		location / { return 200 "sunk, thanks\n"; }
	}
}
EOF
nginx -p "$NG" -c "$NG/nginx.conf" >"$NG/logs/stdout" 2>&1 &
NGINX_PID=$!
i=0
while ! [ -s "$NG/nginx.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$NG/nginx.pid" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
	ok "nginx runs on 127.0.0.1:$PORT"
else
	nok "nginx did not start: $(cat "$NG/logs/error.log" "$NG/logs/stdout" 2>/dev/null)"
	exit 1
fi

# ---- meter -----------------------------------------------------------------
{
	echo "[meter]"
	echo "pin_dir = $PIN"
	echo "[http]"
	echo "ports = $PORT"
	echo "hooks = $HOOKS"
	echo "tenant_header = X-Tenant-Id"
	echo "api_key_header = X-Api-Key"
	for r in $ROUTES; do echo "route = $r"; done
	for kv in $KEYS; do
		echo "[api_key ${kv#*=}]"
		echo "hash = $(fnv "${kv%%=*}")"
	done
} > "$TMP/meter.conf"
if "$DUMP" -c "$TMP/meter.conf" </dev/null 2>"$TMP/load.err"; then
	ok "meter loaded and pinned (reader exited)"
else
	nok "meter did not load: $(cat "$TMP/load.err")"
	exit 1
fi
link_ids() {
	for l in "$PIN"/http/link_*; do
		bpftool -j link show pinned "$l" 2>/dev/null | sed 's/.*"id":\([0-9]*\).*/\1/'
	done | sort -n | tr '\n' ' '
}
LINKS_BEFORE=$(link_ids)

# ---- traffic ---------------------------------------------------------------
if wrk -t2 -c8 -d3s -s "$R/tests/e2e/http/wrk_mix.lua" "http://127.0.0.1:$PORT/" \
	>"$TMP/wrk.out" 2>&1; then
	ok "wrk: $(awk '/requests in/ { print $1 }' "$TMP/wrk.out") keep-alive requests"
else
	nok "wrk failed: $(cat "$TMP/wrk.out")"
fi
PIPE_ARGS="-p $PORT -c 6 -n 150 -d 12 -s $$ -o $TMP/pipe.tsv"
for r in $ROUTES; do PIPE_ARGS="$PIPE_ARGS -R $r"; done
for kv in $KEYS; do PIPE_ARGS="$PIPE_ARGS -K $kv"; done
# shellcheck disable=SC2086 # word splitting intended; patterns have no spaces
if (set -f; "$PIPE" $PIPE_ARGS) 2>"$TMP/pipe.err"; then
	ok "http_pipeline: $(awk -F'\t' '{ n += $5 } END { print n }' "$TMP/pipe.tsv") pipelined requests"
else
	nok "http_pipeline failed: $(cat "$TMP/pipe.err")"
fi
# Clients that hang up right after sending: the response reaches a closed
# socket, whose reset comes back inside the server's own send on loopback
# and releases the server socket's port before the send is reported.
bash -c '
for i in $(seq 20); do
	exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	printf "GET /v1/items/$i HTTP/1.1\r\nHost: x\r\nX-Tenant-Id: t-reset\r\n\r\n" >&3
	exec 3>&-
done' sh "$PORT" && ok "20 requests from clients that hang up at once" ||
	nok "hang-up clients failed"
# Clients that send "Expect: 100-continue" and wait for the interim
# "100 Continue" before the body (curl does for bodies over 1 KiB): one
# request each, whose response bytes hold both heads.
head -c 3000 /dev/zero | tr '\0' x > "$TMP/expect.body"
n_cont=0
for i in 1 2 3 4; do
	curl -sv -o /dev/null -H 'X-Tenant-Id: t-expect' -H 'Expect: 100-continue' \
		--data-binary @"$TMP/expect.body" "http://127.0.0.1:$PORT/readbody" \
		2>"$TMP/expect.err"
	grep -q '^< HTTP/1.1 100 Continue' "$TMP/expect.err" && n_cont=$((n_cont + 1))
done
check "4 requests answered 100 Continue before their final response" 4 "$n_cont"
# Header names that start as the tenant and key headers do, before them,
# each request in one write (its head parsed in one go): only the
# configured names count.
for i in 1 2 3; do
	curl -s -o /dev/null -H 'X-Tenant-Ids: decoy' -H 'x-tenant-i: decoy' \
		-H 'X-TENANT-ID: t-decoyed' "http://127.0.0.1:$PORT/v1/items/$i"
	for h in 'X-Api-Kez' 'x-api-ke' 'X-Api-Key-'; do  # POST: not http_pipeline's
		curl -s -o /dev/null -X POST -H "$h: key-delta-2" \
			"http://127.0.0.1:$PORT/v1/orders/$i/lines"
	done
done
# let nginx finish logging and closing, then read with a fresh reader
sleep 1
echo | "$DUMP" -c "$TMP/meter.conf" >"$TMP/dump.out" 2>"$TMP/dump.err"
grep -q '^END$' "$TMP/dump.out" && ok "meter read by a second meter_dump" ||
	nok "meter_dump read failed: $(cat "$TMP/dump.err")"
LINKS_AFTER=$(link_ids)
if [ -n "$LINKS_BEFORE" ] && [ "$LINKS_BEFORE" = "$LINKS_AFTER" ]; then
	ok "second reader reused the pinned links ($(echo $LINKS_AFTER | wc -w) links)"
else
	nok "pinned links changed: before '$LINKS_BEFORE' after '$LINKS_AFTER'"
fi

# ---- compare ---------------------------------------------------------------
# meter rows -> tenant route method class requests req_bytes resp_bytes
grep -v '^#' "$TMP/dump.out" | grep -v '^END$' | awk -F'\t' '
	{ k = $1 "\t" $3 "\t" $4 "\t" $5 }
	$2 == "api_requests" { n[k] = $6 }
	$2 == "api_request_bytes" { q[k] = $6 }
	$2 == "api_response_bytes" { s[k] = $6 }
	END { for (k in n) print k "\t" n[k] "\t" q[k] "\t" s[k] }' | sort > "$TMP/meter.tsv"

# nginx access log -> the same shape, routes and tenants by the documented
# rules (independent of the meter's code)
awk -F'|' -v routes="$ROUTES" -v keys="$KEYS" '
	BEGIN {
		np = split(routes, pat, " ")
		nk = split(keys, kv, " ")
		for (i = 1; i <= nk; i++) { split(kv[i], a, "="); key[a[1]] = a[2] }
		split("GET POST PUT DELETE PATCH HEAD OPTIONS", m, " ")
		for (i in m) known[m[i]] = 1
	}
	function route(p,   i, j, ns, s, nps, ps, ok) {
		sub(/[?#].*/, "", p)
		if (substr(p, 1, 1) != "/") return "other"
		ns = split(substr(p, 2), s, "/")
		if (ns == 0) { ns = 1; s[1] = "" }
		for (i = 1; i <= np; i++) {
			nps = split(substr(pat[i], 2), ps, "/")
			ok = 1
			for (j = 1; j <= nps; j++) {
				if (ps[j] == "**") break
				if (j > ns || (ps[j] != "*" && ps[j] != s[j])) { ok = 0; break }
			}
			if (ok && j > nps && nps != ns) ok = 0
			if (ok) return pat[i]
		}
		return "other"
	}
	{
		t = $1
		if (t == "-" || t == "") t = ($2 in key) ? key[$2] : "unknown"
		meth = ($3 in known) ? $3 : "OTHER"
		# a response cut short (wrk stops mid-flight at its deadline)
		# is status class 0 by the meter rules
		k = t "\t" route($4) "\t" meth "\t" ($8 == "OK" ? int($5 / 100) : 0)
		n[k]++; q[k] += $6; s[k] += $7
		tn[t]++; tq[t] += $6; ts[t] += $7
	}
	END {
		for (k in n) print k "\t" n[k] "\t" q[k] "\t" s[k]
		for (t in tn) print t "\t" tn[t] "\t" tq[t] "\t" ts[t] > "/dev/stderr"
	}' "$NG/logs/access.log" 2>"$TMP/nginx_tenants.tsv" | sort > "$TMP/nginx.tsv"

rows=$(wc -l < "$TMP/nginx.tsv")
total=$(awk -F'\t' '{ n += $5 } END { print n + 0 }' "$TMP/nginx.tsv")
if [ "$total" -gt 1000 ] && cmp -s "$TMP/nginx.tsv" "$TMP/meter.tsv"; then
	ok "meter equals nginx's access log exactly: $total requests in $rows tenant x route x method x status rows"
else
	nok "meter differs from nginx's access log ($total requests; < nginx, > meter):"
	diff "$TMP/nginx.tsv" "$TMP/meter.tsv" | head -40 | sed 's/^/# /'
fi
check "the 100-continue requests counted once each, POST 2xx" "4" \
	"$(awk -F'\t' '$1 == "t-expect" && $3 == "POST" && $4 == 2 { n += $5 } END { print n + 0 }' "$TMP/meter.tsv")"
check "the requests with look-alike header names counted for their tenants" "3 9" \
	"$(awk -F'\t' '$1 == "t-decoyed" { n += $5 }
		$1 == "unknown" && $2 == "/v1/orders/*/lines" && $3 == "POST" { k += $5 }
		END { print n + 0, k + 0 }' "$TMP/meter.tsv")"

# per tenant byte sums against $request_length / $bytes_sent
ntenants=0
for t in $(cut -f1 "$TMP/nginx_tenants.tsv" | sort); do
	ntenants=$((ntenants + 1))
	want=$(awk -F'\t' -v t="$t" '$1 == t { print $2, $3, $4 }' "$TMP/nginx_tenants.tsv")
	got=$(awk -F'\t' -v t="$t" '$1 == t { n += $5; q += $6; s += $7 }
		END { print n + 0, q + 0, s + 0 }' "$TMP/meter.tsv")
	if [ "$want" = "$got" ]; then
		ok "tenant $t: requests, request bytes, response bytes = nginx ($got)"
	else
		nok "tenant $t: nginx $want, meter $got"
	fi
done
[ "$ntenants" -ge 5 ] && ok "$ntenants tenants seen" || nok "only $ntenants tenants seen"

# http_pipeline's own counts for its tenants (wrk's tenants are t-*)
sort "$TMP/pipe.tsv" > "$TMP/pipe.sorted"
grep -v '^t-' "$TMP/meter.tsv" | grep -v '^unknown	/v1/orders/\*/lines	POST	' \
	> "$TMP/meter.pipe"
if [ -s "$TMP/pipe.sorted" ] && cmp -s "$TMP/pipe.sorted" "$TMP/meter.pipe"; then
	ok "meter equals http_pipeline's own counts ($(wc -l < "$TMP/pipe.sorted") rows)"
else
	nok "meter differs from http_pipeline's counts (< client, > meter):"
	diff "$TMP/pipe.sorted" "$TMP/meter.pipe" | head -40 | sed 's/^/# /'
fi
for what in HEAD POST OPTIONS OTHER unknown keyco kdelta "/v1/users/\*\*" "/v1/orders/\*/lines"; do
	if grep -q "$what" "$TMP/pipe.sorted"; then
		ok "client traffic covers '$what'"
	else
		nok "client traffic lacks '$what'"
	fi
done
for s in 2 3 4 5; do
	if awk -F'\t' -v s="$s" '$4 == s { f = 1 } END { exit !f }' "$TMP/meter.tsv"; then
		ok "status class ${s}xx counted"
	else
		nok "no ${s}xx rows"
	fi
done

# health: nothing dropped, nothing overflowed, the hooks nginx uses attached
for h in "overflow 0" "drops 0"; do
	grep -q "^#health $h\$" "$TMP/dump.out" && ok "health $h" ||
		nok "health: $(grep '^#health' "$TMP/dump.out" | tr '\n' ' ')"
done
for hook in $HOOK_NAMES; do
	grep -q "^#hook attached http:$hook\$" "$TMP/dump.out" && ok "hook $hook attached" ||
		nok "hook $hook not attached"
done

# ---- settings change: programs reload, counters stay ------------------------
# A link pinned by an older agent whose program this one no longer has
# (stand-in: a second pin of a current link) must be detached on reload.
bpftool link pin id "$(echo "$LINKS_AFTER" | cut -d' ' -f1)" "$PIN/http/link_tp_exit_read"
cp "$TMP/meter.conf" "$TMP/meter2.conf"
sed -i 's|^route = /v1/orders/\*/lines$|&\nroute = /v2/**|' "$TMP/meter2.conf"
echo | "$DUMP" -c "$TMP/meter2.conf" >"$TMP/dump2.out" 2>"$TMP/dump2.err"
LINKS_RELOAD=$(link_ids)
if [ "$LINKS_RELOAD" != "$LINKS_AFTER" ] && grep -q '^END$' "$TMP/dump2.out"; then
	ok "changed settings loaded new programs"
else
	nok "changed settings did not reload: $(cat "$TMP/dump2.err")"
fi
[ ! -e "$PIN/http/link_tp_exit_read" ] && ok "a stale link of an older program was unpinned" ||
	nok "stale link $PIN/http/link_tp_exit_read left attached"
rows_of() {
	grep -v '^#' "$1" | grep -v '^END$' | sort
}
if rows_of "$TMP/dump.out" | cmp -s - "$(rows_of "$TMP/dump2.out" > "$TMP/rows2"; echo "$TMP/rows2")"; then
	ok "counters survived the reload unchanged"
else
	nok "counters changed across the reload"
	rows_of "$TMP/dump.out" | diff - "$TMP/rows2" | head -10 | sed 's/^/# /'
fi
# shellcheck disable=SC2086
(set -f; "$PIPE" -p "$PORT" -c 1 -n 40 -d 4 -s 7 -R /v1/items/* -o "$TMP/pipe2.tsv") 2>>"$TMP/pipe.err"
sleep 0.5
echo | "$DUMP" -c "$TMP/meter2.conf" >"$TMP/dump3.out" 2>>"$TMP/dump2.err"
sum_req() { grep -v '^#' "$1" | awk -F'\t' '$2 == "api_requests" { n += $6 } END { print n + 0 }'; }
before=$(sum_req "$TMP/dump2.out")
after=$(sum_req "$TMP/dump3.out")
sent=$(awk -F'\t' '{ n += $5 } END { print n + 0 }' "$TMP/pipe2.tsv")
if [ $((after - before)) -eq "$sent" ] && [ "$sent" -gt 0 ]; then
	ok "reloaded meter counts new traffic exactly ($sent requests)"
else
	nok "after reload: $((after - before)) counted, $sent sent"
fi

# reordered routes would relabel old counters: they start afresh, with a warning
grep -v '^route = ' "$TMP/meter2.conf" |
	sed 's|^api_key_header = .*|&\nroute = /v1/users/**\nroute = /v1/items/*|' > "$TMP/meter3.conf"
echo | "$DUMP" -c "$TMP/meter3.conf" >"$TMP/dump4.out" 2>"$TMP/dump4.err"
if [ "$(sum_req "$TMP/dump4.out")" -eq 0 ] && grep -q 'route list changed' "$TMP/dump4.err"; then
	ok "reordered routes: counters start afresh with a warning"
else
	nok "reordered routes: $(sum_req "$TMP/dump4.out") requests kept; $(cat "$TMP/dump4.err")"
fi

# ---- unpin -------------------------------------------------------------------
kill "$NGINX_PID" 2>/dev/null
wait "$NGINX_PID" 2>/dev/null
NGINX_PID=
if "$DUMP" -c "$TMP/meter.conf" -u && ! [ -e "$PIN/http" ]; then
	ok "meter_dump -u removed the pinned HTTP meter"
else
	nok "pins left in $PIN/http: $(ls "$PIN/http" 2>&1)"
fi
