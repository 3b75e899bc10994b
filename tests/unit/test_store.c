/* SQLite store: report ingest, dedup, chain lookups, usage queries, gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metric.h"
#include "store.h"
#include "store_sqlite.h"

struct fixture {
	char dir[64];
	char path[128];
	struct store *s;
	uint8_t agent[REPORT_PK_LEN];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/tm-test-store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	assert_int_equal(store_open(f->path, &f->s), 0);
	memset(f->agent, 0xab, sizeof(f->agent));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* One report with two rows for tenants "acme" and "globex", and its
 * signed envelope env when not NULL (the store keeps it as given). */
static int put_env(struct fixture *f, uint64_t seq, int64_t start_ms, uint64_t acme,
		   uint64_t globex, uint64_t gap_from, uint64_t gap_to, const char *env)
{
	Truemeter__Report r;
	Truemeter__UsageRow a, g, *rows[2] = { &a, &g };
	char *strings[] = { "", "acme", "globex", "/v1/items/*", "GET" };
	uint8_t digest[REPORT_DIGEST_LEN];

	truemeter__report__init(&r);
	truemeter__usage_row__init(&a);
	truemeter__usage_row__init(&g);
	r.agent_id.data = f->agent;
	r.agent_id.len = REPORT_PK_LEN;
	r.epoch = 1;
	r.seq = seq;
	r.window_start_ms = start_ms;
	r.window_end_ms = start_ms + 10000;
	r.strings = strings;
	r.n_strings = 5;
	r.rows = rows;
	r.n_rows = 2;
	a.tenant = 1;
	a.metric = TRUEMETER__METRIC__API_REQUESTS;
	a.route = 3;
	a.method = 4;
	a.status_class = 2;
	a.value = acme;
	g.tenant = 2;
	g.metric = TRUEMETER__METRIC__CPU_NS;
	g.value = globex;
	memset(digest, (int)seq, sizeof(digest));
	if (env)
		return store_report_put_signed(f->s, &r, digest, (const uint8_t *)env,
					       strlen(env), gap_from, gap_to, "test gap");
	return store_report_put(f->s, &r, digest, gap_from, gap_to, "test gap");
}

static int put(struct fixture *f, uint64_t seq, int64_t start_ms, uint64_t acme,
	       uint64_t globex, uint64_t gap_from, uint64_t gap_to)
{
	return put_env(f, seq, start_ms, acme, globex, gap_from, gap_to, NULL);
}

static int sum_cb(const struct store_usage *u, void *arg)
{
	uint64_t *sums = arg;

	if (strcmp(u->tenant, "acme") == 0 && u->metric == METRIC_API_REQUESTS)
		sums[0] += u->value;
	else if (strcmp(u->tenant, "globex") == 0 && u->metric == METRIC_CPU_NS)
		sums[1] += u->value;
	else
		sums[2]++;
	return 0;
}

static void test_put_dedup_and_sum(void **state)
{
	struct fixture *f = *state;
	uint64_t sums[3] = { 0 };
	struct store_stats st;

	assert_int_equal(put(f, 1, 3600000, 5, 100, 1, 0), STORE_PUT_NEW);
	assert_int_equal(put(f, 2, 3610000, 7, 200, 1, 0), STORE_PUT_NEW);
	assert_int_equal(put(f, 2, 3610000, 7, 200, 1, 0), STORE_PUT_DUPLICATE);
	assert_int_equal(store_usage_sum(f->s, NULL, 0, 0, INT64_MAX, sum_cb, sums), 0);
	assert_int_equal(sums[0], 12);
	assert_int_equal(sums[1], 300);
	assert_int_equal(sums[2], 0);
	assert_int_equal(store_stats_get(f->s, &st), 0);
	assert_int_equal(st.reports, 2);
	assert_int_equal(st.rows, 4);
	assert_int_equal(st.gaps, 0);
	/* seq 5 after 2: a gap 3..4; the counts follow the tables exactly */
	assert_int_equal(put(f, 5, 3640000, 1, 1, 3, 4), STORE_PUT_NEW);
	assert_int_equal(store_stats_get(f->s, &st), 0);
	assert_int_equal(st.reports, 3);
	assert_int_equal(st.rows, 6);
	assert_int_equal(st.gaps, 1);
	/* A window filter excludes the second report. */
	memset(sums, 0, sizeof(sums));
	assert_int_equal(store_usage_sum(f->s, "acme", METRIC_API_REQUESTS, 0, 3610000,
					 sum_cb, sums), 0);
	assert_int_equal(sums[0], 5);
	assert_int_equal(sums[1], 0);
}

