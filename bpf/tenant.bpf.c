// SPDX-License-Identifier: GPL-2.0
/* cgroup and peer-CIDR tenants: CPU time, IP bytes and TCP connections.
 *
 * A task, socket or packet belongs to the tenant of the nearest configured
 * cgroup at or above its cgroup v2 cgroup (so descendants count), and,
 * independently, to the tenant whose CIDR holds the peer address.  When both
 * name the same tenant the event counts once for it.
 *
 * cpu_ns          sched_stat_runtime: the runtime deltas that cgroup CPU
 *                 accounting (cpu.stat usage_usec) is built from.
 * net_rx/tx_bytes cgroup_skb ingress/egress at the cgroup root: skb->len,
 *                 i.e. IP header + payload of each packet a socket of the
 *                 tenant receives/sends (the whole GSO packet on egress).
 * tcp_connections sockops ACTIVE/PASSIVE_ESTABLISHED: one per connection
 *                 that completes the handshake, on either side. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tenant.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10

/* Set by the agent between open and load (part of the pin fingerprint). */
const volatile bool has_cgroups = false;
const volatile bool has_cidrs = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);     /* [meter] max_entries */
	__type(key, struct tenant_key);
	__type(value, __u64);
} counters SEC(".maps");

/* Events lost because counters was full: key 0. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} overflow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TENANT_MAX_CGROUPS);
	__type(key, __u64);             /* cgroup v2 id (directory inode) */
	__type(value, __u32);           /* tenant index */
} cgroup_tenants SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tenant_levels);
} levels SEC(".maps");

/* Only the agent uses it; pinned with the counters it names. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TENANT_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct tenant_name);
} names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TENANT_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tenant_lpm4);
	__type(value, __u32);
} cidr4_tenants SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TENANT_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tenant_lpm6);
	__type(value, __u32);
} cidr6_tenants SEC(".maps");

static __always_inline void count(__u32 tenant, __u32 metric, __u64 n)
{
	struct tenant_key k = { .tenant = tenant, .metric = metric };
	__u32 zero = 0;
	__u64 *v;

	v = bpf_map_lookup_elem(&counters, &k);
	if (v) {
		/* atomic: a softirq may count on this CPU in between */
		__sync_fetch_and_add(v, n);
		return;
	}
	if (bpf_map_update_elem(&counters, &k, &n, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(&counters, &k);    /* raced with another CPU */
	if (v) {
		__sync_fetch_and_add(v, n);
		return;
	}
	v = bpf_map_lookup_elem(&overflow, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void count2(__u32 t1, __u32 t2, __u32 metric, __u64 n)
{
	if (t1 != TENANT_NONE)
		count(t1, metric, n);
	if (t2 != TENANT_NONE && t2 != t1)
		count(t2, metric, n);
}

static __always_inline const struct tenant_levels *get_levels(void)
{
	__u32 zero = 0;

	return has_cgroups ? bpf_map_lookup_elem(&levels, &zero) : NULL;
}

/* Nearest configured cgroup at or above cg.  cg is a BTF pointer, so the
 * walk uses plain (fault-safe, CO-RE relocated) loads: far cheaper than
 * bpf_probe_read calls on the scheduler's hot path.  Only levels that hold
 * a configured cgroup are looked up. */
static __always_inline __u32 cgroup_tenant(struct cgroup *cg)
{
	const struct tenant_levels *lv = get_levels();

	if (!lv)
		return TENANT_NONE;
	for (int i = 0; i < TENANT_MAX_LEVELS && cg; i++) {
		struct cgroup_subsys_state *parent;
		__u32 level = (__u32)cg->level;

		if (level < lv->min_level)
			break;
		if (level <= lv->max_level) {
			__u64 id = cg->kn->id;
			__u32 *t = bpf_map_lookup_elem(&cgroup_tenants, &id);

			if (t)
				return *t;
		}
		/* a cgroup's own css points back at it: typed, no cast */
		parent = cg->self.parent;
		cg = parent ? parent->cgroup : NULL;
	}
	return TENANT_NONE;
}

/* The same for raw_tp, where pointers are plain numbers. */
static __always_inline __u32 cgroup_tenant_raw(struct cgroup *cg)
{
	const struct tenant_levels *lv = get_levels();

	if (!lv)
		return TENANT_NONE;
	for (int i = 0; i < TENANT_MAX_LEVELS && cg; i++) {
		__u32 level = (__u32)BPF_CORE_READ(cg, level);

		if (level < lv->min_level)
			break;
		if (level <= lv->max_level) {
			__u64 id = BPF_CORE_READ(cg, kn, id);
			__u32 *t = bpf_map_lookup_elem(&cgroup_tenants, &id);

			if (t)
				return *t;
		}
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return TENANT_NONE;
}

/* The skb's socket cgroup, searched from the root down; deepest match wins. */
static __always_inline __u32 skb_cgroup_tenant(struct __sk_buff *skb)
{
	const struct tenant_levels *lv = get_levels();
	__u32 found = TENANT_NONE;

	if (!lv)
		return TENANT_NONE;
	for (__u32 level = 0; level < TENANT_MAX_LEVELS; level++) {
		__u64 id;
		__u32 *t;

		if (level < lv->min_level)
			continue;
		if (level > lv->max_level)
			break;
		id = bpf_skb_ancestor_cgroup_id(skb, (int)level);
		if (!id)
			break;
		t = bpf_map_lookup_elem(&cgroup_tenants, &id);
		if (t)
			found = *t;
	}
	return found;
}

static __always_inline __u32 lookup4(const void *addr)
{
	struct tenant_lpm4 k = { .prefixlen = 32 };
	__u32 *t;

	__builtin_memcpy(k.addr, addr, 4);
	t = bpf_map_lookup_elem(&cidr4_tenants, &k);
	return t ? *t : TENANT_NONE;
}

static __always_inline __u32 lookup6(const __u8 *addr)
{
	struct tenant_lpm6 k = { .prefixlen = 128 };
	__u32 w[3], *t;

	__builtin_memcpy(w, addr, 12);
	if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff))
		return lookup4(addr + 12);      /* v4-mapped: an IPv4 peer */
	__builtin_memcpy(k.addr, addr, 16);
	t = bpf_map_lookup_elem(&cidr6_tenants, &k);
	return t ? *t : TENANT_NONE;
}

/* Ingress: the packet's source; egress: its destination. */
static __always_inline __u32 skb_peer_tenant(struct __sk_buff *skb, bool ingress)
{
	__u8 addr[16];

	if (!has_cidrs)
		return TENANT_NONE;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, ingress ? 12 : 16, addr, 4))
			return TENANT_NONE;
		return lookup4(addr);
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, ingress ? 8 : 24, addr, 16))
			return TENANT_NONE;
		return lookup6(addr);
	}
	return TENANT_NONE;
}

