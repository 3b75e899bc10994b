/* The eight leak detectors: each fires with the exact money and stays quiet
 * when it must (within tolerance, paid, active subscription); alerts are
 * deduplicated and resolved by reconcile_commit(). */
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
#include "judge_testutil.h"
#include "metric.h"
#include "reconcile.h"

#define H 3600000LL
#define DAYMS (24 * H)

static const char catalog[] =
	"{ \"currency\": \"usd\", \"default_plan\": \"list\", \"plans\": [\n"
	"  { \"name\": \"list\", \"prices\": [ { \"metric\": \"api_requests\","
	"    \"model\": \"per_unit\", \"unit_amount\": 5 } ] },\n"
	"  { \"name\": \"std\", \"prices\": [ { \"metric\": \"api_requests\","
	"    \"model\": \"per_unit\", \"unit_amount\": 10 } ] } ],\n"
	"  \"assignments\": [ { \"tenant\": \"acme\", \"plan\": \"std\", \"from\": \"2026-01-01\" } ] }";

struct fx {
	struct tstore t;
	struct store *s;
	struct pricing *pr;
	struct reconcile_conf c;
	int64_t nov, dec;             /* Nov 2026 */
	struct alert_set set;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	f->s = tstore_open(&f->t);
	assert_non_null(f->s);
	assert_int_equal(pricing_parse(catalog, "t", &f->pr, err, sizeof(err)), 0);
	reconcile_conf_default(&f->c);
	assert_int_equal(period_parse_month("2026-11", &f->nov, &f->dec), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	alert_set_free(&f->set);
	pricing_free(f->pr);
	tstore_close(&f->t);
	free(f);
	return 0;
}

static void usage(struct fx *f, const char *tenant, int64_t at, uint64_t v)
{
	assert_int_equal(tstore_usage(&f->t, tenant, METRIC_API_REQUESTS, at, at + 10000, v), 0);
}

static void bill(struct fx *f, const char *tenant, uint64_t qty, int64_t amount,
		 const char *cur)
{
	struct store_bill b = { .source = "import", .invoice_id = "INV1", .line_id = "l1",
				.tenant = tenant, .metric = METRIC_API_REQUESTS,
				.period_start_ms = f->nov, .period_end_ms = f->dec,
				.quantity = qty, .amount = amount, .currency = cur,
				.status = "paid" };
	struct store_billing_change c = { .bills = &b, .nbills = 1 };

	assert_int_equal(store_billing_apply(f->s, &c), STORE_PUT_NEW);
}

static void sub(struct fx *f, const char *tenant, const char *status, int64_t ended)
{
	struct store_sub u = { .source = "stripe", .sub_id = "sub_1", .tenant = tenant,
			       .status = status, .ended_ms = ended, .updated_ms = ended };
	struct store_billing_change c = { .subs = &u, .nsubs = 1 };

	assert_int_equal(store_billing_apply(f->s, &c), STORE_PUT_NEW);
}

static void payment(struct fx *f, const char *tenant, int64_t unpaid_since)
{
	struct store_payment p = { .tenant = tenant, .source = "stripe", .ref = "in_1",
				   .unpaid_since_ms = unpaid_since, .updated_ms = unpaid_since };
	struct store_billing_change c = { .payments = &p, .npayments = 1 };

	assert_int_equal(store_billing_apply(f->s, &c), STORE_PUT_NEW);
}

static void run(struct fx *f, int64_t now)
{
	alert_set_free(&f->set);
	assert_int_equal(reconcile_period(f->s, f->pr, &f->c, "2026-11", f->nov, f->dec, now,
					  NULL, NULL, &f->set), 0);
}

static const struct store_alert *find(struct fx *f, const char *kind, const char *tenant)
{
	for (size_t i = 0; i < f->set.n; i++)
		if (strcmp(f->set.v[i].kind, kind) == 0 && strcmp(f->set.v[i].tenant, tenant) == 0)
			return &f->set.v[i];
	return NULL;
}

static void expect(struct fx *f, const char *kind, const char *tenant, uint64_t metered,
		   uint64_t billed, int64_t expected, int64_t billed_amount, int64_t leak)
{
	const struct store_alert *a = find(f, kind, tenant);

	if (!a)
		fail_msg("no %s alert for %s (%zu alerts)", kind, tenant, f->set.n);
	assert_int_equal(a->metered, metered);
	assert_int_equal(a->billed, billed);
	assert_int_equal(a->expected_amount, expected);
	assert_int_equal(a->billed_amount, billed_amount);
	assert_int_equal(a->leak, leak);
	assert_string_equal(a->period, "2026-11");
	assert_string_equal(a->currency, "usd");
	assert_non_null(strstr(a->evidence, "{"));
}

static void test_unbilled_open_period(void **state)
{
	struct fx *f = *state;
	int64_t now = f->nov + 14 * DAYMS;

	usage(f, "ghost", f->nov + 9 * DAYMS, 100);   /* no plan, no sub, no bill */
	usage(f, "acme", f->nov + 9 * DAYMS, 100);    /* assigned: invoice comes later */
	usage(f, "subbed", f->nov + 9 * DAYMS, 100);  /* live subscription */
	sub(f, "subbed", "active", 0);
	run(f, now);
	expect(f, "unbilled_usage", "ghost", 100, 0, 500, 0, 500);   /* default plan 5 */
	assert_null(find(f, "unbilled_usage", "acme"));
	assert_null(find(f, "unbilled_usage", "subbed"));
	assert_int_equal(f->set.n, 1);
}

static void test_unbilled_closed_period(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + 9 * DAYMS, 100);
	run(f, f->dec + 2 * DAYMS);
	expect(f, "unbilled_usage", "acme", 100, 0, 1000, 0, 1000);
	assert_string_equal(find(f, "unbilled_usage", "acme")->severity, "warning");
	/* still inside the settle time after the period end: open rules */
	run(f, f->dec + 10);
	assert_null(find(f, "unbilled_usage", "acme"));
}

