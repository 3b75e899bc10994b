/* truemeter-agent: meters tenants in the kernel and delivers signed,
 * chained reports to the collector.
 *
 *   truemeter-agent -c agent.conf [-n] [-v]     run (-n: check the config)
 *   truemeter-agent -c agent.conf detach        remove pinned programs/maps
 *   truemeter-agent -c agent.conf end-drain     end a drain after an upgrade
 *   truemeter-agent -c agent.conf status        what is attached and metered
 *   truemeter-agent keygen PRIVFILE PUBFILE     make the agent's key pair
 *   truemeter-agent hashkey KEY                 hash an API key for [api_key]
 *
 * Every window: meter_read -> deltas against the baseline -> Report ->
 * seal (sign, chain) -> spool (fsync) -> state (fsync) -> sender thread. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "agent_conf.h"
#include "daemon_args.h"
#include "delta.h"
#include "fileio.h"
#include "log.h"
#include "meter.h"
#include "meter_parts.h"
#include "period.h"
#include "report.h"
#include "reportbuild.h"
#include "sender.h"
#include "spool.h"
#include "state.h"

static volatile sig_atomic_t stopping, hangup;

/* Fault injection for the crash tests: TRUEMETER_CRASH_POINT=WHERE:N makes
 * the N-th pass die at WHERE ("opened": the meter loaded, no baseline yet;
 * "sealed", "spooled", "saved": in a window) like a power cut would,
 * without any cleanup.  WHERE:stop stops the agent there (SIGSTOP) the
 * first time instead, for a test to act before it goes on (SIGCONT). */
static char crash_where[16];
static long crash_countdown;
static bool crash_stop;

static void crash_point(const char *where)
{
	if (crash_countdown <= 0 || strcmp(crash_where, where) != 0 || --crash_countdown)
		return;
	if (crash_stop) {
		log_warn("test stop point '%s' reached: stopping", where);
		raise(SIGSTOP);
		return;
	}
	log_warn("test crash point '%s' reached: exiting hard", where);
	_exit(99);
}

static void crash_init(void)
{
	const char *v = getenv("TRUEMETER_CRASH_POINT");
	const char *colon = v ? strchr(v, ':') : NULL;

	if (!colon || colon - v >= (long)sizeof(crash_where))
		return;
	memcpy(crash_where, v, (size_t)(colon - v));
	crash_stop = strcmp(colon + 1, "stop") == 0;
	crash_countdown = crash_stop ? 1 : atol(colon + 1);
}

struct agent {
	struct agent_conf conf;
	struct report_key key;
	char state_path[PATH_MAX];
	char spool_dir[PATH_MAX];
	char hostname[128];
	struct agent_state st;
	struct spool *spool;
	struct sender *sender;
	struct meter *meter;
};

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hangup = 1;
	else
		stopping = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: truemeter-agent -c agent.conf [-n] [-v | -q]\n"
		"       truemeter-agent -c agent.conf detach\n"
		"       truemeter-agent -c agent.conf end-drain\n"
		"       truemeter-agent -c agent.conf status\n"
		"       truemeter-agent keygen PRIVFILE PUBFILE\n"
		"       truemeter-agent hashkey KEY\n"
		"  -n  check the config and exit;  -v  debug log;  "
		"-q  warnings only\n");
}

/* ---- crash recovery ------------------------------------------------------ */

