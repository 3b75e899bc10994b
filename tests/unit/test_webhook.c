/* Webhooks end to end: a real libmicrohttpd server on 127.0.0.1, a real
 * libcurl client, the providers' documented payloads, and every rejection
 * (signature, stale timestamp, replay, malformed JSON, oversized body)
 * with nothing stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing.h"
#include "fileio.h"
#include "httpd.h"
#include "judge_testutil.h"
#include "metric.h"
#include "razorpay.h"
#include "stripe.h"

#define STRIPE_SECRET "whsec_test_5f1c0d8b9a"
#define RZP_SECRET "rzp_webhook_secret_42"
#define MAX_BODY (64 * 1024)

struct fx {
	struct tstore t;
	struct httpd *h;
	struct billing_maps *maps;
	char base[64];
};

struct resp {
	long status;
	char body[8192];
	size_t len;
};

static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = sz * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static struct resp request(struct fx *f, const char *path, const char *body, size_t len,
			   const char *h1, const char *h2)
{
	struct resp r = { 0 };
	struct curl_slist *hdr = NULL;
	char url[256];
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (h1)
		hdr = curl_slist_append(hdr, h1);
	if (h2)
		hdr = curl_slist_append(hdr, h2);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return r;
}

static char *fixture(const char *rel, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(fileio_read_all(tm_path(rel), 1 << 20, &buf, len), 0);
	return buf;
}

static struct resp stripe_post(struct fx *f, const char *body, size_t len, int64_t t,
			       const char *secret)
{
	char sig[160], hdr[200];

	assert_int_equal(stripe_sign(secret, t, body, len, sig, sizeof(sig)), 0);
	snprintf(hdr, sizeof(hdr), "Stripe-Signature: %s", sig);
	return request(f, "/webhooks/stripe", body, len, hdr, NULL);
}

static struct resp rzp_post(struct fx *f, const char *body, size_t len, const char *id,
			    const char *secret)
{
	char sig[65], hdr[128], idh[128];

	razorpay_sign(secret, body, len, sig);
	snprintf(hdr, sizeof(hdr), "X-Razorpay-Signature: %s", sig);
	snprintf(idh, sizeof(idh), "x-razorpay-event-id: %s", id);
	return request(f, "/webhooks/razorpay", body, len, hdr, idh);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct httpd_conf hc = { .listen = "127.0.0.1", .port = 0, .max_body = MAX_BODY,
				 .stripe_secret = STRIPE_SECRET, .razorpay_secret = RZP_SECRET };
	char err[256];

	assert_non_null(tstore_open(&f->t));
	assert_int_equal(billing_maps_load(NULL, tm_path("examples/razorpay/price_map.json"),
					   &f->maps, err, sizeof(err)), 0);
	hc.razorpay_maps = f->maps;
	hc.db_path = f->t.path;
	if (httpd_start(&hc, &f->h, err, sizeof(err)))
		fail_msg("%s", err);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", httpd_port(f->h));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	httpd_stop(f->h);
	billing_maps_free(f->maps);
	tstore_close(&f->t);
	free(f);
	return 0;
}

static uint64_t bills(struct fx *f)
{
	uint64_t n = 0;

	assert_int_equal(store_bill_count(f->t.s, &n), 0);
	return n;
}

static uint64_t events(struct fx *f, const char *src)
{
	uint64_t n = 0;

	assert_int_equal(store_event_count(f->t.s, src, &n), 0);
	return n;
}

struct subs {
	int n;
	char status[32];
	int64_t ended;
};

static int sub_cb(const struct store_sub *u, void *arg)
{
	struct subs *s = arg;

	s->n++;
	snprintf(s->status, sizeof(s->status), "%s", u->status);
	s->ended = u->ended_ms;
	return 0;
}

struct pays {
	int64_t unpaid;
	int n;
};

static int pay_cb(const struct store_payment *p, void *arg)
{
	struct pays *s = arg;

	s->n++;
	s->unpaid = p->unpaid_since_ms;
	return 0;
}

static void test_stripe_documented_events(void **state)
{
	struct fx *f = *state;
	int64_t now = time(NULL);
	const char *names[] = { "customer.subscription.created", "invoice.finalized",
				"invoice.payment_failed", "invoice.paid",
				"customer.subscription.deleted" };
	struct subs s = { 0 };
	struct pays p = { 0 };

	for (size_t i = 0; i < 5; i++) {
		char rel[128];
		size_t len;
		char *body;
		struct resp r;

		snprintf(rel, sizeof(rel), "examples/stripe/events/%s.json", names[i]);
		body = fixture(rel, &len);
		r = stripe_post(f, body, len, now, STRIPE_SECRET);
		if (r.status != 200 || !strstr(r.body, "\"stored\""))
			fail_msg("%s: %ld %s", names[i], r.status, r.body);
		if (i == 2) {   /* payment failed: the tenant is unpaid */
			assert_int_equal(store_payment_list(f->t.s, pay_cb, &p), 0);
			assert_int_equal(p.unpaid, 1793495000LL * 1000);
		}
		free(body);
	}
	assert_int_equal(bills(f), 1);       /* the api line, replaced by each invoice event */
	assert_int_equal(events(f, "stripe"), 5);
	assert_int_equal(store_sub_list(f->t.s, "acme", sub_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.status, "canceled");
	assert_int_equal(s.ended, 1792022400LL * 1000);
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_payment_list(f->t.s, pay_cb, &p), 0);
	assert_int_equal(p.unpaid, 0);        /* invoice.paid cleared it */
}

