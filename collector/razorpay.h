/* Razorpay webhooks: X-Razorpay-Signature verification and events ->
 * billing records and subscription / payment state.
 *
 * Tenant: the entity's notes.tenant (subscription, invoice or payment), then
 * the customer map file (customer_id), then a mapping learned from an
 * earlier event.  Metric: subscription notes.metric or the price map keyed
 * by plan_id (subscription.charged); the price map keyed by a line item's
 * item_id, or a line named after a metric (invoice.paid). */
#ifndef TM_RAZORPAY_H
#define TM_RAZORPAY_H

#include <stddef.h>
#include <stdint.h>

#include "billing.h"

/* Checks the hex HMAC-SHA256 of the raw body (constant-time).  0, -EINVAL
 * (missing / not hex) or -EACCES (mismatch), message in err. */
int razorpay_verify(const char *secret, const char *signature, const char *body,
		    size_t len, char *err, size_t errlen);
/* Hex HMAC-SHA256 of body; out needs 65 bytes (tests, tools). */
void razorpay_sign(const char *secret, const char *body, size_t len, char out[65]);

/* Parses an event body into ev (zeroed by the caller, freed with
 * billing_event_free()).  event_id is the x-razorpay-event-id header (may
 * be NULL: the body's digest stands in).  Unhandled events set
 * ev->ignored.  0 or -EINVAL with a message in err. */
int razorpay_event_parse(const char *body, size_t len, const char *event_id,
			 struct store *s, const struct billing_maps *maps,
			 struct billing_event *ev, char *err, size_t errlen);

#endif
