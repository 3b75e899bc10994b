/* Shared helpers for the judge's unit tests: a real store in a temp file
 * and usage put in through store_report_put().  Header-only (static). */
#ifndef TM_JUDGE_TESTUTIL_H
#define TM_JUDGE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "store_billing.h"

/* The repository root, for fixtures under examples/: $TM_ROOT, the current
 * directory, or three levels above the test binary (BUILD/tests/test_x). */
static inline const char *tm_root(void)
{
	static char root[4096];
	const char *env = getenv("TM_ROOT");
	ssize_t n;

	if (env && *env)
		return env;
	if (access("examples", F_OK) == 0)
		return ".";
	n = readlink("/proc/self/exe", root, sizeof(root) - 1);
	if (n <= 0)
		return ".";
	root[n] = '\0';
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(root, '/');

		if (slash)
			*slash = '\0';
	}
	return root;
}

/* tm_root() + "/" + rel in one of 4 rotating static buffers. */
static inline const char *tm_path(const char *rel)
{
	static char buf[4][4200];
	static int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), "%s/%s", tm_root(), rel);
	return b;
}

struct tstore {
	char path[64];
	struct store *s;
	uint64_t seq;
	int64_t received_ms;            /* when reports arrive; 0: as their window ends */
	uint64_t lost[2];               /* map overflow and event drops the
					 * next reports declare in their windows */
};

static inline struct store *tstore_open(struct tstore *t)
{
	int fd;

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "/tmp/tm-judge-test.XXXXXX");
	fd = mkstemp(t->path);
	if (fd < 0)
		return NULL;
	close(fd);
	unlink(t->path);
	if (store_open(t->path, &t->s) || store_billing_init(t->s))
		return NULL;
	return t->s;
}

static inline void tstore_close(struct tstore *t)
{
	char p[96];

	store_close(t->s);
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
}

/* One report (its own seq) from the agent whose key is all `who` bytes,
 * holding one usage row. */
static inline int tstore_usage_from(struct tstore *t, uint8_t who, const char *tenant,
				    int metric, int64_t start_ms, int64_t end_ms,
				    uint64_t value)
{
	uint8_t agent[32], digest[32];
	char *strings[2] = { "", (char *)tenant };
	Truemeter__UsageRow row = TRUEMETER__USAGE_ROW__INIT, *rows[1] = { &row };
	Truemeter__Report r = TRUEMETER__REPORT__INIT;
	Truemeter__Health h = TRUEMETER__HEALTH__INIT;
	int rc;

	memset(agent, who, sizeof(agent));
	t->seq++;
	memset(digest, 0, sizeof(digest));
	memcpy(digest, &t->seq, sizeof(t->seq));
	r.agent_id.data = agent;
	r.agent_id.len = sizeof(agent);
	r.epoch = 1;
	r.seq = t->seq;
	r.window_start_ms = start_ms;
	r.window_end_ms = end_ms;
	r.n_strings = 2;
	r.strings = strings;
	row.tenant = 1;
	row.metric = (Truemeter__Metric)metric;
	row.value = value;
	r.n_rows = 1;
	r.rows = rows;
	h.map_overflow_window = t->lost[0];
	h.event_drops_window = t->lost[1];
	r.health = &h;
	store_set_clock(t->s, t->received_ms ? t->received_ms : end_ms);
	rc = store_report_put(t->s, &r, digest, 1, 0, NULL);
	store_set_clock(t->s, 0);
	return rc == STORE_PUT_NEW ? 0 : -1;
}

/* The same from agent 'A' (0x41 bytes). */
static inline int tstore_usage(struct tstore *t, const char *tenant, int metric,
			       int64_t start_ms, int64_t end_ms, uint64_t value)
{
	return tstore_usage_from(t, 'A', tenant, metric, start_ms, end_ms, value);
}

/* A report whose arrival reveals missing seqs [from, to]: a metering gap. */
static inline int tstore_gap(struct tstore *t, int64_t start_ms, int64_t end_ms)
{
	uint8_t agent[32], digest[32];
	char *strings[1] = { "" };
	Truemeter__Report r = TRUEMETER__REPORT__INIT;
	uint64_t from;
	int rc;

	memset(agent, 'A', sizeof(agent));
	from = t->seq + 1;
	t->seq += 3;
	memset(digest, 0, sizeof(digest));
	memcpy(digest, &t->seq, sizeof(t->seq));
	r.agent_id.data = agent;
	r.agent_id.len = sizeof(agent);
	r.epoch = 1;
	r.seq = t->seq;
	r.window_start_ms = start_ms;
	r.window_end_ms = end_ms;
	r.n_strings = 1;
	r.strings = strings;
	store_set_clock(t->s, t->received_ms ? t->received_ms : end_ms);
	rc = store_report_put(t->s, &r, digest, from, t->seq - 1, "reports missing");
	store_set_clock(t->s, 0);
	return rc == STORE_PUT_NEW ? 0 : -1;
}

#endif
