/* The judge: HTTP + reconcile thread + sinks (see judge.h). */
#include "judge.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents_view.h"
#include "alert.h"
#include "billing.h"
#include "log.h"
#include "period.h"
#include "pricing.h"
#include "reconcile.h"
#include "sink.h"
#include "store_billing.h"

struct judge {
	struct judge_conf conf;
	char *db_path;
	struct store *s;                 /* the reconcile thread's handle */
	struct pricing *pr;
	char *catalog_text;              /* what pr was parsed from */
	struct reconcile_conf rc;
	struct billing_maps *stripe_maps, *rzp_maps;
	struct httpd *http;
	struct sink *sink;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu, tick_mu;     /* tick_mu: one tick at a time */
	pthread_cond_t cv;
	bool stop, poked;
	volatile sig_atomic_t reload;
	int64_t last_anomaly_ms;
	/* stats for /metrics */
	uint64_t ticks, emitted, tick_errors;
	int64_t last_tick_ms, last_tick_dur_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The catalog: the configured file (stored for the CLI too), else what
 * `truemeter pricing load` stored.  Keeps the old one on any error. */
static int load_catalog(struct judge *j)
{
	struct pricing *p = NULL;
	char *text = NULL, err[300];
	int rc;

	if (j->conf.pricing_catalog[0]) {
		rc = pricing_load_file(j->conf.pricing_catalog, &p, &text, err, sizeof(err));
		if (rc) {
			log_warn("pricing: %s (keeping the previous catalog)", err);
			return rc;
		}
		if (!j->catalog_text || strcmp(text, j->catalog_text) != 0)
			store_catalog_put(j->s, text);
	} else {
		rc = store_catalog_get(j->s, &text);
		if (rc <= 0)
			return rc;
		if (j->catalog_text && strcmp(text, j->catalog_text) == 0) {
			free(text);
			return 0;
		}
		rc = pricing_parse(text, "stored catalog", &p, err, sizeof(err));
		if (rc) {
			log_warn("pricing: %s", err);
			free(text);
			return rc;
		}
	}
	if (j->catalog_text && strcmp(text, j->catalog_text) == 0) {
		pricing_free(p);
		free(text);
		return 0;
	}
	pricing_free(j->pr);
	free(j->catalog_text);
	j->pr = p;
	j->catalog_text = text;
	log_info("pricing: catalog loaded (%zu plans, %zu assignments)", p->nplans,
		 p->nassignments);
	return 0;
}

/* New mapping files take effect for the next webhook; on an error the old
 * ones stay. */
static void reload_maps(struct judge *j)
{
	struct billing_maps *sm = NULL, *rm = NULL, *old_s = j->stripe_maps, *old_r = j->rzp_maps;
	char err[300];

	if (billing_maps_load(j->conf.stripe_customer_map, j->conf.stripe_price_map, &sm,
			      err, sizeof(err)) ||
	    billing_maps_load(j->conf.razorpay_customer_map, j->conf.razorpay_price_map, &rm,
			      err, sizeof(err))) {
		log_warn("judge: %s (keeping the previous mappings)", err);
		billing_maps_free(sm);
		return;
	}
	httpd_set_maps(j->http, sm, rm);
	j->stripe_maps = sm;
	j->rzp_maps = rm;
	billing_maps_free(old_s);
	billing_maps_free(old_r);
}

static void emit(const struct store_alert *a, void *arg)
{
	struct judge *j = arg;
	char *json = alert_to_json(a);

	if (!json)
		return;
	if (j->conf.alerts_stdout) {
		flockfile(stdout);
		fputs(json, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		funlockfile(stdout);
	}
	sink_submit(j->sink, json);
	j->emitted++;
	free(json);
}

static int reconcile_month(struct judge *j, const char *name, int64_t from, int64_t to,
			   int64_t now)
{
	struct alert_set set = { 0 };
	unsigned mask = ((1u << ALERT_KIND_COUNT) - 1) & ~(1u << ALERT_USAGE_ANOMALY);
	int rc;

	rc = reconcile_period(j->s, j->pr, &j->rc, name, from, to, now, NULL, NULL, &set);
	if (!rc)
		rc = reconcile_commit(j->s, &set, mask, from, to, now, emit, j);
	alert_set_free(&set);
	return rc < 0 ? rc : 0;
}

static int tick_locked(struct judge *j, int64_t now)
{
	int64_t from, to, pfrom, pto, t0 = mono_ms();
	char name[8], pname[8];
	int rc;

	if (j->reload) {
		j->reload = 0;
		reload_maps(j);
		load_catalog(j);
	} else if (!j->conf.pricing_catalog[0]) {
		load_catalog(j);      /* picks up `truemeter pricing load` */
	}
	period_month_of(now, name, sizeof(name), &from, &to);
	period_month_of(from - 1, pname, sizeof(pname), &pfrom, &pto);
	rc = reconcile_month(j, name, from, to, now);
	if (!rc)
		rc = reconcile_month(j, pname, pfrom, pto, now);
	if (!rc && j->conf.anomaly &&
	    (j->last_anomaly_ms == 0 || now - j->last_anomaly_ms >= j->conf.anomaly_interval_ms)) {
		struct alert_set set = { 0 };

		j->last_anomaly_ms = now;
		rc = reconcile_anomalies(j->s, j->pr, &j->rc, name, from, to, now, &set);
		if (!rc)
			rc = reconcile_commit(j->s, &set, 1u << ALERT_USAGE_ANOMALY, from, to, now,
					      emit, j);
		rc = rc < 0 ? rc : 0;
		alert_set_free(&set);
	}
	if (store_collector_alive(j->s, now))
		log_warn("reconcile: cannot record the collector's sign of life");
	j->ticks++;
	j->last_tick_ms = now;
	j->last_tick_dur_ms = mono_ms() - t0;
	if (rc) {
		j->tick_errors++;
		log_warn("reconcile: tick failed: %s", strerror(-rc));
	}
	return rc;
}

int judge_tick(struct judge *j, int64_t now)
{
	int rc;

	pthread_mutex_lock(&j->tick_mu);
	rc = tick_locked(j, now);
	pthread_mutex_unlock(&j->tick_mu);
	return rc;
}

static void *loop(void *arg)
{
	struct judge *j = arg;

	for (;;) {
		struct timespec ts;
		int64_t deadline;

		judge_tick(j, period_now_ms());
		deadline = period_now_ms() + j->conf.reconcile_interval_ms;
		ts.tv_sec = deadline / 1000;
		ts.tv_nsec = (deadline % 1000) * 1000000;
		pthread_mutex_lock(&j->mu);
		while (!j->stop && !j->poked &&
		       pthread_cond_timedwait(&j->cv, &j->mu, &ts) == 0)
			;
		j->poked = false;
		if (j->stop) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		pthread_mutex_unlock(&j->mu);
	}
	return NULL;
}

static void judge_metrics(FILE *f, void *arg)
{
	struct judge *j = arg;
	struct sink_stats st;

	sink_stats_get(j->sink, &st);
	fprintf(f, "# TYPE truemeter_reconcile_ticks_total counter\n"
		"truemeter_reconcile_ticks_total %llu\n"
		"# TYPE truemeter_reconcile_errors_total counter\n"
		"truemeter_reconcile_errors_total %llu\n"
		"# TYPE truemeter_reconcile_duration_ms gauge\n"
		"truemeter_reconcile_duration_ms %lld\n"
		"# TYPE truemeter_alerts_emitted_total counter\n"
		"truemeter_alerts_emitted_total %llu\n"
		"# TYPE truemeter_alert_sink_total counter\n"
		"truemeter_alert_sink_total{sink=\"webhook\",result=\"ok\"} %llu\n"
		"truemeter_alert_sink_total{sink=\"webhook\",result=\"failed\"} %llu\n"
		"truemeter_alert_sink_total{sink=\"exec\",result=\"ok\"} %llu\n"
		"truemeter_alert_sink_total{sink=\"exec\",result=\"failed\"} %llu\n"
		"truemeter_alert_sink_total{sink=\"queue\",result=\"dropped\"} %llu\n",
		(unsigned long long)__atomic_load_n(&j->ticks, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&j->tick_errors, __ATOMIC_RELAXED),
		(long long)__atomic_load_n(&j->last_tick_dur_ms, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&j->emitted, __ATOMIC_RELAXED),
		(unsigned long long)st.webhook_ok, (unsigned long long)st.webhook_failed,
		(unsigned long long)st.exec_ok, (unsigned long long)st.exec_failed,
		(unsigned long long)st.dropped);
}

static void wake(void *arg)
{
	judge_poke(arg);
}

static int start_parts(struct judge *j)
{
	struct sink_conf sc = {
		.webhook_url = j->conf.alerts_webhook_url, .exec = j->conf.alerts_exec,
		.retries = j->conf.alerts_webhook_retries, .backoff_ms = j->conf.alerts_backoff_ms,
	};
	char err[300];
	int rc;

	rc = billing_maps_load(j->conf.stripe_customer_map, j->conf.stripe_price_map,
			       &j->stripe_maps, err, sizeof(err));
	if (!rc)
		rc = billing_maps_load(j->conf.razorpay_customer_map, j->conf.razorpay_price_map,
				       &j->rzp_maps, err, sizeof(err));
	if (rc) {
		log_warn("judge: %s", err);
		return rc;
	}
	rc = sink_open(&sc, &j->sink);
	if (rc) {
		log_warn("judge: alert sinks: %s", strerror(-rc));
		return rc;
	}
	if (j->conf.http_enabled) {
		struct httpd_conf hc = {
			.listen = j->conf.http_listen, .port = (int)j->conf.http_port,
			.max_body = j->conf.http_max_body, .stripe_secret = j->conf.stripe_secret,
			.stripe_tolerance_s = j->conf.stripe_tolerance_ms / 1000,
			.razorpay_secret = j->conf.razorpay_secret, .maps = j->stripe_maps,
			.razorpay_maps = j->rzp_maps, .db_path = j->db_path,
			.changed = wake, .changed_arg = j,
			.metrics = judge_metrics, .metrics_arg = j,
			.agents_quiet_ms = agents_view_quiet(j->conf.silent_after_ms,
							     j->conf.gap_min_ms),
			.agents_from_ms = j->rc.silent_from_ms,
		};

		rc = httpd_start(&hc, &j->http, err, sizeof(err));
		if (rc) {
			log_warn("judge: %s", err);
			return rc;
		}
	}
	rc = pthread_create(&j->thread, NULL, loop, j);
	if (rc)
		return -rc;
	j->started = true;
	return 0;
}

/* Agents' silence counts from the collector's start, as reports spooled
 * while it was down arrive now; but a restart soon after the last run's
 * last tick continues that run's count, or a collector that keeps
 * restarting would never see an agent fall silent. */
static void up_since(struct judge *j)
{
	int64_t now = period_now_ms();
	int64_t quiet = agents_view_quiet(j->conf.silent_after_ms, j->conf.gap_min_ms);
	int rc = store_collector_up(j->s, now, quiet, &j->rc.silent_from_ms);

	if (rc) {
		log_warn("judge: cannot record the collector's start: %s", strerror(-rc));
		j->rc.silent_from_ms = now;
	} else if (j->rc.silent_from_ms < now) {
		log_info("judge: up since %" PRId64 " ms ago, across a short downtime: agents' "
			 "silence counts from then", now - j->rc.silent_from_ms);
	}
}

int judge_open(const struct judge_conf *conf, const char *db_path, struct judge **out)
{
	struct judge *j = calloc(1, sizeof(*j));
	int rc;

	*out = NULL;
	if (!j)
		return -ENOMEM;
	j->conf = *conf;
	pthread_mutex_init(&j->mu, NULL);
	pthread_mutex_init(&j->tick_mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	judge_conf_reconcile(conf, &j->rc);
	j->db_path = strdup(db_path);
	if (!j->db_path) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = store_open(db_path, &j->s);
	if (!rc)
		rc = store_billing_init(j->s);
	if (rc) {
		log_warn("judge: cannot open the store %s: %s", db_path, strerror(-rc));
		goto cleanup;
	}
	up_since(j);
	rc = load_catalog(j);
	if (rc && conf->pricing_catalog[0])
		goto cleanup;     /* a configured catalog must load */
	rc = start_parts(j);
	if (rc)
		goto cleanup;
	*out = j;
	return 0;
cleanup:
	judge_close(j);
	return rc;
}

void judge_close(struct judge *j)
{
	if (!j)
		return;
	if (j->started) {
		pthread_mutex_lock(&j->mu);
		j->stop = true;
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->thread, NULL);
	}
	httpd_stop(j->http);
	sink_flush(j->sink, 2000);   /* alerts already raised get out if they can */
	sink_close(j->sink);
	billing_maps_free(j->stripe_maps);
	billing_maps_free(j->rzp_maps);
	pricing_free(j->pr);
	free(j->catalog_text);
	store_close(j->s);
	pthread_mutex_destroy(&j->mu);
	pthread_mutex_destroy(&j->tick_mu);
	pthread_cond_destroy(&j->cv);
	free(j->db_path);
	free(j);
}

void judge_reload(struct judge *j)
{
	if (j)
		j->reload = 1;
}

void judge_poke(struct judge *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->poked = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

void judge_set_metrics(struct judge *j, httpd_metrics_fn fn, void *arg)
{
	if (j)
		httpd_set_metrics(j->http, fn, arg);
}

int judge_http_port(const struct judge *j)
{
	return j ? httpd_port(j->http) : 0;
}
