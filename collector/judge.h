/* The judge: the collector's billing side in one object — the HTTP server
 * (webhooks, API, dashboard, /metrics), the pricing catalog, and a thread
 * that reconciles the open and the previous billing period every
 * [reconcile] interval, runs the detectors, stores and deduplicates the
 * alerts, prints new or changed ones as JSON lines on stdout and hands them
 * to the sinks (webhook, exec hook). */
#ifndef TM_JUDGE_H
#define TM_JUDGE_H

#include "httpd.h"
#include "judge_conf.h"

struct judge;

/* Starts everything; opens its own store handles on db_path.  Errors are
 * logged; returns 0 or a negative errno. *out freed by judge_close(). */
int judge_open(const struct judge_conf *conf, const char *db_path, struct judge **out);
/* Stops the HTTP server and the threads; NULL ok. */
void judge_close(struct judge *j);

/* Asks for the pricing catalog (and mapping files) to be reloaded at the
 * next tick.  Only sets a flag: safe from a signal handler (SIGHUP). */
void judge_reload(struct judge *j);
/* Wakes the reconcile thread now (e.g. after reports were stored). */
void judge_poke(struct judge *j);
/* Adds Prometheus lines to /metrics (the receiver's counters). */
void judge_set_metrics(struct judge *j, httpd_metrics_fn fn, void *arg);
/* The HTTP port actually bound (0 if HTTP is off). */
int judge_http_port(const struct judge *j);

/* One reconcile pass at now_ms, as the thread does (tests, benches). */
int judge_tick(struct judge *j, int64_t now_ms);

#endif
