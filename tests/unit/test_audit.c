/* Audit bundles: export from a real store, verify independently, and catch
 * forged, missing, untrusted and re-chained reports. */
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

#include "audit.h"
#include "fileio.h"
#include "metric.h"
#include "store.h"

struct fixture {
	char dir[64], db[128], bundle[128];
	struct report_key key, other;
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char priv[160], pub[160];

	strcpy(f->dir, "/tmp/tm-test-audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
	snprintf(f->bundle, sizeof(f->bundle), "%s/audit.tmb", f->dir);
	snprintf(priv, sizeof(priv), "%s/a.key", f->dir);
	snprintf(pub, sizeof(pub), "%s/a.pub", f->dir);
	assert_int_equal(report_keygen(priv, pub), 0);
	assert_int_equal(report_key_load(priv, &f->key), 0);
	snprintf(priv, sizeof(priv), "%s/b.key", f->dir);
	snprintf(pub, sizeof(pub), "%s/b.pub", f->dir);
	assert_int_equal(report_keygen(priv, pub), 0);
	assert_int_equal(report_key_load(priv, &f->other), 0);
	assert_int_equal(store_open(f->db, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Gives r (its rows set) agent k, epoch, seq, a 1 s window and, after
 * seq 1, prev as its predecessor; seals it, stores it if `store`, and
 * leaves its digest in prev for the next one. */
static void put_in_chain(struct fixture *f, const struct report_key *k, Truemeter__Report *r,
			 uint64_t epoch, int seq, uint8_t prev[REPORT_DIGEST_LEN], int store)
{
	uint8_t digest[REPORT_DIGEST_LEN], *env;
	size_t len;

	r->agent_id.data = (uint8_t *)k->pk;
	r->agent_id.len = REPORT_PK_LEN;
	r->epoch = epoch;
	r->seq = (uint64_t)seq;
	r->window_start_ms = 1000 * seq;
	r->window_end_ms = 1000 * (seq + 1);
	if (seq > 1) {
		r->prev_digest.data = prev;
		r->prev_digest.len = REPORT_DIGEST_LEN;
	}
	assert_int_equal(report_seal(k, r, &env, &len, digest), 0);
	if (store)
		assert_true(store_report_put_signed(f->s, r, digest, env, len, 1, 0, NULL) >= 0);
	memcpy(prev, digest, REPORT_DIGEST_LEN);
	free(env);
}

static char *acme_strings[] = { "", "acme" };

/* r with one row (*row, listed in rows[0]): `per` api_requests for "acme" */
static void acme_report(Truemeter__Report *r, Truemeter__UsageRow *row,
			Truemeter__UsageRow **rows, uint64_t per)
{
	truemeter__report__init(r);
	truemeter__usage_row__init(row);
	rows[0] = row;
	r->strings = acme_strings;
	r->n_strings = 2;
	r->rows = rows;
	r->n_rows = 1;
	row->tenant = 1;
	row->metric = TRUEMETER__METRIC__API_REQUESTS;
	row->value = per;
}

/* Stores reports seq 1..n (skipping `skip`), each with `per` api_requests
 * for tenant "acme", chained with real signatures. */
static void store_chain(struct fixture *f, const struct report_key *k, int n,
			int skip, uint64_t per, int break_at)
{
	uint8_t prev[REPORT_DIGEST_LEN];

	for (int seq = 1; seq <= n; seq++) {
		Truemeter__Report r;
		Truemeter__UsageRow row, *rows[1];

		acme_report(&r, &row, rows, per);
		if (seq > 1 && seq == break_at)
			prev[0] ^= 1;
		put_in_chain(f, k, &r, 9, seq, prev, seq != skip);
	}
}

static void export_all(struct fixture *f, size_t expect)
{
	size_t n = 0;

	assert_int_equal(audit_export(f->s, 0, INT64_MAX, f->bundle, &n), 0);
	assert_int_equal(n, expect);
}

static void test_clean_chain_verifies(void **state)
{
	struct fixture *f = *state;
	struct audit_result r;

	store_chain(f, &f->key, 20, 0, 7, 0);
	export_all(f, 20);
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r), 0);
	assert_int_equal(r.verified, 20);
	assert_int_equal(r.bad_signatures + r.untrusted + r.chain_breaks + r.gaps, 0);
	assert_int_equal(r.n_totals, 1);
	assert_string_equal(r.totals[0].tenant, "acme");
	assert_int_equal(r.totals[0].metric, METRIC_API_REQUESTS);
	assert_int_equal(r.totals[0].value, 140);
	audit_result_free(&r);
}

/* Collects the store's envelopes in order, to compare with the bundle. */
struct envs {
	ProtobufCBinaryData v[64];
	size_t n;
};

static int collect(const uint8_t *env, size_t len, void *arg)
{
	struct envs *e = arg;

	assert_true(e->n < 64);
	e->v[e->n].data = malloc(len);
	assert_non_null(e->v[e->n].data);
	memcpy(e->v[e->n].data, env, len);
	e->v[e->n++].len = len;
	return 0;
}

/* The streamed bundle decodes as one AuditBundle: its period, then every
 * stored envelope, byte for byte, in the store's order.  A failed export
 * leaves nothing behind and an earlier bundle untouched. */
static void test_export_is_one_bundle(void **state)
{
	struct fixture *f = *state;
	Truemeter__AuditBundle *b;
	struct envs want = { .n = 0 };
	char *buf, bad[192], *old;
	size_t len, n = 0, oldlen;

	store_chain(f, &f->key, 30, 0, 3, 0);
	assert_int_equal(store_envelopes(f->s, 5000, 25000, collect, &want), 0);
	assert_int_equal(want.n, 20);
	assert_int_equal(audit_export(f->s, 5000, 25000, f->bundle, &n), 0);
	assert_int_equal(n, 20);
	assert_int_equal(fileio_read_all(f->bundle, 1 << 20, &buf, &len), 0);
	b = truemeter__audit_bundle__unpack(NULL, len, (const uint8_t *)buf);
	assert_non_null(b);
	assert_int_equal(b->from_ms, 5000);
	assert_int_equal(b->to_ms, 25000);
	assert_true(b->created_ms > 0);
	assert_int_equal(b->n_envelopes, want.n);
	for (size_t i = 0; i < want.n; i++) {
		assert_int_equal(b->envelopes[i].len, want.v[i].len);
		assert_memory_equal(b->envelopes[i].data, want.v[i].data, want.v[i].len);
		free(want.v[i].data);
	}
	truemeter__audit_bundle__free_unpacked(b, NULL);

	/* into a directory that does not exist: an error, no file */
	snprintf(bad, sizeof(bad), "%s/nodir/audit.tmb", f->dir);
	assert_int_equal(audit_export(f->s, 0, INT64_MAX, bad, &n), -ENOENT);
	assert_int_not_equal(access(bad, F_OK), 0);
	/* a period with no reports replaces the bundle atomically */
	assert_int_equal(audit_export(f->s, 90000, 99000, f->bundle, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fileio_read_all(f->bundle, 1 << 20, &old, &oldlen), 0);
	assert_true(oldlen < len);
	b = truemeter__audit_bundle__unpack(NULL, oldlen, (const uint8_t *)old);
	assert_non_null(b);
	assert_int_equal(b->n_envelopes, 0);
	truemeter__audit_bundle__free_unpacked(b, NULL);
	free(old);
	free(buf);
	snprintf(bad, sizeof(bad), "ls %s | grep -q tmp", f->dir);
	assert_int_not_equal(system(bad), 0);     /* no temp file left */
}

static void test_missing_report_is_a_gap(void **state)
{
	struct fixture *f = *state;
	struct audit_result r;

	store_chain(f, &f->key, 10, 4, 1, 0);
	export_all(f, 9);
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r), 0);
	assert_int_equal(r.gaps, 1);
	assert_int_equal(r.chain_breaks, 0);
	assert_non_null(strstr(r.problems[0], "reports 4..4 are missing"));
	audit_result_free(&r);
}

/* Reports that declare events their meter lost: verified, but the usage
 * is short by them, and the findings say how much. */
static void test_declared_losses(void **state)
{
	struct fixture *f = *state;
	uint8_t prev[REPORT_DIGEST_LEN];
	struct audit_result r;

	for (int seq = 1; seq <= 4; seq++) {
		Truemeter__Report rep;
		Truemeter__Health h;
		Truemeter__UsageRow row, *rows[1];

		acme_report(&rep, &row, rows, 10);
		truemeter__health__init(&h);
		h.map_overflow = h.event_drops = 99;           /* cumulative: not summed */
		h.map_overflow_window = seq == 2 ? 3 : 0;
		h.event_drops_window = seq == 4 ? 5 : 0;
		rep.health = &h;
		put_in_chain(f, &f->key, &rep, 9, seq, prev, 1);
	}
	export_all(f, 4);
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r), 0);
	assert_int_equal(r.verified, 4);
	assert_int_equal(r.gaps + r.chain_breaks + r.bad_signatures, 0);
	assert_int_equal(r.lossy_reports, 2);
	assert_int_equal(r.lost_map_overflow, 3);
	assert_int_equal(r.lost_event_drops, 5);
	assert_int_equal(r.n_problems, 1);
	assert_non_null(strstr(r.problems[0], "2 reports declare events their meter lost "
			       "(map overflow 3, event drops 5)"));
	assert_int_equal(r.n_totals, 1);
	assert_int_equal(r.totals[0].value, 40);
	audit_result_free(&r);
}

