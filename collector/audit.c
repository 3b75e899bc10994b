#include "audit.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "metric.h"

/* The bundle is written as it is read from the store, one envelope at a
 * time: a serialized message followed by another is their merge, so the
 * header fields and then a one-envelope bundle per report decode as one
 * bundle, with nothing held in memory but the current envelope. */
struct export_ctx {
	struct fileio_atomic *out;
	uint8_t *buf;
	size_t cap;
	size_t n;
};

/* *buf holds at least len bytes afterwards (one message at a time: export
 * and verify reuse one buffer, grown to the largest). */
static int buf_reserve(uint8_t **buf, size_t *cap, size_t len)
{
	uint8_t *v;

	if (len <= *cap)
		return 0;
	v = realloc(*buf, len);
	if (!v)
		return -ENOMEM;
	*buf = v;
	*cap = len;
	return 0;
}

static int write_bundle(struct export_ctx *c, const Truemeter__AuditBundle *b)
{
	size_t len = truemeter__audit_bundle__get_packed_size(b);
	int err = buf_reserve(&c->buf, &c->cap, len);

	if (err)
		return err;
	truemeter__audit_bundle__pack(b, c->buf);
	return fileio_atomic_write(c->out, c->buf, len);
}

static int write_envelope(const uint8_t *env, size_t len, void *arg)
{
	struct export_ctx *c = arg;
	Truemeter__AuditBundle b = TRUEMETER__AUDIT_BUNDLE__INIT;
	ProtobufCBinaryData one = { .len = len, .data = (uint8_t *)env };
	int err;

	b.envelopes = &one;          /* only read by the packer */
	b.n_envelopes = 1;
	err = write_bundle(c, &b);
	if (!err)
		c->n++;
	return err;
}

int audit_export(struct store *s, int64_t from_ms, int64_t to_ms,
		 const char *path, size_t *n_reports)
{
	Truemeter__AuditBundle head = TRUEMETER__AUDIT_BUNDLE__INIT;
	struct export_ctx c = { 0 };
	int err;

	err = fileio_atomic_open(path, 0644, &c.out);
	if (err)
		goto cleanup;
	head.from_ms = from_ms;
	head.to_ms = to_ms;
	head.created_ms = (int64_t)time(NULL) * 1000;
	err = write_bundle(&c, &head);
	if (!err)
		err = store_envelopes(s, from_ms, to_ms, write_envelope, &c);
	if (err)
		goto cleanup;
	err = fileio_atomic_commit(c.out);
	c.out = NULL;
	if (!err)
		*n_reports = c.n;
cleanup:
	fileio_atomic_abort(c.out);
	free(c.buf);
	return err;
}

/* One verified report's place in its chain. */
struct link {
	uint8_t agent[REPORT_PK_LEN];
	uint64_t epoch, seq;
	uint8_t digest[REPORT_DIGEST_LEN];
	uint8_t prev[REPORT_DIGEST_LEN];
	size_t prev_len;
};

/* Findings in the order they are to be printed. */
struct findings {
	char **lines;
	size_t n;
};

static void vfinding(struct findings *to, const char *fmt, va_list ap)
{
	char **v, *line = NULL;

	if (vasprintf(&line, fmt, ap) < 0)
		return;
	v = realloc(to->lines, (to->n + 1) * sizeof(*v));
	if (!v) {
		free(line);
		return;
	}
	to->lines = v;
	to->lines[to->n++] = line;
}

static void finding(struct findings *to, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void finding(struct findings *to, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfinding(to, fmt, ap);
	va_end(ap);
}

static void problem(struct audit_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct audit_result *res, const char *fmt, ...)
{
	struct findings f = { res->problems, res->n_problems };
	va_list ap;

	va_start(ap, fmt);
	vfinding(&f, fmt, ap);
	va_end(ap);
	res->problems = f.lines;
	res->n_problems = f.n;
}

static void findings_free(struct findings *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->lines[i]);
	free(f->lines);
	f->lines = NULL;
	f->n = 0;
}

