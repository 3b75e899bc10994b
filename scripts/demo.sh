#!/bin/sh
# make demo: the whole pipeline on one machine, as a new user first meets it.
#
#   nginx (4 tenants) ← wrk traffic
#     ↑ counted in the kernel by truemeter-agent (eBPF), signed reports over nng
#   truemeter-collector (SQLite) ← billing: a signed Stripe webhook + a CSV import
#     → reconcile → leak alerts with the money at stake
#
# The "billing system" here bills from the application's own access log and
# has three planted mistakes: globex's invoice lost a fifth of its requests,
# initech is billed for a quarter more than it used, and umbrella keeps
# calling the API after Stripe cancelled its subscription.  acme is billed
# correctly and must raise nothing.
#
# usage: scripts/demo.sh BUILD_DIR
# env:   DEMO_DIR (default ./demo; kept afterwards: logs, database, configs)
#        DEMO_SECONDS (traffic per tenant, default 30)
#        DEMO_RESULTS=FILE  also write "key value" lines for tests/e2e/pipeline.sh
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$ROOT/build}" && pwd)
DIR=${DEMO_DIR:-$ROOT/demo}
SECONDS_TOTAL=${DEMO_SECONDS:-30}
RESULTS=${DEMO_RESULTS:-}
TENANTS="acme globex initech umbrella"
NGINX_PORT=${DEMO_NGINX_PORT:-18480}
COLLECTOR_PORT=${DEMO_COLLECTOR_PORT:-17480}
HTTP_PORT=${DEMO_HTTP_PORT:-18489}
SECRET=whsec_demo_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
PIN=/sys/fs/bpf/truemeter-demo-$$
PIDS=""
T_START=$(date +%s)

step() { printf '\n\033[1m[%3ss] %s\033[0m\n' "$(($(date +%s) - T_START))" "$*"; }
info() { printf '       %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
result() { [ -z "$RESULTS" ] || echo "$1 $2" >> "$RESULTS"; }

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -f "$DIR/agent.conf" ] && "$B/truemeter-agent" -q -c "$DIR/agent.conf" detach 2>/dev/null || true
	rm -rf "$PIN"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (the agent loads eBPF programs)"
for t in wrk nginx openssl curl sqlite3 jq; do
	command -v "$t" >/dev/null || die "$t is missing: run 'make deps'"
done
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
NGINX=$(command -v nginx)

step "Setting up in $DIR"
rm -rf "$DIR"
mkdir -p "$DIR/agents" "$DIR/nginx" "$DIR/agent-state"
"$B/truemeter-agent" keygen "$DIR/agent.key" "$DIR/agents/agent.pub" >/dev/null
info "agent key pair made; the collector enrols agents/agent.pub"
cp "$ROOT/examples/demo/pricing.json" "$DIR/pricing.json"

cat > "$DIR/nginx.conf" <<CONF
worker_processes 2;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    log_format billing '\$http_x_tenant_id \$msec \$status \$request_length \$bytes_sent';
    server {
        listen 127.0.0.1:$NGINX_PORT;
        keepalive_requests 100000;
        access_log $DIR/nginx/access.log billing;
        default_type application/json;
        location /v1/items/ { return 200 '{"id":42,"name":"widget","price":1999}\n'; }
        location = /v1/orders { return 201 '{"order":1001,"status":"created"}\n'; }
        location /v1/orders/ { return 200 '{"order":1001,"status":"shipped"}\n'; }
        location / { return 404 '{"error":"not found"}\n'; }
    }
}
CONF

