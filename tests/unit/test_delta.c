/* Baseline and deltas, the state file, and crash roll-forward from the
 * spool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta.h"
#include "metric.h"
#include "reportbuild.h"
#include "spool.h"
#include "state.h"

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

static uint64_t base_of(struct delta_table *t, struct meter_row r)
{
	uint64_t v = 12345;

	assert_int_equal(delta_get(t, &r, &v), 1);
	return v;
}

static void test_deltas(void **state)
{
	struct delta_table *t;
	struct meter_row cur[4], *d;
	size_t nd;

	assert_int_equal(delta_new(&t), 0);
	cur[0] = row("acme", METRIC_API_REQUESTS, "/v1/items/*", "GET", 2, 10);
	cur[1] = row("acme", METRIC_API_REQUESTS, "/v1/items/*", "GET", 5, 3);
	cur[2] = row("acme", METRIC_API_REQUESTS, "/v1/items/*", "POST", 2, 7);
	cur[3] = row("globex", METRIC_CPU_NS, "", "", 0, 1000);
	assert_int_equal(delta_set(t, cur, 4), 0);
	assert_int_equal(delta_count(t), 4);

	/* only what grew, by how much; dimensions keep keys apart */
	cur[0].value = 15;
	cur[3].value = 1500;
	assert_int_equal(delta_compute(t, cur, 4, &d, &nd), 0);
	assert_int_equal(nd, 2);
	assert_string_equal(d[0].tenant, "acme");
	assert_int_equal(d[0].status_class, 2);
	assert_int_equal(d[0].value, 5);
	assert_int_equal(d[1].value, 500);
	/* computing does not move the baseline; applying does */
	assert_int_equal(base_of(t, cur[0]), 10);
	assert_int_equal(delta_apply(t, d, nd), 0);
	assert_int_equal(base_of(t, cur[0]), 15);
	assert_int_equal(base_of(t, cur[3]), 1500);
	free(d);

	/* a new key counts from zero */
	struct meter_row fresh = row("initech", METRIC_TCP_CONNECTIONS, "", "", 0, 4);

	assert_int_equal(delta_compute(t, &fresh, 1, &d, &nd), 0);
	assert_int_equal(nd, 1);
	assert_int_equal(d[0].value, 4);
	free(d);

	/* a counter below its baseline was reset: counted from zero */
	cur[1].value = 1;
	assert_int_equal(delta_compute(t, &cur[1], 1, &d, &nd), 0);
	assert_int_equal(nd, 1);
	assert_int_equal(d[0].value, 1);
	assert_int_equal(delta_apply(t, d, nd), 0);
	assert_int_equal(base_of(t, cur[1]), 1);
	free(d);
	delta_free(t);
}

static void test_many_keys(void **state)
{
	struct delta_table *t;
	struct meter_row r;

	assert_int_equal(delta_new(&t), 0);
	for (int i = 0; i < 5000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "tenant-%d", i);
		r = row(name, 1 + i % 7, "", "", 0, (uint64_t)i);
		assert_int_equal(delta_apply(t, &r, 1), 0);
		assert_int_equal(delta_apply(t, &r, 1), 0);
	}
	assert_int_equal(delta_count(t), 5000);
	r = row("tenant-4321", 1 + 4321 % 7, "", "", 0, 0);
	assert_int_equal(base_of(t, r), 2 * 4321);
	r = row("tenant-4321", 1 + 4322 % 7, "", "", 0, 0);
	assert_int_equal(delta_get(t, &r, &r.value), 0);
	delta_free(t);
}