static void test_underbilled(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + DAYMS, 600);
	usage(f, "acme", f->nov + 2 * DAYMS, 400);
	bill(f, "acme", 800, 8000, "usd");
	run(f, f->dec + 2 * DAYMS);
	expect(f, "underbilled", "acme", 1000, 800, 10000, 8000, 2000);
	assert_null(find(f, "overbilled", "acme"));
	assert_null(find(f, "price_mismatch", "acme"));
	assert_null(find(f, "unbilled_usage", "acme"));
}

static void test_underbilled_within_tolerance(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + DAYMS, 1000);
	bill(f, "acme", 991, 9910, "usd");            /* 0.9% < 1% */
	run(f, f->dec + 2 * DAYMS);
	assert_int_equal(f->set.n, 0);
	f->c.tolerance_bp = 50;                       /* 0.5%: now beyond */
	run(f, f->dec + 2 * DAYMS);
	expect(f, "underbilled", "acme", 1000, 991, 10000, 9910, 90);
	assert_string_equal(find(f, "underbilled", "acme")->severity, "info");
}

static void test_overbilled(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + DAYMS, 1000);
	bill(f, "acme", 1200, 12000, "usd");
	run(f, f->dec + 2 * DAYMS);
	expect(f, "overbilled", "acme", 1000, 1200, 10000, 12000, 2000);
	assert_null(find(f, "underbilled", "acme"));
	assert_null(strstr(find(f, "overbilled", "acme")->evidence, "meter_lost_events"));
	/* open period: usage may still catch up, no verdict on quantities */
	run(f, f->nov + 20 * DAYMS);
	assert_null(find(f, "overbilled", "acme"));
	/* a meter that lost events in the period: the evidence says so */
	f->t.lost[0] = 150;
	f->t.lost[1] = 2;
	assert_int_equal(tstore_usage_from(&f->t, 'B', "globex", METRIC_API_REQUESTS,
					   f->nov + DAYMS, f->nov + DAYMS + 10000, 5), 0);
	run(f, f->dec + 2 * DAYMS);
	expect(f, "overbilled", "acme", 1000, 1200, 10000, 12000, 2000);
	assert_non_null(strstr(find(f, "overbilled", "acme")->evidence,
			       "\"meter_lost_events\":152"));
}

static void test_price_mismatch(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + DAYMS, 1000);
	bill(f, "acme", 1000, 9000, "usd");
	run(f, f->nov + 20 * DAYMS);                  /* fires on an open period too */
	expect(f, "price_mismatch", "acme", 1000, 1000, 10000, 9000, 1000);
	assert_int_equal(f->set.n, 1);
}

