/* SQLite store: report ingest, dedup, chain lookups, usage queries, gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metric.h"
#include "store.h"

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

/* One report with two rows for tenants "acme" and "globex". */
static int put(struct fixture *f, uint64_t seq, int64_t start_ms, uint64_t acme,
	       uint64_t globex, uint64_t gap_from, uint64_t gap_to)
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
	return store_report_put(f->s, &r, digest, gap_from, gap_to, "test gap");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_dedup_and_sum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_and_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hourly_and_bad_rows, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
