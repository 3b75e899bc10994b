/* Stripe: webhook signature verification, webhook events and invoice
 * objects (as the Stripe API returns them) -> billing records and
 * subscription / payment state.
 *
 * Tenant of an invoice: invoice metadata.tenant, then
 * subscription_details.metadata.tenant, then the line's metadata.tenant,
 * then the customer map file, then a mapping learned from a subscription
 * event (customer -> metadata.tenant).  Metric of a line: price
 * metadata.metric, then the line's metadata.metric, then the price map file.
 * Lines with no metric (a base fee) are skipped and counted. */
#ifndef TM_STRIPE_H
#define TM_STRIPE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "billing.h"

#define STRIPE_TOLERANCE_S 300

/* Checks "t=TS,v1=HEX[,v1=HEX...]" against HMAC-SHA256(secret, "TS.payload")
 * with a constant-time compare; any v1 may match.  Returns 0, -EINVAL
 * (malformed header), -EACCES (no signature matches) or -ETIMEDOUT (|now -
 * t| > tolerance_s), with a message in err. */
int stripe_verify(const char *secret, const char *header, const char *payload,
		  size_t len, int64_t now_s, int64_t tolerance_s, char *err, size_t errlen);
/* Builds a header "t=TS,v1=HEX" (tests, tools).  out needs 128 bytes. */
int stripe_sign(const char *secret, int64_t t, const char *payload, size_t len,
		char *out, size_t outlen);

/* Adds an invoice object's usage lines to ev.  where names it in errors
 * ("data[3]").  Draft and void invoices add nothing.  0 or -EINVAL. */
int stripe_invoice_add(json_object *inv, struct store *s, const struct billing_maps *maps,
		       struct billing_event *ev, const char *where, char *err, size_t errlen);

/* Parses a webhook event body into ev (ev zeroed by the caller, freed with
 * billing_event_free()).  Unhandled types set ev->ignored.  0 or -EINVAL. */
int stripe_event_parse(const char *body, size_t len, struct store *s,
		       const struct billing_maps *maps, struct billing_event *ev,
		       char *err, size_t errlen);

#endif
