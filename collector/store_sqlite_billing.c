/* SQLite backend of store_billing.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_billing.h"
#include "store_sqlite.h"

static const char billing_schema[] =
	"CREATE TABLE IF NOT EXISTS bill ("
	" source TEXT NOT NULL, invoice_id TEXT NOT NULL, line_id TEXT NOT NULL,"
	" tenant TEXT NOT NULL, metric INTEGER NOT NULL,"
	" period_start_ms INTEGER NOT NULL, period_end_ms INTEGER NOT NULL,"
	" quantity INTEGER NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,"
	" status TEXT NOT NULL, PRIMARY KEY (source, invoice_id, line_id));"
	"CREATE INDEX IF NOT EXISTS bill_period ON bill (period_start_ms, period_end_ms);"
	"CREATE TABLE IF NOT EXISTS subscription ("
	" source TEXT NOT NULL, sub_id TEXT NOT NULL, tenant TEXT NOT NULL,"
	" status TEXT NOT NULL, period_start_ms INTEGER NOT NULL,"
	" period_end_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL, PRIMARY KEY (source, sub_id));"
	"CREATE TABLE IF NOT EXISTS payment_state ("
	" tenant TEXT PRIMARY KEY, source TEXT NOT NULL, ref TEXT NOT NULL,"
	" unpaid_since_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS mapping ("
	" kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (kind, key));"
	"CREATE TABLE IF NOT EXISTS webhook_event ("
	" source TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (source, event_id));"
	"CREATE TABLE IF NOT EXISTS pricing_catalog ("
	" id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS alert ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind TEXT NOT NULL, tenant TEXT NOT NULL, metric TEXT NOT NULL, period TEXT NOT NULL,"
	" period_start_ms INTEGER NOT NULL, period_end_ms INTEGER NOT NULL,"
	" metered INTEGER NOT NULL, billed INTEGER NOT NULL,"
	" expected_amount INTEGER NOT NULL, billed_amount INTEGER NOT NULL,"
	" leak INTEGER NOT NULL, currency TEXT NOT NULL, severity TEXT NOT NULL,"
	" evidence TEXT NOT NULL, status TEXT NOT NULL,"
	" first_seen_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
	" UNIQUE (kind, tenant, metric, period));";

int store_billing_init(struct store *s)
{
	/* Readers and writers share the file from several threads/processes. */
	int err;

	sqlite3_busy_timeout(s->db, 10000);
	/* IMMEDIATE: wait for a running writer instead of failing on the
	 * upgrade from read to write. */
	err = store_sqlite_begin(s);
	if (err)
		return err;
	err = store_sqlite_exec(s, billing_schema);
	if (!err)
		err = store_sqlite_commit(s);
	if (err)
		store_sqlite_rollback(s);
	return err;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_sqlite_error(s, "write");
	return 0;
}

static int put_bill(struct store *s, sqlite3_stmt *st, const struct store_bill *b)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, nz(b->source), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, nz(b->invoice_id), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, nz(b->line_id), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, nz(b->tenant), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, b->metric);
	sqlite3_bind_int64(st, 6, b->period_start_ms);
	sqlite3_bind_int64(st, 7, b->period_end_ms);
	sqlite3_bind_int64(st, 8, (int64_t)b->quantity);
	sqlite3_bind_int64(st, 9, b->amount);
	sqlite3_bind_text(st, 10, nz(b->currency), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, nz(b->status), -1, SQLITE_TRANSIENT);
	return step_done(s, st);
}

static int put_sub(struct store *s, sqlite3_stmt *st, const struct store_sub *u)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, nz(u->source), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, nz(u->sub_id), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, nz(u->tenant), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, nz(u->status), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, u->period_start_ms);
	sqlite3_bind_int64(st, 6, u->period_end_ms);
	sqlite3_bind_int64(st, 7, u->ended_ms);
	sqlite3_bind_int64(st, 8, u->updated_ms);
	return step_done(s, st);
}

