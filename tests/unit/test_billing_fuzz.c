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

/* Inputs that coverage-guided fuzzing (libFuzzer, under ASan/UBSan) found
 * to take the collector down: json-c asserts on an index into what is not
 * an array (a subscription without items.data), and seconds far in the
 * future overflow their conversion to milliseconds.  Each is parsed or
 * refused now, as any bad input. */
static int stripe_rc(struct tstore *t, const char *body)
{
	struct billing_event ev = { 0 };
	char err[256];
	int rc = stripe_event_parse(body, strlen(body), t->s, NULL, &ev, err, sizeof(err));

	if (rc == 0 && !ev.ignored)
		assert_true(billing_event_apply(t->s, &ev) >= 0);
	billing_event_free(&ev);
	return rc;
}

#define SUB_EVENT(CREATED, ITEMS, END)                                                  \
	"{\"id\": \"evt_f\", \"type\": \"customer.subscription.updated\", "            \
	"\"created\": " CREATED ", \"data\": {\"object\": {\"id\": \"sub_f\", "        \
	"\"customer\": \"cus_f\", \"status\": \"active\", \"metadata\": "               \
	"{\"tenant\": \"acme\"}" ITEMS ", \"current_period_end\": " END "}}}"

static void test_found_by_coverage_fuzzing(void **state)
{
	static const char rzp[] =
		"{\"event\": \"subscription.halted\", \"created_at\": 9223372036854775807, "
		"\"payload\": {\"subscription\": {\"entity\": {\"id\": \"sub_r\", "
		"\"notes\": {\"tenant\": \"acme\"}}}}}";
	static const char line[] =
		"{\"id\": \"evt_l\", \"type\": \"invoice.paid\", \"created\": 1700000000, "
		"\"data\": {\"object\": {\"id\": \"in_l\", \"status\": \"paid\", "
		"\"currency\": \"usd\", \"metadata\": {\"tenant\": \"acme\"}, \"lines\": "
		"{\"data\": [{\"id\": \"il_1\", \"quantity\": 1, \"amount\": 5, "
		"\"metadata\": {\"metric\": \"api_requests\"}, \"period\": "
		"{\"start\": 1700000000, \"end\": 9223372036854775807}}]}}}}";
	struct billing_event ev = { 0 };
	struct pricing *p = NULL;
	struct tstore t;
	char err[256];

	assert_non_null(tstore_open(&t));
	/* no items, items.data not an array: the period is the subscription's */
	assert_int_equal(stripe_rc(&t, SUB_EVENT("1700000000", "", "1702592000")), 0);
	assert_int_equal(stripe_rc(&t, SUB_EVENT("1700000000", ", \"items\": {\"data\": \"x\"}",
						 "1702592000")), 0);
	assert_int_equal(stripe_rc(&t, SUB_EVENT("1700000000", ", \"items\": 7", "1702592000")), 0);
	/* a period end in year 292 billion is no time at all: not set */
	assert_int_equal(stripe_rc(&t, SUB_EVENT("1700000000", "", "9223372036854775807")), 0);
	/* an event created then, or a line ending then, is refused */
	assert_int_equal(stripe_rc(&t, SUB_EVENT("9223372036854775807", "", "1")), -EINVAL);
	assert_int_equal(stripe_rc(&t, SUB_EVENT("-9223372036854775807", "", "1")), -EINVAL);
	assert_int_equal(stripe_rc(&t, line), -EINVAL);
	assert_int_equal(razorpay_event_parse(rzp, strlen(rzp), "evt_r", t.s, NULL, &ev, err,
					      sizeof(err)), -EINVAL);
	billing_event_free(&ev);
	tstore_close(&t);
	/* a catalog without assignments has no array of them to search */
	assert_int_equal(pricing_parse("{\"currency\": \"usd\", \"default_plan\": \"d\", "
				       "\"plans\": [{\"name\": \"d\", \"prices\": []}]}",
				       "fuzz", &p, err, sizeof(err)), 0);
	assert_string_equal(pricing_plan_for(p, "acme", 0)->name, "d");
	assert_false(pricing_assigned(p, "acme", 0, 1));
	pricing_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook_parsers),
		cmocka_unit_test(test_catalog_parser),
		cmocka_unit_test(test_import_parsers),
		cmocka_unit_test(test_found_by_coverage_fuzzing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
