/* Retention: the windows older than a number of days lose their usage rows
 * and reports (store_prune_mark(), store_prune_step()), for the
 * collector's hourly round and `truemeter prune`. */
#ifndef TM_RETENTION_H
#define TM_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* The judge reconciles the current and the previous calendar month: their
 * windows (up to 62 days back) are never pruned. */
#define RETENTION_MIN_DAYS 63

struct retention_result {
	int64_t point_ms;            /* windows starting before it are pruned */
	uint64_t rows, reports;      /* deleted by this call */
	bool more;                   /* stopped early: some remain */
};

/* Prunes the windows older than days (>= RETENTION_MIN_DAYS) as of now_ms,
 * a batch per transaction; stop(arg), when given, is asked between
 * batches whether to end early.  Logs what it did.  0 or a negative errno
 * (-EINVAL for too few days). */
int retention_prune(struct store *s, int64_t days, int64_t now_ms,
		    bool (*stop)(void *arg), void *arg, struct retention_result *out);

#endif