/* A failure keeps the first unpaid_since; a payment clears it. */
static int put_payment(struct store *s, sqlite3_stmt *st, const struct store_payment *p)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, nz(p->tenant), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, nz(p->source), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, nz(p->ref), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, p->unpaid_since_ms);
	sqlite3_bind_int64(st, 5, p->updated_ms);
	return step_done(s, st);
}

static int put_mapping(struct store *s, sqlite3_stmt *st, const struct store_mapping *m)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, nz(m->kind), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, nz(m->key), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, nz(m->value), -1, SQLITE_TRANSIENT);
	return step_done(s, st);
}

/* Records the event id; 1 if new, 0 if seen before. */
static int put_event(struct store *s, const char *source, const char *id)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_prepare(s, "INSERT OR IGNORE INTO webhook_event VALUES (?, ?)", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, nz(source), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	err = step_done(s, st);
	if (err)
		goto cleanup;
	err = sqlite3_changes(s->db) > 0 ? 1 : 0;
cleanup:
	sqlite3_finalize(st);
	return err;
}

static int apply_rows(struct store *s, const struct store_billing_change *c)
{
	sqlite3_stmt *bill = NULL, *sub = NULL, *pay = NULL, *map = NULL;
	int err;

	err = store_sqlite_prepare(s, "INSERT OR REPLACE INTO bill VALUES "
				   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &bill);
	if (!err)
		err = store_sqlite_prepare(s, "INSERT OR REPLACE INTO subscription VALUES "
					   "(?, ?, ?, ?, ?, ?, ?, ?)", &sub);
	if (!err)
		err = store_sqlite_prepare(s, "INSERT INTO payment_state VALUES (?1, ?2, ?3, ?4, ?5) "
			"ON CONFLICT (tenant) DO UPDATE SET source = ?2, ref = ?3, updated_ms = ?5,"
			" unpaid_since_ms = CASE WHEN ?4 = 0 THEN 0"
			" WHEN unpaid_since_ms = 0 THEN ?4 ELSE MIN(unpaid_since_ms, ?4) END", &pay);
	if (!err)
		err = store_sqlite_prepare(s, "INSERT OR REPLACE INTO mapping VALUES (?, ?, ?)", &map);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < c->nbills && !err; i++)
		err = put_bill(s, bill, &c->bills[i]);
	for (size_t i = 0; i < c->nsubs && !err; i++)
		err = put_sub(s, sub, &c->subs[i]);
	for (size_t i = 0; i < c->npayments && !err; i++)
		err = put_payment(s, pay, &c->payments[i]);
	for (size_t i = 0; i < c->nmappings && !err; i++)
		err = put_mapping(s, map, &c->mappings[i]);
cleanup:
	sqlite3_finalize(bill);
	sqlite3_finalize(sub);
	sqlite3_finalize(pay);
	sqlite3_finalize(map);
	return err;
}

int store_billing_apply(struct store *s, const struct store_billing_change *c)
{
	int err;

	err = store_sqlite_begin(s);
	if (err)
		return err;
	if (c->event_id && c->event_id[0]) {
		err = put_event(s, c->event_source, c->event_id);
		if (err == 0) {
			store_sqlite_rollback(s);
			return STORE_PUT_DUPLICATE;
		}
		if (err < 0)
			goto cleanup;
	}
	err = apply_rows(s, c);
	if (err)
		goto cleanup;
	err = store_sqlite_commit(s);
	if (err)
		return err;
	return STORE_PUT_NEW;
cleanup:
	store_sqlite_rollback(s);
	return err;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? t : "";
}

/* Steps through rows calling row(); stops at the first non-zero return. */
static int each_row(struct store *s, sqlite3_stmt *st,
		    int (*row)(sqlite3_stmt *st, void *ctx), void *ctx)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int err = row(st, ctx);

		if (err)
			return err;
	}
	if (rc != SQLITE_DONE)
		return store_sqlite_error(s, "query");
	return 0;
}

struct cb_ctx {
	void *cb;
	void *arg;
};

