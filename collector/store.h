/* The collector's store: verified reports and their usage rows, metering
 * gaps, and (store_billing.h) billing records, pricing and alerts.
 *
 * Callers see only this interface; store_sqlite.c is the backend (SQLite,
 * WAL, synchronous=FULL).  A PostgreSQL backend would implement the same
 * functions.  Strings passed in are copied; strings handed to callbacks
 * are valid only during the callback. */
#ifndef TM_STORE_H
#define TM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

struct store;

/* path: a SQLite file, created with the schema if missing. */
int store_open(const char *path, struct store **out);
void store_close(struct store *s);

/* What the collector knows of an agent's chain in one epoch. */
struct store_chain {
	bool found;                      /* any report of (agent, epoch) stored */
	uint64_t last_seq;
	uint8_t last_digest[REPORT_DIGEST_LEN];
};

int store_chain_get(struct store *s, const uint8_t agent[REPORT_PK_LEN],
		    uint64_t epoch, struct store_chain *chain);

/* Looks up one stored report: 1 and its digest if present, 0 if not. */
int store_report_digest(struct store *s, const uint8_t agent[REPORT_PK_LEN],
			uint64_t epoch, uint64_t seq,
			uint8_t digest[REPORT_DIGEST_LEN]);

enum store_put_result { STORE_PUT_NEW = 0, STORE_PUT_DUPLICATE = 1 };

/* Stores a verified report, its usage rows and, when gap_from <= gap_to,
 * the metering gap it reveals (seqs never received), in one transaction.
 * Returns STORE_PUT_NEW, STORE_PUT_DUPLICATE when (agent, epoch, seq) is
 * already stored (nothing written), or a negative errno. */
int store_report_put(struct store *s, const Truemeter__Report *r,
		     const uint8_t digest[REPORT_DIGEST_LEN],
		     uint64_t gap_from, uint64_t gap_to, const char *gap_reason);

/* As store_report_put, and keeps the signed envelope (env, borrowed) so an
 * auditor can verify the usage record without trusting the collector. */
int store_report_put_signed(struct store *s, const Truemeter__Report *r,
			    const uint8_t digest[REPORT_DIGEST_LEN],
			    const uint8_t *env, size_t env_len,
			    uint64_t gap_from, uint64_t gap_to, const char *gap_reason);

/* Signed envelopes of the reports whose windows start in [from_ms, to_ms),
 * ordered by agent, epoch, seq.  Reports stored without one are skipped. */
typedef int (*store_envelope_cb)(const uint8_t *env, size_t len, void *arg);
int store_envelopes(struct store *s, int64_t from_ms, int64_t to_ms,
		    store_envelope_cb cb, void *arg);

/* Usage summed per tenant x metric over windows that start within
 * [from_ms, to_ms).  tenant NULL = all tenants, metric 0 = all metrics. */
struct store_usage {
	const char *tenant;
	int metric;
	uint64_t value;
	int64_t first_ms, last_ms;       /* earliest window start, latest end */
	/* store_usage_detail() only (else "", "", 0): the HTTP dimensions,
	 * "" and 0 for metrics without them; status_class 1..5 for 1xx..5xx */
	const char *route, *method;
	int status_class;
};
typedef int (*store_usage_cb)(const struct store_usage *u, void *arg);
int store_usage_sum(struct store *s, const char *tenant, int metric,
		    int64_t from_ms, int64_t to_ms, store_usage_cb cb, void *arg);
/* The same per tenant x metric x route x method x status class, read from
 * the windows themselves (slower: no hourly sums hold the dimensions);
 * -ERANGE, logged, for a range that starts before the pruning point. */
int store_usage_detail(struct store *s, const char *tenant, int metric,
		       int64_t from_ms, int64_t to_ms, store_usage_cb cb, void *arg);

/* Hourly series for one tenant x metric: cb per hour bucket that has data,
 * in time order (hour_ms = bucket start). */
typedef int (*store_hourly_cb)(int64_t hour_ms, uint64_t value, void *arg);
int store_usage_hourly(struct store *s, const char *tenant, int metric,
		       int64_t from_ms, int64_t to_ms, store_hourly_cb cb, void *arg);

/* Metering gaps overlapping [from_ms, to_ms): reports that never arrived
 * (seq range) or a chain that could not be verified. */
struct store_gap {
	const char *agent_hex;
	uint64_t epoch, from_seq, to_seq;
	int64_t from_ms, to_ms;          /* the unverifiable time range */
	const char *reason;
};
typedef int (*store_gap_cb)(const struct store_gap *g, void *arg);
int store_gaps(struct store *s, int64_t from_ms, int64_t to_ms,
	       store_gap_cb cb, void *arg);

/* Per agent, the events its meter lost (map full, bytes it could not
 * parse or see) in the windows of its reports overlapping [from_ms,
 * to_ms), as the reports declared them; only agents with losses, by key.
 * from_ms and to_ms span the windows that had any. */
