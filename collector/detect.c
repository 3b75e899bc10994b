/* The leak detectors (see detect.h for when each fires). */
#include "detect.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_view.h"
#include "billing.h"
#include "log.h"
#include "metric.h"

typedef __int128 i128;

static int add_alert(struct detect_ctx *d, enum alert_kind k, const struct reconcile_row *r,
		     int64_t leak, json_object *ev)
{
	struct store_alert a = {
		.kind = alert_kind_name(k), .tenant = r->tenant,
		.metric = r->metric ? metric_name(r->metric) : "*", .period = r->period,
		.period_start_ms = r->start_ms, .period_end_ms = r->end_ms,
		.metered = r->metered, .billed = r->billed,
		.expected_amount = r->expected_amount < 0 ? 0 : r->expected_amount,
		.billed_amount = r->billed_amount, .leak = leak,
		.currency = r->currency ? r->currency : "",
	};
	int rc;

	a.severity = k == ALERT_METERING_GAP ? "warning" : alert_severity(leak, &d->c->sev);
	if (ev && r->plan)
		json_object_object_add(ev, "plan", json_object_new_string(r->plan));
	if (ev)
		json_object_object_add(ev, "period_closed", json_object_new_boolean(r->closed));
	a.evidence = ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN) : "{}";
	rc = alert_set_add(d->out, &a);
	json_object_put(ev);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool tenant_live(const struct detect_ctx *d, const char *tenant)
{
	return d->nlive && bsearch(&tenant, d->live, d->nlive, sizeof(char *), cmp_str);
}

/* Beyond tolerance: |a - b| * 10000 > tolerance_bp * base. */
static bool beyond(uint64_t diff, uint64_t base, int64_t bp)
{
	return (i128)diff * 10000 > (i128)bp * base;
}

/* Money for a quantity difference when the tenant is unpriced: the billed
 * average unit price. */
static int64_t prorate(const struct reconcile_row *r, uint64_t diff)
{
	if (!r->billed)
		return 0;
	return (int64_t)((i128)r->billed_amount * diff / r->billed);
}

static json_object *evidence(const struct reconcile_row *r)
{
	json_object *ev = json_object_new_object();

	if (!ev)
		return NULL;
	json_object_object_add(ev, "billing_records", json_object_new_int64((int64_t)r->nbills));
	return ev;
}

static int lost_cb(const struct store_loss *l, void *arg)
{
	*(uint64_t *)arg += l->map_overflow + l->event_drops;
	return 0;
}

/* Events every agent's meter lost in the period, read once per period. */
static int lost_events(struct detect_ctx *d, uint64_t *n)
{
	int rc = 0;

	if (!d->lost_read) {
		d->lost_events = 0;
		rc = store_losses(d->s, d->start_ms, d->end_ms, lost_cb, &d->lost_events);
		d->lost_read = rc == 0;
	}
	*n = d->lost_events;
	return rc;
}

