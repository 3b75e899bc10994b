/* A month of usage as one agent with 1-minute windows stores it (20
 * tenants x 2 metrics: 1.7M rows), then the period sum every reconcile
 * tick runs: through the store (hourly sums plus the windows at the
 * edges) and, for comparison, summed over every window; and the month by
 * route x method x status class (store_usage_detail(), every window).
 *
 * usage: usage_month DB_PATH */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metric.h"
#include "store.h"
#include "store_sqlite.h"

#define TENANTS 20
#define MONTH_START 1793491200000LL          /* 2026-11-01T00:00:00Z */
#define MONTH_END (MONTH_START + 30LL * 86400000)

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static int count_cb(const struct store_usage *u, void *arg)
{
	(void)u;
	++*(int *)arg;
	return 0;
}

/* One stored report to hang the rows on (usage.report_id), then the rows
 * in one transaction: the rollup trigger runs for each, as on ingest. */
static int fill(struct store *s)
{
	Truemeter__Report r = TRUEMETER__REPORT__INIT;
	uint8_t agent[32], digest[32];
	char sql[1024];
	int err;

	memset(agent, 'U', sizeof(agent));
	memset(digest, 1, sizeof(digest));
	r.agent_id.data = agent;
	r.agent_id.len = sizeof(agent);
	r.epoch = 1;
	r.seq = 1;
	r.window_start_ms = MONTH_START - 60000;
	r.window_end_ms = MONTH_START;
	if (store_report_put(s, &r, digest, 1, 0, NULL) != STORE_PUT_NEW)
		return -1;
	snprintf(sql, sizeof(sql),
		 "BEGIN; WITH RECURSIVE w(t) AS (SELECT %lld UNION ALL SELECT t + 60000"
		 " FROM w WHERE t + 60000 < %lld), n(i) AS (SELECT 0 UNION ALL SELECT"
		 " i + 1 FROM n WHERE i + 1 < %d)"
		 " INSERT INTO usage (report_id, tenant, metric, window_start_ms,"
		 " window_end_ms, value) SELECT 1, 't' || (i / 2), CASE i %% 2 WHEN 0"
		 " THEN %d ELSE %d END, t, t + 60000, 1 + (t / 60000 + i) %% 50"
		 " FROM w, n; COMMIT;", MONTH_START, MONTH_END, 2 * TENANTS,
		 METRIC_API_REQUESTS, METRIC_CPU_NS);
	err = store_sqlite_exec(s, sql);
	return err;
}

enum sum_kind { SUM_HOURLY, SUM_RAW, SUM_DETAIL };

static double time_sum(struct store *s, enum sum_kind kind)
{
	double best = 1e18;

	for (int k = 0; k < 3; k++) {
		double t0 = mono_ms();
		int n = 0;

		if (kind == SUM_RAW) {
			sqlite3_stmt *st;

			if (store_sqlite_prepare(s, "SELECT tenant, metric, SUM(value),"
						 " MIN(window_start_ms), MAX(window_end_ms)"
						 " FROM usage WHERE window_start_ms >= ? AND"
						 " window_start_ms < ? GROUP BY tenant, metric", &st))
				return -1;
			sqlite3_bind_int64(st, 1, MONTH_START);
			sqlite3_bind_int64(st, 2, MONTH_END);
			while (sqlite3_step(st) == SQLITE_ROW)
				n++;
			sqlite3_finalize(st);
		} else if ((kind == SUM_DETAIL ? store_usage_detail : store_usage_sum)
			   (s, NULL, 0, MONTH_START, MONTH_END, count_cb, &n)) {
			return -1;
		}
		if (n != 2 * TENANTS) {
			fprintf(stderr, "usage_month: %d tenant x metric sums, expected %d\n",
				n, 2 * TENANTS);
			return -1;
		}
		if (mono_ms() - t0 < best)
			best = mono_ms() - t0;
	}
	return best;
}

int main(int argc, char **argv)
{
	struct store *s = NULL;
	double t0, fill_ms, sum_ms, raw_ms, detail_ms;
	long rows = 30L * 1440 * 2 * TENANTS;

	if (argc != 2) {
		fprintf(stderr, "usage: usage_month DB_PATH\n");
		return 2;
	}
	if (store_open(argv[1], &s))
		return 1;
	t0 = mono_ms();
	if (fill(s)) {
		fprintf(stderr, "usage_month: cannot store the month\n");
		store_close(s);
		return 1;
	}
	fill_ms = mono_ms() - t0;
	sum_ms = time_sum(s, SUM_HOURLY);
	raw_ms = time_sum(s, SUM_RAW);
	detail_ms = time_sum(s, SUM_DETAIL);
	store_close(s);
	if (sum_ms < 0 || raw_ms < 0 || detail_ms < 0)
		return 1;
	printf("BENCH usage_month_rows %ld rows\n", rows);
	printf("BENCH usage_month_store_rows_per_s %.0f rows/s\n", rows / (fill_ms / 1000));
	printf("BENCH usage_month_sum_ms %.1f ms\n", sum_ms);
	printf("BENCH usage_month_sum_every_window_ms %.1f ms\n", raw_ms);
	printf("BENCH usage_month_detail_ms %.1f ms\n", detail_ms);
	return 0;
}
