/* Bad input never crashes the billing side: seeded mutations (truncation,
 * byte flips, deleted spans) of every webhook fixture, the pricing catalog
 * and import files go through the parsers, which must answer 0 or -EINVAL
 * (run under ASan/UBSan in the sanitizer build). */
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

#include "billing.h"
#include "fileio.h"
#include "judge_testutil.h"
#include "pricing.h"
#include "razorpay.h"
#include "stripe.h"

#define ROUNDS 300

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

/* A mutated copy of src (NUL-terminated, *len set). */
static char *mutate(const char *src, size_t n, size_t *len)
{
	char *m = malloc(n + 1);
	size_t k = n;

	memcpy(m, src, n);
	switch (rnd() % 4) {
	case 0:                                  /* truncate */
		k = n ? rnd() % n : 0;
		break;
	case 1:                                  /* flip a few bytes */
		for (int i = 0; i < 1 + (int)(rnd() % 4) && n; i++)
			m[rnd() % n] ^= (char)(1u << (rnd() % 8));
		break;
	case 2: {                                /* delete a span */
		size_t a = n ? rnd() % n : 0, b = a + rnd() % 40;

		if (b > n)
			b = n;
		memmove(m + a, m + b, n - b);
		k = n - (b - a);
		break;
	}
	default:                                 /* a structural character */
		if (n)
			m[rnd() % n] = "{}[]\",:0-"[rnd() % 9];
	}
	m[k] = '\0';
	*len = strlen(m);                        /* flips may have made a NUL */
	return m;
}

static char *load(const char *rel, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(fileio_read_all(tm_path(rel), 1 << 20, &buf, len), 0);
	return buf;
}

static void test_webhook_parsers(void **state)
{
	static const char *const stripe_files[] = {
		"examples/stripe/events/invoice.paid.json",
		"examples/stripe/events/invoice.paid.2025.json",
		"examples/stripe/events/customer.subscription.deleted.json",
	};
	static const char *const rzp_files[] = {
		"examples/razorpay/subscription.charged.json", "examples/razorpay/invoice.paid.json",
		"examples/razorpay/payment.failed.json",
	};
	struct tstore t;
	struct billing_maps *maps = NULL;
	char err[256];

	assert_non_null(tstore_open(&t));
	assert_int_equal(billing_maps_load(NULL, tm_path("examples/razorpay/price_map.json"),
					   &maps, err, sizeof(err)), 0);
	for (int f = 0; f < 6; f++) {
		size_t n, len;
		char *src = load(f < 3 ? stripe_files[f] : rzp_files[f - 3], &n);

		for (int r = 0; r < ROUNDS; r++) {
			struct billing_event ev = { 0 };
			char *m = mutate(src, n, &len);
			int rc = f < 3 ?
				stripe_event_parse(m, len, t.s, maps, &ev, err, sizeof(err)) :
				razorpay_event_parse(m, len, "evt", t.s, maps, &ev, err, sizeof(err));

			assert_true(rc == 0 || rc == -EINVAL);
			if (rc == 0 && !ev.ignored)
				assert_true(billing_event_apply(t.s, &ev) >= 0);
			billing_event_free(&ev);
			free(m);
		}
		free(src);
	}
	billing_maps_free(maps);
	tstore_close(&t);
}

static void test_catalog_parser(void **state)
{
	size_t n, len;
	char *src = load("examples/pricing.json", &n), err[256];

	for (int r = 0; r < ROUNDS * 3; r++) {
		struct pricing *p = NULL;
		char *m = mutate(src, n, &len);
		int rc = pricing_parse(m, "fuzz", &p, err, sizeof(err));

		assert_true(rc == 0 || rc == -EINVAL || rc == -ERANGE);
		if (rc == 0) {
			int64_t amt;

			for (size_t i = 0; i < p->nplans; i++)
				for (size_t j = 0; j < p->plans[i].nprices; j++)
					price_amount(&p->plans[i].prices[j], rnd(), &amt);
		} else {
			assert_non_null(strstr(err, "fuzz"));
		}
		pricing_free(p);
		free(m);
	}
	free(src);
}

static void test_import_parsers(void **state)
{
	static const char *const files[] = {
		"examples/billing/billing.csv", "examples/billing/billing.jsonl",
		"examples/stripe/invoices.json",
	};
	static const char *const ext[] = { "csv", "jsonl", "json" };
	struct tstore t;
	char err[512];

	assert_non_null(tstore_open(&t));
	for (int f = 0; f < 3; f++) {
		size_t n, len;
		char *src = load(files[f], &n), path[64];

		snprintf(path, sizeof(path), "/tmp/tm-fuzz-%d.%s", (int)getpid(), ext[f]);
		for (int r = 0; r < ROUNDS / 2; r++) {
			struct billing_import_result res;
			char *m = mutate(src, n, &len);
			int rc;

			assert_int_equal(fileio_write_atomic(path, m, len, 0600), 0);
			rc = billing_import_file(t.s, path, BILLING_FORMAT_AUTO, NULL, &res, err,
						 sizeof(err));
			assert_true(rc == 0 || rc == -EINVAL);
			free(m);
		}
		unlink(path);
		free(src);
	}
	tstore_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook_parsers),
		cmocka_unit_test(test_catalog_parser),
		cmocka_unit_test(test_import_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