static int bill_row(sqlite3_stmt *st, void *ctx)
{
	struct cb_ctx *c = ctx;
	struct store_bill b = {
		.source = col_text(st, 0), .invoice_id = col_text(st, 1),
		.line_id = col_text(st, 2), .tenant = col_text(st, 3),
		.metric = sqlite3_column_int(st, 4),
		.period_start_ms = sqlite3_column_int64(st, 5),
		.period_end_ms = sqlite3_column_int64(st, 6),
		.quantity = (uint64_t)sqlite3_column_int64(st, 7),
		.amount = sqlite3_column_int64(st, 8),
		.currency = col_text(st, 9), .status = col_text(st, 10),
	};

	return ((store_bill_cb)c->cb)(&b, c->arg);
}

int store_bill_query(struct store *s, const char *tenant, int metric,
		     int64_t from_ms, int64_t to_ms, store_bill_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	struct cb_ctx c = { (void *)cb, arg };
	int err;

	err = store_sqlite_prepare(s, "SELECT * FROM bill WHERE period_start_ms < ?2"
				   " AND period_end_ms > ?1 AND (?3 IS NULL OR tenant = ?3)"
				   " AND (?4 = 0 OR metric = ?4)"
				   " ORDER BY tenant, metric, period_start_ms, period_end_ms", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	if (tenant)
		sqlite3_bind_text(st, 3, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, metric);
	err = each_row(s, st, bill_row, &c);
cleanup:
	sqlite3_finalize(st);
	return err;
}

static int count_query(struct store *s, const char *sql, const char *bind, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int err;

	*n = 0;
	err = store_sqlite_prepare(s, sql, &st);
	if (err)
		goto cleanup;
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		err = store_sqlite_error(s, "count");
		goto cleanup;
	}
	*n = (uint64_t)sqlite3_column_int64(st, 0);
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_bill_count(struct store *s, uint64_t *n)
{
	return count_query(s, "SELECT COUNT(*) FROM bill", NULL, n);
}

int store_event_count(struct store *s, const char *source, uint64_t *n)
{
	return count_query(s, "SELECT COUNT(*) FROM webhook_event WHERE ?1 IS NULL OR source = ?1",
			   source, n);
}

static int sub_row(sqlite3_stmt *st, void *ctx)
{
	struct cb_ctx *c = ctx;
	struct store_sub u = {
		.source = col_text(st, 0), .sub_id = col_text(st, 1),
		.tenant = col_text(st, 2), .status = col_text(st, 3),
		.period_start_ms = sqlite3_column_int64(st, 4),
		.period_end_ms = sqlite3_column_int64(st, 5),
		.ended_ms = sqlite3_column_int64(st, 6),
		.updated_ms = sqlite3_column_int64(st, 7),
	};

	return ((store_sub_cb)c->cb)(&u, c->arg);
}

int store_sub_list(struct store *s, const char *tenant, store_sub_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	struct cb_ctx c = { (void *)cb, arg };
	int err;

	err = store_sqlite_prepare(s, "SELECT * FROM subscription WHERE ?1 IS NULL OR tenant = ?1"
				   " ORDER BY tenant, source, sub_id", &st);
	if (err)
		goto cleanup;
	if (tenant)
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
	err = each_row(s, st, sub_row, &c);
cleanup:
	sqlite3_finalize(st);
	return err;
}

static int payment_row(sqlite3_stmt *st, void *ctx)
{
	struct cb_ctx *c = ctx;
	struct store_payment p = {
		.tenant = col_text(st, 0), .source = col_text(st, 1), .ref = col_text(st, 2),
		.unpaid_since_ms = sqlite3_column_int64(st, 3),
		.updated_ms = sqlite3_column_int64(st, 4),
	};

	return ((store_payment_cb)c->cb)(&p, c->arg);
}

int store_payment_list(struct store *s, store_payment_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	struct cb_ctx c = { (void *)cb, arg };
	int err;

	err = store_sqlite_prepare(s, "SELECT * FROM payment_state ORDER BY tenant", &st);
	if (err)
		goto cleanup;
	err = each_row(s, st, payment_row, &c);
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_mapping_get(struct store *s, const char *kind, const char *key,
		      char *out, size_t outlen)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = store_sqlite_prepare(s, "SELECT value FROM mapping WHERE kind = ? AND key = ?", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(out, outlen, "%s", col_text(st, 0));
		err = 1;
	} else if (rc != SQLITE_DONE) {
		err = store_sqlite_error(s, "query");
	}
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_catalog_put(struct store *s, const char *json)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = store_sqlite_prepare(s, "INSERT OR REPLACE INTO pricing_catalog VALUES (1, ?)", &st);
	if (err)
		goto cleanup;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_TRANSIENT);
	err = step_done(s, st);
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_catalog_get(struct store *s, char **json)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	*json = NULL;
	err = store_sqlite_prepare(s, "SELECT json FROM pricing_catalog WHERE id = 1", &st);
	if (err)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*json = strdup(col_text(st, 0));
		err = *json ? 1 : -ENOMEM;
	} else if (rc != SQLITE_DONE) {
		err = store_sqlite_error(s, "query");
	}
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* The numbers decide, except for a metering gap, whose numbers are all 0:
 * its list of gaps (a new one, an agent gone silent) is what changes. */
