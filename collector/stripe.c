/* Stripe webhooks and invoice objects (see stripe.h). */
#include "stripe.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "metric.h"

#define HMAC_LEN crypto_auth_hmacsha256_BYTES

/* ---- signatures ------------------------------------------------------------- */

static void hmac_ts_payload(const char *secret, const char *ts, size_t tslen,
			    const char *payload, size_t len, uint8_t mac[HMAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const uint8_t *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, tslen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)payload, len);
	crypto_auth_hmacsha256_final(&st, mac);
}

int stripe_sign(const char *secret, int64_t t, const char *payload, size_t len,
		char *out, size_t outlen)
{
	uint8_t mac[HMAC_LEN];
	char ts[24], hex[2 * HMAC_LEN + 1];

	snprintf(ts, sizeof(ts), "%lld", (long long)t);
	hmac_ts_payload(secret, ts, strlen(ts), payload, len, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	if ((size_t)snprintf(out, outlen, "t=%s,v1=%s", ts, hex) >= outlen)
		return -ENOSPC;
	return 0;
}

int stripe_verify(const char *secret, const char *header, const char *payload,
		  size_t len, int64_t now_s, int64_t tolerance_s, char *err, size_t errlen)
{
	uint8_t mac[HMAC_LEN], got[HMAC_LEN];
	const char *p = header, *ts = NULL;
	size_t tslen = 0;
	bool any_v1 = false, match = false;
	long long t;
	char *end;

	if (!header || !*header) {
		snprintf(err, errlen, "missing Stripe-Signature header");
		return -EINVAL;
	}
	/* First pass: the timestamp. */
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n > 2 && strncmp(p, "t=", 2) == 0) {
			ts = p + 2;
			tslen = n - 2;
		}
		p += n + (p[n] == ',');
	}
	if (!ts || tslen == 0 || tslen > 19) {
		snprintf(err, errlen, "Stripe-Signature has no timestamp t=");
		return -EINVAL;
	}
	t = strtoll(ts, &end, 10);
	if (end != ts + tslen) {
		snprintf(err, errlen, "Stripe-Signature timestamp is not a number");
		return -EINVAL;
	}
	hmac_ts_payload(secret, ts, tslen, payload, len, mac);
	/* Second pass: every v1 (the secret may be rolling). */
	for (p = header; *p;) {
		size_t n = strcspn(p, ",");

		if (n > 3 && strncmp(p, "v1=", 3) == 0) {
			size_t binlen = 0;

			any_v1 = true;
			if (n - 3 == 2 * HMAC_LEN &&
			    sodium_hex2bin(got, sizeof(got), p + 3, n - 3, NULL, &binlen, NULL) == 0 &&
			    binlen == HMAC_LEN && sodium_memcmp(got, mac, HMAC_LEN) == 0)
				match = true;
		}
		p += n + (p[n] == ',');
	}
	if (!any_v1) {
		snprintf(err, errlen, "Stripe-Signature has no v1= signature");
		return -EINVAL;
	}
	if (!match) {
		snprintf(err, errlen, "Stripe-Signature: no v1 signature matches the payload");
		return -EACCES;
	}
	if (t < now_s - tolerance_s || t > now_s + tolerance_s) {
		snprintf(err, errlen, "Stripe-Signature timestamp %lld is outside the %llds "
			 "tolerance (now %lld)", t, (long long)tolerance_s, (long long)now_s);
		return -ETIMEDOUT;
	}
	return 0;
}

/* ---- JSON helpers ------------------------------------------------------------- */

/* An expandable field: "cus_123" or {"id": "cus_123", ...}. */
static const char *get_id(json_object *o, const char *key)
{
	json_object *v = jsonget(o, key);

	if (!v)
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return jsonget_str(v, "id");
}

static const char *meta(json_object *o, const char *key)
{
	return jsonget_str(jsonget(o, "metadata"), key);
}

/* ---- invoices ----------------------------------------------------------------- */

