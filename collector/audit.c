#include "audit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	uint64_t bytes;
};

static int write_bundle(struct export_ctx *c, const Truemeter__AuditBundle *b)
{
	size_t len = truemeter__audit_bundle__get_packed_size(b);

	c->bytes += len;
	if (c->bytes > AUDIT_MAX_FILE)
		return -EFBIG;
	if (len > c->cap) {
		uint8_t *v = realloc(c->buf, len);

		if (!v)
			return -ENOMEM;
		c->buf = v;
		c->cap = len;
	}
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

static void problem(struct audit_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct audit_result *res, const char *fmt, ...)
{
	char **v, *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (!line)
		return;
	v = realloc(res->problems, (res->n_problems + 1) * sizeof(*v));
	if (!v) {
		free(line);
		return;
	}
	res->problems = v;
	res->problems[res->n_problems++] = line;
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

/* Checks one envelope; on success appends its link and its usage. */
static int verify_one(const ProtobufCBinaryData *env, size_t idx,
		      const uint8_t (*keys)[REPORT_PK_LEN], size_t n_keys,
		      struct link *links, size_t *n_links, struct audit_result *res)
{
	Truemeter__Report *r = NULL;
	struct link *l = &links[*n_links];
	char err[256], hex[REPORT_PK_HEX_LEN + 1];
	int rc = 0;

	if (report_open(env->data, env->len, &r, l->digest, err, sizeof(err))) {
		res->bad_signatures++;
		problem(res, "report #%zu: %s", idx + 1, err);
		goto cleanup;
	}
	report_hex(r->agent_id.data, REPORT_PK_LEN, hex);
	if (!trusted(r->agent_id.data, keys, n_keys)) {
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
	(*n_links)++;
	res->verified++;
	for (size_t i = 0; i < r->n_rows && !rc; i++) {
		const Truemeter__UsageRow *u = r->rows[i];

		if (u->tenant >= r->n_strings) {
			problem(res, "report #%zu: row %zu names string %u of %zu",
				idx + 1, i, u->tenant, r->n_strings);
			continue;
		}
		rc = add_total(res, r->strings[u->tenant], (int)u->metric, u->value);
	}
cleanup:
	report_free(r);
	return rc;
}

/* Walks sorted links: duplicates, chain breaks and gaps. */
static void check_chains(struct link *links, size_t n, struct audit_result *res)
{
	char hex[REPORT_PK_HEX_LEN + 1];

	qsort(links, n, sizeof(*links), cmp_link);
	for (size_t i = 0; i < n; i++) {
		struct link *cur = &links[i], *prev = i ? &links[i - 1] : NULL;
		bool same_chain = prev && memcmp(prev->agent, cur->agent, REPORT_PK_LEN) == 0 &&
				  prev->epoch == cur->epoch;

		report_hex(cur->agent, REPORT_PK_LEN, hex);
		if (!same_chain) {
			res->agents++;
			if (cur->seq == 1 && cur->prev_len != 0) {
				res->chain_breaks++;
				problem(res, "agent %.16s… epoch %llu: seq 1 claims a predecessor",
					hex, (unsigned long long)cur->epoch);
			}
			continue;
		}
		if (cur->seq == prev->seq) {
			res->duplicates++;
			problem(res, "agent %.16s… epoch %llu seq %llu appears twice", hex,
				(unsigned long long)cur->epoch, (unsigned long long)cur->seq);
		} else if (cur->seq != prev->seq + 1) {
			res->gaps++;
			problem(res, "agent %.16s… epoch %llu: reports %llu..%llu are missing "
				"(usage in that time cannot be verified)", hex,
				(unsigned long long)cur->epoch,
				(unsigned long long)prev->seq + 1,
				(unsigned long long)cur->seq - 1);
		} else if (cur->prev_len != REPORT_DIGEST_LEN ||
			   memcmp(cur->prev, prev->digest, REPORT_DIGEST_LEN) != 0) {
			res->chain_breaks++;
			problem(res, "agent %.16s… epoch %llu seq %llu does not chain to seq %llu",
				hex, (unsigned long long)cur->epoch,
				(unsigned long long)cur->seq, (unsigned long long)prev->seq);
		}
	}
}

int audit_verify(const char *path, const uint8_t (*keys)[REPORT_PK_LEN],
		 size_t n_keys, struct audit_result *res)
{
	Truemeter__AuditBundle *b = NULL;
	struct link *links = NULL;
	size_t len, n_links = 0;
	char *buf = NULL;
	int err;

	memset(res, 0, sizeof(*res));
	err = fileio_read_all(path, AUDIT_MAX_FILE, &buf, &len);
	if (err)
		goto cleanup;
	b = truemeter__audit_bundle__unpack(NULL, len, (const uint8_t *)buf);
	if (!b) {
		err = -EBADMSG;
		goto cleanup;
	}
	res->from_ms = b->from_ms;
	res->to_ms = b->to_ms;
	res->reports = b->n_envelopes;
	if (!n_keys)
		problem(res, "no agent keys supplied: signatures were checked against "
			"the keys inside the reports, which proves integrity, not origin");
	links = calloc(b->n_envelopes ? b->n_envelopes : 1, sizeof(*links));
	if (!links) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < b->n_envelopes; i++) {
		err = verify_one(&b->envelopes[i], i, keys, n_keys, links, &n_links, res);
		if (err)
			goto cleanup;
	}
	check_chains(links, n_links, res);
	merge_totals(res);
cleanup:
	if (b)
		truemeter__audit_bundle__free_unpacked(b, NULL);
	free(links);
	free(buf);
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