static bool alert_same(sqlite3_stmt *st, const struct store_alert *a)
{
	if (strcmp(nz(a->kind), "metering_gap") == 0 &&
	    strcmp(col_text(st, 9), a->evidence ? a->evidence : "{}") != 0)
		return false;
	return (uint64_t)sqlite3_column_int64(st, 1) == a->metered &&
	       (uint64_t)sqlite3_column_int64(st, 2) == a->billed &&
	       sqlite3_column_int64(st, 3) == a->expected_amount &&
	       sqlite3_column_int64(st, 4) == a->billed_amount &&
	       sqlite3_column_int64(st, 5) == a->leak &&
	       strcmp(col_text(st, 6), nz(a->severity)) == 0 &&
	       strcmp(col_text(st, 7), "open") == 0 &&
	       strcmp(col_text(st, 8), nz(a->currency)) == 0;
}

static void bind_alert_key(sqlite3_stmt *st, const struct store_alert *a)
{
	sqlite3_bind_text(st, 1, nz(a->kind), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, nz(a->tenant), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, nz(a->metric), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, nz(a->period), -1, SQLITE_TRANSIENT);
}

/* Looks the alert up: 1 = exists and same, 0 = exists and differs,
 * 2 = absent; negative errno on failure. */
static int alert_lookup(struct store *s, const struct store_alert *a)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = store_sqlite_prepare(s, "SELECT id, metered, billed, expected_amount, billed_amount,"
				   " leak, severity, status, currency, evidence FROM alert"
				   " WHERE kind = ? AND tenant = ? AND metric = ? AND period = ?", &st);
	if (err)
		goto cleanup;
	bind_alert_key(st, a);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = alert_same(st, a) ? 1 : 0;
	else if (rc == SQLITE_DONE)
		err = 2;
	else
		err = -EIO;
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_alert_upsert(struct store *s, const struct store_alert *a, int64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	int err, found;

	found = alert_lookup(s, a);
	if (found < 0)
		return found;
	if (found == 1)
		return STORE_ALERT_SAME;
	err = store_sqlite_prepare(s, "INSERT INTO alert (kind, tenant, metric, period,"
		" period_start_ms, period_end_ms, metered, billed, expected_amount, billed_amount,"
		" leak, currency, severity, evidence, status, first_seen_ms, updated_ms) VALUES"
		" (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'open', ?15, ?15)"
		" ON CONFLICT (kind, tenant, metric, period) DO UPDATE SET"
		" period_start_ms = ?5, period_end_ms = ?6, metered = ?7, billed = ?8,"
		" expected_amount = ?9, billed_amount = ?10, leak = ?11, currency = ?12,"
		" severity = ?13, evidence = ?14, status = 'open', updated_ms = ?15", &st);
	if (err)
		goto cleanup;
	bind_alert_key(st, a);
	sqlite3_bind_int64(st, 5, a->period_start_ms);
	sqlite3_bind_int64(st, 6, a->period_end_ms);
	sqlite3_bind_int64(st, 7, (int64_t)a->metered);
	sqlite3_bind_int64(st, 8, (int64_t)a->billed);
	sqlite3_bind_int64(st, 9, a->expected_amount);
	sqlite3_bind_int64(st, 10, a->billed_amount);
	sqlite3_bind_int64(st, 11, a->leak);
	sqlite3_bind_text(st, 12, nz(a->currency), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 13, nz(a->severity), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 14, a->evidence ? a->evidence : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 15, now_ms);
	err = step_done(s, st);
	if (err)
		goto cleanup;
	err = found == 2 ? STORE_ALERT_NEW : STORE_ALERT_CHANGED;
cleanup:
	sqlite3_finalize(st);
	return err;
}

