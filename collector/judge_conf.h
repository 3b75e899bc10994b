/* The judge's settings: sections [http], [stripe], [razorpay], [pricing],
 * [reconcile] and [alerts] of collector.conf (reference in the README).
 * Plain data; offsets for common/conf.h. */
#ifndef TM_JUDGE_CONF_H
#define TM_JUDGE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define JUDGE_PATH_LEN 256
#define JUDGE_SECRET_LEN 256

struct judge_conf {
	/* [http] */
	bool http_enabled;
	char http_listen[64];
	int64_t http_port;
	int64_t http_max_body;
	/* [stripe] */
	char stripe_secret[JUDGE_SECRET_LEN];
	int64_t stripe_tolerance_ms;
	char stripe_customer_map[JUDGE_PATH_LEN];
	char stripe_price_map[JUDGE_PATH_LEN];
	/* [razorpay] */
	char razorpay_secret[JUDGE_SECRET_LEN];
	char razorpay_customer_map[JUDGE_PATH_LEN];
	char razorpay_price_map[JUDGE_PATH_LEN];
	/* [pricing] */
	char pricing_catalog[JUDGE_PATH_LEN];
	/* [reconcile] */
	int64_t reconcile_interval_ms;
	int64_t tolerance_bp;             /* tolerance_pct = 1.5 -> 150 */
	int64_t price_tolerance;
	int64_t grace_ms;
	int64_t settle_ms;
	int64_t min_units;
	bool anomaly;
	int64_t anomaly_interval_ms;
	int64_t anomaly_z_milli;          /* anomaly_z = 6 -> 6000 */
	int64_t anomaly_min_rel_pct;
	int64_t gap_min_ms;
	int64_t silent_after_ms;          /* 0: silent agents raise nothing */
	int64_t loss_min;                 /* 0: meter losses raise nothing */
	/* [alerts] */
	char alerts_webhook_url[512];
	char alerts_exec[512];
	int64_t alerts_warning;           /* minor units */
	int64_t alerts_critical;
	int64_t alerts_webhook_retries;
	int64_t alerts_backoff_ms;
	bool alerts_stdout;
};

void judge_conf_defaults(struct judge_conf *c);
struct reconcile_conf;
/* The [reconcile] and [alerts] thresholds as the detectors take them. */
void judge_conf_reconcile(const struct judge_conf *c, struct reconcile_conf *rc);
/* Keys with offsets into struct judge_conf, ending with { NULL }. */
const struct conf_key *judge_conf_keys(void);
/* Cross-field checks and files named by the config (mapping files, the
 * pricing catalog) parsed; "path: message" in err. */
int judge_conf_check(const struct judge_conf *c, const char *path, char *err, size_t errlen);

/* For the CLI: loads a whole collector.conf (the [collector] section and
 * the judge's) into c (defaults first).  path NULL: defaults only. */
int judge_conf_load_file(const char *path, struct judge_conf *c, char *err, size_t errlen);

#endif
