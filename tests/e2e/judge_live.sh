#!/bin/sh
# The judge running live (tests/judge_serve: the same judge_open() the
# collector uses): an alert within one reconcile tick of usage arriving,
# Stripe and Razorpay webhooks over real HTTP (accepted, replayed,
# tampered, oversized), usage after a cancellation, alerts on stdout, in
# the exec hook, /api/v1/leaks, /metrics and the dashboard; SIGHUP reload.
# san: yes
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"
. "$TM_ROOT/tests/lib/scratch.sh"
. "$TM_ROOT/tests/lib/wait.sh"
B=${TM_BUILD:?TM_BUILD not set}
R=${TM_ROOT:?TM_ROOT not set}
scratch tmjlive
DB=$TMP/c.db
SS=whsec_e2e_secret
RS=rzp_e2e_secret

cp "$R/examples/pricing.json" "$TMP/pricing.json"
echo '{}' > "$TMP/customers.json"
cat > "$TMP/collector.conf" <<CONF
[http]
port = 0
max_body = 64K
[stripe]
webhook_secret = $SS
customer_map = $TMP/customers.json
[razorpay]
webhook_secret = $RS
price_map = $R/examples/razorpay/price_map.json
[pricing]
catalog = $TMP/pricing.json
[reconcile]
interval = 200ms
[alerts]
exec = cat >> $TMP/hook.jsonl
CONF

"$B/tests/judge_serve" -c "$TMP/collector.conf" -d "$DB" > "$TMP/out.jsonl" 2> "$TMP/err.log" &
PID=$!
i=0
PORT=
until [ -n "$PORT" ] && curl -sf "$URL/healthz" >/dev/null 2>&1; do
	# port = 0: the kernel picks a free port; the log names it
	PORT=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/err.log" | head -1)
	URL=http://127.0.0.1:$PORT
	i=$((i + 1))
	[ $i -gt 100 ] && { nok "judge did not come up"; cat "$TMP/err.log"; exit 1; }
	sleep 0.1
done
ok "judge serves /healthz"


NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$B/tests/usage_put" "$DB" ghost api_requests "$NOW" 777
if wait_until 2 grep -qs '"kind":"unbilled_usage","tenant":"ghost"' "$TMP/out.jsonl"; then
	ok "unbilled_usage printed within a few ticks of the usage"
else
	nok "no unbilled_usage alert on stdout"
fi
check "alert names the money (777 x 0.1 = 78 usd, half up)" 1 \
	"$(grep '"tenant":"ghost"' "$TMP/out.jsonl" | head -1 | jq -r '"\(.metered) \(.leak) \(.currency)"' | grep -c '^777 78 usd$')"

post_stripe() { # file [timestamp]
	sig=$("$B/tests/webhook_sign" stripe "$SS" "$1" ${2:-})
	curl -s -o "$TMP/resp" -w '%{http_code}' -H "Stripe-Signature: $sig" \
		-H 'Content-Type: application/json' --data-binary "@$1" "$URL/webhooks/stripe"
}
post_rzp() { # file event-id [secret]
	sig=$("$B/tests/webhook_sign" razorpay "${3:-$RS}" "$1")
	curl -s -o "$TMP/resp" -w '%{http_code}' -H "X-Razorpay-Signature: $sig" \
		-H "x-razorpay-event-id: $2" -H 'Content-Type: application/json' \
		--data-binary "@$1" "$URL/webhooks/razorpay"
}
EV=$R/examples/stripe/events
check "stripe subscription.created accepted" 200 "$(post_stripe "$EV/customer.subscription.created.json")"
check "stripe invoice.paid accepted" 200 "$(post_stripe "$EV/invoice.paid.json")"
check "stripe replay answered 200" 200 "$(post_stripe "$EV/invoice.paid.json")"
check "stripe replay not stored again" '"duplicate"' "$(jq -c .status "$TMP/resp")"
check "stripe stale timestamp rejected" 400 "$(post_stripe "$EV/invoice.paid.json" $(( $(date +%s) - 400 )))"
sed 's/1000000/9000000/' "$EV/invoice.paid.json" > "$TMP/tampered.json"
sig=$("$B/tests/webhook_sign" stripe "$SS" "$EV/invoice.paid.json")
check "stripe tampered body rejected" 401 "$(curl -s -o /dev/null -w '%{http_code}' \
	-H "Stripe-Signature: $sig" --data-binary "@$TMP/tampered.json" "$URL/webhooks/stripe")"
