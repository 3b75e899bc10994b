/* The logger: stamped lines on a plain stderr; under the journal (stderr
 * is the stream JOURNAL_STREAM names) each line of a message carries the
 * priority prefix, and levels above the set one are dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct capture {
	char path[64];
	int saved_stderr;
};

/* stderr into a temp file; journal: JOURNAL_STREAM names that file */
static void capture_start(struct capture *c, int journal)
{
	struct stat st;
	char env[64];
	int fd;

	snprintf(c->path, sizeof(c->path), "/tmp/tm-log-test.XXXXXX");
	fd = mkstemp(c->path);
	assert_true(fd >= 0);
	fflush(stderr);
	c->saved_stderr = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)(st.st_ino + (journal ? 0 : 1)));
	setenv("JOURNAL_STREAM", env, 1);
}

/* stderr back; what was written, NUL-terminated (caller frees) */
static char *capture_end(struct capture *c)
{
	char *buf = calloc(1, 8192);
	FILE *f;

	fflush(stderr);
	dup2(c->saved_stderr, STDERR_FILENO);
	close(c->saved_stderr);
	unsetenv("JOURNAL_STREAM");
	f = fopen(c->path, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, 8191, f) < 8191);
	fclose(f);
	unlink(c->path);
	return buf;
}

static void test_journal_every_line_prefixed(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	capture_start(&c, 1);
	log_init("/usr/bin/truemeter-agent", LOG_LVL_INFO);
	log_warn("verifier said:\n0: r1 = 0\n1: exit\n");
	log_info("one line");
	log_debug("not at this level");
	out = capture_end(&c);
	assert_string_equal(out, "<4>verifier said:\n<4>0: r1 = 0\n<4>1: exit\n<6>one line\n");
	free(out);
}

static void test_plain_stderr_stamped(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	capture_start(&c, 0);           /* another stream's dev:ino: not the journal */
	log_init("truemeter-collector", LOG_LVL_DEBUG);
	log_debug("value %d", 42);
	out = capture_end(&c);
	/* 2026-11-26T17:48:15.123Z truemeter-collector[debug]: value 42 */
	assert_int_equal(strlen(out), 24 + strlen(" truemeter-collector[debug]: value 42\n"));
	assert_true(out[4] == '-' && out[10] == 'T' && out[23] == 'Z');
	assert_string_equal(out + 24, " truemeter-collector[debug]: value 42\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_every_line_prefixed),
		cmocka_unit_test(test_plain_stderr_stamped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
