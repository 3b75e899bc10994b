#include "state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "reportbuild.h"

/* Layout (little-endian): magic[8] epoch seq window_end spool_drops
 * map_overflow event_drops digest[32] n_rows, then n_rows x (tenant[64]
 * metric(u32) route[64] method[12] status(u8) value(u64)), then
 * BLAKE2b-256 of all before it.  Version 1 files (written before the loss
 * counters were kept) lack map_overflow and event_drops and still load. */
static const char state_magic[8] = { 'T', 'M', 'S', 'T', 'A', 'T', 'E', '2' };
static const char state_magic_v1[8] = { 'T', 'M', 'S', 'T', 'A', 'T', 'E', '1' };

#define HDR_LEN (8 + 8 * 6 + REPORT_DIGEST_LEN + 8)
#define HDR_LEN_V1 (HDR_LEN - 16)
#define ROW_LEN (METER_TENANT_LEN + 4 + METER_ROUTE_LEN + METER_METHOD_LEN + 1 + 8)
#define MAX_ROWS (1u << 22)

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static const uint8_t *get64(const uint8_t *p, uint64_t *v)
{
	*v = 0;
	for (int i = 7; i >= 0; i--)
		*v = (*v << 8) | p[i];
	return p + 8;
}

int state_init(struct agent_state *st)
{
	memset(st, 0, sizeof(*st));
	if (sodium_init() < 0)
		return -EIO;
	/* never 0, so "no epoch" stays distinguishable in logs and tests */
	do {
		randombytes_buf(&st->epoch, sizeof(st->epoch));
	} while (st->epoch == 0);
	return delta_new(&st->baseline);
}

static uint64_t counter_since(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : now;
}

struct state_losses state_losses_since(const struct agent_state *st,
				       uint64_t map_overflow, uint64_t event_drops)
{
	struct state_losses l = { 0, 0 };

	if (st->lost_known) {
		l.map_overflow = counter_since(map_overflow, st->lost.map_overflow);
		l.event_drops = counter_since(event_drops, st->lost.event_drops);
	}
	return l;
}

void state_losses_declared(struct agent_state *st, uint64_t map_overflow,
			   uint64_t event_drops)
{
	st->lost.map_overflow = map_overflow;
	st->lost.event_drops = event_drops;
	st->lost_known = true;
}

void state_free(struct agent_state *st)
{
	delta_free(st->baseline);
	st->baseline = NULL;
}

int state_save(const char *path, const struct agent_state *st)
{
	struct meter_row *rows = NULL;
	uint8_t *buf = NULL, *p;
	size_t n = 0, len;
	int err;

	err = delta_rows(st->baseline, &rows, &n);
	if (err)
		goto cleanup;
	len = HDR_LEN + n * ROW_LEN + 32;
	buf = calloc(1, len);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	p = put(buf, state_magic, 8);
	p = put64(p, st->epoch);
	p = put64(p, st->seq);
	p = put64(p, (uint64_t)st->window_end_ms);
	p = put64(p, st->spool_drops);
	p = put64(p, st->lost.map_overflow);
	p = put64(p, st->lost.event_drops);
	p = put(p, st->last_digest, REPORT_DIGEST_LEN);
	p = put64(p, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t metric = (uint32_t)rows[i].metric;

		p = put(p, rows[i].tenant, METER_TENANT_LEN);
		for (int b = 0; b < 4; b++)
			*p++ = (uint8_t)(metric >> (8 * b));
		p = put(p, rows[i].route, METER_ROUTE_LEN);
		p = put(p, rows[i].method, METER_METHOD_LEN);
		*p++ = rows[i].status_class;
		p = put64(p, rows[i].value);
	}
	crypto_generichash(p, 32, buf, (size_t)(p - buf), NULL, 0);
	err = fileio_write_atomic(path, buf, len, 0600);
cleanup:
	free(rows);
	free(buf);
	return err;
}

static int parse_rows(const uint8_t *p, uint64_t n, struct delta_table *t)
{
	struct meter_row r;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t metric = 0;
		int err;

		memset(&r, 0, sizeof(r));
		memcpy(r.tenant, p, METER_TENANT_LEN);
		p += METER_TENANT_LEN;
		for (int b = 3; b >= 0; b--)
			metric = (metric << 8) | p[b];
		p += 4;
		memcpy(r.route, p, METER_ROUTE_LEN);
		p += METER_ROUTE_LEN;
		memcpy(r.method, p, METER_METHOD_LEN);
		p += METER_METHOD_LEN;
		r.status_class = *p++;
		p = get64(p, &r.value);
		r.metric = (int)metric;
		/* fixed arrays: force termination whatever the file said */
		r.tenant[METER_TENANT_LEN - 1] = '\0';
		r.route[METER_ROUTE_LEN - 1] = '\0';
		r.method[METER_METHOD_LEN - 1] = '\0';
		err = delta_set(t, &r, 1);
		if (err)
			return err;
	}
	return 0;
}

