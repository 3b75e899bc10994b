/* The collector's HTTP server (see httpd.h). */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents_view.h"
#include "alert.h"
#include "log.h"
#include "metric.h"
#include "money.h"
#include "period.h"
#include "razorpay.h"
#include "store_billing.h"
#include "stripe.h"

enum wh_result { WH_STORED, WH_DUPLICATE, WH_IGNORED, WH_REJECTED, WH_FAILED, WH_NRESULT };
static const char *const wh_result_names[WH_NRESULT] = {
	"stored", "duplicate", "ignored", "rejected", "failed",
};
enum wh_source { SRC_STRIPE, SRC_RAZORPAY, SRC_COUNT };
static const char *const src_names[SRC_COUNT] = { "stripe", "razorpay" };

struct httpd {
	struct MHD_Daemon *d;
	struct store *s;
	char *stripe_secret, *razorpay_secret;
	int64_t max_body, tolerance_s;
	int64_t agents_quiet_ms, agents_from_ms;
	const struct billing_maps *maps, *rzp_maps;
	void (*changed)(void *arg);
	void *changed_arg;
	httpd_metrics_fn metrics, extra;
	void *metrics_arg, *extra_arg;
	pthread_mutex_t mu, maps_mu;   /* maps_mu: held while the maps are used */
	uint64_t hits[SRC_COUNT][WH_NRESULT];
	uint64_t requests;
	int port;
};

struct req {
	char *body;
	size_t len, cap;
	bool too_big;
};

/* ---- responses ----------------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status,
			       const char *type, char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	enum MHD_Result ret;

	json_object_put(o);
	if (!s)
		return MHD_NO;
	ret = respond(c, status, "application/json", s, strlen(s));
	return ret;
}

static enum MHD_Result respond_msg(struct MHD_Connection *c, unsigned status,
				   const char *key, const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, key, json_object_new_string(msg));
	return respond_json(c, status, o);
}

/* ---- webhooks ------------------------------------------------------------------ */

static void count(struct httpd *h, enum wh_source src, enum wh_result r)
{
	pthread_mutex_lock(&h->mu);
	h->hits[src][r]++;
	pthread_mutex_unlock(&h->mu);
}

static enum MHD_Result reject(struct httpd *h, struct MHD_Connection *c, enum wh_source src,
			      unsigned status, const char *msg)
{
	log_warn("webhook %s rejected (%u): %s", src_names[src], status, msg);
	count(h, src, WH_REJECTED);
	return respond_msg(c, status, "error", msg);
}

static enum MHD_Result store_event(struct httpd *h, struct MHD_Connection *c,
				   enum wh_source src, struct billing_event *ev)
{
	json_object *o;
	int rc;

	if (ev->ignored) {
		count(h, src, WH_IGNORED);
		o = json_object_new_object();
		json_object_object_add(o, "status", json_object_new_string("ignored"));
		json_object_object_add(o, "type", json_object_new_string(ev->type));
		return respond_json(c, 200, o);
	}
	rc = billing_event_apply(h->s, ev);
	if (rc < 0) {
		count(h, src, WH_FAILED);
		log_warn("webhook %s event %s: storing failed: %s", src_names[src],
			 ev->event_id, strerror(-rc));
		return respond_msg(c, 500, "error", "storing the event failed; retry later");
	}
	o = json_object_new_object();
	if (rc == STORE_PUT_DUPLICATE) {
		count(h, src, WH_DUPLICATE);
		json_object_object_add(o, "status", json_object_new_string("duplicate"));
	} else {
		count(h, src, WH_STORED);
		json_object_object_add(o, "status", json_object_new_string("stored"));
		json_object_object_add(o, "records", json_object_new_int64((int64_t)ev->bb.nbills));
		if (h->changed)
			h->changed(h->changed_arg);
	}
	json_object_object_add(o, "event", json_object_new_string(ev->event_id));
	json_object_object_add(o, "type", json_object_new_string(ev->type));
	return respond_json(c, 200, o);
}