static void test_price_ok(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + DAYMS, 1000);
	bill(f, "acme", 1000, 10001, "usd");          /* 1 minor unit: within tolerance */
	run(f, f->dec + 2 * DAYMS);
	assert_int_equal(f->set.n, 0);
	bill(f, "acme", 1000, 10000, "eur");          /* right number, wrong currency */
	run(f, f->dec + 2 * DAYMS);
	assert_non_null(find(f, "price_mismatch", "acme"));
}

static void test_usage_after_cancellation(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + 4 * DAYMS, 30);     /* before the end */
	usage(f, "acme", f->nov + 11 * DAYMS, 50);    /* after */
	sub(f, "acme", "canceled", f->nov + 9 * DAYMS);
	run(f, f->nov + 14 * DAYMS);
	expect(f, "usage_after_cancellation", "acme", 50, 0, 500, 0, 500);
}

static void test_no_alert_for_metric_the_plan_gives_free(void **state)
{
	struct fx *f = *state;

	/* acme's plan prices api_requests only: bytes after the end leak nothing */
	assert_int_equal(tstore_usage(&f->t, "acme", METRIC_API_RESPONSE_BYTES,
				      f->nov + 11 * DAYMS, f->nov + 11 * DAYMS + 10000, 9999), 0);
	usage(f, "acme", f->nov + 11 * DAYMS, 50);
	sub(f, "acme", "canceled", f->nov + 9 * DAYMS);
	run(f, f->nov + 14 * DAYMS);
	assert_int_equal(f->set.n, 1);
	expect(f, "usage_after_cancellation", "acme", 50, 0, 500, 0, 500);
	assert_string_equal(f->set.v[0].metric, "api_requests");
}

static void test_no_alert_with_active_subscription(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + 11 * DAYMS, 50);
	sub(f, "acme", "active", 0);
	run(f, f->nov + 14 * DAYMS);
	assert_int_equal(f->set.n, 0);
}

static void test_usage_while_unpaid(void **state)
{
	struct fx *f = *state;

	usage(f, "acme", f->nov + 2 * DAYMS, 20);     /* inside the grace period */
	usage(f, "acme", f->nov + 7 * DAYMS, 40);
	payment(f, "acme", f->nov + DAYMS);           /* failed on Nov 2, grace 3 days */
	run(f, f->nov + 3 * DAYMS);                   /* grace not over: quiet */
	assert_int_equal(f->set.n, 0);
	run(f, f->nov + 14 * DAYMS);
	expect(f, "usage_while_unpaid", "acme", 40, 0, 400, 0, 400);
	payment(f, "acme", 0);                        /* paid since */
	run(f, f->nov + 14 * DAYMS);
	assert_int_equal(f->set.n, 0);
}

static void test_metering_gap(void **state)
{
	struct fx *f = *state;
	const struct store_alert *a;

	usage(f, "acme", f->nov + DAYMS, 10);
	run(f, f->nov + 14 * DAYMS);
	assert_int_equal(f->set.n, 0);
	assert_int_equal(tstore_gap(&f->t, f->nov + 3 * DAYMS, f->nov + 3 * DAYMS + 10000), 0);
	run(f, f->nov + 14 * DAYMS);
	a = find(f, "metering_gap", "*");
	assert_non_null(a);
	assert_string_equal(a->metric, "*");
	assert_string_equal(a->severity, "warning");
	assert_non_null(strstr(a->evidence, "\"from_seq\":2"));
}

/* Events an agent's meter lost (declared per window in its reports) make
 * the period unverifiable from loss_min on, per agent; 0 turns it off. */
