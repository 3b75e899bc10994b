/* billing import: CSV with a header, JSON lines, and Stripe invoice lists.
 * The whole file is parsed first; only a file without a single bad row is
 * stored, in one transaction. */
#include "billing.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fileio.h"
#include "metric.h"
#include "stripe.h"

#define IMPORT_MAX (1u << 30)
#define CSV_MAX_FIELDS 32

enum col {
	COL_TENANT, COL_METRIC, COL_PSTART, COL_PEND, COL_QTY, COL_AMOUNT,
	COL_CURRENCY, COL_INVOICE, COL_LINE, COL_STATUS, COL_COUNT
};

static const char *const col_names[COL_COUNT] = {
	"tenant", "metric", "period_start", "period_end", "quantity", "amount",
	"currency", "invoice_id", "line_id", "status",
};
#define COL_REQUIRED COL_LINE   /* columns before this one are required */

/* One parsed row's fields, by column (NULL if absent). */
struct row {
	const char *v[COL_COUNT];
};

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Validates a row and adds it to the batch; err gets "what" only. */
/* Line numbers of the parsed rows, parallel to the batch's bills. */
struct lines {
	size_t *v;
	size_t n, cap;
};

static int lines_add(struct lines *l, size_t line)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		size_t *n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n++] = line;
	return 0;
}

static int row_to_bill(const struct row *r, size_t line, struct billing_batch *bb,
		       struct lines *lines, char *err, size_t errlen)
{
	struct store_bill b = { .source = "import", .status = "imported" };
	char cur[4], line_id[64];

	for (int c = 0; c < COL_REQUIRED; c++)
		if (!r->v[c] || !*r->v[c]) {
			snprintf(err, errlen, "missing %s", col_names[c]);
			return -EINVAL;
		}
	b.tenant = r->v[COL_TENANT];
	b.invoice_id = r->v[COL_INVOICE];
	b.metric = metric_from_name(r->v[COL_METRIC]);
	if (b.metric < 0) {
		snprintf(err, errlen, "unknown metric '%s'", r->v[COL_METRIC]);
		return -EINVAL;
	}
	if (period_parse_time(r->v[COL_PSTART], &b.period_start_ms) ||
	    period_parse_time(r->v[COL_PEND], &b.period_end_ms)) {
		snprintf(err, errlen, "bad period_start/period_end '%s'/'%s' (YYYY-MM-DD, "
			 "RFC 3339 or unix seconds)", r->v[COL_PSTART], r->v[COL_PEND]);
		return -EINVAL;
	}
	if (b.period_end_ms <= b.period_start_ms) {
		snprintf(err, errlen, "period_end must be after period_start");
		return -EINVAL;
	}
	if (parse_u64(r->v[COL_QTY], &b.quantity) || b.quantity > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "bad quantity '%s' (a non-negative integer)", r->v[COL_QTY]);
		return -EINVAL;
	}
	if (conf_parse_int(r->v[COL_AMOUNT], &b.amount)) {
		snprintf(err, errlen, "bad amount '%s' (an integer in minor units)",
			 r->v[COL_AMOUNT]);
		return -EINVAL;
	}
	if (billing_currency_norm(r->v[COL_CURRENCY], cur)) {
		snprintf(err, errlen, "bad currency '%s' (3 letters)", r->v[COL_CURRENCY]);
		return -EINVAL;
	}
	b.currency = cur;
	/* Without a line id, metric + period identify the line: a re-import
	 * replaces instead of doubling. */
	if (r->v[COL_LINE] && *r->v[COL_LINE])
		b.line_id = r->v[COL_LINE];
	else {
		snprintf(line_id, sizeof(line_id), "%s@%lld", metric_name(b.metric),
			 (long long)b.period_start_ms);
		b.line_id = line_id;
	}
	if (r->v[COL_STATUS] && *r->v[COL_STATUS])
		b.status = r->v[COL_STATUS];
	if (lines_add(lines, line))
		return -ENOMEM;
	return billing_batch_add(bb, &b);
}

