/* Retention: the windows older than a number of days lose their usage rows
 * and reports (store_prune_mark(), store_prune_step()), for the
 * collector's hourly round and `truemeter prune`; optionally each calendar
 * month is archived first as an audit bundle. */
#ifndef TM_RETENTION_H
#define TM_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The judge reconciles the current and the previous calendar month: their
 * windows (up to 62 days back) are never pruned. */
#define RETENTION_MIN_DAYS 63

struct retention_opts {
	int64_t days;                /* >= RETENTION_MIN_DAYS */
	const char *archive_dir;     /* NULL or "": no archive */
	bool (*stop)(void *arg);     /* asked between batches; NULL: never */
	void *arg;
};

struct retention_result {
	int64_t point_ms;            /* windows starting before it are pruned */
	uint64_t rows, reports;      /* deleted by this call */
	size_t archived;             /* months written to archive_dir */
	bool more;                   /* stopped early: some remain */
};

/* Prunes the windows older than o->days as of now_ms, a batch per
 * transaction.  With an archive directory, every calendar month about to
 * lose its first window is first written there whole as an audit bundle
 * (DIR/YYYY-MM.tmb, kept if it exists); if that fails, nothing is
 * pruned.  Logs what it did.  0 or a negative errno (-EINVAL for too few
 * days). */
int retention_prune(struct store *s, const struct retention_opts *o, int64_t now_ms,
		    struct retention_result *out);

#endif