static int add_total(struct audit_result *res, const char *tenant, int metric,
		     uint64_t value)
{
	struct audit_total *v = res->totals;
	size_t n = res->n_totals;

	/* Appended unsorted, merged once at the end; the array doubles
	 * whenever its length reaches a power of two. */
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		v = realloc(res->totals, (n ? 2 * n : 16) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		res->totals = v;
	}
	v[res->n_totals].tenant = strdup(tenant);
	if (!v[res->n_totals].tenant)
		return -ENOMEM;
	v[res->n_totals].metric = metric;
	v[res->n_totals].value = value;
	res->n_totals++;
	return 0;
}

static int cmp_total(const void *a, const void *b)
{
	const struct audit_total *x = a, *y = b;
	int c = strcmp(x->tenant, y->tenant);

	return c ? c : x->metric - y->metric;
}

static void merge_totals(struct audit_result *res)
{
	size_t out = 0;

	if (!res->n_totals)
		return;
	qsort(res->totals, res->n_totals, sizeof(*res->totals), cmp_total);
	for (size_t i = 1; i < res->n_totals; i++) {
		if (cmp_total(&res->totals[out], &res->totals[i]) == 0) {
			res->totals[out].value += res->totals[i].value;
			free(res->totals[i].tenant);
		} else {
			res->totals[++out] = res->totals[i];
		}
	}
	res->n_totals = out + 1;
}

static int cmp_link(const void *a, const void *b)
{
	const struct link *x = a, *y = b;
	int c = memcmp(x->agent, y->agent, REPORT_PK_LEN);

	if (c)
		return c;
	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

static bool trusted(const uint8_t *pk, const uint8_t (*keys)[REPORT_PK_LEN], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(keys[i], pk, REPORT_PK_LEN) == 0)
			return true;
	return n == 0;
}

/* What audit_verify gathers while it reads; links, chain and buf are its
 * own.  A bundle in chain order (agent, epoch, seq: as audit_export writes
 * it) has its chains checked as it is read, against the link before, so
 * memory does not grow with the reports.  Any other order is read again,
 * keeping every link to sort them (collect). */
struct verify_ctx {
	const uint8_t (*keys)[REPORT_PK_LEN];
	size_t n_keys;
	bool collect;
	struct link *links;     /* collect: every verified report's */
	size_t n_links, cap_links;
	struct link last, cur;  /* in chain order: the last verified, this one */
	bool have_last;
	struct findings chain;  /* in chain order: printed after the reports' */
	size_t merged;          /* res->n_totals after the last merge */
	uint8_t *buf;           /* the envelope being checked */
	size_t cap_buf;
	struct audit_result *res;
};

static void chain_step(const struct link *prev, const struct link *cur,
		       struct audit_result *res, struct findings *out);

/* A verified report's link: kept (collect) or checked against the last. */
static int link_done(struct verify_ctx *v, struct link *l)
{
	if (v->collect) {
		v->n_links++;
		return 0;
	}
	if (v->have_last && cmp_link(&v->last, l) > 0)
		return -EAGAIN;         /* not in chain order: read again */
	chain_step(v->have_last ? &v->last : NULL, l, v->res, &v->chain);
	v->last = *l;
	v->have_last = true;
	return 0;
}

