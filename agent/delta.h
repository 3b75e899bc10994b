/* The baseline: the last cumulative value the agent has reported for each
 * counter key (tenant x metric x route x method x status class), and the
 * deltas of a new meter read against it.
 *
 * The baseline only ever moves by applying the deltas of a report that has
 * been spooled (delta_apply), so replaying a spooled report after a crash
 * (roll-forward) reproduces exactly the state the agent would have saved.
 *
 * Ownership: delta_new() returns a table freed with delta_free() (NULL
 * accepted).  Row arrays handed out are malloc'd and owned by the caller. */
#ifndef TM_DELTA_H
#define TM_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meter.h"

struct delta_table;

int delta_new(struct delta_table **out);
void delta_free(struct delta_table *t);

/* Number of keys in the baseline. */
size_t delta_count(const struct delta_table *t);

/* Baseline value of key (only the key fields of *key are used): 1 and
 * *value when present, 0 when not. */
int delta_get(const struct delta_table *t, const struct meter_row *key, uint64_t *value);

/* Deltas of cumulative rows cur[0..n) against the baseline: *out gets only
 * the rows whose value grew (value = the increase).  A counter below its
 * baseline was reset (its pinned map was recreated): that key's baseline is
 * set to 0 here, logged, and its whole value counts as the delta.  The
 * baseline is otherwise unchanged until delta_apply(). */
int delta_compute(struct delta_table *t, const struct meter_row *cur, size_t n,
		  struct meter_row **out, size_t *nout);

/* baseline[key] += value for every row (keys are created as needed). */
int delta_apply(struct delta_table *t, const struct meter_row *rows, size_t n);

/* baseline[key] = value for every row: the first read of a fresh agent. */
int delta_set(struct delta_table *t, const struct meter_row *rows, size_t n);

/* baseline[key] = 0 for every key that from_zero(key, ctx) says counts
 * from zero again (its counter was made afresh); returns how many keys
 * had a value to lose. */
size_t delta_zero_if(struct delta_table *t,
		     bool (*from_zero)(const struct meter_row *key, void *ctx), void *ctx);

/* Every baseline entry, in no particular order; *rows malloc'd. */
int delta_rows(const struct delta_table *t, struct meter_row **rows, size_t *n);

#endif
