/* Reconciliation rows and the alert commit (see reconcile.h). */
#include "reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "detect.h"
#include "log.h"
#include "metric.h"

typedef __int128 i128;

void reconcile_conf_default(struct reconcile_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->tolerance_bp = 100;
	c->price_tolerance = 1;
	c->grace_ms = 3 * 86400000LL;
	c->settle_ms = 86400000;
	c->min_units = 1;
	c->sev.warning = 1000;
	c->sev.critical = 100000;
	anomaly_conf_default(&c->anomaly);
	c->anomaly_history_h = 5 * 168;
	c->anomaly_recent_h = 24;
	c->gap_min_ms = 0;
	c->loss_min = 1;
}

/* ---- usage per tenant x metric ------------------------------------------------- */

struct usage_ent {
	char *tenant;
	int metric;
	uint64_t value;
	bool covered;                /* a billing record overlaps the period */
};

struct usage_tab {
	struct usage_ent *v;
	size_t n, cap;
};

static int usage_add(const struct store_usage *u, void *arg)
{
	struct usage_tab *t = arg;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct usage_ent *n = realloc(t->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->v = n;
		t->cap = cap;
	}
	t->v[t->n].tenant = strdup(u->tenant);
	if (!t->v[t->n].tenant)
		return -ENOMEM;
	t->v[t->n].metric = u->metric;
	t->v[t->n].value = u->value;
	t->v[t->n].covered = false;
	t->n++;
	return 0;
}

static int usage_cmp(const void *a, const void *b)
{
	const struct usage_ent *x = a, *y = b;
	int c = strcmp(x->tenant, y->tenant);

	return c ? c : (x->metric > y->metric) - (x->metric < y->metric);
}

static struct usage_ent *usage_find(struct usage_tab *t, const char *tenant, int metric)
{
	struct usage_ent key = { .tenant = (char *)tenant, .metric = metric };

	return t->n ? bsearch(&key, t->v, t->n, sizeof(key), usage_cmp) : NULL;
}

static void usage_free(struct usage_tab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].tenant);
	free(t->v);
}

/* Merges duplicate (tenant, metric) entries a backend might return. */
static void usage_sort(struct usage_tab *t)
{
	size_t w = 0;

	if (!t->n)
		return;
	qsort(t->v, t->n, sizeof(*t->v), usage_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (w && usage_cmp(&t->v[w - 1], &t->v[i]) == 0) {
			t->v[w - 1].value += t->v[i].value;
			free(t->v[i].tenant);
			continue;
		}
		t->v[w++] = t->v[i];
	}
	t->n = w;
}

/* ---- billing groups --------------------------------------------------------------- */

struct group {
	char tenant[256];
	int metric;
	int64_t start_ms, end_ms;
	uint64_t quantity;
	int64_t amount;
	char currency[4];
	size_t n;
	bool active;
};

struct run {
	struct store *s;
	const struct pricing *pr;
	const struct reconcile_conf *c;
	const char *period;
	int64_t start_ms, end_ms, now_ms;
	struct usage_tab usage;
	struct group g;
	reconcile_row_cb cb;
	void *arg;
	struct detect_ctx d;
	int err;
};

static int price_of(const struct plan *pl, int metric, uint64_t q, int64_t *out)
{
	int rc;

	*out = -1;
	if (!pl)
		return 0;
	rc = plan_amount(pl, metric, q, out);
	if (rc == -ENOENT) {
		*out = -1;
		return 0;
	}
	return rc;
}

static int emit_row(struct run *r, struct reconcile_row *row)
{
	const struct plan *pl = pricing_plan_for(r->pr, row->tenant, row->start_ms);
	int rc;

	if (pl && !plan_price(pl, row->metric))
		pl = NULL;
	row->plan = pl ? pl->name : NULL;
	if (pl)
		row->currency = pl->currency;
	rc = price_of(pl, row->metric, row->metered, &row->expected_amount);
	if (!rc)
		rc = price_of(pl, row->metric, row->billed, &row->billed_expected);
	if (rc) {
		log_warn("reconcile: %s %s: amount overflows int64", row->tenant,
			 metric_name(row->metric));
		return 0;
	}
	row->leak = row->expected_amount >= 0 ? row->expected_amount - row->billed_amount : 0;
	row->closed = r->now_ms >= row->end_ms + r->c->settle_ms;
	if (r->cb) {
		rc = r->cb(row, r->arg);
		if (rc)
			return rc;
	}
	return r->d.out ? detect_row(&r->d, row) : 0;
}