static const char *invoice_tenant(json_object *inv, json_object *line, struct store *s,
				  const struct billing_maps *maps, char *buf, size_t buflen)
{
	const char *cust = get_id(inv, "customer"), *t;
	json_object *parent_sub = jsonget(jsonget(inv, "parent"), "subscription_details");

	if ((t = meta(inv, "tenant")) || (t = meta(jsonget(inv, "subscription_details"), "tenant")) ||
	    (t = meta(parent_sub, "tenant")) || (t = meta(jsonget(inv, "customer"), "tenant")) ||
	    (line && (t = meta(line, "tenant"))) || (t = billing_maps_tenant(maps, cust)))
		return t;
	if (s && cust && store_mapping_get(s, "stripe_customer", cust, buf, buflen) == 1)
		return buf;
	return NULL;
}

/* The price of a line: {"price": {...}} (classic API) or
 * {"pricing": {"price_details": {"price": "price_..."}}} (2025 API). */
static int line_metric(json_object *line, const struct billing_maps *maps,
		       const char **price_id)
{
	json_object *price = jsonget(line, "price");
	const char *m;
	int metric;

	*price_id = get_id(line, "price");
	if (!*price_id)
		*price_id = get_id(jsonget(jsonget(line, "pricing"), "price_details"), "price");
	if (!*price_id)
		*price_id = get_id(line, "plan");
	if ((m = meta(price, "metric")) || (m = meta(line, "metric"))) {
		metric = metric_from_name(m);
		return metric > 0 ? metric : -EINVAL;
	}
	return billing_maps_metric(maps, *price_id);
}

static int add_lines(json_object *inv, const char *tenant_hint, struct store *s,
		     const struct billing_maps *maps, struct billing_event *ev,
		     const char *where, char *err, size_t errlen)
{
	json_object *lines = jsonget(jsonget(inv, "lines"), "data");
	const char *inv_id = jsonget_str(inv, "id"), *status = jsonget_str(inv, "status");
	const char *inv_cur = jsonget_str(inv, "currency");
	char tbuf[128];

	if (!lines || !json_object_is_type(lines, json_type_array)) {
		snprintf(err, errlen, "%s: invoice %s has no lines.data array", where,
			 inv_id ? inv_id : "?");
		return -EINVAL;
	}
	for (size_t j = 0; j < json_object_array_length(lines); j++) {
		json_object *line = json_object_array_get_idx(lines, j);
		struct store_bill b = { .source = "stripe", .invoice_id = inv_id,
					.status = status };
		const char *price_id = NULL, *cur = jsonget_str(line, "currency");
		json_object *period = jsonget(line, "period");
		int64_t qty = 0;
		char curn[4];
		int rc;

		b.metric = line_metric(line, maps, &price_id);
		if (b.metric < 0) {
			snprintf(err, errlen, "%s.lines.data[%zu]: price metadata.metric '%s' is not "
				 "a metric", where, j, meta(jsonget(line, "price"), "metric") ?
				 meta(jsonget(line, "price"), "metric") : meta(line, "metric"));
			return -EINVAL;
		}
		if (b.metric == 0) {      /* a base fee or a price we do not meter */
			ev->skipped++;
			continue;
		}
		b.tenant = tenant_hint ? tenant_hint :
			   invoice_tenant(inv, line, s, maps, tbuf, sizeof(tbuf));
		if (!b.tenant) {
			snprintf(err, errlen, "%s: invoice %s: customer %s maps to no tenant (set "
				 "metadata.tenant or add it to the customer map)", where,
				 inv_id ? inv_id : "?", get_id(inv, "customer") ?
				 get_id(inv, "customer") : "(none)");
			return -EINVAL;
		}
		b.line_id = jsonget_str(line, "id");
		if (!b.line_id)
			b.line_id = price_id ? price_id : "";
		if (!jsonget_time_ms(period, "start", &b.period_start_ms) ||
		    !jsonget_time_ms(period, "end", &b.period_end_ms) ||
		    b.period_end_ms <= b.period_start_ms) {
			snprintf(err, errlen, "%s.lines.data[%zu]: bad or missing period.start/end",
				 where, j);
			return -EINVAL;
		}
		if (!jsonget_int(line, "quantity", &qty) || qty < 0 || !jsonget_int(line, "amount", &b.amount)) {
			snprintf(err, errlen, "%s.lines.data[%zu]: bad or missing quantity/amount",
				 where, j);
			return -EINVAL;
		}
		b.quantity = (uint64_t)qty;
		if (billing_currency_norm(cur ? cur : inv_cur, curn)) {
			snprintf(err, errlen, "%s.lines.data[%zu]: bad or missing currency", where, j);
			return -EINVAL;
		}
		b.currency = curn;
		rc = billing_batch_add(&ev->bb, &b);
		if (rc)
			return rc;
	}
	return 0;
}