/* Checks one envelope; on success appends its link and its usage. */
static int verify_one(struct verify_ctx *v, const uint8_t *env, size_t len, size_t idx)
{
	struct audit_result *res = v->res;
	Truemeter__Report *r = NULL;
	struct link *l;
	char err[256], hex[REPORT_PK_HEX_LEN + 1];
	int rc = 0;

	if (v->collect && v->n_links == v->cap_links) {
		size_t cap = v->cap_links ? 2 * v->cap_links : 256;

		l = realloc(v->links, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		v->links = l;
		v->cap_links = cap;
	}
	l = v->collect ? &v->links[v->n_links] : &v->cur;
	if (report_open(env, len, &r, l->digest, err, sizeof(err))) {
		res->bad_signatures++;
		problem(res, "report #%zu: %s", idx + 1, err);
		goto cleanup;
	}
	report_hex(r->agent_id.data, REPORT_PK_LEN, hex);
	if (!trusted(r->agent_id.data, v->keys, v->n_keys)) {
		res->untrusted++;
		problem(res, "report #%zu: agent %.16s… epoch %llu seq %llu is signed by "
			"a key you did not supply", idx + 1, hex,
			(unsigned long long)r->epoch, (unsigned long long)r->seq);
		goto cleanup;
	}
	memcpy(l->agent, r->agent_id.data, REPORT_PK_LEN);
	l->epoch = r->epoch;
	l->seq = r->seq;
	l->prev_len = r->prev_digest.len;
	if (l->prev_len == REPORT_DIGEST_LEN)
		memcpy(l->prev, r->prev_digest.data, REPORT_DIGEST_LEN);
	rc = link_done(v, l);
	if (rc)
		goto cleanup;
	res->verified++;
	if (r->health && (r->health->map_overflow_window || r->health->event_drops_window)) {
		res->lossy_reports++;
		res->lost_map_overflow += r->health->map_overflow_window;
		res->lost_event_drops += r->health->event_drops_window;
	}
	for (size_t i = 0; i < r->n_rows && !rc; i++) {
		const Truemeter__UsageRow *u = r->rows[i];
		const char *tenant = report_string(r, u->tenant);

		if (!tenant) {
			problem(res, "report #%zu: row %zu names string %u of %zu",
				idx + 1, i, u->tenant, r->n_strings);
			continue;
		}
		rc = add_total(res, tenant, (int)u->metric, u->value);
	}
	/* Rows repeat the same tenants and metrics: merge whenever the
	 * unmerged tail outgrows the merged part, so memory follows the
	 * distinct totals, not every row read. */
	if (!rc && res->n_totals >= 2 * v->merged + 4096) {
		merge_totals(res);
		v->merged = res->n_totals;
	}
cleanup:
	report_free(r);
	return rc;
}

/* One link against the one before it in chain order (prev NULL for the
 * first): a new chain, a duplicate, a gap or a break, into out. */
static void chain_step(const struct link *prev, const struct link *cur,
		       struct audit_result *res, struct findings *out)
{
	bool same_chain = prev && memcmp(prev->agent, cur->agent, REPORT_PK_LEN) == 0 &&
			  prev->epoch == cur->epoch;
	char hex[REPORT_PK_HEX_LEN + 1];

	report_hex(cur->agent, REPORT_PK_LEN, hex);
	if (!same_chain) {
		res->agents++;
		if (cur->seq == 1 && cur->prev_len != 0) {
			res->chain_breaks++;
			finding(out, "agent %.16s… epoch %llu: seq 1 claims a predecessor",
				hex, (unsigned long long)cur->epoch);
		}
	} else if (cur->seq == prev->seq) {
		res->duplicates++;
		finding(out, "agent %.16s… epoch %llu seq %llu appears twice", hex,
			(unsigned long long)cur->epoch, (unsigned long long)cur->seq);
	} else if (cur->seq != prev->seq + 1) {
		res->gaps++;
		finding(out, "agent %.16s… epoch %llu: reports %llu..%llu are missing "
			"(usage in that time cannot be verified)", hex,
			(unsigned long long)cur->epoch,
			(unsigned long long)prev->seq + 1,
			(unsigned long long)cur->seq - 1);
	} else if (cur->prev_len != REPORT_DIGEST_LEN ||
		   memcmp(cur->prev, prev->digest, REPORT_DIGEST_LEN) != 0) {
		res->chain_breaks++;
		finding(out, "agent %.16s… epoch %llu seq %llu does not chain to seq %llu",
			hex, (unsigned long long)cur->epoch,
			(unsigned long long)cur->seq, (unsigned long long)prev->seq);
	}
}

/* collect: sorts the links, then checks each against the one before. */
static void check_chains(struct link *links, size_t n, struct audit_result *res,
			 struct findings *out)
{
	if (!n)
		return;         /* links may be NULL: no report verified */
	qsort(links, n, sizeof(*links), cmp_link);
	for (size_t i = 0; i < n; i++)
		chain_step(i ? &links[i - 1] : NULL, &links[i], res, out);
}

/* ---- reading a bundle one field at a time ------------------------------------
 * A bundle can be far larger than memory should hold, and protobuf-c only
 * decodes whole messages.  So the bundle's own top-level fields are read
 * one by one in the protobuf wire format (a varint key, then a varint, a
 * length-prefixed run of bytes, or 8 or 4 fixed bytes), by the rules
 * protobuf-c's own decoder keeps (keys and lengths of at most 5 bytes,
 * lengths up to INT_MAX), so a file is a bundle here exactly when it is one
 * there; each envelope is decoded by protobuf-c alone. */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* A varint value: 0 with *v; -EBADMSG when truncated or longer than 10
 * bytes; -EIO on a read error. */
static int read_varint(FILE *f, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		int c = getc(f);

		if (c == EOF)
			return ferror(f) ? -EIO : -EBADMSG;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EBADMSG;
}

/* A field's key: 0 with its field number and wire type, 1 at a clean end
 * of file, -EBADMSG for no field number in the first byte or a key
 * longer than 5 bytes.  (A multi-byte key can still say field 0, which
 * protobuf-c takes as an unknown field.) */
static int read_key(FILE *f, uint32_t *id, unsigned *wire_type)
{
	uint32_t tag;
	int c, shift = 4;

	c = getc(f);
	if (c == EOF)
		return ferror(f) ? -EIO : 1;
	if ((c & 0xf8) == 0)
		return -EBADMSG;
	*wire_type = (unsigned)c & 7;
	tag = ((uint32_t)c & 0x7f) >> 3;
	for (int i = 1; c & 0x80; i++, shift += 7) {
		if (i == 5)
			return -EBADMSG;
		c = getc(f);
		if (c == EOF)
			return ferror(f) ? -EIO : -EBADMSG;
		tag |= ((uint32_t)c & 0x7f) << shift;
	}
	*id = tag;
	return 0;
}

/* A length prefix: at most 5 bytes, at most INT_MAX. */
static int read_len(FILE *f, uint64_t *len)
{
	uint64_t v = 0;
	int c;

	for (int i = 0; i < 5; i++) {
		c = getc(f);
		if (c == EOF)
			return ferror(f) ? -EIO : -EBADMSG;
		v |= ((uint64_t)c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (v > INT_MAX)
				return -EBADMSG;
			*len = v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Reads len bytes, or skips them when buf is NULL; -EBADMSG past the end. */
static int read_bytes(FILE *f, uint8_t *buf, uint64_t len, uint64_t size)
{
	off_t at = ftello(f);

	if (at < 0)
		return -errno;
	if (len > size - (uint64_t)at)
		return -EBADMSG;
	if (!buf)
		return fseeko(f, (off_t)len, SEEK_CUR) ? -errno : 0;
	if (len && fread(buf, 1, len, f) != len)
		return ferror(f) ? -EIO : -EBADMSG;
	return 0;
}

static int skip_field(FILE *f, unsigned wire_type, uint64_t size)
{
	uint64_t len;
	int err;

	switch (wire_type) {
	case WT_VARINT:
		return read_varint(f, &len);
	case WT_I64:
		return read_bytes(f, NULL, 8, size);
	case WT_I32:
		return read_bytes(f, NULL, 4, size);
	case WT_LEN:
		err = read_len(f, &len);
		return err ? err : read_bytes(f, NULL, len, size);
	default:                /* groups, or not protobuf at all */
		return -EBADMSG;
	}
}

static uint32_t field_id(const char *name)
{
	const ProtobufCFieldDescriptor *d = protobuf_c_message_descriptor_get_field_by_name(
		&truemeter__audit_bundle__descriptor, name);

	return d ? d->id : 0;
}

/* One envelope field's bytes into v->buf, then checked. */
static int read_envelope(FILE *f, struct verify_ctx *v, uint64_t size)
{
	uint64_t len;
	int err;

	err = read_len(f, &len);
	if (err)
		return err;
	if (len > AUDIT_MAX_ENVELOPE)
		return -EBADMSG;
	err = buf_reserve(&v->buf, &v->cap_buf, len);
	if (!err)
		err = read_bytes(f, v->buf, len, size);
	if (err)
		return err;
	v->res->reports++;
	return verify_one(v, v->buf, len, v->res->reports - 1);
}

/* Every top-level field of the bundle; a later from/to wins, as a protobuf
 * merge has it.  A known field in another wire type is an error, as in
 * protobuf-c. */
static int read_bundle(FILE *f, struct verify_ctx *v, uint64_t size)
{
	const uint32_t from_id = field_id("from_ms"), to_id = field_id("to_ms"),
		       created_id = field_id("created_ms"), env_id = field_id("envelopes");
	uint64_t val;
	int err;

	for (;;) {
		uint32_t id;
		unsigned wt;

		err = read_key(f, &id, &wt);
		if (err)
			return err > 0 ? 0 : err;
		if (id == env_id) {
			err = wt == WT_LEN ? read_envelope(f, v, size) : -EBADMSG;
		} else if (id == from_id || id == to_id || id == created_id) {
			err = wt == WT_VARINT ? read_varint(f, &val) : -EBADMSG;
			if (!err && id == from_id)
				v->res->from_ms = (int64_t)val;
			else if (!err && id == to_id)
				v->res->to_ms = (int64_t)val;
		} else {
			err = skip_field(f, wt, size);
		}
		if (err)
			return err;
	}
}

/* One reading of the bundle in f into res (emptied first); the chain
 * findings go after the reports' own.  -EAGAIN: the bundle is not in
 * chain order, and v->collect is not set. */
static int verify_pass(FILE *f, uint64_t size, struct verify_ctx *v)
{
	struct audit_result *res = v->res;
	int err;

	audit_result_free(res);
	findings_free(&v->chain);
	v->n_links = 0;
	v->have_last = false;
	v->merged = 0;
	if (fseek(f, 0, SEEK_SET) < 0)
		return -errno;
	if (!v->n_keys)
		problem(res, "no agent keys supplied: signatures were checked against "
			"the keys inside the reports, which proves integrity, not origin");
	err = read_bundle(f, v, size);
	if (err)
		return err;
	if (v->collect)
		check_chains(v->links, v->n_links, res, &v->chain);
	for (size_t i = 0; i < v->chain.n; i++)
		problem(res, "%s", v->chain.lines[i]);
	if (res->lossy_reports)
		problem(res, "%zu reports declare events their meter lost (map overflow %llu, "
			"event drops %llu): the usage below is short by the requests in them",
			res->lossy_reports, (unsigned long long)res->lost_map_overflow,
			(unsigned long long)res->lost_event_drops);
	merge_totals(res);
	return 0;
}

int audit_verify(const char *path, const uint8_t (*keys)[REPORT_PK_LEN],
		 size_t n_keys, struct audit_result *res)
{
	struct verify_ctx v = { .keys = keys, .n_keys = n_keys, .res = res };
	struct stat st;
	FILE *f;
	int err;

	memset(res, 0, sizeof(*res));
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0) {
		err = -errno;
		goto cleanup;
	}
	err = verify_pass(f, (uint64_t)st.st_size, &v);
	if (err == -EAGAIN) {
		log_debug("audit: %s is not in chain order: reading it again", path);
		v.collect = true;
		err = verify_pass(f, (uint64_t)st.st_size, &v);
	}
cleanup:
	fclose(f);
	free(v.links);
	free(v.buf);
	findings_free(&v.chain);
	if (err)
		audit_result_free(res);        /* nothing half-read is reported */
	return err;
}

void audit_result_free(struct audit_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_totals; i++)
		free(res->totals[i].tenant);
	for (size_t i = 0; i < res->n_problems; i++)
		free(res->problems[i]);
	free(res->totals);
	free(res->problems);
	memset(res, 0, sizeof(*res));
}