static void test_stripe_rejections(void **state)
{
	struct fx *f = *state;
	int64_t now = time(NULL);
	size_t len;
	char *body = fixture("examples/stripe/events/invoice.paid.json", &len), *big;
	char sig[160], hdr[400];
	struct resp r;

	/* wrong secret */
	r = stripe_post(f, body, len, now, "whsec_wrong");
	assert_int_equal(r.status, 401);
	/* stale timestamp, correctly signed */
	r = stripe_post(f, body, len, now - 301, STRIPE_SECRET);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "tolerance"));
	/* no header / garbage header */
	r = request(f, "/webhooks/stripe", body, len, NULL, NULL);
	assert_int_equal(r.status, 400);
	r = request(f, "/webhooks/stripe", body, len, "Stripe-Signature: t=abc,v1=00", NULL);
	assert_int_equal(r.status, 400);
	/* body changed after signing */
	assert_int_equal(stripe_sign(STRIPE_SECRET, now, body, len, sig, sizeof(sig)), 0);
	snprintf(hdr, sizeof(hdr), "Stripe-Signature: %s", sig);
	body[len - 3] = ' ';
	r = request(f, "/webhooks/stripe", body, len, hdr, NULL);
	assert_int_equal(r.status, 401);
	/* malformed JSON, correctly signed */
	r = stripe_post(f, "{\"id\": \"evt_x\", \"type\": ", 24, now, STRIPE_SECRET);
	assert_int_equal(r.status, 400);
	/* a JSON object that is not an event */
	r = stripe_post(f, "{\"hello\": 1}", 12, now, STRIPE_SECRET);
	assert_int_equal(r.status, 400);
	/* oversized */
	big = malloc(MAX_BODY + 100);
	memset(big, ' ', MAX_BODY + 100);
	big[0] = '{';
	big[MAX_BODY + 99] = '}';
	r = stripe_post(f, big, MAX_BODY + 100, now, STRIPE_SECRET);
	assert_int_equal(r.status, 413);
	free(big);
	free(body);
	assert_int_equal(bills(f), 0);
	assert_int_equal(events(f, NULL), 0);
}

static void test_stripe_replay_and_rolling_secret(void **state)
{
	struct fx *f = *state;
	int64_t now = time(NULL);
	size_t len;
	char *body = fixture("examples/stripe/events/invoice.paid.json", &len);
	char good[160], hdr[512];
	struct resp r;

	r = stripe_post(f, body, len, now, STRIPE_SECRET);
	assert_int_equal(r.status, 200);
	assert_int_equal(bills(f), 1);
	/* Stripe redelivers the same event later: 200, nothing stored again */
	r = stripe_post(f, body, len, now + 5, STRIPE_SECRET);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"duplicate\""));
	assert_int_equal(events(f, "stripe"), 1);
	assert_int_equal(bills(f), 1);
	/* several v1 signatures (secret roll): any may match */
	assert_int_equal(stripe_sign(STRIPE_SECRET, now, body, len, good, sizeof(good)), 0);
	snprintf(hdr, sizeof(hdr), "Stripe-Signature: t=%lld,v1=%064d,%s", (long long)now, 0,
		 strchr(good, ',') + 1);
	r = request(f, "/webhooks/stripe", body, len, hdr, NULL);
	assert_int_equal(r.status, 200);
	free(body);
}

