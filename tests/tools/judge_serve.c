/* judge_serve -c collector.conf -d DB: runs the judge alone (HTTP server,
 * reconcile thread, sinks) as truemeter-collector does, for end-to-end
 * tests of the billing side.  Alerts go to stdout as JSON lines; SIGHUP
 * reloads the catalog; SIGTERM/SIGINT stop it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judge.h"
#include "judge_conf.h"
#include "log.h"

static volatile sig_atomic_t stop, hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		stop = 1;
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *db = NULL;
	struct judge_conf jc;
	struct judge *j = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];
	int opt;

	log_init("judge_serve", LOG_LVL_INFO);
	while ((opt = getopt(argc, argv, "c:d:")) != -1) {
		if (opt == 'c')
			conf = optarg;
		else if (opt == 'd')
			db = optarg;
		else
			return 2;
	}
	if (!conf || !db) {
		fprintf(stderr, "usage: judge_serve -c collector.conf -d DB\n");
		return 2;
	}
	if (judge_conf_load_file(conf, &jc, err, sizeof(err)) ||
	    judge_conf_check(&jc, conf, err, sizeof(err))) {
		fprintf(stderr, "judge_serve: %s\n", err);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (judge_open(&jc, db, &j))
		return 1;
	while (!stop) {
		if (hup) {
			hup = 0;
			judge_reload(j);
			judge_poke(j);
		}
		usleep(20000);
	}
	judge_close(j);
	return 0;
}