static void test_broken_link_detected(void **state)
{
	struct fixture *f = *state;
	struct audit_result r;

	store_chain(f, &f->key, 6, 0, 1, 5);
	export_all(f, 6);
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r), 0);
	assert_int_equal(r.chain_breaks, 1);
	audit_result_free(&r);
}

static void test_untrusted_and_tampered(void **state)
{
	struct fixture *f = *state;
	struct audit_result r;
	char *buf;
	size_t len;

	store_chain(f, &f->other, 3, 0, 1, 0);
	export_all(f, 3);
	/* Signed by a key the auditor did not supply. */
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r), 0);
	assert_int_equal(r.untrusted, 3);
	assert_int_equal(r.verified, 0);
	assert_int_equal(r.n_totals, 0);
	audit_result_free(&r);
	/* Flip one byte inside the bundle's last envelope. */
	assert_int_equal(fileio_read_all(f->bundle, 1 << 20, &buf, &len), 0);
	buf[len - 10] ^= 0x40;
	assert_int_equal(fileio_write_atomic(f->bundle, buf, len, 0644), 0);
	free(buf);
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->other.pk, 1, &r), 0);
	assert_int_equal(r.bad_signatures, 1);
	assert_int_equal(r.verified, 2);
	audit_result_free(&r);
}

