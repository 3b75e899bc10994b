/* truemeter billing import FILE [--format csv|jsonl|stripe]
 *                               [--customer-map F] [--price-map F]
 * All or nothing: a bad row rejects the file with "FILE:LINE: what". */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "billing.h"
#include "cli.h"
#include "judge_conf.h"
#include "store_billing.h"

static int usage_to(FILE *f, int status)
{
	fprintf(f, "usage: truemeter billing import FILE [--format csv|jsonl|stripe] "
		"[--customer-map FILE] [--price-map FILE]\n");
	return status;
}

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "truemeter billing: %s\n", msg);
	return usage_to(stderr, 2);
}

int cli_billing(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "customer-map", required_argument, NULL, 'C' },
		{ "price-map", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum billing_format fmt = BILLING_FORMAT_AUTO;
	struct billing_import_result res;
	struct billing_maps *maps = NULL;
	struct judge_conf jc;
	struct store *s = NULL;
	const char *cmap = NULL, *pmap = NULL;
	char err[512];
	int opt, rc, status = 1;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage_to(stdout, 0);
	if (argc < 2 || strcmp(argv[1], "import") != 0)
		return usage_err(argc < 2 ? "missing subcommand" : "unknown subcommand");
	argc--;
	argv++;
	cli_name(argv, "billing import");
	while ((opt = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (billing_format_parse(optarg, &fmt))
				return usage_err("--format must be csv, jsonl or stripe");
			break;
		case 'C':
			cmap = optarg;
			break;
		case 'P':
			pmap = optarg;
			break;
		case 'h':
			return usage_to(stdout, 0);
		default:
			return usage_err(NULL);
		}
	}
	if (optind + 1 != argc)
		return usage_err("exactly one FILE to import");
	if (judge_conf_load_file(env->config_path, &jc, err, sizeof(err))) {
		fprintf(stderr, "truemeter billing: %s\n", err);
		return 1;
	}
	rc = billing_maps_load(cmap ? cmap : jc.stripe_customer_map,
			       pmap ? pmap : jc.stripe_price_map, &maps, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "truemeter billing: %s\n", err);
		goto cleanup;
	}
	rc = cli_store_open(env, "billing", true, &s);
	if (rc)
		goto cleanup;
	rc = billing_import_file(s, argv[optind], fmt, maps, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "truemeter billing: %s (nothing imported)\n", err);
		goto cleanup;
	}
	printf("imported %zu billing records from %s (%zu lines skipped: no usage metric, "
	       "draft or void)\n", res.records, argv[optind], res.skipped);
	status = 0;
cleanup:
	store_close(s);
	billing_maps_free(maps);
	return status;
}