static enum MHD_Result stripe_hook(struct httpd *h, struct MHD_Connection *c, struct req *q)
{
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Stripe-Signature");
	struct billing_event ev = { 0 };
	char err[256];
	enum MHD_Result ret;
	int rc;

	if (!h->stripe_secret)
		return respond_msg(c, 404, "error", "Stripe webhooks are not configured");
	rc = stripe_verify(h->stripe_secret, sig, q->body ? q->body : "", q->len,
			   (int64_t)time(NULL), h->tolerance_s, err, sizeof(err));
	if (rc)
		return reject(h, c, SRC_STRIPE, rc == -EACCES ? 401 : 400, err);
	pthread_mutex_lock(&h->maps_mu);
	rc = stripe_event_parse(q->body, q->len, h->s, h->maps, &ev, err, sizeof(err));
	pthread_mutex_unlock(&h->maps_mu);
	if (rc)
		ret = reject(h, c, SRC_STRIPE, rc == -ENOMEM ? 500 : 400,
			     rc == -ENOMEM ? "out of memory" : err);
	else
		ret = store_event(h, c, SRC_STRIPE, &ev);
	billing_event_free(&ev);
	return ret;
}

static enum MHD_Result razorpay_hook(struct httpd *h, struct MHD_Connection *c, struct req *q)
{
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Razorpay-Signature");
	const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-razorpay-event-id");
	struct billing_event ev = { 0 };
	char err[256];
	enum MHD_Result ret;
	int rc;

	if (!h->razorpay_secret)
		return respond_msg(c, 404, "error", "Razorpay webhooks are not configured");
	rc = razorpay_verify(h->razorpay_secret, sig, q->body ? q->body : "", q->len, err,
			     sizeof(err));
	if (rc)
		return reject(h, c, SRC_RAZORPAY, rc == -EACCES ? 401 : 400, err);
	pthread_mutex_lock(&h->maps_mu);
	rc = razorpay_event_parse(q->body, q->len, id, h->s, h->rzp_maps, &ev, err, sizeof(err));
	pthread_mutex_unlock(&h->maps_mu);
	if (rc)
		ret = reject(h, c, SRC_RAZORPAY, rc == -ENOMEM ? 500 : 400,
			     rc == -ENOMEM ? "out of memory" : err);
	else
		ret = store_event(h, c, SRC_RAZORPAY, &ev);
	billing_event_free(&ev);
	return ret;
}

/* ---- read-only endpoints ---------------------------------------------------------- */

static int alert_json_cb(const struct store_alert *a, void *arg)
{
	char *s = alert_to_json(a);
	json_object *o = s ? json_tokener_parse(s) : NULL;

	free(s);
	if (!o)
		return -ENOMEM;
	json_object_array_add(arg, o);
	return 0;
}

static enum MHD_Result leaks(struct httpd *h, struct MHD_Connection *c)
{
	const char *period = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "period");
	const char *status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
	json_object *arr = json_object_new_array();
	bool open_only = !status || strcmp(status, "all") != 0;

	if (store_alert_list(h->s, period && *period ? period : NULL, open_only,
			     alert_json_cb, arr)) {
		json_object_put(arr);
		return respond_msg(c, 500, "error", "store query failed");
	}
	return respond_json(c, 200, arr);
}

struct usage_json {
	json_object *arr;
	bool detail;             /* route, method and status class too */
};

