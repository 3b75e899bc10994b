#include "delta.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Open addressing with linear probing; keys never leave the table. */
struct delta_table {
	struct meter_row *slots;
	bool *used;
	size_t cap, n;
};

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t key_hash(const struct meter_row *r)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, r->tenant, strnlen(r->tenant, sizeof(r->tenant)));
	h = fnv(h, &r->metric, sizeof(r->metric));
	h = fnv(h, r->route, strnlen(r->route, sizeof(r->route)));
	h = fnv(h, r->method, strnlen(r->method, sizeof(r->method)));
	return fnv(h, &r->status_class, 1);
}

static bool key_eq(const struct meter_row *a, const struct meter_row *b)
{
	return a->metric == b->metric && a->status_class == b->status_class &&
	       strncmp(a->tenant, b->tenant, sizeof(a->tenant)) == 0 &&
	       strncmp(a->route, b->route, sizeof(a->route)) == 0 &&
	       strncmp(a->method, b->method, sizeof(a->method)) == 0;
}

int delta_new(struct delta_table **out)
{
	struct delta_table *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->cap = 64;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	t->used = calloc(t->cap, sizeof(*t->used));
	if (!t->slots || !t->used) {
		delta_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void delta_free(struct delta_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->used);
	free(t);
}

size_t delta_count(const struct delta_table *t)
{
	return t->n;
}

static size_t find_slot(const struct delta_table *t, const struct meter_row *key)
{
	size_t i = key_hash(key) & (t->cap - 1);

	while (t->used[i] && !key_eq(&t->slots[i], key))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int grow(struct delta_table *t)
{
	struct delta_table big = { .cap = t->cap * 2 };

	big.slots = calloc(big.cap, sizeof(*big.slots));
	big.used = calloc(big.cap, sizeof(*big.used));
	if (!big.slots || !big.used) {
		free(big.slots);
		free(big.used);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->used[i])
			continue;
		size_t j = find_slot(&big, &t->slots[i]);

		big.slots[j] = t->slots[i];
		big.used[j] = true;
	}
	free(t->slots);
	free(t->used);
	t->slots = big.slots;
	t->used = big.used;
	t->cap = big.cap;
	return 0;
}

/* Slot of key, created with value 0 when missing. */
static int slot_for(struct delta_table *t, const struct meter_row *key, size_t *out)
{
	size_t i;
	int err;

	if ((t->n + 1) * 4 > t->cap * 3) {
		err = grow(t);
		if (err)
			return err;
	}
	i = find_slot(t, key);
	if (!t->used[i]) {
		t->slots[i] = *key;
		t->slots[i].value = 0;
		t->used[i] = true;
		t->n++;
	}
	*out = i;
	return 0;
}

int delta_get(const struct delta_table *t, const struct meter_row *key, uint64_t *value)
{
	size_t i = find_slot(t, key);

	if (!t->used[i])
		return 0;
	*value = t->slots[i].value;
	return 1;
}

int delta_compute(struct delta_table *t, const struct meter_row *cur, size_t n,
		  struct meter_row **out, size_t *nout)
{
	struct meter_row *d = NULL;
	size_t nd = 0;
	int err = 0;

	*out = NULL;
	*nout = 0;
	d = malloc((n ? n : 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		uint64_t base = 0;
		size_t i = find_slot(t, &cur[k]);

		if (t->used[i])
			base = t->slots[i].value;
		if (cur[k].value < base) {
			log_warn("counter %s/%d went back from %llu to %llu (map "
				 "recreated?): counting it from zero",
				 cur[k].tenant, cur[k].metric, (unsigned long long)base,
				 (unsigned long long)cur[k].value);
			t->slots[i].value = 0;
			base = 0;
		}
		if (cur[k].value == base)
			continue;
		d[nd] = cur[k];
		d[nd].value = cur[k].value - base;
		nd++;
	}
	*out = d;
	*nout = nd;
	return err;
}

static int update(struct delta_table *t, const struct meter_row *rows, size_t n, bool add)
{
	for (size_t k = 0; k < n; k++) {
		size_t i;
		int err = slot_for(t, &rows[k], &i);

		if (err)
			return err;
		t->slots[i].value = add ? t->slots[i].value + rows[k].value : rows[k].value;
	}
	return 0;
}

int delta_apply(struct delta_table *t, const struct meter_row *rows, size_t n)
{
	return update(t, rows, n, true);
}

int delta_set(struct delta_table *t, const struct meter_row *rows, size_t n)
{
	return update(t, rows, n, false);
}

size_t delta_zero_if(struct delta_table *t,
		     bool (*from_zero)(const struct meter_row *key, void *ctx), void *ctx)
{
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++) {
		if (!t->used[i] || !t->slots[i].value || !from_zero(&t->slots[i], ctx))
			continue;
		t->slots[i].value = 0;
		n++;
	}
	return n;
}

int delta_rows(const struct delta_table *t, struct meter_row **rows, size_t *n)
{
	struct meter_row *v = malloc((t->n ? t->n : 1) * sizeof(*v));
	size_t k = 0;

	*rows = NULL;
	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->used[i])
			v[k++] = t->slots[i];
	*rows = v;
	*n = k;
	return 0;
}