int detect_row(struct detect_ctx *d, const struct reconcile_row *r)
{
	const struct reconcile_conf *c = d->c;
	json_object *ev;
	int rc = 0;

	if (!r->has_bill) {
		if (r->metered < (uint64_t)c->min_units)
			return 0;
		if (!r->closed && (pricing_assigned(d->pr, r->tenant, r->start_ms, r->end_ms) ||
				   tenant_live(d, r->tenant)))
			return 0;   /* open period of a known customer: invoice comes later */
		ev = evidence(r);
		json_object_object_add(ev, "reason", json_object_new_string(r->closed ?
			"no billing record for a closed period" :
			"usage by a tenant with no plan assignment, subscription or billing record"));
		return add_alert(d, ALERT_UNBILLED_USAGE, r, r->leak > 0 ? r->leak : 0, ev);
	}
	if (r->closed && r->metered > r->billed &&
	    beyond(r->metered - r->billed, r->metered, c->tolerance_bp)) {
		int64_t leak = r->expected_amount >= 0 && r->billed_expected >= 0 ?
			       r->expected_amount - r->billed_expected :
			       prorate(r, r->metered - r->billed);

		ev = evidence(r);
		json_object_object_add(ev, "unbilled_quantity",
				       json_object_new_uint64(r->metered - r->billed));
		json_object_object_add(ev, "tolerance_bp", json_object_new_int64(c->tolerance_bp));
		rc = add_alert(d, ALERT_UNDERBILLED, r, leak, ev);
	}
	if (!rc && r->closed && r->billed > r->metered &&
	    beyond(r->billed - r->metered, r->metered, c->tolerance_bp)) {
		int64_t leak = r->expected_amount >= 0 && r->billed_expected >= 0 ?
			       r->billed_expected - r->expected_amount :
			       prorate(r, r->billed - r->metered);
		uint64_t lost;

		rc = lost_events(d, &lost);
		if (rc)
			return rc;
		ev = evidence(r);
		json_object_object_add(ev, "overbilled_quantity",
				       json_object_new_uint64(r->billed - r->metered));
		json_object_object_add(ev, "tolerance_bp", json_object_new_int64(c->tolerance_bp));
		/* Not overcharged, maybe: the requests lost were used but not
		 * counted (the metering_gap alert names the hosts). */
		if (lost)
			json_object_object_add(ev, "meter_lost_events", json_object_new_uint64(lost));
		rc = add_alert(d, ALERT_OVERBILLED, r, leak, ev);
	}
	if (!rc && r->billed_expected >= 0) {
		int64_t diff = r->billed_expected - r->billed_amount;
		bool cur_differs = r->plan && r->bill_currency && r->currency &&
				   strcmp(r->bill_currency, r->currency) != 0;

		if (diff < 0)
			diff = -diff;
		if (diff > c->price_tolerance || cur_differs) {
			ev = evidence(r);
			json_object_object_add(ev, "priced_billed_quantity",
					       json_object_new_int64(r->billed_expected));
			json_object_object_add(ev, "difference",
					       json_object_new_int64(r->billed_expected -
								     r->billed_amount));
			if (cur_differs)
				json_object_object_add(ev, "billed_currency",
						       json_object_new_string(r->bill_currency));
			rc = add_alert(d, ALERT_PRICE_MISMATCH, r, diff, ev);
		}
	}
	return rc;
}

/* ---- accounts: cancelled subscriptions and failed payments --------------------- */

struct live_ctx {
	struct detect_ctx *d;
	size_t cap;
};

static bool sub_live(const struct store_sub *u)
{
	return u->ended_ms == 0 && strcmp(u->status, "canceled") != 0 &&
	       strcmp(u->status, "cancelled") != 0 && strcmp(u->status, "completed") != 0 &&
	       strcmp(u->status, "incomplete_expired") != 0 && strcmp(u->status, "expired") != 0;
}

