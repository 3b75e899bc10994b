/* Subcommands of the `truemeter` CLI.  Each gets argv starting at its own
 * name (argv[0] = "usage", ...) and returns a process exit status. */
#ifndef TM_CLI_H
#define TM_CLI_H

struct cli_env {
	const char *db_path;        /* -d DB, default /var/lib/truemeter/truemeter.db */
	const char *config_path;    /* -c collector.conf, may be NULL */
};

int cli_usage(const struct cli_env *env, int argc, char **argv);
int cli_audit(const struct cli_env *env, int argc, char **argv);
int cli_agents(const struct cli_env *env, int argc, char **argv);
/* The judge's commands (cli_billing.c, cli_pricing.c, cli_reconcile.c,
 * cli_leaks.c). */
int cli_billing(const struct cli_env *env, int argc, char **argv);
int cli_pricing(const struct cli_env *env, int argc, char **argv);
int cli_reconcile(const struct cli_env *env, int argc, char **argv);
int cli_leaks(const struct cli_env *env, int argc, char **argv);

#endif
