/* Baseline and deltas, the state file, the meter's losses per window, and
 * crash roll-forward from the spool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
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

static bool http_from_zero(const struct meter_row *key, void *ctx)
{
	(*(int *)ctx)++;
	return key->metric == METRIC_API_REQUESTS;
}

/* Counters made afresh: their keys' baseline goes to 0, so all they count
 * is new, even past the old value; the other keys keep theirs. */
static void test_zero_if(void **state)
{
	struct delta_table *t;
	struct meter_row cur[3], *d;
	size_t nd;
	int asked = 0;

	assert_int_equal(delta_new(&t), 0);
	cur[0] = row("acme", METRIC_API_REQUESTS, "other", "GET", 2, 10);
	cur[1] = row("acme", METRIC_CPU_NS, "", "", 0, 1000);
	cur[2] = row("acme", METRIC_API_REQUESTS, "other", "POST", 2, 0);
	assert_int_equal(delta_set(t, cur, 3), 0);
	/* one key with a value to lose; the zero one is not counted */
	assert_int_equal(delta_zero_if(t, http_from_zero, &asked), 1);
	assert_int_equal(asked, 2);
	assert_int_equal(base_of(t, cur[0]), 0);
	assert_int_equal(base_of(t, cur[1]), 1000);
	cur[0].value = 12;
	cur[1].value = 1200;
	assert_int_equal(delta_compute(t, cur, 2, &d, &nd), 0);
	assert_int_equal(nd, 2);
	assert_int_equal(d[0].value, 12);
	assert_int_equal(d[1].value, 200);
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
	a.lost.map_overflow = 7;
	a.lost.event_drops = 1ULL << 35;
	a.lost_known = true;
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
	assert_true(b.lost_known);
	assert_int_equal(b.lost.map_overflow, 7);
	assert_int_equal(b.lost.event_drops, 1ULL << 35);
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

static uint8_t *le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* A state file of version 1, written before the loss counters were kept:
 * it loads, with the losses unknown, and the next save is version 2. */
static void test_state_file_v1(void **state)
{
	struct fixture *f = *state;
	struct meter_row r = row("acme", METRIC_API_REQUESTS, "/a", "GET", 2, 0);
	uint8_t buf[8 + 8 * 4 + 32 + 8 + METER_TENANT_LEN + 4 + METER_ROUTE_LEN +
		    METER_METHOD_LEN + 1 + 8 + 32] = { 0 }, *p = buf;
	struct agent_state a;
	FILE *fp;

	memcpy(p, "TMSTATE1", 8);
	p = le64(p + 8, 0xe90c);                       /* epoch */
	p = le64(p, 5);                                /* seq */
	p = le64(p, 1764000000000);                    /* window end */
	p = le64(p, 2);                                /* spool drops */
	memset(p, 0xab, 32);                           /* digest */
	p = le64(p + 32, 1);                           /* one row */
	memcpy(p, r.tenant, strlen(r.tenant));
	p += METER_TENANT_LEN;
	*p = METRIC_API_REQUESTS;
	p += 4;
	memcpy(p, r.route, strlen(r.route));
	p += METER_ROUTE_LEN;
	memcpy(p, r.method, strlen(r.method));
	p += METER_METHOD_LEN;
	*p++ = 2;
	p = le64(p, 640);
	assert_int_equal(p + 32 - buf, sizeof(buf));
	crypto_generichash(p, 32, buf, (size_t)(p - buf), NULL, 0);
	fp = fopen(f->state, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);

	assert_int_equal(state_load(f->state, &a), 0);
	assert_int_equal(a.epoch, 0xe90c);
	assert_int_equal(a.seq, 5);
	assert_int_equal(a.spool_drops, 2);
	assert_int_equal(base_of(a.baseline, r), 640);
	assert_false(a.lost_known);
	/* unknown: the first window declares none, whatever the counters say */
	assert_int_equal(state_losses_since(&a, 9, 9).map_overflow, 0);
	assert_int_equal(state_losses_since(&a, 9, 9).event_drops, 0);
	a.lost.event_drops = 9;
	a.lost_known = true;
	assert_int_equal(state_save(f->state, &a), 0);
	state_free(&a);
	assert_int_equal(state_load(f->state, &a), 0);
	assert_true(a.lost_known);
	assert_int_equal(a.lost.event_drops, 9);
	assert_int_equal(base_of(a.baseline, r), 640);
	state_free(&a);

	/* the old magic with the new length is no v1 file */
	buf[7] = '2';
	crypto_generichash(buf + sizeof(buf) - 32, 32, buf, sizeof(buf) - 32, NULL, 0);
	fp = fopen(f->state, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	assert_int_equal(state_load(f->state, &a), -EBADMSG);
}

/* A window's losses: what the cumulative counters gained since the last
 * report; all of a counter that went down (its maps created afresh). */
static void test_losses_since(void **state)
{
	struct agent_state a;
	struct state_losses l;

	(void)state;
	assert_int_equal(state_init(&a), 0);
	assert_false(a.lost_known);
	a.lost.map_overflow = 10;
	a.lost.event_drops = 100;
	a.lost_known = true;
	l = state_losses_since(&a, 10, 100);
	assert_int_equal(l.map_overflow, 0);
	assert_int_equal(l.event_drops, 0);
	l = state_losses_since(&a, 13, 250);
	assert_int_equal(l.map_overflow, 3);
	assert_int_equal(l.event_drops, 150);
	l = state_losses_since(&a, 4, 100);            /* overflow restarted */
	assert_int_equal(l.map_overflow, 4);
	assert_int_equal(l.event_drops, 0);
	l = state_losses_since(&a, UINT64_MAX, 0);
	assert_int_equal(l.map_overflow, UINT64_MAX - 10);
	assert_int_equal(l.event_drops, 0);
	state_free(&a);
}

/* What the agent does for one window, minus the state save; drops is the
 * spool's, lost the meter's cumulative {map_overflow, event_drops}. */
static void spool_window(struct agent_state *st, const struct report_key *key,
			 struct spool *sp, const struct meter_row *cur, size_t n,
			 uint64_t drops, const uint64_t lost[2])
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
	struct meter_health h = { .map_overflow = lost[0], .event_drops = lost[1] };
	struct state_losses l = state_losses_since(st, lost[0], lost[1]);

	in.health = &h;
	in.map_overflow_window = l.map_overflow;
	in.event_drops_window = l.event_drops;
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
	state_losses_declared(st, lost[0], lost[1]);
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
	const uint64_t none[2] = { 0, 0 }, some[2] = { 2, 30 };

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
	spool_window(&live, &key, sp, cur, 2, 0, none);
	assert_int_equal(state_save(f->state, &live), 0);
	/* windows 2 and 3 spooled, then the agent "dies" before saving */
	cur[0].value = 170;
	cur[1].value = 9000;
	spool_window(&live, &key, sp, cur, 2, 0, none);
	cur[0].value = 171;
	spool_window(&live, &key, sp, cur, 2, 4, some);

	assert_int_equal(state_load(f->state, &disk), 0);
	assert_int_equal(disk.seq, 1);
	assert_int_equal(state_roll_forward(&disk, key.pk, sp), 2);
	/* exactly the state the agent would have saved */
	assert_int_equal(disk.seq, 3);
	assert_int_equal(disk.window_end_ms, live.window_end_ms);
	assert_int_equal(disk.spool_drops, 4);
	assert_true(disk.lost_known);
	assert_int_equal(disk.lost.map_overflow, 2);
	assert_int_equal(disk.lost.event_drops, 30);
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
		cmocka_unit_test(test_zero_if),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test_setup_teardown(test_state_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_file_v1, setup, teardown),
		cmocka_unit_test(test_losses_since),
		cmocka_unit_test_setup_teardown(test_roll_forward, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