int store_alert_upsert_batch(struct store *s, const struct store_alert *a, size_t n,
			     int64_t now_ms, int *results)
{
	int err = 0;

	if (n == 0)
		return 0;
	err = store_sqlite_begin(s);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		int rc = store_alert_upsert(s, &a[i], now_ms);

		if (rc < 0) {
			store_sqlite_rollback(s);
			return rc;
		}
		results[i] = rc;
	}
	return store_sqlite_commit(s);
}

int store_alert_resolve(struct store *s, const char *kind, const char *tenant,
			const char *metric, const char *period, int64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	struct store_alert key = { .kind = kind, .tenant = tenant, .metric = metric,
				   .period = period };
	int err;

	err = store_sqlite_prepare(s, "UPDATE alert SET status = 'resolved', updated_ms = ?5"
				   " WHERE kind = ?1 AND tenant = ?2 AND metric = ?3 AND period = ?4"
				   " AND status = 'open'", &st);
	if (err)
		goto cleanup;
	bind_alert_key(st, &key);
	sqlite3_bind_int64(st, 5, now_ms);
	err = step_done(s, st);
	if (err)
		goto cleanup;
	err = sqlite3_changes(s->db) > 0 ? 1 : 0;
cleanup:
	sqlite3_finalize(st);
	return err;
}

static int alert_row(sqlite3_stmt *st, void *ctx)
{
	struct cb_ctx *c = ctx;
	struct store_alert a = {
		.id = sqlite3_column_int64(st, 0),
		.kind = col_text(st, 1), .tenant = col_text(st, 2),
		.metric = col_text(st, 3), .period = col_text(st, 4),
		.period_start_ms = sqlite3_column_int64(st, 5),
		.period_end_ms = sqlite3_column_int64(st, 6),
		.metered = (uint64_t)sqlite3_column_int64(st, 7),
		.billed = (uint64_t)sqlite3_column_int64(st, 8),
		.expected_amount = sqlite3_column_int64(st, 9),
		.billed_amount = sqlite3_column_int64(st, 10),
		.leak = sqlite3_column_int64(st, 11),
		.currency = col_text(st, 12), .severity = col_text(st, 13),
		.evidence = col_text(st, 14), .status = col_text(st, 15),
		.first_seen_ms = sqlite3_column_int64(st, 16),
		.updated_ms = sqlite3_column_int64(st, 17),
	};

	return ((store_alert_cb)c->cb)(&a, c->arg);
}

int store_alert_list(struct store *s, const char *period, bool open_only,
		     store_alert_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	struct cb_ctx c = { (void *)cb, arg };
	int err;

	err = store_sqlite_prepare(s, "SELECT * FROM alert WHERE (?1 IS NULL OR period = ?1)"
				   " AND (?2 = 0 OR status = 'open')"
				   " ORDER BY updated_ms DESC, id DESC", &st);
	if (err)
		goto cleanup;
	if (period)
		sqlite3_bind_text(st, 1, period, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, open_only ? 1 : 0);
	err = each_row(s, st, alert_row, &c);
cleanup:
	sqlite3_finalize(st);
	return err;
}
