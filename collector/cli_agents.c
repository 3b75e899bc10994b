/* truemeter agents: every agent that has stored reports, with what its
 * latest report declared about the meter's own health, and whether it is
 * still reporting; and every agent enrolled that has not reported (silent
 * once silent_after has passed since it was enrolled).
 *
 *   truemeter agents [--json] [--at TIME]
 *   truemeter agents retire AGENT
 *
 * A table by default; --json prints one JSON object per line.  Drops and
 * overflow are the agent's cumulative counts: usage its meter could not
 * count, which no reconciliation can see.  An agent in service that has
 * not reported for [reconcile] silent_after is "silent" (a metering gap);
 * `retire` takes a decommissioned one out of service (by its key or a
 * unique prefix of it), until it reports again. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "agents_view.h"
#include "cli.h"
#include "judge_conf.h"
#include "period.h"
#include "store.h"

#define USAGE "usage: truemeter agents [--json] [--at TIME]\n" \
	      "       truemeter agents retire AGENT\n"

struct listing {
	bool json;
	int64_t now_ms, quiet_ms;
};

static const char *agent_status(const struct store_agent *a, const struct listing *l)
{
	return agents_view_state_name(agents_view_state(a, l->now_ms, l->quiet_ms, 0));
}

/* A time as JSON, or null when there is none. */
static json_object *time_or_null(bool have, int64_t ms)
{
	char t[32];

	if (!have)
		return NULL;
	period_format_time(ms, t, sizeof(t));
	return json_object_new_string(t);
}

static int print_agent(const struct store_agent *a, void *arg)
{
	const struct listing *l = arg;
	char last[32];
	json_object *j;

	/* enrolled, never reported: no window, nothing heard */
	if (a->reports)
		period_format_time(a->window_end_ms, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "-");
	if (!l->json) {
		printf("%-16.16s %-20s %-20s %-9s %9" PRIu64 " %11" PRIu64 " %12" PRIu64
		       " %11" PRIu64 " %s\n", a->agent_hex, a->hostname, last,
		       agent_status(a, l), a->reports, a->event_drops, a->map_overflow,
		       a->spool_drops, *a->hooks_missing ? a->hooks_missing : "-");
		return 0;
	}
	j = json_object_new_object();
	json_object_object_add(j, "agent", json_object_new_string(a->agent_hex));
	json_object_object_add(j, "hostname", json_object_new_string(a->hostname));
	json_object_object_add(j, "reports", json_object_new_int64((int64_t)a->reports));
	json_object_object_add(j, "last_window_end",
			       time_or_null(a->reports != 0, a->window_end_ms));
	json_object_object_add(j, "last_heard", time_or_null(a->reports != 0, a->heard_ms));
	json_object_object_add(j, "enrolled", time_or_null(a->enrolled_ms != 0, a->enrolled_ms));
	json_object_object_add(j, "status", json_object_new_string(agent_status(a, l)));
	json_object_object_add(j, "retired", time_or_null(a->retired_ms != 0, a->retired_ms));
	json_object_object_add(j, "event_drops", json_object_new_int64((int64_t)a->event_drops));
	json_object_object_add(j, "map_overflow", json_object_new_int64((int64_t)a->map_overflow));
	json_object_object_add(j, "spool_drops", json_object_new_int64((int64_t)a->spool_drops));
	json_object_object_add(j, "hooks_missing", json_object_new_string(a->hooks_missing));
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return 0;
}

/* A key or the start of one: lower-case hex, as the store names agents. */
static bool key_prefix_ok(char *p)
{
	size_t n = strlen(p);

	if (n < 4 || n > REPORT_PK_HEX_LEN)
		return false;
	for (char *c = p; *c; c++) {
		if (!isxdigit((unsigned char)*c))
			return false;
		*c = (char)tolower((unsigned char)*c);
	}
	return true;
}

static int retire(const struct cli_env *env, int argc, char **argv)
{
	char hex[REPORT_PK_HEX_LEN + 1], since[32];
	int64_t retired_ms = 0;
	struct store *s = NULL;
	int rc;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf(USAGE);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "truemeter agents retire: expected one AGENT (its key, or a "
			"unique prefix of 4 or more hex digits)\n" USAGE);
		return 2;
	}
	if (!key_prefix_ok(argv[1])) {
		fprintf(stderr, "truemeter agents retire: '%s' is not an agent key or a prefix "
			"of 4 to %d hex digits\n", argv[1], REPORT_PK_HEX_LEN);
		return 2;
	}
	if (cli_store_open(env, "agents retire", false, &s))
		return 1;
	rc = store_agent_retire(s, argv[1], period_now_ms(), hex, &retired_ms);
	store_close(s);
	if (rc == -ENOENT || rc == -ENOTUNIQ) {
		fprintf(stderr, "truemeter agents retire: %s agent key starts with '%s'"
			" (truemeter agents lists them)\n", rc == -ENOENT ? "no" : "more than one",
			argv[1]);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "truemeter agents retire: %s\n", strerror(-rc));
		return 1;
	}
	period_format_time(retired_ms, since, sizeof(since));
	printf("agent %s retired since %s: its silence is no metering gap until it "
	       "reports again\n", hex, since);
	return 0;
}

int cli_agents(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "at", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct listing l = { .now_ms = period_now_ms() };
	struct judge_conf jc;
	struct store *s = NULL;
	char err[512];
	int opt, rc;

	if (argc >= 2 && strcmp(argv[1], "retire") == 0) {
		cli_name(argv + 1, "agents retire");
		return retire(env, argc - 1, argv + 1);
	}
	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': l.json = true; break;
		case 'a':
			if (period_parse_time(optarg, &l.now_ms)) {
				fprintf(stderr, "truemeter agents: --at: bad time '%s' (YYYY-MM-DD, "
					"RFC 3339, unix seconds)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			printf(USAGE);
			return 0;
		default:
			fprintf(stderr, USAGE);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "truemeter agents: unexpected argument '%s'\n" USAGE, argv[optind]);
		return 2;
	}
	if (judge_conf_load_file(env->config_path, &jc, err, sizeof(err))) {
		fprintf(stderr, "truemeter agents: %s\n", err);
		return 1;
	}
	l.quiet_ms = agents_view_quiet(jc.silent_after_ms, jc.gap_min_ms);
	if (cli_store_open(env, "agents", false, &s))
		return 1;
	if (!l.json)
		printf("%-16s %-20s %-20s %-9s %9s %11s %12s %11s %s\n", "AGENT", "HOSTNAME",
		       "LAST_WINDOW_END", "STATUS", "REPORTS", "EVENT_DROPS", "MAP_OVERFLOW",
		       "SPOOL_DROPS", "HOOKS_MISSING");
	rc = store_agents(s, print_agent, &l);
	if (rc)
		fprintf(stderr, "truemeter agents: %s\n", strerror(-rc));
	store_close(s);
	return rc ? 1 : 0;
}
