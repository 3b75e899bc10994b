/* truemeter-collector: receives, verifies and stores agent reports.
 *
 *   truemeter-collector -c collector.conf [-n] [-v]
 *
 * -n loads and checks the configuration (every module's sections) and
 * exits 0, or 1 with "file:line: message". */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector_conf.h"
#include "conf.h"
#include "enrol.h"
#include "log.h"
#include "receiver.h"
#include "store.h"

/* Every configuration table of the collector; one file holds them all.
 * JUDGE: append the judge's tables here ([http], [stripe], [razorpay],
 * [pricing], [alerts], [reconcile]), each with its own settings object. */
struct collector_settings {
	struct collector_conf collector;
	/* JUDGE: settings structs of the other modules go here */
};

static int load_settings(const char *path, struct collector_settings *s,
			 char *err, size_t errlen)
{
	const struct conf_table tables[] = {
		{ collector_conf_keys(), &s->collector },
		/* JUDGE: { judge_conf_keys(), &s->judge }, ... */
		{ NULL, NULL },
	};
	int rc;

	collector_conf_defaults(&s->collector);
	/* JUDGE: defaults of the other modules */
	rc = conf_load(path, tables, err, errlen);
	if (rc)
		return rc;
	return collector_conf_check(&s->collector, path, err, errlen);
	/* JUDGE: and their cross-field checks */
}

static void usage(FILE *f)
{
	fprintf(f, "usage: truemeter-collector -c collector.conf [-n] [-v]\n");
}

static int run(const struct collector_settings *s)
{
	const struct collector_conf *c = &s->collector;
	struct receiver_stats st;
	struct store *store = NULL;
	struct enrol *enrol = NULL;
	struct receiver *recv = NULL;
	sigset_t set;
	int sig = 0, err;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* block before nng starts its threads so only sigwait() sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = store_open(c->database, &store);
	if (err) {
		log_warn("cannot open database %s: %s", c->database, strerror(-err));
		goto cleanup;
	}
	err = enrol_new(c->enrolled_keys, (const uint8_t (*)[REPORT_PK_LEN])c->enroll,
			c->n_enroll, &enrol);
	if (err)
		goto cleanup;
	log_info("%zu agent keys enrolled", enrol_count(enrol));
	err = receiver_new(store, enrol, (size_t)c->max_message, &recv);
	if (err)
		goto cleanup;
	err = receiver_listen(recv, c);
	if (err)
		goto cleanup;
	/* JUDGE: start the judge (HTTP server, webhooks, reconcile timers)
	 * here; it opens its own store connection (one per thread) and may
	 * read receiver_stats_get(recv, ...) for /metrics. */
	sigwait(&set, &sig);
	log_info("signal %d: stopping", sig);
	/* JUDGE: stop the judge here, before the receiver and the store */
cleanup:
	if (recv) {
		receiver_stats_get(recv, &st);
		log_info("received %" PRIu64 ", stored %" PRIu64 ", duplicates %" PRIu64
			 ", retries %" PRIu64, st.received, st.stored, st.duplicates,
			 st.retries);
	}
	receiver_free(recv);
	enrol_free(enrol);
	store_close(store);
	return err;
}

int main(int argc, char **argv)
{
	static struct collector_settings s;
	const char *path = NULL;
	char msg[512];
	bool check_only = false;
	int level = LOG_LVL_INFO, opt;

	log_init("truemeter-collector", LOG_LVL_INFO);
	while ((opt = getopt(argc, argv, "hc:nvq")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': check_only = true; break;
		case 'v': level = level < LOG_LVL_DEBUG ? level + 1 : level; break;
		case 'q': level = LOG_LVL_WARN; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_set_level((enum log_level)level);
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load_settings(path, &s, msg, sizeof(msg))) {
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	if (check_only) {
		printf("%s: ok\n", path);
		return 0;
	}
	return run(&s) ? 1 : 0;
}
