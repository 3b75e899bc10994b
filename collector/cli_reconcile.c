/* truemeter reconcile [--period YYYY-MM] [--at TIME] [--json] [--dry-run]
 *
 * Reconciles one billing period (default: the current month) as the
 * collector does: rows per tenant x metric x period, then the detectors;
 * alerts are stored (deduplicated) unless --dry-run.  usage_anomaly runs
 * only in the collector.  --at evaluates as if it were TIME (open/closed
 * period rules, grace periods). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "billing.h"
#include "cli.h"
#include "judge_conf.h"
#include "metric.h"
#include "money.h"
#include "pricing.h"
#include "reconcile.h"
#include "store_billing.h"

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "truemeter reconcile: %s\n", msg);
	fprintf(stderr, "usage: truemeter reconcile [--period YYYY-MM] [--at TIME] [--json] "
		"[--dry-run]\n");
	return 2;
}

/* The catalog: [pricing] catalog of the config, else the stored one. */
static int catalog(struct store *s, const struct judge_conf *jc, struct pricing **p,
		   char *err, size_t errlen)
{
	char *text = NULL;
	int rc;

	*p = NULL;
	if (jc->pricing_catalog[0])
		return pricing_load_file(jc->pricing_catalog, p, NULL, err, errlen);
	rc = store_catalog_get(s, &text);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the stored catalog");
		return rc;
	}
	if (rc == 0)
		return 0;   /* no catalog: every amount unknown */
	rc = pricing_parse(text, "stored catalog", p, err, errlen);
	free(text);
	return rc;
}

struct out {
	bool json;
	json_object *rows;
	size_t n;
};

/* An amount for the table, in major units with its currency, as the
 * leaks table shows it, or "-" when there is none; JSON keeps minor units. */
static void amount(char *buf, size_t len, bool has, int64_t v, const char *currency)
{
	if (has)
		money_format(v, currency, buf, len);
	else
		snprintf(buf, len, "-");
}

static int row_cb(const struct reconcile_row *r, void *arg)
{
	struct out *o = arg;
	char e[48], be[48], leak[48];

	o->n++;
	if (!o->json) {
		amount(e, sizeof(e), r->expected_amount >= 0, r->expected_amount, r->currency);
		/* a credit can make a billed amount negative: shown, not "-" */
		amount(be, sizeof(be), r->has_bill, r->billed_amount, r->currency);
		money_format(r->leak, r->currency, leak, sizeof(leak));
		printf("%-20s %-20s %-23s %14llu %14llu %18s %18s %18s %s\n", r->tenant,
		       metric_name(r->metric), r->period, (unsigned long long)r->metered,
		       (unsigned long long)r->billed, e, be, leak, r->plan ? r->plan : "-");
		return 0;
	}
	json_object *j = json_object_new_object();

	json_object_object_add(j, "tenant", json_object_new_string(r->tenant));
	json_object_object_add(j, "metric", json_object_new_string(metric_name(r->metric)));
	json_object_object_add(j, "period", json_object_new_string(r->period));
	json_object_object_add(j, "metered", json_object_new_uint64(r->metered));
	json_object_object_add(j, "billed", json_object_new_uint64(r->billed));
	json_object_object_add(j, "expected_amount", r->expected_amount < 0 ? NULL :
			       json_object_new_int64(r->expected_amount));
	json_object_object_add(j, "billed_amount", json_object_new_int64(r->billed_amount));
	json_object_object_add(j, "leak", json_object_new_int64(r->leak));
	json_object_object_add(j, "currency", json_object_new_string(r->currency));
	json_object_object_add(j, "plan", r->plan ? json_object_new_string(r->plan) : NULL);
	json_object_object_add(j, "has_bill", json_object_new_boolean(r->has_bill));
	json_object_object_add(j, "closed", json_object_new_boolean(r->closed));
	json_object_array_add(o->rows, j);
	return 0;
}

static int run(struct store *s, const struct judge_conf *jc, const char *period,
	       int64_t from, int64_t to, int64_t now, bool json, bool dry)
{
	struct reconcile_conf rc;
	struct pricing *p = NULL;
	struct alert_set set = { 0 };
	struct out o = { .json = json, .rows = json ? json_object_new_array() : NULL };
	unsigned mask = ((1u << ALERT_KIND_COUNT) - 1) & ~(1u << ALERT_USAGE_ANOMALY);
	char err[512];
	int r, status = 1;

	judge_conf_reconcile(jc, &rc);
	if (catalog(s, jc, &p, err, sizeof(err))) {
		fprintf(stderr, "truemeter reconcile: %s\n", err);
		goto cleanup;
	}
	if (!json)
		printf("%-20s %-20s %-23s %14s %14s %18s %18s %18s %s\n", "TENANT", "METRIC",
		       "PERIOD", "METERED", "BILLED", "EXPECTED", "BILLED_AMT", "LEAK", "PLAN");
	r = reconcile_period(s, p, &rc, period, from, to, now, row_cb, &o, &set);
	if (!r && !dry)
		r = reconcile_commit(s, &set, mask, from, to, now, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "truemeter reconcile: failed: %s\n", strerror(-r));
		goto cleanup;
	}
	if (json) {
		json_object *top = json_object_new_object(), *alerts = json_object_new_array();

		for (size_t i = 0; i < set.n; i++) {
			char *a = alert_to_json(&set.v[i]);

			json_object_array_add(alerts, a ? json_tokener_parse(a) : NULL);
			free(a);
		}
		json_object_object_add(top, "period", json_object_new_string(period));
		json_object_object_add(top, "rows", o.rows);
		json_object_object_add(top, "alerts", alerts);
		o.rows = NULL;
		printf("%s\n", json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN));
		json_object_put(top);
	} else {
		printf("\n%zu rows, %zu alerts\n", o.n, set.n);
		for (size_t i = 0; i < set.n; i++) {
			char leak[48];

			money_format(set.v[i].leak, set.v[i].currency, leak, sizeof(leak));
			printf("%-26s %-20s %-20s %-23s leak %s (%s)\n", set.v[i].kind,
			       set.v[i].tenant, set.v[i].metric, set.v[i].period, leak,
			       set.v[i].severity);
		}
	}
	status = 0;
cleanup:
	json_object_put(o.rows);
	alert_set_free(&set);
	pricing_free(p);
	return status;
}

int cli_reconcile(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ "at", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *period = NULL;
	struct judge_conf jc;
	struct store *s = NULL;
	bool json = false, dry = false;
	int64_t now = (int64_t)time(NULL) * 1000, from, to;
	char name[8], err[512];
	int opt, status;

	while ((opt = getopt_long(argc, argv, "p:a:jnh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			period = optarg;
			break;
		case 'a':
			if (period_parse_time(optarg, &now))
				return usage_err("--at: bad time (YYYY-MM-DD, RFC 3339, unix seconds)");
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'h':
			usage_err(NULL);
			return 0;
		default:
			return usage_err(NULL);
		}
	}
	if (optind != argc)
		return usage_err("unexpected argument");
	if (period) {
		if (period_parse_month(period, &from, &to))
			return usage_err("--period must be YYYY-MM");
		snprintf(name, sizeof(name), "%.7s", period);
	} else {
		period_month_of(now, name, sizeof(name), &from, &to);
	}
	if (judge_conf_load_file(env->config_path, &jc, err, sizeof(err))) {
		fprintf(stderr, "truemeter reconcile: %s\n", err);
		return 1;
	}
	if (cli_store_open(env, "reconcile", true, &s))
		return 1;
	status = run(s, &jc, name, from, to, now, json, dry);
	store_close(s);
	return status;
}
