/* Pricing catalog parsing and price computation (see pricing.h). */
#include "pricing.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "fileio.h"

#define CATALOG_MAX (16u << 20)

typedef unsigned __int128 u128;

int pricing_parse_money(const char *s, int64_t *nano)
{
	u128 whole = 0, frac = 0;
	int fdigits = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (*p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > (u128)INT64_MAX)
			return -ERANGE;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (++fdigits > 9)
				return -EINVAL;
			frac = frac * 10 + (unsigned)(*p - '0');
		}
	}
	if (*p)
		return -EINVAL;
	for (; fdigits < 9; fdigits++)
		frac *= 10;
	whole = whole * PRICING_SCALE + frac;
	if (whole > (u128)INT64_MAX)
		return -ERANGE;
	*nano = (int64_t)whole;
	return 0;
}

/* ---- computation --------------------------------------------------------- */

static int round_nano(u128 total, int64_t *amount)
{
	u128 minor = (total + PRICING_SCALE / 2) / PRICING_SCALE;   /* half up */

	if (minor > (u128)INT64_MAX)
		return -ERANGE;
	*amount = (int64_t)minor;
	return 0;
}

static u128 graduated(const struct price *pr, uint64_t q)
{
	u128 total = 0;
	uint64_t lower = 0;       /* units already priced by earlier tiers */

	for (size_t i = 0; i < pr->ntiers && q > lower; i++) {
		const struct price_tier *t = &pr->tiers[i];
		uint64_t upper = q < t->up_to ? q : t->up_to;

		total += (u128)(upper - lower) * (uint64_t)t->unit_nano + (uint64_t)t->flat_nano;
		lower = upper;
	}
	return total;
}

static u128 volume(const struct price *pr, uint64_t q)
{
	if (q == 0)
		return 0;
	for (size_t i = 0; i < pr->ntiers; i++) {
		const struct price_tier *t = &pr->tiers[i];

		if (q <= t->up_to)
			return (u128)q * (uint64_t)t->unit_nano + (uint64_t)t->flat_nano;
	}
	return 0;                 /* unreachable: the last tier is inf */
}

int price_amount(const struct price *pr, uint64_t quantity, int64_t *amount)
{
	uint64_t billable = quantity > pr->included ? quantity - pr->included : 0;
	u128 total = (uint64_t)pr->flat_nano;

	switch (pr->model) {
	case PRICE_PER_UNIT:
		total += (u128)billable * (uint64_t)pr->unit_nano;
		break;
	case PRICE_PACKAGE:
		total += (u128)(billable / pr->package_size + (billable % pr->package_size != 0)) *
			 (uint64_t)pr->unit_nano;
		break;
	case PRICE_GRADUATED:
		total += graduated(pr, billable);
		break;
	case PRICE_VOLUME:
		total += volume(pr, billable);
		break;
	case PRICE_FLAT:
		break;
	}
	return round_nano(total, amount);
}

const struct price *plan_price(const struct plan *pl, int metric)
{
	for (size_t i = 0; pl && i < pl->nprices; i++)
		if (pl->prices[i].metric == metric)
			return &pl->prices[i];
	return NULL;
}

int plan_amount(const struct plan *pl, int metric, uint64_t quantity, int64_t *amount)
{
	const struct price *pr = plan_price(pl, metric);

	if (!pr)
		return -ENOENT;
	return price_amount(pr, quantity, amount);
}

static const struct plan *plan_by_name(const struct pricing *p, const char *name)
{
	for (size_t i = 0; name && i < p->nplans; i++)
		if (strcmp(p->plans[i].name, name) == 0)
			return &p->plans[i];
	return NULL;
}

static int asg_cmp(const void *a, const void *b)
{
	const struct plan_assignment *x = a, *y = b;
	int c = strcmp(x->tenant, y->tenant);

	return c ? c : (x->from_ms > y->from_ms) - (x->from_ms < y->from_ms);
}

/* Assignments are sorted by tenant: the first of tenant's, or NULL. */
static const struct plan_assignment *first_of(const struct pricing *p, const char *tenant)
{
	size_t lo = 0, hi = p->nassignments;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(p->assignments[mid].tenant, tenant) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->nassignments && strcmp(p->assignments[lo].tenant, tenant) == 0)
		return &p->assignments[lo];
	return NULL;
}

const struct plan *pricing_plan_for(const struct pricing *p, const char *tenant,
				    int64_t at_ms)
{
	const struct plan_assignment *a, *end;

	if (!p)
		return NULL;
	if (!p->nassignments)           /* assignments may be NULL then */
		return plan_by_name(p, p->default_plan);
	end = p->assignments + p->nassignments;
	for (a = first_of(p, tenant); a && a < end && strcmp(a->tenant, tenant) == 0; a++)
		if (a->from_ms <= at_ms && at_ms < a->to_ms)
			return plan_by_name(p, a->plan);
	return plan_by_name(p, p->default_plan);
}

