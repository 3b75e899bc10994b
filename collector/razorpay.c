/* Razorpay webhooks (see razorpay.h). */
#include "razorpay.h"

#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "metric.h"

#define HMAC_LEN crypto_auth_hmacsha256_BYTES

static void hmac(const char *secret, const char *body, size_t len, uint8_t mac[HMAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const uint8_t *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
}

void razorpay_sign(const char *secret, const char *body, size_t len, char out[65])
{
	uint8_t mac[HMAC_LEN];

	hmac(secret, body, len, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

int razorpay_verify(const char *secret, const char *signature, const char *body,
		    size_t len, char *err, size_t errlen)
{
	uint8_t mac[HMAC_LEN], got[HMAC_LEN];
	size_t binlen = 0;

	if (!signature || !*signature) {
		snprintf(err, errlen, "missing X-Razorpay-Signature header");
		return -EINVAL;
	}
	if (strlen(signature) != 2 * HMAC_LEN ||
	    sodium_hex2bin(got, sizeof(got), signature, strlen(signature), NULL, &binlen,
			   NULL) != 0 || binlen != HMAC_LEN) {
		snprintf(err, errlen, "X-Razorpay-Signature is not 64 hex digits");
		return -EINVAL;
	}
	hmac(secret, body, len, mac);
	if (sodium_memcmp(got, mac, HMAC_LEN) != 0) {
		snprintf(err, errlen, "X-Razorpay-Signature does not match the body");
		return -EACCES;
	}
	return 0;
}


/* notes is an object, or [] when empty. */
static const char *note(json_object *o, const char *key)
{
	return jsonget_str(jsonget(o, "notes"), key);
}

static json_object *entity(json_object *payload, const char *name)
{
	return jsonget(jsonget(payload, name), "entity");
}

struct rz_ctx {
	struct store *s;
	const struct billing_maps *maps;
	struct billing_event *ev;
	int64_t created_ms;
	char tbuf[128];
	char *err;
	size_t errlen;
};

/* The tenant from notes of any of the entities, or the customer maps. */
static const char *tenant_of(struct rz_ctx *c, json_object *a, json_object *b, json_object *d)
{
	json_object *ents[] = { a, b, d };
	const char *t;

	for (int i = 0; i < 3; i++)
		if ((t = note(ents[i], "tenant")))
			return t;
	for (int i = 0; i < 3; i++) {
		const char *cust = jsonget_str(ents[i], "customer_id");

		if (!cust)
			continue;
		if ((t = billing_maps_tenant(c->maps, cust)))
			return t;
		if (c->s && store_mapping_get(c->s, "razorpay_customer", cust, c->tbuf,
					      sizeof(c->tbuf)) == 1)
			return c->tbuf;
	}
	return NULL;
}

static int no_tenant(struct rz_ctx *c, const char *what, json_object *e)
{
	snprintf(c->err, c->errlen, "%s %s: no tenant (set notes.tenant or map customer %s)",
		 what, jsonget_str(e, "id") ? jsonget_str(e, "id") : "?",
		 jsonget_str(e, "customer_id") ? jsonget_str(e, "customer_id") : "(none)");
	return -EINVAL;
}

static int payment_set(struct rz_ctx *c, const char *tenant, const char *ref, bool unpaid)
{
	struct store_payment *p;

	if (c->ev->npays == BILLING_EVENT_MAX)
		return -E2BIG;
	p = &c->ev->pays[c->ev->npays];
	p->tenant = billing_batch_str(&c->ev->bb, tenant);
	p->ref = billing_batch_str(&c->ev->bb, ref ? ref : "");
	p->source = "razorpay";
	p->unpaid_since_ms = unpaid ? c->created_ms : 0;
	p->updated_ms = c->created_ms;
	if (!p->tenant || !p->ref)
		return -ENOMEM;
	c->ev->npays++;
	return 0;
}

static int learn_customer(struct rz_ctx *c, json_object *e, const char *tenant)
{
	const char *cust = jsonget_str(e, "customer_id");
	struct store_mapping *m;

	if (!cust || !note(e, "tenant") || c->ev->nmaps == BILLING_EVENT_MAX)
		return 0;
	m = &c->ev->maps[c->ev->nmaps];
	m->kind = "razorpay_customer";
	m->key = billing_batch_str(&c->ev->bb, cust);
	m->value = billing_batch_str(&c->ev->bb, tenant);
	if (!m->key || !m->value)
		return -ENOMEM;
	c->ev->nmaps++;
	return 0;
}

static int sub_state(struct rz_ctx *c, json_object *sub, const char *tenant, const char *event)
{
	struct store_sub *u = &c->ev->subs[c->ev->nsubs];
	const char *status = jsonget_str(sub, "status");
	int64_t v;

	u->source = "razorpay";
	u->sub_id = billing_batch_str(&c->ev->bb, jsonget_str(sub, "id"));
	u->tenant = billing_batch_str(&c->ev->bb, tenant);
	if (!status)
		status = strchr(event, '.') + 1;
	u->status = billing_batch_str(&c->ev->bb, status);
	if (!u->sub_id || !u->tenant || !u->status)
		return -ENOMEM;
	if (jsonget_time_ms(sub, "current_start", &v))
		u->period_start_ms = v;
	if (jsonget_time_ms(sub, "current_end", &v))
		u->period_end_ms = v;
	if (strcmp(event, "subscription.cancelled") == 0)
		u->ended_ms = jsonget_time_ms(sub, "ended_at", &v) ? v : c->created_ms;
	u->updated_ms = c->created_ms;
	c->ev->nsubs++;
	return learn_customer(c, sub, tenant);
}

/* subscription.charged: the charge is a billing record for the plan's
 * metric (quantity = subscription quantity) when the plan maps to one. */
static int charged_bill(struct rz_ctx *c, json_object *sub, json_object *pay, const char *tenant)
{
	struct store_bill b = { .source = "razorpay", .tenant = tenant, .status = "paid" };
	const char *m = note(sub, "metric"), *plan = jsonget_str(sub, "plan_id");
	int64_t qty = 1, start, end;
	char cur[4];

	b.metric = m ? metric_from_name(m) : billing_maps_metric(c->maps, plan);
	if (b.metric <= 0 || !pay) {
		c->ev->skipped++;
		return 0;
	}
	jsonget_int(sub, "quantity", &qty);
	if (!jsonget_time_ms(sub, "current_start", &start) || !jsonget_time_ms(sub, "current_end", &end) ||
	    end <= start || qty < 0 || !jsonget_int(pay, "amount", &b.amount) ||
	    billing_currency_norm(jsonget_str(pay, "currency"), cur)) {
		snprintf(c->err, c->errlen, "subscription.charged: needs subscription "
			 "current_start/current_end/quantity and payment amount/currency");
		return -EINVAL;
	}
	b.invoice_id = jsonget_str(pay, "invoice_id") ? jsonget_str(pay, "invoice_id") : jsonget_str(pay, "id");
	b.line_id = plan ? plan : "";
	b.period_start_ms = start;
	b.period_end_ms = end;
	b.quantity = (uint64_t)qty;
	b.currency = cur;
	if (!b.invoice_id) {
		snprintf(c->err, c->errlen, "subscription.charged: payment has no id");
		return -EINVAL;
	}
	return billing_batch_add(&c->ev->bb, &b);
}

static int sub_event(struct rz_ctx *c, json_object *payload, const char *event)
{
	json_object *sub = entity(payload, "subscription"), *pay = entity(payload, "payment");
	const char *tenant;
	int rc;

	if (!sub || !jsonget_str(sub, "id")) {
		snprintf(c->err, c->errlen, "%s: payload.subscription.entity with an id is "
			 "required", event);
		return -EINVAL;
	}
	tenant = tenant_of(c, sub, pay, NULL);
	if (!tenant)
		return no_tenant(c, "subscription", sub);
	rc = sub_state(c, sub, tenant, event);
	if (rc)
		return rc;
	if (strcmp(event, "subscription.charged") == 0) {
		rc = charged_bill(c, sub, pay, tenant);
		if (!rc)
			rc = payment_set(c, tenant, jsonget_str(sub, "id"), false);
		return rc;
	}
	if (strcmp(event, "subscription.pending") == 0 || strcmp(event, "subscription.halted") == 0)
		return payment_set(c, tenant, jsonget_str(sub, "id"), true);
	return 0;
}

static int invoice_lines(struct rz_ctx *c, json_object *inv, const char *tenant)
{
	json_object *items = jsonget(inv, "line_items");
	const char *status = jsonget_str(inv, "status");
	int64_t start = 0, end = 0;

	if (!items || !json_object_is_type(items, json_type_array)) {
		snprintf(c->err, c->errlen, "invoice %s: line_items must be an array",
			 jsonget_str(inv, "id"));
		return -EINVAL;
	}
	if (!jsonget_time_ms(inv, "billing_start", &start) || !jsonget_time_ms(inv, "billing_end", &end) ||
	    end <= start) {
		c->ev->skipped += json_object_array_length(items);   /* not a usage period */
		return 0;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *li = json_object_array_get_idx(items, i);
		struct store_bill b = { .source = "razorpay", .tenant = tenant,
					.invoice_id = jsonget_str(inv, "id"),
					.status = status ? status : "paid" };
		const char *cur = jsonget_str(li, "currency");
		int64_t qty = 0;
		char curn[4];
		int rc;

		b.metric = billing_maps_metric(c->maps, jsonget_str(li, "item_id"));
		if (!b.metric && jsonget_str(li, "name"))
			b.metric = metric_from_name(jsonget_str(li, "name"));
		if (b.metric <= 0) {
			c->ev->skipped++;
			continue;
		}
		b.line_id = jsonget_str(li, "id") ? jsonget_str(li, "id") : "";
		if (!jsonget_int(li, "quantity", &qty) || qty < 0 || !jsonget_int(li, "amount", &b.amount) ||
		    billing_currency_norm(cur ? cur : jsonget_str(inv, "currency"), curn)) {
			snprintf(c->err, c->errlen, "invoice %s: line_items[%zu]: needs quantity, "
				 "amount and currency", jsonget_str(inv, "id"), i);
			return -EINVAL;
		}
		b.quantity = (uint64_t)qty;
		b.currency = curn;
		b.period_start_ms = start;
		b.period_end_ms = end;
		rc = billing_batch_add(&c->ev->bb, &b);
		if (rc)
			return rc;
	}
	return 0;
}

static int invoice_paid(struct rz_ctx *c, json_object *payload)
{
	json_object *inv = entity(payload, "invoice"), *pay = entity(payload, "payment");
	const char *tenant;
	int rc;

	if (!inv || !jsonget_str(inv, "id")) {
		snprintf(c->err, c->errlen, "invoice.paid: payload.invoice.entity with an id "
			 "is required");
		return -EINVAL;
	}
	tenant = tenant_of(c, inv, pay, NULL);
	if (!tenant)
		return no_tenant(c, "invoice", inv);
	tenant = billing_batch_str(&c->ev->bb, tenant);
	if (!tenant)
		return -ENOMEM;
	rc = invoice_lines(c, inv, tenant);
	if (!rc)
		rc = learn_customer(c, inv, tenant);
	if (!rc)
		rc = payment_set(c, tenant, jsonget_str(inv, "id"), false);
	return rc;
}

static int payment_failed(struct rz_ctx *c, json_object *payload)
{
	json_object *pay = entity(payload, "payment");
	const char *tenant;

	if (!pay || !jsonget_str(pay, "id")) {
		snprintf(c->err, c->errlen, "payment.failed: payload.payment.entity with an id "
			 "is required");
		return -EINVAL;
	}
	tenant = tenant_of(c, pay, NULL, NULL);
	if (!tenant)
		return no_tenant(c, "payment", pay);
	return payment_set(c, tenant, jsonget_str(pay, "id"), true);
}

int razorpay_event_parse(const char *body, size_t len, const char *event_id,
			 struct store *s, const struct billing_maps *maps,
			 struct billing_event *ev, char *err, size_t errlen)
{
	struct rz_ctx c = { .s = s, .maps = maps, .ev = ev, .err = err, .errlen = errlen };
	json_object *root = NULL, *payload;
	const char *event;
	char idbuf[2 * crypto_generichash_BYTES + 1];
	int rc = -EINVAL;

	ev->source = "razorpay";
	root = jsonget_parse_object(body, len);
	if (!root) {
		snprintf(err, errlen, "body is not a JSON object");
		goto cleanup;
	}
	event = jsonget_str(root, "event");
	payload = jsonget(root, "payload");
	if (!event || !payload || !jsonget_time_ms(root, "created_at", &c.created_ms)) {
		snprintf(err, errlen, "not a Razorpay event (needs event, payload, created_at)");
		goto cleanup;
	}
	if (!event_id || !*event_id) {
		uint8_t h[crypto_generichash_BYTES];

		crypto_generichash(h, sizeof(h), (const uint8_t *)body, len, NULL, 0);
		sodium_bin2hex(idbuf, sizeof(idbuf), h, sizeof(h));
		event_id = idbuf;
	}
	ev->event_id = billing_batch_str(&ev->bb, event_id);
	ev->type = billing_batch_str(&ev->bb, event);
	if (!ev->event_id || !ev->type) {
		rc = -ENOMEM;
		goto cleanup;
	}
	if (strcmp(event, "subscription.charged") == 0 ||
	    strcmp(event, "subscription.pending") == 0 ||
	    strcmp(event, "subscription.halted") == 0 ||
	    strcmp(event, "subscription.cancelled") == 0)
		rc = sub_event(&c, payload, event);
	else if (strcmp(event, "invoice.paid") == 0)
		rc = invoice_paid(&c, payload);
	else if (strcmp(event, "payment.failed") == 0)
		rc = payment_failed(&c, payload);
	else {
		ev->ignored = 1;
		rc = 0;
	}
cleanup:
	json_object_put(root);
	return rc;
}