cat > "$DIR/agent.conf" <<CONF
[agent]
key = $DIR/agent.key
state_dir = $DIR/agent-state
interval = 1s
[collector]
url = tcp://127.0.0.1:$COLLECTOR_PORT
[meter]
pin_dir = $PIN
[http]
ports = $NGINX_PORT
tenant_header = X-Tenant-Id
route = /v1/items/*
route = /v1/orders
route = /v1/orders/*
CONF

cat > "$DIR/collector.conf" <<CONF
[collector]
listen = tcp://127.0.0.1:$COLLECTOR_PORT
database = $DIR/truemeter.db
enrolled_keys = $DIR/agents
[http]
port = $HTTP_PORT
[stripe]
webhook_secret = $SECRET
[pricing]
catalog = $DIR/pricing.json
[reconcile]
interval = 1s
settle = 0s
anomaly = no
[alerts]
stdout = yes
CONF
"$B/truemeter-collector" -n -c "$DIR/collector.conf" >/dev/null
"$B/truemeter-agent" -n -c "$DIR/agent.conf" >/dev/null

step "Starting nginx, truemeter-collector and truemeter-agent"
"$NGINX" -c "$DIR/nginx.conf" -g 'daemon off;' 2>"$DIR/nginx/stderr.log" &
PIDS="$PIDS $!"
# nginx answers before the agent starts, so this probe is not metered
i=0
until curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || die "nginx did not start; see $DIR/nginx/"
	sleep 0.1
done
"$B/truemeter-collector" -c "$DIR/collector.conf" >"$DIR/alerts.jsonl" 2>"$DIR/collector.log" &
PIDS="$PIDS $!"
"$B/truemeter-agent" -c "$DIR/agent.conf" 2>"$DIR/agent.log" &
AGENT_PID=$!
PIDS="$PIDS $AGENT_PID"
i=0
until curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 &&
      grep -q "running: interval" "$DIR/agent.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || die "services did not come up; see $DIR/*.log"
	kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited; see $DIR/agent.log"
	sleep 0.1
done
info "nginx on 127.0.0.1:$NGINX_PORT, collector on tcp://127.0.0.1:$COLLECTOR_PORT and http://127.0.0.1:$HTTP_PORT/"
info "agent: $(grep -o "running: .*" "$DIR/agent.log" | head -1)"

stripe_event() { # file: sign like Stripe does (HMAC-SHA256 over "t.payload") and POST
	ts=$(date +%s)
	sig=$( (printf '%s.' "$ts"; cat "$1") | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
	code=$(curl -s -o "$DIR/webhook.out" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Stripe-Signature: t=$ts,v1=$sig" --data-binary @"$1" \
		"http://127.0.0.1:$HTTP_PORT/webhooks/stripe")
	[ "$code" = 200 ] || die "Stripe webhook $1 answered $code: $(cat "$DIR/webhook.out")"
}

subscription_event() { # id type status created ended
	cat > "$DIR/$2.json" <<JSON
{
  "id": "$1",
  "object": "event",
  "api_version": "2024-06-20",
  "created": $(date +%s),
  "type": "$2",
  "livemode": false,
  "data": { "object": {
    "id": "sub_demo_umbrella",
    "object": "subscription",
    "customer": "cus_demo_umbrella",
    "status": "$3",
    "created": $4,
    "start_date": $4,
    "canceled_at": $5,
    "ended_at": $5,
    "currency": "usd",
    "metadata": { "tenant": "umbrella" },
    "items": { "object": "list", "data": [ { "id": "si_demo_umbrella", "object": "subscription_item",
      "price": { "id": "price_demo_api", "object": "price", "metadata": { "metric": "api_requests" } } } ] }
  } }
}
JSON
	stripe_event "$DIR/$2.json"
}

step "Stripe: umbrella's subscription is active (signed webhook customer.subscription.created)"
subscription_event evt_demo_sub_created customer.subscription.created active "$(($(date +%s) - 86400))" null

traffic() { # seconds tenants...
	secs=$1
	shift
	wpids=""
	for t in "$@"; do
		wrk -t1 -c4 -d"${secs}s" -H "X-Tenant-Id: $t" -s "$ROOT/examples/demo/traffic.lua" \
			"http://127.0.0.1:$NGINX_PORT" > "$DIR/wrk-$t.log" 2>&1 &
		wpids="$wpids $!"
	done
	for p in $wpids; do wait "$p"; done
}

P1=$((SECONDS_TOTAL / 2))
P2=$((SECONDS_TOTAL - P1))
step "Driving API traffic: $P1 s for all four tenants"
traffic "$P1" $TENANTS
sleep 2
CANCELLED=$(date +%s)
step "Stripe: umbrella cancels (signed webhook customer.subscription.deleted, ended_at=$CANCELLED)"
subscription_event evt_demo_sub_deleted customer.subscription.deleted canceled \
	"$(($(date +%s) - 86400))" "$CANCELLED"
sleep 2
step "Driving API traffic: $P2 s more — umbrella keeps calling after cancelling"
traffic "$P2" $TENANTS
sleep 3    # the last window closes and its report is acked
END=$(date +%s)

step "Billing: the billing system invoices from the app's access log, with planted mistakes"
LOG="$DIR/nginx/access.log"
count() { awk -v t="$1" -v from="${2:-0}" '$1 == t && $2 >= from { n++ } END { print n + 0 }' "$LOG"; }
price() { "$B/truemeter" -d "$DIR/truemeter.db" pricing quote api api_requests "$1" "$DIR/pricing.json" | awk '{ print $1; exit }'; }
PSTART=$(date -u -d "@$((T_START - 1))" +%Y-%m-%dT%H:%M:%SZ)
PEND=$(date -u -d "@$END" +%Y-%m-%dT%H:%M:%SZ)
echo "tenant,metric,period_start,period_end,quantity,amount,currency,invoice_id" > "$DIR/invoices.csv"
for t in acme globex initech; do
	n=$(count "$t")
	case $t in
	acme) q=$n ;;                       # correct
	globex) q=$((n * 8 / 10)) ;;         # a fifth of the usage never billed
	initech) q=$((n * 125 / 100)) ;;     # billed for more than it used
	esac
	echo "$t,api_requests,$PSTART,$PEND,$q,$(price "$q"),usd,INV-DEMO-$t" >> "$DIR/invoices.csv"
	info "$t: nginx served $n requests, invoiced $q"
	result "log_$t" "$n"
	result "billed_$t" "$q"
done
result log_umbrella "$(count umbrella)"
result log_umbrella_after "$(count umbrella "$CANCELLED")"
info "umbrella: nginx served $(count umbrella) requests, $(count umbrella "$CANCELLED") after its subscription ended"
"$B/truemeter" -d "$DIR/truemeter.db" billing import "$DIR/invoices.csv"

step "Waiting for the collector's reconcile tick"
sleep 3

step "Metered in the kernel vs served by nginx"
"$B/truemeter" -d "$DIR/truemeter.db" usage --metric api_requests --from "$PSTART" --to "$PEND"
for t in $TENANTS; do
	result "metered_$t" "$("$B/truemeter" -d "$DIR/truemeter.db" usage --json --tenant "$t" \
		--metric api_requests --from "$PSTART" --to "$PEND" |
		grep -o '"value": *[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')"
done

step "The same requests by route x method x status class, as the meter counted them"
"$B/truemeter" -d "$DIR/truemeter.db" usage --metric api_requests --from "$PSTART" \
	--to "$PEND" --tenant acme --detail

step "The meter's own health, as the agent declared it: usage it could not count"
"$B/truemeter" -d "$DIR/truemeter.db" agents
result "agent_losses" "$("$B/truemeter" -d "$DIR/truemeter.db" agents --json |
	jq -s '[.[] | .event_drops + .map_overflow + .spool_drops] | add')"

step "Leak report"
"$B/truemeter" -d "$DIR/truemeter.db" leaks
"$B/truemeter" -d "$DIR/truemeter.db" leaks --json > "$DIR/leaks.json"
[ -z "$RESULTS" ] || cp "$DIR/leaks.json" "$RESULTS.leaks.json"
echo
sed -n 's/.*"kind":"\([^"]*\)","tenant":"\([^"]*\)","metric":"\([^"]*\)".*"metered":\([0-9]*\),"billed":\([0-9]*\),.*"leak_display":"\([^"]*\)".*/\2 \1 \3 \4 \5 \6/p' \
	"$DIR/leaks.json" | while read -r t k m me bi money; do
	printf '       %-9s %-25s metered %9s, billed %9s %-13s -> %s at stake\n' \
		"$t" "$k" "$me" "$bi" "$m" "$money"
done
info "alerts as JSON: $DIR/leaks.json; live on http://127.0.0.1:$HTTP_PORT/ while it ran"

step "Auditor: export the signed usage record and verify it without the collector"
MONTH=$(date -u +%Y-%m)
"$B/truemeter" -d "$DIR/truemeter.db" audit export --period "$MONTH" -o "$DIR/audit-$MONTH.tmb"
if "$B/truemeter" audit verify "$DIR/audit-$MONTH.tmb" --keys-dir "$DIR/agents" > "$DIR/audit.txt"; then
	result audit_status 0
else
	result audit_status $?
fi
grep -E '^(reports|verdict)' "$DIR/audit.txt" | sed 's/^/       /'
for t in $TENANTS; do
	result "audit_$t" "$(awk -v t="$t" '$1 == t && $2 == "api_requests" { print $3 }' "$DIR/audit.txt")"
	result "month_$t" "$("$B/truemeter" -d "$DIR/truemeter.db" usage --json --tenant "$t" \
		--metric api_requests --period "$MONTH" |
		grep -o '"value": *[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')"
done

step "Stopping everything the demo started"
cleanup
trap - EXIT
info "done in $(($(date +%s) - T_START)) s; logs, configs and the database are in $DIR"