static void test_meter_losses(void **state)
{
	struct fx *f = *state;
	int64_t now = f->nov + 14 * DAYMS;
	const struct store_alert *a;

	f->c.loss_min = 4;
	f->t.lost[1] = 3;
	assert_int_equal(tstore_usage_from(&f->t, 'A', "acme", METRIC_API_REQUESTS,
					   f->nov + DAYMS, f->nov + DAYMS + 10000, 5), 0);
	f->t.lost[1] = 0;
	usage(f, "acme", f->nov + 2 * DAYMS, 10);       /* none lost */
	f->t.lost[0] = 9;                               /* December's */
	assert_int_equal(tstore_usage_from(&f->t, 'A', "acme", METRIC_API_REQUESTS,
					   f->dec, f->dec + 10000, 5), 0);
	f->t.lost[0] = 2;                               /* another agent's */
	assert_int_equal(tstore_usage_from(&f->t, 'B', "acme", METRIC_API_REQUESTS,
					   f->nov + DAYMS, f->nov + DAYMS + 10000, 5), 0);
	f->t.lost[0] = 0;
	run(f, now);
	assert_null(find(f, "metering_gap", "*"));      /* 3 and 2: below 4 */
	f->t.lost[0] = 1;
	assert_int_equal(tstore_usage_from(&f->t, 'A', "acme", METRIC_API_REQUESTS,
					   f->nov + 3 * DAYMS, f->nov + 3 * DAYMS + 10000, 5), 0);
	f->t.lost[0] = 0;
	run(f, now);
	a = find(f, "metering_gap", "*");
	assert_non_null(a);
	assert_int_equal(a->leak, 0);
	assert_string_equal(a->severity, "warning");
	assert_non_null(strstr(a->evidence, "\"agent\":\"4141"));
	assert_null(strstr(a->evidence, "\"agent\":\"4242"));
	assert_non_null(strstr(a->evidence, "\"from\":\"2026-11-02T00:00:00Z\","
			       "\"to\":\"2026-11-04T00:00:10Z\",\"reason\":\"meter lost events\","
			       "\"map_overflow\":1,\"event_drops\":3}"));
	assert_non_null(strstr(a->evidence, "\"lossy_agents\":1,\"lost_events\":4"));
	f->c.loss_min = 1;
	run(f, now);
	assert_non_null(strstr(find(f, "metering_gap", "*")->evidence, "\"lossy_agents\":2"));
	f->c.loss_min = 0;
	run(f, now);
	assert_null(find(f, "metering_gap", "*"));
}

/* Five weeks of a daily pattern; a spike in the last day fires; silent
 * (no usage at all) for the last `silent` hours. */
static void anomaly_series_x(struct fx *f, int64_t end_hour, bool spike, int silent)
{
	for (int64_t i = 5 * 168; i >= 1; i--) {
		int64_t h = end_hour - i * H;
		int hod = (int)((h / H) % 24);
		uint64_t v = 1000 + (uint64_t)(hod >= 8 && hod < 20 ? 1000 : 0) + (uint64_t)(i % 7) * 10;

		if (spike && i == 3)
			v *= 5;
		if (i <= silent)
			continue;
		usage(f, "acme", h, v);
	}
}

static void anomaly_series(struct fx *f, int64_t end_hour, bool spike)
{
	anomaly_series_x(f, end_hour, spike, 0);
}

static void test_usage_anomaly_silence(void **state)
{
	struct fx *f = *state;
	int64_t end_hour = f->nov + 20 * DAYMS;
	const struct store_alert *a;

	anomaly_series_x(f, end_hour, false, 24);   /* silent for the whole judged day */
	assert_int_equal(reconcile_anomalies(f->s, f->pr, &f->c, "2026-11", f->nov, f->dec,
					     end_hour + 60000, &f->set), 0);
	a = find(f, "usage_anomaly", "acme");
	assert_non_null(a);
	assert_non_null(strstr(a->evidence, "\"direction\":\"drop\""));
	assert_int_equal(a->metered, 0);
}

static void test_usage_anomaly(void **state)
{
	struct fx *f = *state;
	int64_t end_hour = f->nov + 20 * DAYMS;
	const struct store_alert *a;

	anomaly_series(f, end_hour, true);
	assert_int_equal(reconcile_anomalies(f->s, f->pr, &f->c, "2026-11", f->nov, f->dec,
					     end_hour + 60000, &f->set), 0);
	a = find(f, "usage_anomaly", "acme");
	assert_non_null(a);
	assert_non_null(strstr(a->evidence, "\"direction\":\"spike\""));
	assert_true(a->leak > 0);
	assert_int_equal(f->set.n, 1);
}

static void test_no_anomaly_on_regular_series(void **state)
{
	struct fx *f = *state;
	int64_t end_hour = f->nov + 20 * DAYMS;

	anomaly_series(f, end_hour, false);
	assert_int_equal(reconcile_anomalies(f->s, f->pr, &f->c, "2026-11", f->nov, f->dec,
					     end_hour + 60000, &f->set), 0);
	assert_int_equal(f->set.n, 0);
}

