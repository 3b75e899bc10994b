/* usage_anomaly: robust anomaly detection on one tenant x metric hourly
 * series against its own baseline.
 *
 * Baseline of hour i: the median of the same hour-of-week in up to 4
 * previous weeks (when at least 3 exist), else the median of the same hour
 * of day in up to 7 previous days (at least 3), else none (no verdict).
 * Hours already judged anomalous are left out of a median when at least 3
 * others remain.
 * Scale: 1.4826 x MAD of the residuals (value - baseline) of the previous
 * 168 hours that were not themselves anomalous, floored at rel_floor x
 * baseline and at 1.  Hour i is a spike (+1) or drop (-1) when |z| =
 * |value - baseline| / scale > z and |value - baseline| > min_rel x
 * baseline. */
#ifndef TM_ANOMALY_H
#define TM_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

struct anomaly_conf {
	double z;              /* default 6 */
	double min_rel;        /* default 0.5 */
	double rel_floor;      /* default 0.05 */
};

void anomaly_conf_default(struct anomaly_conf *c);

struct anomaly_point {
	double baseline, z;    /* baseline < 0: no verdict possible */
	int8_t flag;           /* +1 spike, -1 drop, 0 normal */
};

/* v[0..n) consecutive hours; v[0] is hour first_hour (hours since the
 * epoch, so hour-of-week lines up with weeks starting Thursday 00:00 UTC —
 * any fixed phase works).  Fills out[i] for i in [eval_from, n); earlier
 * points are history.  Returns the number flagged or -ENOMEM. */
int anomaly_detect(const double *v, size_t n, size_t eval_from,
		   const struct anomaly_conf *c, struct anomaly_point *out);

#endif