static int dup_cmp(const void *a, const void *b, void *arg)
{
	const struct store_bill *bills = arg;
	const struct store_bill *x = &bills[*(const size_t *)a], *y = &bills[*(const size_t *)b];
	int c = strcmp(x->invoice_id, y->invoice_id);

	if (!c)
		c = strcmp(x->line_id, y->line_id);
	if (!c)
		c = (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
	return c;
}

/* Two rows with one identity would silently replace each other. */
static int check_dups(const struct billing_batch *bb, const struct lines *lines,
		      const char *path, char *err, size_t errlen)
{
	size_t *idx = malloc((bb->nbills ? bb->nbills : 1) * sizeof(*idx));
	int rc = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < bb->nbills; i++)
		idx[i] = i;
	qsort_r(idx, bb->nbills, sizeof(*idx), dup_cmp, bb->bills);
	for (size_t i = 1; i < bb->nbills; i++) {
		const struct store_bill *x = &bb->bills[idx[i - 1]], *y = &bb->bills[idx[i]];

		if (strcmp(x->invoice_id, y->invoice_id) == 0 &&
		    strcmp(x->line_id, y->line_id) == 0) {
			snprintf(err, errlen, "%s:%zu: same invoice_id, metric and period_start as "
				 "line %zu (add a line_id column to tell them apart)", path,
				 lines->v[idx[i]], lines->v[idx[i - 1]]);
			rc = -EINVAL;
			break;
		}
	}
	free(idx);
	return rc;
}

/* ---- CSV (RFC 4180, through libcsv) -------------------------------------------- */

/* The CSV reader's state between libcsv's callbacks.  The file is fed a
 * line at a time, so each record knows the line it starts on (a quoted
 * field may hold line breaks); between records, blank lines and lines
 * starting with '#' are skipped.  The first error stops the import. */
struct csv_ctx {
	const char *path;
	struct billing_batch *bb;
	struct lines *lines;
	char *err;
	size_t errlen;
	int rc;
	size_t lineno;                  /* the line being fed */
	size_t rec_line;                /* the line the current record began on */
	bool between;                   /* no record begun yet on this line */
	char *fields[CSV_MAX_FIELDS];   /* the current record's, owned */
	int n;
	bool too_many;
	int map[CSV_MAX_FIELDS];        /* column of each header field, or -1 */
	int nhdr;                       /* 0 until the header is read */
};