static int usage_json_cb(const struct store_usage *u, void *arg)
{
	struct usage_json *uj = arg;
	json_object *o = json_object_new_object();
	const char *status = metric_status_class(u->status_class);
	char t[32];

	json_object_object_add(o, "tenant", json_object_new_string(u->tenant));
	json_object_object_add(o, "metric", json_object_new_string(metric_name(u->metric) ?
				metric_name(u->metric) : "unknown"));
	if (uj->detail) {
		json_object_object_add(o, "route", json_object_new_string(u->route));
		json_object_object_add(o, "method", json_object_new_string(u->method));
		json_object_object_add(o, "status_class",
				       status ? json_object_new_string(status) : NULL);
	}
	json_object_object_add(o, "value", json_object_new_uint64(u->value));
	period_format_time(u->first_ms, t, sizeof(t));
	json_object_object_add(o, "first_window", json_object_new_string(t));
	period_format_time(u->last_ms, t, sizeof(t));
	json_object_object_add(o, "last_window_end", json_object_new_string(t));
	json_object_array_add(uj->arr, o);
	return 0;
}

/* ?period=YYYY-MM, default the current month. */
static int period_arg(struct MHD_Connection *c, char name[8], int64_t *from, int64_t *to)
{
	const char *p = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "period");

	if (p && *p) {
		if (period_parse_month(p, from, to))
			return -EINVAL;
		snprintf(name, 8, "%.7s", p);
		return 0;
	}
	period_month_of((int64_t)time(NULL) * 1000, name, 8, from, to);
	return 0;
}

/* ?period=YYYY-MM&tenant=T&detail=1 (detail: by route x method x status
 * class too, from the windows themselves). */
static enum MHD_Result usage(struct httpd *h, struct MHD_Connection *c)
{
	const char *tenant = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tenant");
	const char *detail = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "detail");
	struct usage_json uj = { 0 };
	json_object *o;
	int64_t from, to;
	char name[8];
	int err;

	if (period_arg(c, name, &from, &to))
		return respond_msg(c, 400, "error", "period must be YYYY-MM");
	if (detail && strcmp(detail, "0") && strcmp(detail, "1"))
		return respond_msg(c, 400, "error", "detail must be 0 or 1");
	uj.detail = detail && !strcmp(detail, "1");
	uj.arr = json_object_new_array();
	err = (uj.detail ? store_usage_detail : store_usage_sum)(h->s, tenant && *tenant ?
		tenant : NULL, 0, from, to, usage_json_cb, &uj);
	if (err) {
		json_object_put(uj.arr);
		if (err == -ERANGE)
			return respond_msg(c, 410, "error", "that period's windows were "
					   "pruned (retention)");
		return respond_msg(c, 500, "error", "store query failed");
	}
	o = json_object_new_object();
	json_object_object_add(o, "period", json_object_new_string(name));
	json_object_object_add(o, "usage", uj.arr);
	return respond_json(c, 200, o);
}

#define CUR_MAX 16

struct alert_counts {
	uint64_t n[ALERT_KIND_COUNT][3];
	char cur[CUR_MAX][4];                    /* currencies seen */
	int64_t leak[ALERT_KIND_COUNT][CUR_MAX];  /* open leak per kind x currency */
	int ncur;
};

static int sev_index(const char *s)
{
	return strcmp(s, "critical") == 0 ? 2 : strcmp(s, "warning") == 0 ? 1 : 0;
}

static int count_cb(const struct store_alert *a, void *arg)
{
	struct alert_counts *ac = arg;
	int k = alert_kind_from_name(a->kind), c;

	if (k < 0)
		return 0;
	ac->n[k][sev_index(a->severity)]++;
	for (c = 0; c < ac->ncur; c++)
		if (strcmp(ac->cur[c], a->currency) == 0)
			break;
	if (c == ac->ncur) {
		if (c == CUR_MAX)
			return 0;
		snprintf(ac->cur[c], sizeof(ac->cur[c]), "%.3s", a->currency);
		ac->ncur++;
	}
	ac->leak[k][c] += a->leak;
	return 0;
}

