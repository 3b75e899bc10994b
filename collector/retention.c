#include "retention.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "period.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
/* rows per transaction: short enough for ingest to go on between them */
#define PRUNE_BATCH 5000

/* DIR/YYYY-MM.tmb, the bundle of month name. */
static int bundle_path(const char *dir, const char *name, char path[4096])
{
	if (snprintf(path, 4096, "%s/%s.tmb", dir, name) < 4096)
		return 0;
	log_warn("retention: archive directory %s: name too long; nothing pruned", dir);
	return -ENAMETOOLONG;
}

static int archive_month(struct store *s, const char *dir, const char *name,
			 int64_t from, int64_t to, size_t *archived)
{
	char path[4096];
	size_t n = 0;
	int err;

	err = bundle_path(dir, name, path);
	if (err)
		return err;
	if (access(path, F_OK) == 0)
		return 0;                       /* archived by an earlier round */
	err = audit_export(s, from, to, path, &n);
	if (err) {
		log_warn("retention: cannot archive %s to %s: %s; nothing pruned", name, path,
			 strerror(-err));
		return err;
	}
	log_info("retention: archived %s (%zu signed reports) to %s", name, n, path);
	(*archived)++;
	return 0;
}

/* The months that start in [old, point), which lose their first windows
 * now.  The month the old point is in was archived when the point entered
 * it (or, if the archive was set up later, can no longer be whole). */
static int archive_months(struct store *s, const char *dir, int64_t old, int64_t point,
			  size_t *archived)
{
	int64_t oldest, from, to;
	char name[8];
	int err;

	err = store_oldest_window(s, &oldest);
	if (err || oldest >= point)
		return err;
	period_month_of(oldest > old ? oldest : old, name, sizeof(name), &from, &to);
	if (from < old) {
		char path[4096];

		err = bundle_path(dir, name, path);
		if (err)
			return err;
		if (access(path, F_OK) != 0)
			log_warn("retention: %s was partly pruned before it could be "
				 "archived; %s is not written", name, path);
		period_month_of(to, name, sizeof(name), &from, &to);
	}
	for (; from < point && !err; period_month_of(to, name, sizeof(name), &from, &to))
		err = archive_month(s, dir, name, from, to, archived);
	return err;
}

int retention_prune(struct store *s, const struct retention_opts *o, int64_t now_ms,
		    struct retention_result *out)
{
	int64_t old, point;
	char when[32];
	int rc;

	memset(out, 0, sizeof(*out));
	if (o->days < RETENTION_MIN_DAYS || o->days > now_ms / DAY_MS)
		return -EINVAL;
	point = now_ms - o->days * DAY_MS;
	point -= point % HOUR_MS;               /* as store_prune_mark() does */
	rc = store_pruned_before(s, &old);
	if (!rc && o->archive_dir && *o->archive_dir)
		rc = archive_months(s, o->archive_dir, old, point, &out->archived);
	if (rc)
		return rc;                      /* said why */
	rc = store_prune_mark(s, point, now_ms, &out->point_ms);
	while (!rc || rc == 1) {
		rc = store_prune_step(s, PRUNE_BATCH, &out->rows, &out->reports);
		if (rc != 1 || (o->stop && o->stop(o->arg)))
			break;
	}
	out->more = rc == 1;
	period_format_time(out->point_ms ? out->point_ms : point, when, sizeof(when));
	if (rc < 0)
		log_warn("retention: pruning the windows before %s failed: %s", when,
			 strerror(-rc));
	else if (out->rows || out->reports)
		log_info("retention: pruned %" PRIu64 " usage rows and %" PRIu64
			 " reports of windows before %s%s", out->rows, out->reports, when,
			 out->more ? " (more to go)" : "");
	return rc < 0 ? rc : 0;
}