static void csv_fail(struct csv_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void csv_fail(struct csv_ctx *x, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (x->rc)
		return;
	n = snprintf(x->err, x->errlen, "%s:%zu: ", x->path, x->rec_line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < x->errlen)
		vsnprintf(x->err + n, x->errlen - n, fmt, ap);
	va_end(ap);
	x->rc = -EINVAL;
}

static void csv_on_field(void *s, size_t len, void *arg)
{
	struct csv_ctx *x = arg;

	if (x->rc)
		return;
	if (x->n == CSV_MAX_FIELDS) {
		x->too_many = true;
		return;
	}
	x->fields[x->n] = strndup(s ? s : "", len);
	if (!x->fields[x->n]) {
		x->rc = -ENOMEM;
		return;
	}
	x->n++;
}

static void csv_header(struct csv_ctx *x)
{
	bool seen[COL_COUNT] = { 0 };

	for (int i = 0; i < x->n; i++) {
		x->map[i] = -1;
		for (int c = 0; c < COL_COUNT; c++)
			if (strcmp(x->fields[i], col_names[c]) == 0) {
				x->map[i] = c;
				seen[c] = true;
			}
	}
	for (int c = 0; c < COL_REQUIRED; c++)
		if (!seen[c]) {
			csv_fail(x, "header lacks column '%s'", col_names[c]);
			return;
		}
	x->nhdr = x->n;
}

/* A whole record: the header, or a row for the batch. */
static void csv_record(struct csv_ctx *x)
{
	struct row r = { 0 };
	char msg[200];
	int rc;

	if (x->too_many) {
		csv_fail(x, "too many columns");
		return;
	}
	if (!x->nhdr) {
		csv_header(x);
		return;
	}
	if (x->n != x->nhdr) {
		csv_fail(x, "%d fields, the header has %d", x->n, x->nhdr);
		return;
	}
	for (int i = 0; i < x->n; i++)
		if (x->map[i] >= 0)
			r.v[x->map[i]] = x->fields[i];
	rc = row_to_bill(&r, x->rec_line, x->bb, x->lines, msg, sizeof(msg));
	if (rc == -ENOMEM)
		x->rc = rc;
	else if (rc)
		csv_fail(x, "%s", msg);
}

static void csv_on_record(int term, void *arg)
{
	struct csv_ctx *x = arg;

	(void)term;
	if (!x->rc)
		csv_record(x);
	for (int i = 0; i < x->n; i++)
		free(x->fields[i]);
	x->n = 0;
	x->too_many = false;
	x->between = true;
}

/* A line to skip between records: blank, or a comment. */
static bool csv_skippable(const char *line, size_t len)
{
	size_t i = strspn(line, " \t\r");

	return i >= len || line[i] == '\n' || line[i] == '#';
}

static int import_csv(char *text, const char *path, struct billing_batch *bb,
		      struct lines *lines, char *err, size_t errlen)
{
	struct csv_ctx x = {
		.path = path, .bb = bb, .lines = lines, .err = err, .errlen = errlen,
		.between = true,
	};
	struct csv_parser p;
	char *line = text;

	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL))
		return -ENOMEM;
	while (*line && !x.rc) {
		size_t len = strcspn(line, "\r\n");

		/* a line ends at LF, CRLF or a lone CR (old Mac files) */
		if (line[len] == '\r' && line[len + 1] == '\n')
			len += 2;
		else if (line[len])
			len++;

		x.lineno++;
		if (x.between && csv_skippable(line, len)) {
			line += len;
			continue;
		}
		if (x.between) {
			x.rec_line = x.lineno;
			x.between = false;
		}
		if (csv_parse(&p, line, len, csv_on_field, csv_on_record, &x) != len &&
		    !x.rc) {
			x.rec_line = x.lineno;
			csv_fail(&x, "unterminated or stray quote");
		}
		line += len;
	}
	if (!x.rc && csv_fini(&p, csv_on_field, csv_on_record, &x))
		csv_fail(&x, "unterminated or stray quote");
	for (int i = 0; i < x.n; i++)
		free(x.fields[i]);
	csv_free(&p);
	if (!x.rc && !x.nhdr) {
		snprintf(err, errlen, "%s: empty file (a CSV header is required)", path);
		x.rc = -EINVAL;
	}
	return x.rc;
}

/* ---- JSON lines ---------------------------------------------------------------- */

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

static int jsonl_row(json_object *o, struct row *r, char bufs[][64], char *err, size_t errlen)
{
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "each line must be a JSON object");
		return -EINVAL;
	}
	for (int c = 0; c < COL_COUNT; c++) {
		json_object *v;

		if (!json_object_object_get_ex(o, col_names[c], &v) ||
		    json_object_is_type(v, json_type_null))
			continue;
		if (json_object_is_type(v, json_type_int)) {
			snprintf(bufs[c], 64, "%lld", (long long)json_object_get_int64(v));
			r->v[c] = bufs[c];
		} else if (json_object_is_type(v, json_type_string)) {
			r->v[c] = json_object_get_string(v);
		} else {
			snprintf(err, errlen, "'%s' must be a string or an integer", col_names[c]);
			return -EINVAL;
		}
	}
	return 0;
}

static int import_jsonl(char *text, const char *path, struct billing_batch *bb,
			struct lines *lines, char *err, size_t errlen)
{
	size_t lineno = 0;
	char *p = text, msg[200];
	int rc = 0;