static void test_garbage_file(void **state)
{
	struct fixture *f = *state;
	struct audit_result r;

	assert_int_equal(fileio_write_atomic(f->bundle, "\xff\xff\xff garbage", 11, 0644), 0);
	assert_int_equal(audit_verify(f->bundle, NULL, 0, &r), -EBADMSG);
	audit_result_free(&r);
	assert_int_equal(audit_verify("/nonexistent/bundle", NULL, 0, &r), -ENOENT);
}

/* Stores n reports of `rows` rows each, tenant "t<i % tenants>" and
 * alternating metrics, value seq * 1000 + i, chained; returns the sum the
 * bundle must give for tenant t0's api_requests. */
static uint64_t store_wide(struct fixture *f, int n, int rows, int tenants)
{
	uint8_t prev[REPORT_DIGEST_LEN];
	char *strings[64], names[64][8];
	uint64_t want = 0;

	assert_true(tenants < 64);
	strings[0] = "";
	for (int t = 0; t < tenants; t++) {
		snprintf(names[t], sizeof(names[t]), "t%d", t);
		strings[t + 1] = names[t];
	}
	for (int seq = 1; seq <= n; seq++) {
		Truemeter__Report r;
		Truemeter__UsageRow *row = calloc((size_t)rows, sizeof(*row));
		Truemeter__UsageRow **ptrs = calloc((size_t)rows, sizeof(*ptrs));

		assert_non_null(row);
		assert_non_null(ptrs);
		truemeter__report__init(&r);
		r.strings = strings;
		r.n_strings = (size_t)tenants + 1;
		for (int i = 0; i < rows; i++) {
			truemeter__usage_row__init(&row[i]);
			row[i].tenant = 1 + (uint32_t)(i % tenants);
			row[i].metric = (i / tenants) % 2 ? TRUEMETER__METRIC__NET_RX_BYTES
							  : TRUEMETER__METRIC__API_REQUESTS;
			row[i].value = (uint64_t)seq * 1000 + (uint64_t)i;
			if (i % tenants == 0 && (i / tenants) % 2 == 0)
				want += row[i].value;
			ptrs[i] = &row[i];
		}
		r.rows = ptrs;
		r.n_rows = (size_t)rows;
		put_in_chain(f, &f->key, &r, 3, seq, prev, 1);
		free(row);
		free(ptrs);
	}
	return want;
}

