/* Report signing, verification and the hash chain digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

struct fixture {
	char dir[64];
	char priv[128];
	char pub[128];
	struct report_key key;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/tm-test-report.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->priv, sizeof(f->priv), "%s/agent.key", f->dir);
	snprintf(f->pub, sizeof(f->pub), "%s/agent.pub", f->dir);
	assert_int_equal(report_keygen(f->priv, f->pub), 0);
	assert_int_equal(report_key_load(f->priv, &f->key), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->priv);
	unlink(f->pub);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void make_report(struct fixture *f, Truemeter__Report *r,
			Truemeter__UsageRow *row, Truemeter__UsageRow **rows,
			char **strings)
{
	truemeter__report__init(r);
	truemeter__usage_row__init(row);
	r->agent_id.data = f->key.pk;
	r->agent_id.len = REPORT_PK_LEN;
	r->epoch = 7;
	r->seq = 42;
	strings[0] = "";
	strings[1] = "acme";
	r->strings = strings;
	r->n_strings = 2;
	row->tenant = 1;
	row->metric = TRUEMETER__METRIC__API_REQUESTS;
	row->value = 1234;
	rows[0] = row;
	r->rows = rows;
	r->n_rows = 1;
}

static void test_seal_open_roundtrip(void **state)
{
	struct fixture *f = *state;
	Truemeter__Report r, *got = NULL;
	Truemeter__UsageRow row, *rows[1];
	char *strings[2];
	uint8_t d1[REPORT_DIGEST_LEN], d2[REPORT_DIGEST_LEN], *buf;
	size_t len;
	char err[256];

	make_report(f, &r, &row, rows, strings);
	assert_int_equal(report_seal(&f->key, &r, &buf, &len, d1), 0);
	assert_int_equal(report_open(buf, len, &got, d2, err, sizeof(err)), 0);
	assert_memory_equal(d1, d2, REPORT_DIGEST_LEN);
	assert_int_equal(got->seq, 42);
	assert_int_equal(got->n_rows, 1);
	assert_int_equal(got->rows[0]->value, 1234);
	assert_string_equal(got->strings[got->rows[0]->tenant], "acme");
	report_free(got);
	free(buf);
}

static void test_flipped_bit_rejected(void **state)
{
	struct fixture *f = *state;
	Truemeter__Report r, *got = NULL;
	Truemeter__UsageRow row, *rows[1];
	char *strings[2];
	uint8_t d[REPORT_DIGEST_LEN], *buf;
	size_t len;
	char err[256];
	int accepted = 0;

	make_report(f, &r, &row, rows, strings);
	assert_int_equal(report_seal(&f->key, &r, &buf, &len, d), 0);
	/* Every single-bit flip anywhere must be rejected. */
	for (size_t i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (report_open(buf, len, &got, d, err, sizeof(err)) == 0) {
			accepted++;
			report_free(got);
		}
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(accepted, 0);
	free(buf);
}

static void test_digest_changes_with_content(void **state)
{
	struct fixture *f = *state;
	Truemeter__Report r;
	Truemeter__UsageRow row, *rows[1];
	char *strings[2];
	uint8_t d1[REPORT_DIGEST_LEN], d2[REPORT_DIGEST_LEN], *b1, *b2;
	size_t l1, l2;

	make_report(f, &r, &row, rows, strings);
	assert_int_equal(report_seal(&f->key, &r, &b1, &l1, d1), 0);
	row.value++;
	assert_int_equal(report_seal(&f->key, &r, &b2, &l2, d2), 0);
	assert_memory_not_equal(d1, d2, REPORT_DIGEST_LEN);
	free(b1);
	free(b2);
}

static void test_garbage_rejected(void **state)
{
	Truemeter__Report *got = NULL;
	uint8_t d[REPORT_DIGEST_LEN], junk[512];
	char err[256];

	(void)state;
	srand(1);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand() % (int)sizeof(junk));

		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)rand();
		assert_int_not_equal(report_open(junk, n, &got, d, err, sizeof(err)), 0);
		assert_null(got);
	}
}

static void test_pubkey_file_matches(void **state)
{
	struct fixture *f = *state;
	uint8_t pk[REPORT_PK_LEN];
	char hex[REPORT_PK_HEX_LEN + 1];

	assert_int_equal(report_pubkey_load(f->pub, pk), 0);
	assert_memory_equal(pk, f->key.pk, REPORT_PK_LEN);
	report_hex(pk, REPORT_PK_LEN, hex);
	assert_int_equal(report_pubkey_load(hex, pk), 0);
	assert_int_equal(report_pubkey_parse("abcd", pk), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seal_open_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bit_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_changes_with_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pubkey_file_matches, setup, teardown),
		cmocka_unit_test(test_garbage_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