static void test_chain_and_digest(void **state)
{
	struct fixture *f = *state;
	struct store_chain c;
	uint8_t d[REPORT_DIGEST_LEN];

	assert_int_equal(store_chain_get(f->s, f->agent, 1, &c), 0);
	assert_false(c.found);
	assert_int_equal(put(f, 1, 0, 1, 1, 1, 0), STORE_PUT_NEW);
	assert_int_equal(put(f, 2, 10000, 1, 1, 1, 0), STORE_PUT_NEW);
	assert_int_equal(store_chain_get(f->s, f->agent, 1, &c), 0);
	assert_true(c.found);
	assert_int_equal(c.last_seq, 2);
	assert_int_equal(c.last_digest[0], 2);
	assert_int_equal(store_report_digest(f->s, f->agent, 1, 1, d), 1);
	assert_int_equal(d[5], 1);
	assert_int_equal(store_report_digest(f->s, f->agent, 1, 9, d), 0);
}

static int gap_cb(const struct store_gap *g, void *arg)
{
	int *n = arg;

	assert_int_equal(g->from_seq, 2);
	assert_int_equal(g->to_seq, 4);
	assert_int_equal(g->from_ms, 10000);   /* end of seq 1 */
	assert_int_equal(g->to_ms, 40000);     /* start of seq 5 */
	assert_string_equal(g->reason, "test gap");
	(*n)++;
	return 0;
}

static void test_gap_recorded(void **state)
{
	struct fixture *f = *state;
	int n = 0;

	assert_int_equal(put(f, 1, 0, 1, 1, 1, 0), STORE_PUT_NEW);
	assert_int_equal(put(f, 5, 40000, 1, 1, 2, 4), STORE_PUT_NEW);
	assert_int_equal(store_gaps(f->s, 0, INT64_MAX, gap_cb, &n), 0);
	assert_int_equal(n, 1);
	n = 0;
	/* Outside the gap's time range: nothing. */
	assert_int_equal(store_gaps(f->s, 50000, 60000, gap_cb, &n), 0);
	assert_int_equal(n, 0);
}

static int hour_cb(int64_t hour_ms, uint64_t value, void *arg)
{
	uint64_t *v = arg;

	v[hour_ms / 3600000] += value;
	return 0;
}

static void test_hourly_and_bad_rows(void **state)
{
	struct fixture *f = *state;
	uint64_t hours[4] = { 0 };

	assert_int_equal(put(f, 1, 0, 3, 0, 1, 0), STORE_PUT_NEW);
	assert_int_equal(put(f, 2, 3600000 * 2, 4, 0, 1, 0), STORE_PUT_NEW);
	assert_int_equal(store_usage_hourly(f->s, "acme", METRIC_API_REQUESTS, 0,
					    INT64_MAX, hour_cb, hours), 0);
	assert_int_equal(hours[0], 3);
	assert_int_equal(hours[1], 0);
	assert_int_equal(hours[2], 4);
}

/* ---- the rollup gives what summing every window gives ---------------------- */

#define NW 600
struct win {
	int tenant, metric;
	int64_t start, end;
	uint64_t value;
};

static const char *const tenants[] = { "", "acme", "globex", "initech", "umbrella" };
static const int metrics[] = { METRIC_API_REQUESTS, METRIC_CPU_NS, METRIC_NET_RX_BYTES };

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Windows of 7 s, 10 s, 1 min, 1 h and 1 day at odd offsets over about
 * three days, one row each, stored as reports 1..NW. */
static void put_windows(struct fixture *f, struct win *w)
{
	static const int64_t lens[] = { 7000, 10000, 60000, 3600000, 86400000 };
	char *strings[] = { "", "acme", "globex", "initech", "umbrella" };
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < NW; i++) {
		Truemeter__Report r;
		Truemeter__UsageRow row, *rows[1] = { &row };
		uint8_t digest[REPORT_DIGEST_LEN];
		int64_t len = lens[rnd(&x) % 5];

		w[i].tenant = 1 + (int)(rnd(&x) % 4);
		w[i].metric = metrics[rnd(&x) % 3];
		w[i].start = 1790000000000LL + (int64_t)(rnd(&x) % (3 * 86400)) * 1000 / len * len;
		w[i].end = w[i].start + len;
		w[i].value = 1 + rnd(&x) % 1000;
		truemeter__report__init(&r);
		truemeter__usage_row__init(&row);
		r.agent_id.data = f->agent;
		r.agent_id.len = REPORT_PK_LEN;
		r.epoch = 1;
		r.seq = (uint64_t)i + 1;
		r.window_start_ms = w[i].start;
		r.window_end_ms = w[i].end;
		r.strings = strings;
		r.n_strings = 5;
		r.rows = rows;
		r.n_rows = 1;
		row.tenant = (uint32_t)w[i].tenant;
		row.metric = (Truemeter__Metric)w[i].metric;
		row.value = w[i].value;
		memset(digest, i & 0xff, sizeof(digest));
		digest[1] = (uint8_t)(i >> 8);
		assert_int_equal(store_report_put(f->s, &r, digest, 1, 0, NULL), STORE_PUT_NEW);
	}
}

