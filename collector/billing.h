/* Billing ingestion: generic CSV / JSON-lines files and Stripe invoice list
 * exports, imported all-or-nothing into the store; plus the time and period
 * helpers the billing side shares.
 *
 * Periods are [start, end) in unix ms, UTC.  A billing period named
 * "2026-11" is the calendar month. */
#ifndef TM_BILLING_H
#define TM_BILLING_H

#include <stddef.h>
#include <stdint.h>

#include "period.h"
#include "store_billing.h"

/* Mapping files (JSON objects): customer id -> tenant ({"cus_123": "acme"})
 * and price / plan / item id -> metric ({"price_1": "api_requests"}). */
struct billing_maps;
/* Either path may be NULL or "".  *out freed with billing_maps_free(). */
int billing_maps_load(const char *customer_map, const char *price_map,
		      struct billing_maps **out, char *err, size_t errlen);
void billing_maps_free(struct billing_maps *m);
/* NULL if unknown (m may be NULL). */
const char *billing_maps_tenant(const struct billing_maps *m, const char *customer);
/* Metric number, or 0 if unknown. */
int billing_maps_metric(const struct billing_maps *m, const char *price_id);

enum billing_format {
	BILLING_FORMAT_AUTO = 0,
	BILLING_FORMAT_CSV,
	BILLING_FORMAT_JSONL,
	BILLING_FORMAT_STRIPE,
};

/* "csv", "jsonl", "stripe" -> format, or -EINVAL. */
int billing_format_parse(const char *name, enum billing_format *out);

struct billing_import_result {
	size_t records;              /* billing lines stored (new or replaced) */
	size_t skipped;              /* lines without a usage metric, drafts, voids */
};

/* Imports FILE.  AUTO picks by extension (.csv, .jsonl/.ndjson, .json =
 * stripe).  maps may be NULL (Stripe needs customer->tenant and
 * price->metric from metadata then).  On any bad row nothing is stored and
 * err says "FILE:LINE: what" (Stripe: "FILE: data[i].lines.data[j]: what").
 * Returns 0 or a negative errno. */
int billing_import_file(struct store *s, const char *path, enum billing_format fmt,
			const struct billing_maps *maps, struct billing_import_result *res,
			char *err, size_t errlen);

/* Parsed billing records, owning their strings; used by importers and the
 * webhook handlers to build one store_billing_change. */
struct billing_batch {
	struct store_bill *bills;
	size_t nbills, cap;
	char **strs;                 /* every string the bills point to */
	size_t nstrs, strcap;
};
/* Adds a copy of b (its strings copied).  0 or -ENOMEM. */
int billing_batch_add(struct billing_batch *bb, const struct store_bill *b);
/* Copies a string into the batch's arena; NULL on ENOMEM. */
const char *billing_batch_str(struct billing_batch *bb, const char *s);
void billing_batch_free(struct billing_batch *bb);

/* One webhook event (or one imported invoice list) turned into store changes.
 * Every string the store_* entries point to lives in bb's arena. */
#define BILLING_EVENT_MAX 4
struct billing_event {
	const char *source;          /* "stripe" / "razorpay" (static) */
	const char *event_id, *type; /* in bb's arena */
	int ignored;                 /* an event type not handled: nothing to store */
	struct billing_batch bb;
	struct store_sub subs[BILLING_EVENT_MAX];
	size_t nsubs;
	struct store_payment pays[BILLING_EVENT_MAX];
	size_t npays;
	struct store_mapping maps[BILLING_EVENT_MAX];
	size_t nmaps;
	size_t skipped;              /* invoice lines without a usage metric */
};
/* Applies it in one transaction: STORE_PUT_NEW, STORE_PUT_DUPLICATE (event
 * id seen before, nothing stored) or a negative errno. */
int billing_event_apply(struct store *s, const struct billing_event *ev);
void billing_event_free(struct billing_event *ev);

/* Currency codes are stored lower case; 0 or -EINVAL if not 3 letters. */
int billing_currency_norm(const char *in, char out[4]);

#endif
