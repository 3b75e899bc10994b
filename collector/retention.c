#include "retention.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "period.h"

#define DAY_MS 86400000LL
/* rows per transaction: short enough for ingest to go on between them */
#define PRUNE_BATCH 5000

int retention_prune(struct store *s, int64_t days, int64_t now_ms,
		    bool (*stop)(void *arg), void *arg, struct retention_result *out)
{
	char when[32];
	int rc;

	memset(out, 0, sizeof(*out));
	if (days < RETENTION_MIN_DAYS || days > now_ms / DAY_MS)
		return -EINVAL;
	rc = store_prune_mark(s, now_ms - days * DAY_MS, now_ms, &out->point_ms);
	while (rc >= 0) {
		rc = store_prune_step(s, PRUNE_BATCH, &out->rows, &out->reports);
		if (rc != 1 || (stop && stop(arg)))
			break;
	}
	out->more = rc == 1;
	period_format_time(out->point_ms, when, sizeof(when));
	if (rc < 0)
		log_warn("retention: pruning the windows before %s failed: %s", when,
			 strerror(-rc));
	else if (out->rows || out->reports)
		log_info("retention: pruned %" PRIu64 " usage rows and %" PRIu64
			 " reports of windows before %s%s", out->rows, out->reports, when,
			 out->more ? " (more to go)" : "");
	return rc < 0 ? rc : 0;
}