static int emitted;
static void count_emit(const struct store_alert *a, void *arg)
{
	emitted++;
}

struct cnt {
	int open, resolved;
	int64_t leak;
};

static int cnt_cb(const struct store_alert *a, void *arg)
{
	struct cnt *c = arg;

	if (strcmp(a->status, "open") == 0) {
		c->open++;
		c->leak = a->leak;
	} else {
		c->resolved++;
	}
	return 0;
}

static void test_dedup_update_resolve(void **state)
{
	struct fx *f = *state;
	unsigned all = (1u << ALERT_KIND_COUNT) - 1;
	int64_t now = f->dec + 2 * DAYMS;
	struct cnt c = { 0 };

	usage(f, "acme", f->nov + DAYMS, 1000);
	bill(f, "acme", 800, 8000, "usd");
	run(f, now);
	emitted = 0;
	assert_int_equal(reconcile_commit(f->s, &f->set, all, f->nov, f->dec, now,
					  count_emit, NULL), 1);
	assert_int_equal(reconcile_commit(f->s, &f->set, all, f->nov, f->dec, now + 1,
					  count_emit, NULL), 0);       /* same numbers: quiet */
	assert_int_equal(emitted, 1);
	usage(f, "acme", f->nov + 2 * DAYMS, 100);                  /* leak grows */
	run(f, now);
	assert_int_equal(reconcile_commit(f->s, &f->set, all, f->nov, f->dec, now + 2,
					  count_emit, NULL), 1);
	assert_int_equal(store_alert_list(f->s, "2026-11", false, cnt_cb, &c), 0);
	assert_int_equal(c.open, 1);                                /* one alert, updated */
	assert_int_equal(c.leak, 3000);
	bill(f, "acme", 1100, 11000, "usd");                        /* corrected invoice */
	run(f, now);
	assert_int_equal(f->set.n, 0);
	assert_int_equal(reconcile_commit(f->s, &f->set, all, f->nov, f->dec, now + 3,
					  count_emit, NULL), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_alert_list(f->s, NULL, false, cnt_cb, &c), 0);
	assert_int_equal(c.open, 0);
	assert_int_equal(c.resolved, 1);
	assert_int_equal(emitted, 3);                               /* new, changed, resolved */
}

/* An agent in service that stops reporting is a metering gap once
 * silent_after has passed: listed from its last window, the alert the same
 * at every tick (emitted once), again when another agent falls silent, gone
 * once the agent is retired or reports again. */