/* Totals are merged while the bundle is read (more rows than the merge
 * threshold): still exact, one per tenant x metric. */
static void test_totals_merge_while_reading(void **state)
{
	struct fixture *f = *state;
	struct audit_result r;
	uint64_t want = store_wide(f, 40, 300, 50);

	export_all(f, 40);
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r), 0);
	assert_int_equal(r.verified, 40);
	assert_int_equal(r.gaps + r.chain_breaks + r.duplicates, 0);
	assert_int_equal(r.n_totals, 100);
	for (size_t i = 0; i < r.n_totals; i++) {
		if (i)
			assert_true(strcmp(r.totals[i - 1].tenant, r.totals[i].tenant) < 0 ||
				    (strcmp(r.totals[i - 1].tenant, r.totals[i].tenant) == 0 &&
				     r.totals[i - 1].metric < r.totals[i].metric));
		if (!strcmp(r.totals[i].tenant, "t0") && r.totals[i].metric == METRIC_API_REQUESTS)
			assert_int_equal(r.totals[i].value, want);
	}
	audit_result_free(&r);
}

/* What the streaming reader accepts, protobuf-c's decoder accepts too, with
 * the same envelopes and period; what one refuses the other refuses. */
static void assert_same_as_protobuf(struct fixture *f, const uint8_t *buf, size_t len)
{
	Truemeter__AuditBundle *b;
	struct audit_result r;
	FILE *out = fopen(f->bundle, "wb");     /* no fsync: a thousand cases */
	int err;

	assert_non_null(out);
	assert_int_equal(fwrite(buf, 1, len, out), len);
	assert_int_equal(fclose(out), 0);
	err = audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r);
	b = truemeter__audit_bundle__unpack(NULL, len, buf);
	if (!b) {
		assert_int_equal(err, -EBADMSG);
		assert_int_equal(r.n_problems + r.n_totals + r.reports, 0);
		return;
	}
	assert_int_equal(err, 0);
	assert_int_equal(r.reports, b->n_envelopes);
	assert_int_equal(r.from_ms, b->from_ms);
	assert_int_equal(r.to_ms, b->to_ms);
	truemeter__audit_bundle__free_unpacked(b, NULL);
	audit_result_free(&r);
}

/* Every prefix of a bundle (cut inside a key, a length or an envelope, or
 * between fields), and unknown fields of every wire type among the known
 * ones, read as protobuf-c reads them. */
static void test_stream_reads_as_protobuf(void **state)
{
	struct fixture *f = *state;
	static const uint8_t unknown[] = {
		0x48, 0x96, 0x01,                       /* field 9, varint 150 */
		0x52, 3, 'a', 'b', 'c',                 /* field 10, 3 bytes */
		0x59, 1, 2, 3, 4, 5, 6, 7, 8,           /* field 11, fixed64 */
		0x65, 1, 2, 3, 4,                       /* field 12, fixed32 */
		0x08, 0xe8, 0x07,                       /* from_ms again: 1000 */
	};
	uint8_t *mixed;
	char *buf;
	size_t len, half;
	struct audit_result r;

	store_chain(f, &f->key, 4, 0, 2, 0);
	export_all(f, 4);
	assert_int_equal(fileio_read_all(f->bundle, 1 << 20, &buf, &len), 0);
	for (size_t cut = 0; cut <= len; cut++)
		assert_same_as_protobuf(f, (const uint8_t *)buf, cut);

	/* unknown fields after the header, before the envelopes */
	half = 0;
	while (half < len && (uint8_t)buf[half] != 0x22)   /* field 4, bytes */
		half++;
	assert_true(half < len);
	mixed = malloc(len + sizeof(unknown));
	assert_non_null(mixed);
	memcpy(mixed, buf, half);
	memcpy(mixed + half, unknown, sizeof(unknown));
	memcpy(mixed + half + sizeof(unknown), buf + half, len - half);
	assert_same_as_protobuf(f, mixed, len + sizeof(unknown));
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])&f->key.pk, 1, &r), 0);
	assert_int_equal(r.verified, 4);
	assert_int_equal(r.from_ms, 1000);
	assert_int_equal(r.n_totals, 1);
	assert_int_equal(r.totals[0].value, 8);
	audit_result_free(&r);

	/* random single-byte changes in the framing (the first and the
	 * envelopes' leading bytes), each read as protobuf-c reads it */
	srand(7);
	for (int i = 0; i < 400; i++) {
		size_t at = (size_t)rand() % (half + 8);
		uint8_t old = mixed[at];

		mixed[at] = (uint8_t)rand();
		assert_same_as_protobuf(f, mixed, len + sizeof(unknown));
		mixed[at] = old;
	}
	free(mixed);
	free(buf);
}

