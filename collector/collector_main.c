/* truemeter-collector: receives, verifies and stores agent reports.
 *
 *   truemeter-collector -c collector.conf [-n] [-v]
 *
 * -n loads and checks the configuration (every module's sections) and
 * exits 0, or 1 with "file:line: message". */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "collector_conf.h"
#include "conf.h"
#include "daemon_args.h"
#include "enrol.h"
#include "judge.h"
#include "log.h"
#include "period.h"
#include "receiver.h"
#include "retention.h"
#include "store.h"

/* Every configuration table of the collector; one file holds them all:
 * [collector] for the receiver, and the judge's [http], [stripe],
 * [razorpay], [pricing], [reconcile] and [alerts]. */
struct collector_settings {
	struct collector_conf collector;
	struct judge_conf judge;
};

static int load_settings(const char *path, struct collector_settings *s,
			 char *err, size_t errlen)
{
	const struct conf_table tables[] = {
		{ collector_conf_keys(), &s->collector },
		{ judge_conf_keys(), &s->judge },
		{ NULL, NULL },
	};
	int rc;

	collector_conf_defaults(&s->collector);
	judge_conf_defaults(&s->judge);
	rc = conf_load(path, tables, err, errlen);
	if (rc)
		return rc;
	rc = collector_conf_check(&s->collector, path, err, errlen);
	if (rc)
		return rc;
	return judge_conf_check(&s->judge, path, err, errlen);
}

/* Receiver counters on /metrics (called on the HTTP thread). */
static void receiver_metrics(FILE *out, void *arg)
{
	struct receiver_stats st;

	receiver_stats_get(arg, &st);
	fprintf(out, "# HELP truemeter_reports_received_total Report messages handled.\n"
		"# TYPE truemeter_reports_received_total counter\n"
		"truemeter_reports_received_total %" PRIu64 "\n"
		"# TYPE truemeter_reports_stored_total counter\n"
		"truemeter_reports_stored_total %" PRIu64 "\n"
		"# TYPE truemeter_reports_duplicate_total counter\n"
		"truemeter_reports_duplicate_total %" PRIu64 "\n"
		"# TYPE truemeter_reports_retry_total counter\n"
		"truemeter_reports_retry_total %" PRIu64 "\n"
		"# TYPE truemeter_metering_gaps_total counter\n"
		"truemeter_metering_gaps_total %" PRIu64 "\n"
		"# TYPE truemeter_usage_rows_stored_total counter\n"
		"truemeter_usage_rows_stored_total %" PRIu64 "\n"
		"# HELP truemeter_reports_rejected_total Reports rejected, by reason.\n"
		"# TYPE truemeter_reports_rejected_total counter\n",
		st.received, st.stored, st.duplicates, st.retries, st.gaps, st.rows);
	for (int i = 0; i < RECV_REJ_COUNT; i++)
		fprintf(out, "truemeter_reports_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
			receiver_reason_name((enum receiver_reason)i), st.rejected[i]);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: truemeter-collector -c collector.conf [-n] [-v | -q]\n"
		"  -n  check the config and exit;  -v  debug log;  "
		"-q  warnings only\n");
}

/* The store's copy of the enrolled keys (store_enrolled_sync()), so that
 * an agent enrolled that never reports is seen as silent.  On the main
 * thread's own store connection: the receiver's is used by its threads. */
static void sync_enrolled(struct enrol *enrol, struct store *store)
{
	char (*hex)[REPORT_PK_HEX_LEN + 1] = NULL;
	size_t n = 0;
	int err;

	err = enrol_keys_hex(enrol, &hex, &n);
	if (!err)
		err = store_enrolled_sync(store, (const char (*)[REPORT_PK_HEX_LEN + 1])hex,
					  n, period_now_ms());
	if (err)
		log_warn("cannot record the enrolled keys in the store: %s", strerror(-err));
	free(hex);
}

/* Every minute the enrolment directory is read again and the store's copy
 * follows it, also while no report arrives to make the receiver look. */
