/* Internal to the SQLite backend of the store (store_sqlite*.c): callers
 * outside the backend use store.h / store_billing.h only. */
#ifndef TM_STORE_SQLITE_H
#define TM_STORE_SQLITE_H

#include <sqlite3.h>

#include "store.h"

/* One store per thread: SQLite connections are not shared across threads. */
struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *put_report;       /* cached for ingest */
	sqlite3_stmt *put_usage;
	int64_t clock_ms;               /* store_set_clock(); 0: the wall clock */
};

/* Logs the connection's last error, doing what; returns -EIO. */
int store_sqlite_error(struct store *s, const char *what);
/* Runs SQL without results; logs and returns -EIO on failure. */
int store_sqlite_exec(struct store *s, const char *sql);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_sqlite_begin(struct store *s);
int store_sqlite_commit(struct store *s);
void store_sqlite_rollback(struct store *s);
/* Prepares SQL; logs and returns -EIO on failure. */
int store_sqlite_prepare(struct store *s, const char *sql, sqlite3_stmt **st);

#endif
