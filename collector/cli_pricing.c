/* truemeter pricing load FILE   validate the catalog and store it (the
 *                               running collector picks it up when it has
 *                               no [pricing] catalog file of its own)
 * truemeter pricing check FILE  validate only
 * truemeter pricing quote PLAN METRIC QUANTITY [FILE]  price a quantity:
 *                               "45000 usd (450.00 USD)", minor units first */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "metric.h"
#include "money.h"
#include "pricing.h"
#include "store_billing.h"

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "truemeter pricing: %s\n", msg);
	fprintf(stderr, "usage: truemeter pricing load FILE | check FILE | "
		"quote PLAN METRIC QUANTITY [FILE]\n");
	return 2;
}

static int quote(const struct cli_env *env, int argc, char **argv)
{
	struct pricing *p = NULL;
	struct store *s = NULL;
	char *text = NULL, err[512], *end, shown[48];
	const struct plan *pl = NULL;
	unsigned long long q;
	int64_t amount;
	int metric, rc, status = 1;

	if (argc < 5 || argc > 6)
		return usage_err("quote needs PLAN METRIC QUANTITY [FILE]");
	metric = metric_from_name(argv[3]);
	errno = 0;
	q = strtoull(argv[4], &end, 10);
	if (metric < 0 || errno || *end || argv[4][0] == '-')
		return usage_err("bad METRIC or QUANTITY");
	if (argc == 6) {
		rc = pricing_load_file(argv[5], &p, NULL, err, sizeof(err));
	} else {
		struct cli_env stored = *env;

		stored.db_must_exist = true;    /* a quote creates no database */
		if (cli_store_open(&stored, "pricing quote", true, &s))
			goto cleanup;
		rc = store_catalog_get(s, &text);
		if (rc == 0) {
			snprintf(err, sizeof(err), "no catalog stored in %s", env->db_path);
			rc = -ENOENT;
		} else if (rc > 0) {
			rc = pricing_parse(text, "stored catalog", &p, err, sizeof(err));
		} else {
			snprintf(err, sizeof(err), "cannot read the store %s", env->db_path);
		}
	}
	if (rc) {
		fprintf(stderr, "truemeter pricing: %s\n", err);
		goto cleanup;
	}
	for (size_t i = 0; i < p->nplans; i++)
		if (strcmp(p->plans[i].name, argv[2]) == 0)
			pl = &p->plans[i];
	if (!pl) {
		fprintf(stderr, "truemeter pricing: no plan '%s'\n", argv[2]);
		goto cleanup;
	}
	rc = plan_amount(pl, metric, q, &amount);
	if (rc) {
		fprintf(stderr, "truemeter pricing: %s\n", rc == -ENOENT ?
			"the plan has no price for that metric" : "amount out of range");
		goto cleanup;
	}
	money_format(amount, pl->currency, shown, sizeof(shown));
	/* minor units first, for scripts; then as people read it */
	printf("%lld %s (%s)\n", (long long)amount, pl->currency, shown);
	status = 0;
cleanup:
	free(text);
	pricing_free(p);
	store_close(s);
	return status;
}

int cli_pricing(const struct cli_env *env, int argc, char **argv)
{
	struct pricing *p = NULL;
	struct store *s = NULL;
	char *text = NULL, err[512];
	int rc, status = 1;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage_err(NULL);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "quote") == 0)
		return quote(env, argc, argv);
	if (argc != 3 || (strcmp(argv[1], "load") != 0 && strcmp(argv[1], "check") != 0))
		return usage_err(NULL);
	rc = pricing_load_file(argv[2], &p, &text, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "truemeter pricing: %s\n", err);
		goto cleanup;
	}
	if (strcmp(argv[1], "load") == 0) {
		if (cli_store_open(env, "pricing load", true, &s))
			goto cleanup;
		rc = store_catalog_put(s, text);
		if (rc) {
			fprintf(stderr, "truemeter pricing: cannot store the catalog in %s: %s\n",
				env->db_path, strerror(-rc));
			goto cleanup;
		}
	}
	printf("%s: %zu plans, %zu assignments%s\n", argv[2], p->nplans, p->nassignments,
	       strcmp(argv[1], "load") == 0 ? " — stored" : " — valid");
	status = 0;
cleanup:
	free(text);
	pricing_free(p);
	store_close(s);
	return status;
}