struct got {
	uint64_t value[5][3];
	int64_t first[5][3], last[5][3];
	int rows;
};

static int metric_idx(int m)
{
	for (int i = 0; i < 3; i++)
		if (metrics[i] == m)
			return i;
	fail();
	return 0;
}

static int tenant_idx(const char *t)
{
	for (int i = 1; i < 5; i++)
		if (strcmp(tenants[i], t) == 0)
			return i;
	fail();
	return 0;
}

static int got_cb(const struct store_usage *u, void *arg)
{
	struct got *g = arg;
	int t = tenant_idx(u->tenant), m = metric_idx(u->metric);

	g->value[t][m] = u->value;
	g->first[t][m] = u->first_ms;
	g->last[t][m] = u->last_ms;
	g->rows++;
	return 0;
}

static int64_t hour_sum[100];

static int hour_sum_cb(int64_t hour_ms, uint64_t value, void *arg)
{
	int64_t base = *(int64_t *)arg;

	assert_true(hour_ms >= base && (hour_ms - base) / 3600000 < 100);
	hour_sum[(hour_ms - base) / 3600000] += (int64_t)value;
	return 0;
}

/* Sums for random ranges (aligned, unaligned, inside one bucket, open
 * ended) and filters, against sums over the windows themselves. */
static void check_ranges(struct fixture *f, const struct win *w)
{
	uint64_t x = 2463534242ULL;
	int64_t t0 = 1790000000000LL - 86400000;

	for (int k = 0; k < 300; k++) {
		int64_t from = t0 + (int64_t)(rnd(&x) % (5 * 86400)) * 1000;
		int64_t to = from + (int64_t)(rnd(&x) % (2 * 86400)) * 1000 + 1;
		int tf = (int)(rnd(&x) % 5), mf = (int)(rnd(&x) % 4);
		struct got want = { 0 }, got = { 0 };

		if (k % 7 == 0)
			from -= from % 3600000;                 /* on a bucket bound */
		if (k % 5 == 0)
			to = from + (int64_t)(rnd(&x) % 3600000); /* inside one bucket */
		if (k == 0) {
			from = 0;
			to = INT64_MAX;
		}
		for (int i = 0; i < NW; i++) {
			int m = metric_idx(w[i].metric);

			if (w[i].start < from || w[i].start >= to ||
			    (tf && w[i].tenant != tf) || (mf && m != mf - 1))
				continue;
			if (!want.value[w[i].tenant][m]) {
				want.rows++;
				want.first[w[i].tenant][m] = w[i].start;
				want.last[w[i].tenant][m] = w[i].end;
			}
			want.value[w[i].tenant][m] += w[i].value;
			if (w[i].start < want.first[w[i].tenant][m])
				want.first[w[i].tenant][m] = w[i].start;
			if (w[i].end > want.last[w[i].tenant][m])
				want.last[w[i].tenant][m] = w[i].end;
		}
		assert_int_equal(store_usage_sum(f->s, tf ? tenants[tf] : NULL,
						 mf ? metrics[mf - 1] : 0, from, to,
						 got_cb, &got), 0);
		assert_int_equal(got.rows, want.rows);
		assert_memory_equal(got.value, want.value, sizeof(want.value));
		assert_memory_equal(got.first, want.first, sizeof(want.first));
		assert_memory_equal(got.last, want.last, sizeof(want.last));
	}
	/* hourly: acme's api_requests over an unaligned range */
	int64_t from = 1790000000000LL + 1234567, to = from + 50 * 3600000LL + 777;
	int64_t base = from - from % 3600000, want[100] = { 0 };

	memset(hour_sum, 0, sizeof(hour_sum));
	for (int i = 0; i < NW; i++)
		if (w[i].tenant == 1 && w[i].metric == METRIC_API_REQUESTS &&
		    w[i].start >= from && w[i].start < to)
			want[(w[i].start - base) / 3600000] += (int64_t)w[i].value;
	assert_int_equal(store_usage_hourly(f->s, "acme", METRIC_API_REQUESTS, from, to,
					    hour_sum_cb, &base), 0);
	assert_memory_equal(hour_sum, want, sizeof(want));
}

static void test_rollup_equals_windows(void **state)
{
	struct fixture *f = *state;
	struct win *w = calloc(NW, sizeof(*w));

	assert_non_null(w);
	put_windows(f, w);
	check_ranges(f, w);
	free(w);
}

/* A version 1 database (no rollup) is brought to version 2 on open with
 * the rollup built from the usage already stored. */
