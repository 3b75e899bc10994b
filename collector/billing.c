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
#include "metric.h"

#define MAP_MAX (16u << 20)

/* ---- times ------------------------------------------------------------------- */

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

static int parse_unix(const char *s, int64_t *ms)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 253402300799LL)
		return -EINVAL;
	*ms = (int64_t)v * 1000;
	return 0;
}

static int parse_tz(const char *p, int *off_s)
{
	int hh, mm;
	int sign;

	*off_s = 0;
	if (*p == 'Z' || *p == 'z')
		return p[1] ? -EINVAL : 0;
	if (*p != '+' && *p != '-')
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if (parse_digits(&p, 2, &hh) || *p++ != ':' || parse_digits(&p, 2, &mm) || *p)
		return -EINVAL;
	*off_s = sign * (hh * 3600 + mm * 60);
	return 0;
}

int billing_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
	const char *p = s;
	time_t t;

	if (!s || !*s)
		return -EINVAL;
	if (strlen(s) < 10 || s[4] != '-')
		return parse_unix(s, ms);
	if (parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) ||
	    *p++ != '-' || parse_digits(&p, 2, &d))
		return -EINVAL;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi) ||
		    *p++ != ':' || parse_digits(&p, 2, &sec))
			return -EINVAL;
		if (parse_tz(p, &off))
			return -EINVAL;
	} else if (*p) {
		return -EINVAL;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (tm.tm_mday != d)        /* normalised: 2026-02-30 is not a date */
		return -EINVAL;
	*ms = ((int64_t)t - off) * 1000;
	return 0;
}

void billing_format_time(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t month_start(int y, int m)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = 1 };

	return (int64_t)timegm(&tm) * 1000;
}

int billing_month_parse(const char *period, int64_t *start_ms, int64_t *end_ms)
{
	const char *p = period;
	int y, m;

	if (!p || parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &m) || *p ||
	    m < 1 || m > 12 || y < 1970)
		return -EINVAL;
	*start_ms = month_start(y, m);
	*end_ms = m == 12 ? month_start(y + 1, 1) : month_start(y, m + 1);
	return 0;
}

void billing_month_of(int64_t ms, char *name, size_t namelen,
		      int64_t *start_ms, int64_t *end_ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(name, namelen, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
	*start_ms = month_start(tm.tm_year + 1900, tm.tm_mon + 1);
	*end_ms = tm.tm_mon == 11 ? month_start(tm.tm_year + 1901, 1) :
		  month_start(tm.tm_year + 1900, tm.tm_mon + 2);
}

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
