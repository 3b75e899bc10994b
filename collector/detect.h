/* The leak detectors (internal to reconcile.c; tests go through
 * reconcile_period()).  When each fires:
 *
 * unbilled_usage   metered >= min_units, no billing record for the tenant x
 *                  metric overlapping the period, and either the period is
 *                  closed, or (open period) the tenant has no plan
 *                  assignment overlapping it and no live subscription.
 *                  leak = expected_amount (0 if unpriced).
 * underbilled      a billing record exists, the invoice period is closed and
 *                  metered - billed > tolerance of metered.  leak =
 *                  pricing(metered) - pricing(billed) (quantity part only).
 * overbilled       same, billed - metered > tolerance (billed > 0 with
 *                  nothing metered counts).  leak = pricing(billed) -
 *                  pricing(metered): what the customer was overcharged.
 *                  When the meters lost events in the period, the
 *                  evidence says how many: metered may be short.
 * price_mismatch   a billing record exists (open or closed), the tenant is
 *                  priced, and |billed_amount - pricing(billed)| >
 *                  price_tolerance, or the currencies differ.
 * usage_after_cancellation  every subscription of the tenant has ended and
 *                  usage >= min_units started at or after the latest end,
 *                  within the period (open or closed).  leak = its price.
 * usage_while_unpaid  a payment failed at T and nothing was paid since;
 *                  usage >= min_units after T + grace within the period.
 * usage_anomaly    see anomaly.h; over the last anomaly_recent_h hours.
 * metering_gap     a stored gap (missing reports or a broken chain) of at
 *                  least gap_min_ms overlaps the period, or an agent in
 *                  service (not retired) has had no report received for
 *                  silent_after_ms (and gap_min_ms; agents_view_state()),
 *                  also counted from silent_from_ms, and its silence
 *                  (from its last window's end) overlaps the period
 *                  (listed from its last window's end, with no end: it
 *                  goes when reports cover the time, or the agent is
 *                  retired), or an agent's reports with windows in the
 *                  period declare at least loss_min events lost by its
 *                  meter (map overflow, event drops: usage undercounted);
 *                  tenant and metric "*", leak 0, severity "warning". */
#ifndef TM_DETECT_H
#define TM_DETECT_H

#include "reconcile.h"

struct detect_ctx {
	struct store *s;
	const struct pricing *pr;
	const struct reconcile_conf *c;
	const char *period;
	int64_t start_ms, end_ms, now_ms;
	struct alert_set *out;
	char **live;                 /* sorted tenants with a live subscription */
	size_t nlive;
	bool lost_read;              /* lost_events read from the store */
	uint64_t lost_events;        /* what the meters lost in the period */
};

/* Loads the sorted list of tenants with a live (not ended) subscription. */
int detect_load_live(struct detect_ctx *d);
void detect_free_live(struct detect_ctx *d);

/* unbilled_usage, underbilled, overbilled, price_mismatch for one row. */
int detect_row(struct detect_ctx *d, const struct reconcile_row *r);
/* usage_after_cancellation and usage_while_unpaid over the period. */
int detect_accounts(struct detect_ctx *d);
int detect_gaps(struct detect_ctx *d);
/* usage_anomaly for one tenant x metric. */
int detect_anomaly(struct detect_ctx *d, const char *tenant, int metric);

#endif