static int live_cb(const struct store_sub *u, void *arg)
{
	struct live_ctx *l = arg;
	struct detect_ctx *d = l->d;

	if (!sub_live(u))
		return 0;
	if (d->nlive == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **n = realloc(d->live, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->live = n;
		l->cap = cap;
	}
	d->live[d->nlive] = strdup(u->tenant);
	if (!d->live[d->nlive])
		return -ENOMEM;
	d->nlive++;
	return 0;
}

int detect_load_live(struct detect_ctx *d)
{
	struct live_ctx l = { .d = d };
	int rc = store_sub_list(d->s, NULL, live_cb, &l);

	if (!rc && d->nlive)
		qsort(d->live, d->nlive, sizeof(char *), cmp_str);
	return rc;
}

void detect_free_live(struct detect_ctx *d)
{
	for (size_t i = 0; i < d->nlive; i++)
		free(d->live[i]);
	free(d->live);
	d->live = NULL;
	d->nlive = 0;
}

/* Per tenant: latest end of its subscriptions and whether one is live. */
struct acct {
	char tenant[256];
	int64_t ended_ms;
	bool live, any;
};

struct acct_ctx {
	struct detect_ctx *d;
	struct acct cur;
	int err;
};

struct usage_after {
	struct detect_ctx *d;
	enum alert_kind kind;
	int64_t from_ms;
	json_object *base_ev;
};

static int usage_after_cb(const struct store_usage *u, void *arg)
{
	struct usage_after *ua = arg;
	struct detect_ctx *d = ua->d;
	const struct plan *pl = pricing_plan_for(d->pr, u->tenant, ua->from_ms - 1);
	struct reconcile_row r = {
		.tenant = u->tenant, .metric = u->metric, .period = d->period,
		.start_ms = d->start_ms, .end_ms = d->end_ms, .metered = u->value,
		.expected_amount = -1, .billed_expected = -1, .currency = "",
		.closed = d->now_ms >= d->end_ms + d->c->settle_ms,
	};
	json_object *ev;
	char t[32];

	if (u->value < (uint64_t)d->c->min_units)
		return 0;
	/* A metric the tenant's plan does not price is free: nothing leaks.
	 * Without any plan the usage is still reported, unpriced. */
	if (pl && !plan_price(pl, u->metric))
		return 0;
	if (pl && plan_price(pl, u->metric) &&
	    plan_amount(pl, u->metric, u->value, &r.expected_amount) == 0) {
		r.plan = pl->name;
		r.currency = pl->currency;
	} else {
		r.expected_amount = -1;
	}
	ev = json_tokener_parse(json_object_to_json_string(ua->base_ev));
	if (!ev)
		return -ENOMEM;
	period_format_time(ua->from_ms, t, sizeof(t));
	json_object_object_add(ev, "usage_since", json_object_new_string(t));
	period_format_time(u->first_ms, t, sizeof(t));
	json_object_object_add(ev, "first_usage_window", json_object_new_string(t));
	return add_alert(d, ua->kind, &r, r.expected_amount > 0 ? r.expected_amount : 0, ev);
}

static int usage_since(struct detect_ctx *d, enum alert_kind kind, const char *tenant,
		       int64_t from_ms, json_object *ev)
{
	struct usage_after ua = { .d = d, .kind = kind, .base_ev = ev };
	int64_t to = d->end_ms < d->now_ms ? d->end_ms : d->now_ms;
	int rc;

	if (from_ms < d->start_ms)
		from_ms = d->start_ms;
	ua.from_ms = from_ms;
	rc = from_ms < to ? store_usage_sum(d->s, tenant, 0, from_ms, d->end_ms,
					    usage_after_cb, &ua) : 0;
	json_object_put(ev);
	return rc;
}

static int flush_acct(struct acct_ctx *a)
{
	json_object *ev;
	char t[32];

	if (!a->cur.any || a->cur.live || !a->cur.ended_ms || a->cur.ended_ms >= a->d->end_ms)
		return 0;
	ev = json_object_new_object();
	period_format_time(a->cur.ended_ms, t, sizeof(t));
	json_object_object_add(ev, "subscription_ended", json_object_new_string(t));
	return usage_since(a->d, ALERT_USAGE_AFTER_CANCELLATION, a->cur.tenant,
			   a->cur.ended_ms, ev);
}

static int acct_cb(const struct store_sub *u, void *arg)
{
	struct acct_ctx *a = arg;
	int rc;

	if (a->cur.any && strcmp(a->cur.tenant, u->tenant) != 0) {
		rc = flush_acct(a);
		if (rc)
			return rc;
		memset(&a->cur, 0, sizeof(a->cur));
	}
	snprintf(a->cur.tenant, sizeof(a->cur.tenant), "%s", u->tenant);
	a->cur.any = true;
	if (sub_live(u))
		a->cur.live = true;
	else if (u->ended_ms > a->cur.ended_ms)
		a->cur.ended_ms = u->ended_ms;
	return 0;
}

struct unpaid_ent {
	char *tenant, *ref, *source;
	int64_t since;
};

struct unpaid_list {
	struct unpaid_ent *v;
	size_t n, cap;
};

static int unpaid_cb(const struct store_payment *p, void *arg)
{
	struct unpaid_list *l = arg;

	if (!p->unpaid_since_ms)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct unpaid_ent *n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n] = (struct unpaid_ent){ strdup(p->tenant), strdup(p->ref), strdup(p->source),
					  p->unpaid_since_ms };
	l->n++;
	if (!l->v[l->n - 1].tenant || !l->v[l->n - 1].ref || !l->v[l->n - 1].source)
		return -ENOMEM;
	return 0;
}

