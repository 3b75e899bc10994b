/* Table-driven config parsing: values, units, ranges, unknown keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

struct sample {
	char url[32];
	int64_t interval_ms;
	int64_t spool_max;
	int64_t workers;
	bool verbose;
	int tenants;
	char last_tenant[32];
};

static int parse_tenant(void *obj, const char *section, const char *name,
			const char *value, char *err, size_t errlen)
{
	struct sample *s = obj;

	if (strcmp(value, "bad") == 0) {
		snprintf(err, errlen, "tenant '%s' has a bad cgroup", conf_section_arg(section));
		return -EINVAL;
	}
	s->tenants++;
	snprintf(s->last_tenant, sizeof(s->last_tenant), "%s", conf_section_arg(section));
	return 0;
}

static const struct conf_key keys[] = {
	{ "collector", "url", CONF_STRING, offsetof(struct sample, url), 32 },
	{ "agent", "interval", CONF_DURATION, offsetof(struct sample, interval_ms), 0, 1, 3600000 },
	{ "spool", "max_size", CONF_SIZE, offsetof(struct sample, spool_max) },
	{ "agent", "workers", CONF_INT, offsetof(struct sample, workers), 0, 1, 16 },
	{ "agent", "verbose", CONF_BOOL, offsetof(struct sample, verbose) },
	{ "tenant *", "cgroup", CONF_CUSTOM, 0, 0, 0, 0, parse_tenant },
	{ NULL },
};

static int load(const char *text, struct sample *s, char *err, size_t errlen)
{
	char path[] = "/tmp/tm-test-conf.XXXXXX";
	int fd = mkstemp(path), rc;
	struct conf_table tables[] = { { keys, s }, { NULL, NULL } };

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = conf_load(path, tables, err, errlen);
	unlink(path);
	return rc;
}

static void test_good_file(void **state)
{
	struct sample s = { 0 };
	char err[256] = "";

	(void)state;
	assert_int_equal(load("[collector]\nurl = tcp://127.0.0.1:7000\n"
			      "[agent]\ninterval = 250ms\nworkers = 4\nverbose = yes\n"
			      "[spool]\nmax_size = 16M\n"
			      "[tenant acme]\ncgroup = /x\n[tenant globex]\ncgroup = /y\n",
			      &s, err, sizeof(err)), 0);
	assert_string_equal(s.url, "tcp://127.0.0.1:7000");
	assert_int_equal(s.interval_ms, 250);
	assert_int_equal(s.workers, 4);
	assert_true(s.verbose);
	assert_int_equal(s.spool_max, 16 << 20);
	assert_int_equal(s.tenants, 2);
	assert_string_equal(s.last_tenant, "globex");
}

static void test_errors_name_line(void **state)
{
	struct sample s = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(load("[agent]\ninterval = 1s\nbogus = 1\n", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":3: unknown key 'bogus' in [agent]"));
	assert_int_equal(load("[agnet]\ninterval = 1s\n", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: unknown section [agnet]"));
	assert_int_equal(load("[agent]\n\ninterval = 10 parsecs\n", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":3: bad duration"));
	assert_int_equal(load("[agent]\nworkers = 99\n", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: 'workers' = 99 is out of range [1, 16]"));
	/* durations in units, as the file writes them */
	assert_int_equal(load("[agent]\ninterval = 2h\n", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: 'interval' = 2h is out of range [1ms, 1h]"));
	assert_int_equal(load("[collector]\nurl = tcp://a-very-long-host-name.example:7000\n",
			      &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than 31 bytes"));
	assert_int_equal(load("[tenant x]\ncgroup = bad\n", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: tenant 'x' has a bad cgroup"));
	assert_int_equal(load("[agent]\nverbose = maybe\n", &s, err, sizeof(err)), -EINVAL);
	assert_int_equal(load("not ini at all\n", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1:"));
}

static void test_missing_file(void **state)
{
	struct conf_table tables[] = { { keys, NULL }, { NULL, NULL } };
	char err[256];

	(void)state;
	assert_int_equal(conf_load("/nonexistent/x.conf", tables, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.conf: cannot read"));
}

static void test_value_parsers(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(conf_parse_duration_ms("2m", &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(conf_parse_duration_ms("-1s", &v), -EINVAL);
	assert_int_equal(conf_parse_duration_ms("0", &v), 0);     /* no unit needed */
	assert_int_equal(v, 0);
	assert_int_equal(conf_parse_duration_ms("10", &v), -EINVAL);  /* 10 what? */
	assert_int_equal(conf_parse_size("1G", &v), 0);
	assert_int_equal(v, 1 << 30);
	assert_int_equal(conf_parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(conf_parse_int("12x", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_errors_name_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_value_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
