/* billing import: CSV, JSON lines and Stripe invoice lists; a bad row
 * rejects the whole file with its line number and stores nothing;
 * re-importing replaces instead of doubling. */
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
#include "judge_testutil.h"
#include "metric.h"


static char tmpfile_path[64];

static const char *write_tmp(const char *ext, const char *text)
{
	char base[] = "/tmp/tm-import.XXXXXX";
	int fd = mkstemp(base);
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	unlink(base);
	snprintf(tmpfile_path, sizeof(tmpfile_path), "%s.%s", base, ext);
	f = fopen(tmpfile_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return tmpfile_path;
}

struct sum {
	uint64_t qty;
	int64_t amount;
	size_t n;
	char last_tenant[64];
};

static int sum_cb(const struct store_bill *b, void *arg)
{
	struct sum *s = arg;

	s->qty += b->quantity;
	s->amount += b->amount;
	s->n++;
	snprintf(s->last_tenant, sizeof(s->last_tenant), "%s", b->tenant);
	return 0;
}

static struct sum sum_all(struct store *s)
{
	struct sum r = { 0 };

	assert_int_equal(store_bill_query(s, NULL, 0, 0, INT64_MAX, sum_cb, &r), 0);
	return r;
}

static void test_csv_ok_and_idempotent(void **state)
{
	struct tstore t;
	struct store *s = tstore_open(&t);
	struct billing_import_result res;
	char err[256] = "";
	struct sum r;

	assert_non_null(s);
	for (int round = 0; round < 2; round++) {
		int rc = billing_import_file(s, tm_path("examples/billing/billing.csv"),
					     BILLING_FORMAT_AUTO, NULL, &res, err, sizeof(err));

		if (rc)
			fail_msg("%s", err);
		assert_int_equal(res.records, 3);
	}
	r = sum_all(s);
	assert_int_equal(r.n, 3);               /* not 6: the second import replaced */
	assert_int_equal(r.amount, 50000 + 12000 + 12500);
	assert_string_equal(r.last_tenant, "initech, ltd");   /* quoted comma */
	tstore_close(&t);
}

static void expect_reject(const char *ext, const char *text, const char *needle)
{
	struct tstore t;
	struct store *s = tstore_open(&t);
	struct billing_import_result res;
	char err[256] = "";
	const char *path = write_tmp(ext, text);
	uint64_t n = 99;

	assert_int_equal(billing_import_file(s, path, BILLING_FORMAT_AUTO, NULL, &res, err,
					     sizeof(err)), -EINVAL);
	if (!strstr(err, needle) || !strstr(err, path))
		fail_msg("error '%s' lacks '%s' or the file name", err, needle);
	assert_int_equal(store_bill_count(s, &n), 0);
	assert_int_equal(n, 0);                 /* nothing partially stored */
	unlink(path);
	tstore_close(&t);
}

static void test_csv_bad_row_rejects_file(void **state)
{
	const char *head = "tenant,metric,period_start,period_end,quantity,amount,currency,invoice_id\n";
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s"
		 "acme,api_requests,2026-10-01,2026-11-01,10,5,usd,I1\n"
		 "acme,cpu_ns,2026-10-01,2026-11-01,10,5,usd,I1\n"
		 "\n"
		 "acme,api_requests,2026-10-01,2026-11-01,-4,5,usd,I2\n"
		 "acme,api_requests,2026-10-01,2026-11-01,10,5,usd,I3\n", head);
	expect_reject("csv", buf, ":5: bad quantity '-4'");
	snprintf(buf, sizeof(buf), "%s"
		 "acme,api_requests,2026-10-01,2026-11-01,10,5,usd,I1\n"
		 "acme,cpu_ns,2026-10-01,2026-11-01,10,5,usd,I1\n"
		 "acme,api_requests,2026-10-01,2026-11-01,12,6,usd,I1\n", head);
	expect_reject("csv", buf, ":4: same invoice_id, metric and period_start as line 2");
	snprintf(buf, sizeof(buf), "%sacme,api_request,2026-10-01,2026-11-01,1,1,usd,I1\n", head);
	expect_reject("csv", buf, ":2: unknown metric 'api_request'");
	snprintf(buf, sizeof(buf), "%sacme,api_requests,2026-10-01,2026-09-01,1,1,usd,I1\n", head);
	expect_reject("csv", buf, ":2: period_end must be after period_start");
	snprintf(buf, sizeof(buf), "%sacme,api_requests,2026-10-01,2026-11-01,1,1,dollars,I1\n", head);
	expect_reject("csv", buf, ":2: bad currency");
	snprintf(buf, sizeof(buf), "%sacme,api_requests,2026-10-01,2026-11-01,1,1\n", head);
	expect_reject("csv", buf, ":2: 6 fields, the header has 8");
	expect_reject("csv", "tenant,metric,quantity\nacme,cpu_ns,1\n", ":1: header lacks column");
	snprintf(buf, sizeof(buf), "%s\"acme,api_requests,2026-10-01,2026-11-01,1,1,usd,I1\n", head);
	expect_reject("csv", buf, ":2: unterminated");
}