static void test_razorpay_documented_events(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "subscription.charged", "invoice.paid", "payment.failed",
				"subscription.pending", "subscription.halted",
				"subscription.cancelled" };
	struct subs s = { 0 };
	struct pays p = { 0 };

	for (size_t i = 0; i < 6; i++) {
		char rel[128], id[64];
		size_t len;
		char *body;
		struct resp r;

		snprintf(rel, sizeof(rel), "examples/razorpay/%s.json", names[i]);
		snprintf(id, sizeof(id), "evt_rzp_%zu", i);
		body = fixture(rel, &len);
		r = rzp_post(f, body, len, id, RZP_SECRET);
		if (r.status != 200 || !strstr(r.body, "\"stored\""))
			fail_msg("%s: %ld %s", names[i], r.status, r.body);
		free(body);
		if (i == 1)
			assert_int_equal(bills(f), 2);     /* the charge + the egress line */
	}
	assert_int_equal(events(f, "razorpay"), 6);
	assert_int_equal(store_sub_list(f->t.s, "initech", sub_cb, &s), 0);
	assert_string_equal(s.status, "cancelled");
	assert_int_equal(s.ended, 1794009600LL * 1000);
	assert_int_equal(store_payment_list(f->t.s, pay_cb, &p), 0);
	assert_int_equal(p.unpaid, 1793577600LL * 1000);   /* the earliest failure (pending) */
}

static void test_razorpay_rejections(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *body = fixture("examples/razorpay/subscription.charged.json", &len), *big;
	struct resp r;

	r = rzp_post(f, body, len, "evt_a", "not-the-secret");
	assert_int_equal(r.status, 401);
	r = request(f, "/webhooks/razorpay", body, len, "X-Razorpay-Signature: zz", NULL);
	assert_int_equal(r.status, 400);
	r = rzp_post(f, "{\"event\": ", 10, "evt_b", RZP_SECRET);
	assert_int_equal(r.status, 400);
	big = calloc(1, MAX_BODY + 10);
	memset(big, 'x', MAX_BODY + 9);
	r = rzp_post(f, big, MAX_BODY + 9, "evt_c", RZP_SECRET);
	assert_int_equal(r.status, 413);
	free(big);
	assert_int_equal(bills(f), 0);
	assert_int_equal(events(f, NULL), 0);
	/* replay by event id */
	r = rzp_post(f, body, len, "evt_d", RZP_SECRET);
	assert_int_equal(r.status, 200);
	r = rzp_post(f, body, len, "evt_d", RZP_SECRET);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"duplicate\""));
	assert_int_equal(events(f, "razorpay"), 1);
	assert_int_equal(bills(f), 1);
	free(body);
}

/* The 2025 ("basil") invoice shape: parent.subscription_details and
 * pricing.price_details.price instead of an expanded price. */
static void test_stripe_2025_shape(void **state)
{
	struct tstore t;
	struct billing_maps *maps = NULL;
	struct billing_event ev = { 0 };
	char err[256] = "", *body;
	size_t len;

	assert_non_null(tstore_open(&t));
	assert_int_equal(billing_maps_load(NULL, tm_path("examples/stripe/price_map.json"), &maps,
					   err, sizeof(err)), 0);
	body = fixture("examples/stripe/events/invoice.paid.2025.json", &len);
	if (stripe_event_parse(body, len, t.s, maps, &ev, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(ev.bb.nbills, 1);
	assert_string_equal(ev.bb.bills[0].tenant, "globex");
	assert_int_equal(ev.bb.bills[0].metric, METRIC_NET_TX_BYTES);
	assert_int_equal(ev.bb.bills[0].quantity, 20);
	assert_int_equal(ev.bb.bills[0].amount, 12000);
	assert_int_equal(billing_event_apply(t.s, &ev), STORE_PUT_NEW);
	billing_event_free(&ev);
	free(body);
	billing_maps_free(maps);
	tstore_close(&t);
}

static void test_read_endpoints(void **state)
{
	struct fx *f = *state;
	struct resp r;

	r = request(f, "/healthz", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 200);
	r = request(f, "/metrics", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "truemeter_webhooks_total{source=\"stripe\",result=\"stored\"} 0"));
	assert_non_null(strstr(r.body, "truemeter_alerts_open{kind=\"underbilled\",severity=\"critical\"} 0"));
	assert_non_null(strstr(r.body, "\ntruemeter_store_pruned_before_seconds 0\n"));
	r = request(f, "/api/v1/leaks", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "[]");
	r = request(f, "/api/v1/usage?period=2026-11", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"period\":\"2026-11\""));
	r = request(f, "/api/v1/usage?period=nov", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 400);
	r = request(f, "/api/v1/usage?period=2026-11&detail=1", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"usage\":[]"));
	r = request(f, "/api/v1/usage?period=2026-11&detail=yes", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "detail must be 0 or 1"));
	r = request(f, "/", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<h2>Open leak alerts</h2>"));
	r = request(f, "/nope", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 404);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stripe_documented_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stripe_rejections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stripe_replay_and_rolling_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_razorpay_documented_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_razorpay_rejections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_endpoints, setup, teardown),
		cmocka_unit_test(test_stripe_2025_shape),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
