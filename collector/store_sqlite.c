/* SQLite backend of the store: WAL, synchronous=FULL, one transaction per
 * report.  Schema versioned through PRAGMA user_version. */
#include "store_sqlite.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "period.h"

#define STORE_SCHEMA_VERSION 8

static const char *const store_schema =
	"CREATE TABLE IF NOT EXISTS reports ("
	"  id INTEGER PRIMARY KEY,"
	"  agent TEXT NOT NULL,"
	"  epoch INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  window_start_ms INTEGER NOT NULL,"
	"  window_end_ms INTEGER NOT NULL,"
	"  digest BLOB NOT NULL,"
	"  prev_digest BLOB NOT NULL,"
	"  hostname TEXT NOT NULL DEFAULT '',"
	"  received_ms INTEGER NOT NULL,"
	"  n_rows INTEGER NOT NULL,"
	"  map_overflow INTEGER NOT NULL DEFAULT 0,"
	"  event_drops INTEGER NOT NULL DEFAULT 0,"
	"  spool_drops INTEGER NOT NULL DEFAULT 0,"
	"  hooks_attached TEXT NOT NULL DEFAULT '',"
	"  hooks_missing TEXT NOT NULL DEFAULT '',"
	"  envelope BLOB,"
	"  UNIQUE (agent, epoch, seq));"
	"CREATE TABLE IF NOT EXISTS usage ("
	"  report_id INTEGER NOT NULL REFERENCES reports(id),"
	"  tenant TEXT NOT NULL,"
	"  metric INTEGER NOT NULL,"
	"  route TEXT NOT NULL DEFAULT '',"
	"  method TEXT NOT NULL DEFAULT '',"
	"  status_class INTEGER NOT NULL DEFAULT 0,"
	"  window_start_ms INTEGER NOT NULL,"
	"  window_end_ms INTEGER NOT NULL,"
	"  value INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS usage_by_tenant"
	"  ON usage (tenant, metric, window_start_ms);"
	"CREATE INDEX IF NOT EXISTS usage_by_time ON usage (window_start_ms);"
	"CREATE TABLE IF NOT EXISTS gaps ("
	"  id INTEGER PRIMARY KEY,"
	"  agent TEXT NOT NULL,"
	"  epoch INTEGER NOT NULL,"
	"  from_seq INTEGER NOT NULL,"
	"  to_seq INTEGER NOT NULL,"
	"  from_ms INTEGER NOT NULL,"
	"  to_ms INTEGER NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  detected_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS gaps_by_time ON gaps (to_ms);";

/* Version 2: usage summed per tenant x metric x hour of window start,
 * kept by a trigger in the transaction that stores the rows, so a period's
 * usage is read from its whole hours plus the windows at its edges instead
 * of from every window (exact for any bounds; the edges are at most two
 * hours of windows). */
#define ROLLUP_MS 3600000
#define STR_(x) #x
#define STR(x) STR_(x)
/* SQL for the start of the bucket holding w (floored, also below 0) */
#define ROLLUP_BUCKET(w) \
	"(" w " - ((" w " % " STR(ROLLUP_MS) ") + " STR(ROLLUP_MS) ") % " STR(ROLLUP_MS) ")"

static const char *const store_schema_v2 =
	"CREATE TABLE IF NOT EXISTS usage_rollup ("
	"  tenant TEXT NOT NULL,"
	"  metric INTEGER NOT NULL,"
	"  bucket_ms INTEGER NOT NULL,"
	"  value INTEGER NOT NULL,"
	"  first_ms INTEGER NOT NULL,"       /* earliest window start */
	"  last_ms INTEGER NOT NULL,"        /* latest window end */
	"  PRIMARY KEY (tenant, metric, bucket_ms)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS rollup_by_time ON usage_rollup"
	"  (bucket_ms, tenant, metric, value, first_ms, last_ms);"  /* covering */
	"DELETE FROM usage_rollup;"
	"INSERT INTO usage_rollup SELECT tenant, metric, "
	ROLLUP_BUCKET("window_start_ms") " AS b, SUM(value),"
	"  MIN(window_start_ms), MAX(window_end_ms) FROM usage GROUP BY tenant, metric, b;"
	"CREATE TRIGGER IF NOT EXISTS usage_rollup_add AFTER INSERT ON usage BEGIN"
	"  INSERT INTO usage_rollup VALUES (NEW.tenant, NEW.metric, "
	ROLLUP_BUCKET("NEW.window_start_ms") ", NEW.value, NEW.window_start_ms,"
	"    NEW.window_end_ms)"
	"  ON CONFLICT DO UPDATE SET value = value + excluded.value,"
	"    first_ms = MIN(first_ms, excluded.first_ms),"
	"    last_ms = MAX(last_ms, excluded.last_ms);"
	"END;";

/* Version 3: each agent's report count and latest report (by window end,
 * then seq), kept by a trigger, so listing the agents reads a row per
 * agent instead of every report stored.  Pruning (version 8) deletes
 * reports, but never an agent's latest, so inserts are all the trigger
 * follows (its count stays that of the reports ever received).  SET's right-hand
 * sides see the row as it was. */
#define LATER_THAN_STORED \
	"(excluded.window_end_ms > window_end_ms OR" \
	" (excluded.window_end_ms = window_end_ms AND excluded.seq > seq))"