static enum MHD_Result metrics(struct httpd *h, struct MHD_Connection *c)
{
	static const char *const sev[3] = { "info", "warning", "critical" };
	struct alert_counts ac = { 0 };
	struct store_stats st = { 0 };
	int64_t pruned;
	uint64_t bills = 0, hits[SRC_COUNT][WH_NRESULT];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return MHD_NO;
	store_stats_get(h->s, &st);
	store_bill_count(h->s, &bills);
	if (store_pruned_before(h->s, &pruned))
		pruned = 0;
	fprintf(f, "# TYPE truemeter_reports_total counter\ntruemeter_reports_total %llu\n"
		"# TYPE truemeter_usage_rows_total counter\ntruemeter_usage_rows_total %llu\n"
		"# TYPE truemeter_gaps_total counter\ntruemeter_gaps_total %llu\n"
		"# TYPE truemeter_billing_records gauge\ntruemeter_billing_records %llu\n"
		"# HELP truemeter_store_pruned_before_seconds Windows starting before it "
		"keep only hourly usage sums (retention); 0 if never pruned.\n"
		"# TYPE truemeter_store_pruned_before_seconds gauge\n"
		"truemeter_store_pruned_before_seconds %lld\n",
		(unsigned long long)st.reports, (unsigned long long)st.rows,
		(unsigned long long)st.gaps, (unsigned long long)bills,
		(long long)(pruned / 1000));
	pthread_mutex_lock(&h->mu);
	memcpy(hits, h->hits, sizeof(hits));
	pthread_mutex_unlock(&h->mu);
	fprintf(f, "# TYPE truemeter_webhooks_total counter\n");
	for (int s = 0; s < SRC_COUNT; s++)
		for (int r = 0; r < WH_NRESULT; r++)
			fprintf(f, "truemeter_webhooks_total{source=\"%s\",result=\"%s\"} %llu\n",
				src_names[s], wh_result_names[r], (unsigned long long)hits[s][r]);
	store_alert_list(h->s, NULL, true, count_cb, &ac);
	fprintf(f, "# HELP truemeter_alert_leak_minor Money at stake in open alerts, minor units.\n"
		"# TYPE truemeter_alert_leak_minor gauge\n");
	for (int k = 0; k < ALERT_KIND_COUNT; k++)
		for (int i = 0; i < ac.ncur; i++)
			fprintf(f, "truemeter_alert_leak_minor{kind=\"%s\",currency=\"%s\"} %lld\n",
				alert_kind_name(k), ac.cur[i], (long long)ac.leak[k][i]);
	fprintf(f, "# TYPE truemeter_alerts_open gauge\n");
	for (int k = 0; k < ALERT_KIND_COUNT; k++)
		for (int s = 0; s < 3; s++)
			fprintf(f, "truemeter_alerts_open{kind=\"%s\",severity=\"%s\"} %llu\n",
				alert_kind_name(k), sev[s], (unsigned long long)ac.n[k][s]);
	agents_view_metrics(f, h->s, period_now_ms(), h->agents_quiet_ms, h->agents_from_ms);
	if (h->metrics)
		h->metrics(f, h->metrics_arg);
	pthread_mutex_lock(&h->mu);
	if (h->extra)
		h->extra(f, h->extra_arg);
	pthread_mutex_unlock(&h->mu);
	fclose(f);
	return respond(c, 200, "text/plain; version=0.0.4", buf, len);
}

void httpd_html_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static int html_alert_cb(const struct store_alert *a, void *arg)
{
	FILE *f = arg;
	const char *cols[] = { a->severity, a->kind, a->tenant, a->metric, a->period };
	const int64_t money[] = { a->expected_amount, a->billed_amount, a->leak };

	fprintf(f, "<tr class=\"%s\">", sev_index(a->severity) == 2 ? "crit" :
		sev_index(a->severity) == 1 ? "warn" : "info");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		fputs("<td>", f);
		httpd_html_escape(f, cols[i]);
		fputs("</td>", f);
	}
	fprintf(f, "<td>%llu</td><td>%llu</td>", (unsigned long long)a->metered,
		(unsigned long long)a->billed);
	for (size_t i = 0; i < sizeof(money) / sizeof(money[0]); i++) {
		char buf[64];

		money_format(money[i], a->currency, buf, sizeof(buf));
		fputs("<td>", f);
		httpd_html_escape(f, buf);
		fputs("</td>", f);
	}
	fputs("</tr>\n", f);
	return 0;
}

