/* ingest: collector ingest rate through the real receiver path (decode,
 * signature, enrolment, chain and dedup checks, one SQLite transaction
 * with synchronous=FULL per report, ack), without the network.
 *
 *   ingest DIR     (DIR on the disk to measure; the database goes there)
 *
 * Prints BENCH ingest_reports_per_s (20-row reports) and
 * BENCH ingest_rows_per_s (700-row reports: 100 tenants x 7 metrics), and
 * what each kind adds to the database (report, signed envelope, rows,
 * indexes and hourly sums): BENCH store_bytes_per_report (20 rows) and
 * BENCH store_bytes_per_row (700-row reports). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enrol.h"
#include "metric.h"
#include "receiver.h"
#include "reportbuild.h"
#include "store.h"

struct sealed {
	uint8_t *env;
	size_t len;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n chained reports of rows rows each, sealed ahead of the timing. */
static struct sealed *make_chain(const struct report_key *key, uint64_t epoch,
				 size_t n, size_t nrows)
{
	struct sealed *out = calloc(n, sizeof(*out));
	struct meter_row *rows = calloc(nrows, sizeof(*rows));
	uint8_t prev[REPORT_DIGEST_LEN], digest[REPORT_DIGEST_LEN];

	if (!out || !rows)
		return NULL;
	for (size_t i = 0; i < nrows; i++) {
		snprintf(rows[i].tenant, sizeof(rows[i].tenant), "tenant-%03zu", i / 7);
		rows[i].metric = METRIC_API_REQUESTS + (int)(i % 7);
		rows[i].value = 1000 + i;
	}
	for (size_t s = 0; s < n; s++) {
		Truemeter__Report *r;
		struct reportbuild_in in = {
			.agent_id = key->pk, .epoch = epoch, .seq = s + 1,
			.window_start_ms = 1764000000000LL + (int64_t)s * 10000,
			.window_end_ms = 1764000010000LL + (int64_t)s * 10000,
			.deltas = rows, .n_deltas = nrows,
			.prev_digest = s ? prev : NULL, .hostname = "bench",
		};

		if (reportbuild_make(&in, &r) ||
		    report_seal(key, r, &out[s].env, &out[s].len, digest))
			return NULL;
		reportbuild_free(r);
		memcpy(prev, digest, sizeof(prev));
	}
	free(rows);
	return out;
}

/* The database's size as a second connection sees it (WAL frames
 * included): pages in use times the page size; -1 on error. */
static double db_bytes(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double bytes = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT (page_count - freelist_count) * page_size FROM"
			       " pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		bytes = (double)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return bytes;
}

/* Retention of every window stored, as the collector does it: how fast
 * the rows go, and what stays: the hourly sums (one per tenant x metric x
 * hour with usage) and each chain's latest report, here two. */
static int prune_all(struct store *s, const char *db, double b0, size_t n_reports,
		     size_t n_rows, size_t n_sums)
{
	uint64_t rows = 0, reports = 0;
	int64_t point;
	double t0 = now_s(), t, b;
	int rc;

	rc = store_prune_mark(s, 1764000000000LL + 100 * 3600000LL, 1, &point);
	while (!rc || rc == 1)
		if ((rc = store_prune_step(s, 5000, &rows, &reports)) == 0)
			break;
	t = now_s() - t0;
	b = db_bytes(db);
	if (rc || rows != n_rows || reports != n_reports - 2 || b < 0)
		return -1;
	printf("# pruned %llu rows and %llu reports in %.3f s; %.0f bytes stay\n",
	       (unsigned long long)rows, (unsigned long long)reports, t, b - b0);
	printf("BENCH prune_rows_per_s %.0f rows/s\n", (double)rows / t);
	printf("BENCH store_bytes_kept_per_hourly_sum %.0f bytes\n", (b - b0) / (double)n_sums);
	return 0;
}

/* The hourly sums stored; 0 on error. */
static size_t store_sums(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM usage_rollup", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Seconds to ingest the chain; -1 if any report was not stored. */
static double ingest(struct receiver *recv, struct sealed *c, size_t n)
{
	struct receiver_stats before, after;
	double t0 = now_s();

	receiver_stats_get(recv, &before);
	for (size_t i = 0; i < n; i++) {
		uint8_t *ack;
		size_t acklen;

		if (receiver_process(recv, c[i].env, c[i].len, &ack, &acklen))
			return -1;
		free(ack);
	}
	receiver_stats_get(recv, &after);
	if (after.stored - before.stored != n)
		return -1;
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	char kp[512], pp[512], db[512];
	struct report_key key;
	struct store *store;
	struct enrol *enrol;
	struct receiver *recv;
	struct sealed *small, *big;
	const size_t n_small = 400, n_big = 100;
	double t, b0, b1, b2;

	if (argc != 2) {
		fprintf(stderr, "usage: ingest DIR\n");
		return 2;
	}
	snprintf(kp, sizeof(kp), "%s/bench.key", argv[1]);
	snprintf(pp, sizeof(pp), "%s/bench.pub", argv[1]);
	snprintf(db, sizeof(db), "%s/ingest.db", argv[1]);
	if (report_keygen(kp, pp) || report_key_load(kp, &key) ||
	    store_open(db, &store) ||
	    enrol_new(NULL, (const uint8_t (*)[REPORT_PK_LEN])key.pk, 1, &enrol) ||
	    receiver_new(store, enrol, 16 << 20, &recv))
		return 1;
	small = make_chain(&key, 1, n_small, 20);
	big = make_chain(&key, 2, n_big, 700);
	if (!small || !big)
		return 1;
	b0 = db_bytes(db);
	t = ingest(recv, small, n_small);
	b1 = db_bytes(db);
	if (t <= 0 || b0 < 0 || b1 < 0)
		return 1;
	printf("# %zu reports of 20 rows in %.3f s\n", n_small, t);
	printf("BENCH ingest_reports_per_s %.0f reports/s\n", (double)n_small / t);
	t = ingest(recv, big, n_big);
	b2 = db_bytes(db);
	if (t <= 0 || b2 < 0)
		return 1;
	printf("# %zu reports of 700 rows in %.3f s\n", n_big, t);
	printf("BENCH ingest_rows_per_s %.0f rows/s\n", (double)(n_big * 700) / t);
	/* consecutive 10 s windows: each report's rows open new hourly sums
	 * once an hour (every 360th report), as in production */
	printf("# the database grew by %.0f bytes for the 20-row reports, %.0f for"
	       " the 700-row ones\n", b1 - b0, b2 - b1);
	printf("BENCH store_bytes_per_report %.0f bytes\n", (b1 - b0) / (double)n_small);
	printf("BENCH store_bytes_per_row %.1f bytes\n", (b2 - b1) / (double)(n_big * 700));
	if (prune_all(store, db, b0, n_small + n_big, n_small * 20 + n_big * 700,
		      store_sums(db)))
		return 1;
	receiver_free(recv);
	enrol_free(enrol);
	store_close(store);
	return 0;
}
