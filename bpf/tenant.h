/* Types shared by bpf/tenant.bpf.c and agent/meter_cgroup.c: cgroup and
 * peer-CIDR tenants.  Fixed-width types only; both sides include this. */
#ifndef TM_TENANT_H
#define TM_TENANT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bump when a map's key/value layout or meaning changes: pinned counters
 * made by another layout are then started afresh instead of misread. */
#define TENANT_ABI_VERSION 2

#define TENANT_MAX_TENANTS 1024   /* tenant slots (names ever metered) */
#define TENANT_NAME_LEN 64
#define TENANT_MAX_CGROUPS 1024   /* cgroup id -> tenant entries */
#define TENANT_MAX_CIDRS 1024     /* per address family */
#define TENANT_MAX_LEVELS 32      /* cgroup ancestor levels searched */
#define TENANT_NONE 0xffffffffu

/* Metric numbers are enum metric (common/metric.h); repeated here so the
 * BPF side need not include user-space headers. */
#define TENANT_METRIC_NET_RX_BYTES 4
#define TENANT_METRIC_NET_TX_BYTES 5
#define TENANT_METRIC_CPU_NS 6
#define TENANT_METRIC_TCP_CONNECTIONS 7

/* counters: per-CPU hash, key -> __u64 (summed over CPUs by the agent). */
struct tenant_key {
	__u32 tenant;   /* slot: index into the pinned "names" map */
	__u32 metric;   /* TENANT_METRIC_* */
};

/* names: slot -> tenant name ("" = free).  A name keeps its slot for as
 * long as the pins live, so counters survive changes of the tenant list. */
struct tenant_name {
	char name[TENANT_NAME_LEN];
};

/* levels[0]: the shallowest and deepest level (0 = the cgroup v2 root) of
 * any configured cgroup; cgroups outside that range are not looked up. */
struct tenant_levels {
	__u32 min_level;
	__u32 max_level;
};

/* LPM trie keys: prefix length in bits, then the address in network order. */
struct tenant_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct tenant_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

#endif
