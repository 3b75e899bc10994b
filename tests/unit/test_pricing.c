/* Pricing: every model, Stripe's documented tier examples, boundaries,
 * rounding, overflow and catalog validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "pricing.h"

/* Stripe's tiered pricing docs (Typographic): 1-5 fonts 7 USD, 6-10 6.50,
 * 11+ 6; amounts in cents. */
static const char catalog[] =
	"{ \"currency\": \"usd\", \"default_plan\": \"list\",\n"
	"  \"plans\": [\n"
	"   { \"name\": \"list\", \"prices\": [\n"
	"     { \"metric\": \"api_requests\", \"model\": \"per_unit\", \"unit_amount\": \"0.05\" } ] },\n"
	"   { \"name\": \"pro\", \"currency\": \"EUR\", \"prices\": [\n"
	"     { \"metric\": \"api_requests\", \"model\": \"per_unit\", \"unit_amount\": \"0.05\","
	"       \"included\": 1000 },\n"
	"     { \"metric\": \"net_tx_bytes\", \"model\": \"package\", \"package_size\": 1000000,"
	"       \"unit_amount\": 10 },\n"
	"     { \"metric\": \"cpu_ns\", \"model\": \"graduated\", \"tiers\": [\n"
	"       { \"up_to\": 5, \"unit_amount\": 700 }, { \"up_to\": 10, \"unit_amount\": 650 },\n"
	"       { \"up_to\": \"inf\", \"unit_amount\": 600 } ] },\n"
	"     { \"metric\": \"tcp_connections\", \"model\": \"volume\", \"tiers\": [\n"
	"       { \"up_to\": 5, \"unit_amount\": 700 }, { \"up_to\": 10, \"unit_amount\": 650 },\n"
	"       { \"up_to\": null, \"unit_amount\": 600 } ] },\n"
	"     { \"metric\": \"api_response_bytes\", \"model\": \"flat\", \"flat_amount\": 4900 },\n"
	"     { \"metric\": \"net_rx_bytes\", \"model\": \"graduated\", \"tiers\": [\n"
	"       { \"up_to\": 100, \"unit_amount\": 0, \"flat_amount\": 1000 },\n"
	"       { \"up_to\": \"inf\", \"unit_amount\": \"0.5\", \"flat_amount\": 200 } ] }\n"
	"   ] } ],\n"
	"  \"assignments\": [\n"
	"   { \"tenant\": \"acme\", \"plan\": \"pro\", \"from\": \"2026-01-01\", \"to\": \"2027-01-01\" } ] }\n";

static struct pricing *load(void)
{
	struct pricing *p = NULL;
	char err[256] = "";
	int rc = pricing_parse(catalog, "catalog.json", &p, err, sizeof(err));

	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	return p;
}

struct pcase {
	int metric;
	uint64_t qty;
	int64_t amount;
};

static void run_cases(const struct plan *pl, const struct pcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t amt = -1;

		assert_int_equal(plan_amount(pl, c[i].metric, c[i].qty, &amt), 0);
		if (amt != c[i].amount)
			fail_msg("%s qty %llu: got %lld want %lld", metric_name(c[i].metric),
				 (unsigned long long)c[i].qty, (long long)amt, (long long)c[i].amount);
	}
}