static int load_state(struct agent *a)
{
	int err;

	err = state_load(a->state_path, &a->st);
	if (err == -EBADMSG) {
		char aside[PATH_MAX + 16];

		snprintf(aside, sizeof(aside), "%s.corrupt", a->state_path);
		log_warn("state file %s is corrupt; moved to %s and starting a new "
			 "epoch (usage since the last report is not reported)",
			 a->state_path, aside);
		rename(a->state_path, aside);
	} else if (err && err != -ENOENT) {
		log_warn("cannot read state %s: %s", a->state_path, strerror(-err));
		return err;
	}
	if (err) {
		err = state_init(&a->st);
		if (err)
			return err;
		log_info("new epoch %016" PRIx64, a->st.epoch);
		return 1;               /* fresh: the caller takes the baseline */
	}
	if (state_roll_forward(&a->st, a->key.pk, a->spool) > 0) {
		err = state_save(a->state_path, &a->st);
		if (err)
			log_warn("cannot save state %s: %s", a->state_path, strerror(-err));
	}
	log_info("epoch %016" PRIx64 " continues after seq %" PRIu64 " (%zu counters)",
		 a->st.epoch, a->st.seq, delta_count(a->st.baseline));
	return 0;
}

static bool counts_from_zero(const struct meter_row *key, void *meter)
{
	return meter_counts_from_zero(meter, key);
}

/* Fresh state, and the meter has no pins yet: whatever it will count is
 * this epoch's.  The state is saved with a zero baseline before the meter
 * loads, so an agent that dies before its first read comes back to a
 * state that reports everything the meter counted meanwhile, where a
 * missing state would take those counts for some earlier agent's. */
static void save_new_epoch(struct agent *a)
{
	int err;

	state_losses_declared(&a->st, 0, 0);
	a->st.window_end_ms = period_now_ms();
	err = state_save(a->state_path, &a->st);
	if (err)
		log_warn("cannot save state %s: %s", a->state_path, strerror(-err));
}

/* Fresh state: the first read is the baseline, so counts from before the
 * agent ever ran (in pins an earlier agent left) are not reported.
 * Counters the meter made afresh count from zero: what they hold was
 * counted since their programs attached, while the rest of the meter
 * loaded. */
static int take_baseline(struct agent *a)
{
	struct meter_health h;
	struct meter_row *rows = NULL;
	size_t n = 0;
	int err;

	err = meter_read(a->meter, &rows, &n, &h);
	if (err) {
		log_warn("first meter read failed: %s", strerror(-err));
		goto cleanup;
	}
	err = delta_set(a->st.baseline, rows, n);
	if (err)
		goto cleanup;
	delta_zero_if(a->st.baseline, counts_from_zero, a->meter);
	if (meter_losses_from_zero(a->meter))
		state_losses_declared(&a->st, 0, 0);
	else
		state_losses_declared(&a->st, h.map_overflow, h.event_drops);
	if (!a->st.window_end_ms)
		a->st.window_end_ms = period_now_ms();
	err = state_save(a->state_path, &a->st);
	if (err)
		log_warn("cannot save state %s: %s", a->state_path, strerror(-err));
cleanup:
	free(rows);
	return err;
}

/* Continued state, but counters the meter made afresh (pins do not survive
 * a reboot): their baseline is 0, or counts made after the meter loaded
 * would be taken for the old ones as long as they stay below them, and
 * under-reported by the old value once they grow past.  Saved at once, so
 * a crash before the next report does not bring the old baseline back
 * beside counters that no longer look new. */
static int restart_baseline(struct agent *a)
{
	size_t n = delta_zero_if(a->st.baseline, counts_from_zero, a->meter);
	bool losses = meter_losses_from_zero(a->meter) && a->st.lost_known &&
		      (a->st.lost.map_overflow || a->st.lost.event_drops);
	int err;

	if (!n && !losses)
		return 0;
	if (n)
		log_warn("%zu counters were made afresh since the last report (a "
			 "reboot, or a changed layout or route list): counting them "
			 "from zero", n);
	if (losses)
		state_losses_declared(&a->st, 0, 0);
	err = state_save(a->state_path, &a->st);
	if (err)
		log_warn("cannot save state %s: %s", a->state_path, strerror(-err));
	return err;
}

/* ---- privileges ----------------------------------------------------------- */