int detect_accounts(struct detect_ctx *d)
{
	struct acct_ctx a = { .d = d };
	struct unpaid_list l = { 0 };
	int rc;

	rc = store_sub_list(d->s, NULL, acct_cb, &a);
	if (!rc)
		rc = flush_acct(&a);
	if (!rc)
		rc = store_payment_list(d->s, unpaid_cb, &l);
	for (size_t i = 0; i < l.n && !rc; i++) {
		int64_t from = l.v[i].since + d->c->grace_ms;
		json_object *ev;
		char t[32];

		if (from > d->now_ms)
			continue;
		ev = json_object_new_object();
		period_format_time(l.v[i].since, t, sizeof(t));
		json_object_object_add(ev, "unpaid_since", json_object_new_string(t));
		json_object_object_add(ev, "grace_s", json_object_new_int64(d->c->grace_ms / 1000));
		json_object_object_add(ev, "payment_ref",
				       json_object_new_string(l.v[i].ref ? l.v[i].ref : ""));
		json_object_object_add(ev, "source",
				       json_object_new_string(l.v[i].source ? l.v[i].source : ""));
		rc = usage_since(d, ALERT_USAGE_WHILE_UNPAID, l.v[i].tenant, from, ev);
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.v[i].tenant);
		free(l.v[i].ref);
		free(l.v[i].source);
	}
	free(l.v);
	return rc;
}

/* ---- metering gaps --------------------------------------------------------------- */

struct gap_ctx {
	struct detect_ctx *d;
	json_object *list;
	int64_t total_ms;
	int64_t quiet_ms;            /* agents_view_quiet() of the settings */
	int silent;
	int lossy;                   /* agents whose meter lost events */
	uint64_t lost;               /* ... how many in all */
};

/* An agent's entry in the gap list: its host, since when, until when
 * (to_ms < 0: no end yet) and why. */
static json_object *agent_entry(const char *agent_hex, const char *hostname,
				int64_t from_ms, int64_t to_ms, const char *reason)
{
	json_object *o = json_object_new_object();
	char t[32];

	json_object_object_add(o, "agent", json_object_new_string(agent_hex));
	json_object_object_add(o, "hostname", json_object_new_string(hostname));
	period_format_time(from_ms, t, sizeof(t));
	json_object_object_add(o, "from", json_object_new_string(t));
	period_format_time(to_ms, t, sizeof(t));
	json_object_object_add(o, "to", to_ms < 0 ? NULL : json_object_new_string(t));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	return o;
}

