/* The judge's configuration table (see judge_conf.h). */
#include "judge_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "collector_conf.h"
#include "pricing.h"
#include "reconcile.h"

#define OFF(f) offsetof(struct judge_conf, f)
#define STR(f) OFF(f), sizeof(((struct judge_conf *)0)->f)

/* "1.5" -> 150 (a fixed-point number with `scale` digits after the point). */
static int parse_fixed(const char *v, int scale, int64_t *out)
{
	int64_t whole = 0, frac = 0;
	int digits = 0;
	const char *p = v;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > 1000000000)
			return -ERANGE;
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits < scale) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
	if (*p)
		return -EINVAL;
	for (; digits < scale; digits++)
		frac *= 10;
	for (int i = 0; i < scale; i++)
		whole *= 10;
	*out = whole + frac;
	return 0;
}

static int parse_tolerance(void *obj, const char *section, const char *name,
			   const char *value, char *err, size_t errlen)
{
	struct judge_conf *c = obj;

	if (parse_fixed(value, 2, &c->tolerance_bp) || c->tolerance_bp > 10000) {
		snprintf(err, errlen, "tolerance_pct: '%s' is not a percentage 0..100", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_z(void *obj, const char *section, const char *name,
		   const char *value, char *err, size_t errlen)
{
	struct judge_conf *c = obj;

	if (parse_fixed(value, 3, &c->anomaly_z_milli) || c->anomaly_z_milli < 1000) {
		snprintf(err, errlen, "anomaly_z: '%s' must be a number >= 1 (e.g. 6)", value);
		return -EINVAL;
	}
	return 0;
}

static const struct conf_key keys[] = {
	{ "http", "enabled", CONF_BOOL, OFF(http_enabled) },
	{ "http", "listen", CONF_STRING, STR(http_listen) },
	{ "http", "port", CONF_INT, OFF(http_port), 0, 0, 65535 },
	{ "http", "max_body", CONF_SIZE, OFF(http_max_body), 0, 1024, 64 << 20 },
	{ "stripe", "webhook_secret", CONF_STRING, STR(stripe_secret) },
	{ "stripe", "tolerance", CONF_DURATION, OFF(stripe_tolerance_ms), 0, 1000, 3600000 },
	{ "stripe", "customer_map", CONF_STRING, STR(stripe_customer_map) },
	{ "stripe", "price_map", CONF_STRING, STR(stripe_price_map) },
	{ "razorpay", "webhook_secret", CONF_STRING, STR(razorpay_secret) },
	{ "razorpay", "customer_map", CONF_STRING, STR(razorpay_customer_map) },
	{ "razorpay", "price_map", CONF_STRING, STR(razorpay_price_map) },
	{ "pricing", "catalog", CONF_STRING, STR(pricing_catalog) },
	{ "reconcile", "interval", CONF_DURATION, OFF(reconcile_interval_ms), 0, 100, 86400000 },
	{ "reconcile", "tolerance_pct", CONF_CUSTOM, 0, 0, 0, 0, parse_tolerance },
	{ "reconcile", "price_tolerance", CONF_INT, OFF(price_tolerance), 0, 0, INT64_MAX / 2 },
	{ "reconcile", "grace_period", CONF_DURATION, OFF(grace_ms), 0, 0, 365LL * 86400000 },
	{ "reconcile", "settle", CONF_DURATION, OFF(settle_ms), 0, 0, 31LL * 86400000 },
	{ "reconcile", "min_units", CONF_INT, OFF(min_units), 0, 1, INT64_MAX / 2 },
	{ "reconcile", "anomaly", CONF_BOOL, OFF(anomaly) },
	{ "reconcile", "anomaly_interval", CONF_DURATION, OFF(anomaly_interval_ms), 0, 1000,
	  86400000 },
	{ "reconcile", "anomaly_z", CONF_CUSTOM, 0, 0, 0, 0, parse_z },
	{ "reconcile", "anomaly_min_rel_pct", CONF_INT, OFF(anomaly_min_rel_pct), 0, 1, 10000 },
	{ "reconcile", "gap_min", CONF_DURATION, OFF(gap_min_ms), 0, 0, 86400000 },
	{ "reconcile", "silent_after", CONF_DURATION, OFF(silent_after_ms), 0, 0,
	  31LL * 86400000 },
	{ "reconcile", "loss_min", CONF_INT, OFF(loss_min), 0, 0, INT64_MAX / 2 },
	{ "alerts", "webhook_url", CONF_STRING, STR(alerts_webhook_url) },
	{ "alerts", "exec", CONF_STRING, STR(alerts_exec) },
	{ "alerts", "warning", CONF_INT, OFF(alerts_warning), 0, 0, INT64_MAX / 2 },
	{ "alerts", "critical", CONF_INT, OFF(alerts_critical), 0, 0, INT64_MAX / 2 },
	{ "alerts", "webhook_retries", CONF_INT, OFF(alerts_webhook_retries), 0, 0, 100 },
	{ "alerts", "webhook_backoff", CONF_DURATION, OFF(alerts_backoff_ms), 0, 10, 3600000 },
	{ "alerts", "stdout", CONF_BOOL, OFF(alerts_stdout) },
	{ NULL },
};

const struct conf_key *judge_conf_keys(void)
{
	return keys;
}

void judge_conf_defaults(struct judge_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->http_enabled = true;
	snprintf(c->http_listen, sizeof(c->http_listen), "127.0.0.1");
	c->http_port = 8089;
	c->http_max_body = 1 << 20;
	c->stripe_tolerance_ms = 300000;
	c->reconcile_interval_ms = 5000;
	c->tolerance_bp = 100;
	c->price_tolerance = 1;
	c->grace_ms = 3 * 86400000LL;
	c->settle_ms = 86400000;
	c->min_units = 1;
	c->anomaly = true;
	c->anomaly_interval_ms = 300000;
	c->silent_after_ms = 600000;
	c->loss_min = 1;
	c->anomaly_z_milli = 6000;
	c->anomaly_min_rel_pct = 50;
	c->alerts_warning = 1000;
	c->alerts_critical = 100000;
	c->alerts_webhook_retries = 5;
	c->alerts_backoff_ms = 500;
	c->alerts_stdout = true;
}

int judge_conf_check(const struct judge_conf *c, const char *path, char *err, size_t errlen)
{
	struct billing_maps *m = NULL;
	struct pricing *p = NULL;
	char msg[300];
	int rc;

	if (c->alerts_critical && c->alerts_warning > c->alerts_critical) {
		snprintf(err, errlen, "%s: [alerts] warning (%lld) is above critical (%lld)", path,
			 (long long)c->alerts_warning, (long long)c->alerts_critical);
		return -EINVAL;
	}
	if (c->alerts_webhook_url[0] && strncmp(c->alerts_webhook_url, "http://", 7) != 0 &&
	    strncmp(c->alerts_webhook_url, "https://", 8) != 0) {
		snprintf(err, errlen, "%s: [alerts] webhook_url must be an http(s):// URL", path);
		return -EINVAL;
	}
	rc = billing_maps_load(c->stripe_customer_map, c->stripe_price_map, &m, msg, sizeof(msg));
	billing_maps_free(m);
	m = NULL;
	if (!rc)
		rc = billing_maps_load(c->razorpay_customer_map, c->razorpay_price_map, &m, msg,
				       sizeof(msg));
	billing_maps_free(m);
	if (!rc && c->pricing_catalog[0])
		rc = pricing_load_file(c->pricing_catalog, &p, NULL, msg, sizeof(msg));
	pricing_free(p);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return rc;
	}
	return 0;
}

int judge_conf_load_file(const char *path, struct judge_conf *c, char *err, size_t errlen)
{
	struct collector_conf *cc = calloc(1, sizeof(*cc));
	int rc;

	judge_conf_defaults(c);
	if (!path) {
		free(cc);
		return 0;
	}
	if (!cc)
		return -ENOMEM;
	collector_conf_defaults(cc);
	{
		const struct conf_table tables[] = {
			{ collector_conf_keys(), cc }, { judge_conf_keys(), c }, { NULL, NULL },
		};

		rc = conf_load(path, tables, err, errlen);
		if (rc == -ENOENT)
			snprintf(err, errlen, "%s: cannot read", path);
	}
	free(cc);
	return rc;
}

void judge_conf_reconcile(const struct judge_conf *c, struct reconcile_conf *rc)
{
	reconcile_conf_default(rc);
	rc->tolerance_bp = c->tolerance_bp;
	rc->price_tolerance = c->price_tolerance;
	rc->grace_ms = c->grace_ms;
	rc->settle_ms = c->settle_ms;
	rc->min_units = c->min_units;
	rc->sev.warning = c->alerts_warning;
	rc->sev.critical = c->alerts_critical;
	rc->anomaly.z = (double)c->anomaly_z_milli / 1000;
	rc->anomaly.min_rel = (double)c->anomaly_min_rel_pct / 100;
	rc->gap_min_ms = c->gap_min_ms;
	rc->silent_after_ms = c->silent_after_ms;
	rc->loss_min = c->loss_min;
}