static int set_caps(const cap_value_t *keep, int n, bool permitted_too)
{
	cap_t caps = cap_get_proc();
	int err = 0;

	if (!caps)
		return -errno;
	if (cap_clear_flag(caps, CAP_EFFECTIVE) ||
	    (permitted_too && (cap_clear_flag(caps, CAP_PERMITTED) ||
			       cap_clear_flag(caps, CAP_INHERITABLE))) ||
	    (n && cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET)) ||
	    (n && permitted_too && cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET)) ||
	    cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	return err;
}

/* Empties the bounding set but for keep[0..n), so that no exec could regain
 * what is dropped.  That takes CAP_SETPCAP, raised in the effective set
 * for the purpose: -EPERM when it is not permitted (a service manager's
 * bounding set without it), and no_new_privs guards exec instead. */
static int drop_bounding(const cap_value_t *keep, int n)
{
	const cap_value_t setpcap = CAP_SETPCAP;
	cap_t caps = cap_get_proc();
	int err = 0;

	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_EFFECTIVE, 1, &setpcap, CAP_SET) || cap_set_proc(caps)) {
		err = -errno;
		goto cleanup;
	}
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		bool kept = false;

		for (int k = 0; k < n; k++)
			kept |= keep[k] == c;
		if (!kept && cap_drop_bound(c)) {
			err = -errno;
			goto cleanup;
		}
	}
cleanup:
	cap_free(caps);
	return err;
}

/* Drops every capability the running agent does not need.  The meter's
 * programs are attached and its map fds open, so reading them needs none
 * on this kernel; a kernel that still wants one (unprivileged_bpf_disabled
 * checked on every bpf() call) gets CAP_BPF + CAP_PERFMON kept.  Each set
 * is tried in the effective set first and proven by a meter read before
 * the bounding and permitted sets are cut, so a wrong guess never breaks
 * metering. */
