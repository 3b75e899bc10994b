/* Retention for the SQLite store: the usage rows and signed envelopes of
 * old windows are deleted, in batches short enough for ingest to go on
 * between them.  See store.h for what stays. */
#include "store_sqlite.h"

#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "period.h"

#define HOUR_MS 3600000

int store_pruned_before(struct store *s, int64_t *before_ms)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	*before_ms = 0;
	err = store_sqlite_prepare(s, "SELECT before_ms FROM store_pruned", &st);
	if (err)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*before_ms = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_DONE) {
		log_warn("store %s: pruning point: %s", s->path, sqlite3_errmsg(s->db));
		err = -EIO;
	}
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_prune_mark(struct store *s, int64_t before_ms, int64_t now_ms, int64_t *point_ms)
{
	sqlite3_stmt *st = NULL;
	int err;

	/* whole hours: the hourly sums then hold every pruned window whole */
	if (before_ms <= 0)
		return -EINVAL;
	before_ms -= before_ms % HOUR_MS;
	err = store_sqlite_prepare(s, "INSERT INTO store_pruned VALUES (1, ?1, ?2)"
				   " ON CONFLICT DO UPDATE SET before_ms = MAX(before_ms, ?1),"
				   " pruned_ms = ?2 RETURNING before_ms", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, now_ms);
	if (sqlite3_step(st) != SQLITE_ROW) {
		log_warn("store %s: pruning point: %s", s->path, sqlite3_errmsg(s->db));
		err = -EIO;
		goto cleanup;
	}
	*point_ms = sqlite3_column_int64(st, 0);
	if (sqlite3_step(st) != SQLITE_DONE) {
		log_warn("store %s: pruning point: %s", s->path, sqlite3_errmsg(s->db));
		err = -EIO;
	}
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* One bounded delete or update; how many rows it changed in *n. */
static int prune_batch(struct store *s, const char *sql, int64_t before_ms,
		       unsigned max_rows, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_prepare(s, sql, &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, max_rows);
	if (sqlite3_step(st) != SQLITE_DONE) {
		log_warn("store %s: pruning: %s", s->path, sqlite3_errmsg(s->db));
		err = -EIO;
		goto cleanup;
	}
	*n = (uint64_t)sqlite3_changes(s->db);
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_prune_step(struct store *s, unsigned max_rows, uint64_t *rows,
		     uint64_t *envelopes)
{
	uint64_t nrows = 0, nenv = 0;
	int64_t before;
	int err;

	if (!max_rows)
		return -EINVAL;
	err = store_sqlite_begin(s);
	if (err)
		return err;
	err = store_pruned_before(s, &before);
	if (err || !before)
		goto cleanup;
	err = prune_batch(s, "DELETE FROM usage WHERE rowid IN (SELECT rowid FROM usage"
			  " WHERE window_start_ms < ?1 LIMIT ?2)", before, max_rows, &nrows);
	if (!err)
		err = prune_batch(s, "UPDATE reports SET envelope = NULL WHERE id IN"
				  " (SELECT id FROM reports WHERE window_start_ms < ?1"
				  " AND envelope IS NOT NULL LIMIT ?2)", before, max_rows, &nenv);
	if (err)
		goto cleanup;
	err = store_sqlite_commit(s);
	if (err)
		goto cleanup;
	*rows += nrows;
	*envelopes += nenv;
	return nrows == max_rows || nenv == max_rows;
cleanup:
	store_sqlite_rollback(s);
	return err;
}