static void test_migrate_from_v1(void **state)
{
	struct fixture *f = *state;
	struct win *w = calloc(NW, sizeof(*w));

	assert_non_null(w);
	put_windows(f, w);
	assert_int_equal(store_sqlite_exec(f->s, "DROP TRIGGER usage_rollup_add;"
					   "DROP TABLE usage_rollup; PRAGMA user_version = 1;"), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	check_ranges(f, w);
	free(w);
}

/* A report without rows from the agent whose key is all `who` bytes,
 * declaring cumulative drops, missing hooks and the events its meter lost
 * in its window (lost[0] map overflow, lost[1] event drops). */
static void put_report_health(struct fixture *f, uint8_t who, uint64_t seq, int64_t end_ms,
			      uint64_t drops, char *missing, char *hostname,
			      const uint64_t lost[2])
{
	Truemeter__Report r;
	Truemeter__Health h;
	uint8_t agent[REPORT_PK_LEN], digest[REPORT_DIGEST_LEN];
	char *strings[] = { "" };

	truemeter__report__init(&r);
	truemeter__health__init(&h);
	memset(agent, who, sizeof(agent));
	r.agent_id.data = agent;
	r.agent_id.len = REPORT_PK_LEN;
	r.epoch = 1;
	r.seq = seq;
	r.window_start_ms = end_ms - 10000;
	r.window_end_ms = end_ms;
	r.strings = strings;
	r.n_strings = 1;
	r.hostname = hostname;
	h.event_drops = drops;
	h.map_overflow = drops * 10;
	h.hooks_missing = missing ? &missing : NULL;
	h.n_hooks_missing = missing ? 1 : 0;
	h.map_overflow_window = lost[0];
	h.event_drops_window = lost[1];
	r.health = &h;
	memset(digest, (int)(seq * 16 + who), sizeof(digest));
	assert_int_equal(store_report_put(f->s, &r, digest, 1, 0, ""), STORE_PUT_NEW);
}

/* The same with no losses in the window. */
static void put_health(struct fixture *f, uint8_t who, uint64_t seq, int64_t end_ms,
		       uint64_t drops, char *missing, char *hostname)
{
	const uint64_t none[2] = { 0, 0 };

	put_report_health(f, who, seq, end_ms, drops, missing, hostname, none);
}

struct agents_seen {
	int n;
	char line[2][160];
};

static int agent_cb(const struct store_agent *a, void *arg)
{
	struct agents_seen *seen = arg;

	assert_true(seen->n < 2);
	snprintf(seen->line[seen->n++], sizeof(seen->line[0]),
		 "%.4s %s %llu %lld %llu %llu [%s]", a->agent_hex, a->hostname,
		 (unsigned long long)a->reports, (long long)a->window_end_ms,
		 (unsigned long long)a->event_drops, (unsigned long long)a->map_overflow,
		 a->hooks_missing);
	return 0;
}

/* Two agents' reports; web-1's latest window is split in two reports, and
 * one report arrives after a later one (out of order across a resend). */
static void put_agents(struct fixture *f)
{
	put_health(f, 0xab, 1, 10000, 1, NULL, "web-1");
	put_health(f, 0xab, 2, 20000, 4, "tenant:sockops", "web-1");
	put_health(f, 0xab, 4, 30000, 7, NULL, "web-1");
	put_health(f, 0xab, 3, 30000, 5, "tenant:sockops", "web-1");
	put_health(f, 0x01, 1, 5000, 0, NULL, "db-1");
}

static void check_agents(struct fixture *f)
{
	struct agents_seen seen = { 0 };

	assert_int_equal(store_agents(f->s, agent_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.line[0], "0101 db-1 1 5000 0 0 []");
	assert_string_equal(seen.line[1], "abab web-1 4 30000 7 70 []");
}

/* Each agent once, with its report count and its latest report's health:
 * the latest window, and of a window split in several reports the last. */
static void test_agents(void **state)
{
	struct fixture *f = *state;

	put_agents(f);
	check_agents(f);
	/* and the one that follows */
	put_health(f, 0x01, 2, 15000, 2, "tenant:cpu", "db-1");
	{
		struct agents_seen seen = { 0 };

		assert_int_equal(store_agents(f->s, agent_cb, &seen), 0);
		assert_string_equal(seen.line[0], "0101 db-1 2 15000 2 20 [tenant:cpu]");
	}
}

/* Enrolled agents that never reported are listed, as of their enrolment,
 * with no reports; once one reports it is listed once, from its reports.
 * A key no longer enrolled is forgotten; one not yet reported can retire. */
static void test_enrolled_agents(void **state)
{
	struct fixture *f = *state;
	char hex[2][REPORT_PK_HEX_LEN + 1], out[REPORT_PK_HEX_LEN + 1];
	struct agents_seen seen = { 0 };
	int64_t since;

	memset(hex[0], 0, sizeof(hex[0]));
	memset(hex[1], 0, sizeof(hex[1]));
	for (int i = 0; i < REPORT_PK_HEX_LEN; i += 2) {
		memcpy(hex[0] + i, "ab", 2);
		memcpy(hex[1] + i, "cd", 2);
	}
	put_health(f, 0xab, 1, 10000, 0, NULL, "web-1");
	assert_int_equal(store_enrolled_sync(f->s, (const char (*)[REPORT_PK_HEX_LEN + 1])hex,
					     2, 7000), 0);
	/* known since it was first enrolled */
	assert_int_equal(store_enrolled_sync(f->s, (const char (*)[REPORT_PK_HEX_LEN + 1])hex,
					     2, 9000), 0);
	assert_int_equal(store_agents(f->s, agent_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.line[0], "abab web-1 1 10000 0 0 []");
	assert_string_equal(seen.line[1], "cdcd  0 7000 0 0 []");
	assert_int_equal(store_agent_retire(f->s, "cdcd", 9500, out, &since), 0);
	assert_string_equal(out, hex[1]);
	assert_int_equal(since, 9500);

	/* no longer enrolled: forgotten */
	assert_int_equal(store_enrolled_sync(f->s, (const char (*)[REPORT_PK_HEX_LEN + 1])hex,
					     1, 9900), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_agents(f->s, agent_cb, &seen), 0);
	assert_int_equal(seen.n, 1);

	/* enrolled again, and reporting: listed once, from its report */
	assert_int_equal(store_enrolled_sync(f->s, (const char (*)[REPORT_PK_HEX_LEN + 1])hex,
					     2, 10000), 0);
	put_health(f, 0xcd, 1, 12000, 0, NULL, "db-2");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_agents(f->s, agent_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.line[1], "cdcd db-2 1 12000 0 0 []");
}

/* The collector's run of uptime: a restart soon after its last sign of
 * life continues it; a long downtime, or a clock gone back, starts anew. */
static void test_collector_up(void **state)
{
	struct fixture *f = *state;
	int64_t since = 0;

	assert_int_equal(store_collector_up(f->s, 1000, 500, &since), 0);
	assert_int_equal(since, 1000);
	assert_int_equal(store_collector_alive(f->s, 1400), 0);
	assert_int_equal(store_collector_alive(f->s, 1300), 0);   /* never back */
	assert_int_equal(store_collector_up(f->s, 1800, 500, &since), 0);
	assert_int_equal(since, 1000);
	assert_int_equal(store_collector_alive(f->s, 2000), 0);
	assert_int_equal(store_collector_up(f->s, 3000, 500, &since), 0);
	assert_int_equal(since, 3000);
	assert_int_equal(store_collector_up(f->s, 2500, 500, &since), 0);
	assert_int_equal(since, 2500);
	/* silence off (no quiet time): every start counts afresh */
	assert_int_equal(store_collector_up(f->s, 2600, 0, &since), 0);
	assert_int_equal(since, 2600);
}

/* A version 2 database (agents found by scanning every report) gets its
 * per-agent table built from the reports already stored on open. */
static void test_migrate_agents_from_v2(void **state)
{
	struct fixture *f = *state;

	put_agents(f);
	assert_int_equal(store_sqlite_exec(f->s, "DROP TRIGGER agent_latest_add;"
					   "DROP TABLE agent_latest; PRAGMA user_version = 2;"), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	check_agents(f);
}

struct agent_query {
	const char *prefix;
	int64_t ms, heard_ms;
};

static int agent_query_cb(const struct store_agent *a, void *arg)
{
	struct agent_query *q = arg;

	if (strncmp(a->agent_hex, q->prefix, strlen(q->prefix)) == 0) {
		q->ms = a->retired_ms;
		q->heard_ms = a->heard_ms;
	}
	return 0;
}

/* heard_ms of the agent whose key starts with prefix, -1 if none */
static int64_t heard_of(struct fixture *f, const char *prefix)
{
	struct agent_query q = { prefix, -1, -1 };

	assert_int_equal(store_agents(f->s, agent_query_cb, &q), 0);
	return q.heard_ms;
}

/* retired_ms of the agent whose key starts with prefix, -1 if none */
static int64_t retired_of(struct fixture *f, const char *prefix)
{
	struct agent_query q = { prefix, -1, -1 };

	assert_int_equal(store_agents(f->s, agent_query_cb, &q), 0);
	return q.ms;
}

/* When an agent was last heard from is the latest receipt of any report.
 * A retired agent stays retired from the first retirement on, names what
 * matched, and is back in service with its next report; a prefix that
 * matches none or several retires nothing. */
static void test_retire(void **state)
{
	struct fixture *f = *state;
	char hex[REPORT_PK_HEX_LEN + 1];
	int64_t since;

	store_set_clock(f->s, 50000);
	put_agents(f);
	/* heard: when the latest report arrived, not its window's time (a
	 * report of an earlier window arriving later counts) */
	assert_int_equal(heard_of(f, "abab"), 50000);
	store_set_clock(f->s, 90000);
	put_health(f, 0xab, 9, 1000, 0, NULL, "web-1");
	store_set_clock(f->s, 0);
	assert_int_equal(heard_of(f, "abab"), 90000);
	assert_int_equal(store_agent_retire(f->s, "ffff", 1000, hex, &since), -ENOENT);
	assert_int_equal(store_agent_retire(f->s, "abab", 1000, hex, &since), 0);
	assert_int_equal(strlen(hex), REPORT_PK_HEX_LEN);
	assert_int_equal(strspn(hex, "ab"), REPORT_PK_HEX_LEN);
	assert_int_equal(since, 1000);
	assert_int_equal(store_agent_retire(f->s, hex, 2000, hex, &since), 0);
	assert_int_equal(since, 1000);
	assert_int_equal(retired_of(f, "abab"), 1000);
	assert_int_equal(retired_of(f, "0101"), 0);
	put_health(f, 0xab, 5, 40000, 7, NULL, "web-1");
	assert_int_equal(retired_of(f, "abab"), 0);
	put_health(f, 0xa0, 1, 5000, 0, NULL, "web-2");
	assert_int_equal(store_agent_retire(f->s, "a", 3000, hex, &since), -ENOTUNIQ);
	assert_int_equal(retired_of(f, "a0a0"), 0);
	assert_int_equal(retired_of(f, "abab"), 0);
}

/* A version 3 database gets the retired agents' table on open. */
static void test_migrate_retired_from_v3(void **state)
{
	struct fixture *f = *state;
	char hex[REPORT_PK_HEX_LEN + 1];
	int64_t since;

	store_set_clock(f->s, 77000);
	put_agents(f);
	store_set_clock(f->s, 0);
	/* as version 3 left it: no retired agents, no heard_ms */
	assert_int_equal(store_sqlite_exec(f->s, "DROP TRIGGER agent_retired_back;"
					   "DROP TABLE agent_retired; DROP TRIGGER agent_latest_add;"
					   "ALTER TABLE agent_latest DROP COLUMN heard_ms;"
					   "PRAGMA user_version = 3;"), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	check_agents(f);
	assert_int_equal(heard_of(f, "abab"), 77000);   /* from the reports received */
	assert_int_equal(store_agent_retire(f->s, "0101", 1000, hex, &since), 0);
	assert_int_equal(retired_of(f, "0101"), 1000);
	put_health(f, 0x01, 2, 6000, 0, NULL, "db-1");
	assert_int_equal(retired_of(f, "0101"), 0);
}

struct losses_seen {
	int n;
	char line[3][160];
};

static int loss_cb(const struct store_loss *l, void *arg)
{
	struct losses_seen *seen = arg;

	assert_true(seen->n < 3);
	snprintf(seen->line[seen->n++], sizeof(seen->line[0]), "%.4s %s %lld-%lld %llu %llu",
		 l->agent_hex, l->hostname, (long long)l->from_ms, (long long)l->to_ms,
		 (unsigned long long)l->map_overflow, (unsigned long long)l->event_drops);
	return 0;
}

static struct losses_seen losses(struct fixture *f, int64_t from_ms, int64_t to_ms)
{
	struct losses_seen seen = { 0 };

	assert_int_equal(store_losses(f->s, from_ms, to_ms, loss_cb, &seen), 0);
	return seen;
}

/* Reports with losses in their windows: web-1 lost events in two of three
 * windows, db-1 in one. */
static void put_losses(struct fixture *f)
{
	const uint64_t none[2] = { 0, 0 }, a[2] = { 2, 3 }, b[2] = { 0, 5 }, c[2] = { 0, 1 };

	put_report_health(f, 0xab, 1, 10000, 0, NULL, "web-1", none);
	put_report_health(f, 0xab, 2, 20000, 5, NULL, "web-1", a);
	put_report_health(f, 0xab, 3, 30000, 10, NULL, "web-1", b);
	put_report_health(f, 0x01, 1, 5000, 1, NULL, "db-1", c);
}

/* Per agent, what its reports with windows in the range declared lost,
 * and the span of the windows that lost any. */
static void test_losses(void **state)
{
	struct fixture *f = *state;
	struct losses_seen seen;

	assert_int_equal(losses(f, 0, 100000).n, 0);
	put_losses(f);
	seen = losses(f, 0, 100000);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.line[0], "0101 db-1 -5000-5000 0 1");
	assert_string_equal(seen.line[1], "abab web-1 10000-30000 2 8");
	seen = losses(f, 20000, 100000);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.line[0], "abab web-1 20000-30000 0 5");
	assert_int_equal(losses(f, 30000, 100000).n, 0);       /* windows end at 30000 */
	assert_int_equal(losses(f, -100000, -5000).n, 0);

	/* absurd counts (a broken agent's) saturate; summing them fails nothing */
	{
		const uint64_t huge[2] = { UINT64_MAX, (uint64_t)INT64_MAX };

		put_report_health(f, 0x77, 1, 50000, 0, NULL, "bad", huge);
		put_report_health(f, 0x77, 2, 60000, 0, NULL, "bad", huge);
		seen = losses(f, 40000, 100000);
		assert_int_equal(seen.n, 1);
		assert_string_equal(seen.line[0], "7777 bad 40000-60000 9223372036854775807 "
				    "9223372036854775807");
	}
}

/* A version 4 database (no losses per window) gets the columns and their
 * index on open; its reports declared none. */
static void test_migrate_losses_from_v4(void **state)
{
	struct fixture *f = *state;
	const uint64_t some[2] = { 4, 0 };
	struct losses_seen seen;

	put_agents(f);
	assert_int_equal(store_sqlite_exec(f->s, "DROP INDEX reports_with_losses;"
					   "ALTER TABLE reports DROP COLUMN map_overflow_window;"
					   "ALTER TABLE reports DROP COLUMN event_drops_window;"
					   "PRAGMA user_version = 4;"), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	check_agents(f);
	assert_int_equal(losses(f, 0, 100000).n, 0);
	put_report_health(f, 0x01, 2, 15000, 4, NULL, "db-1", some);
	seen = losses(f, 0, 100000);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.line[0], "0101 db-1 5000-15000 4 0");
}

/* The detail of the usage: per route x method x status class */
static int detail_cb(const struct store_usage *u, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s %d %s %s %d %llu;", u->tenant, u->metric, u->route,
		 u->method, u->status_class, (unsigned long long)u->value);
	return 0;
}

static void test_usage_detail(void **state)
{
	struct fixture *f = *state;
	char out[512] = "";
	int64_t point;

	assert_int_equal(put(f, 1, 10000, 5, 100, 1, 0), 0);
	assert_int_equal(put(f, 2, 20000, 7, 200, 1, 0), 0);
	assert_int_equal(put(f, 3, 3 * 3600000 + 5000, 11, 300, 1, 0), 0);
	assert_int_equal(store_usage_detail(f->s, NULL, 0, 0, 30000, detail_cb, out), 0);
	assert_string_equal(out, "acme 1 /v1/items/* GET 2 12;globex 6   0 300;");
	out[0] = '\0';
	assert_int_equal(store_usage_detail(f->s, "acme", METRIC_API_REQUESTS, 15000,
					    4 * 3600000, detail_cb, out), 0);
	assert_string_equal(out, "acme 1 /v1/items/* GET 2 18;");
	/* the windows before a pruning point have no detail left */
	assert_int_equal(store_prune_mark(f->s, 3 * 3600000, 1, &point), 0);
	assert_int_equal(store_usage_detail(f->s, NULL, 0, 0, 4 * 3600000, detail_cb, out),
			 -ERANGE);
	out[0] = '\0';
	assert_int_equal(store_usage_detail(f->s, NULL, 0, 3 * 3600000, 4 * 3600000,
					    detail_cb, out), 0);
	assert_string_equal(out, "acme 1 /v1/items/* GET 2 11;globex 6   0 300;");
}

#define HOUR 3600000LL

static uint64_t acme_sum(struct fixture *f, int64_t from, int64_t to, int *err)
{
	uint64_t sums[3] = { 0 };

	*err = store_usage_sum(f->s, NULL, 0, from, to, sum_cb, sums);
	return sums[0];
}

static int count_env(const uint8_t *env, size_t len, void *arg)
{
	(void)env;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

static int64_t count_sql(struct fixture *f, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t n;

	assert_int_equal(store_sqlite_prepare(f->s, sql, &st), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int64_t usage_rows_left(struct fixture *f)
{
	return count_sql(f, "SELECT COUNT(*) FROM usage");
}

static int64_t reports_with_envelope(struct fixture *f)
{
	return count_sql(f, "SELECT COUNT(*) FROM reports WHERE envelope IS NOT NULL");
}

/* Retention: the windows before the point lose their rows and reports;
 * usage of whole hours stays exact, ranges that need the pruned windows
 * themselves are refused, and each chain's head stays. */
static void test_prune(void **state)
{
	struct fixture *f = *state;
	uint64_t rows = 0, reports = 0;
	int64_t hourly_before[8], hourly_after[8];
	uint8_t digest[REPORT_DIGEST_LEN];
	struct store_chain chain;
	int64_t point, base = 0;
	int err, n = 0, steps = 0, rc;

	assert_int_equal(put_env(f, 1, 2 * HOUR + 1800000, 10, 100, 1, 0, "env-1"), 0);
	assert_int_equal(put_env(f, 2, 3 * HOUR + 600000, 20, 200, 1, 0, "env-2"), 0);
	assert_int_equal(put_env(f, 3, 5 * HOUR, 40, 400, 1, 0, "env-3"), 0);
	assert_int_equal(put_env(f, 4, 5 * HOUR + 1200000, 80, 800, 1, 0, "env-4"), 0);
	memset(hour_sum, 0, sizeof(hour_sum));
	assert_int_equal(store_usage_hourly(f->s, "acme", METRIC_API_REQUESTS, 0, 8 * HOUR,
					    hour_sum_cb, &base), 0);
	memcpy(hourly_before, hour_sum, sizeof(hourly_before));
	assert_int_equal(hourly_before[2] + hourly_before[3] + hourly_before[5], 150);

	/* never pruned: nothing to do */
	assert_int_equal(store_prune_step(f->s, 10, &rows, &reports), 0);
	assert_int_equal(store_pruned_before(f->s, &point), 0);
	assert_int_equal(point, 0);
	assert_int_equal(store_prune_mark(f->s, 0, 1, &point), -EINVAL);

	/* the point is a whole hour, and refuses at once what it will delete */
	assert_int_equal(store_prune_mark(f->s, 4 * HOUR + 123, 99, &point), 0);
	assert_int_equal(point, 4 * HOUR);
	assert_int_equal(acme_sum(f, 2 * HOUR + 1, 6 * HOUR, &err), 0);
	assert_int_equal(err, -ERANGE);
	assert_int_equal(acme_sum(f, 0, 3 * HOUR + 5, &err), 0);
	assert_int_equal(err, -ERANGE);
	assert_int_equal(store_envelopes(f->s, 0, 6 * HOUR, count_env, &n), -ERANGE);
	assert_int_equal(n, 0);

	/* in batches of one row: the four rows and two reports before it */
	while ((rc = store_prune_step(f->s, 1, &rows, &reports)) == 1)
		steps++;
	assert_int_equal(rc, 0);
	assert_int_equal(steps, 4);
	assert_int_equal(rows, 4);
	assert_int_equal(reports, 2);
	assert_int_equal(usage_rows_left(f), 4);

	/* whole hours and the windows after the point are as they were */
	assert_int_equal(acme_sum(f, 0, 6 * HOUR, &err), 150);
	assert_int_equal(err, 0);
	assert_int_equal(acme_sum(f, 2 * HOUR, 4 * HOUR, &err), 30);
	assert_int_equal(err, 0);
	assert_int_equal(acme_sum(f, 4 * HOUR + 1, 6 * HOUR, &err), 120);
	assert_int_equal(err, 0);
	assert_int_equal(acme_sum(f, 0, 5 * HOUR + 1, &err), 70);
	assert_int_equal(err, 0);
	assert_int_equal(acme_sum(f, 3 * HOUR + 1, 3 * HOUR + 2, &err), 0);
	assert_int_equal(err, -ERANGE);
	memset(hour_sum, 0, sizeof(hour_sum));
	assert_int_equal(store_usage_hourly(f->s, "acme", METRIC_API_REQUESTS, 0, 8 * HOUR,
					    hour_sum_cb, &base), 0);
	memcpy(hourly_after, hour_sum, sizeof(hourly_after));
	assert_memory_equal(hourly_after, hourly_before, sizeof(hourly_before));
	assert_int_equal(store_envelopes(f->s, 4 * HOUR, 6 * HOUR, count_env, &n), 0);
	assert_int_equal(n, 2);

	/* the chain's head stays, the reports before the point go (the
	 * receiver refuses one sent again as behind the chain) */
	assert_int_equal(store_chain_get(f->s, f->agent, 1, &chain), 0);
	assert_true(chain.found);
	assert_int_equal(chain.last_seq, 4);
	assert_int_equal(store_report_digest(f->s, f->agent, 1, 1, digest), 0);
	assert_int_equal(store_report_digest(f->s, f->agent, 1, 3, digest), 1);

	/* the point never moves back */
	assert_int_equal(store_prune_mark(f->s, 2 * HOUR, 100, &point), 0);
	assert_int_equal(point, 4 * HOUR);
	assert_int_equal(store_pruned_before(f->s, &point), 0);
	assert_int_equal(point, 4 * HOUR);
	assert_int_equal(store_prune_step(f->s, 10, &rows, &reports), 0);
	assert_int_equal(rows, 4);

	/* the latest report of a chain stays without its envelope once its
	 * window is pruned; the agent's latest too */
	assert_int_equal(store_prune_mark(f->s, 6 * HOUR, 101, &point), 0);
	assert_int_equal(store_prune_step(f->s, 10, &rows, &reports), 0);
	assert_int_equal(rows, 8);
	assert_int_equal(reports, 3);
	assert_int_equal(store_report_digest(f->s, f->agent, 1, 4, digest), 1);
	assert_int_equal(acme_sum(f, 0, 6 * HOUR, &err), 150);
	assert_int_equal(reports_with_envelope(f), 0);
	assert_int_equal(count_sql(f, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
	assert_int_equal(count_sql(f, "SELECT foreign_keys FROM pragma_foreign_keys"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_dedup_and_sum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_and_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hourly_and_bad_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollup_equals_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_agents_from_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enrolled_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collector_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_retired_from_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_losses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_losses_from_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_detail, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