static void period_label(const struct run *r, int64_t s, int64_t e, char *out, size_t len)
{
	char a[32], b[32];

	if (s == r->start_ms && e == r->end_ms) {
		snprintf(out, len, "%s", r->period);
		return;
	}
	period_format_time(s, a, sizeof(a));
	period_format_time(e, b, sizeof(b));
	a[10] = b[10] = '\0';   /* dates */
	snprintf(out, len, "%s/%s", a, b);
}

static int usage_one(const struct store_usage *u, void *arg)
{
	*(uint64_t *)arg += u->value;
	return 0;
}

static int flush_group(struct run *r)
{
	struct group *g = &r->g;
	struct reconcile_row row = { 0 };
	struct usage_ent *u;
	char label[72];
	int rc;

	if (!g->active)
		return 0;
	g->active = false;
	if (g->start_ms < r->start_ms || g->start_ms >= r->end_ms)
		return 0;   /* an invoice of the previous period: reconciled there */
	u = usage_find(&r->usage, g->tenant, g->metric);
	if (g->start_ms == r->start_ms && g->end_ms == r->end_ms) {
		row.metered = u ? u->value : 0;
	} else {
		rc = store_usage_sum(r->s, g->tenant, g->metric, g->start_ms, g->end_ms,
				     usage_one, &row.metered);
		if (rc)
			return rc;
	}
	period_label(r, g->start_ms, g->end_ms, label, sizeof(label));
	row.tenant = g->tenant;
	row.metric = g->metric;
	row.period = label;
	row.start_ms = g->start_ms;
	row.end_ms = g->end_ms;
	row.billed = g->quantity;
	row.billed_amount = g->amount;
	row.currency = g->currency;
	row.bill_currency = g->currency;
	row.has_bill = true;
	row.nbills = g->n;
	return emit_row(r, &row);
}

static int bill_cb(const struct store_bill *b, void *arg)
{
	struct run *r = arg;
	struct group *g = &r->g;
	struct usage_ent *u = usage_find(&r->usage, b->tenant, b->metric);
	int rc;

	if (u)
		u->covered = true;
	if (g->active && (strcmp(g->tenant, b->tenant) != 0 || g->metric != b->metric ||
			  g->start_ms != b->period_start_ms || g->end_ms != b->period_end_ms)) {
		rc = flush_group(r);
		if (rc)
			return rc;
	}
	if (!g->active) {
		memset(g, 0, sizeof(*g));
		snprintf(g->tenant, sizeof(g->tenant), "%s", b->tenant);
		g->metric = b->metric;
		g->start_ms = b->period_start_ms;
		g->end_ms = b->period_end_ms;
		snprintf(g->currency, sizeof(g->currency), "%s", b->currency);
		g->active = true;
	}
	g->quantity += b->quantity;
	if (__builtin_add_overflow(g->amount, b->amount, &g->amount)) {
		log_warn("reconcile: %s: billed amount overflows", b->tenant);
		return -ERANGE;
	}
	g->n++;
	return 0;
}

static int uncovered_rows(struct run *r)
{
	for (size_t i = 0; i < r->usage.n; i++) {
		struct usage_ent *u = &r->usage.v[i];
		struct reconcile_row row = {
			.tenant = u->tenant, .metric = u->metric, .period = r->period,
			.start_ms = r->start_ms, .end_ms = r->end_ms, .metered = u->value,
			.currency = "",
		};
		int rc;

		if (u->covered)
			continue;
		rc = emit_row(r, &row);
		if (rc)
			return rc;
	}
	return 0;
}

int reconcile_period(struct store *s, const struct pricing *pr,
		     const struct reconcile_conf *c, const char *period,
		     int64_t start_ms, int64_t end_ms, int64_t now_ms,
		     reconcile_row_cb cb, void *arg, struct alert_set *alerts)
{
	struct run r = {
		.s = s, .pr = pr, .c = c, .period = period, .start_ms = start_ms,
		.end_ms = end_ms, .now_ms = now_ms, .cb = cb, .arg = arg,
		.d = { .s = s, .pr = pr, .c = c, .period = period, .start_ms = start_ms,
		       .end_ms = end_ms, .now_ms = now_ms, .out = alerts },
	};
	int rc;

	rc = store_usage_sum(s, NULL, 0, start_ms, end_ms, usage_add, &r.usage);
	if (rc)
		goto cleanup;
	usage_sort(&r.usage);
	if (alerts) {
		rc = detect_load_live(&r.d);
		if (rc)
			goto cleanup;
	}
	rc = store_bill_query(s, NULL, 0, start_ms, end_ms, bill_cb, &r);
	if (!rc)
		rc = flush_group(&r);
	if (!rc)
		rc = uncovered_rows(&r);
	if (!rc && alerts)
		rc = detect_accounts(&r.d);
	if (!rc && alerts)
		rc = detect_gaps(&r.d);
cleanup:
	detect_free_live(&r.d);
	usage_free(&r.usage);
	return rc;
}