bool pricing_assigned(const struct pricing *p, const char *tenant,
		      int64_t from_ms, int64_t to_ms)
{
	const struct plan_assignment *a, *end;

	if (!p || !p->nassignments)
		return false;
	end = p->assignments + p->nassignments;
	for (a = first_of(p, tenant); a && a < end && strcmp(a->tenant, tenant) == 0; a++)
		if (a->from_ms < to_ms && from_ms < a->to_ms)
			return true;
	return false;
}

/* ---- parsing ------------------------------------------------------------- */

struct parse_ctx {
	const char *origin;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct parse_ctx *c, const char *where, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s: %s", c->origin, where, msg);
	return -EINVAL;
}

static int get_money(struct parse_ctx *c, const char *where, json_object *o,
		     const char *key, bool required, int64_t *nano)
{
	json_object *v;
	int err;

	*nano = 0;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return fail(c, where, "'%s' is required", key);
		return 0;
	}
	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);

		if (i < 0 || i > INT64_MAX / PRICING_SCALE)
			return fail(c, where, "'%s' out of range", key);
		*nano = i * PRICING_SCALE;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(c, where, "'%s' must be an integer or a decimal string", key);
	err = pricing_parse_money(json_object_get_string(v), nano);
	if (err)
		return fail(c, where, "'%s': bad amount '%s' (non-negative minor units, "
			    "at most 9 decimals)", key, json_object_get_string(v));
	return 0;
}

/* Non-negative integer; "inf" allowed when inf is set. */
static int get_count(struct parse_ctx *c, const char *where, json_object *o,
		     const char *key, bool required, bool inf, uint64_t *out)
{
	json_object *v = NULL;
	bool present;
	int64_t i;

	*out = 0;
	present = json_object_object_get_ex(o, key, &v);
	if (!present || json_object_is_type(v, json_type_null)) {
		if (inf && present) {       /* Stripe writes "up_to": null for inf */
			*out = PRICING_INF;
			return 0;
		}
		if (required)
			return fail(c, where, "'%s' is required", key);
		return 0;
	}
	if (inf && json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "inf") == 0) {
		*out = PRICING_INF;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return fail(c, where, "'%s' must be a non-negative integer", key);
	i = json_object_get_int64(v);
	if (i < 0)
		return fail(c, where, "'%s' must be a non-negative integer", key);
	*out = (uint64_t)i;
	return 0;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int parse_tiers(struct parse_ctx *c, const char *where, json_object *o,
		       struct price *pr)
{
	json_object *arr;
	char w[160];
	size_t n;
	int err;

	if (!json_object_object_get_ex(o, "tiers", &arr) ||
	    !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0)
		return fail(c, where, "tiered prices need a non-empty 'tiers' array");
	n = json_object_array_length(arr);
	pr->tiers = calloc(n, sizeof(*pr->tiers));
	if (!pr->tiers)
		return -ENOMEM;
	pr->ntiers = n;
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(arr, i);
		struct price_tier *pt = &pr->tiers[i];

		snprintf(w, sizeof(w), "%s.tiers[%zu]", where, i);
		if (!json_object_is_type(t, json_type_object))
			return fail(c, w, "a tier must be an object");
		err = get_count(c, w, t, "up_to", true, true, &pt->up_to);
		if (!err)
			err = get_money(c, w, t, "unit_amount", false, &pt->unit_nano);
		if (!err)
			err = get_money(c, w, t, "flat_amount", false, &pt->flat_nano);
		if (err)
			return err;
		if (pt->up_to == 0)
			return fail(c, w, "'up_to' must be at least 1");
		if (i > 0 && pt->up_to <= pr->tiers[i - 1].up_to)
			return fail(c, w, "'up_to' must increase from tier to tier");
		if (i + 1 < n && pt->up_to == PRICING_INF)
			return fail(c, w, "only the last tier may be 'inf'");
		if (i + 1 == n && pt->up_to != PRICING_INF)
			return fail(c, w, "the last tier must have \"up_to\": \"inf\"");
	}
	return 0;
}

static const char *const model_names[] = {
	[PRICE_PER_UNIT] = "per_unit", [PRICE_PACKAGE] = "package",
	[PRICE_GRADUATED] = "graduated", [PRICE_VOLUME] = "volume", [PRICE_FLAT] = "flat",
};

static int parse_price(struct parse_ctx *c, const char *where, json_object *o,
		       struct price *pr)
{
	const char *metric = get_str(o, "metric"), *model = get_str(o, "model");
	int err, m = -1;

