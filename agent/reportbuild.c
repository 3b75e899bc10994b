#include "reportbuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* String interning: open addressing over indexes into strs[]. */
struct interner {
	char **strs;
	size_t n, cap;
	uint32_t *slots;          /* 0 = empty, else index + 1 */
	size_t nslots;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int interner_init(struct interner *in, size_t expect)
{
	memset(in, 0, sizeof(*in));
	in->cap = expect + 1;
	in->nslots = 16;
	while (in->nslots < 2 * in->cap)
		in->nslots *= 2;
	in->strs = calloc(in->cap, sizeof(*in->strs));
	in->slots = calloc(in->nslots, sizeof(*in->slots));
	if (!in->strs || !in->slots)
		return -ENOMEM;
	in->strs[0] = strdup("");
	if (!in->strs[0])
		return -ENOMEM;
	in->n = 1;
	return 0;
}

/* Index of s, adding it if new.  cap is sized by the caller so that every
 * string fits (3 per row + 1), hence no growth here. */
static int intern(struct interner *in, const char *s, uint32_t *idx)
{
	size_t i;

	if (!*s) {
		*idx = 0;
		return 0;
	}
	i = str_hash(s) & (in->nslots - 1);
	while (in->slots[i]) {
		uint32_t k = in->slots[i] - 1;

		if (strcmp(in->strs[k], s) == 0) {
			*idx = k;
			return 0;
		}
		i = (i + 1) & (in->nslots - 1);
	}
	if (in->n == in->cap)
		return -E2BIG;
	in->strs[in->n] = strdup(s);
	if (!in->strs[in->n])
		return -ENOMEM;
	in->slots[i] = (uint32_t)in->n + 1;
	*idx = (uint32_t)in->n++;
	return 0;
}

static char *bounded_dup(const char *s, size_t max)
{
	return strndup(s, strnlen(s, max));
}

static int health_hooks(char ***out, size_t *n, const char (*names)[METER_HOOK_NAME_LEN],
			size_t count)
{
	*out = NULL;
	*n = 0;
	if (!count)
		return 0;
	*out = calloc(count, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		(*out)[i] = bounded_dup(names[i], METER_HOOK_NAME_LEN);
		if (!(*out)[i])
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int build_health(const struct reportbuild_in *in, Truemeter__Report *r)
{
	Truemeter__Health *h = malloc(sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	truemeter__health__init(h);
	r->health = h;
	h->spool_drops = in->spool_drops;
	h->spool_bytes = in->spool_bytes;
	h->map_overflow_window = in->map_overflow_window;
	h->event_drops_window = in->event_drops_window;
	if (!in->health)
		return 0;
	h->map_overflow = in->health->map_overflow;
	h->event_drops = in->health->event_drops;
	err = health_hooks(&h->hooks_attached, &h->n_hooks_attached,
			   in->health->attached, in->health->n_attached);
	if (err)
		return err;
	return health_hooks(&h->hooks_missing, &h->n_hooks_missing,
			    in->health->missing, in->health->n_missing);
}

/* The rows live in one block; r->rows[i] point into it, so r->rows[0] is
 * the block whenever n_rows > 0 (reportbuild_free relies on that). */
static int build_rows(const struct reportbuild_in *in, Truemeter__Report *r)
{
	struct interner it;
	Truemeter__UsageRow *rows = NULL;
	int err;

	err = interner_init(&it, 3 * in->n_deltas);
	if (err)
		goto cleanup;
	rows = calloc(in->n_deltas ? in->n_deltas : 1, sizeof(*rows));
	r->rows = calloc(in->n_deltas ? in->n_deltas : 1, sizeof(*r->rows));
	if (!rows || !r->rows) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < in->n_deltas; i++) {
		const struct meter_row *d = &in->deltas[i];
		Truemeter__UsageRow *u = &rows[r->n_rows];
		char tenant[METER_TENANT_LEN + 1], route[METER_ROUTE_LEN + 1];
		char method[METER_METHOD_LEN + 1];

		if (!d->value)
			continue;
		truemeter__usage_row__init(u);
		/* meter rows are fixed arrays: copy so an unterminated one stays bounded */
		snprintf(tenant, sizeof(tenant), "%.*s", METER_TENANT_LEN, d->tenant);
		snprintf(route, sizeof(route), "%.*s", METER_ROUTE_LEN, d->route);
		snprintf(method, sizeof(method), "%.*s", METER_METHOD_LEN, d->method);
		err = intern(&it, tenant, &u->tenant);
		if (!err)
			err = intern(&it, route, &u->route);
		if (!err)
			err = intern(&it, method, &u->method);
		if (err)
			goto cleanup;
		u->metric = (Truemeter__Metric)d->metric;
		u->status_class = d->status_class;
		u->value = d->value;
		r->rows[r->n_rows++] = u;
	}
	err = 0;
cleanup:
	/* the report owns the strings (and the row block, if used) from here on */
	r->strings = it.strs;
	r->n_strings = it.strs ? it.n : 0;
	free(it.slots);
	if (r->n_rows == 0) {
		free(rows);
		free(r->rows);
		r->rows = NULL;
	}
	return err;
}

static int dup_bytes(ProtobufCBinaryData *b, const uint8_t *src, size_t len)
{
	b->data = malloc(len);
	if (!b->data)
		return -ENOMEM;
	memcpy(b->data, src, len);
	b->len = len;
	return 0;
}

int reportbuild_make(const struct reportbuild_in *in, Truemeter__Report **out)
{
	Truemeter__Report *r;
	int err;

	*out = NULL;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	truemeter__report__init(r);
	r->epoch = in->epoch;
	r->seq = in->seq;
	r->window_start_ms = in->window_start_ms;
	r->window_end_ms = in->window_end_ms;
	r->hostname = strdup(in->hostname ? in->hostname : "");
	if (!r->hostname) {
		r->hostname = (char *)protobuf_c_empty_string;
		err = -ENOMEM;
		goto cleanup;
	}
	err = dup_bytes(&r->agent_id, in->agent_id, REPORT_PK_LEN);
	if (err)
		goto cleanup;
	if (in->prev_digest) {
		err = dup_bytes(&r->prev_digest, in->prev_digest, REPORT_DIGEST_LEN);
		if (err)
			goto cleanup;
	}
	err = build_health(in, r);
	if (err)
		goto cleanup;
	err = build_rows(in, r);
	if (err)
		goto cleanup;
	*out = r;
	r = NULL;
cleanup:
	reportbuild_free(r);
	return err;
}

/* The packed size of a report of the first n rows of in. */
static int packed_size(const struct reportbuild_in *in, size_t n, size_t *size)
{
	struct reportbuild_in part = *in;
	Truemeter__Report *r;
	int err;

	part.n_deltas = n;
	err = reportbuild_make(&part, &r);
	if (err)
		return err;
	*size = truemeter__report__get_packed_size(r);
	reportbuild_free(r);
	return 0;
}

/* Bisection over prefixes, sized by protobuf-c itself: a report only grows
 * with more rows (a new row adds bytes, and perhaps a new string). */
int reportbuild_fit(const struct reportbuild_in *in, size_t max_bytes, size_t *n_fit,
		    size_t *size)
{
	size_t lo = 0, hi = in->n_deltas, got, lo_size = 0;
	int err;

	*n_fit = 0;
	*size = 0;
	err = packed_size(in, hi, &got);
	if (err)
		return err;
	if (got + REPORTBUILD_SLACK <= max_bytes) {
		*n_fit = hi;
		*size = got;
		return 0;
	}
	/* invariant: hi rows do not fit, lo rows do (taken on trust for lo = 0:
	 * ending there means not even one row fits) */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		err = packed_size(in, mid, &got);
		if (err)
			return err;
		if (got + REPORTBUILD_SLACK <= max_bytes) {
			lo = mid;
			lo_size = got;
		} else {
			hi = mid;
		}
	}
	if (lo == 0)
		return -EMSGSIZE;
	*n_fit = lo;
	*size = lo_size;
	return 0;
}

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void reportbuild_free(Truemeter__Report *r)
{
	if (!r)
		return;
	if (r->n_rows)
		free(r->rows[0]);
	free(r->rows);
	free_strv(r->strings, r->n_strings);
	if (r->health) {
		free_strv(r->health->hooks_attached, r->health->n_hooks_attached);
		free_strv(r->health->hooks_missing, r->health->n_hooks_missing);
		free(r->health);
	}
	free(r->agent_id.data);
	free(r->prev_digest.data);
	if (r->hostname != protobuf_c_empty_string)
		free(r->hostname);
	free(r);
}

static int copy_str(char *dst, size_t size, const Truemeter__Report *r, uint32_t idx)
{
	const char *s = report_string(r, idx);

	if (!s || strlen(s) >= size)
		return -EBADMSG;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int reportbuild_rows(const Truemeter__Report *r, struct meter_row **rows, size_t *n)
{
	struct meter_row *v;
	int err = 0;

	*rows = NULL;
	*n = 0;
	v = calloc(r->n_rows ? r->n_rows : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_rows; i++) {
		const Truemeter__UsageRow *u = r->rows[i];

		if (copy_str(v[i].tenant, sizeof(v[i].tenant), r, u->tenant) ||
		    copy_str(v[i].route, sizeof(v[i].route), r, u->route) ||
		    copy_str(v[i].method, sizeof(v[i].method), r, u->method) ||
		    u->status_class > 5) {
			err = -EBADMSG;
			goto cleanup;
		}
		v[i].metric = (int)u->metric;
		v[i].status_class = (uint8_t)u->status_class;
		v[i].value = u->value;
	}
	*rows = v;
	*n = r->n_rows;
	v = NULL;
cleanup:
	free(v);
	return err;
}
