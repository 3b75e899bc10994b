/* truemeter leaks [--period YYYY-MM] [--all] [--json]
 * Stored leak alerts, newest first: open ones, or all with --all.  A table
 * by default; --json prints one alert JSON object per line. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "billing.h"
#include "cli.h"
#include "money.h"
#include "store_billing.h"

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "truemeter leaks: %s\n", msg);
	fprintf(stderr, "usage: truemeter leaks [--period YYYY-MM] [--all] [--json]\n");
	return 2;
}

struct out {
	bool json;
	size_t n;
};

static int print_cb(const struct store_alert *a, void *arg)
{
	struct out *o = arg;
	char expected[48], billed[48], leak[48];

	o->n++;
	if (o->json) {
		char *s = alert_to_json(a);

		if (!s)
			return -1;
		printf("%s\n", s);
		free(s);
		return 0;
	}
	money_format(a->expected_amount, a->currency, expected, sizeof(expected));
	money_format(a->billed_amount, a->currency, billed, sizeof(billed));
	money_format(a->leak, a->currency, leak, sizeof(leak));
	printf("%-9s %-26s %-20s %-20s %-23s %12llu %12llu %18s %18s %18s %s\n",
	       a->severity, a->kind, a->tenant, a->metric, a->period,
	       (unsigned long long)a->metered, (unsigned long long)a->billed,
	       expected, billed, leak, a->status);
	return 0;
}

int cli_leaks(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *period = NULL;
	struct out o = { 0 };
	struct store *s = NULL;
	bool all = false;
	int64_t a, b;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "p:ajh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			period = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'j':
			o.json = true;
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
	if (period && period_parse_month(period, &a, &b) && !strchr(period, '/'))
		return usage_err("--period must be YYYY-MM (or an invoice period A/B)");
	if (cli_store_open(env, "leaks", true, &s))
		return 1;
	if (!o.json)
		printf("%-9s %-26s %-20s %-20s %-23s %12s %12s %18s %18s %18s %s\n",
		       "SEVERITY", "KIND", "TENANT", "METRIC", "PERIOD", "METERED", "BILLED",
		       "EXPECTED", "BILLED_AMT", "LEAK", "STATUS");
	rc = store_alert_list(s, period, !all, print_cb, &o);
	store_close(s);
	if (rc) {
		fprintf(stderr, "truemeter leaks: reading alerts failed\n");
		return 1;
	}
	if (!o.json)
		printf("%zu alerts\n", o.n);
	return 0;
}