static int html_usage_cb(const struct store_usage *u, void *arg)
{
	FILE *f = arg;

	fputs("<tr><td>", f);
	httpd_html_escape(f, u->tenant);
	fprintf(f, "</td><td>%s</td><td>%llu</td></tr>\n",
		metric_name(u->metric) ? metric_name(u->metric) : "?",
		(unsigned long long)u->value);
	return 0;
}

static enum MHD_Result dashboard(struct httpd *h, struct MHD_Connection *c)
{
	char *buf = NULL, name[8];
	size_t len = 0;
	int64_t from, to, now = period_now_ms();
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return MHD_NO;
	period_month_of(now, name, sizeof(name), &from, &to);
	fprintf(f, "<!doctype html><html><head><meta charset=\"utf-8\">"
		"<title>truemeter</title><style>"
		"body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
		"td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
		"tr.crit{background:#fdd}tr.warn{background:#ffd}"
		"</style></head><body><h1>truemeter</h1>"
		"<h2>Open leak alerts</h2><table><tr><th>severity</th><th>kind</th>"
		"<th>tenant</th><th>metric</th><th>period</th><th>metered</th><th>billed</th>"
		"<th>expected</th><th>billed amount</th><th>leak</th></tr>\n");
	store_alert_list(h->s, NULL, true, html_alert_cb, f);
	fprintf(f, "</table><h2>Usage %s</h2><table><tr><th>tenant</th><th>metric</th>"
		"<th>value</th></tr>\n", name);
	store_usage_sum(h->s, NULL, 0, from, to, html_usage_cb, f);
	fputs("</table>", f);
	agents_view_html(f, h->s, now, h->agents_quiet_ms, h->agents_from_ms);
	fputs("<p><a href=\"/api/v1/leaks\">/api/v1/leaks</a> · "
	      "<a href=\"/api/v1/usage\">/api/v1/usage</a> · <a href=\"/metrics\">/metrics</a>"
	      "</p></body></html>\n", f);
	fclose(f);
	return respond(c, 200, "text/html; charset=utf-8", buf, len);
}

/* ---- dispatch -------------------------------------------------------------------- */

static enum MHD_Result route(struct httpd *h, struct MHD_Connection *c, const char *url,
			     const char *method, struct req *q)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool post = strcmp(method, "POST") == 0;

	if (strcmp(url, "/webhooks/stripe") == 0 || strcmp(url, "/webhooks/razorpay") == 0) {
		enum wh_source src = url[10] == 's' ? SRC_STRIPE : SRC_RAZORPAY;

		if (!post)
			return respond_msg(c, 405, "error", "use POST");
		if (q->too_big)
			return reject(h, c, src, 413, "body too large");
		return src == SRC_STRIPE ? stripe_hook(h, c, q) : razorpay_hook(h, c, q);
	}
	if (!get)
		return respond_msg(c, 405, "error", "use GET");
	if (strcmp(url, "/healthz") == 0) {
		struct store_stats st;

		if (store_stats_get(h->s, &st))
			return respond(c, 503, "text/plain", strdup("store unavailable\n"), 18);
		return respond(c, 200, "text/plain", strdup("ok\n"), 3);
	}
	if (strcmp(url, "/metrics") == 0)
		return metrics(h, c);
	if (strcmp(url, "/api/v1/leaks") == 0)
		return leaks(h, c);
	if (strcmp(url, "/api/v1/usage") == 0)
		return usage(h, c);
	if (strcmp(url, "/") == 0)
		return dashboard(h, c);
	return respond_msg(c, 404, "error", "not found");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct req *q = *con_cls;

	if (!q) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		pthread_mutex_lock(&h->mu);
		h->requests++;
		pthread_mutex_unlock(&h->mu);
		if (cl && strtoull(cl, NULL, 10) > (unsigned long long)h->max_body) {
			q->too_big = true;   /* answered now: the body is never read */
			return route(h, c, url, method, q);
		}
		return MHD_YES;
	}
	if (*data_size) {
		if (!q->too_big && q->len + *data_size > (size_t)h->max_body)
			q->too_big = true;
		if (!q->too_big) {
			if (q->len + *data_size + 1 > q->cap) {
				size_t cap = (q->len + *data_size + 1) * 2;
				char *n;

				if (cap > (size_t)h->max_body + 1)
					cap = (size_t)h->max_body + 1;
				n = realloc(q->body, cap);
				if (!n)
					return MHD_NO;
				q->body = n;
				q->cap = cap;
			}
			memcpy(q->body + q->len, data, *data_size);
			q->len += *data_size;
			q->body[q->len] = '\0';
		}
		*data_size = 0;
		return MHD_YES;
	}
	return route(h, c, url, method, q);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