static void test_models(void **state)
{
	struct pricing *p = load();
	const struct plan *pro = pricing_plan_for(p, "acme", 1780000000000LL);
	static const struct pcase cases[] = {
		/* per_unit with 1000 included; 0.05 minor per unit, half up */
		{ METRIC_API_REQUESTS, 0, 0 },
		{ METRIC_API_REQUESTS, 1000, 0 },          /* included exactly used */
		{ METRIC_API_REQUESTS, 1001, 0 },          /* 0.05 rounds down */
		{ METRIC_API_REQUESTS, 1010, 1 },          /* 0.50 rounds half up */
		{ METRIC_API_REQUESTS, 1029, 1 },          /* 1.45 */
		{ METRIC_API_REQUESTS, 1030, 2 },          /* 1.50 */
		{ METRIC_API_REQUESTS, 21000, 1000 },
		/* package: 10 per started million */
		{ METRIC_NET_TX_BYTES, 0, 0 },
		{ METRIC_NET_TX_BYTES, 1, 10 },
		{ METRIC_NET_TX_BYTES, 1000000, 10 },
		{ METRIC_NET_TX_BYTES, 1000001, 20 },
		/* Stripe graduated example */
		{ METRIC_CPU_NS, 0, 0 },
		{ METRIC_CPU_NS, 1, 700 },
		{ METRIC_CPU_NS, 5, 3500 },                /* tier edge */
		{ METRIC_CPU_NS, 6, 4150 },
		{ METRIC_CPU_NS, 10, 6750 },               /* tier edge */
		{ METRIC_CPU_NS, 20, 12750 },
		{ METRIC_CPU_NS, 25, 15750 },
		/* Stripe volume example: 1 -> 7, 5 -> 35, 6 -> 39, 20 -> 120, 25 -> 150 USD */
		{ METRIC_TCP_CONNECTIONS, 0, 0 },
		{ METRIC_TCP_CONNECTIONS, 1, 700 },
		{ METRIC_TCP_CONNECTIONS, 5, 3500 },
		{ METRIC_TCP_CONNECTIONS, 6, 3900 },
		{ METRIC_TCP_CONNECTIONS, 10, 6500 },
		{ METRIC_TCP_CONNECTIONS, 20, 12000 },
		{ METRIC_TCP_CONNECTIONS, 25, 15000 },
		/* flat fee whatever the usage */
		{ METRIC_API_RESPONSE_BYTES, 0, 4900 },
		{ METRIC_API_RESPONSE_BYTES, 123456789, 4900 },
		/* graduated with per-tier flat amounts */
		{ METRIC_NET_RX_BYTES, 0, 0 },
		{ METRIC_NET_RX_BYTES, 1, 1000 },
		{ METRIC_NET_RX_BYTES, 100, 1000 },
		{ METRIC_NET_RX_BYTES, 101, 1201 },        /* 1000 + 200 + 0.5 -> half up */
		{ METRIC_NET_RX_BYTES, 102, 1201 },
	};

	assert_non_null(pro);
	assert_string_equal(pro->name, "pro");
	assert_string_equal(pro->currency, "eur");
	run_cases(pro, cases, sizeof(cases) / sizeof(cases[0]));
	pricing_free(p);
}

static void test_assignments(void **state)
{
	struct pricing *p = load();
	int64_t t0, t1;
	int64_t amt;

	assert_int_equal(period_parse_time("2027-01-01", &t1), 0);
	assert_int_equal(period_parse_time("2026-01-01", &t0), 0);
	assert_string_equal(pricing_plan_for(p, "acme", t0)->name, "pro");
	assert_string_equal(pricing_plan_for(p, "acme", t1 - 1)->name, "pro");
	/* [from, to): at `to` the default plan applies again */
	assert_string_equal(pricing_plan_for(p, "acme", t1)->name, "list");
	assert_string_equal(pricing_plan_for(p, "other", t0)->name, "list");
	assert_true(pricing_assigned(p, "acme", t0 - 1000, t0 + 1));
	assert_false(pricing_assigned(p, "acme", t1, t1 + 1000));
	assert_false(pricing_assigned(p, "other", t0, t1));
	assert_int_equal(plan_amount(pricing_plan_for(p, "other", t0), METRIC_CPU_NS, 5, &amt),
			 -ENOENT);
	pricing_free(p);
}

