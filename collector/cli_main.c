/* truemeter: the command line for finance, platform teams and auditors. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(const struct cli_env *env, int argc, char **argv);
};

static const struct cli_command commands[] = {
	{ "usage", "stored usage per tenant x metric x period", cli_usage },
	{ "audit", "export signed reports / verify an export independently", cli_audit },
	{ "billing", "billing import FILE: CSV, JSON lines or Stripe invoices", cli_billing },
	{ "pricing", "pricing load|check FILE, quote PLAN METRIC QTY", cli_pricing },
	{ "reconcile", "metered vs billed per tenant x metric for a period", cli_reconcile },
	{ "leaks", "stored leak alerts (table or --json)", cli_leaks },
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

int main(int argc, char **argv)
{
	struct cli_env env = { .db_path = getenv("TRUEMETER_DB") };
	int opt;

	log_init("truemeter", LOG_LVL_WARN);
	if (!env.db_path)
		env.db_path = "/var/lib/truemeter/truemeter.db";
	while ((opt = getopt(argc, argv, "+hvd:c:")) != -1) {
		switch (opt) {
		case 'v':
			log_set_level(log_get_level() + 1 > LOG_LVL_DEBUG ?
				      LOG_LVL_DEBUG : log_get_level() + 1);
			break;
		case 'd':
			env.db_path = optarg;
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
	for (const struct cli_command *c = commands; c->name; c++) {
		if (strcmp(c->name, argv[optind]) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0;   /* glibc: 0 fully resets getopt for the command */
			return c->run(&env, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "truemeter: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