int stripe_invoice_add(json_object *inv, struct store *s, const struct billing_maps *maps,
		       struct billing_event *ev, const char *where, char *err, size_t errlen)
{
	const char *obj = jsonget_str(inv, "object"), *status = jsonget_str(inv, "status");

	if (!inv || !json_object_is_type(inv, json_type_object) || !obj ||
	    strcmp(obj, "invoice") != 0 || !jsonget_str(inv, "id")) {
		snprintf(err, errlen, "%s: not a Stripe invoice object (\"object\": \"invoice\" "
			 "with an id)", where);
		return -EINVAL;
	}
	if (!status || strcmp(status, "draft") == 0 || strcmp(status, "void") == 0) {
		ev->skipped++;
		return 0;
	}
	return add_lines(inv, NULL, s, maps, ev, where, err, errlen);
}

/* ---- events --------------------------------------------------------------------- */

static const char *sub_tenant(json_object *sub, struct store *s,
			      const struct billing_maps *maps, char *buf, size_t buflen)
{
	const char *cust = get_id(sub, "customer"), *t;

	if ((t = meta(sub, "tenant")) || (t = meta(jsonget(sub, "customer"), "tenant")) ||
	    (t = billing_maps_tenant(maps, cust)))
		return t;
	if (s && cust && store_mapping_get(s, "stripe_customer", cust, buf, buflen) == 1)
		return buf;
	return NULL;
}

static int payment_set(struct billing_event *ev, const char *tenant, const char *ref,
		       int64_t unpaid_since, int64_t now_ms)
{
	struct store_payment *p = &ev->pays[ev->npays];

	if (ev->npays == BILLING_EVENT_MAX)
		return -E2BIG;
	p->tenant = billing_batch_str(&ev->bb, tenant);
	p->ref = billing_batch_str(&ev->bb, ref);
	p->source = ev->source;
	p->unpaid_since_ms = unpaid_since;
	p->updated_ms = now_ms;
	if (!p->tenant || !p->ref)
		return -ENOMEM;
	ev->npays++;
	return 0;
}

static int invoice_event(json_object *inv, const char *type, int64_t created_ms,
			 struct store *s, const struct billing_maps *maps,
			 struct billing_event *ev, char *err, size_t errlen)
{
	char tbuf[128];
	const char *tenant, *inv_id = jsonget_str(inv, "id");
	int rc;

	if (!inv_id || !json_object_is_type(inv, json_type_object)) {
		snprintf(err, errlen, "data.object is not an invoice with an id");
		return -EINVAL;
	}
	tenant = invoice_tenant(inv, NULL, s, maps, tbuf, sizeof(tbuf));
	if (!tenant) {
		snprintf(err, errlen, "invoice %s: customer %s maps to no tenant (set "
			 "metadata.tenant or add it to the customer map)", inv_id,
			 get_id(inv, "customer") ? get_id(inv, "customer") : "(none)");
		return -EINVAL;
	}
	tenant = billing_batch_str(&ev->bb, tenant);
	if (!tenant)
		return -ENOMEM;
	rc = add_lines(inv, tenant, s, maps, ev, "data.object", err, errlen);
	if (rc)
		return rc;
	if (strcmp(type, "invoice.paid") == 0)
		return payment_set(ev, tenant, inv_id, 0, created_ms);
	if (strcmp(type, "invoice.payment_failed") == 0)
		return payment_set(ev, tenant, inv_id, created_ms, created_ms);
	return 0;
}

static int sub_event(json_object *sub, const char *type, int64_t created_ms,
		     struct store *s, const struct billing_maps *maps,
		     struct billing_event *ev, char *err, size_t errlen)
{
	struct store_sub *u = &ev->subs[ev->nsubs++];
	json_object *item0 = jsonget_idx(jsonget(jsonget(sub, "items"), "data"), 0);
	const char *id = jsonget_str(sub, "id"), *status = jsonget_str(sub, "status"), *cust, *tenant;
	int64_t v = 0;
	char tbuf[128];

