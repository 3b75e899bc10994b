/* truemeter prune [--keep-days N [--archive DIR]]
 * Retention by hand: the windows older than N days lose their usage rows
 * and reports, as the collector's retention_days does every hour (with
 * --archive, each month's audit bundle is written to DIR first).  Without
 * --keep-days, says up to where the store was pruned. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "period.h"
#include "retention.h"
#include "store.h"

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "truemeter prune: %s\n", msg);
	fprintf(stderr, "usage: truemeter prune [--keep-days N [--archive DIR]]   (N >= %d; "
		"without it, show the pruning point)\n", RETENTION_MIN_DAYS);
	return 2;
}

static int show_point(struct store *s)
{
	char when[32];
	int64_t point;

	if (store_pruned_before(s, &point))
		return 1;
	if (!point) {
		printf("not pruned: every window's usage rows and signed reports are kept\n");
		return 0;
	}
	period_format_time(point, when, sizeof(when));
	printf("pruned before %s: earlier windows' usage is kept as hourly sums, "
	       "their signed reports are gone (audit exports start there)\n", when);
	return 0;
}

int cli_prune(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep-days", required_argument, NULL, 'k' },
		{ "archive", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct retention_opts ro = { 0 };
	struct retention_result res;
	struct store *s = NULL;
	const char *keep = NULL;
	char when[32], *end;
	long long days = 0;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "k:a:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			keep = optarg;
			break;
		case 'a':
			ro.archive_dir = optarg;
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
	if (ro.archive_dir && !keep)
		return usage_err("--archive goes with --keep-days");
	if (keep) {
		errno = 0;
		days = strtoll(keep, &end, 10);
		if (errno || end == keep || *end || days < RETENTION_MIN_DAYS || days > 100000) {
			fprintf(stderr, "truemeter prune: --keep-days '%s' is not a number of "
				"days from %d to 100000: the collector reconciles the previous "
				"calendar month too, and keeps its windows\n", keep,
				RETENTION_MIN_DAYS);
			return 2;
		}
	}
	if (cli_store_open(env, "prune", false, &s))
		return 1;
	if (!keep) {
		rc = show_point(s);
		store_close(s);
		return rc;
	}
	ro.days = days;
	rc = retention_prune(s, &ro, period_now_ms(), &res);
	store_close(s);
	if (rc) {
		fprintf(stderr, "truemeter prune: pruning failed: %s\n", strerror(-rc));
		return 1;
	}
	period_format_time(res.point_ms, when, sizeof(when));
	printf("pruned %" PRIu64 " usage rows and %" PRIu64 " reports of windows before %s",
	       res.rows, res.reports, when);
	if (ro.archive_dir)
		printf(" (%zu months archived first)", res.archived);
	printf("\n");
	return 0;
}
