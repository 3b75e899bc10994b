#!/bin/sh
# The whole pipeline with assertions: scripts/demo.sh (real nginx, agent with
# the eBPF meter, collector, a signed Stripe webhook and a CSV import) on a
# short run, then
#  - metered api_requests per tenant equal nginx's access log exactly;
#  - the leak report names exactly the three planted leaks, each with its
#    exact money, and nothing for the correctly billed tenant;
#  - the signed usage record exports and verifies independently, with the
#    same totals as the collector's.
# Pricing in examples/demo/pricing.json: 0.1 minor units per request, so the
# price of q requests is q/10 rounded half up = (q + 5) / 10.
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"

B=${TM_BUILD:?TM_BUILD not set}
R=${TM_ROOT:?TM_ROOT not set}
TMP=$(mktemp -d /tmp/tmpipeline.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/results"; }
price() { echo $((($1 + 5) / 10)); }

BASE=$((21000 + $$ % 4000 * 3))
if ! DEMO_DIR=$TMP/demo DEMO_SECONDS=${PIPELINE_SECONDS:-8} DEMO_RESULTS=$TMP/results \
	DEMO_NGINX_PORT=$BASE DEMO_COLLECTOR_PORT=$((BASE + 1)) DEMO_HTTP_PORT=$((BASE + 2)) \
	sh "$R/scripts/demo.sh" "$B" > "$TMP/demo.out" 2>&1; then
	sed 's/^/# /' "$TMP/demo.out"
	for f in agent.log collector.log; do
		echo "# --- $f"; tail -20 "$TMP/demo/$f" 2>/dev/null | sed 's/^/# /'
	done
	nok "demo run failed"
	exit 1
fi
ok "demo ran and stopped everything it started"
sed 's/^/# /' "$TMP/demo.out"

for t in acme globex initech umbrella; do
	n=$(val "log_$t")
	[ "${n:-0}" -gt 0 ] || nok "nginx served no requests for $t"
	check "metered api_requests for $t equal nginx's access log" "$n" "$(val "metered_$t")"
done

# The detail the meter counted, per tenant x status class, is what nginx
# logged (the status is the log's third field), and its routes are the
# configured patterns the requests match.
"$B/truemeter" -d "$TMP/demo/truemeter.db" usage --period "$(date -u +%Y-%m)" \
	--metric api_requests --detail --json > "$TMP/detail.json"
for t in acme globex initech umbrella; do
	check "usage --detail: $t's requests per status class equal nginx's log" \
		"$(awk -v t="$t" '$1 == t { c[substr($3, 1, 1) "xx"]++ }
			END { for (k in c) print k, c[k] }' "$TMP/demo/nginx/access.log" |
			sort | tr '\n' ' ')" \
		"$(jq -r --arg t "$t" 'select(.tenant == $t) | "\(.status_class) \(.value)"' \
			"$TMP/detail.json" | awk '{ c[$1] += $2 } END { for (k in c) print k, c[k] }' |
			sort | tr '\n' ' ')"
done
check "usage --detail: routes, methods and status classes as traffic.lua sends them" \
	"/v1/items/* GET 2xx;/v1/orders POST 2xx;/v1/orders/* GET 2xx;other GET 4xx;" \
	"$(jq -r '"\(.route) \(.method) \(.status_class)"' "$TMP/detail.json" | sort -u |
		tr '\n' ';')"

# "kind tenant metric leak status" per alert, from the JSON lines.
sed -n 's/.*"kind":"\([^"]*\)","tenant":"\([^"]*\)","metric":"\([^"]*\)".*"leak":\([0-9-]*\),.*"status":"\([^"]*\)".*/\1 \2 \3 \4 \5/p' \
	"$TMP/results.leaks.json" | sort > "$TMP/alerts"
sed 's/^/# alert: /' "$TMP/alerts"
check "the agent declares no metering losses (truemeter agents)" 0 "$(val agent_losses)"
check "exactly three alerts" 3 "$(wc -l < "$TMP/alerts")"

g=$(val log_globex); gb=$(val billed_globex)
check "globex underbilled by the price of its unbilled requests" \
	"underbilled globex api_requests $(($(price "$g") - $(price "$gb"))) open" \
	"$(grep '^underbilled globex ' "$TMP/alerts")"
i=$(val log_initech); ib=$(val billed_initech)
check "initech overbilled by the price of the requests it never made" \
	"overbilled initech api_requests $(($(price "$ib") - $(price "$i"))) open" \
	"$(grep '^overbilled initech ' "$TMP/alerts")"
u=$(val log_umbrella_after)
[ "${u:-0}" -gt 0 ] || nok "umbrella made no requests after cancelling"
check "umbrella used the API after cancelling: the price of those requests" \
	"usage_after_cancellation umbrella api_requests $(price "$u") open" \
	"$(grep '^usage_after_cancellation umbrella ' "$TMP/alerts")"
check "acme, billed correctly, raises nothing" 0 "$(grep -c ' acme ' "$TMP/alerts")"
check "the auditor's export verifies with the agent's key" 0 "$(val audit_status)"
for t in acme globex initech umbrella; do
	check "audited api_requests for $t equal the collector's" "$(val "month_$t")" "$(val "audit_$t")"
done
if grep -q 'done in' "$TMP/demo.out"; then
	secs=$(sed -n 's/.*done in \([0-9]*\) s.*/\1/p' "$TMP/demo.out")
	ok "demo finished in $secs s"
fi
if pgrep -f "$TMP/demo" >/dev/null; then nok "processes left running"; else ok "nothing left running"; fi
