/* Alert sinks: a webhook (JSON POST via libcurl, retried with exponential
 * backoff) and an exec hook (the alert JSON on the command's stdin, run by
 * /bin/sh -c, its exit status logged).  Both run in one worker thread fed
 * by a bounded queue, so alerting never blocks reconciliation or ingest;
 * a full queue drops (counted). */
#ifndef TM_SINK_H
#define TM_SINK_H

#include <stdint.h>

struct sink_conf {
	const char *webhook_url;     /* "" / NULL: no webhook */
	const char *exec;            /* "" / NULL: no exec hook */
	int64_t retries;             /* webhook attempts after the first (default 5) */
	int64_t backoff_ms;          /* first retry delay, doubled each time (500) */
	int64_t timeout_ms;          /* per request / per command (10000) */
	int64_t queue_max;           /* queued alerts (1000) */
};

struct sink_stats {
	uint64_t queued, webhook_ok, webhook_failed, exec_ok, exec_failed, dropped;
};

struct sink;

/* Strings in conf are copied.  Starts the worker.  *out freed by
 * sink_close(). */
int sink_open(const struct sink_conf *conf, struct sink **out);
/* Queues a copy of the alert JSON; never blocks. */
void sink_submit(struct sink *k, const char *json);
/* Waits up to timeout_ms for the queue to drain (tests). 0 or -ETIMEDOUT. */
int sink_flush(struct sink *k, int64_t timeout_ms);
void sink_stats_get(struct sink *k, struct sink_stats *st);
/* Stops the worker (a request in flight finishes, no more retries); NULL ok. */
void sink_close(struct sink *k);

#endif
