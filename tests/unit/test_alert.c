/* Alerts: JSON shape, severities, the sinks (webhook retried with backoff
 * against a real local server, exec hook with the alert on stdin), and the
 * judge raising an alert within one reconcile tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "billing.h"
#include "fileio.h"
#include "judge.h"
#include "judge_testutil.h"
#include "metric.h"
#include "money.h"
#include "sink.h"

static const struct store_alert sample = {
	.kind = "underbilled", .tenant = "acme", .metric = "api_requests", .period = "2026-11",
	.period_start_ms = 1793491200000LL, .period_end_ms = 1796083200000LL,
	.metered = 1500, .billed = 1000, .expected_amount = 7500, .billed_amount = 5000,
	.leak = 2500, .currency = "usd", .severity = "warning",
	.evidence = "{\"unbilled_quantity\":500}", .status = "open",
};

static void test_json_shape(void **state)
{
	char *s = alert_to_json(&sample);
	json_object *o = json_tokener_parse(s), *v;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "leak", &v));
	assert_int_equal(json_object_get_int64(v), 2500);
	assert_true(json_object_object_get_ex(o, "leak_display", &v));
	assert_string_equal(json_object_get_string(v), "25.00 USD");
	assert_true(json_object_object_get_ex(o, "period_start", &v));
	assert_string_equal(json_object_get_string(v), "2026-11-01T00:00:00Z");
	assert_true(json_object_object_get_ex(o, "evidence", &v));
	assert_true(json_object_is_type(v, json_type_object));
	for (const char *const *k = (const char *const[]){ "kind", "tenant", "metric", "period",
		"metered", "billed", "expected_amount", "billed_amount", "currency", "severity",
		"status", NULL }; *k; k++)
		if (!json_object_object_get_ex(o, *k, &v))
			fail_msg("alert JSON lacks '%s'", *k);
	assert_null(strchr(s, '\n'));
	json_object_put(o);
	free(s);
}

/* leak_display with each currency's decimals, as Stripe counts minor units */
static void test_money_display(void **state)
{
	static const struct { int64_t minor; const char *cur, *want; } cases[] = {
		{ 2500, "usd", "25.00 USD" },
		{ 5, "EUR", "0.05 EUR" },
		{ 500, "jpy", "500 JPY" },
		{ 123456, "krw", "123456 KRW" },
		{ 1250, "kwd", "1.250 KWD" },
		{ 7, "bhd", "0.007 BHD" },
		{ 1000, "isk", "10.00 ISK" },
		{ 99, "inr", "0.99 INR" },
		{ -1234, "usd", "-12.34 USD" },
		{ INT64_MIN, "usd", "-92233720368547758.08 USD" },
		{ 0, "", "0.00" },
		{ 42, NULL, "0.42" },
		{ 42, "points", "0.42 points" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		money_format(cases[i].minor, cases[i].cur, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	assert_int_equal(money_decimals("JPY"), 0);
	assert_int_equal(money_decimals("Tnd"), 3);
	assert_int_equal(money_decimals("xyz"), 2);
	money_format(123456789, "usd", buf, 6);
	assert_string_equal(buf, "12345");   /* truncated, still terminated */
}

static void test_severity(void **state)
{
	struct alert_thresholds t = { .warning = 1000, .critical = 100000 };

	assert_string_equal(alert_severity(0, &t), "info");
	assert_string_equal(alert_severity(999, &t), "info");
	assert_string_equal(alert_severity(1000, &t), "warning");
	assert_string_equal(alert_severity(-5000, &t), "warning");
	assert_string_equal(alert_severity(100000, &t), "critical");
	assert_int_equal(alert_kind_from_name("usage_while_unpaid"), ALERT_USAGE_WHILE_UNPAID);
	assert_int_equal(alert_kind_from_name("nope"), -EINVAL);
}

/* A receiver that fails the first `fail` POSTs with 500. */
struct receiver {
	int fail, calls;
	char last[4096];
	size_t len;
};

static enum MHD_Result recv_handler(void *cls, struct MHD_Connection *c, const char *url,
				    const char *method, const char *version, const char *data,
				    size_t *size, void **con_cls)
{
	struct receiver *r = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status;

	if (!*con_cls) {
		*con_cls = r;
		r->len = 0;
		return MHD_YES;
	}
	if (*size) {
		size_t n = *size < sizeof(r->last) - 1 - r->len ? *size : sizeof(r->last) - 1 - r->len;

		memcpy(r->last + r->len, data, n);
		r->len += n;
		r->last[r->len] = '\0';
		*size = 0;
		return MHD_YES;
	}
	status = r->calls++ < r->fail ? 500 : 200;
	resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void test_webhook_retry(void **state)
{
	struct receiver r = { .fail = 2 };
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
						recv_handler, &r, MHD_OPTION_END);
	struct sink *k = NULL;
	struct sink_stats st;
	char url[64];
	struct sink_conf sc = { .retries = 3, .backoff_ms = 10, .timeout_ms = 5000 };

	assert_non_null(d);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook",
		 MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	sc.webhook_url = url;
	assert_int_equal(sink_open(&sc, &k), 0);
	sink_submit(k, "{\"kind\":\"underbilled\",\"leak\":2500}");
	assert_int_equal(sink_flush(k, 10000), 0);
	sink_stats_get(k, &st);
	assert_int_equal(r.calls, 3);                 /* 500, 500, then 200 */
	assert_int_equal(st.webhook_ok, 1);
	assert_int_equal(st.webhook_failed, 0);
	assert_string_equal(r.last, "{\"kind\":\"underbilled\",\"leak\":2500}");
	/* a receiver that keeps failing: given up after 1 + retries attempts */
	r.fail = 100;
	r.calls = 0;
	sink_submit(k, "{}");
	assert_int_equal(sink_flush(k, 10000), 0);
	sink_stats_get(k, &st);
	assert_int_equal(r.calls, 4);
	assert_int_equal(st.webhook_failed, 1);
	sink_close(k);
	MHD_stop_daemon(d);
}

static void test_exec_hook(void **state)
{
	char dir[] = "/tmp/tm-exec.XXXXXX", cmd[400], out[300], *buf = NULL;
	struct sink_conf sc = { .timeout_ms = 5000 };
	struct sink *k = NULL;
	struct sink_stats st;
	size_t len;

	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/alert.json", dir);
	snprintf(cmd, sizeof(cmd), "cat > %s; exit 3", out);
	sc.exec = cmd;
	assert_int_equal(sink_open(&sc, &k), 0);
	sink_submit(k, "{\"kind\":\"usage_after_cancellation\"}");
	assert_int_equal(sink_flush(k, 10000), 0);
	sink_stats_get(k, &st);
	assert_int_equal(st.exec_failed, 1);          /* exit status 3 is logged as a failure */
	assert_int_equal(fileio_read_all(out, 4096, &buf, &len), 0);
	assert_string_equal(buf, "{\"kind\":\"usage_after_cancellation\"}\n");
	free(buf);
	sink_close(k);
	/* a hook that ignores stdin and exits at once must not kill us */
	sc.exec = "exit 0";
	assert_int_equal(sink_open(&sc, &k), 0);
	for (int i = 0; i < 3; i++)
		sink_submit(k, "{\"big\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
	assert_int_equal(sink_flush(k, 10000), 0);
	sink_stats_get(k, &st);
	assert_int_equal(st.exec_ok, 3);
	sink_close(k);
	unlink(out);
	rmdir(dir);
}

/* The judge raises unbilled_usage within one tick of the usage arriving. */
static void test_judge_tick(void **state)
{
	struct tstore t;
	struct judge_conf jc;
	struct judge *j = NULL;
	char dir[] = "/tmp/tm-judge.XXXXXX", out[300], cmd[400], *buf = NULL, url[128];
	int64_t now = (int64_t)time(NULL) * 1000;
	size_t len = 0;
	CURL *c;
	FILE *f;

	assert_non_null(tstore_open(&t));
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/alerts.jsonl", dir);
	judge_conf_defaults(&jc);
	jc.http_port = 0;
	jc.reconcile_interval_ms = 3600000;    /* only our explicit ticks matter */
	jc.anomaly = false;
	jc.alerts_stdout = false;
	snprintf(cmd, sizeof(cmd), "cat >> %s", out);
	snprintf(jc.alerts_exec, sizeof(jc.alerts_exec), "%s", cmd);
	assert_int_equal(judge_open(&jc, t.path, &j), 0);
	assert_int_equal(tstore_usage(&t, "ghost", METRIC_API_REQUESTS, now - 60000,
				      now - 50000, 42), 0);
	assert_int_equal(judge_tick(j, now), 0);
	judge_close(j);                         /* drains nothing: wait for the file */
	for (int i = 0; i < 200; i++) {
		free(buf);
		buf = NULL;
		if (fileio_read_all(out, 1 << 20, &buf, &len) == 0 && strstr(buf, "ghost"))
			break;
		usleep(10000);
	}
	assert_non_null(buf);
	assert_non_null(strstr(buf, "\"kind\":\"unbilled_usage\""));
	assert_non_null(strstr(buf, "\"metered\":42"));
	free(buf);
	buf = NULL;
	/* The HTTP API shows it too. */
	assert_int_equal(judge_open(&jc, t.path, &j), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/leaks", judge_http_port(j));
	f = open_memstream(&buf, &len);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	fclose(f);
	assert_non_null(strstr(buf, "\"tenant\":\"ghost\""));
	free(buf);
	judge_close(j);
	unlink(out);
	rmdir(dir);
	tstore_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_money_display),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_webhook_retry),
		cmocka_unit_test(test_exec_hook),
		cmocka_unit_test(test_judge_tick),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
