/* Internal interface between the meter (agent/meter.c) and its parts:
 * meter_http (bpf/http.bpf.c: HTTP API requests on configured ports) and
 * meter_cgroup (bpf/tenant.bpf.c: cgroup and peer-CIDR tenants).
 *
 * Each part's open() loads and attaches what it can, records attached and
 * missing hooks with meter_health_hook(), and returns -ENOENT-free success
 * even when an optional hook is missing.  read() appends cumulative rows. */
#ifndef TM_METER_PARTS_H
#define TM_METER_PARTS_H

#include <bpf/libbpf.h>

#include "meter.h"

/* Growable row array; meter_rows_push copies the row.  Owned by meter.c. */
struct meter_rows {
	struct meter_row *v;
	size_t n, cap;
};

/* Each part pushes every key once (it sums per-CPU values and, for a
 * tenant with several cgroups, the cgroups itself). */
int meter_rows_push(struct meter_rows *rows, const struct meter_row *row);
void meter_health_hook(struct meter_health *h, const char *name, bool attached);

/* Pins map under dir/name, reusing a map pinned there by an earlier agent
 * when its definition matches; call between open and load. */
int meter_pin_reuse(struct bpf_map *map, const char *dir);
/* Would a load reuse what is pinned for map under dir as it is (true when
 * nothing is pinned)?  Set the map's size first. */
bool meter_pin_compatible(struct bpf_map *map, const char *dir);

/* Opens the map pinned at dir/name into *fd (the caller closes it); a
 * missing or unreadable pin is a warning and a negative errno. */
int meter_open_pinned(const char *dir, const char *name, int *fd);

struct meter_http;
int meter_http_open(const struct meter_conf *conf, struct meter_health *h,
		    struct meter_http **out);
int meter_http_read(struct meter_http *m, struct meter_rows *rows,
		    struct meter_health *h);
void meter_http_close(struct meter_http *m);
/* Did the HTTP counters (or its loss counters) hold nothing when this open
 * loaded them: created afresh, or never counted?  Then whatever they hold
 * later was counted since. */
bool meter_http_from_zero(const struct meter_http *m);
bool meter_http_losses_from_zero(const struct meter_http *m);
/* Removes everything the HTTP meter pinned under pin_dir/http (its links
 * detach, its counters are gone).  For the agent's detach command. */
int meter_http_unpin(const char *pin_dir);
/* Ends a drain after an upgrade now (http_drain_end()): the previous
 * build's programs detach, the connections they still held count once each
 * as unmetered.  *left: how many; -ENOENT when no drain is in progress. */
int meter_http_end_drain(const char *pin_dir, long long *left);
/* For `truemeter-agent status`: the HTTP meter's pinned programs, the
 * connections they meter and a drain in progress, as lines on out. */
int meter_http_status(const struct meter_conf *conf, FILE *out);

struct meter_cgroup;
int meter_cgroup_open(const struct meter_conf *conf, struct meter_health *h,
		      struct meter_cgroup **out);
int meter_cgroup_read(struct meter_cgroup *m, struct meter_rows *rows,
		      struct meter_health *h);
void meter_cgroup_close(struct meter_cgroup *m);
/* The same for a configured tenant's counters (it got a slot of its own at
 * this open: none was named for it) and for the overflow counter. */
bool meter_cgroup_from_zero(const struct meter_cgroup *m, const char *tenant);
bool meter_cgroup_losses_from_zero(const struct meter_cgroup *m);
/* Removes everything the cgroup meter pinned under pin_dir/tenant (its
 * links detach, its counters are gone).  For the agent's detach command. */
int meter_cgroup_unpin(const char *pin_dir);
/* For `truemeter-agent status`: the cgroup meter's pinned hooks, as a line
 * on out. */
int meter_cgroup_status(const char *pin_dir, FILE *out);

#endif