static int gap_cb(const struct store_gap *g, void *arg)
{
	struct gap_ctx *gc = arg;
	json_object *o;
	char t[32];

	if (g->to_ms - g->from_ms < gc->d->c->gap_min_ms)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "agent", json_object_new_string(g->agent_hex));
	json_object_object_add(o, "epoch", json_object_new_uint64(g->epoch));
	json_object_object_add(o, "from_seq", json_object_new_uint64(g->from_seq));
	json_object_object_add(o, "to_seq", json_object_new_uint64(g->to_seq));
	period_format_time(g->from_ms, t, sizeof(t));
	json_object_object_add(o, "from", json_object_new_string(t));
	period_format_time(g->to_ms, t, sizeof(t));
	json_object_object_add(o, "to", json_object_new_string(t));
	json_object_object_add(o, "reason", json_object_new_string(g->reason ? g->reason : ""));
	if (json_object_array_length(gc->list) < 50)
		json_object_array_add(gc->list, o);
	else
		json_object_put(o);
	gc->total_ms += g->to_ms - g->from_ms;
	return 0;
}

/* An agent in service whose reports stopped: the time since its last
 * window is unverifiable until its reports (spooled, or after a restart)
 * arrive.  Listed without an end, so the alert reads the same at every
 * tick while the agent stays silent. */
static int silent_cb(const struct store_agent *a, void *arg)
{
	struct gap_ctx *gc = arg;
	const struct detect_ctx *d = gc->d;
	json_object *o;

	if (agents_view_state(a, d->now_ms, gc->quiet_ms,
			      d->c->silent_from_ms) != AGENT_SILENT ||
	    a->window_end_ms >= d->end_ms || d->now_ms <= d->start_ms)
		return 0;
	o = agent_entry(a->agent_hex, a->hostname, a->window_end_ms, -1, "agent silent");
	if (gc->silent < 100)
		json_object_array_add(gc->list, o);
	else
		json_object_put(o);
	gc->silent++;
	return 0;
}

/* An agent whose meter lost events in the period (a full map, bytes it
 * could not parse or see): the usage it reported is short by requests no
 * one can count now.  Listed with the span of the windows that lost any. */
static int loss_cb(const struct store_loss *l, void *arg)
{
	struct gap_ctx *gc = arg;
	uint64_t n = l->map_overflow + l->event_drops;
	json_object *o;

	if (n < (uint64_t)gc->d->c->loss_min)
		return 0;
	o = agent_entry(l->agent_hex, l->hostname, l->from_ms, l->to_ms, "meter lost events");
	json_object_object_add(o, "map_overflow", json_object_new_uint64(l->map_overflow));
	json_object_object_add(o, "event_drops", json_object_new_uint64(l->event_drops));
	if (gc->lossy < 100)
		json_object_array_add(gc->list, o);
	else
		json_object_put(o);
	gc->lossy++;
	gc->lost += n;
	return 0;
}

int detect_gaps(struct detect_ctx *d)
{
	struct gap_ctx gc = {
		.d = d, .list = json_object_new_array(),
		.quiet_ms = agents_view_quiet(d->c->silent_after_ms, d->c->gap_min_ms),
	};
	struct reconcile_row r = {
		.tenant = "*", .metric = 0, .period = d->period, .start_ms = d->start_ms,
		.end_ms = d->end_ms, .currency = "", .expected_amount = -1,
		.closed = d->now_ms >= d->end_ms + d->c->settle_ms,
	};
	json_object *ev;
	int rc;

	rc = store_gaps(d->s, d->start_ms, d->end_ms, gap_cb, &gc);
	if (!rc && d->c->silent_after_ms > 0)
		rc = store_agents(d->s, silent_cb, &gc);
	if (!rc && d->c->loss_min > 0)
		rc = store_losses(d->s, d->start_ms, d->end_ms, loss_cb, &gc);
	if (rc || json_object_array_length(gc.list) == 0) {
		json_object_put(gc.list);
		return rc;
	}
	ev = json_object_new_object();
	json_object_object_add(ev, "gaps", gc.list);
	/* the stored gaps' time; silent agents' time is still running */
	json_object_object_add(ev, "unverifiable_s", json_object_new_int64(gc.total_ms / 1000));
	json_object_object_add(ev, "silent_agents", json_object_new_int(gc.silent));
	json_object_object_add(ev, "lossy_agents", json_object_new_int(gc.lossy));
	json_object_object_add(ev, "lost_events", json_object_new_uint64(gc.lost));
	return add_alert(d, ALERT_METERING_GAP, &r, 0, ev);
}