struct fixture {
	char dir[64];
	char state[128];
	char spool[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/tm-test-delta.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_state_file(void **state)
{
	struct fixture *f = *state;
	struct agent_state a, b;
	struct meter_row r[2];
	int fd;

	assert_int_equal(state_load(f->state, &a), -ENOENT);
	assert_int_equal(state_init(&a), 0);
	assert_true(a.epoch != 0);
	a.seq = 42;
	a.window_end_ms = 1764000000000;
	a.spool_drops = 3;
	memset(a.last_digest, 0x5a, sizeof(a.last_digest));
	r[0] = row("acme", METRIC_API_REQUESTS, "/v1/*", "GET", 2, 99);
	r[1] = row("globex", METRIC_NET_RX_BYTES, "", "", 0, 1ULL << 40);
	assert_int_equal(delta_set(a.baseline, r, 2), 0);
	assert_int_equal(state_save(f->state, &a), 0);

	assert_int_equal(state_load(f->state, &b), 0);
	assert_int_equal(b.epoch, a.epoch);
	assert_int_equal(b.seq, 42);
	assert_int_equal(b.window_end_ms, 1764000000000);
	assert_int_equal(b.spool_drops, 3);
	assert_memory_equal(b.last_digest, a.last_digest, sizeof(a.last_digest));
	assert_int_equal(delta_count(b.baseline), 2);
	assert_int_equal(base_of(b.baseline, r[0]), 99);
	assert_int_equal(base_of(b.baseline, r[1]), 1ULL << 40);
	state_free(&b);

	/* one flipped byte anywhere: detected, never half-loaded */
	fd = open(f->state, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 100), 1);
	close(fd);
	assert_int_equal(state_load(f->state, &b), -EBADMSG);
	assert_null(b.baseline);
	state_free(&a);
}

/* What the agent does for one window, minus the state save. */
static void spool_window(struct agent_state *st, const struct report_key *key,
			 struct spool *sp, const struct meter_row *cur, size_t n,
			 uint64_t drops)
{
	struct meter_row *d;
	size_t nd, len;
	Truemeter__Report *r;
	uint8_t *env, digest[REPORT_DIGEST_LEN];
	struct reportbuild_in in = {
		.agent_id = key->pk, .epoch = st->epoch, .seq = st->seq + 1,
		.window_start_ms = st->window_end_ms,
		.window_end_ms = st->window_end_ms + 1000,
		.prev_digest = st->seq ? st->last_digest : NULL,
		.spool_drops = drops, .hostname = "h",
	};

	assert_int_equal(delta_compute(st->baseline, cur, n, &d, &nd), 0);
	in.deltas = d;
	in.n_deltas = nd;
	assert_int_equal(reportbuild_make(&in, &r), 0);
	assert_int_equal(report_seal(key, r, &env, &len, digest), 0);
	assert_int_equal(spool_add(sp, st->epoch, in.seq, env, len), 0);
	assert_int_equal(delta_apply(st->baseline, d, nd), 0);
	st->seq = in.seq;
	st->window_end_ms = in.window_end_ms;
	memcpy(st->last_digest, digest, REPORT_DIGEST_LEN);
	st->spool_drops = drops;
	reportbuild_free(r);
	free(env);
	free(d);
}

static void test_roll_forward(void **state)
{
	struct fixture *f = *state;
	struct agent_state live, disk;
	struct report_key key;
	struct spool *sp;
	struct meter_row cur[2];
	char kp[160], pp[160];

	snprintf(kp, sizeof(kp), "%s/k", f->dir);
	snprintf(pp, sizeof(pp), "%s/k.pub", f->dir);
	assert_int_equal(report_keygen(kp, pp), 0);
	assert_int_equal(report_key_load(kp, &key), 0);
	assert_int_equal(spool_open(f->spool, 0, 0, &sp), 0);
	assert_int_equal(state_init(&live), 0);
	live.window_end_ms = 1000;
	cur[0] = row("acme", METRIC_API_REQUESTS, "/a", "GET", 2, 100);
	cur[1] = row("acme", METRIC_CPU_NS, "", "", 0, 5000);
	assert_int_equal(delta_set(live.baseline, cur, 2), 0);

	/* window 1 saved normally */
	cur[0].value = 130;
	spool_window(&live, &key, sp, cur, 2, 0);
	assert_int_equal(state_save(f->state, &live), 0);
	/* windows 2 and 3 spooled, then the agent "dies" before saving */
	cur[0].value = 170;
	cur[1].value = 9000;
	spool_window(&live, &key, sp, cur, 2, 0);
	cur[0].value = 171;
	spool_window(&live, &key, sp, cur, 2, 4);

	assert_int_equal(state_load(f->state, &disk), 0);
	assert_int_equal(disk.seq, 1);
	assert_int_equal(state_roll_forward(&disk, key.pk, sp), 2);
	/* exactly the state the agent would have saved */
	assert_int_equal(disk.seq, 3);
	assert_int_equal(disk.window_end_ms, live.window_end_ms);
	assert_int_equal(disk.spool_drops, 4);
	assert_memory_equal(disk.last_digest, live.last_digest, REPORT_DIGEST_LEN);
	assert_int_equal(base_of(disk.baseline, cur[0]), 171);
	assert_int_equal(base_of(disk.baseline, cur[1]), 9000);
	/* nothing more to roll */
	assert_int_equal(state_roll_forward(&disk, key.pk, sp), 0);
	state_free(&disk);

	/* another key's report with the right seq is not adopted */
	struct report_key other;

	snprintf(kp, sizeof(kp), "%s/o", f->dir);
	snprintf(pp, sizeof(pp), "%s/o.pub", f->dir);
	assert_int_equal(report_keygen(kp, pp), 0);
	assert_int_equal(report_key_load(kp, &other), 0);
	assert_int_equal(state_load(f->state, &disk), 0);
	assert_int_equal(state_roll_forward(&disk, other.pk, sp), 0);
	assert_int_equal(disk.seq, 1);
	state_free(&disk);
	state_free(&live);
	spool_close(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deltas),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test_setup_teardown(test_state_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roll_forward, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