static void drop_privileges(struct agent *a)
{
	static const cap_value_t fallback[] = { CAP_BPF, CAP_PERFMON };
	struct meter_health h;
	struct meter_row *rows = NULL;
	size_t n;
	int tries[2] = { 0, 2 };

	for (int t = 0; t < 2; t++) {
		int err = set_caps(fallback, tries[t], false);

		if (!err)
			err = meter_read(a->meter, &rows, &n, &h);
		free(rows);
		rows = NULL;
		if (err) {
			log_debug("meter reads need more capabilities than %d kept: %s",
				  tries[t], strerror(-err));
			continue;
		}
		int bound = drop_bounding(fallback, tries[t]);

		err = set_caps(fallback, tries[t], true);
		if (!err) {
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
			log_info("dropped capabilities; kept %s%s%s%s",
				 tries[t] ? "CAP_BPF, CAP_PERFMON" : "none",
				 bound ? " (the bounding set stays as given: " : "",
				 bound == -EPERM ? "no CAP_SETPCAP" : bound ? strerror(-bound) : "",
				 bound ? ")" : "");
			return;
		}
	}
	/* restore whatever was permitted */
	cap_t caps = cap_get_proc();

	if (caps) {
		cap_value_t all[CAP_LAST_CAP + 1];
		int k = 0;

		for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
			cap_flag_value_t v;

			if (cap_get_flag(caps, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
				all[k++] = c;
		}
		if (k)
			cap_set_flag(caps, CAP_EFFECTIVE, k, all, CAP_SET);
		cap_set_proc(caps);
		cap_free(caps);
	}
	log_warn("meter reads fail with reduced capabilities; keeping all");
}

/* ---- one window ------------------------------------------------------------- */

/* Builds, seals, spools and records one report for [start, end) with the
 * longest prefix of deltas that fits max_report; *taken says how many. */
static int spool_part(struct agent *a, int64_t start, int64_t end,
		      const struct meter_health *h, const struct meter_row *deltas,
		      size_t nd, size_t *taken)
{
	Truemeter__Report *r = NULL;
	struct spool_stats ss;
	uint8_t *env = NULL, digest[REPORT_DIGEST_LEN];
	size_t envlen = 0, fit = 0, size = 0;
	uint64_t dropped = 0;
	struct state_losses lost = state_losses_since(&a->st, h->map_overflow,
						      h->event_drops);
	struct reportbuild_in in = {
		.agent_id = a->key.pk, .epoch = a->st.epoch, .seq = a->st.seq + 1,
		.window_start_ms = start, .window_end_ms = end,
		.prev_digest = a->st.seq ? a->st.last_digest : NULL,
		.hostname = a->hostname, .health = h,
		.deltas = deltas, .n_deltas = nd,
		.spool_drops = a->st.spool_drops,
		.map_overflow_window = lost.map_overflow,
		.event_drops_window = lost.event_drops,
	};
	int err;

	*taken = 0;
	err = reportbuild_fit(&in, (size_t)a->conf.max_report, &fit, &size);
	if (err) {
		log_warn("cannot fit a report into [collector] max_report %" PRId64
			 " bytes: %s (usage stays in the counters)",
			 a->conf.max_report, strerror(-err));
		goto cleanup;
	}
	in.n_deltas = fit;
	/* make room first, so this report already declares the drops */
	spool_make_room(a->spool, size + REPORTBUILD_SLACK, &dropped);
	a->st.spool_drops += dropped;
	spool_stats_get(a->spool, &ss);
	in.spool_drops = a->st.spool_drops;
	in.spool_bytes = ss.bytes;
	err = reportbuild_make(&in, &r);
	if (err)
		goto cleanup;
	err = report_seal(&a->key, r, &env, &envlen, digest);
	if (err)
		goto cleanup;
	if (envlen > (size_t)a->conf.max_report) {
		log_warn("sealed report seq %" PRIu64 " is %zu bytes, above max_report "
			 "%" PRId64 " (usage stays in the counters)", in.seq, envlen,
			 a->conf.max_report);
		err = -EMSGSIZE;
		goto cleanup;
	}
	crash_point("sealed");
	err = spool_add(a->spool, a->st.epoch, in.seq, env, envlen);
	if (err) {
		log_warn("cannot spool report seq %" PRIu64 ": %s (its usage goes "
			 "into the next report)", in.seq, strerror(-err));
		goto cleanup;
	}
	crash_point("spooled");
	/* the report is durable: move the state forward exactly as a
	 * roll-forward would */
	err = delta_apply(a->st.baseline, deltas, fit);
	if (err)
		goto cleanup;
	*taken = fit;
	state_losses_declared(&a->st, h->map_overflow, h->event_drops);
	a->st.seq = in.seq;
	memcpy(a->st.last_digest, digest, REPORT_DIGEST_LEN);
	a->st.window_end_ms = end;
	err = state_save(a->state_path, &a->st);
	if (err)
		log_warn("cannot save state %s: %s (the spool lets a restart recover "
			 "it; sending waits for a saved state)", a->state_path,
			 strerror(-err));
	else
		spool_publish(a->spool);
	crash_point("saved");
	log_debug("report seq %" PRIu64 ": %zu rows, %zu bytes", in.seq, fit, envlen);
cleanup:
	reportbuild_free(r);
	free(env);
	return err;
}

/* Reads the meter and reports the window's deltas: one report, or several
 * in a row (consecutive seqs, same window) when they exceed max_report. */
static int do_window(struct agent *a, int64_t start, int64_t end)
{
	struct meter_health h;
	struct meter_row *rows = NULL, *deltas = NULL;
	size_t n = 0, nd = 0, off = 0, taken, parts = 0;
	int err;

	err = meter_read(a->meter, &rows, &n, &h);
	if (err) {
		log_warn("meter read failed: %s (usage stays in the counters)",
			 strerror(-err));
		goto cleanup;
	}
	err = delta_compute(a->st.baseline, rows, n, &deltas, &nd);
	if (err)
		goto cleanup;
	do {
		err = spool_part(a, start, end, &h, deltas + off, nd - off, &taken);
		if (err)
			goto cleanup;
		off += taken;
		parts++;
	} while (off < nd);
	if (parts > 1)
		log_info("window of %zu usage rows went out as %zu reports "
			 "(max_report %" PRId64 ")", nd, parts, a->conf.max_report);
cleanup:
	free(rows);
	free(deltas);
	return err;
}

/* Sleeps until the wall clock reaches ms; false when interrupted by a stop. */
static bool sleep_until(int64_t ms)
{
	while (!stopping) {
		int64_t left = ms - period_now_ms();
		struct timespec ts;

		if (left <= 0)
			return true;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void run_loop(struct agent *a)
{
	int64_t iv = a->conf.interval_ms;

	while (!stopping) {
		int64_t end = (period_now_ms() / iv + 1) * iv;
		int64_t start = a->st.window_end_ms;

		if (!sleep_until(end))
			break;
		if (hangup) {
			/* its default action would end the agent, and systemd does
			 * not restart a unit that SIGHUP ended */
			hangup = 0;
			log_info("SIGHUP: the agent reloads nothing; restart it to apply a "
				 "changed config (the pinned counts carry over)");
		}
		if (start <= 0 || start >= end)
			start = end - iv;        /* first window, or the clock went back */
		do_window(a, start, end);
	}
}

/* ---- commands --------------------------------------------------------------- */

static int cmd_keygen(int argc, char **argv)
{
	int err;

	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	err = report_keygen(argv[1], argv[2]);
	if (err) {
		fprintf(stderr, "truemeter-agent: keygen: cannot write %s / %s: %s\n",
			argv[1], argv[2], strerror(-err));
		return 1;
	}
	return 0;
}

static int cmd_hashkey(int argc, char **argv)
{
	if (argc != 2 || !argv[1][0]) {
		usage(stderr);
		return 2;
	}
	printf("%016" PRIx64 "\n", meter_key_hash(argv[1], strlen(argv[1])));
	return 0;
}

/* Unpinning the links detaches the programs; unpinning the maps lets the
 * kernel free the counters.  Each meter part knows what it pinned. */
static int cmd_detach(const struct agent_conf *c)
{
	int e1 = meter_http_unpin(c->meter.pin_dir);
	int e2 = meter_cgroup_unpin(c->meter.pin_dir);

	if (e1 || e2) {
		log_warn("detach: could not remove everything under %s", c->meter.pin_dir);
		return 1;
	}
	rmdir(c->meter.pin_dir);   /* only if nothing else lives there */
	log_info("detached: removed pinned programs and maps under %s", c->meter.pin_dir);
	return 0;
}

/* After an upgrade the previous build's programs drain (http_drain.h)
 * until their connections close or [http] drain_max passes; this ends the
 * drain now, beside a running agent. */
static int cmd_end_drain(const struct agent_conf *c)
{
	long long left = 0;
	int err = meter_http_end_drain(c->meter.pin_dir, &left);

	if (err == -ENOENT) {
		log_info("end-drain: no drain in progress under %s/http", c->meter.pin_dir);
		return 0;
	}
	if (err) {
		log_warn("end-drain: %s", strerror(-err));
		return 1;
	}
	log_info("end-drain: the previous build's programs are detached; %lld "
		 "connection(s) were left", left);
	return 0;
}

/* What the pins say, whether an agent runs or not. */
static int cmd_status(const struct agent_conf *c)
{
	int err = meter_http_status(&c->meter, stdout);

	if (!err)
		err = meter_cgroup_status(c->meter.pin_dir, stdout);
	if (err)
		log_warn("status: %s", strerror(-err));
	return err ? 1 : 0;
}

/* The commands that work on the pins beside (or without) a running agent */
static const struct {
	const char *name;
	int (*run)(const struct agent_conf *c);
} commands[] = {
	{ "detach", cmd_detach },
	{ "end-drain", cmd_end_drain },
	{ "status", cmd_status },
};

static int find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return (int)i;
	return -1;
}

/* ---- run ---------------------------------------------------------------------- */

static int agent_setup(struct agent *a)
{
	int err;

	err = report_key_load(a->conf.key, &a->key);
	if (err) {
		log_warn("cannot load key %s: %s", a->conf.key, strerror(-err));
		return err;
	}
	if (a->conf.hostname[0])
		snprintf(a->hostname, sizeof(a->hostname), "%s", a->conf.hostname);
	else if (gethostname(a->hostname, sizeof(a->hostname) - 1) < 0)
		snprintf(a->hostname, sizeof(a->hostname), "unknown");
	if (snprintf(a->state_path, sizeof(a->state_path), "%s/state",
		     a->conf.state_dir) >= (int)sizeof(a->state_path) ||
	    snprintf(a->spool_dir, sizeof(a->spool_dir), "%s/spool",
		     a->conf.state_dir) >= (int)sizeof(a->spool_dir))
		return -ENAMETOOLONG;
	err = fileio_mkdirs(a->conf.state_dir, 0700);
	if (err) {
		log_warn("cannot create state dir %s: %s", a->conf.state_dir, strerror(-err));
		return err;
	}
	return spool_open(a->spool_dir, a->conf.spool_max_bytes,
			  a->conf.spool_max_reports, &a->spool);
}

static int agent_run(struct agent *a)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;
	int fresh, err;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = agent_setup(a);
	if (err)
		return err;
	fresh = load_state(a);
	if (fresh < 0)
		return fresh;
	if (fresh && !meter_pins_present(&a->conf.meter))
		save_new_epoch(a);
	err = meter_open(&a->conf.meter, &a->meter);
	if (err) {
		log_warn("cannot start the meter: %s", strerror(-err));
		return err;
	}
	crash_point("opened");
	err = fresh ? take_baseline(a) : restart_baseline(a);
	if (err)
		return err;
	drop_privileges(a);
	/* the sender and nng's threads inherit a blocked SIGTERM/SIGINT/SIGHUP, so
	 * the signal always lands here and interrupts the window sleep */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	err = sender_start(&a->conf, a->spool, &a->sender);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	if (err)
		return err;
	log_info("running: interval %" PRId64 " ms, collector %s",
		 a->conf.interval_ms, a->conf.url);
	/* a Type=notify unit is started once the meter counts */
	sd_notify(0, "READY=1");
	run_loop(a);
	sd_notify(0, "STOPPING=1");
	log_info("stopping");
	return 0;
}

static void agent_cleanup(struct agent *a)
{
	sender_stop(a->sender);
	meter_close(a->meter);
	spool_close(a->spool);
	state_free(&a->st);
	memset(&a->key, 0, sizeof(a->key));
}

int main(int argc, char **argv)
{
	static struct agent a;    /* large (meter config): not on the stack */
	struct daemon_args args;
	char err_msg[512];
	int rc, err;

	log_init("truemeter-agent", LOG_LVL_INFO);
	crash_init();
	if (argc > 1 && strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "hashkey") == 0)
		return cmd_hashkey(argc - 1, argv + 1);
	rc = daemon_args_parse(argc, argv, usage, &args);
	if (rc >= 0)
		return rc;
	if (!args.conf_path || argc - optind > 1 ||
	    (optind < argc && find_command(argv[optind]) < 0)) {
		usage(stderr);
		return 2;
	}
	agent_conf_defaults(&a.conf);
	if (agent_conf_load(args.conf_path, &a.conf, err_msg, sizeof(err_msg))) {
		fprintf(stderr, "%s\n", err_msg);
		return 1;
	}
	if (args.check_only) {
		printf("%s: ok\n", args.conf_path);
		return 0;
	}
	if (optind < argc)
		return commands[find_command(argv[optind])].run(&a.conf);
	err = agent_run(&a);
	agent_cleanup(&a);
	return err ? 1 : 0;
}
