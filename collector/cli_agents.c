/* truemeter agents: every agent that has stored reports, with what its
 * latest report declared about the meter's own health.
 *
 *   truemeter agents [--json]
 *
 * A table by default; --json prints one JSON object per line.  Drops and
 * overflow are the agent's cumulative counts: usage its meter could not
 * count, which no reconciliation can see. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "period.h"
#include "store.h"

static int print_agent(const struct store_agent *a, void *arg)
{
	bool json = *(bool *)arg;
	char last[32];
	json_object *j;

	period_format_time(a->window_end_ms, last, sizeof(last));
	if (!json) {
		printf("%-16.16s %-20s %-20s %9" PRIu64 " %11" PRIu64 " %12" PRIu64
		       " %11" PRIu64 " %s\n", a->agent_hex, a->hostname, last, a->reports,
		       a->event_drops, a->map_overflow, a->spool_drops,
		       *a->hooks_missing ? a->hooks_missing : "-");
		return 0;
	}
	j = json_object_new_object();
	json_object_object_add(j, "agent", json_object_new_string(a->agent_hex));
	json_object_object_add(j, "hostname", json_object_new_string(a->hostname));
	json_object_object_add(j, "reports", json_object_new_int64((int64_t)a->reports));
	json_object_object_add(j, "last_window_end", json_object_new_string(last));
	json_object_object_add(j, "event_drops", json_object_new_int64((int64_t)a->event_drops));
	json_object_object_add(j, "map_overflow", json_object_new_int64((int64_t)a->map_overflow));
	json_object_object_add(j, "spool_drops", json_object_new_int64((int64_t)a->spool_drops));
	json_object_object_add(j, "hooks_missing", json_object_new_string(a->hooks_missing));
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return 0;
}

int cli_agents(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store *s = NULL;
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'h':
			printf("usage: truemeter agents [--json]\n");
			return 0;
		default:
			fprintf(stderr, "usage: truemeter agents [--json]\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "truemeter agents: unexpected argument '%s'\n"
			"usage: truemeter agents [--json]\n", argv[optind]);
		return 2;
	}
	if (cli_store_open(env, "agents", false, &s))
		return 1;
	if (!json)
		printf("%-16s %-20s %-20s %9s %11s %12s %11s %s\n", "AGENT", "HOSTNAME",
		       "LAST_WINDOW_END", "REPORTS", "EVENT_DROPS", "MAP_OVERFLOW",
		       "SPOOL_DROPS", "HOOKS_MISSING");
	rc = store_agents(s, print_agent, &json);
	if (rc)
		fprintf(stderr, "truemeter agents: %s\n", strerror(-rc));
	store_close(s);
	return rc ? 1 : 0;
}
