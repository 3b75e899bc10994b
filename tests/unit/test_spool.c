/* Spool: round trip, order, checksum and corruption handling, bounds,
 * rejected/ and leftover temp files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/tm-test-spool.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void add(struct spool *s, uint64_t seq, size_t len)
{
	uint8_t buf[4096];

	assert_true(len <= sizeof(buf));
	memset(buf, (int)seq, len);
	assert_int_equal(spool_add(s, 7, seq, buf, len), 0);
	spool_publish(s);
}

static size_t count_files(const char *dir)
{
	char cmd[256];
	FILE *p;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '\\.rep$'", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%zu", &n), 1);
	pclose(p);
	return n;
}

static void test_roundtrip_order(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	struct spool_entry e;
	uint8_t *buf;
	size_t len;

	assert_int_equal(spool_open(f->dir, 0, 0, &s), 0);
	assert_int_equal(spool_oldest(s, &e), 0);
	for (uint64_t seq = 1; seq <= 5; seq++)
		add(s, seq, 100 + seq);
	spool_close(s);

	/* reopen: the index comes back from the directory, oldest first */
	assert_int_equal(spool_open(f->dir, 0, 0, &s), 0);
	for (uint64_t seq = 1; seq <= 5; seq++) {
		assert_int_equal(spool_oldest(s, &e), 1);
		assert_int_equal(e.seq, seq);
		assert_int_equal(e.epoch, 7);
		assert_int_equal(spool_read(s, &e, &buf, &len), 0);
		assert_int_equal(len, 100 + seq);
		assert_int_equal(buf[0], seq);
		assert_int_equal(buf[len - 1], seq);
		free(buf);
		assert_int_equal(spool_remove(s, &e), 0);
	}
	assert_int_equal(spool_oldest(s, &e), 0);
	assert_int_equal(count_files(f->dir), 0);
	spool_close(s);
}

static void corrupt_file(const char *dir, const struct spool_entry *e, off_t off)
{
	char name[80], path[256];
	int fd;
	uint8_t b;

	spool_entry_name(e, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void test_corruption(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	struct spool_entry e, e2;
	struct spool_stats st;
	uint8_t *buf;
	size_t len;
	char path[256];

	assert_int_equal(spool_open(f->dir, 0, 0, &s), 0);
	add(s, 1, 200);
	add(s, 2, 200);
	add(s, 3, 200);
	/* payload bit flip in 1, header (length) damage in 2 */
	assert_int_equal(spool_oldest(s, &e), 1);
	corrupt_file(f->dir, &e, SPOOL_HEADER_LEN + 50);
	assert_int_equal(spool_find(s, 7, 2, &e2), 1);
	corrupt_file(f->dir, &e2, 24);

	assert_int_equal(spool_read(s, &e, &buf, &len), -EBADMSG);
	assert_null(buf);
	assert_int_equal(spool_read(s, &e2, &buf, &len), -EBADMSG);
	/* both moved aside, counted, out of the index; 3 still reads */
	spool_stats_get(s, &st);
	assert_int_equal(st.corrupt, 2);
	assert_int_equal(st.reports, 1);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 3);
	assert_int_equal(spool_read(s, &e, &buf, &len), 0);
	free(buf);
	snprintf(path, sizeof(path), "%s/corrupt", f->dir);
	assert_int_equal(count_files(path), 2);
	spool_close(s);
}

static void test_truncated_and_garbage(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	struct spool_entry e;
	uint8_t *buf;
	size_t len;
	char name[80], path[256];

	assert_int_equal(spool_open(f->dir, 0, 0, &s), 0);
	add(s, 1, 300);
	assert_int_equal(spool_oldest(s, &e), 1);
	spool_entry_name(&e, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(truncate(path, 100), 0);
	spool_close(s);
	/* a file named like a report but empty, and a leftover temp file */
	snprintf(path, sizeof(path), "%s/00000000000000000009-0000000000000007-"
		 "00000000000000000002.rep", f->dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(path, sizeof(path), "%s/x.rep.tmp.123", f->dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));

	assert_int_equal(spool_open(f->dir, 0, 0, &s), 0);
	assert_int_equal(access(path, F_OK), -1);       /* temp removed */
	while (spool_oldest(s, &e))
		assert_int_equal(spool_read(s, &e, &buf, &len), -EBADMSG);
	snprintf(path, sizeof(path), "%s/corrupt", f->dir);
	assert_int_equal(count_files(path), 2);
	/* new reports continue after the highest serial seen */
	add(s, 3, 10);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_true(e.serial > 9);
	spool_close(s);
}

static void test_bounds_count(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	struct spool_entry e;
	struct spool_stats st;
	uint64_t dropped, total = 0;

	assert_int_equal(spool_open(f->dir, 0, 3, &s), 0);
	for (uint64_t seq = 1; seq <= 5; seq++) {
		assert_int_equal(spool_make_room(s, 50, &dropped), 0);
		total += dropped;
		add(s, seq, 50);
	}
	/* 5 added into room for 3: the two oldest went */
	assert_int_equal(total, 2);
	spool_stats_get(s, &st);
	assert_int_equal(st.reports, 3);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 3);
	assert_int_equal(count_files(f->dir), 3);
	/* seq 3 is in flight (sent, no ack yet): it may be stored already, so
	 * the drops take the newer 4 and 5, never 3 */
	for (uint64_t seq = 6; seq <= 7; seq++) {
		assert_int_equal(spool_make_room(s, 50, &dropped), 0);
		assert_int_equal(dropped, 1);
		add(s, seq, 50);
	}
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 3);
	assert_int_equal(spool_remove(s, &e), 0);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 6);
	spool_close(s);
}