	if (!json_object_is_type(o, json_type_object))
		return fail(c, where, "a price must be an object");
	pr->metric = metric_from_name(metric);
	if (pr->metric < 0)
		return fail(c, where, "unknown metric '%s'", metric ? metric : "(missing)");
	for (size_t i = 0; model && i < sizeof(model_names) / sizeof(model_names[0]); i++)
		if (strcmp(model, model_names[i]) == 0)
			m = (int)i;
	if (m < 0)
		return fail(c, where, "unknown model '%s' (per_unit, package, graduated, "
			    "volume, flat)", model ? model : "(missing)");
	pr->model = (enum price_model)m;
	err = get_count(c, where, o, "included", false, false, &pr->included);
	if (!err)
		err = get_money(c, where, o, "flat_amount", pr->model == PRICE_FLAT, &pr->flat_nano);
	if (!err && (pr->model == PRICE_PER_UNIT || pr->model == PRICE_PACKAGE))
		err = get_money(c, where, o, "unit_amount", true, &pr->unit_nano);
	if (!err && pr->model == PRICE_PACKAGE) {
		err = get_count(c, where, o, "package_size", true, false, &pr->package_size);
		if (!err && pr->package_size == 0)
			err = fail(c, where, "'package_size' must be at least 1");
	}
	if (!err && (pr->model == PRICE_GRADUATED || pr->model == PRICE_VOLUME))
		err = parse_tiers(c, where, o, pr);
	return err;
}

static int parse_plan(struct parse_ctx *c, const char *where, json_object *o,
		      const char *def_currency, struct plan *pl)
{
	const char *name = get_str(o, "name"), *cur = get_str(o, "currency");
	json_object *prices;
	char w[128];
	int err;

	if (!json_object_is_type(o, json_type_object))
		return fail(c, where, "a plan must be an object");
	if (!name || !*name)
		return fail(c, where, "'name' is required");
	pl->name = strdup(name);
	if (!pl->name)
		return -ENOMEM;
	if (!cur)
		cur = def_currency;
	if (!cur || billing_currency_norm(cur, pl->currency))
		return fail(c, where, "plan '%s' needs a 3-letter 'currency'", name);
	if (!json_object_object_get_ex(o, "prices", &prices) ||
	    !json_object_is_type(prices, json_type_array))
		return fail(c, where, "plan '%s' needs a 'prices' array", name);
	pl->nprices = json_object_array_length(prices);
	pl->prices = calloc(pl->nprices ? pl->nprices : 1, sizeof(*pl->prices));
	if (!pl->prices)
		return -ENOMEM;
	for (size_t i = 0; i < pl->nprices; i++) {
		snprintf(w, sizeof(w), "%s.prices[%zu]", where, i);
		err = parse_price(c, w, json_object_array_get_idx(prices, i), &pl->prices[i]);
		if (err)
			return err;
		for (size_t j = 0; j < i; j++)
			if (pl->prices[j].metric == pl->prices[i].metric)
				return fail(c, w, "metric '%s' priced twice in plan '%s'",
					    metric_name(pl->prices[i].metric), name);
	}
	return 0;
}

static int get_time(struct parse_ctx *c, const char *where, json_object *o,
		    const char *key, int64_t def, int64_t *ms)
{
	json_object *v;
	char buf[32];
	const char *s;

	*ms = def;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return def == INT64_MIN ? fail(c, where, "'%s' is required", key) : 0;
	if (json_object_is_type(v, json_type_int)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_object_get_int64(v));
		s = buf;
	} else {
		s = json_object_get_string(v);
	}
	if (period_parse_time(s, ms))
		return fail(c, where, "'%s': bad time '%s' (YYYY-MM-DD, RFC 3339 or unix "
			    "seconds)", key, s);
	return 0;
}

static int parse_assignment(struct parse_ctx *c, const char *where, json_object *o,
			    const struct pricing *p, struct plan_assignment *a)
{
	const char *tenant = get_str(o, "tenant"), *plan = get_str(o, "plan");
	int err;

	if (!json_object_is_type(o, json_type_object))
		return fail(c, where, "an assignment must be an object");
	if (!tenant || !*tenant)
		return fail(c, where, "'tenant' is required");
	if (!plan_by_name(p, plan))
		return fail(c, where, "unknown plan '%s'", plan ? plan : "(missing)");
	a->tenant = strdup(tenant);
	a->plan = strdup(plan);
	if (!a->tenant || !a->plan)
		return -ENOMEM;
	err = get_time(c, where, o, "from", INT64_MIN, &a->from_ms);
	if (!err)
		err = get_time(c, where, o, "to", INT64_MAX, &a->to_ms);
	if (!err && a->to_ms <= a->from_ms)
		err = fail(c, where, "'to' must be after 'from'");
	return err;
}