static const char *const store_schema_v3 =
	"CREATE TABLE IF NOT EXISTS agent_latest ("
	"  agent TEXT PRIMARY KEY,"
	"  reports INTEGER NOT NULL,"
	"  report_id INTEGER NOT NULL,"      /* the latest report */
	"  window_end_ms INTEGER NOT NULL,"  /* its window end and seq */
	"  seq INTEGER NOT NULL) WITHOUT ROWID;"
	"DELETE FROM agent_latest;"
	"INSERT INTO agent_latest (agent, reports, report_id, window_end_ms, seq)"
	"  SELECT n.agent, n.c, r.id, r.window_end_ms, r.seq FROM"
	"  (SELECT agent, COUNT(*) AS c FROM reports GROUP BY agent) n JOIN reports r"
	"  ON r.id = (SELECT x.id FROM reports x WHERE x.agent = n.agent"
	"  ORDER BY x.window_end_ms DESC, x.seq DESC LIMIT 1);"
	"CREATE TRIGGER IF NOT EXISTS agent_latest_add AFTER INSERT ON reports BEGIN"
	"  INSERT INTO agent_latest VALUES (NEW.agent, 1, NEW.id, NEW.window_end_ms, NEW.seq)"
	"  ON CONFLICT DO UPDATE SET reports = reports + 1,"
	"    report_id = CASE WHEN " LATER_THAN_STORED " THEN excluded.report_id"
	"      ELSE report_id END,"
	"    seq = CASE WHEN " LATER_THAN_STORED " THEN excluded.seq ELSE seq END,"
	"    window_end_ms = MAX(window_end_ms, excluded.window_end_ms);"
	"END;";

/* Version 4: agents taken out of service (`truemeter agents retire`): no
 * longer expected to report, so their silence is no metering gap.  A
 * report from one puts it back in service.  And when the collector last
 * heard from each agent, by its own clock (an agent's clock may be off, and
 * its latest window is not always its latest report). */
static const char *const store_schema_v4 =
	"CREATE TABLE IF NOT EXISTS agent_retired ("
	"  agent TEXT PRIMARY KEY,"
	"  retired_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TRIGGER IF NOT EXISTS agent_retired_back AFTER INSERT ON reports BEGIN"
	"  DELETE FROM agent_retired WHERE agent = NEW.agent;"
	"END;"
	"UPDATE agent_latest SET heard_ms ="
	"  (SELECT MAX(r.received_ms) FROM reports r WHERE r.agent = agent_latest.agent);"
	"DROP TRIGGER IF EXISTS agent_latest_add;"
	"CREATE TRIGGER agent_latest_add AFTER INSERT ON reports BEGIN"
	"  INSERT INTO agent_latest VALUES (NEW.agent, 1, NEW.id, NEW.window_end_ms, NEW.seq,"
	"    NEW.received_ms)"
	"  ON CONFLICT DO UPDATE SET reports = reports + 1,"
	"    report_id = CASE WHEN " LATER_THAN_STORED " THEN excluded.report_id"
	"      ELSE report_id END,"
	"    seq = CASE WHEN " LATER_THAN_STORED " THEN excluded.seq ELSE seq END,"
	"    window_end_ms = MAX(window_end_ms, excluded.window_end_ms),"
	"    heard_ms = MAX(heard_ms, excluded.heard_ms);"
	"END;";

/* Version 5: the events each report says the meter lost in its window
 * (columns map_overflow_window and event_drops_window, added by
 * store_migrate()), indexed only where there were any: a period's losses
 * are read without visiting its loss-free reports. */
static const char *const store_schema_v5 =
	"CREATE INDEX IF NOT EXISTS reports_with_losses ON reports (window_end_ms)"
	"  WHERE map_overflow_window > 0 OR event_drops_window > 0;";

/* Version 6: the enrolled keys, and since when the collector has known
 * each (store_enrolled_sync()): an agent enrolled that never reports is as
 * silent as one that stopped, from when it was enrolled. */
static const char *const store_schema_v6 =
	"CREATE TABLE IF NOT EXISTS agent_enrolled ("
	"  agent TEXT PRIMARY KEY,"
	"  enrolled_ms INTEGER NOT NULL,"
	"  present INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;";

/* Version 7: since when the collector has been up, across restarts after
 * short downtimes, and its last sign of life (store_collector_up()). */
static const char *const store_schema_v7 =
	"CREATE TABLE IF NOT EXISTS collector_up ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  since_ms INTEGER NOT NULL,"
	"  alive_ms INTEGER NOT NULL);";

/* Version 8: retention (store_sqlite_prune.c): up to where old windows
 * were pruned, and the reports by window start, oldest first to go. */
static const char *const store_schema_v8 =
	"CREATE TABLE IF NOT EXISTS store_pruned ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  before_ms INTEGER NOT NULL,"
	"  pruned_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS reports_by_start ON reports (window_start_ms);";

int store_sqlite_error(struct store *s, const char *what)
{
	log_warn("store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -EIO;
}

int store_sqlite_exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warn("store %s: %s", s->path, msg ? msg : "exec failed");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int store_sqlite_begin(struct store *s)
{
	return store_sqlite_exec(s, "BEGIN IMMEDIATE");
}

int store_sqlite_commit(struct store *s)
{
	return store_sqlite_exec(s, "COMMIT");
}

void store_sqlite_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_sqlite_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return store_sqlite_error(s, "prepare");
	return 0;
}

