/* The options both daemons take: -c FILE, -n (check the config and exit),
 * -v (debug log), -q (warnings only), -h/--help. */
#ifndef TM_DAEMON_ARGS_H
#define TM_DAEMON_ARGS_H

#include <stdbool.h>
#include <stdio.h>

struct daemon_args {
	const char *conf_path;  /* points into argv; NULL if -c was not given */
	bool check_only;
};

/* Parses argv's options (getopt's optind is left at the first operand) and
 * sets the log level.  Returns -1 to go on, or an exit status for main:
 * 0 after printing usage for --help, 2 after printing it for a bad option. */
int daemon_args_parse(int argc, char **argv, void (*usage)(FILE *f),
		      struct daemon_args *out);

#endif