	if (!id) {
		snprintf(err, errlen, "data.object is not a subscription with an id");
		return -EINVAL;
	}
	tenant = sub_tenant(sub, s, maps, tbuf, sizeof(tbuf));
	if (!tenant) {
		snprintf(err, errlen, "subscription %s: customer %s maps to no tenant (set "
			 "metadata.tenant or add it to the customer map)", id,
			 get_id(sub, "customer") ? get_id(sub, "customer") : "(none)");
		return -EINVAL;
	}
	if (strcmp(type, "customer.subscription.deleted") == 0)
		status = "canceled";
	u->source = "stripe";
	u->sub_id = billing_batch_str(&ev->bb, id);
	u->tenant = billing_batch_str(&ev->bb, tenant);
	u->status = billing_batch_str(&ev->bb, status ? status : "unknown");
	if (!u->sub_id || !u->tenant || !u->status)
		return -ENOMEM;
	/* current_period_* moved from the subscription to its items in 2025. */
	if (jsonget_time_ms(sub, "current_period_start", &v) ||
	    jsonget_time_ms(item0, "current_period_start", &v))
		u->period_start_ms = v;
	if (jsonget_time_ms(sub, "current_period_end", &v) ||
	    jsonget_time_ms(item0, "current_period_end", &v))
		u->period_end_ms = v;
	if (strcmp(u->status, "canceled") == 0 || strcmp(u->status, "incomplete_expired") == 0)
		u->ended_ms = jsonget_time_ms(sub, "ended_at", &v) ||
			      jsonget_time_ms(sub, "canceled_at", &v) ? v : created_ms;
	u->updated_ms = created_ms;
	cust = get_id(sub, "customer");
	if (cust && meta(sub, "tenant") && ev->nmaps < BILLING_EVENT_MAX) {
		struct store_mapping *m = &ev->maps[ev->nmaps++];

		m->kind = "stripe_customer";
		m->key = billing_batch_str(&ev->bb, cust);
		m->value = u->tenant;
		if (!m->key)
			return -ENOMEM;
	}
	if (strcmp(u->status, "past_due") == 0 || strcmp(u->status, "unpaid") == 0)
		return payment_set(ev, u->tenant, id, created_ms, created_ms);
	return 0;
}

int stripe_event_parse(const char *body, size_t len, struct store *s,
		       const struct billing_maps *maps, struct billing_event *ev,
		       char *err, size_t errlen)
{
	json_object *root = NULL, *obj;
	const char *id, *type;
	int64_t created_ms = 0;
	int rc = -EINVAL;

	ev->source = "stripe";
	root = jsonget_parse_object(body, len);
	if (!root) {
		snprintf(err, errlen, "body is not a JSON object");
		goto cleanup;
	}
	id = jsonget_str(root, "id");
	type = jsonget_str(root, "type");
	obj = jsonget(jsonget(root, "data"), "object");
	if (!id || !type || !obj || !jsonget_time_ms(root, "created", &created_ms)) {
		snprintf(err, errlen, "not a Stripe event (needs id, type, created, data.object)");
		goto cleanup;
	}
	ev->event_id = billing_batch_str(&ev->bb, id);
	ev->type = billing_batch_str(&ev->bb, type);
	if (!ev->event_id || !ev->type) {
		rc = -ENOMEM;
		goto cleanup;
	}
	if (strcmp(type, "invoice.finalized") == 0 || strcmp(type, "invoice.paid") == 0 ||
	    strcmp(type, "invoice.payment_failed") == 0)
		rc = invoice_event(obj, type, created_ms, s, maps, ev, err, errlen);
	else if (strncmp(type, "customer.subscription.", 22) == 0 &&
		 (strcmp(type + 22, "created") == 0 || strcmp(type + 22, "updated") == 0 ||
		  strcmp(type + 22, "deleted") == 0))
		rc = sub_event(obj, type, created_ms, s, maps, ev, err, errlen);
	else {
		ev->ignored = 1;
		rc = 0;
	}
cleanup:
	json_object_put(root);
	return rc;
}