static bool column_exists(struct store *s, const char *table, const char *column)
{
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

/* A counter column (INTEGER NOT NULL DEFAULT 0), unless it is there */
static int add_column(struct store *s, const char *table, const char *column)
{
	char sql[160];

	if (column_exists(s, table, column))
		return 0;
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s INTEGER NOT NULL DEFAULT 0;",
		 table, column);
	return store_sqlite_exec(s, sql);
}

static int store_migrate(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int version = 0, err;

	err = store_sqlite_prepare(s, "PRAGMA user_version", &st);
	if (err)
		goto cleanup;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	/* End the read before writing: upgrading a read transaction while
	 * another connection writes fails at once instead of waiting. */
	sqlite3_finalize(st);
	st = NULL;
	if (version == STORE_SCHEMA_VERSION)
		goto cleanup;      /* the usual case: no write, no lock */
	if (version > STORE_SCHEMA_VERSION) {
		log_warn("store %s: schema version %d is newer than this program's %d",
			 s->path, version, STORE_SCHEMA_VERSION);
		err = -EPROTO;
		goto cleanup;
	}
	err = store_sqlite_begin(s);
	if (err)
		goto cleanup;
	if (version < 1)
		err = store_sqlite_exec(s, store_schema);
	else
		log_info("store %s: schema %d to %d (once)", s->path, version,
			 STORE_SCHEMA_VERSION);
	if (!err && version < 2)
		err = store_sqlite_exec(s, store_schema_v2);
	if (!err && version < 3)
		err = store_sqlite_exec(s, store_schema_v3);
	if (!err && version < 4)
		err = add_column(s, "agent_latest", "heard_ms");
	if (!err && version < 4)
		err = store_sqlite_exec(s, store_schema_v4);
	if (!err && version < 5)
		err = add_column(s, "reports", "map_overflow_window");
	if (!err && version < 5)
		err = add_column(s, "reports", "event_drops_window");
	if (!err && version < 5)
		err = store_sqlite_exec(s, store_schema_v5);
	if (!err && version < 6)
		err = store_sqlite_exec(s, store_schema_v6);
	if (!err && version < 7)
		err = store_sqlite_exec(s, store_schema_v7);
	if (!err && version < 8)
		err = store_sqlite_exec(s, store_schema_v8);
	if (!err)
		err = store_sqlite_exec(s, "PRAGMA user_version = " STR(STORE_SCHEMA_VERSION));
	if (!err)
		err = store_sqlite_commit(s);
	if (err)
		store_sqlite_rollback(s);
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_open(const char *path, struct store **out)
{
	struct store *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	if (!s->path) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		err = s->db ? store_sqlite_error(s, "open") : -ENOMEM;
		goto cleanup;
	}
	sqlite3_busy_timeout(s->db, 10000);
	err = store_sqlite_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				"PRAGMA foreign_keys=ON;");
	if (err)
		goto cleanup;
	err = store_migrate(s);
	if (err)
		goto cleanup;
	err = store_sqlite_prepare(s,
		"INSERT INTO reports (agent, epoch, seq, window_start_ms, window_end_ms,"
		" digest, prev_digest, hostname, received_ms, n_rows, map_overflow,"
		" event_drops, spool_drops, hooks_attached, hooks_missing, envelope,"
		" map_overflow_window, event_drops_window)"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s->put_report);
	if (err)
		goto cleanup;
	err = store_sqlite_prepare(s,
		"INSERT INTO usage (report_id, tenant, metric, route, method,"
		" status_class, window_start_ms, window_end_ms, value)"
		" VALUES (?,?,?,?,?,?,?,?,?)", &s->put_usage);
	if (err)
		goto cleanup;
	*out = s;
	s = NULL;
cleanup:
	store_close(s);
	return err;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->put_report);
	sqlite3_finalize(s->put_usage);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static void agent_hex(const uint8_t agent[REPORT_PK_LEN], char out[REPORT_PK_HEX_LEN + 1])
{
	report_hex(agent, REPORT_PK_LEN, out);
}