static char *dup_opt(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int httpd_start(const struct httpd_conf *conf, struct httpd **out, char *err, size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	int rc;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->maps_mu, NULL);
	h->stripe_secret = dup_opt(conf->stripe_secret);
	h->razorpay_secret = dup_opt(conf->razorpay_secret);
	h->max_body = conf->max_body > 0 ? conf->max_body : 1 << 20;
	h->agents_quiet_ms = conf->agents_quiet_ms;
	h->agents_from_ms = conf->agents_from_ms;
	h->tolerance_s = conf->stripe_tolerance_s > 0 ? conf->stripe_tolerance_s :
			 STRIPE_TOLERANCE_S;
	h->maps = conf->maps;
	h->rzp_maps = conf->razorpay_maps;
	h->changed = conf->changed;
	h->changed_arg = conf->changed_arg;
	h->metrics = conf->metrics;
	h->metrics_arg = conf->metrics_arg;
	if (inet_pton(AF_INET, conf->listen && *conf->listen ? conf->listen : "127.0.0.1",
		      &sa.sin_addr) != 1) {
		snprintf(err, errlen, "http: listen address '%s' is not an IPv4 address",
			 conf->listen);
		rc = -EINVAL;
		goto cleanup;
	}
	sa.sin_port = htons((uint16_t)conf->port);
	rc = store_open(conf->db_path, &h->s);
	if (!rc)
		rc = store_billing_init(h->s);
	if (rc) {
		snprintf(err, errlen, "http: cannot open the store %s: %s", conf->db_path,
			 strerror(-rc));
		goto cleanup;
	}
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO,
				(uint16_t)conf->port, NULL, NULL, handler, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_NOTIFY_COMPLETED, completed, h,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
				MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "http: cannot listen on %s:%d (in use?)",
			 conf->listen && *conf->listen ? conf->listen : "127.0.0.1", conf->port);
		rc = -EADDRINUSE;
		goto cleanup;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : conf->port;
	log_info("http: listening on %s:%d", conf->listen && *conf->listen ? conf->listen :
		 "127.0.0.1", h->port);
	*out = h;
	return 0;
cleanup:
	httpd_stop(h);
	return rc;
}

int httpd_port(const struct httpd *h)
{
	return h ? h->port : 0;
}

void httpd_set_metrics(struct httpd *h, httpd_metrics_fn fn, void *arg)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->extra = fn;
	h->extra_arg = arg;
	pthread_mutex_unlock(&h->mu);
}

void httpd_set_maps(struct httpd *h, const struct billing_maps *stripe,
		    const struct billing_maps *razorpay)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->maps_mu);
	h->maps = stripe;
	h->rzp_maps = razorpay;
	pthread_mutex_unlock(&h->maps_mu);
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	store_close(h->s);
	free(h->stripe_secret);
	free(h->razorpay_secret);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->maps_mu);
	free(h);
}
