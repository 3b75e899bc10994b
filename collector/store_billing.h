/* The billing side of the store: billing records (invoice lines), subscription
 * and payment state, the pricing catalog, customer/price mappings, processed
 * webhook event ids and leak alerts.
 *
 * Same rules as store.h: strings passed in are copied; strings handed to
 * callbacks are valid only during the callback.  Times are unix ms; periods
 * are [start, end).  Money is int64 minor units with an explicit currency. */
#ifndef TM_STORE_BILLING_H
#define TM_STORE_BILLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Creates the billing tables if missing.  Call once after store_open(). */
int store_billing_init(struct store *s);

/* One billed line: (source, invoice_id, line_id) is its identity, so the
 * same invoice imported or delivered twice replaces itself. */
struct store_bill {
	const char *source;          /* "csv", "jsonl", "stripe", "razorpay" */
	const char *invoice_id;
	const char *line_id;         /* "" when the source has one line per row */
	const char *tenant;
	int metric;
	int64_t period_start_ms, period_end_ms;
	uint64_t quantity;
	int64_t amount;              /* minor units */
	const char *currency;        /* lower case ISO 4217 */
	const char *status;          /* "open", "paid", "failed", "imported" */
};

/* Subscription state from a billing provider. */
struct store_sub {
	const char *source, *sub_id, *tenant;
	const char *status;          /* provider status, e.g. "active", "canceled" */
	int64_t period_start_ms, period_end_ms;   /* current period, 0 unknown */
	int64_t ended_ms;            /* access ended (cancelled), 0 = not ended */
	int64_t updated_ms;
};

/* Payment state per tenant: unpaid_since_ms set by a failed payment (kept
 * at its first failure), cleared (0) by a paid invoice or charge. */
struct store_payment {
	const char *tenant, *source, *ref;
	int64_t unpaid_since_ms;     /* 0 = paid up */
	int64_t updated_ms;
};

/* A learned mapping, e.g. kind "customer": "cus_123" -> "acme". */
struct store_mapping {
	const char *kind, *key, *value;
};

/* Everything one webhook event or one import file changes, applied in one
 * transaction.  With event_id set, an (event_source, event_id) seen before
 * makes it a no-op returning STORE_PUT_DUPLICATE. */
struct store_billing_change {
	const char *event_source, *event_id;
	const struct store_bill *bills;
	size_t nbills;
	const struct store_sub *subs;
	size_t nsubs;
	const struct store_payment *payments;
	size_t npayments;
	const struct store_mapping *mappings;
	size_t nmappings;
};

/* STORE_PUT_NEW, STORE_PUT_DUPLICATE or a negative errno (nothing stored). */
int store_billing_apply(struct store *s, const struct store_billing_change *c);

/* Billing records of a tenant (NULL = all) and metric (0 = all) whose period
 * overlaps [from_ms, to_ms), ordered by tenant, metric, period. */
typedef int (*store_bill_cb)(const struct store_bill *b, void *arg);
int store_bill_query(struct store *s, const char *tenant, int metric,
		     int64_t from_ms, int64_t to_ms, store_bill_cb cb, void *arg);
/* Number of billing records, for tests and /metrics. */
int store_bill_count(struct store *s, uint64_t *n);

typedef int (*store_sub_cb)(const struct store_sub *sub, void *arg);
int store_sub_list(struct store *s, const char *tenant, store_sub_cb cb, void *arg);
typedef int (*store_payment_cb)(const struct store_payment *p, void *arg);
int store_payment_list(struct store *s, store_payment_cb cb, void *arg);

/* 1 and the value (copied into out) if known, 0 if not. */
int store_mapping_get(struct store *s, const char *kind, const char *key,
		      char *out, size_t outlen);
/* Number of processed webhook events of a source (NULL = all). */
int store_event_count(struct store *s, const char *source, uint64_t *n);

/* The pricing catalog as its JSON text (one current version). */
int store_catalog_put(struct store *s, const char *json);
/* 1 and *json (malloc'd, caller frees) if stored, 0 if none. */
int store_catalog_get(struct store *s, char **json);

/* A leak alert; (kind, tenant, metric, period) identifies it.  metric is a
 * name ("api_requests", or "*" for alerts not about one metric). */
struct store_alert {
	int64_t id;                  /* filled by the store */
	const char *kind, *tenant, *metric, *period;
	int64_t period_start_ms, period_end_ms;
	uint64_t metered, billed;    /* quantities */
	int64_t expected_amount, billed_amount, leak;
	const char *currency, *severity;
	const char *evidence;        /* JSON object text */
	const char *status;          /* "open" or "resolved" */
	int64_t first_seen_ms, updated_ms;
};

enum store_alert_result {
	STORE_ALERT_NEW = 0,         /* stored as a new open alert */
	STORE_ALERT_CHANGED = 1,     /* existing alert, numbers changed (or reopened) */
	STORE_ALERT_SAME = 2,        /* nothing changed */
};
/* Inserts or updates the open alert; a->status is ignored ("open").
 * Returns an enum store_alert_result or a negative errno. */
int store_alert_upsert(struct store *s, const struct store_alert *a, int64_t now_ms);
/* Upserts n alerts in one transaction; results[i] gets each one's enum
 * store_alert_result.  0 or a negative errno (nothing changed). */
int store_alert_upsert_batch(struct store *s, const struct store_alert *a, size_t n,
			     int64_t now_ms, int *results);
/* Marks an alert resolved.  1 if it was open, 0 if not. */
int store_alert_resolve(struct store *s, const char *kind, const char *tenant,
			const char *metric, const char *period, int64_t now_ms);
/* Alerts, newest first.  period NULL = all; open_only skips resolved ones. */
typedef int (*store_alert_cb)(const struct store_alert *a, void *arg);
int store_alert_list(struct store *s, const char *period, bool open_only,
		     store_alert_cb cb, void *arg);

#endif
