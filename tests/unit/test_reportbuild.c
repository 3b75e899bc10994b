/* Report building: interning (index 0 = ""), zero rows left out, health,
 * the chain fields, and reading rows back out. */
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
#include "reportbuild.h"

static struct meter_row row(const char *tenant, int metric, const char *route,
			    const char *method, int status, uint64_t v)
{
	struct meter_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.tenant, sizeof(r.tenant), "%s", tenant);
	snprintf(r.route, sizeof(r.route), "%s", route);
	snprintf(r.method, sizeof(r.method), "%s", method);
	r.metric = metric;
	r.status_class = (uint8_t)status;
	r.value = v;
	return r;
}

static const uint8_t pk[REPORT_PK_LEN] = { 1, 2, 3 };

static void test_interning(void **state)
{
	struct meter_row d[5];
	struct meter_health h = { .map_overflow = 2, .event_drops = 1 };
	Truemeter__Report *r;
	struct reportbuild_in in = {
		.agent_id = pk, .epoch = 9, .seq = 1, .window_start_ms = 1000,
		.window_end_ms = 2000, .deltas = d, .n_deltas = 5, .health = &h,
		.spool_drops = 3, .spool_bytes = 4096, .hostname = "web-1",
		.map_overflow_window = 1, .event_drops_window = 1,
	};

	d[0] = row("acme", METRIC_API_REQUESTS, "/v1/items/*", "GET", 2, 10);
	d[1] = row("acme", METRIC_API_REQUESTS, "/v1/items/*", "POST", 2, 5);
	d[2] = row("globex", METRIC_API_REQUESTS, "/v1/items/*", "GET", 5, 1);
	d[3] = row("globex", METRIC_CPU_NS, "", "", 0, 0);      /* zero: left out */
	d[4] = row("acme", METRIC_NET_RX_BYTES, "", "", 0, 77);
	snprintf(h.attached[0], METER_HOOK_NAME_LEN, "cgroup_skb");
	snprintf(h.missing[0], METER_HOOK_NAME_LEN, "xdp");
	h.n_attached = h.n_missing = 1;
	assert_int_equal(reportbuild_make(&in, &r), 0);

	/* "", acme, the route, GET, POST, globex: each once */
	assert_int_equal(r->n_strings, 6);
	assert_string_equal(r->strings[0], "");
	for (size_t i = 0; i < r->n_strings; i++)
		for (size_t j = i + 1; j < r->n_strings; j++)
			assert_string_not_equal(r->strings[i], r->strings[j]);
	assert_int_equal(r->n_rows, 4);
	assert_string_equal(r->strings[r->rows[0]->tenant], "acme");
	assert_string_equal(r->strings[r->rows[1]->method], "POST");
	assert_int_equal(r->rows[1]->route, r->rows[0]->route);
	assert_string_equal(r->strings[r->rows[2]->tenant], "globex");
	assert_int_equal(r->rows[2]->status_class, 5);
	assert_int_equal(r->rows[3]->route, 0);
	assert_int_equal(r->rows[3]->method, 0);
	assert_int_equal(r->rows[3]->value, 77);
	assert_int_equal(r->rows[3]->metric, TRUEMETER__METRIC__NET_RX_BYTES);
	/* identity, chain and health */
	assert_int_equal(r->agent_id.len, REPORT_PK_LEN);
	assert_memory_equal(r->agent_id.data, pk, REPORT_PK_LEN);
	assert_int_equal(r->prev_digest.len, 0);
	assert_string_equal(r->hostname, "web-1");
	assert_int_equal(r->health->spool_drops, 3);
	assert_int_equal(r->health->spool_bytes, 4096);
	assert_int_equal(r->health->map_overflow, 2);
	assert_int_equal(r->health->event_drops, 1);
	assert_int_equal(r->health->map_overflow_window, 1);
	assert_int_equal(r->health->event_drops_window, 1);
	assert_int_equal(r->health->n_hooks_attached, 1);
	assert_string_equal(r->health->hooks_missing[0], "xdp");

	/* rows read back equal the non-zero deltas */
	struct meter_row *back;
	size_t n;

	assert_int_equal(reportbuild_rows(r, &back, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(back[2].tenant, "globex");
	assert_string_equal(back[2].route, "/v1/items/*");
	assert_string_equal(back[2].method, "GET");
	assert_int_equal(back[2].value, 1);
	assert_string_equal(back[3].route, "");
	free(back);
	reportbuild_free(r);
}

static void test_seal_roundtrip(void **state)
{
	struct meter_row d = row("acme", METRIC_TCP_CONNECTIONS, "", "", 0, 3);
	uint8_t prev[REPORT_DIGEST_LEN], digest[REPORT_DIGEST_LEN], d2[REPORT_DIGEST_LEN];
	struct report_key key;
	Truemeter__Report *r, *back;
	uint8_t *env;
	size_t len;
	char err[128];

	assert_int_equal(report_keygen("/tmp/tm-test-rb.key", "/tmp/tm-test-rb.pub"), 0);
	assert_int_equal(report_key_load("/tmp/tm-test-rb.key", &key), 0);
	unlink("/tmp/tm-test-rb.key");
	unlink("/tmp/tm-test-rb.pub");
	memset(prev, 0xee, sizeof(prev));
	struct reportbuild_in in = {
		.agent_id = key.pk, .epoch = 1, .seq = 2, .deltas = &d, .n_deltas = 1,
		.prev_digest = prev,
	};

	assert_int_equal(reportbuild_make(&in, &r), 0);
	assert_int_equal(report_seal(&key, r, &env, &len, digest), 0);
	assert_int_equal(report_open(env, len, &back, d2, err, sizeof(err)), 0);
	assert_memory_equal(digest, d2, sizeof(d2));
	assert_int_equal(back->seq, 2);
	assert_int_equal(back->prev_digest.len, REPORT_DIGEST_LEN);
	assert_memory_equal(back->prev_digest.data, prev, REPORT_DIGEST_LEN);
	assert_int_equal(back->n_rows, 1);
	assert_string_equal(back->hostname, "");
	report_free(back);
	free(env);
	reportbuild_free(r);
}

/* Splitting a window: every part, sealed with the health fields at their
 * largest, stays within max_bytes; each part is the longest prefix that
 * fits; the parts hold every row once. */
static void test_fit(void **state)
{
	enum { N = 500 };
	static const size_t limits[] = { 700, 1000, 2048, 5000, 1 << 20 };
	struct meter_row *d = calloc(N, sizeof(*d));
	struct meter_health h = { .map_overflow = 1 };
	struct report_key key;
	char kpath[64], ppath[64];
	uint64_t sum = 0;

	assert_non_null(d);
	snprintf(kpath, sizeof(kpath), "/tmp/tm-test-fit.%d.key", (int)getpid());
	snprintf(ppath, sizeof(ppath), "/tmp/tm-test-fit.%d.pub", (int)getpid());
	assert_int_equal(report_keygen(kpath, ppath), 0);
	assert_int_equal(report_key_load(kpath, &key), 0);
	unlink(kpath);
	unlink(ppath);
	for (int i = 0; i < N; i++) {
		char t[32];

		snprintf(t, sizeof(t), "tenant-%03d", i / 2);
		d[i] = row(t, i % 2 ? METRIC_NET_TX_BYTES : METRIC_CPU_NS, "", "", 0,
			   UINT64_MAX - (uint64_t)i);
		sum += (uint64_t)i;
	}
	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		size_t off = 0, parts = 0, rows = 0;
		uint64_t got = 0;

		while (off < N) {
			struct reportbuild_in in = {
				.agent_id = key.pk, .epoch = 1, .seq = 7, .health = &h,
				.hostname = "web-1", .deltas = d + off, .n_deltas = N - off,
			};
			Truemeter__Report *r;
			uint8_t *env, digest[REPORT_DIGEST_LEN];
			size_t n, len, size;

			assert_int_equal(reportbuild_fit(&in, limits[l], &n, &size), 0);
			assert_true(n >= 1 && n <= N - off);
			if (off + n < N) {      /* one row more would not fit */
				in.n_deltas = n + 1;
				assert_int_equal(reportbuild_make(&in, &r), 0);
				assert_true(truemeter__report__get_packed_size(r) +
					    REPORTBUILD_SLACK > limits[l]);
				reportbuild_free(r);
			}
			in.n_deltas = n;
			assert_int_equal(reportbuild_make(&in, &r), 0);
			assert_int_equal(truemeter__report__get_packed_size(r), size);
			reportbuild_free(r);
			in.spool_drops = in.spool_bytes = UINT64_MAX;
			assert_int_equal(reportbuild_make(&in, &r), 0);
			assert_int_equal(report_seal(&key, r, &env, &len, digest), 0);
			assert_true(len <= limits[l]);
			for (size_t i = 0; i < r->n_rows; i++)
				got += UINT64_MAX - r->rows[i]->value;
			rows += r->n_rows;
			free(env);
			reportbuild_free(r);
			off += n;
			parts++;
		}
		assert_int_equal(rows, N);
		assert_int_equal(got, sum);
		if (limits[l] >= 1 << 20)
			assert_int_equal(parts, 1);
		else
			assert_true(parts > 1);
	}

	/* not even one row, or an empty report, fits */
	struct reportbuild_in in = { .agent_id = key.pk, .epoch = 1, .seq = 1,
				     .deltas = d, .n_deltas = N };
	size_t n = 99, size = 99;

	assert_int_equal(reportbuild_fit(&in, 100, &n, &size), -EMSGSIZE);
	assert_int_equal(n, 0);
	assert_int_equal(size, 0);
	in.n_deltas = 0;
	assert_int_equal(reportbuild_fit(&in, 100, &n, &size), -EMSGSIZE);
	assert_int_equal(reportbuild_fit(&in, 1024, &n, &size), 0);
	assert_int_equal(n, 0);
	assert_true(size > 0 && size < 1024);
	free(d);
}

static void test_empty_and_bad_index(void **state)
{
	Truemeter__Report *r;
	struct meter_row *back;
	size_t n;
	struct reportbuild_in in = { .agent_id = pk, .epoch = 1, .seq = 1 };

	assert_int_equal(reportbuild_make(&in, &r), 0);
	assert_int_equal(r->n_rows, 0);
	assert_int_equal(r->n_strings, 1);
	reportbuild_free(r);
	reportbuild_free(NULL);

	/* a row naming a string that does not exist is refused */
	struct meter_row d = row("acme", METRIC_API_REQUESTS, "", "", 0, 1);

	in.deltas = &d;
	in.n_deltas = 1;
	assert_int_equal(reportbuild_make(&in, &r), 0);
	r->rows[0]->tenant = 40;
	assert_int_equal(reportbuild_rows(r, &back, &n), -EBADMSG);
	r->rows[0]->tenant = 1;
	r->rows[0]->status_class = 9;
	assert_int_equal(reportbuild_rows(r, &back, &n), -EBADMSG);
	reportbuild_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interning),
		cmocka_unit_test(test_seal_roundtrip),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_empty_and_bad_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