static int parse_root(struct parse_ctx *c, json_object *root, struct pricing *p)
{
	json_object *plans, *asg;
	const char *cur = get_str(root, "currency"), *def = get_str(root, "default_plan");
	char w[64];
	int err;

	if (!json_object_is_type(root, json_type_object))
		return fail(c, "catalog", "the catalog must be a JSON object");
	if (!json_object_object_get_ex(root, "plans", &plans) ||
	    !json_object_is_type(plans, json_type_array))
		return fail(c, "catalog", "'plans' must be an array");
	p->nplans = json_object_array_length(plans);
	p->plans = calloc(p->nplans ? p->nplans : 1, sizeof(*p->plans));
	if (!p->plans)
		return -ENOMEM;
	for (size_t i = 0; i < p->nplans; i++) {
		snprintf(w, sizeof(w), "plans[%zu]", i);
		err = parse_plan(c, w, json_object_array_get_idx(plans, i), cur, &p->plans[i]);
		if (err)
			return err;
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->plans[j].name, p->plans[i].name) == 0)
				return fail(c, w, "plan '%s' defined twice", p->plans[i].name);
	}
	if (def) {
		if (!plan_by_name(p, def))
			return fail(c, "default_plan", "unknown plan '%s'", def);
		p->default_plan = strdup(def);
		if (!p->default_plan)
			return -ENOMEM;
	}
	if (!json_object_object_get_ex(root, "assignments", &asg))
		return 0;
	if (!json_object_is_type(asg, json_type_array))
		return fail(c, "assignments", "'assignments' must be an array");
	p->nassignments = json_object_array_length(asg);
	p->assignments = calloc(p->nassignments ? p->nassignments : 1, sizeof(*p->assignments));
	if (!p->assignments)
		return -ENOMEM;
	for (size_t i = 0; i < p->nassignments; i++) {
		snprintf(w, sizeof(w), "assignments[%zu]", i);
		err = parse_assignment(c, w, json_object_array_get_idx(asg, i), p,
				       &p->assignments[i]);
		if (err)
			return err;
	}
	qsort(p->assignments, p->nassignments, sizeof(*p->assignments), asg_cmp);
	for (size_t i = 1; i < p->nassignments; i++) {
		const struct plan_assignment *a = &p->assignments[i - 1], *b = &p->assignments[i];

		if (strcmp(a->tenant, b->tenant) == 0 && b->from_ms < a->to_ms)
			return fail(c, "assignments", "tenant '%s' has overlapping assignments",
				    a->tenant);
	}
	return 0;
}

/* Line number of a byte offset, for JSON syntax errors. */
static int line_of(const char *text, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off && text[i]; i++)
		line += text[i] == '\n';
	return line;
}

int pricing_parse(const char *json, const char *origin, struct pricing **out,
		  char *err, size_t errlen)
{
	struct parse_ctx c = { origin ? origin : "catalog", err, errlen };
	json_tokener *tok = NULL;
	json_object *root = NULL;
	struct pricing *p = NULL;
	int rc;

	*out = NULL;
	tok = json_tokener_new();
	p = calloc(1, sizeof(*p));
	if (!tok || !p) {
		rc = -ENOMEM;
		goto cleanup;
	}
	root = json_tokener_parse_ex(tok, json, (int)strlen(json));
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    strspn(json + json_tokener_get_parse_end(tok), " \t\r\n") !=
	    strlen(json + json_tokener_get_parse_end(tok))) {
		size_t off = json_tokener_get_parse_end(tok);

		snprintf(err, errlen, "%s:%d: JSON syntax error: %s", c.origin, line_of(json, off),
			 root ? "content after the catalog object" :
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		rc = -EINVAL;
		goto cleanup;
	}
	rc = parse_root(&c, root, p);
	if (rc)
		goto cleanup;
	*out = p;
	p = NULL;
cleanup:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", c.origin);
	json_object_put(root);
	json_tokener_free(tok);
	pricing_free(p);
	return rc;
}

int pricing_load_file(const char *path, struct pricing **out, char **text,
		      char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (text)
		*text = NULL;
	rc = fileio_read_all(path, CATALOG_MAX, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		goto cleanup;
	}
	rc = pricing_parse(buf, path, out, err, errlen);
	if (rc)
		goto cleanup;
	if (text) {
		*text = buf;
		buf = NULL;
	}
cleanup:
	free(buf);
	return rc;
}

void pricing_free(struct pricing *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nplans; i++) {
		for (size_t j = 0; j < p->plans[i].nprices; j++)
			free(p->plans[i].prices[j].tiers);
		free(p->plans[i].prices);
		free(p->plans[i].name);
	}
	for (size_t i = 0; i < p->nassignments; i++) {
		free(p->assignments[i].tenant);
		free(p->assignments[i].plan);
	}
	free(p->plans);
	free(p->assignments);
	free(p->default_plan);
	free(p);
}
