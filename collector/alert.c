/* Alert kinds, severities, sets and JSON (see alert.h). */
#include "alert.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "money.h"

static const char *const kind_names[ALERT_KIND_COUNT] = {
	[ALERT_UNBILLED_USAGE] = "unbilled_usage",
	[ALERT_UNDERBILLED] = "underbilled",
	[ALERT_OVERBILLED] = "overbilled",
	[ALERT_PRICE_MISMATCH] = "price_mismatch",
	[ALERT_USAGE_AFTER_CANCELLATION] = "usage_after_cancellation",
	[ALERT_USAGE_WHILE_UNPAID] = "usage_while_unpaid",
	[ALERT_USAGE_ANOMALY] = "usage_anomaly",
	[ALERT_METERING_GAP] = "metering_gap",
};

const char *alert_kind_name(enum alert_kind k)
{
	return (unsigned)k < ALERT_KIND_COUNT ? kind_names[k] : "unknown";
}

int alert_kind_from_name(const char *name)
{
	for (int i = 0; i < ALERT_KIND_COUNT; i++)
		if (name && strcmp(name, kind_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *alert_severity(int64_t leak, const struct alert_thresholds *t)
{
	if (leak < 0)
		leak = -leak;
	if (t->critical > 0 && leak >= t->critical)
		return "critical";
	if (t->warning > 0 && leak >= t->warning)
		return "warning";
	return "info";
}

static const char *set_str(struct alert_set *set, const char *s)
{
	char *c;

	if (!s)
		return NULL;
	if (set->nstrs == set->strcap) {
		size_t cap = set->strcap ? 2 * set->strcap : 64;
		char **n = realloc(set->strs, cap * sizeof(*n));

		if (!n)
			return NULL;
		set->strs = n;
		set->strcap = cap;
	}
	c = strdup(s);
	if (c)
		set->strs[set->nstrs++] = c;
	return c;
}

int alert_set_add(struct alert_set *set, const struct store_alert *a)
{
	struct store_alert *d;

	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 16;
		struct store_alert *n = realloc(set->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		set->v = n;
		set->cap = cap;
	}
	d = &set->v[set->n];
	*d = *a;
	d->kind = set_str(set, a->kind);
	d->tenant = set_str(set, a->tenant);
	d->metric = set_str(set, a->metric);
	d->period = set_str(set, a->period);
	d->currency = set_str(set, a->currency ? a->currency : "");
	d->severity = set_str(set, a->severity ? a->severity : "info");
	d->evidence = set_str(set, a->evidence ? a->evidence : "{}");
	d->status = "open";
	if (!d->kind || !d->tenant || !d->metric || !d->period || !d->currency ||
	    !d->severity || !d->evidence)
		return -ENOMEM;
	set->n++;
	return 0;
}

void alert_set_free(struct alert_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->nstrs; i++)
		free(set->strs[i]);
	free(set->strs);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

static void add_time(json_object *o, const char *key, int64_t ms)
{
	char buf[32];

	period_format_time(ms, buf, sizeof(buf));
	json_object_object_add(o, key, json_object_new_string(buf));
}

/* "25.00 USD", "500 JPY": the leak in major units, for people. */
static void add_display(json_object *o, int64_t leak, const char *currency)
{
	char buf[64];

	money_format(leak, currency, buf, sizeof(buf));
	json_object_object_add(o, "leak_display", json_object_new_string(buf));
}

char *alert_to_json(const struct store_alert *a)
{
	json_object *o = json_object_new_object(), *ev;
	char *out = NULL;

	if (!o)
		return NULL;
	json_object_object_add(o, "kind", json_object_new_string(a->kind));
	json_object_object_add(o, "tenant", json_object_new_string(a->tenant));
	json_object_object_add(o, "metric", json_object_new_string(a->metric));
	json_object_object_add(o, "period", json_object_new_string(a->period));
	add_time(o, "period_start", a->period_start_ms);
	add_time(o, "period_end", a->period_end_ms);
	json_object_object_add(o, "metered", json_object_new_uint64(a->metered));
	json_object_object_add(o, "billed", json_object_new_uint64(a->billed));
	json_object_object_add(o, "expected_amount", json_object_new_int64(a->expected_amount));
	json_object_object_add(o, "billed_amount", json_object_new_int64(a->billed_amount));
	json_object_object_add(o, "leak", json_object_new_int64(a->leak));
	json_object_object_add(o, "currency", json_object_new_string(a->currency ? a->currency : ""));
	add_display(o, a->leak, a->currency);
	json_object_object_add(o, "severity", json_object_new_string(a->severity ? a->severity : "info"));
	json_object_object_add(o, "status", json_object_new_string(a->status ? a->status : "open"));
	ev = json_tokener_parse(a->evidence ? a->evidence : "{}");
	json_object_object_add(o, "evidence", ev ? ev : json_object_new_object());
	if (a->first_seen_ms)
		add_time(o, "first_seen", a->first_seen_ms);
	if (a->updated_ms)
		add_time(o, "updated", a->updated_ms);
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}