/* ---- anomalies ----------------------------------------------------------------- */

struct series {
	double *v;
	size_t n;
	int64_t first_hour_ms;
};

static int hourly_cb(int64_t hour_ms, uint64_t value, void *arg)
{
	struct series *s = arg;
	int64_t i = (hour_ms - s->first_hour_ms) / 3600000;

	if (i >= 0 && (size_t)i < s->n)
		s->v[i] += (double)value;
	return 0;
}

int detect_anomaly(struct detect_ctx *d, const char *tenant, int metric)
{
	const struct reconcile_conf *c = d->c;
	int64_t end_hour = d->now_ms / 3600000 * 3600000;   /* complete hours only */
	struct series s = { .n = (size_t)c->anomaly_history_h };
	struct anomaly_point *pts = NULL;
	struct reconcile_row r = { .tenant = tenant, .metric = metric, .period = d->period,
				   .start_ms = d->start_ms, .end_ms = d->end_ms, .currency = "" };
	json_object *ev = NULL, *hours;
	size_t eval_from;
	double dev = 0;
	int rc, flagged;

	if (s.n < 48 || c->anomaly_recent_h <= 0 || (size_t)c->anomaly_recent_h >= s.n)
		return 0;
	s.first_hour_ms = end_hour - (int64_t)s.n * 3600000;
	s.v = calloc(s.n, sizeof(double));
	pts = calloc(s.n, sizeof(*pts));
	if (!s.v || !pts) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = store_usage_hourly(d->s, tenant, metric, s.first_hour_ms, end_hour, hourly_cb, &s);
	if (rc)
		goto cleanup;
	eval_from = s.n - (size_t)c->anomaly_recent_h;
	flagged = anomaly_detect(s.v, s.n, eval_from, &c->anomaly, pts);
	if (flagged <= 0) {
		rc = flagged < 0 ? flagged : 0;
		goto cleanup;
	}
	ev = json_object_new_object();
	hours = json_object_new_array();
	for (size_t i = eval_from; i < s.n; i++) {
		json_object *h;
		char t[32];

		if (!pts[i].flag)
			continue;
		h = json_object_new_object();
		period_format_time(s.first_hour_ms + (int64_t)i * 3600000, t, sizeof(t));
		json_object_object_add(h, "hour", json_object_new_string(t));
		json_object_object_add(h, "value", json_object_new_int64((int64_t)s.v[i]));
		json_object_object_add(h, "baseline", json_object_new_int64((int64_t)pts[i].baseline));
		json_object_object_add(h, "z", json_object_new_double(pts[i].z));
		json_object_object_add(h, "direction",
				       json_object_new_string(pts[i].flag > 0 ? "spike" : "drop"));
		json_object_array_add(hours, h);
		r.metered += (uint64_t)s.v[i];
		dev += s.v[i] - pts[i].baseline;
	}
	json_object_object_add(ev, "hours", hours);
	json_object_object_add(ev, "deviation", json_object_new_int64((int64_t)dev));
	/* Money at stake: the deviation priced with the tenant's plan. */
	{
		const struct plan *pl = pricing_plan_for(d->pr, tenant, d->now_ms);
		int64_t amt = 0;

		if (pl && plan_price(pl, metric) &&
		    plan_amount(pl, metric, (uint64_t)(dev < 0 ? -dev : dev), &amt) == 0) {
			r.plan = pl->name;
			r.currency = pl->currency;
		}
		r.expected_amount = amt;
		rc = add_alert(d, ALERT_USAGE_ANOMALY, &r, amt, ev);
		ev = NULL;
	}
cleanup:
	json_object_put(ev);
	free(s.v);
	free(pts);
	return rc;
}
