/* Subcommands of the `truemeter` CLI.  Each gets argv starting at its own
 * name (argv[0] = "usage", ...) and returns a process exit status. */
#ifndef TM_CLI_H
#define TM_CLI_H

#include <stdbool.h>

struct store;

struct cli_env {
	const char *db_path;        /* -d DB, default /var/lib/truemeter/truemeter.db */
	const char *config_path;    /* -c collector.conf, may be NULL */
	bool db_must_exist;         /* the command only reads the database */
};

/* Opens env's database for command cmd ("usage", "audit export"), with
 * the billing tables when billing is set.  A database that does not exist
 * is an error for a command that only reads (it is not created empty).
 * Says why on stderr; 0 or a negative errno.  The caller closes *out. */
/* argv[0] for a (sub)command: getopt's messages start with it
 * ("truemeter audit export: unrecognized option ..."). */
void cli_name(char **argv, const char *name);

int cli_store_open(const struct cli_env *env, const char *cmd, bool billing,
		   struct store **out);

int cli_usage(const struct cli_env *env, int argc, char **argv);
int cli_audit(const struct cli_env *env, int argc, char **argv);
int cli_agents(const struct cli_env *env, int argc, char **argv);
int cli_prune(const struct cli_env *env, int argc, char **argv);
/* The judge's commands (cli_billing.c, cli_pricing.c, cli_reconcile.c,
 * cli_leaks.c). */
int cli_billing(const struct cli_env *env, int argc, char **argv);
int cli_pricing(const struct cli_env *env, int argc, char **argv);
int cli_reconcile(const struct cli_env *env, int argc, char **argv);
int cli_leaks(const struct cli_env *env, int argc, char **argv);

#endif
