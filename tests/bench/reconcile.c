/* Reconciliation speed: 10,000 tenants x 5 metrics with usage, billing
 * records and plan assignments for all of them; times one full pass
 * (rows, pricing, every detector but usage_anomaly, alert commit) of a
 * closed month.
 *
 * usage: reconcile DB_PATH [TENANTS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "billing.h"
#include "metric.h"
#include "pricing.h"
#include "reconcile.h"
#include "store_billing.h"

#define METRICS 5
#define PER_REPORT 200           /* tenants per report */

static const int metrics[METRICS] = {
	METRIC_API_REQUESTS, METRIC_API_RESPONSE_BYTES, METRIC_NET_TX_BYTES, METRIC_CPU_NS,
	METRIC_TCP_CONNECTIONS,
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int put_usage(struct store *s, int tenants, int64_t at)
{
	char **strings = calloc((size_t)PER_REPORT + 1, sizeof(char *));
	Truemeter__UsageRow *rows = calloc((size_t)PER_REPORT * METRICS, sizeof(*rows));
	Truemeter__UsageRow **rowp = calloc((size_t)PER_REPORT * METRICS, sizeof(*rowp));
	uint8_t agent[32], digest[32];
	uint64_t seq = 0;

	memset(agent, 'B', sizeof(agent));
	strings[0] = "";
	for (int i = 1; i <= PER_REPORT; i++)
		strings[i] = malloc(16);
	for (int base = 0; base < tenants; base += PER_REPORT) {
		Truemeter__Report r = TRUEMETER__REPORT__INIT;
		size_t n = 0;

		for (int t = 0; t < PER_REPORT && base + t < tenants; t++) {
			snprintf(strings[t + 1], 16, "t%05d", base + t);
			for (int m = 0; m < METRICS; m++) {
				Truemeter__UsageRow *u = &rows[n];

				truemeter__usage_row__init(u);
				u->tenant = (uint32_t)t + 1;
				u->metric = (Truemeter__Metric)metrics[m];
				u->value = 1000 + (uint64_t)((base + t) % 97) * 10;
				rowp[n++] = u;
			}
		}
		seq++;
		memset(digest, 0, sizeof(digest));
		memcpy(digest, &seq, sizeof(seq));
		r.agent_id.data = agent;
		r.agent_id.len = sizeof(agent);
		r.epoch = 1;
		r.seq = seq;
		r.window_start_ms = at + (int64_t)seq * 10000;
		r.window_end_ms = r.window_start_ms + 10000;
		r.n_strings = PER_REPORT + 1;
		r.strings = strings;
		r.n_rows = n;
		r.rows = rowp;
		if (store_report_put(s, &r, digest, 1, 0, NULL) != STORE_PUT_NEW)
			return -1;
	}
	return 0;
}

static int put_bills(struct store *s, int tenants, int64_t from, int64_t to)
{
	struct billing_batch bb = { 0 };
	struct store_billing_change c = { 0 };
	int rc = 0;

	for (int t = 0; t < tenants && !rc; t++) {
		char tenant[16], inv[24];

		snprintf(tenant, sizeof(tenant), "t%05d", t);
		snprintf(inv, sizeof(inv), "INV-%05d", t);
		for (int m = 0; m < METRICS && !rc; m++) {
			/* every 10th tenant underbilled by 10% */
			uint64_t q = 1000 + (uint64_t)(t % 97) * 10;
			struct store_bill b = {
				.source = "import", .invoice_id = inv, .line_id = metric_name(metrics[m]),
				.tenant = tenant, .metric = metrics[m], .period_start_ms = from,
				.period_end_ms = to, .quantity = t % 10 ? q : q * 9 / 10,
				.currency = "usd", .status = "paid",
			};

			b.amount = (int64_t)b.quantity;   /* 1 minor unit each: the plan's price */
			rc = billing_batch_add(&bb, &b);
		}
	}
	c.bills = bb.bills;
	c.nbills = bb.nbills;
	if (!rc)
		rc = store_billing_apply(s, &c) == STORE_PUT_NEW ? 0 : -1;
	billing_batch_free(&bb);
	return rc;
}

static char *catalog(int tenants)
{
	size_t cap = (size_t)tenants * 96 + 4096, len = 0;
	char *buf = malloc(cap);

	len += (size_t)snprintf(buf + len, cap - len, "{\"currency\": \"usd\", \"plans\": [{"
		"\"name\": \"std\", \"prices\": [");
	for (int m = 0; m < METRICS; m++)
		len += (size_t)snprintf(buf + len, cap - len, "%s{\"metric\": \"%s\", \"model\": "
			"\"per_unit\", \"unit_amount\": 1}", m ? "," : "", metric_name(metrics[m]));
	len += (size_t)snprintf(buf + len, cap - len, "]}], \"assignments\": [");
	for (int t = 0; t < tenants; t++)
		len += (size_t)snprintf(buf + len, cap - len, "%s{\"tenant\": \"t%05d\", "
			"\"plan\": \"std\", \"from\": \"2026-01-01\"}", t ? "," : "", t);
	snprintf(buf + len, cap - len, "]}");
	return buf;
}

int main(int argc, char **argv)
{
	int tenants = argc > 2 ? atoi(argv[2]) : 10000;
	struct store *s = NULL;
	struct pricing *p = NULL;
	struct reconcile_conf c;
	struct alert_set set = { 0 };
	int64_t from, to, t0, t1;
	char err[256], *cat;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: reconcile DB_PATH [TENANTS]\n");
		return 2;
	}
	unlink(argv[1]);
	period_parse_month("2026-11", &from, &to);
	if (store_open(argv[1], &s) || store_billing_init(s) ||
	    put_usage(s, tenants, from + 86400000) || put_bills(s, tenants, from, to)) {
		fprintf(stderr, "reconcile bench: setting up the store failed\n");
		return 1;
	}
	cat = catalog(tenants);
	if (pricing_parse(cat, "bench", &p, err, sizeof(err))) {
		fprintf(stderr, "reconcile bench: %s\n", err);
		return 1;
	}
	reconcile_conf_default(&c);
	t0 = mono_ms();
	rc = reconcile_period(s, p, &c, "2026-11", from, to, to + 10 * 86400000LL, NULL, NULL,
			      &set);
	if (!rc)
		rc = reconcile_commit(s, &set, ~(1u << ALERT_USAGE_ANOMALY), from, to,
				      to + 10 * 86400000LL, NULL, NULL);
	t1 = mono_ms();
	if (rc < 0) {
		fprintf(stderr, "reconcile bench: failed: %d\n", rc);
		return 1;
	}
	fprintf(stderr, "reconcile: %d tenants x %d metrics, %zu alerts (expected %d)\n",
		tenants, METRICS, set.n, (tenants + 9) / 10 * METRICS);
	if (set.n != (size_t)((tenants + 9) / 10 * METRICS))
		return 1;
	printf("BENCH reconcile_10k_tenants_ms %lld ms\n", (long long)(t1 - t0));
	alert_set_free(&set);
	pricing_free(p);
	free(cat);
	store_close(s);
	return 0;
}
