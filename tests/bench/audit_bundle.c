/* An auditor's month: signed, chained reports in a real store, then
 * `truemeter audit export` and `truemeter audit verify` run as the user
 * runs them, each timed, with its peak resident memory from wait4().  Both
 * stream, so their memory should not follow the bundle.
 *
 *   audit_bundle fill DIR N ROWS     N reports of ROWS rows into DIR/t.db,
 *                                    signed with DIR/a.key (DIR/a.pub)
 *   audit_bundle run NAME CMD...     runs CMD (its stdout discarded) and
 *                                    prints BENCH audit_NAME_s and
 *                                    audit_NAME_rss_kib; fails if CMD does
 * The child's peak RSS counts its pages from before exec, so run is its
 * own small process, not the one that filled the store. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "report.h"
#include "store.h"
#include "store_sqlite.h"

#define TENANTS 50
#define MONTH_START 1793491200000LL          /* 2026-11-01T00:00:00Z */

extern char **environ;

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int put_one(struct store *s, const struct report_key *key, uint64_t seq, int rows,
		   char **strings, uint8_t prev[REPORT_DIGEST_LEN])
{
	Truemeter__Report r = TRUEMETER__REPORT__INIT;
	Truemeter__UsageRow *row = calloc((size_t)rows, sizeof(*row));
	Truemeter__UsageRow **ptrs = calloc((size_t)rows, sizeof(*ptrs));
	uint8_t digest[REPORT_DIGEST_LEN], *env = NULL;
	size_t len;
	int err = -ENOMEM;

	if (!row || !ptrs)
		goto cleanup;
	r.agent_id.data = (uint8_t *)key->pk;
	r.agent_id.len = REPORT_PK_LEN;
	r.epoch = 1;
	r.seq = seq;
	r.window_start_ms = MONTH_START + (int64_t)seq * 10000;
	r.window_end_ms = r.window_start_ms + 10000;
	r.strings = strings;
	r.n_strings = TENANTS + 1;
	for (int i = 0; i < rows; i++) {
		truemeter__usage_row__init(&row[i]);
		row[i].tenant = 1 + (uint32_t)(i % TENANTS);
		row[i].metric = (Truemeter__Metric)(1 + (i / TENANTS) % 7);
		row[i].value = seq * 1000 + (uint64_t)i;
		ptrs[i] = &row[i];
	}
	r.rows = ptrs;
	r.n_rows = (size_t)rows;
	if (seq > 1) {
		r.prev_digest.data = prev;
		r.prev_digest.len = REPORT_DIGEST_LEN;
	}
	err = report_seal(key, &r, &env, &len, digest);
	if (err)
		goto cleanup;
	err = store_report_put_signed(s, &r, digest, env, len, 1, 0, NULL);   /* no gap */
	if (err >= 0)
		err = 0;
	memcpy(prev, digest, REPORT_DIGEST_LEN);
cleanup:
	free(env);
	free(row);
	free(ptrs);
	return err;
}

static int fill(const char *dir, long n, int rows, const char *pub)
{
	char db[512], priv[512], names[TENANTS][8], *strings[TENANTS + 1];
	uint8_t prev[REPORT_DIGEST_LEN] = { 0 };
	struct report_key key;
	struct store *s = NULL;
	int err;

	snprintf(db, sizeof(db), "%s/t.db", dir);
	snprintf(priv, sizeof(priv), "%s/a.key", dir);
	strings[0] = "";
	for (int t = 0; t < TENANTS; t++) {
		snprintf(names[t], sizeof(names[t]), "t%02d", t);
		strings[t + 1] = names[t];
	}
	err = report_keygen(priv, pub);
	if (!err)
		err = report_key_load(priv, &key);
	if (!err)
		err = store_open(db, &s);
	/* setting up only: the bench measures reading the store, not filling it */
	if (!err)
		err = store_sqlite_exec(s, "PRAGMA synchronous=OFF");
	for (long seq = 1; !err && seq <= n; seq++)
		err = put_one(s, &key, (uint64_t)seq, rows, strings, prev);
	store_close(s);
	return err;
}

/* Runs argv with stdout on /dev/null; its exit status, wall time and peak RSS. */
static int run(char *const argv[], double *secs, long *rss_kib)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	double t0 = mono_s();
	pid_t pid;
	int st, err;

	err = posix_spawn_file_actions_init(&fa);
	if (err)
		return -err;
	err = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (!err)
		err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return -err;
	if (wait4(pid, &st, 0, &ru) < 0)
		return -errno;
	*secs = mono_s() - t0;
	*rss_kib = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(int argc, char **argv)
{
	char pub[512];
	double secs = 0;
	long rss = 0, n;
	int rows, rc;

	if (argc == 5 && !strcmp(argv[1], "fill") && (n = atol(argv[3])) > 0 &&
	    (rows = atoi(argv[4])) > 0) {
		snprintf(pub, sizeof(pub), "%s/a.pub", argv[2]);
		if (fill(argv[2], n, rows, pub)) {
			fprintf(stderr, "audit_bundle: cannot fill the store in %s\n", argv[2]);
			return 1;
		}
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "run")) {
		rc = run(argv + 3, &secs, &rss);
		if (rc < 0)
			fprintf(stderr, "audit_bundle: cannot run %s: %s\n", argv[3], strerror(-rc));
		else if (rc)
			fprintf(stderr, "audit_bundle: %s exited %d\n", argv[3], rc);
		if (rc)
			return 1;
		printf("BENCH audit_%s_s %.2f s\n", argv[2], secs);
		printf("BENCH audit_%s_rss_kib %ld KiB\n", argv[2], rss);
		return 0;
	}
	fprintf(stderr, "usage: audit_bundle fill DIR N ROWS | run NAME CMD...\n");
	return 2;
}