/* Writes the bundle with envelopes order[0..n) of b (indexes, repeats
 * allowed), the period as b's. */
static void write_reordered(struct fixture *f, const Truemeter__AuditBundle *b,
			    const size_t *order, size_t n)
{
	Truemeter__AuditBundle out = *b;
	ProtobufCBinaryData env[16];
	uint8_t *buf;
	size_t len;

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		env[i] = b->envelopes[order[i]];
	out.envelopes = env;
	out.n_envelopes = n;
	len = truemeter__audit_bundle__get_packed_size(&out);
	buf = malloc(len);
	assert_non_null(buf);
	truemeter__audit_bundle__pack(&out, buf);
	assert_int_equal(fileio_write_atomic(f->bundle, buf, len, 0644), 0);
	free(buf);
}

static void verify_both(struct fixture *f, struct audit_result *r)
{
	uint8_t keys[2][REPORT_PK_LEN];

	memcpy(keys[0], f->key.pk, REPORT_PK_LEN);
	memcpy(keys[1], f->other.pk, REPORT_PK_LEN);
	assert_int_equal(audit_verify(f->bundle, (const uint8_t (*)[32])keys, 2, r), 0);
}

/* A bundle in chain order is checked as it is read; one in any other
 * order is read again with every link kept.  Both find the same: the
 * same counts, the same lines in the same order, the same totals. */
static void test_any_order_same_findings(void **state)
{
	struct fixture *f = *state;
	Truemeter__AuditBundle *b;
	struct audit_result in_order, shuffled;
	/* export order: key's chain seq 1,2,4,5,6,7 then other's 1..3, or the
	 * other way round (agents sort by key); 1 envelope repeated */
	size_t sorted[10] = { 0, 1, 2, 3, 3, 4, 5, 6, 7, 8 };
	size_t mixed[10] = { 8, 3, 0, 6, 1, 7, 3, 2, 5, 4 };
	char *buf;
	size_t len;

	store_chain(f, &f->key, 7, 3, 2, 6);     /* a gap (3), a break (6) */
	store_chain(f, &f->other, 3, 0, 5, 0);
	export_all(f, 9);
	assert_int_equal(fileio_read_all(f->bundle, 1 << 20, &buf, &len), 0);
	b = truemeter__audit_bundle__unpack(NULL, len, (const uint8_t *)buf);
	assert_non_null(b);

	write_reordered(f, b, sorted, 10);
	verify_both(f, &in_order);
	assert_int_equal(in_order.verified, 10);
	assert_int_equal(in_order.agents, 2);
	assert_int_equal(in_order.gaps, 1);
	assert_int_equal(in_order.chain_breaks, 1);
	assert_int_equal(in_order.duplicates, 1);
	assert_int_equal(in_order.n_problems, 3);

	write_reordered(f, b, mixed, 10);
	verify_both(f, &shuffled);
	assert_int_equal(shuffled.reports, in_order.reports);
	assert_int_equal(shuffled.verified, in_order.verified);
	assert_int_equal(shuffled.agents, in_order.agents);
	assert_int_equal(shuffled.gaps, in_order.gaps);
	assert_int_equal(shuffled.chain_breaks, in_order.chain_breaks);
	assert_int_equal(shuffled.duplicates, in_order.duplicates);
	assert_int_equal(shuffled.n_problems, in_order.n_problems);
	for (size_t i = 0; i < in_order.n_problems; i++)
		assert_string_equal(shuffled.problems[i], in_order.problems[i]);
	assert_int_equal(shuffled.n_totals, 1);
	assert_int_equal(in_order.n_totals, 1);
	/* 6 + 1 repeated reports of 2, 3 of 5 */
	assert_int_equal(in_order.totals[0].value, 29);
	assert_int_equal(shuffled.totals[0].value, 29);
	audit_result_free(&in_order);
	audit_result_free(&shuffled);
	truemeter__audit_bundle__free_unpacked(b, NULL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_is_one_bundle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_report_is_a_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_order_same_findings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declared_losses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_link_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_and_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totals_merge_while_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_reads_as_protobuf, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