int store_chain_get(struct store *s, const uint8_t agent[REPORT_PK_LEN],
		    uint64_t epoch, struct store_chain *chain)
{
	char hex[REPORT_PK_HEX_LEN + 1];
	sqlite3_stmt *st = NULL;
	int err, rc;

	memset(chain, 0, sizeof(*chain));
	agent_hex(agent, hex);
	err = store_sqlite_prepare(s, "SELECT seq, digest FROM reports WHERE agent = ?"
				   " AND epoch = ? ORDER BY seq DESC LIMIT 1", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)epoch);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		chain->found = true;
		chain->last_seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == REPORT_DIGEST_LEN)
			memcpy(chain->last_digest, sqlite3_column_blob(st, 1),
			       REPORT_DIGEST_LEN);
	} else if (rc != SQLITE_DONE) {
		err = store_sqlite_error(s, "chain lookup");
	}
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_report_digest(struct store *s, const uint8_t agent[REPORT_PK_LEN],
			uint64_t epoch, uint64_t seq,
			uint8_t digest[REPORT_DIGEST_LEN])
{
	char hex[REPORT_PK_HEX_LEN + 1];
	sqlite3_stmt *st = NULL;
	int err, rc;

	agent_hex(agent, hex);
	err = store_sqlite_prepare(s, "SELECT digest FROM reports WHERE agent = ?"
				   " AND epoch = ? AND seq = ?", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)epoch);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(digest, 0, REPORT_DIGEST_LEN);
		if (sqlite3_column_bytes(st, 0) == REPORT_DIGEST_LEN)
			memcpy(digest, sqlite3_column_blob(st, 0), REPORT_DIGEST_LEN);
		err = 1;
	} else if (rc != SQLITE_DONE) {
		err = store_sqlite_error(s, "report lookup");
	}
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* Joined hook names for the reports table ("a,b,c"). */
static char *join_strings(char **v, size_t n)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	out = calloc(1, len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, v[i]);
	}
	return out;
}

struct signed_env {
	const uint8_t *data;
	size_t len;
};

/* A declared count as SQLite's signed integer: anything above INT64_MAX
 * (no meter loses that many; a broken agent might say so) stays huge
 * instead of turning negative. */
static sqlite3_int64 clamp_count(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static int insert_report(struct store *s, const Truemeter__Report *r,
			 const uint8_t digest[REPORT_DIGEST_LEN], const char *hex,
			 const struct signed_env *env, sqlite3_int64 *id)
{
	const Truemeter__Health *h = r->health;
	char *attached = NULL, *missing = NULL;
	sqlite3_stmt *st = s->put_report;
	int err = 0, rc;

	attached = join_strings(h ? h->hooks_attached : NULL, h ? h->n_hooks_attached : 0);
	missing = join_strings(h ? h->hooks_missing : NULL, h ? h->n_hooks_missing : 0);
	if (!attached || !missing) {
		err = -ENOMEM;
		goto cleanup;
	}
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->epoch);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->seq);
	sqlite3_bind_int64(st, 4, r->window_start_ms);
	sqlite3_bind_int64(st, 5, r->window_end_ms);
	sqlite3_bind_blob(st, 6, digest, REPORT_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, r->prev_digest.data ? (const void *)r->prev_digest.data : "",
			  (int)r->prev_digest.len, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->hostname ? r->hostname : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, s->clock_ms ? s->clock_ms : period_now_ms());
	sqlite3_bind_int64(st, 10, (sqlite3_int64)r->n_rows);
	sqlite3_bind_int64(st, 11, h ? (sqlite3_int64)h->map_overflow : 0);
	sqlite3_bind_int64(st, 12, h ? (sqlite3_int64)h->event_drops : 0);
	sqlite3_bind_int64(st, 13, h ? (sqlite3_int64)h->spool_drops : 0);
	sqlite3_bind_text(st, 14, attached, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 15, missing, -1, SQLITE_STATIC);
	if (env->data)
		sqlite3_bind_blob(st, 16, env->data, (int)env->len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 16);
	sqlite3_bind_int64(st, 17, h ? clamp_count(h->map_overflow_window) : 0);
	sqlite3_bind_int64(st, 18, h ? clamp_count(h->event_drops_window) : 0);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		err = store_sqlite_error(s, "insert report");
		goto cleanup;
	}
	*id = sqlite3_last_insert_rowid(s->db);
cleanup:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	free(attached);
	free(missing);
	return err;
}

static int insert_rows(struct store *s, const Truemeter__Report *r, sqlite3_int64 id)
{
	sqlite3_stmt *st = s->put_usage;

	for (size_t i = 0; i < r->n_rows; i++) {
		const Truemeter__UsageRow *u = r->rows[i];
		const char *tenant = report_string(r, u->tenant);
		const char *route = report_string(r, u->route);
		const char *method = report_string(r, u->method);

		if (!tenant || !*tenant || !route || !method ||
		    u->value > (uint64_t)INT64_MAX) {
			log_warn("store: report seq %llu row %zu has bad string "
				 "indexes or value", (unsigned long long)r->seq, i);
			return -EINVAL;
		}
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, (int)u->metric);
		sqlite3_bind_text(st, 4, route, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, method, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, (int)u->status_class);
		sqlite3_bind_int64(st, 7, r->window_start_ms);
		sqlite3_bind_int64(st, 8, r->window_end_ms);
		sqlite3_bind_int64(st, 9, (sqlite3_int64)u->value);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_reset(st);
			return store_sqlite_error(s, "insert usage");
		}
	}
	sqlite3_reset(st);
	return 0;
}