static void test_money_and_overflow(void **state)
{
	struct price pr = { .model = PRICE_PER_UNIT };
	int64_t n, amt;

	assert_int_equal(pricing_parse_money("7", &n), 0);
	assert_int_equal(n, 7 * PRICING_SCALE);
	assert_int_equal(pricing_parse_money("0.000000001", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pricing_parse_money("0.0000000001", &n), -EINVAL);
	assert_int_equal(pricing_parse_money("-1", &n), -EINVAL);
	assert_int_equal(pricing_parse_money("1e3", &n), -EINVAL);
	assert_int_equal(pricing_parse_money("", &n), -EINVAL);
	assert_int_equal(pricing_parse_money("99999999999999999999", &n), -ERANGE);
	/* huge usage at a huge price does not wrap: -ERANGE */
	pr.unit_nano = INT64_MAX;
	assert_int_equal(price_amount(&pr, UINT64_MAX, &amt), -ERANGE);
	/* cpu_ns at a billionth of a minor unit each: exact */
	pr.unit_nano = 1;
	assert_int_equal(price_amount(&pr, 3600000000000ULL, &amt), 0);
	assert_int_equal(amt, 3600);
}

static void expect_error(const char *json, const char *needle)
{
	struct pricing *p = NULL;
	char err[256] = "";

	assert_int_equal(pricing_parse(json, "bad.json", &p, err, sizeof(err)), -EINVAL);
	assert_null(p);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_bad_catalogs(void **state)
{
	expect_error("{\"plans\": [ {\"name\": \"a\", \"currency\": \"usd\", \"prices\": [\n"
		     "{\"metric\": \"bogus\", \"model\": \"per_unit\", \"unit_amount\": 1}]}]}",
		     "plans[0].prices[0]: unknown metric 'bogus'");
	expect_error("{\"plans\": [ {\"name\": \"a\", \"currency\": \"usd\", \"prices\": [\n"
		     "{\"metric\": \"cpu_ns\", \"model\": \"graduated\", \"tiers\": [\n"
		     "{\"up_to\": 10, \"unit_amount\": 1}, {\"up_to\": 5, \"unit_amount\": 1},"
		     "{\"up_to\": \"inf\", \"unit_amount\": 1}]}]}]}",
		     "tiers[1]: 'up_to' must increase");
	expect_error("{\"plans\": [ {\"name\": \"a\", \"currency\": \"usd\", \"prices\": [\n"
		     "{\"metric\": \"cpu_ns\", \"model\": \"volume\", \"tiers\": [\n"
		     "{\"up_to\": 10, \"unit_amount\": 1}]}]}]}", "last tier must have");
	expect_error("{\"plans\": [ {\"name\": \"a\", \"currency\": \"usd\", \"prices\": [\n"
		     "{\"metric\": \"cpu_ns\", \"model\": \"per_unit\", \"unit_amount\": \"-3\"}]}]}",
		     "bad amount '-3'");
	expect_error("{\"plans\": [ {\"name\": \"a\", \"prices\": []}]}", "3-letter 'currency'");
	expect_error("{\"plans\": [], \"assignments\": [{\"tenant\": \"x\", \"plan\": \"nope\","
		     " \"from\": \"2026-01-01\"}]}", "assignments[0]: unknown plan 'nope'");
	expect_error("{\"plans\": [ {\"name\": \"a\", \"currency\": \"usd\", \"prices\": [\n"
		     "{\"metric\": \"cpu_ns\", \"model\": \"package\", \"unit_amount\": 1,"
		     " \"package_size\": 0}]}]}", "'package_size' must be at least 1");
	expect_error("{\n\"plans\": [\n}", "bad.json:3: JSON syntax error");
	expect_error("{\"plans\": [ {\"name\": \"a\", \"currency\": \"usd\", \"prices\": []}],"
		     " \"assignments\": [{\"tenant\": \"x\", \"plan\": \"a\", \"from\": \"2026-01-01\"},"
		     " {\"tenant\": \"x\", \"plan\": \"a\", \"from\": \"2026-05-01\"}]}",
		     "tenant 'x' has overlapping assignments");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_models),
		cmocka_unit_test(test_assignments),
		cmocka_unit_test(test_money_and_overflow),
		cmocka_unit_test(test_bad_catalogs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
