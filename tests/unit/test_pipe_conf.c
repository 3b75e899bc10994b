/* Agent and collector configuration: defaults, every section in one file,
 * and errors that name file:line or the missing setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_conf.h"
#include "collector_conf.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	strcpy(path, "/tmp/tm-test-pipeconf.XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int agent_load(const char *text, struct agent_conf *c, char *err)
{
	int rc;

	write_file(text);
	agent_conf_defaults(c);
	rc = agent_conf_load(path, c, err, 512);
	unlink(path);
	return rc;
}

static int collector_load(const char *text, struct collector_conf *c, char *err)
{
	struct conf_table t[] = { { collector_conf_keys(), c }, { NULL, NULL } };
	int rc;

	write_file(text);
	collector_conf_defaults(c);
	rc = conf_load(path, t, err, 512);
	if (!rc)
		rc = collector_conf_check(c, path, err, 512);
	unlink(path);
	return rc;
}

static const char agent_ok[] =
	"[agent]\nkey = /k\nstate_dir = /s\ninterval = 50ms\n"
	"[collector]\nurl = tcp://127.0.0.1:1\nretry_max = 2s\n"
	"[spool]\nmax_reports = 10\nmax_bytes = 1M\n"
	"[tenant acme]\ncgroup = acme.slice\n";

static void test_agent(void **state)
{
	static struct agent_conf c;
	char err[512], text[1024];

	assert_int_equal(agent_load(agent_ok, &c, err), 0);
	assert_string_equal(c.key, "/k");
	assert_int_equal(c.interval_ms, 50);
	assert_int_equal(c.retry_max_ms, 2000);
	assert_int_equal(c.retry_min_ms, 100);
	assert_int_equal(c.spool_max_reports, 10);
	assert_int_equal(c.spool_max_bytes, 1 << 20);
	assert_int_equal(c.meter.n_cgroups, 1);
	assert_int_equal(c.timeout_ms, 5000);
	assert_int_equal(c.max_report, 1 << 20);

	snprintf(text, sizeof(text), "%s[collector]\nmax_report = 2M\n", agent_ok);
	assert_true(agent_load(text, &c, err) < 0);
	assert_non_null(strstr(err, "max_report is above [spool] max_bytes"));
	snprintf(text, sizeof(text), "%s[collector]\nmax_report = 512\n", agent_ok);
	assert_true(agent_load(text, &c, err) < 0);
	assert_non_null(strstr(err, ":14: 'max_report' = 512 is out of range [1K, 1G]"));
	snprintf(text, sizeof(text), "%s[agent]\nbogus = 1\n", agent_ok);
	assert_true(agent_load(text, &c, err) < 0);
	assert_non_null(strstr(err, ":14: unknown key 'bogus' in [agent]"));
	snprintf(text, sizeof(text), "%s[collector]\nurl = http://x\n", agent_ok);
	assert_true(agent_load(text, &c, err) < 0);
	assert_non_null(strstr(err, "must start with tcp://"));
	snprintf(text, sizeof(text), "%s[collector]\nurl = tls+tcp://x:1\n", agent_ok);
	assert_true(agent_load(text, &c, err) < 0);
	assert_non_null(strstr(err, "needs tls_ca"));
	assert_true(agent_load("[agent]\ninterval = 5ms\n", &c, err) < 0);
	assert_non_null(strstr(err, ":2: 'interval' = 5ms is out of range [10ms, 1d]"));
	assert_true(agent_load("[collector]\nurl = tcp://a:1\n[tenant a]\ncgroup = x\n",
			       &c, err) < 0);
	assert_non_null(strstr(err, "[agent] key is required"));
	assert_true(agent_load("[agent]\nkey = /k\n[collector]\nurl = tcp://a:1\n", &c, err) < 0);
	assert_non_null(strstr(err, "nothing to meter"));

	assert_int_equal(c.meter.http_hooks, METER_HTTP_HOOKS_AUTO);
	snprintf(text, sizeof(text), "%s[http]\nhooks = syscall\n", agent_ok);
	assert_int_equal(agent_load(text, &c, err), 0);
	assert_int_equal(c.meter.http_hooks, METER_HTTP_HOOKS_SYSCALL);
	snprintf(text, sizeof(text), "%s[http]\nhooks = kprobe\n", agent_ok);
	assert_true(agent_load(text, &c, err) < 0);
	assert_non_null(strstr(err, ":14: hooks must be auto, socket or syscall, not 'kprobe'"));
}

static void test_collector(void **state)
{
	static struct collector_conf c;
	char err[512];

	assert_int_equal(collector_load("[collector]\nlisten = tcp://0.0.0.0:1\n"
					"listen = ipc:///tmp/x\nenrolled_keys = /k\n"
					"enroll = " "00112233445566778899aabbccddeeff"
					"00112233445566778899aabbccddeeff\n", &c, err), 0);
	assert_int_equal(c.n_listen, 2);
	assert_int_equal(c.n_enroll, 1);
	assert_int_equal(c.enroll[0][1], 0x11);
	assert_int_equal(c.max_message, 4 << 20);
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.ipc_mode, 0666);

	assert_int_equal(collector_load("[collector]\nlisten = ipc:///tmp/x\n"
					"enrolled_keys = /k\nipc_mode = 660\n", &c, err), 0);
	assert_int_equal(c.ipc_mode, 0660);
	assert_int_equal(collector_load("[collector]\nlisten = ipc:///tmp/x\n"
					"enrolled_keys = /k\nipc_mode = 0600\n", &c, err), 0);
	assert_int_equal(c.ipc_mode, 0600);
	static const char *const bad_modes[] = { "0668", "rw-rw-rw-", "01777", "", "-1" };
	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "[collector]\nlisten = ipc:///x\n"
			 "enrolled_keys = /k\nipc_mode = %s\n", bad_modes[i]);
		assert_true(collector_load(text, &c, err) < 0);
		assert_non_null(strstr(err, ":4: ipc_mode '"));
		assert_non_null(strstr(err, "' is not octal permission bits"));
	}

	assert_true(collector_load("[collector]\nlisten = udp://x\n", &c, err) < 0);
	assert_non_null(strstr(err, ":2: listen URL 'udp://x' must start with"));
	assert_true(collector_load("[collector]\nlisten = tcp://a:1\nenroll = 12zz\n",
				   &c, err) < 0);
	assert_non_null(strstr(err, ":3: enroll key '12zz' is not 64 hex digits"));
	assert_true(collector_load("[collector]\nlisten = tcp://a:1\n", &c, err) < 0);
	assert_non_null(strstr(err, "no agent is enrolled"));
	assert_true(collector_load("[collector]\nenrolled_keys = /k\n", &c, err) < 0);
	assert_non_null(strstr(err, "at least one listen URL"));
	assert_true(collector_load("[collector]\nlisten = tls+tcp://a:1\nenrolled_keys = /k\n",
				   &c, err) < 0);
	assert_non_null(strstr(err, "needs tls_cert and tls_key"));

	/* retention: off by default, never shorter than what is reconciled */
	assert_int_equal(c.retention_days, 0);
	assert_int_equal(collector_load("[collector]\nlisten = ipc:///x\nenrolled_keys = /k\n"
					"retention_days = 400\n", &c, err), 0);
	assert_int_equal(c.retention_days, 400);
	assert_true(collector_load("[collector]\nlisten = ipc:///x\nenrolled_keys = /k\n"
				   "retention_days = 30\n", &c, err) < 0);
	assert_non_null(strstr(err, "retention_days = 30 is under 63"));
	assert_true(collector_load("[collector]\nlisten = ipc:///x\nenrolled_keys = /k\n"
				   "retention_days = a year\n", &c, err) < 0);
	assert_non_null(strstr(err, ":4: bad number 'a year' for 'retention_days'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_collector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