int reconcile_anomalies(struct store *s, const struct pricing *pr,
			const struct reconcile_conf *c, const char *period,
			int64_t start_ms, int64_t end_ms, int64_t now_ms,
			struct alert_set *alerts)
{
	struct usage_tab usage = { 0 };
	struct detect_ctx d = { .s = s, .pr = pr, .c = c, .period = period,
				.start_ms = start_ms, .end_ms = end_ms, .now_ms = now_ms,
				.out = alerts };
	int64_t from = now_ms / 3600000 * 3600000 - c->anomaly_history_h * 3600000;
	int rc;

	/* Every series with usage in the history, so a tenant gone silent
	 * (a sudden drop to nothing) is judged too. */
	rc = store_usage_sum(s, NULL, 0, from, now_ms, usage_add, &usage);
	if (rc)
		goto cleanup;
	usage_sort(&usage);
	for (size_t i = 0; i < usage.n && !rc; i++)
		rc = detect_anomaly(&d, usage.v[i].tenant, usage.v[i].metric);
cleanup:
	usage_free(&usage);
	return rc;
}

/* ---- commit ----------------------------------------------------------------------- */

struct stale {
	const struct store_alert **keys;   /* the raised alerts, sorted by key */
	size_t nkeys;
	unsigned mask;
	int64_t start_ms, end_ms;
	struct alert_set gone;
};

static int key_cmp(const struct store_alert *a, const struct store_alert *b)
{
	int c = strcmp(a->kind, b->kind);

	if (!c)
		c = strcmp(a->tenant, b->tenant);
	if (!c)
		c = strcmp(a->metric, b->metric);
	if (!c)
		c = strcmp(a->period, b->period);
	return c;
}

static int key_pcmp(const void *a, const void *b)
{
	return key_cmp(*(const struct store_alert *const *)a, *(const struct store_alert *const *)b);
}

static int stale_cb(const struct store_alert *a, void *arg)
{
	struct stale *st = arg;
	int kind = alert_kind_from_name(a->kind);

	if (kind < 0 || !(st->mask & (1u << kind)) || a->period_start_ms < st->start_ms ||
	    a->period_start_ms >= st->end_ms)
		return 0;
	if (st->nkeys && bsearch(&a, st->keys, st->nkeys, sizeof(*st->keys), key_pcmp))
		return 0;
	return alert_set_add(&st->gone, a);
}

int reconcile_commit(struct store *s, const struct alert_set *alerts, unsigned kind_mask,
		     int64_t start_ms, int64_t end_ms, int64_t now_ms,
		     reconcile_emit_cb emit, void *arg)
{
	struct stale st = { .mask = kind_mask, .start_ms = start_ms, .end_ms = end_ms };
	int changed = 0, rc = 0, *res = calloc(alerts->n ? alerts->n : 1, sizeof(int));

	st.keys = calloc(alerts->n ? alerts->n : 1, sizeof(*st.keys));
	if (!res || !st.keys) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < alerts->n; i++)
		st.keys[i] = &alerts->v[i];
	st.nkeys = alerts->n;
	qsort(st.keys, st.nkeys, sizeof(*st.keys), key_pcmp);
	rc = store_alert_upsert_batch(s, alerts->v, alerts->n, now_ms, res);
	if (rc < 0)
		goto cleanup;
	for (size_t i = 0; i < alerts->n; i++) {
		struct store_alert a = alerts->v[i];

		if (res[i] == STORE_ALERT_SAME)
			continue;
		changed++;
		if (res[i] == STORE_ALERT_NEW)
			a.first_seen_ms = now_ms;
		a.updated_ms = now_ms;
		a.status = "open";
		if (emit)
			emit(&a, arg);
	}
	rc = store_alert_list(s, NULL, true, stale_cb, &st);
	if (rc)
		goto cleanup;
	for (size_t i = 0; i < st.gone.n; i++) {
		struct store_alert a = st.gone.v[i];

		rc = store_alert_resolve(s, a.kind, a.tenant, a.metric, a.period, now_ms);
		if (rc < 0)
			goto cleanup;
		a.status = "resolved";
		a.updated_ms = now_ms;
		if (emit)
			emit(&a, arg);
	}
	rc = changed;
cleanup:
	free(res);
	free(st.keys);
	alert_set_free(&st.gone);
	return rc;
}