int state_load(const char *path, struct agent_state *st)
{
	char *buf = NULL;
	const uint8_t *p;
	uint8_t sum[32];
	uint64_t n, wend;
	size_t len, hdr = HDR_LEN;
	int err;

	memset(st, 0, sizeof(*st));
	if (sodium_init() < 0)
		return -EIO;
	err = fileio_read_all(path, HDR_LEN + (size_t)MAX_ROWS * ROW_LEN + 32, &buf, &len);
	if (err == -EFBIG)
		err = -EBADMSG;
	if (err)
		goto cleanup;
	err = -EBADMSG;
	if (len >= 8 && memcmp(buf, state_magic_v1, 8) == 0)
		hdr = HDR_LEN_V1;
	else if (len < 8 || memcmp(buf, state_magic, 8) != 0)
		goto cleanup;
	if (len < hdr + 32)
		goto cleanup;
	crypto_generichash(sum, 32, (uint8_t *)buf, len - 32, NULL, 0);
	if (sodium_memcmp(sum, buf + len - 32, 32) != 0)
		goto cleanup;
	p = (const uint8_t *)buf + 8;
	p = get64(p, &st->epoch);
	p = get64(p, &st->seq);
	p = get64(p, &wend);
	st->window_end_ms = (int64_t)wend;
	p = get64(p, &st->spool_drops);
	if (hdr == HDR_LEN) {
		p = get64(p, &st->lost.map_overflow);
		p = get64(p, &st->lost.event_drops);
		st->lost_known = true;
	}
	memcpy(st->last_digest, p, REPORT_DIGEST_LEN);
	p += REPORT_DIGEST_LEN;
	p = get64(p, &n);
	if (n > MAX_ROWS || len != hdr + n * ROW_LEN + 32)
		goto cleanup;
	err = delta_new(&st->baseline);
	if (err)
		goto cleanup;
	err = parse_rows(p, n, st->baseline);
cleanup:
	if (err)
		state_free(st);
	free(buf);
	return err;
}

/* Applies one spooled report (seq = st->seq + 1) to the state. */
static int roll_forward_one(struct agent_state *st, const uint8_t *pk,
			    struct spool *spool, const struct spool_entry *e)
{
	Truemeter__Report *r = NULL;
	struct meter_row *rows = NULL;
	uint8_t *buf = NULL, digest[REPORT_DIGEST_LEN];
	size_t len, n;
	char why[256];
	int err;

	err = spool_read(spool, e, &buf, &len);
	if (err)
		goto cleanup;
	err = report_open(buf, len, &r, digest, why, sizeof(why));
	if (err) {
		log_warn("spooled report seq %" PRIu64 " does not open: %s", e->seq, why);
		goto cleanup;
	}
	if (memcmp(r->agent_id.data, pk, REPORT_PK_LEN) != 0 ||
	    r->epoch != st->epoch || r->seq != st->seq + 1) {
		log_warn("spooled report seq %" PRIu64 " belongs to another key or "
			 "chain; not rolling forward", e->seq);
		err = -EBADMSG;
		goto cleanup;
	}
	err = reportbuild_rows(r, &rows, &n);
	if (err)
		goto cleanup;
	err = delta_apply(st->baseline, rows, n);
	if (err)
		goto cleanup;
	st->seq = r->seq;
	memcpy(st->last_digest, digest, REPORT_DIGEST_LEN);
	st->window_end_ms = r->window_end_ms;
	if (r->health && r->health->spool_drops > st->spool_drops)
		st->spool_drops = r->health->spool_drops;
	if (r->health)
		state_losses_declared(st, r->health->map_overflow, r->health->event_drops);
	log_info("recovered report seq %" PRIu64 " from the spool (the agent "
		 "stopped before saving its state)", r->seq);
cleanup:
	report_free(r);
	free(rows);
	free(buf);
	return err;
}

int state_roll_forward(struct agent_state *st, const uint8_t pk[REPORT_PK_LEN],
		       struct spool *spool)
{
	struct spool_entry e;
	int n = 0;

	while (spool_find(spool, st->epoch, st->seq + 1, &e)) {
		int err = roll_forward_one(st, pk, spool, &e);

		if (err == -ENOMEM)
			return err;
		if (err)
			break;      /* logged; the next report re-covers its usage */
		n++;
	}
	return n;
}
