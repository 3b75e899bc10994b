#!/bin/sh
# The billing side from the command line: pricing load, billing import
# (a bad row rejects the whole file), reconcile of a closed month with
# exact leaks, alerts deduplicated and resolved when a corrected invoice
# arrives, and leaks as table and JSON.
# san: yes
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"
B=${TM_BUILD:?TM_BUILD not set}
R=${TM_ROOT:?TM_ROOT not set}
TMP=$(mktemp -d /tmp/tmjudge.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
export TRUEMETER_DB=$TMP/t.db
T="$B/truemeter"
AT=2026-11-20

"$B/tests/usage_put" "$TRUEMETER_DB" acme api_requests 2026-10-10T10:00:00Z 700000
"$B/tests/usage_put" "$TRUEMETER_DB" acme api_requests 2026-10-20T10:00:00Z 500000
"$B/tests/usage_put" "$TRUEMETER_DB" ghost api_requests 2026-10-11T10:00:00Z 5000

if $T pricing load "$R/examples/pricing.json" >/dev/null; then ok "pricing load"; else nok "pricing load"; fi
printf '{"plans": [{"name": "x", "currency": "usd", "prices": [{"metric": "cpu", "model": "flat", "flat_amount": 1}]}]}' > "$TMP/bad.json"
$T pricing load "$TMP/bad.json" 2> "$TMP/err" && nok "bad catalog accepted" ||
	check "bad catalog names the place" 1 "$(grep -c "bad.json: plans\[0\].prices\[0\]: unknown metric 'cpu'" "$TMP/err")"
check "the good catalog is still stored" "45000 usd (450.00 USD)" "$($T pricing quote pro api_requests 1000000)"

H=tenant,metric,period_start,period_end,quantity,amount,currency,invoice_id
printf '%s\nacme,api_requests,2026-10-01,2026-11-01,1000000,45000,usd,INV-1\nacme,api_requests,2026-10-01,2026-11-01,ten,1,usd,INV-2\n' "$H" > "$TMP/bad.csv"
$T billing import "$TMP/bad.csv" 2> "$TMP/err" && nok "bad import accepted" ||
	check "bad import names line 3" 1 "$(grep -c "bad.csv:3: bad quantity 'ten'" "$TMP/err")"
check "nothing partially stored" 0 "$(sqlite3 "$TRUEMETER_DB" 'SELECT COUNT(*) FROM bill')"

printf '%s\nacme,api_requests,2026-10-01,2026-11-01,1000000,45000,usd,INV-1\n' "$H" > "$TMP/oct.csv"
$T billing import "$TMP/oct.csv" >/dev/null && $T billing import "$TMP/oct.csv" >/dev/null
check "import is idempotent" 1 "$(sqlite3 "$TRUEMETER_DB" 'SELECT COUNT(*) FROM bill')"

# The reports above come from one agent, silent since its window that
# ended 2026-10-20T10:00:10Z: a metering gap, until it is retired.
$T agents --at $AT > "$TMP/agents"
check "agents: the agent is silent" 1 "$(grep -c ' 2026-10-20T10:00:10Z silent ' "$TMP/agents")"
check "agents --at before silent_after: still reporting" reporting \
	"$($T agents --json --at 2026-10-20T10:09:00Z | jq -r .status)"
$T reconcile --period 2026-10 --at $AT --json --dry-run > "$TMP/gap.json"
check "a silent agent is a metering gap from its last window" \
	"warning agent silent 2026-10-20T10:00:10Z null 1" \
	"$(jq -r '.alerts[] | select(.kind == "metering_gap") | "\(.severity) \(.evidence.gaps[0] | "\(.reason) \(.from) \(.to)") \(.evidence.silent_agents)"' "$TMP/gap.json")"
AGENT=$($T agents --json | jq -r .agent)
$T agents retire "$(echo "$AGENT" | cut -c1-8 | tr a-f A-F)" > "$TMP/out"
check "agents retire: a key prefix, either case" 1 "$(grep -c "^agent $AGENT retired since" "$TMP/out")"
check "agents: retired" retired "$($T agents --json | jq -r .status)"
$T agents retire 0000 2> "$TMP/err"
check "retiring an unknown agent fails" 1 "$?"
check "and says no agent matches" 1 "$(grep -c "no agent key starts with '0000'" "$TMP/err")"
$T agents retire 'ab%' 2> "$TMP/err"
check "a non-hex agent is a usage error" 2 "$?"

$T reconcile --period 2026-10 --at $AT --json > "$TMP/rec.json"
check "acme row: metered, billed, expected, billed amount" "1200000 1000000 55000 45000" \
	"$(jq -r '.rows[] | select(.tenant == "acme") | "\(.metered) \(.billed) \(.expected_amount) \(.billed_amount)"' "$TMP/rec.json")"
check "underbilled acme leaks 10000 usd" "10000 usd warning" \
	"$(jq -r '.alerts[] | select(.kind == "underbilled" and .tenant == "acme") | "\(.leak) \(.currency) \(.severity)"' "$TMP/rec.json")"
check "unbilled ghost leaks 500 usd (default plan)" "500" \
	"$(jq -r '.alerts[] | select(.kind == "unbilled_usage" and .tenant == "ghost") | .leak' "$TMP/rec.json")"
check "exactly two alerts" 2 "$(jq '.alerts | length' "$TMP/rec.json")"

$T reconcile --period 2026-10 --at $AT > "$TMP/rec.txt"
check "reconcile table: acme's amounts in USD, as the leaks table shows them" 1 \
	"$(grep -c '^acme .* api_requests .* 2026-10 .* 1200000 .* 1000000 .* 550.00 USD .* 450.00 USD .* 100.00 USD ' "$TMP/rec.txt")"
check "reconcile alert line: the leak in USD" 1 \
	"$(grep -c '^underbilled .* acme .* leak 100.00 USD (warning)$' "$TMP/rec.txt")"
check "alerts stored once (deduplicated)" 2 "$(sqlite3 "$TRUEMETER_DB" 'SELECT COUNT(*) FROM alert')"
check "leaks --json lists both" 2 "$($T leaks --json | wc -l)"
$T leaks > "$TMP/table"
check "leaks table shows the underbilled row" 1 "$(grep -c 'underbilled .*acme .*api_requests .*2026-10 .* 550.00 USD .* 450.00 USD .* 100.00 USD open' "$TMP/table")"

printf '%s\nacme,api_requests,2026-10-01,2026-11-01,1200000,55000,usd,INV-1\n' "$H" > "$TMP/fix.csv"
$T billing import "$TMP/fix.csv" >/dev/null
$T reconcile --period 2026-10 --at $AT --json > "$TMP/rec2.json"
check "corrected invoice: only the unbilled tenant left" "unbilled_usage" "$(jq -r '.alerts[].kind' "$TMP/rec2.json")"
check "underbilled alert resolved" "resolved" \
	"$(sqlite3 "$TRUEMETER_DB" "SELECT status FROM alert WHERE kind = 'underbilled'")"
check "leaks --all keeps history" 2 "$($T leaks --all --json | wc -l)"

$T reconcile --period 2026-13 2> "$TMP/err"
check "bad period is a usage error" 2 "$?"
$T billing import --format xml "$TMP/oct.csv" 2>/dev/null
check "bad format is a usage error" 2 "$?"

# Command-line mistakes: the option named, by the command it was given to;
# options before the database is looked for; no database made by a reader.
$T -d "$TMP/none.db" usage --bogus 2> "$TMP/err"
check "unknown option is a usage error" 2 "$?"
check "the option and the command named" 1 \
	"$(grep -c "^truemeter usage: unrecognized option '--bogus'" "$TMP/err")"
$T audit export --period 2026-10 -o "$TMP/x" --bogus 2> "$TMP/err"
check "audit export names itself" 1 \
	"$(grep -c "^truemeter audit export: unrecognized option '--bogus'" "$TMP/err")"
for cmd in "usage" "leaks" "reconcile --period 2026-10" "agents" \
	   "audit export --period 2026-10 -o $TMP/x" "pricing quote pro api_requests 1"; do
	name=${cmd%% -*}
	$T -d "$TMP/none.db" $cmd > /dev/null 2> "$TMP/err"
	check "$name without a database fails" 1 "$?"
	check "$name says the database does not exist" 1 \
		"$(grep -c "database $TMP/none.db does not exist" "$TMP/err")"
done
check "no database made by those" no "$([ -e "$TMP/none.db" ] && echo yes || echo no)"
for cmd in usage agents audit "audit export" "audit verify" billing "billing import" \
	   pricing reconcile leaks; do
	$T -d "$TMP/none.db" $cmd --help > "$TMP/help" 2>&1
	check "truemeter $cmd --help exits 0" 0 "$?"
	check "truemeter $cmd --help prints its usage" 1 \
		"$(grep -c "^usage: truemeter ${cmd%% *}" "$TMP/help" | sed 's/^[1-9][0-9]*$/1/')"
done
for b in truemeter truemeter-agent truemeter-collector; do
	check "$b --help" 0 "$("$B/$b" --help > "$TMP/help" 2>&1; echo $?)"
	check "$b --help prints the usage" 1 "$(grep -c "^usage: $b" "$TMP/help")"
done

# A period billed only by a credit note: its negative billed amount shows
# as money, not as "no bill"
CN_DB=$TMP/credit.db
"$B/tests/usage_put" "$CN_DB" acme api_requests 2026-10-10T10:00:00Z 1000
$T -d "$CN_DB" pricing load "$R/examples/pricing.json" > /dev/null
printf '%s\nacme,api_requests,2026-10-01,2026-11-01,0,-5000,usd,CN-1\n' "$H" > "$TMP/credit.csv"
$T -d "$CN_DB" billing import "$TMP/credit.csv" > /dev/null
check "a credit note's billed amount in the reconcile table" 1 \
	"$($T -d "$CN_DB" reconcile --period 2026-10 --at $AT --dry-run | grep -c '^acme .* -50.00 USD ')"