struct store_loss {
	const char *agent_hex;
	const char *hostname;
	int64_t from_ms, to_ms;
	uint64_t map_overflow, event_drops;
};
typedef int (*store_loss_cb)(const struct store_loss *l, void *arg);
int store_losses(struct store *s, int64_t from_ms, int64_t to_ms,
		 store_loss_cb cb, void *arg);

/* Every agent that has stored a report, by key: how many, and what its
 * latest one (latest window, the last of a window split in several)
 * declared; and every enrolled agent that has not (reports 0, received_ms
 * 0, hostname "", window_end_ms and heard_ms when it was enrolled: see
 * store_enrolled_sync()).  Strings are borrowed for the callback only. */
struct store_agent {
	const char *agent_hex;
	const char *hostname;
	uint64_t reports;
	int64_t window_end_ms, received_ms;     /* of the latest report */
	uint64_t map_overflow, event_drops, spool_drops;
	const char *hooks_missing;              /* comma-separated, "" for none */
	int64_t retired_ms;                     /* taken out of service, else 0 */
	int64_t heard_ms;                       /* any report last received */
	int64_t enrolled_ms;                    /* key first enrolled, else 0 */
};
typedef int (*store_agent_cb)(const struct store_agent *a, void *arg);
int store_agents(struct store *s, store_agent_cb cb, void *arg);

/* Makes hex[0..n) (lower-case hex keys) the enrolled agents: a key new to
 * the store is known from now_ms, one no longer in the set is forgotten.
 * store_agents() lists an enrolled agent that never reported, as of when
 * it was enrolled (window_end_ms and heard_ms), with no reports. */
int store_enrolled_sync(struct store *s, const char (*hex)[REPORT_PK_HEX_LEN + 1],
			size_t n, int64_t now_ms);

/* The collector starts at now_ms: *since_ms gets when its run of uptime
 * began, which a restart within max_down_ms of its last sign of life
 * (store_collector_alive()) continues, so agents' silence is not counted
 * afresh at every restart of a collector that keeps restarting; else
 * now_ms.  Recorded for the next start. */
int store_collector_up(struct store *s, int64_t now_ms, int64_t max_down_ms,
		       int64_t *since_ms);
/* The running collector's sign of life, at every reconcile tick. */
int store_collector_alive(struct store *s, int64_t now_ms);

/* Takes the one agent whose key (lower-case hex) starts with prefix out of
 * service as of now_ms: its silence is then no metering gap, until it
 * reports again.  Its key in hex, and since when it is retired (an earlier
 * time if it was already), are written out.  -ENOENT when no agent
 * matches, -ENOTUNIQ when several do. */
int store_agent_retire(struct store *s, const char *prefix, int64_t now_ms,
		       char hex[REPORT_PK_HEX_LEN + 1], int64_t *retired_ms);

/* Retention.  Pruning deletes the windows that start before a point: their
 * usage rows and their reports with the signed envelopes, nearly all of
 * the store's size.  What stays: the hourly usage sums (so the usage of
 * whole hours, and so reconciliation and anomaly baselines of any
 * calendar period), the latest report of each chain and of each agent
 * (without its envelope: chains go on, and a report resent from before is
 * refused as behind its chain), gaps, billing records and alerts.  Then
 * store_usage_sum() and store_usage_hourly() fail with -ERANGE for a
 * range whose edges would need windows before the point (one that starts
 * or ends inside an hour before it), and store_envelopes() for a range
 * that starts before it; both log why. */

/* Moves the pruning point to before_ms rounded down to a whole hour, never
 * back; the point now in *point_ms.  From then on the pruned data is
 * refused as above; store_prune_step() deletes it. */
int store_prune_mark(struct store *s, int64_t before_ms, int64_t now_ms,
		     int64_t *point_ms);
/* Deletes up to max_rows usage rows and up to max_rows reports before the
 * point, in one transaction, and adds how many to *rows and *reports.  1
 * when more may remain, 0 when none do, or a negative errno.  Space freed
 * is reused by later reports; the file does not shrink. */
int store_prune_step(struct store *s, unsigned max_rows, uint64_t *rows,
		     uint64_t *reports);
/* The start of the oldest window with a report stored, INT64_MAX if none. */
int store_oldest_window(struct store *s, int64_t *start_ms);
/* The pruning point: 0 if the store was never pruned. */
int store_pruned_before(struct store *s, int64_t *before_ms);

/* Reports stored from now on are stamped as received at ms (0: the wall
 * clock again): for tools and tests that store reports of the past. */
void store_set_clock(struct store *s, int64_t ms);

/* Counters for /metrics and tests. */
struct store_stats {
	uint64_t reports, rows, gaps;
};
int store_stats_get(struct store *s, struct store_stats *st);

#endif