/* What spreadsheets and billing systems write: a UTF-8 byte order mark,
 * CRLF line ends, quoted fields holding commas, quotes and line breaks,
 * blanks around fields; comment lines.  A record that spans lines is
 * named by the line it starts on, and lines after it keep their numbers. */
static void test_csv_spreadsheet_export(void **state)
{
	const char *text =
		"\xef\xbb\xbftenant,metric,period_start,period_end,quantity,amount,currency,"
		"invoice_id,status\r\n"
		"# exported 2026-11-02\r\n"
		"\"Acme \"\"EU\"\", Inc\",api_requests,2026-10-01,2026-11-01, 1000 ,45000,USD,"
		"INV-1,\"paid\r\nafter reminder\"\r\n"
		"\r\n"
		"globex,api_requests,2026-10-01,2026-11-01,5,100,usd,INV-2,open\r\n";
	struct tstore t;
	struct store *s = tstore_open(&t);
	struct billing_import_result res;
	char err[256] = "", buf[512];
	const char *path = write_tmp("csv", text);
	struct sum r;

	assert_non_null(s);
	if (billing_import_file(s, path, BILLING_FORMAT_AUTO, NULL, &res, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(res.records, 2);
	r = sum_all(s);
	assert_int_equal(r.qty, 1005);
	assert_int_equal(r.amount, 45100);
	unlink(path);
	tstore_close(&t);
	/* the bad row is line 6: the quoted line break moved it down one */
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(strstr(text, "globex") - text), text,
		 "globex,api_requests,2026-10-01,2026-11-01,x,100,usd,INV-2,open\r\n");
	expect_reject("csv", buf, ":6: bad quantity 'x'");
	/* a quote inside an unquoted field, or text after a closing quote */
	expect_reject("csv", "tenant,metric,period_start,period_end,quantity,amount,currency,"
		      "invoice_id\nacme,api_requests,2026-10-01,2026-11-01,1,1,usd,IN\"V\n",
		      ":2: unterminated or stray quote");
	expect_reject("csv", "tenant,metric,period_start,period_end,quantity,amount,currency,"
		      "invoice_id\n# fine\nacme,api_requests,2026-10-01,2026-11-01,1,1,usd,\"I\"x\n",
		      ":3: unterminated or stray quote");
	expect_reject("csv", "\xef\xbb\xbf\r\n# only a comment\r\n", "empty file");
	/* lines ended by a lone CR (old Mac files) are counted too */
	expect_reject("csv", "tenant,metric,period_start,period_end,quantity,amount,currency,"
		      "invoice_id\racme,api_requests,2026-10-01,2026-11-01,1,1,usd,I1\r"
		      "acme,api_requests,2026-10-01,2026-11-01,y,1,usd,I2\r", ":3: bad quantity 'y'");
}

static void test_jsonl(void **state)
{
	struct tstore t;
	struct store *s = tstore_open(&t);
	struct billing_import_result res;
	char err[256] = "";
	struct sum r;

	assert_int_equal(billing_import_file(s, tm_path("examples/billing/billing.jsonl"),
					     BILLING_FORMAT_AUTO, NULL, &res, err, sizeof(err)), 0);
	r = sum_all(s);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.amount, 53600);
	tstore_close(&t);
	expect_reject("jsonl", "{\"tenant\":\"a\",\"metric\":\"cpu_ns\",\"period_start\":\"2026-10-01\","
		      "\"period_end\":\"2026-11-01\",\"quantity\":1,\"amount\":1,\"currency\":\"usd\","
		      "\"invoice_id\":\"x\"}\n{\"tenant\": \n", ":2: not valid JSON");
	expect_reject("jsonl", "{\"tenant\":\"a\",\"metric\":\"cpu_ns\",\"period_start\":\"2026-10-01\","
		      "\"period_end\":\"2026-11-01\",\"quantity\":1,\"amount\":1.5,\"currency\":\"usd\","
		      "\"invoice_id\":\"x\"}\n", ":1: 'amount' must be");
	/* a byte order mark first is not part of the first line */
	s = tstore_open(&t);
	assert_int_equal(billing_import_file(s, write_tmp("jsonl",
		"\xef\xbb\xbf{\"tenant\":\"a\",\"metric\":\"cpu_ns\",\"period_start\":\"2026-10-01\","
		"\"period_end\":\"2026-11-01\",\"quantity\":1,\"amount\":2,\"currency\":\"usd\","
		"\"invoice_id\":\"x\"}\r\n"), BILLING_FORMAT_AUTO, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.records, 1);
	unlink(tmpfile_path);
	tstore_close(&t);
}

static void test_stripe_list(void **state)
{
	struct tstore t;
	struct store *s = tstore_open(&t);
	struct billing_maps *maps = NULL;
	struct billing_import_result res;
	char err[256] = "";
	struct sum r;
	int rc;

	/* With the price map but no customer map, globex's invoice names no
	 * tenant: the whole list is rejected. */
	assert_int_equal(billing_maps_load(NULL, tm_path("examples/stripe/price_map.json"), &maps,
					   err, sizeof(err)), 0);
	rc = billing_import_file(s, tm_path("examples/stripe/invoices.json"),
				 BILLING_FORMAT_STRIPE, maps, &res, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	if (!strstr(err, "data[1]") || !strstr(err, "cus_QxGlobex000001"))
		fail_msg("unexpected error '%s'", err);
	assert_int_equal(sum_all(s).n, 0);
	billing_maps_free(maps);
	assert_int_equal(billing_maps_load(tm_path("examples/stripe/customer_map.json"),
					   tm_path("examples/stripe/price_map.json"), &maps,
					   err, sizeof(err)), 0);
	rc = billing_import_file(s, tm_path("examples/stripe/invoices.json"),
				 BILLING_FORMAT_STRIPE, maps, &res, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(res.records, 2);      /* api line + egress line */
	assert_int_equal(res.skipped, 2);      /* the base fee line and the draft */
	r = sum_all(s);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.qty, 1000000 + 20);
	assert_int_equal(r.amount, 50000 + 12000);
	billing_maps_free(maps);
	tstore_close(&t);
}

static void test_times(void **state)
{
	int64_t ms, a, b;
	char name[8];

	assert_int_equal(period_parse_time("2026-11-01", &ms), 0);
	assert_int_equal(ms, 1793491200000LL);
	assert_int_equal(period_parse_time("2026-11-01T01:00:00+01:00", &ms), 0);
	assert_int_equal(ms, 1793491200000LL);
	assert_int_equal(period_parse_time("1793491200", &ms), 0);
	assert_int_equal(ms, 1793491200000LL);
	assert_int_equal(period_parse_time("2026-02-30", &ms), -EINVAL);
	assert_int_equal(period_parse_time("2026-11-01Tjunk", &ms), -EINVAL);
	assert_int_equal(period_parse_month("2026-12", &a, &b), 0);
	assert_int_equal(b - a, 31LL * 86400000);
	assert_int_equal(period_parse_month("2026-13", &a, &b), -EINVAL);
	period_month_of(1793491200000LL + 5, name, sizeof(name), &a, &b);
	assert_string_equal(name, "2026-11");
	assert_int_equal(a, 1793491200000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_ok_and_idempotent),
		cmocka_unit_test(test_csv_bad_row_rejects_file),
		cmocka_unit_test(test_csv_spreadsheet_export),
		cmocka_unit_test(test_jsonl),
		cmocka_unit_test(test_stripe_list),
		cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
