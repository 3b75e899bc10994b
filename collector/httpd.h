/* The collector's HTTP server (libmicrohttpd, one internal polling thread
 * with its own store handle):
 *   POST /webhooks/stripe     Stripe events (Stripe-Signature)
 *   POST /webhooks/razorpay   Razorpay events (X-Razorpay-Signature)
 *   GET  /healthz             "ok" when the store answers
 *   GET  /metrics             Prometheus text
 *   GET  /api/v1/leaks        alerts as JSON (?period=2026-11&status=open|all)
 *   GET  /api/v1/usage        usage per tenant x metric (?period=&tenant=)
 *   GET  /                    a server-rendered dashboard (and the sections
 *                             added with httpd_set_dashboard())
 * Bodies larger than max_body get 413; a bad signature 401; a malformed
 * header, stale timestamp or malformed event 400; a replayed event id 200
 * with nothing stored again.  Nothing is stored for a rejected request. */
#ifndef TM_HTTPD_H
#define TM_HTTPD_H

#include <stdint.h>
#include <stdio.h>

#include "billing.h"

/* Writes extra Prometheus lines (e.g. the receiver's counters), or extra
 * dashboard sections (HTML, escaped with httpd_html_escape()). */
typedef void (*httpd_metrics_fn)(FILE *out, void *arg);

struct httpd_conf {
	const char *listen;          /* IPv4 address, default 127.0.0.1 */
	int port;                    /* 0: an ephemeral port (see httpd_port) */
	int64_t max_body;            /* bytes, default 1 MiB */
	const char *stripe_secret;   /* "" / NULL: Stripe endpoint answers 404 */
	int64_t stripe_tolerance_s;  /* default 300 */
	const char *razorpay_secret; /* "" / NULL: Razorpay endpoint answers 404 */
	const struct billing_maps *maps;   /* Stripe's; borrowed, may be NULL */
	const struct billing_maps *razorpay_maps;   /* borrowed, may be NULL */
	const char *db_path;
	void (*changed)(void *arg);  /* billing data stored (wake reconcile) */
	void *changed_arg;
	httpd_metrics_fn metrics;    /* may be NULL; called on the HTTP thread */
	void *metrics_arg;
	int64_t agents_quiet_ms;     /* the dashboard's agents: silent after this */
	int64_t agents_from_ms;      /* ... counted from no earlier than this */
};

struct httpd;

/* Opens its own store on db_path and starts serving.  Strings are copied.
 * 0 or a negative errno with a message in err. */
int httpd_start(const struct httpd_conf *conf, struct httpd **out, char *err, size_t errlen);
int httpd_port(const struct httpd *h);
/* Adds a metrics writer after start (the lead's receiver counters). */
void httpd_set_metrics(struct httpd *h, httpd_metrics_fn fn, void *arg);
/* s with HTML's special characters escaped, onto f. */
void httpd_html_escape(FILE *f, const char *s);
/* Swaps the mapping objects (borrowed; the old ones are no longer used
 * when this returns, so the caller may free them). */
void httpd_set_maps(struct httpd *h, const struct billing_maps *stripe,
		    const struct billing_maps *razorpay);
void httpd_stop(struct httpd *h);

#endif