static void test_bounds_bytes(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	struct spool_entry e;
	struct spool_stats st;
	uint64_t dropped, total = 0;
	size_t each = 1000 + SPOOL_HEADER_LEN;

	assert_int_equal(spool_open(f->dir, (int64_t)(4 * each), 0, &s), 0);
	for (uint64_t seq = 1; seq <= 10; seq++) {
		assert_int_equal(spool_make_room(s, 1000, &dropped), 0);
		total += dropped;
		add(s, seq, 1000);
		spool_stats_get(s, &st);
		assert_true(st.bytes <= 4 * each);
	}
	assert_int_equal(total, 6);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 7);
	spool_close(s);
}

static void test_reject(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	struct spool_entry e;
	struct spool_stats st;
	char path[256];

	assert_int_equal(spool_open(f->dir, 0, 0, &s), 0);
	add(s, 1, 10);
	add(s, 2, 10);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(spool_reject(s, &e), 0);
	spool_stats_get(s, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.reports, 1);
	snprintf(path, sizeof(path), "%s/rejected", f->dir);
	assert_int_equal(count_files(path), 1);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 2);
	/* removing twice is harmless (acked after a drop raced with it) */
	assert_int_equal(spool_remove(s, &e), 0);
	assert_int_equal(spool_remove(s, &e), 0);
	assert_int_equal(spool_wait(s, 10), 0);
	spool_close(s);
}

/* rejected/ is bounded like the spool: a revoked agent, whose every report
 * is rejected, keeps the newest that fit its bytes, never all. */
static void test_reject_bounded(void **state)
{
	struct fixture *f = *state;
	size_t each = 1000 + SPOOL_HEADER_LEN;
	struct spool_entry e;
	struct spool *s;
	char path[256];

	assert_int_equal(spool_open(f->dir, (int64_t)(3 * each), 0, &s), 0);
	for (uint64_t seq = 1; seq <= 5; seq++) {
		add(s, seq, 1000);
		assert_int_equal(spool_oldest(s, &e), 1);
		assert_int_equal(spool_reject(s, &e), 0);
	}
	snprintf(path, sizeof(path), "%s/rejected", f->dir);
	assert_int_equal(count_files(path), 3);
	/* the newest three (serials 3..5) */
	for (uint64_t serial = 1; serial <= 5; serial++) {
		struct spool_entry gone = { .serial = serial, .epoch = 7, .seq = serial };
		char name[80];

		spool_entry_name(&gone, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/rejected/%s", f->dir, name);
		assert_int_equal(access(path, F_OK) == 0, serial >= 3);
	}
	spool_close(s);
}

/* Until it is published, a report is durable but the sender cannot see it. */
static void test_unpublished_is_held(void **state)
{
	struct fixture *f = *state;
	struct spool *s = NULL;
	struct spool_entry e;
	uint8_t buf[16] = { 1 };

	assert_int_equal(spool_open(f->dir, 1 << 20, 100, &s), 0);
	assert_int_equal(spool_add(s, 7, 1, buf, sizeof(buf)), 0);
	assert_int_equal(spool_oldest(s, &e), 0);
	assert_int_equal(spool_wait(s, 10), 0);
	assert_int_equal(count_files(f->dir), 1);
	spool_publish(s);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 1);
	spool_close(s);
	/* a restart sees what the last run spooled as published */
	assert_int_equal(spool_open(f->dir, 1 << 20, 100, &s), 0);
	assert_int_equal(spool_add(s, 7, 2, buf, sizeof(buf)), 0);
	assert_int_equal(spool_oldest(s, &e), 1);
	assert_int_equal(e.seq, 1);
	spool_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unpublished_is_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
