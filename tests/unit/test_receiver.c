/* Receiver decisions against a real SQLite store in a temp file: OK,
 * DUPLICATE, conflicting and chain-broken rejections, gaps, seq rules,
 * enrolment, garbage, and that rejections leave the store unchanged; and
 * retention of the reports it stored (resends, archives). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "enrol.h"
#include "metric.h"
#include "receiver.h"
#include "reportbuild.h"
#include "retention.h"
#include "store.h"

struct fixture {
	char dir[64];
	char db[128];
	struct store *store;
	struct enrol *enrol;
	struct receiver *recv;
	struct report_key key, stranger;
	uint8_t last[REPORT_DIGEST_LEN];
};

static void keygen(struct fixture *f, const char *name, struct report_key *k)
{
	char priv[160], pub[160];

	snprintf(priv, sizeof(priv), "%s/%s.key", f->dir, name);
	snprintf(pub, sizeof(pub), "%s/%s.pub", f->dir, name);
	assert_int_equal(report_keygen(priv, pub), 0);
	assert_int_equal(report_key_load(priv, k), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/tm-test-recv.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
	keygen(f, "agent", &f->key);
	keygen(f, "stranger", &f->stranger);
	assert_int_equal(store_open(f->db, &f->store), 0);
	/* enrolled through the config list, not the directory */
	assert_int_equal(enrol_new(NULL, (const uint8_t (*)[REPORT_PK_LEN])f->key.pk, 1,
				   &f->enrol), 0);
	assert_int_equal(receiver_new(f->store, f->enrol, 65536, &f->recv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	receiver_free(f->recv);
	enrol_free(f->enrol);
	store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* What the next reports declare (test_agent_health); none by default. */
static const struct meter_health *make_health;
static const char *make_hostname;

/* A sealed report of key k: value goes to tenant acme's api_requests. */
static void make(const struct report_key *k, uint64_t epoch, uint64_t seq,
		 const uint8_t *prev, uint64_t value, uint64_t drops,
		 uint8_t **env, size_t *len, uint8_t digest[REPORT_DIGEST_LEN])
{
	struct meter_row d;
	Truemeter__Report *r;
	struct reportbuild_in in = {
		.agent_id = k->pk, .epoch = epoch, .seq = seq,
		.window_start_ms = (int64_t)seq * 1000,
		.window_end_ms = (int64_t)seq * 1000 + 1000,
		.deltas = &d, .n_deltas = 1, .prev_digest = prev, .spool_drops = drops,
		.health = make_health, .hostname = make_hostname,
	};

	memset(&d, 0, sizeof(d));
	strcpy(d.tenant, "acme");
	d.metric = METRIC_API_REQUESTS;
	d.value = value;
	assert_int_equal(reportbuild_make(&in, &r), 0);
	assert_int_equal(report_seal(k, r, env, len, digest), 0);
	reportbuild_free(r);
}

/* Sends buf, returns the ack status (and checks its epoch/seq echo). */
static int send_buf(struct fixture *f, const uint8_t *buf, size_t len, char *error)
{
	uint8_t *ack;
	size_t acklen;
	Truemeter__Ack *a;
	int st;

	assert_int_equal(receiver_process(f->recv, buf, len, &ack, &acklen), 0);
	a = truemeter__ack__unpack(NULL, acklen, ack);
	assert_non_null(a);
	st = a->status;
	if (error)
		snprintf(error, 256, "%s", a->error);
	truemeter__ack__free_unpacked(a, NULL);
	free(ack);
	return st;
}

/* Builds and sends seq with prev = f->last; remembers its digest. */
static int send_seq(struct fixture *f, uint64_t epoch, uint64_t seq, uint64_t value,
		    bool chained, uint64_t drops)
{
	uint8_t *env, digest[REPORT_DIGEST_LEN];
	size_t len;
	int st;

	make(&f->key, epoch, seq, chained ? f->last : NULL, value, drops, &env, &len,
	     digest);
	st = send_buf(f, env, len, NULL);
	if (st == TRUEMETER__ACK__STATUS__OK)
		memcpy(f->last, digest, REPORT_DIGEST_LEN);
	free(env);
	return st;
}

static int sum_cb(const struct store_usage *u, void *arg)
{
	*(uint64_t *)arg += u->value;
	return 0;
}

static uint64_t stored_total(struct fixture *f)
{
	uint64_t total = 0;

	assert_int_equal(store_usage_sum(f->store, NULL, 0, 0, INT64_MAX, sum_cb, &total), 0);
	return total;
}

static int gap_cb(const struct store_gap *g, void *arg)
{
	char *out = arg;

	snprintf(out, 256, "%llu-%llu %s", (unsigned long long)g->from_seq,
		 (unsigned long long)g->to_seq, g->reason);
	return 0;
}

static void test_chain_and_dedup(void **state)
{
	struct fixture *f = *state;
	struct receiver_stats st;
	uint8_t *env, d1[REPORT_DIGEST_LEN];
	size_t len;
	char err[256];

	assert_int_equal(send_seq(f, 5, 1, 10, false, 0), TRUEMETER__ACK__STATUS__OK);
	/* resend of seq 1: DUPLICATE, nothing stored twice */
	make(&f->key, 5, 1, NULL, 10, 0, &env, &len, d1);
	assert_int_equal(send_buf(f, env, len, NULL), TRUEMETER__ACK__STATUS__DUPLICATE);
	free(env);
	assert_int_equal(stored_total(f), 10);
	/* same seq, other content: conflicting */
	make(&f->key, 5, 1, NULL, 11, 0, &env, &len, d1);
	assert_int_equal(send_buf(f, env, len, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "conflicting"));
	free(env);
	assert_int_equal(send_seq(f, 5, 2, 20, true, 0), TRUEMETER__ACK__STATUS__OK);
	/* seq 3 chained to the wrong digest: chain broken */
	memset(d1, 0x33, sizeof(d1));
	make(&f->key, 5, 3, d1, 30, 0, &env, &len, d1);
	assert_int_equal(send_buf(f, env, len, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "chain broken"));
	free(env);
	assert_int_equal(send_seq(f, 5, 3, 30, true, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(stored_total(f), 60);
	receiver_stats_get(f->recv, &st);
	assert_int_equal(st.stored, 3);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.rejected[RECV_REJ_CONFLICT], 1);
	assert_int_equal(st.rejected[RECV_REJ_CHAIN], 1);
}

/* A report of the enrolled key, its signature good, that the store cannot
 * hold: refused as such, not answered RETRY (which an agent would resend
 * forever, its later reports waiting behind it).  kind: 0 a row naming a
 * string the report lacks, 1 an empty tenant, 2 a value above INT64_MAX,
 * 3 a window that ends before it starts. */
static int send_bad_content(struct fixture *f, uint64_t seq, int kind, char *err)
{
	struct meter_row d = { .tenant = "acme", .metric = METRIC_API_REQUESTS, .value = 5 };
	struct reportbuild_in in = {
		.agent_id = f->key.pk, .epoch = 8, .seq = seq, .prev_digest = seq > 1 ? f->last : NULL,
		.window_start_ms = 1000 * (int64_t)seq, .window_end_ms = 1000 * (int64_t)seq + 1000,
		.deltas = &d, .n_deltas = 1,
	};
	uint8_t *env, digest[REPORT_DIGEST_LEN];
	Truemeter__Report *r;
	uint32_t tenant;
	size_t len;
	int st;

	assert_int_equal(reportbuild_make(&in, &r), 0);
	tenant = r->rows[0]->tenant;
	if (kind == 0)
		r->rows[0]->route = (uint32_t)r->n_strings;
	else if (kind == 1)
		r->strings[tenant][0] = '\0';
	else if (kind == 2)
		r->rows[0]->value = (uint64_t)INT64_MAX + 1;
	else
		r->window_end_ms = r->window_start_ms - 1;
	assert_int_equal(report_seal(&f->key, r, &env, &len, digest), 0);
	reportbuild_free(r);
	st = send_buf(f, env, len, err);
	free(env);
	return st;
}

static void test_bad_content(void **state)
{
	struct fixture *f = *state;
	struct receiver_stats st;
	char err[256];

	assert_int_equal(send_bad_content(f, 1, 0, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "row 0 names a string the report does not have"));
	assert_int_equal(send_bad_content(f, 1, 1, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "empty tenant"));
	assert_int_equal(send_bad_content(f, 1, 2, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "row 0: value 9223372036854775808 is out of range"));
	assert_int_equal(send_bad_content(f, 1, 3, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "window ends (999) before it starts (1000)"));
	assert_int_equal(stored_total(f), 0);
	/* the chain starts with the next good report */
	assert_int_equal(send_seq(f, 8, 1, 10, false, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(stored_total(f), 10);
	receiver_stats_get(f->recv, &st);
	assert_int_equal(st.rejected[RECV_REJ_CONTENT], 4);
	assert_int_equal(st.retries, 0);
}

static void test_gaps(void **state)
{
	struct fixture *f = *state;
	struct receiver_stats st;
	char gap[256] = "";

	assert_int_equal(send_seq(f, 8, 1, 1, false, 0), TRUEMETER__ACK__STATUS__OK);
	/* 2..4 dropped by the agent's full spool: accepted, gap recorded */
	assert_int_equal(send_seq(f, 8, 5, 5, true, 3), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(store_gaps(f->store, 0, INT64_MAX, gap_cb, gap), 0);
	assert_non_null(strstr(gap, "2-4"));
	assert_non_null(strstr(gap, "3 spool drops"));
	/* a late seq 3 is behind the head and is not stored */
	assert_int_equal(send_seq(f, 8, 3, 3, true, 0), TRUEMETER__ACK__STATUS__REJECTED);
	/* a new epoch starting past 1 is a gap too */
	assert_int_equal(send_seq(f, 9, 4, 4, true, 0), TRUEMETER__ACK__STATUS__OK);
	receiver_stats_get(f->recv, &st);
	assert_int_equal(st.gaps, 2);
	assert_int_equal(st.rejected[RECV_REJ_STALE], 1);
	assert_int_equal(stored_total(f), 10);
}

/* Retention: a report resent after its window was pruned is refused as
 * behind its chain, never counted twice, also in an older epoch than the
 * agent's latest report (a spool replayed after a restart); the chain
 * goes on from its head. */
static void test_pruned_resend(void **state)
{
	struct fixture *f = *state;
	struct receiver_stats st;
	uint64_t rows = 0, reports = 0;
	uint8_t *env, d[REPORT_DIGEST_LEN];
	int64_t point;
	char err[256];
	size_t len;

	/* the agent's latest report: epoch 6's seq 4 (its window, 4-5 s, is
	 * the latest) */
	for (uint64_t seq = 1; seq <= 4; seq++)
		assert_int_equal(send_seq(f, 6, seq, 1000, seq > 1, 0),
				 TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(send_seq(f, 5, 1, 10, false, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(send_seq(f, 5, 2, 20, true, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(send_seq(f, 5, 3, 30, true, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(store_prune_mark(f->store, 2 * 3600000, 1, &point), 0);
	assert_int_equal(store_prune_step(f->store, 100, &rows, &reports), 0);
	assert_int_equal(rows, 7);
	assert_int_equal(reports, 5);          /* each chain's head stays */
	make(&f->key, 5, 1, NULL, 10, 0, &env, &len, d);
	assert_int_equal(send_buf(f, env, len, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "behind the stored chain head 3"));
	assert_non_null(strstr(err, "or its window was pruned"));
	free(env);
	assert_int_equal(stored_total(f), 4060);
	assert_int_equal(send_seq(f, 5, 4, 40, true, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(stored_total(f), 4100);
	receiver_stats_get(f->recv, &st);
	assert_int_equal(st.stored, 8);
	assert_int_equal(st.rejected[RECV_REJ_STALE], 1);
}

/* Retention with an archive: the month about to lose its first windows is
 * first written whole as an audit bundle, which verifies with the agent's
 * key; an archive that cannot be written prunes nothing; a month archived
 * is not written again. */
static void test_retention_archive(void **state)
{
	struct fixture *f = *state;
	const int64_t april = 90LL * 86400000;          /* 1970-04-01 */
	struct retention_opts ro = { .days = 63 };
	struct retention_result res;
	struct audit_result ar = { 0 };
	char dir[160], path[192];
	int64_t point;

	assert_int_equal(send_seq(f, 5, 1, 10, false, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(send_seq(f, 5, 2, 20, true, 0), TRUEMETER__ACK__STATUS__OK);
	assert_int_equal(send_seq(f, 5, 3, 30, true, 0), TRUEMETER__ACK__STATUS__OK);
	snprintf(dir, sizeof(dir), "%s/no/such/dir", f->dir);
	ro.archive_dir = dir;
	assert_true(retention_prune(f->store, &ro, april, &res) < 0);
	assert_int_equal(store_pruned_before(f->store, &point), 0);
	assert_int_equal(point, 0);
	assert_int_equal(res.rows, 0);

	ro.archive_dir = f->dir;
	assert_int_equal(retention_prune(f->store, &ro, april, &res), 0);
	assert_int_equal(res.archived, 1);
	assert_int_equal(res.rows, 3);
	assert_int_equal(res.reports, 2);
	assert_int_equal(res.point_ms, 27LL * 86400000);      /* 63 days back */
	snprintf(path, sizeof(path), "%s/1970-01.tmb", f->dir);
	assert_int_equal(audit_verify(path, (const uint8_t (*)[REPORT_PK_LEN])f->key.pk, 1,
				      &ar), 0);
	assert_int_equal(ar.reports, 3);
	assert_int_equal(ar.verified, 3);
	assert_int_equal(ar.chain_breaks + ar.gaps + ar.bad_signatures, 0);
	assert_int_equal(ar.n_totals, 1);
	assert_int_equal(ar.totals[0].value, 60);
	audit_result_free(&ar);

	assert_int_equal(retention_prune(f->store, &ro, april + 86400000, &res), 0);
	assert_int_equal(res.archived, 0);
	assert_int_equal(res.rows, 0);
	assert_int_equal(stored_total(f), 60);
}

static void test_seq_rules(void **state)
{
	struct fixture *f = *state;
	uint8_t *env, d[REPORT_DIGEST_LEN], prev[REPORT_DIGEST_LEN] = { 1 };
	size_t len;
	char err[256];

	make(&f->key, 1, 0, NULL, 1, 0, &env, &len, d);
	assert_int_equal(send_buf(f, env, len, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "seq 0"));
	free(env);
	make(&f->key, 1, 1, prev, 1, 0, &env, &len, d);
	assert_int_equal(send_buf(f, env, len, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "empty prev_digest"));
	free(env);
	make(&f->key, 1, 2, NULL, 1, 0, &env, &len, d);
	assert_int_equal(send_buf(f, env, len, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "prev_digest is 0 bytes"));
	free(env);
	assert_int_equal(stored_total(f), 0);
}

static void test_bad_messages(void **state)
{
	struct fixture *f = *state;
	struct receiver_stats st;
	uint8_t *env, d[REPORT_DIGEST_LEN], junk[512];
	size_t len;
	char err[256];

	assert_int_equal(send_seq(f, 3, 1, 7, false, 0), TRUEMETER__ACK__STATUS__OK);
	/* unknown key */
	make(&f->stranger, 3, 2, f->last, 1, 0, &env, &len, d);
	assert_int_equal(send_buf(f, env, len, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "not enrolled"));
	free(env);
	/* flipped bits anywhere in a valid report: never accepted */
	make(&f->key, 3, 2, f->last, 1, 0, &env, &len, d);
	for (size_t i = 0; i < len; i++) {
		env[i] ^= 0x04;
		assert_int_equal(send_buf(f, env, len, NULL), TRUEMETER__ACK__STATUS__REJECTED);
		env[i] ^= 0x04;
	}
	/* truncated at every length */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(send_buf(f, env, i, NULL), TRUEMETER__ACK__STATUS__REJECTED);
	free(env);
	/* random bytes and an empty message */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(send_buf(f, junk, sizeof(junk), NULL), TRUEMETER__ACK__STATUS__REJECTED);
	assert_int_equal(send_buf(f, junk, 0, NULL), TRUEMETER__ACK__STATUS__REJECTED);
	/* oversized */
	uint8_t *big = calloc(1, 70000);

	assert_int_equal(send_buf(f, big, 70000, err), TRUEMETER__ACK__STATUS__REJECTED);
	assert_non_null(strstr(err, "max_message"));
	free(big);
	/* nothing of it reached the store; the chain still continues */
	assert_int_equal(stored_total(f), 7);
	assert_int_equal(send_seq(f, 3, 2, 1, true, 0), TRUEMETER__ACK__STATUS__OK);
	receiver_stats_get(f->recv, &st);
	assert_int_equal(st.rejected[RECV_REJ_UNKNOWN_KEY], 1);
	assert_int_equal(st.rejected[RECV_REJ_OVERSIZE], 1);
	assert_true(st.rejected[RECV_REJ_SIGNATURE] > 0);
	assert_true(st.rejected[RECV_REJ_DECODE] > 0);
	assert_int_equal(st.stored, 2);
}

static void test_enrol_dir(void **state)
{
	struct fixture *f = *state;
	struct enrol *e;

	/* setup wrote agent.pub and stranger.pub into dir: both enrolled */
	assert_int_equal(enrol_new(f->dir, NULL, 0, &e), 0);
	assert_int_equal(enrol_count(e), 2);
	assert_true(enrol_check(e, f->stranger.pk));
	enrol_free(e);
	assert_true(enrol_new("/nonexistent/tm", NULL, 0, &e) < 0);
}

/* A key removed from the directory is refused after a reload (SIGHUP); a
 * config key stays; a directory that cannot be read unenrols no one; a new
 * file is enrolled when its key first reports. */
static void test_enrol_revoke(void **state)
{
	struct fixture *f = *state;
	struct report_key other;
	char path[200], moved[200];
	struct enrol *e;

	assert_int_equal(enrol_new(f->dir, (const uint8_t (*)[REPORT_PK_LEN])f->key.pk, 1, &e),
			 0);
	assert_int_equal(enrol_count(e), 2);            /* agent (config and file), stranger */
	snprintf(path, sizeof(path), "%s/stranger.pub", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_true(enrol_check(e, f->stranger.pk));    /* until the directory is read */
	assert_int_equal(enrol_reload(e), 0);
	assert_false(enrol_check(e, f->stranger.pk));
	assert_int_equal(enrol_count(e), 1);
	snprintf(path, sizeof(path), "%s/agent.pub", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(enrol_reload(e), 0);
	assert_true(enrol_check(e, f->key.pk));         /* from the config */
	snprintf(moved, sizeof(moved), "%s.gone", f->dir);
	assert_int_equal(rename(f->dir, moved), 0);
	assert_true(enrol_reload(e) < 0);
	assert_int_equal(rename(moved, f->dir), 0);
	assert_int_equal(enrol_count(e), 1);
	sleep(1);                                       /* rescans are at most once a second */
	keygen(f, "other", &other);
	assert_true(enrol_check(e, other.pk));
	assert_int_equal(enrol_count(e), 2);
	enrol_free(e);
}

/* What the store lists of an agent (store_agents()), copied out. */
struct agent_seen {
	char agent[2 * REPORT_PK_LEN + 1];
	char hostname[64], hooks_missing[64];
	int64_t window_end_ms;
	uint64_t map_overflow, event_drops, spool_drops;
};

struct agents_seen {
	struct agent_seen *v;
	size_t n;
};

static int agent_seen_cb(const struct store_agent *a, void *arg)
{
	struct agents_seen *s = arg;
	struct agent_seen *e;

	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	assert_non_null(s->v);
	e = &s->v[s->n++];
	snprintf(e->agent, sizeof(e->agent), "%s", a->agent_hex);
	snprintf(e->hostname, sizeof(e->hostname), "%s", a->hostname);
	snprintf(e->hooks_missing, sizeof(e->hooks_missing), "%s", a->hooks_missing);
	e->window_end_ms = a->window_end_ms;
	e->map_overflow = a->map_overflow;
	e->event_drops = a->event_drops;
	e->spool_drops = a->spool_drops;
	return 0;
}

/* Every agent in the store, sorted by key; the caller frees ->v. */
static struct agents_seen agents_seen(struct store *s)
{
	struct agents_seen seen = { 0 };

	assert_int_equal(store_agents(s, agent_seen_cb, &seen), 0);
	return seen;
}

/* Each agent's latest declared health, as /metrics, the dashboard and
 * `truemeter agents` read it from the store: a later report replaces it;
 * a rejected one is not listed. */
static void test_agent_health(void **state)
{
	struct fixture *f = *state;
	struct agents_seen a;
	struct meter_health h = { .map_overflow = 2, .event_drops = 7, .n_missing = 1 };
	uint8_t *env, d[REPORT_DIGEST_LEN];
	size_t len;

	strcpy(h.missing[0], "tenant:sockops");
	make_health = &h;
	make_hostname = "web-1 \"edge\"";
	a = agents_seen(f->store);
	assert_int_equal(a.n, 0);
	free(a.v);
	assert_int_equal(send_seq(f, 9, 1, 1, false, 0), TRUEMETER__ACK__STATUS__OK);
	a = agents_seen(f->store);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.v[0].event_drops, 7);
	assert_int_equal(a.v[0].map_overflow, 2);
	assert_string_equal(a.v[0].hooks_missing, "tenant:sockops");
	assert_int_equal(a.v[0].spool_drops, 0);
	assert_int_equal(a.v[0].window_end_ms, 2000);
	assert_string_equal(a.v[0].hostname, "web-1 \"edge\"");
	assert_int_equal(strlen(a.v[0].agent), 2 * REPORT_PK_LEN);
	free(a.v);
	h.event_drops = 9;
	h.n_missing = 0;
	assert_int_equal(send_seq(f, 9, 2, 2, true, 3), TRUEMETER__ACK__STATUS__OK);
	/* a stranger's report is rejected: not listed */
	make(&f->stranger, 1, 1, NULL, 1, 0, &env, &len, d);
	assert_int_equal(send_buf(f, env, len, NULL), TRUEMETER__ACK__STATUS__REJECTED);
	free(env);
	a = agents_seen(f->store);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.v[0].event_drops, 9);
	assert_string_equal(a.v[0].hooks_missing, "");
	assert_int_equal(a.v[0].spool_drops, 3);
	assert_int_equal(a.v[0].window_end_ms, 3000);
	free(a.v);
	make_health = NULL;
	make_hostname = NULL;
}

/* A fleet larger than any fixed table: every enrolled agent is listed,
 * once, sorted, with its own latest window. */
static void test_agent_health_fleet(void **state)
{
	enum { FLEET = 1500 };
	struct fixture *f = *state;
	struct report_key *keys = calloc(FLEET, sizeof(*keys));
	uint8_t (*pks)[REPORT_PK_LEN] = calloc(FLEET, REPORT_PK_LEN);
	struct agents_seen a;
	struct receiver *recv, *own = f->recv;
	struct enrol *enrol;
	uint8_t *env, d[REPORT_DIGEST_LEN], d0[REPORT_DIGEST_LEN];
	size_t len;

	assert_non_null(keys);
	assert_non_null(pks);
	for (size_t i = 0; i < FLEET; i++) {
		crypto_sign_keypair(keys[i].pk, keys[i].sk);
		memcpy(pks[i], keys[i].pk, REPORT_PK_LEN);
	}
	assert_int_equal(enrol_new(NULL, (const uint8_t (*)[REPORT_PK_LEN])pks, FLEET,
				   &enrol), 0);
	assert_int_equal(receiver_new(f->store, enrol, 65536, &recv), 0);
	f->recv = recv;
	for (size_t i = 0; i < FLEET + 1; i++) {
		/* the first agent twice: a later window replaces its entry */
		make(&keys[i % FLEET], 1, i / FLEET + 1, i == FLEET ? d0 : NULL, 1, 0,
		     &env, &len, i ? d : d0);
		assert_int_equal(send_buf(f, env, len, NULL), TRUEMETER__ACK__STATUS__OK);
		free(env);
	}
	f->recv = own;
	a = agents_seen(f->store);
	assert_int_equal(a.n, FLEET);
	for (size_t i = 1; i < a.n; i++)
		assert_true(strcmp(a.v[i - 1].agent, a.v[i].agent) < 0);
	for (size_t i = 0; i < a.n; i++) {
		char hex[2 * REPORT_PK_LEN + 1];

		report_hex(keys[0].pk, REPORT_PK_LEN, hex);
		assert_int_equal(a.v[i].window_end_ms, strcmp(a.v[i].agent, hex) ? 2000 : 3000);
	}
	free(a.v);
	receiver_free(recv);
	enrol_free(enrol);
	free(pks);
	free(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_and_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pruned_resend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enrol_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enrol_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_health_fleet, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
