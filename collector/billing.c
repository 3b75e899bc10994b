/* Billing helpers: times and periods, record batches, mapping files and
 * applying parsed events.  File importers live in billing_import.c. */
#include "billing.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "period.h"
#include "metric.h"

#define MAP_MAX (16u << 20)

int billing_currency_norm(const char *in, char out[4])
{
	if (!in || strlen(in) != 3)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (!isalpha((unsigned char)in[i]))
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[3] = '\0';
	return 0;
}

int billing_format_parse(const char *name, enum billing_format *out)
{
	if (strcmp(name, "csv") == 0)
		*out = BILLING_FORMAT_CSV;
	else if (strcmp(name, "jsonl") == 0 || strcmp(name, "ndjson") == 0)
		*out = BILLING_FORMAT_JSONL;
	else if (strcmp(name, "stripe") == 0)
		*out = BILLING_FORMAT_STRIPE;
	else
		return -EINVAL;
	return 0;
}

/* ---- batches ----------------------------------------------------------------- */

const char *billing_batch_str(struct billing_batch *bb, const char *s)
{
	char *c;

	if (!s)
		s = "";
	if (bb->nstrs == bb->strcap) {
		size_t cap = bb->strcap ? 2 * bb->strcap : 64;
		char **n = realloc(bb->strs, cap * sizeof(*n));

		if (!n)
			return NULL;
		bb->strs = n;
		bb->strcap = cap;
	}
	c = strdup(s);
	if (!c)
		return NULL;
	bb->strs[bb->nstrs++] = c;
	return c;
}

int billing_batch_add(struct billing_batch *bb, const struct store_bill *b)
{
	struct store_bill *d;

	if (bb->nbills == bb->cap) {
		size_t cap = bb->cap ? 2 * bb->cap : 16;
		struct store_bill *n = realloc(bb->bills, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		bb->bills = n;
		bb->cap = cap;
	}
	d = &bb->bills[bb->nbills];
	*d = *b;
	d->source = billing_batch_str(bb, b->source);
	d->invoice_id = billing_batch_str(bb, b->invoice_id);
	d->line_id = billing_batch_str(bb, b->line_id);
	d->tenant = billing_batch_str(bb, b->tenant);
	d->currency = billing_batch_str(bb, b->currency);
	d->status = billing_batch_str(bb, b->status);
	if (!d->source || !d->invoice_id || !d->line_id || !d->tenant || !d->currency ||
	    !d->status)
		return -ENOMEM;
	bb->nbills++;
	return 0;
}

void billing_batch_free(struct billing_batch *bb)
{
	if (!bb)
		return;
	for (size_t i = 0; i < bb->nstrs; i++)
		free(bb->strs[i]);
	free(bb->strs);
	free(bb->bills);
	memset(bb, 0, sizeof(*bb));
}

int billing_event_apply(struct store *s, const struct billing_event *ev)
{
	struct store_billing_change c = {
		.event_source = ev->source, .event_id = ev->event_id,
		.bills = ev->bb.bills, .nbills = ev->bb.nbills,
		.subs = ev->subs, .nsubs = ev->nsubs,
		.payments = ev->pays, .npayments = ev->npays,
		.mappings = ev->maps, .nmappings = ev->nmaps,
	};

	return store_billing_apply(s, &c);
}

void billing_event_free(struct billing_event *ev)
{
	if (ev)
		billing_batch_free(&ev->bb);
}

/* ---- mapping files ----------------------------------------------------------- */

struct billing_maps {
	json_object *customers, *prices;
};

static int load_map(const char *path, const char *what, json_object **out,
		    char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (!path || !*path)
		return 0;
	rc = fileio_read_all(path, MAP_MAX, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read %s: %s", path, what, strerror(-rc));
		return rc;
	}
	*out = json_tokener_parse(buf);
	free(buf);
	if (!*out || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		snprintf(err, errlen, "%s: %s must be a JSON object {\"id\": \"value\", ...}",
			 path, what);
		return -EINVAL;
	}
	json_object_object_foreach(*out, k, v) {
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(err, errlen, "%s: %s: the value of '%s' must be a string",
				 path, what, k);
			return -EINVAL;
		}
	}
	return 0;
}

int billing_maps_load(const char *customer_map, const char *price_map,
		      struct billing_maps **out, char *err, size_t errlen)
{
	struct billing_maps *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	rc = load_map(customer_map, "customer map", &m->customers, err, errlen);
	if (!rc)
		rc = load_map(price_map, "price map", &m->prices, err, errlen);
	if (!rc && m->prices) {
		json_object_object_foreach(m->prices, k, v) {
			if (metric_from_name(json_object_get_string(v)) < 0) {
				snprintf(err, errlen, "%s: price map: '%s' maps to unknown metric "
					 "'%s'", price_map, k, json_object_get_string(v));
				rc = -EINVAL;
				break;
			}
		}
	}
	if (rc) {
		billing_maps_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void billing_maps_free(struct billing_maps *m)
{
	if (!m)
		return;
	json_object_put(m->customers);
	json_object_put(m->prices);
	free(m);
}

const char *billing_maps_tenant(const struct billing_maps *m, const char *customer)
{
	json_object *v;

	if (!m || !m->customers || !customer ||
	    !json_object_object_get_ex(m->customers, customer, &v))
		return NULL;
	return json_object_get_string(v);
}

int billing_maps_metric(const struct billing_maps *m, const char *price_id)
{
	json_object *v;
	int metric;

	if (!m || !m->prices || !price_id ||
	    !json_object_object_get_ex(m->prices, price_id, &v))
		return 0;
	metric = metric_from_name(json_object_get_string(v));
	return metric > 0 ? metric : 0;
}