head -c 70000 /dev/zero | tr '\0' ' ' > "$TMP/big.json"
check "oversized body rejected" 413 "$(post_stripe "$TMP/big.json")"
check "stripe billing stored once" 1 "$(sqlite3 "$DB" "SELECT COUNT(*) FROM bill WHERE source = 'stripe'")"

RZ=$R/examples/razorpay
check "razorpay subscription.charged accepted" 200 "$(post_rzp "$RZ/subscription.charged.json" evt_e2e_1)"
check "razorpay replay by event id" '"duplicate"' "$(post_rzp "$RZ/subscription.charged.json" evt_e2e_1 >/dev/null; jq -c .status "$TMP/resp")"
check "razorpay wrong secret rejected" 401 "$(post_rzp "$RZ/invoice.paid.json" evt_e2e_2 wrong)"
printf '{"event": ' > "$TMP/broken.json"
check "razorpay malformed JSON rejected" 400 "$(post_rzp "$TMP/broken.json" evt_e2e_3)"

# acme's subscription is cancelled (ended 2026-10-18); usage now is zombie access.
check "stripe subscription.deleted accepted" 200 "$(post_stripe "$EV/customer.subscription.deleted.json")"
"$B/tests/usage_put" "$DB" acme api_requests "$NOW" 200000
if wait_until 3 grep -qs '"kind":"usage_after_cancellation","tenant":"acme"' "$TMP/out.jsonl"; then
	ok "usage_after_cancellation raised"
else
	nok "no usage_after_cancellation alert"
fi

check "/api/v1/leaks lists ghost" 1 "$(curl -s "$URL/api/v1/leaks" | jq '[.[] | select(.tenant == "ghost")] | length')"
check "/metrics counts open alerts" 1 "$(curl -s "$URL/metrics" | grep -c '^truemeter_alerts_open{kind="unbilled_usage",severity="info"} 1$')"
check "/metrics counts stored webhooks" 1 "$(curl -s "$URL/metrics" | grep -c '^truemeter_webhooks_total{source="stripe",result="stored"} 3$')"
check "dashboard shows ghost" 1 "$(curl -s "$URL/" | grep -c '<td>ghost</td>' | sed 's/[2-9]/1/')"
ghost_leak=$(curl -s "$URL/api/v1/leaks" | jq -r '[.[] | select(.tenant == "ghost")][0] | "\(.leak_display)"')
check "dashboard shows ghost's leak in major units" 1 \
	"$(curl -s "$URL/" | grep -c "<td>ghost</td>.*<td>$ghost_leak</td></tr>")"
if wait_until 3 grep -qs ghost "$TMP/hook.jsonl"; then ok "exec hook got the alert JSON"; else nok "exec hook got nothing"; fi

# An invoice whose customer has no tenant metadata: rejected until the
# customer map names it; SIGHUP reloads the map (and the catalog).
jq '.id = "evt_e2e_nometa" | .data.object.subscription_details = {} |
    .data.object.id = "in_e2e_nometa" | .data.object.customer = "cus_e2e_unmapped"' \
	"$EV/invoice.paid.json" > "$TMP/nometa.json"
check "invoice of an unmapped customer rejected" 400 "$(post_stripe "$TMP/nometa.json")"
echo '{"cus_e2e_unmapped": "umbrella"}' > "$TMP/customers.json"
sed -i 's/"unit_amount": "0.1"/"unit_amount": "0.2"/' "$TMP/pricing.json"
kill -HUP "$PID"
if wait_until 3 grep -qs '"tenant":"ghost".*"leak":155' "$TMP/out.jsonl"; then
	ok "SIGHUP reloaded the catalog (ghost's leak now 155)"
else
	nok "catalog not reloaded"
fi
check "mapped after SIGHUP: accepted" 200 "$(post_stripe "$TMP/nometa.json")"
check "stored for tenant umbrella" 1 "$(sqlite3 "$DB" "SELECT COUNT(*) FROM bill WHERE tenant = 'umbrella'")"
kill -TERM "$PID"
wait "$PID"
check "judge stops cleanly on SIGTERM" 0 "$?"
PID=
