/* Leak alerts: the eight kinds, severity by money at stake, JSON rendering,
 * and sets of alerts built by the detectors.
 *
 * Alert JSON (one line each):
 * {"kind":"underbilled","tenant":"acme","metric":"api_requests",
 *  "period":"2026-11","period_start":"2026-11-01T00:00:00Z",
 *  "period_end":"2026-12-01T00:00:00Z","metered":1500,"billed":1000,
 *  "expected_amount":7500,"billed_amount":5000,"leak":2500,"currency":"usd",
 *  "leak_display":"25.00 USD","severity":"warning","status":"open",
 *  "evidence":{...},"first_seen":"...","updated":"..."} */
#ifndef TM_ALERT_H
#define TM_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "store_billing.h"

enum alert_kind {
	ALERT_UNBILLED_USAGE = 0,
	ALERT_UNDERBILLED,
	ALERT_OVERBILLED,
	ALERT_PRICE_MISMATCH,
	ALERT_USAGE_AFTER_CANCELLATION,
	ALERT_USAGE_WHILE_UNPAID,
	ALERT_USAGE_ANOMALY,
	ALERT_METERING_GAP,
	ALERT_KIND_COUNT
};

const char *alert_kind_name(enum alert_kind k);
/* -EINVAL for an unknown name. */
int alert_kind_from_name(const char *name);

struct alert_thresholds {
	int64_t warning;       /* leak >= warning minor units: "warning" */
	int64_t critical;      /* leak >= critical: "critical"; else "info" */
};
const char *alert_severity(int64_t leak, const struct alert_thresholds *t);

/* A growing set of alerts; every string the entries point to is owned by
 * the set (evidence included). */
struct alert_set {
	struct store_alert *v;
	size_t n, cap;
	char **strs;
	size_t nstrs, strcap;
};
/* Copies a (and its strings) in.  0 or -ENOMEM. */
int alert_set_add(struct alert_set *set, const struct store_alert *a);
void alert_set_free(struct alert_set *set);

/* One alert as a JSON line without the newline; malloc'd, caller frees;
 * NULL on ENOMEM. */
char *alert_to_json(const struct store_alert *a);

#endif
