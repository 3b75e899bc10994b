/* The meter: loads the BPF programs, attaches them, pins their maps and
 * reads cumulative per-tenant counters.  The agent turns successive reads
 * into deltas (agent/delta.c); the meter itself never resets a counter, so
 * pinned maps carry counts across agent restarts.
 *
 * Ownership: meter_open() returns a meter the caller closes with
 * meter_close() (NULL accepted).  Closing leaves the programs attached
 * through pinned links and the maps pinned, so counting goes on while no
 * agent runs and the next agent continues the same counters; the parts'
 * *_unpin() functions (the agent's detach command) remove them. */
#ifndef TM_METER_H
#define TM_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meter_conf.h"

#define METER_TENANT_LEN 64
#define METER_ROUTE_LEN 64
#define METER_METHOD_LEN 12
#define METER_HOOK_NAME_LEN 48
#define METER_MAX_HOOKS 32

/* One cumulative counter: tenant x metric x dimensions.  Dimensions that do
 * not apply to a metric are "" / 0. */
struct meter_row {
	char tenant[METER_TENANT_LEN];
	int metric;                      /* enum metric (common/metric.h) */
	char route[METER_ROUTE_LEN];
	char method[METER_METHOD_LEN];
	uint8_t status_class;            /* 0, or 1..5 for 1xx..5xx */
	uint64_t value;
};

struct meter_health {
	uint64_t map_overflow;   /* cumulative events lost to full maps */
	uint64_t event_drops;    /* cumulative events the meter could not parse */
	size_t n_attached, n_missing;
	char attached[METER_MAX_HOOKS][METER_HOOK_NAME_LEN];
	char missing[METER_MAX_HOOKS][METER_HOOK_NAME_LEN];
};

struct meter;

/* Does the meter's pin directory hold anything an earlier agent left
 * (mounting bpffs first where meter_open() would)?  True when it cannot
 * tell. */
bool meter_pins_present(const struct meter_conf *conf);

/* Loads and attaches every enabled hook.  A missing optional hook is logged
 * and listed in health; only an unusable configuration or no BPF at all is
 * an error.  conf is copied. */
int meter_open(const struct meter_conf *conf, struct meter **out);

/* Reads every counter (summed over CPUs).  *rows is malloc'd and owned by
 * the caller; *n may be 0. */
int meter_read(struct meter *m, struct meter_row **rows, size_t *n,
	       struct meter_health *health);

/* Does key's counter (its tenant and metric) count from zero since this
 * meter opened: did its map, or its cgroup or CIDR tenant's slot, hold
 * nothing when the meter loaded?  So it is after a reboot (pins do not
 * survive one), or when a changed layout or route list made the counters
 * afresh.  A baseline kept from before does not apply to such a counter:
 * all it will hold is new. */
bool meter_counts_from_zero(const struct meter *m, const struct meter_row *key);
/* The same for the loss counters in meter_health: true when every
 * configured part opened and its loss counters held nothing. */
bool meter_losses_from_zero(const struct meter *m);

void meter_close(struct meter *m);

#endif
