/* Retention for the SQLite store: the usage rows and the reports of
 * old windows are deleted, in batches short enough for ingest to go on
 * between them.  See store.h for what stays. */
#include "store_sqlite.h"

#include <errno.h>
#include <stdint.h>

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
		err = store_sqlite_error(s, "pruning point");
	}
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_oldest_window(struct store *s, int64_t *start_ms)
{
	sqlite3_stmt *st = NULL;
	int err;

	*start_ms = INT64_MAX;
	err = store_sqlite_prepare(s, "SELECT MIN(window_start_ms) FROM reports", &st);
	if (err)
		goto cleanup;
	if (sqlite3_step(st) != SQLITE_ROW)
		err = store_sqlite_error(s, "oldest window");
	else if (sqlite3_column_type(st, 0) != SQLITE_NULL)
		*start_ms = sqlite3_column_int64(st, 0);
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
		err = store_sqlite_error(s, "pruning point");
		goto cleanup;
	}
	*point_ms = sqlite3_column_int64(st, 0);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_sqlite_error(s, "pruning point");
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* One bounded statement (?1 the bound, ?2 the batch); how many rows it
 * changed in *n. */
static int prune_batch(struct store *s, const char *sql, int64_t bound,
		       unsigned max_rows, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_prepare(s, sql, &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, bound);
	sqlite3_bind_int64(st, 2, max_rows);
	if (sqlite3_step(st) != SQLITE_DONE) {
		err = store_sqlite_error(s, "pruning");
		goto cleanup;
	}
	*n = (uint64_t)sqlite3_changes(s->db);
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* The oldest window that still has usage rows before the point, else the
 * point: the reports before it have none. */
static int rows_left_from(struct store *s, int64_t before, int64_t *from)
{
	sqlite3_stmt *st = NULL;
	int err;

	*from = before;
	err = store_sqlite_prepare(s, "SELECT MIN(window_start_ms) FROM usage"
				   " WHERE window_start_ms < ?1", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) != SQLITE_ROW) {
		err = store_sqlite_error(s, "pruning");
		goto cleanup;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_NULL)
		*from = sqlite3_column_int64(st, 0);
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* The oldest usage rows first, then the reports left without rows.  A
 * chain's latest report stays (the next one is checked against its digest,
 * and a resent older one is then refused as behind the chain), and so does
 * each agent's latest (truemeter agents), without its signed envelope. */
#define DELETE_ROWS \
	"DELETE FROM usage WHERE rowid IN (SELECT rowid FROM usage" \
	" WHERE window_start_ms < ?1 ORDER BY window_start_ms LIMIT ?2)"
#define DELETE_REPORTS \
	"DELETE FROM reports WHERE id IN (SELECT r.id FROM reports r" \
	" WHERE r.window_start_ms < ?1 AND r.seq < (SELECT MAX(x.seq) FROM reports x" \
	"  WHERE x.agent = r.agent AND x.epoch = r.epoch)" \
	" AND r.id NOT IN (SELECT report_id FROM agent_latest)" \
	" ORDER BY r.window_start_ms LIMIT ?2)"
#define STRIP_KEPT \
	"UPDATE reports SET envelope = NULL WHERE window_start_ms < ?1" \
	" AND envelope IS NOT NULL"

static int prune_txn(struct store *s, unsigned max_rows, uint64_t *rows,
		     uint64_t *reports)
{
	int64_t before, bare_before;
	uint64_t stripped;
	int err;

	err = store_pruned_before(s, &before);
	if (err || !before)
		return err;
	err = prune_batch(s, DELETE_ROWS, before, max_rows, rows);
	if (!err)
		err = rows_left_from(s, before, &bare_before);
	if (!err)
		err = prune_batch(s, DELETE_REPORTS, bare_before, max_rows, reports);
	if (!err && *reports < max_rows)
		err = prune_batch(s, STRIP_KEPT, bare_before, UINT32_MAX, &stripped);
	return err;
}

int store_prune_step(struct store *s, unsigned max_rows, uint64_t *rows,
		     uint64_t *reports)
{
	uint64_t nrows = 0, nreports = 0;
	int err;

	if (!max_rows)
		return -EINVAL;
	/* Usage rows refer to their report, with no index on the reference
	 * (it would cost every row stored): with the check on, each report
	 * deleted would scan every row.  The rows of a report go first, in
	 * the same transaction, so none is left without its report. */
	err = store_sqlite_exec(s, "PRAGMA foreign_keys = OFF");
	if (err)
		return err;
	err = store_sqlite_begin(s);
	if (!err)
		err = prune_txn(s, max_rows, &nrows, &nreports);
	if (!err)
		err = store_sqlite_commit(s);
	if (err)
		store_sqlite_rollback(s);
	if (store_sqlite_exec(s, "PRAGMA foreign_keys = ON") && !err)
		err = -EIO;
	if (err)
		return err;
	*rows += nrows;
	*reports += nreports;
	return nrows == max_rows || nreports == max_rows;
}