static int insert_gap(struct store *s, const Truemeter__Report *r, const char *hex,
		      uint64_t from, uint64_t to, const char *reason)
{
	sqlite3_stmt *st = NULL;
	int64_t from_ms = r->window_start_ms;
	int err;

	/* The gap starts where the last report before it ended, if stored. */
	err = store_sqlite_prepare(s, "SELECT window_end_ms FROM reports WHERE agent = ?"
				   " AND epoch = ? AND seq < ? ORDER BY seq DESC LIMIT 1", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->epoch);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)from);
	if (sqlite3_step(st) == SQLITE_ROW)
		from_ms = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	err = store_sqlite_prepare(s, "INSERT INTO gaps (agent, epoch, from_seq, to_seq,"
				   " from_ms, to_ms, reason, detected_ms)"
				   " VALUES (?,?,?,?,?,?,?,?)", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->epoch);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)to);
	sqlite3_bind_int64(st, 5, from_ms);
	sqlite3_bind_int64(st, 6, r->window_start_ms);
	sqlite3_bind_text(st, 7, reason ? reason : "reports missing", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, s->clock_ms ? s->clock_ms : period_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_sqlite_error(s, "insert gap");
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_report_put(struct store *s, const Truemeter__Report *r,
		     const uint8_t digest[REPORT_DIGEST_LEN],
		     uint64_t gap_from, uint64_t gap_to, const char *gap_reason)
{
	return store_report_put_signed(s, r, digest, NULL, 0, gap_from, gap_to,
				       gap_reason);
}

int store_report_put_signed(struct store *s, const Truemeter__Report *r,
			    const uint8_t digest[REPORT_DIGEST_LEN],
			    const uint8_t *env_data, size_t env_len,
			    uint64_t gap_from, uint64_t gap_to, const char *gap_reason)
{
	struct signed_env env = { env_data, env_len };
	uint8_t old[REPORT_DIGEST_LEN];
	char hex[REPORT_PK_HEX_LEN + 1];
	sqlite3_int64 id = 0;
	int err;

	if (r->agent_id.len != REPORT_PK_LEN)
		return -EINVAL;
	agent_hex(r->agent_id.data, hex);
	err = store_sqlite_begin(s);
	if (err)
		return err;
	err = store_report_digest(s, r->agent_id.data, r->epoch, r->seq, old);
	if (err < 0)
		goto cleanup;
	if (err == 1) {
		err = STORE_PUT_DUPLICATE;
		goto cleanup;
	}
	err = insert_report(s, r, digest, hex, &env, &id);
	if (err)
		goto cleanup;
	err = insert_rows(s, r, id);
	if (err)
		goto cleanup;
	if (gap_from <= gap_to) {
		err = insert_gap(s, r, hex, gap_from, gap_to, gap_reason);
		if (err)
			goto cleanup;
	}
	err = store_sqlite_commit(s);
	if (err)
		goto cleanup;
	return STORE_PUT_NEW;
cleanup:
	store_sqlite_rollback(s);
	return err;
}

/* [*lo, *hi): the whole rollup buckets inside [from, to), or an empty
 * range at to when there are none (windows before 0 stay out of buckets). */
static void bucket_bounds(int64_t from, int64_t to, int64_t *lo, int64_t *hi)
{
	int64_t l, h;

	*lo = *hi = to;
	if (from > INT64_MAX - ROLLUP_MS || to < ROLLUP_MS)
		return;
	l = from <= 0 ? 0 : from + (ROLLUP_MS - from % ROLLUP_MS) % ROLLUP_MS;
	h = to - to % ROLLUP_MS;
	if (l < h) {
		*lo = l;
		*hi = h;
	}
}

/* Binds the window range (?1, ?2), the optional tenant/metric filters (?3,
 * ?4) and the whole buckets inside the range (?5, ?6) of USAGE_SRC. */
static void bind_filters(sqlite3_stmt *st, const char *tenant, int metric,
			 int64_t from_ms, int64_t to_ms)
{
	int64_t lo, hi;

	bucket_bounds(from_ms, to_ms, &lo, &hi);
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	if (tenant)
		sqlite3_bind_text(st, 3, tenant, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int(st, 4, metric);
	sqlite3_bind_int64(st, 5, lo);
	sqlite3_bind_int64(st, 6, hi);
}

/* The windows USAGE_SRC reads from usage itself, outside the whole hours,
 * are there: none of them starts before the pruning point. */
static int edges_kept(struct store *s, int64_t from_ms, int64_t to_ms)
{
	char a[32], b[32], p[32];
	int64_t lo, hi, before;
	int err;

	err = store_pruned_before(s, &before);
	if (err || !before)
		return err;
	bucket_bounds(from_ms, to_ms, &lo, &hi);
	if (!((from_ms < lo && from_ms < before) || (hi < to_ms && hi < before)))
		return 0;
	period_format_time(from_ms, a, sizeof(a));
	period_format_time(to_ms, b, sizeof(b));
	period_format_time(before, p, sizeof(p));
	log_warn("store %s: usage before %s is kept only as hourly sums (retention): "
		 "the range %s to %s must start and end on whole hours before then",
		 s->path, p, a, b);
	return -ERANGE;
}

#define USAGE_WHO " AND (?3 IS NULL OR tenant = ?3) AND (?4 = 0 OR metric = ?4)"

/* The usage of windows starting in [?1, ?2) as rows (tenant, metric, value,
 * first_ms, last_ms, at): whole buckets [?5, ?6) from the rollup, the
 * windows before and after them from usage itself. */
#define USAGE_SRC \
	" (SELECT tenant, metric, value, first_ms, last_ms, bucket_ms AS at" \
	"  FROM usage_rollup WHERE bucket_ms >= ?5 AND bucket_ms < ?6" USAGE_WHO \
	"  UNION ALL SELECT tenant, metric, value, window_start_ms, window_end_ms," \
	"  window_start_ms FROM usage WHERE ((window_start_ms >= ?1 AND" \
	"  window_start_ms < ?5) OR (window_start_ms >= ?6 AND window_start_ms < ?2))" \
	USAGE_WHO ")"

/* The rows of a usage query, columns tenant, metric, then route, method
 * and status class when detail is set, then the sum, the first window
 * start and the last window end, to cb. */
static int usage_rows(struct store *s, const char *sql, bool detail, const char *tenant,
		      int metric, int64_t from_ms, int64_t to_ms, store_usage_cb cb,
		      void *arg)
{
	sqlite3_stmt *st = NULL;
	int err, rc, c;

	err = store_sqlite_prepare(s, sql, &st);
	if (err)
		goto cleanup;
	bind_filters(st, tenant, metric, from_ms, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_usage u = {
			.tenant = (const char *)sqlite3_column_text(st, 0),
			.metric = sqlite3_column_int(st, 1),
			.route = "", .method = "",
		};

		c = 2;
		if (detail) {
			u.route = (const char *)sqlite3_column_text(st, c++);
			u.method = (const char *)sqlite3_column_text(st, c++);
			u.status_class = sqlite3_column_int(st, c++);
		}
		u.value = (uint64_t)sqlite3_column_int64(st, c++);
		u.first_ms = sqlite3_column_int64(st, c++);
		u.last_ms = sqlite3_column_int64(st, c);
		err = cb(&u, arg);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = store_sqlite_error(s, "usage query");
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_usage_sum(struct store *s, const char *tenant, int metric,
		    int64_t from_ms, int64_t to_ms, store_usage_cb cb, void *arg)
{
	int err = edges_kept(s, from_ms, to_ms);

	return err ? err : usage_rows(s, "SELECT tenant, metric, SUM(value),"
				      " MIN(first_ms), MAX(last_ms) FROM" USAGE_SRC
				      " GROUP BY tenant, metric ORDER BY tenant, metric", false,
				      tenant, metric, from_ms, to_ms, cb, arg);
}

/* The windows of [from_ms, to_ms) are all there (edges_kept() for the
 * whole range); what names what the pruned windows took with them. */
static int windows_kept(struct store *s, int64_t from_ms, int64_t to_ms, const char *what)
{
	char a[32], p[32];
	int64_t before;
	int err;

	err = store_pruned_before(s, &before);
	if (err || !before || from_ms >= before || from_ms >= to_ms)
		return err;
	period_format_time(from_ms, a, sizeof(a));
	period_format_time(before, p, sizeof(p));
	log_warn("store %s: the windows before %s were pruned (retention), with %s: "
		 "a range from %s needs them", s->path, p, what, a);
	return -ERANGE;
}

/* (bind_filters() also binds ?5 and ?6, which this query has not: SQLite
 * ignores them.) */
int store_usage_detail(struct store *s, const char *tenant, int metric,
		       int64_t from_ms, int64_t to_ms, store_usage_cb cb, void *arg)
{
	int err = windows_kept(s, from_ms, to_ms, "their route, method and status detail");

	return err ? err : usage_rows(s, "SELECT tenant, metric, route, method, status_class,"
				      " SUM(value), MIN(window_start_ms), MAX(window_end_ms)"
				      " FROM usage WHERE window_start_ms >= ?1 AND"
				      " window_start_ms < ?2" USAGE_WHO
				      " GROUP BY tenant, metric, route, method, status_class"
				      " ORDER BY tenant, metric, route, method, status_class",
				      true, tenant, metric, from_ms, to_ms, cb, arg);
}

int store_usage_hourly(struct store *s, const char *tenant, int metric,
		       int64_t from_ms, int64_t to_ms, store_hourly_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = edges_kept(s, from_ms, to_ms);
	if (err)
		goto cleanup;
	err = store_sqlite_prepare(s, "SELECT (at / 3600000) * 3600000 AS h,"
				   " SUM(value) FROM" USAGE_SRC " GROUP BY h ORDER BY h", &st);
	if (err)
		goto cleanup;
	bind_filters(st, tenant, metric, from_ms, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = cb(sqlite3_column_int64(st, 0),
			 (uint64_t)sqlite3_column_int64(st, 1), arg);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = store_sqlite_error(s, "hourly query");
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_gaps(struct store *s, int64_t from_ms, int64_t to_ms,
	       store_gap_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = store_sqlite_prepare(s, "SELECT agent, epoch, from_seq, to_seq, from_ms,"
				   " to_ms, reason FROM gaps WHERE to_ms > ? AND from_ms < ?"
				   " ORDER BY from_ms", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_gap g = {
			.agent_hex = (const char *)sqlite3_column_text(st, 0),
			.epoch = (uint64_t)sqlite3_column_int64(st, 1),
			.from_seq = (uint64_t)sqlite3_column_int64(st, 2),
			.to_seq = (uint64_t)sqlite3_column_int64(st, 3),
			.from_ms = sqlite3_column_int64(st, 4),
			.to_ms = sqlite3_column_int64(st, 5),
			.reason = (const char *)sqlite3_column_text(st, 6),
		};

		err = cb(&g, arg);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = store_sqlite_error(s, "gap query");
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* TOTAL()'s double back to a count: exact below 2^53, saturated above
 * 2^63 */
static uint64_t total_count(double v)
{
	return v >= 9223372036854775807.0 ? INT64_MAX : (uint64_t)v;
}

int store_losses(struct store *s, int64_t from_ms, int64_t to_ms,
		 store_loss_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	/* Left to itself the planner walks every report in agent order to
	 * save the GROUP BY's sort; the WHERE repeats the index's condition,
	 * which lets it be named.  TOTAL, not SUM: a sum past INT64_MAX (only
	 * a broken agent declares such counts) must not fail the query, and
	 * with it every reconciliation of the period. */
	err = store_sqlite_prepare(s, "SELECT agent, MAX(hostname), MIN(window_start_ms),"
				   " MAX(window_end_ms), TOTAL(map_overflow_window),"
				   " TOTAL(event_drops_window) FROM reports"
				   " INDEXED BY reports_with_losses WHERE (map_overflow_window > 0 OR event_drops_window > 0)"
				   " AND window_end_ms > ? AND window_start_ms < ?"
				   " GROUP BY agent ORDER BY agent", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_loss l = {
			.agent_hex = (const char *)sqlite3_column_text(st, 0),
			.hostname = (const char *)sqlite3_column_text(st, 1),
			.from_ms = sqlite3_column_int64(st, 2),
			.to_ms = sqlite3_column_int64(st, 3),
			.map_overflow = total_count(sqlite3_column_double(st, 4)),
			.event_drops = total_count(sqlite3_column_double(st, 5)),
		};

		err = cb(&l, arg);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = store_sqlite_error(s, "loss query");
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_agents(struct store *s, store_agent_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = store_sqlite_prepare(s, "SELECT r.agent, r.hostname, a.reports, r.window_end_ms,"
				   " r.received_ms, r.map_overflow, r.event_drops, r.spool_drops,"
				   " r.hooks_missing, COALESCE(x.retired_ms, 0), a.heard_ms,"
				   " COALESCE(e.enrolled_ms, 0)"
				   " FROM agent_latest a JOIN reports r ON r.id = a.report_id"
				   " LEFT JOIN agent_retired x ON x.agent = a.agent"
				   " LEFT JOIN agent_enrolled e ON e.agent = a.agent"
				   " UNION ALL"
				   /* enrolled, never reported: nothing metered since */
				   " SELECT e.agent, '', 0, e.enrolled_ms, 0, 0, 0, 0, '',"
				   " COALESCE(x.retired_ms, 0), e.enrolled_ms, e.enrolled_ms"
				   " FROM agent_enrolled e LEFT JOIN agent_retired x ON x.agent = e.agent"
				   " WHERE NOT EXISTS (SELECT 1 FROM agent_latest a WHERE a.agent = e.agent)"
				   " ORDER BY 1", &st);
	if (err)
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_agent a = {
			.agent_hex = (const char *)sqlite3_column_text(st, 0),
			.hostname = (const char *)sqlite3_column_text(st, 1),
			.reports = (uint64_t)sqlite3_column_int64(st, 2),
			.window_end_ms = sqlite3_column_int64(st, 3),
			.received_ms = sqlite3_column_int64(st, 4),
			.map_overflow = (uint64_t)sqlite3_column_int64(st, 5),
			.event_drops = (uint64_t)sqlite3_column_int64(st, 6),
			.spool_drops = (uint64_t)sqlite3_column_int64(st, 7),
			.hooks_missing = (const char *)sqlite3_column_text(st, 8),
			.retired_ms = sqlite3_column_int64(st, 9),
			.heard_ms = sqlite3_column_int64(st, 10),
			.enrolled_ms = sqlite3_column_int64(st, 11),
		};

		err = cb(&a, arg);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = store_sqlite_error(s, "agent query");
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* The agents whose key starts with prefix: how many (up to 2), the first
 * one's key in hex. */
static int agents_matching(struct store *s, const char *prefix,
			   char hex[REPORT_PK_HEX_LEN + 1], int *n)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	*n = 0;
	err = store_sqlite_prepare(s, "SELECT agent FROM agent_latest"
				   " WHERE substr(agent, 1, length(?1)) = ?1 UNION"
				   " SELECT agent FROM agent_enrolled"
				   " WHERE substr(agent, 1, length(?1)) = ?1 ORDER BY 1 LIMIT 2",
				   &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(*n)++)
			snprintf(hex, REPORT_PK_HEX_LEN + 1, "%s",
				 (const char *)sqlite3_column_text(st, 0));
	}
	if (rc != SQLITE_DONE)
		err = store_sqlite_error(s, "agent query");
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_agent_retire(struct store *s, const char *prefix, int64_t now_ms,
		       char hex[REPORT_PK_HEX_LEN + 1], int64_t *retired_ms)
{
	sqlite3_stmt *st = NULL;
	int err, n;

	err = store_sqlite_begin(s);
	if (err)
		return err;
	err = agents_matching(s, prefix, hex, &n);
	if (!err && n != 1)
		err = n ? -ENOTUNIQ : -ENOENT;
	if (err)
		goto cleanup;
	/* retired already: it stays retired since then */
	err = store_sqlite_prepare(s, "INSERT INTO agent_retired VALUES (?1, ?2)"
				   " ON CONFLICT DO UPDATE SET retired_ms = retired_ms"
				   " RETURNING retired_ms", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ms);
	if (sqlite3_step(st) != SQLITE_ROW) {
		err = store_sqlite_error(s, "retire agent");
		goto cleanup;
	}
	*retired_ms = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	err = store_sqlite_commit(s);
cleanup:
	sqlite3_finalize(st);
	if (err)
		store_sqlite_rollback(s);
	return err;
}

/* One key of the set: known since now_ms if new, present either way. */
static int enrolled_put(struct store *s, sqlite3_stmt *st, const char *hex, int64_t now_ms)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ms);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : store_sqlite_error(s, "enrolled key");
}

int store_enrolled_sync(struct store *s, const char (*hex)[REPORT_PK_HEX_LEN + 1],
			size_t n, int64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_begin(s);
	if (err)
		return err;
	err = store_sqlite_exec(s, "UPDATE agent_enrolled SET present = 0");
	if (!err)
		err = store_sqlite_prepare(s, "INSERT INTO agent_enrolled (agent, enrolled_ms)"
					   " VALUES (?1, ?2) ON CONFLICT DO UPDATE SET present = 1",
					   &st);
	for (size_t i = 0; i < n && !err; i++)
		err = enrolled_put(s, st, hex[i], now_ms);
	if (!err)
		err = store_sqlite_exec(s, "DELETE FROM agent_enrolled WHERE present = 0");
	if (!err)
		err = store_sqlite_commit(s);
	sqlite3_finalize(st);
	if (err)
		store_sqlite_rollback(s);
	return err;
}

int store_collector_up(struct store *s, int64_t now_ms, int64_t max_down_ms,
		       int64_t *since_ms)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_begin(s);
	if (err)
		return err;
	*since_ms = now_ms;
	err = store_sqlite_prepare(s, "SELECT since_ms, alive_ms FROM collector_up", &st);
	if (!err && sqlite3_step(st) == SQLITE_ROW) {
		int64_t since = sqlite3_column_int64(st, 0), alive = sqlite3_column_int64(st, 1);

		/* a short downtime continues the count; a clock gone back ends it */
		if (alive <= now_ms && now_ms - alive < max_down_ms && since <= alive)
			*since_ms = since;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!err)
		err = store_sqlite_prepare(s, "INSERT INTO collector_up VALUES (1, ?1, ?2)"
					   " ON CONFLICT DO UPDATE SET since_ms = ?1, alive_ms = ?2",
					   &st);
	if (!err) {
		sqlite3_bind_int64(st, 1, *since_ms);
		sqlite3_bind_int64(st, 2, now_ms);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = store_sqlite_error(s, "collector start");
	}
	sqlite3_finalize(st);
	if (!err)
		err = store_sqlite_commit(s);
	if (err)
		store_sqlite_rollback(s);
	return err;
}

int store_collector_alive(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_prepare(s, "UPDATE collector_up SET alive_ms = MAX(alive_ms, ?1)",
				   &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, now_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_sqlite_error(s, "collector alive");
	sqlite3_finalize(st);
	return err;
}

int store_envelopes(struct store *s, int64_t from_ms, int64_t to_ms,
		    store_envelope_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = windows_kept(s, from_ms, to_ms, "their signed reports");
	if (err)
		goto cleanup;
	/* the unary + keeps the planner off the window index: the envelopes
	 * stream in the unique index's order instead of being sorted */
	err = store_sqlite_prepare(s, "SELECT envelope FROM reports"
				   " WHERE +window_start_ms >= ? AND +window_start_ms < ?"
				   " AND envelope IS NOT NULL ORDER BY agent, epoch, seq", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = cb(sqlite3_column_blob(st, 0),
			 (size_t)sqlite3_column_bytes(st, 0), arg);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = store_sqlite_error(s, "envelope query");
cleanup:
	sqlite3_finalize(st);
	return err;
}

static int count_rows(struct store *s, const char *sql, uint64_t *out)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_prepare(s, sql, &st);
	if (err)
		goto cleanup;
	if (sqlite3_step(st) != SQLITE_ROW) {
		err = store_sqlite_error(s, "count");
		goto cleanup;
	}
	*out = (uint64_t)sqlite3_column_int64(st, 0);
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_stats_get(struct store *s, struct store_stats *stats)
{
	int err;

	/* Rows are deleted only when old ones are pruned, and a rowid table
	 * without AUTOINCREMENT numbers rows max + 1, so the largest rowid is
	 * the count of rows ever stored (unless every row was pruned).  One
	 * b-tree descent instead of a full scan per scrape (COUNT(*) over 5M
	 * usage rows: 1.5 s from a cold cache). */
	memset(stats, 0, sizeof(*stats));
	err = count_rows(s, "SELECT COALESCE(MAX(rowid), 0) FROM reports", &stats->reports);
	if (!err)
		err = count_rows(s, "SELECT COALESCE(MAX(rowid), 0) FROM usage", &stats->rows);
	if (!err)
		err = count_rows(s, "SELECT COALESCE(MAX(rowid), 0) FROM gaps", &stats->gaps);
	return err;
}

void store_set_clock(struct store *s, int64_t ms)
{
	if (s)
		s->clock_ms = ms;
}