static __always_inline void count_skb(struct __sk_buff *skb, bool ingress)
{
	__u32 metric = ingress ? TENANT_METRIC_NET_RX_BYTES : TENANT_METRIC_NET_TX_BYTES;

	count2(skb_cgroup_tenant(skb), skb_peer_tenant(skb, ingress), metric, skb->len);
}

SEC("tp_btf/sched_stat_runtime")
int BPF_PROG(tenant_cpu, struct task_struct *p, u64 runtime)
{
	count2(cgroup_tenant(p->cgroups->dfl_cgrp), TENANT_NONE,
	       TENANT_METRIC_CPU_NS, runtime);
	return 0;
}

/* Fallback for kernels whose tp_btf attach fails; same arguments. */
SEC("raw_tp/sched_stat_runtime")
int BPF_PROG(tenant_cpu_raw, struct task_struct *p, u64 runtime)
{
	count2(cgroup_tenant_raw(BPF_CORE_READ(p, cgroups, dfl_cgrp)), TENANT_NONE,
	       TENANT_METRIC_CPU_NS, runtime);
	return 0;
}

/* cgroup_skb programs only observe: always allow (1). */
SEC("cgroup_skb/ingress")
int tenant_ingress(struct __sk_buff *skb)
{
	count_skb(skb, true);
	return 1;
}

SEC("cgroup_skb/egress")
int tenant_egress(struct __sk_buff *skb)
{
	count_skb(skb, false);
	return 1;
}

/* Passive establishment runs in softirq, where current is not the owner:
 * take the cgroup the socket itself carries (a child inherits its
 * listener's), never current's. */
SEC("sockops")
int tenant_sockops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	__u32 t1, t2 = TENANT_NONE;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 1;
	t1 = cgroup_tenant(tp->inet_conn.icsk_inet.sk.sk_cgrp_data.cgroup);
	if (has_cidrs) {
		if (skops->family == AF_INET) {
			__u32 a = skops->remote_ip4;

			t2 = lookup4(&a);
		} else if (skops->family == AF_INET6) {
			__u32 a[4];

			a[0] = skops->remote_ip6[0];
			a[1] = skops->remote_ip6[1];
			a[2] = skops->remote_ip6[2];
			a[3] = skops->remote_ip6[3];
			t2 = lookup6((const __u8 *)a);
		}
	}
	count2(t1, t2, TENANT_METRIC_TCP_CONNECTIONS, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
