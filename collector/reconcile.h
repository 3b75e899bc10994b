/* Reconciliation: per tenant x metric x billing period, what was metered
 * against what was billed, priced with the catalog; the detectors
 * (detect.h) turn rows into leak alerts, reconcile_commit() stores them.
 *
 * Rows of a period P = [start, end) (a calendar month by default):
 * - one per billing group (tenant, metric, invoice period) whose invoice
 *   period starts in P; metered = usage over the invoice's own period;
 * - one per tenant x metric with usage in P and no billing record
 *   overlapping P (billed 0), over P itself.
 * expected_amount = the tenant's plan (assignment in force at the row's
 * start, else the catalog's default plan) applied to the metered quantity;
 * leak = expected_amount - billed_amount (0 when no price is known). */
#ifndef TM_RECONCILE_H
#define TM_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "anomaly.h"
#include "pricing.h"
#include "store_billing.h"

struct reconcile_conf {
	int64_t tolerance_bp;        /* quantity tolerance, basis points (100 = 1%) */
	int64_t price_tolerance;     /* minor units allowed in price_mismatch */
	int64_t grace_ms;            /* usage_while_unpaid: after the first failure */
	int64_t settle_ms;           /* a period is closed settle_ms after its end */
	int64_t min_units;           /* smaller usage is not worth an alert */
	struct alert_thresholds sev;
	struct anomaly_conf anomaly;
	int64_t anomaly_history_h;   /* hourly history fetched per series */
	int64_t anomaly_recent_h;    /* hours judged (the rest is baseline) */
	int64_t gap_min_ms;          /* shorter metering gaps are ignored */
	int64_t silent_after_ms;     /* an agent in service with no report
				      * this long is a metering gap; 0: off */
	int64_t silent_from_ms;      /* ... counted from no earlier than this:
				      * the collector's start, before which
				      * reports waited in the agents' spools
				      * (an earlier run's, across a short
				      * downtime: store_collector_up()) */
	int64_t loss_min;            /* events an agent's meter lost in the
				      * period that make it a metering gap;
				      * 0: off */
};
void reconcile_conf_default(struct reconcile_conf *c);

struct reconcile_row {
	const char *tenant;
	int metric;
	const char *period;          /* "2026-11" or "2026-11-03/2026-12-03" */
	int64_t start_ms, end_ms;
	uint64_t metered, billed;
	int64_t expected_amount;     /* pricing(metered); -1 when no price */
	int64_t billed_amount;
	int64_t billed_expected;     /* pricing(billed quantity); -1 when no price */
	int64_t leak;
	const char *currency;        /* the plan's, else the bill's, else "" */
	const char *bill_currency;   /* the billing records' ("" if none) */
	const char *plan;            /* NULL when unpriced */
	bool has_bill, closed;
	size_t nbills;
};

typedef int (*reconcile_row_cb)(const struct reconcile_row *r, void *arg);

/* Computes the rows of [start, end) named period at now_ms, calls cb (may be
 * NULL) per row and, when alerts is not NULL, runs every detector except
 * usage_anomaly into it.  Returns 0 or a negative errno. */
int reconcile_period(struct store *s, const struct pricing *pr,
		     const struct reconcile_conf *c, const char *period,
		     int64_t start_ms, int64_t end_ms, int64_t now_ms,
		     reconcile_row_cb cb, void *arg, struct alert_set *alerts);

/* usage_anomaly over every tenant x metric with usage in the last
 * anomaly_history_h hours, judging the last anomaly_recent_h complete
 * hours before now_ms; alerts are for the period [start, end) named
 * period (the month of now_ms). */
int reconcile_anomalies(struct store *s, const struct pricing *pr,
			const struct reconcile_conf *c, const char *period,
			int64_t start_ms, int64_t end_ms, int64_t now_ms,
			struct alert_set *alerts);

/* Called for alerts that are new or whose numbers changed (after storing). */
typedef void (*reconcile_emit_cb)(const struct store_alert *a, void *arg);

/* Upserts alerts; open alerts of the kinds in kind_mask (1 << kind) whose
 * period starts in [start, end) and that were not raised again are
 * resolved.  Returns the number of new or changed alerts, or -errno. */
int reconcile_commit(struct store *s, const struct alert_set *alerts, unsigned kind_mask,
		     int64_t start_ms, int64_t end_ms, int64_t now_ms,
		     reconcile_emit_cb emit, void *arg);

#endif