	while (*p) {
		char *nl = strchr(p, '\n'), bufs[COL_COUNT][64];
		struct row r = { 0 };
		json_object *o;

		if (nl)
			*nl = '\0';
		lineno++;
		trim(p);
		if (*p) {
			o = json_tokener_parse(p);
			if (!o) {
				snprintf(err, errlen, "%s:%zu: not valid JSON", path, lineno);
				return -EINVAL;
			}
			rc = jsonl_row(o, &r, bufs, msg, sizeof(msg));
			if (!rc)
				rc = row_to_bill(&r, lineno, bb, lines, msg, sizeof(msg));
			json_object_put(o);
			if (rc) {
				snprintf(err, errlen, "%s:%zu: %s", path, lineno, msg);
				return rc;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

/* ---- Stripe invoice list ----------------------------------------------------- */

static int import_stripe(const char *text, const char *path, struct store *s,
			 const struct billing_maps *maps, struct billing_event *ev,
			 char *err, size_t errlen)
{
	json_object *root = json_tokener_parse(text), *data;
	char where[32], msg[300];
	int rc = 0;

	if (!root) {
		snprintf(err, errlen, "%s: not valid JSON", path);
		return -EINVAL;
	}
	/* The list object {"object": "list", "data": [...]}, or a bare array. */
	if (json_object_is_type(root, json_type_array))
		data = root;
	else if (!json_object_object_get_ex(root, "data", &data) ||
		 !json_object_is_type(data, json_type_array)) {
		snprintf(err, errlen, "%s: expected a Stripe list {\"object\": \"list\", "
			 "\"data\": [invoices]}", path);
		rc = -EINVAL;
		goto cleanup;
	}
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		snprintf(where, sizeof(where), "data[%zu]", i);
		rc = stripe_invoice_add(json_object_array_get_idx(data, i), s, maps, ev,
					where, msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "%s: %s", path, msg);
			goto cleanup;
		}
	}
cleanup:
	json_object_put(root);
	return rc;
}

static enum billing_format detect(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot)
		return BILLING_FORMAT_AUTO;
	if (strcasecmp(dot, ".csv") == 0)
		return BILLING_FORMAT_CSV;
	if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0)
		return BILLING_FORMAT_JSONL;
	if (strcasecmp(dot, ".json") == 0)
		return BILLING_FORMAT_STRIPE;
	return BILLING_FORMAT_AUTO;
}

int billing_import_file(struct store *s, const char *path, enum billing_format fmt,
			const struct billing_maps *maps, struct billing_import_result *res,
			char *err, size_t errlen)
{
	struct billing_event ev = { .source = "import" };
	struct lines lines = { 0 };
	char *text = NULL, *body;
	size_t len;
	int rc;

	memset(res, 0, sizeof(*res));
	if (fmt == BILLING_FORMAT_AUTO)
		fmt = detect(path);
	if (fmt == BILLING_FORMAT_AUTO) {
		snprintf(err, errlen, "%s: cannot tell the format from the name; use "
			 "--format csv|jsonl|stripe", path);
		return -EINVAL;
	}
	rc = fileio_read_all(path, IMPORT_MAX, &text, &len);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		goto cleanup;
	}
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains NUL bytes (not a text file)", path);
		rc = -EINVAL;
		goto cleanup;
	}
	/* a UTF-8 byte order mark, as spreadsheets and some exporters write */
	body = strncmp(text, "\xef\xbb\xbf", 3) ? text : text + 3;
	if (fmt == BILLING_FORMAT_CSV)
		rc = import_csv(body, path, &ev.bb, &lines, err, errlen);
	else if (fmt == BILLING_FORMAT_JSONL)
		rc = import_jsonl(body, path, &ev.bb, &lines, err, errlen);
	else
		rc = import_stripe(body, path, s, maps, &ev, err, errlen);
	if (!rc && fmt != BILLING_FORMAT_STRIPE)
		rc = check_dups(&ev.bb, &lines, path, err, errlen);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	if (rc)
		goto cleanup;
	rc = billing_event_apply(s, &ev);
	if (rc < 0) {
		snprintf(err, errlen, "%s: storing failed: %s", path, strerror(-rc));
		goto cleanup;
	}
	rc = 0;
	res->records = ev.bb.nbills;
	res->skipped = ev.skipped;
cleanup:
	billing_event_free(&ev);
	free(lines.v);
	free(text);
	return rc;
}