#define ENROL_SYNC_S 60

static void refresh_enrolled(struct enrol *enrol, struct store *store)
{
	enrol_reload(enrol);
	sync_enrolled(enrol, store);
}

/* Retention: at start and every hour (retention_prune()).  A signal
 * waiting ends the round; the next one goes on where it stopped. */
#define PRUNE_EVERY_MS 3600000

static bool signal_waiting(void *arg)
{
	const sigset_t *set = arg;
	sigset_t pending;

	if (sigpending(&pending))
		return false;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1 && sigismember(&pending, sig) == 1)
			return true;
	return false;
}

static int run(const struct collector_settings *s)
{
	const struct collector_conf *c = &s->collector;
	struct receiver_stats st;
	struct store *store = NULL, *main_store = NULL;
	struct timespec sync_every = { .tv_sec = ENROL_SYNC_S };
	struct enrol *enrol = NULL;
	struct receiver *recv = NULL;
	struct judge *judge = NULL;
	int64_t next_prune_ms = 0;
	sigset_t set;
	int sig = 0, err;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
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
	err = store_open(c->database, &main_store);
	if (err)
		goto cleanup;
	sync_enrolled(enrol, main_store);
	err = receiver_new(store, enrol, (size_t)c->max_message, &recv);
	if (err)
		goto cleanup;
	err = receiver_listen(recv, c);
	if (err)
		goto cleanup;
	/* The judge (HTTP, webhooks, reconcile, alerts) has its own store
	 * connections; it only reads the receiver's counters. */
	err = judge_open(&s->judge, c->database, &judge);
	if (err)
		goto cleanup;
	judge_set_metrics(judge, receiver_metrics, recv);
	/* a Type=notify unit is started once reports can arrive */
	sd_notify(0, "READY=1");
	for (;;) {
		if (c->retention_days && period_now_ms() >= next_prune_ms) {
			const struct retention_opts ro = {
				.days = c->retention_days, .archive_dir = c->retention_archive,
				.stop = signal_waiting, .arg = &set,
			};
			struct retention_result res;

			retention_prune(main_store, &ro, period_now_ms(), &res);
			/* cut short by a signal: on after it, not in an hour */
			next_prune_ms = res.more ? 0 : period_now_ms() + PRUNE_EVERY_MS;
		}
		sig = sigtimedwait(&set, NULL, &sync_every);
		if (sig < 0) {          /* the minute passed (or EINTR) */
			refresh_enrolled(enrol, main_store);
			continue;
		}
		if (sig != SIGHUP)
			break;
		sd_notify(0, "RELOADING=1");
		log_info("SIGHUP: reloading the enrolled keys, the pricing catalog and mappings");
		refresh_enrolled(enrol, main_store);
		log_info("%zu agent keys enrolled", enrol_count(enrol));
		judge_reload(judge);
		sd_notify(0, "READY=1");
	}
	sd_notify(0, "STOPPING=1");
	log_info("signal %d: stopping", sig);
cleanup:
	judge_close(judge);
	if (recv) {
		receiver_stats_get(recv, &st);
		log_info("received %" PRIu64 ", stored %" PRIu64 ", duplicates %" PRIu64
			 ", retries %" PRIu64, st.received, st.stored, st.duplicates,
			 st.retries);
	}
	receiver_free(recv);
	enrol_free(enrol);
	store_close(main_store);
	store_close(store);
	return err;
}

int main(int argc, char **argv)
{
	static struct collector_settings s;
	struct daemon_args args;
	const char *path;
	char msg[512];
	int rc;

	log_init("truemeter-collector", LOG_LVL_INFO);
	rc = daemon_args_parse(argc, argv, usage, &args);
	if (rc >= 0)
		return rc;
	path = args.conf_path;
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load_settings(path, &s, msg, sizeof(msg))) {
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	if (args.check_only) {
		printf("%s: ok\n", path);
		return 0;
	}
	return run(&s) ? 1 : 0;
}