static void test_silent_agent(void **state)
{
	struct fx *f = *state;
	unsigned gap = 1u << ALERT_METERING_GAP;
	int64_t a_end = f->nov + DAYMS + 10000, now = f->nov + 10 * DAYMS;
	char hex[REPORT_PK_HEX_LEN + 1];
	const struct store_alert *a;
	int64_t since;

	f->c.silent_after_ms = 600000;
	usage(f, "acme", f->nov + DAYMS, 10);                         /* agent 'A' */
	run(f, a_end + 599999);
	assert_null(find(f, "metering_gap", "*"));                   /* not yet */
	run(f, a_end + 600000);
	a = find(f, "metering_gap", "*");
	assert_non_null(a);
	assert_int_equal(a->leak, 0);
	assert_non_null(strstr(a->evidence, "\"from\":\"2026-11-02T00:00:10Z\",\"to\":null,"
			       "\"reason\":\"agent silent\""));
	assert_non_null(strstr(a->evidence, "\"silent_agents\":1"));
	run(f, now);
	emitted = 0;
	assert_int_equal(reconcile_commit(f->s, &f->set, gap, f->nov, f->dec, now,
					  count_emit, NULL), 1);
	run(f, now + H);                       /* still silent: the same alert */
	assert_int_equal(reconcile_commit(f->s, &f->set, gap, f->nov, f->dec, now + H,
					  count_emit, NULL), 0);
	/* agent 'B' reported until day 5 and falls silent too: the alert
	 * changes although all its numbers are 0 */
	assert_int_equal(tstore_usage_from(&f->t, 'B', "acme", METRIC_API_REQUESTS,
					   f->nov + 4 * DAYMS, f->nov + 5 * DAYMS, 1), 0);
	run(f, now + H);
	assert_non_null(strstr(find(f, "metering_gap", "*")->evidence, "\"silent_agents\":2"));
	assert_int_equal(reconcile_commit(f->s, &f->set, gap, f->nov, f->dec, now + H,
					  count_emit, NULL), 1);
	assert_int_equal(emitted, 2);
	/* 'A' is decommissioned; 'B' reports again: nothing is missing */
	assert_int_equal(store_agent_retire(f->s, "4141", now, hex, &since), 0);
	assert_int_equal(since, now);
	run(f, now + H);
	assert_non_null(strstr(find(f, "metering_gap", "*")->evidence, "\"silent_agents\":1"));
	assert_null(strstr(find(f, "metering_gap", "*")->evidence, hex));
	assert_int_equal(tstore_usage_from(&f->t, 'B', "acme", METRIC_API_REQUESTS,
					   f->nov + 5 * DAYMS, now + H, 1), 0);
	run(f, now + H);
	assert_null(find(f, "metering_gap", "*"));
	assert_int_equal(reconcile_commit(f->s, &f->set, gap, f->nov, f->dec, now + H,
					  count_emit, NULL), 0);
	assert_int_equal(emitted, 3);                                /* resolved */
	/* a silence from before the period's end is the period's; one that
	 * starts after it is not */
	run(f, f->dec + 40 * DAYMS);
	assert_non_null(find(f, "metering_gap", "*"));
	assert_int_equal(tstore_usage_from(&f->t, 'B', "acme", METRIC_API_REQUESTS,
					   f->dec, f->dec + DAYMS, 1), 0);
	run(f, f->dec + 40 * DAYMS);
	assert_null(find(f, "metering_gap", "*"));
	/* 0: off */
	f->c.silent_after_ms = 0;
	assert_int_equal(tstore_usage_from(&f->t, 'C', "acme", METRIC_API_REQUESTS,
					   f->nov, f->nov + 10000, 1), 0);
	run(f, now);
	assert_null(find(f, "metering_gap", "*"));
}

/* Silence is judged by the collector's clock: an agent whose clock runs
 * 8 days slow, but whose reports keep arriving, is not silent. */
static void test_silent_agent_slow_clock(void **state)
{
	struct fx *f = *state;
	int64_t now = f->nov + 10 * DAYMS;

	f->c.silent_after_ms = 600000;
	f->t.received_ms = now - 60000;                 /* received a minute ago */
	assert_int_equal(tstore_usage_from(&f->t, 'S', "acme", METRIC_API_REQUESTS,
					   f->nov + DAYMS, f->nov + DAYMS + 10000, 1), 0);
	f->t.received_ms = 0;
	run(f, now);
	assert_null(find(f, "metering_gap", "*"));
	run(f, now + 540001);                           /* 10 minutes since */
	assert_non_null(find(f, "metering_gap", "*"));
}

/* gap_min also holds back a silence shorter than it; and a collector that
 * just started gives spooled reports silent_after to arrive. */
static void test_silent_agent_held_back(void **state)
{
	struct fx *f = *state;
	int64_t end = f->nov + DAYMS + 10000, start = end + 5 * H;

	f->c.silent_after_ms = 600000;
	f->c.gap_min_ms = H;
	usage(f, "acme", f->nov + DAYMS, 10);
	run(f, end + H - 1);
	assert_null(find(f, "metering_gap", "*"));
	run(f, end + H);
	assert_non_null(find(f, "metering_gap", "*"));
	f->c.silent_from_ms = start;
	run(f, start + H - 1);
	assert_null(find(f, "metering_gap", "*"));
	run(f, start + H);
	assert_non_null(strstr(find(f, "metering_gap", "*")->evidence,
			       "\"from\":\"2026-11-02T00:00:10Z\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unbilled_open_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbilled_closed_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_underbilled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_underbilled_within_tolerance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overbilled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_price_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_price_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_after_cancellation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_alert_for_metric_the_plan_gives_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_alert_with_active_subscription, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_while_unpaid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metering_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meter_losses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_anomaly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_anomaly_on_regular_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_anomaly_silence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup_update_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_agent_held_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_agent_slow_clock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
