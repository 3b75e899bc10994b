/* truemeter: the command line for finance, platform teams and auditors. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "collector_conf.h"
#include "conf.h"
#include "judge_conf.h"
#include "log.h"
#include "store.h"
#include "store_billing.h"

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(const struct cli_env *env, int argc, char **argv);
	bool reads_db;       /* only reads: a missing database is an error */
};

static const struct cli_command commands[] = {
	{ "usage", "stored usage per tenant x metric x period", cli_usage, true },
	{ "agents", "agents: latest window, silent or not, the meter's own drops; retire", cli_agents,
	  true },
	/* audit verify needs no database; audit export only reads one */
	{ "audit", "export signed reports / verify an export independently", cli_audit, true },
	{ "billing", "billing import FILE: CSV, JSON lines or Stripe invoices", cli_billing },
	{ "pricing", "pricing load|check FILE, quote PLAN METRIC QTY", cli_pricing },
	{ "reconcile", "metered vs billed per tenant x metric for a period", cli_reconcile, true },
	{ "leaks", "stored leak alerts (table or --json)", cli_leaks, true },
	{ "prune", "retention: old windows' usage rows and signed reports (--keep-days N)",
	  cli_prune, true },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: truemeter [-v] [-d DB] [-c collector.conf] COMMAND [ARGS]\n\n"
		"commands:\n");
	for (const struct cli_command *c = commands; c->name; c++)
		fprintf(f, "  %-16s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'truemeter COMMAND --help' for a command's options.\n");
}

void cli_name(char **argv, const char *name)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "truemeter %s", name);
	argv[0] = buf;
}

int cli_store_open(const struct cli_env *env, const char *cmd, bool billing,
		   struct store **out)
{
	struct store *s = NULL;
	int err;

	*out = NULL;
	if (env->db_must_exist && access(env->db_path, F_OK) != 0 && errno == ENOENT) {
		err = -ENOENT;
		fprintf(stderr, "truemeter %s: database %s does not exist "
			"(pass -d DB or -c collector.conf, or set TRUEMETER_DB)\n",
			cmd, env->db_path);
		goto cleanup;
	}
	err = store_open(env->db_path, &s);
	if (!err && billing)
		err = store_billing_init(s);
	if (err)
		fprintf(stderr, "truemeter %s: cannot open database %s: %s\n", cmd,
			env->db_path, strerror(-err));
cleanup:
	if (err)
		store_close(s);
	else
		*out = s;
	return err;
}

/* -c collector.conf: the database its [collector] section names. */
static int db_from_config(struct cli_env *env)
{
	static struct collector_conf cc;
	static struct judge_conf jc;
	const struct conf_table tables[] = {
		{ collector_conf_keys(), &cc },
		{ judge_conf_keys(), &jc },
		{ NULL, NULL },
	};
	char err[512];

	collector_conf_defaults(&cc);
	judge_conf_defaults(&jc);
	if (conf_load(env->config_path, tables, err, sizeof(err))) {
		fprintf(stderr, "truemeter: %s\n", err);
		return -EINVAL;
	}
	env->db_path = cc.database;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option help_opt[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_env env = { .db_path = getenv("TRUEMETER_DB") };
	bool db_given = env.db_path != NULL;
	int opt;

	log_init("truemeter", LOG_LVL_WARN);
	if (!env.db_path)
		env.db_path = "/var/lib/truemeter/truemeter.db";
	while ((opt = getopt_long(argc, argv, "+hvd:c:", help_opt, NULL)) != -1) {
		switch (opt) {
		case 'v':
			log_set_level(log_get_level() + 1 > LOG_LVL_DEBUG ?
				      LOG_LVL_DEBUG : log_get_level() + 1);
			break;
		case 'd':
			env.db_path = optarg;
			db_given = true;
			break;
		case 'c':
			env.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (env.config_path && !db_given && db_from_config(&env))
		return 2;
	for (const struct cli_command *c = commands; c->name; c++) {
		if (strcmp(c->name, argv[optind]) == 0) {
			env.db_must_exist = c->reads_db;
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			cli_name(sub_argv, c->name);
			optind = 0;   /* glibc: 0 fully resets getopt for the command */
			return c->run(&env, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "truemeter: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
