/* meter_cgroup: cgroup and peer-CIDR tenants (bpf/tenant.bpf.c).
 *
 * Everything lives pinned under <pin_dir>/tenant/: the counter and
 * settings maps, one link per hook, and a "meta" map pinned last that
 * records the fingerprint (object bytes + settings + tenant list) and the
 * hooks that were attached.  The links stay pinned when the agent exits, so
 * counting goes on while it is down.  On open, a matching fingerprint means
 * "reuse without reloading"; anything else unpins the old links and loads
 * afresh, keeping the counters.  (bpffs holds no regular files, so the
 * fingerprint is a pinned map, not a file.)
 *
 * The kernel knows tenants by slot number only.  The pinned "names" map
 * gives each tenant name a slot for as long as the pins live, so adding,
 * removing or reordering tenants never moves or resets a counter. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "meter_parts.h"
#include "metric.h"
#include "bpf/tenant.h"
#include "cgroup_level.h"
#include "bpf/tenant.skel.h"

#define PIN_SUBDIR "tenant"
#define META_PIN "meta"

enum hook {
	HOOK_CPU,
	HOOK_INGRESS,
	HOOK_EGRESS,
	HOOK_SOCKOPS,
	HOOK_COUNT
};

static const char *const hook_names[HOOK_COUNT] = {
	[HOOK_CPU] = "tenant:sched_stat_runtime",
	[HOOK_INGRESS] = "tenant:cgroup_skb_ingress",
	[HOOK_EGRESS] = "tenant:cgroup_skb_egress",
	[HOOK_SOCKOPS] = "tenant:sockops",
};

static const char *const hook_pins[HOOK_COUNT] = {
	[HOOK_CPU] = "link_cpu",
	[HOOK_INGRESS] = "link_ingress",
	[HOOK_EGRESS] = "link_egress",
	[HOOK_SOCKOPS] = "link_sockops",
};

/* Value of the single-entry "meta" array pinned last. */
struct tenant_meta {
	__u64 abi;
	__u64 fingerprint;
	__u64 reserved;
	__u32 hooks;            /* bit per enum hook that is attached */
	__u32 pad;
};

/* A configured cgroup.  Paths are looked up again on every read, so a
 * cgroup created later, or removed and created again (a restarted
 * container), is counted from then on. */
struct cg_entry {
	char path[2 * METER_CONF_PATH_LEN];     /* absolute */
	__u32 tenant;
	bool present;           /* the path is a cgroup v2 directory now */
	__u64 id;               /* when present */
	__u32 level;            /* depth below the cgroup v2 root */
};

struct meter_cgroup {
	char dir[PATH_MAX];             /* <pin_dir>/tenant */
	char root[PATH_MAX];            /* cgroup v2 mount the hooks attach to */
	__u64 root_id;                  /* its cgroup id */
	__u32 root_level;               /* its level: 0 unless a namespace's root */
	size_t n_tenants;               /* configured, in config order */
	char names[TENANT_MAX_TENANTS][METER_TENANT_LEN];
	__u32 slot[TENANT_MAX_TENANTS];        /* kernel number of each */
	bool has_cgroup[TENANT_MAX_TENANTS];   /* tenant owns a cgroup: cpu_ns applies */
	struct cg_entry cgs[METER_CONF_MAX_CGROUPS];
	size_t n_cgs;
	struct tenant_lpm4 k4[METER_CONF_MAX_CIDRS];   /* configured CIDRs ... */
	struct tenant_lpm6 k6[METER_CONF_MAX_CIDRS];
	__u32 v4[METER_CONF_MAX_CIDRS], v6[METER_CONF_MAX_CIDRS];  /* ... tenants */
	size_t n4, n6;
	bool from_zero[TENANT_MAX_TENANTS];    /* given a new slot at open */
	bool losses_from_zero;          /* overflow held nothing at open */
	int counters_fd, overflow_fd;   /* owned; -1 if closed */
	int cgroups_fd, levels_fd;      /* owned: cgroup id -> tenant, levels */
	int ncpus;
	__u64 *percpu;                  /* ncpus values: read buffer */
};

static const char *const map_pins[] = {
	"counters", "overflow", "names", "cgroup_tenants", "levels", "cidr4_tenants",
	"cidr6_tenants",
};

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

static __u64 fnv(__u64 h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

static int pin_path(char *out, size_t size, const char *dir, const char *name)
{
	if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static void unpin(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (pin_path(path, sizeof(path), dir, name) == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		log_warn("cannot unpin %s: %s", path, strerror(errno));
}

static bool pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (pin_path(path, sizeof(path), dir, name))
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool is_fs(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == magic;
}

static int find_root(const struct meter_conf *conf, char *out, size_t size)
{
	const char *cands[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

	if (conf->cgroup_root[0]) {
		if (!is_fs(conf->cgroup_root, CGROUP2_SUPER_MAGIC)) {
			log_warn("[meter] cgroup_root %s is not a cgroup v2 mount",
				 conf->cgroup_root);
			return -EINVAL;
		}
		snprintf(out, size, "%s", conf->cgroup_root);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (is_fs(cands[i], CGROUP2_SUPER_MAGIC)) {
			snprintf(out, size, "%s", cands[i]);
			return 0;
		}
	}
	log_warn("no cgroup v2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified; "
		 "set [meter] cgroup_root");
	return -ENOENT;
}

static int root_identity(struct meter_cgroup *m)
{
	struct stat st;
	int err;

	if (stat(m->root, &st) < 0) {
		err = -errno;
		log_warn("cgroup root %s: %s", m->root, strerror(-err));
		return err;
	}
	m->root_id = st.st_ino;
	return cgroup_level_of_root(m->root, m->root_id, &m->root_level);
}

static int tenant_index(struct meter_cgroup *m, const char *name, __u32 *idx)
{
	for (size_t i = 0; i < m->n_tenants; i++) {
		if (strcmp(m->names[i], name) == 0) {
			*idx = (__u32)i;
			return 0;
		}
	}
	if (m->n_tenants == TENANT_MAX_TENANTS) {
		log_warn("more than %d cgroup/CIDR tenants", TENANT_MAX_TENANTS);
		return -E2BIG;
	}
	snprintf(m->names[m->n_tenants], METER_TENANT_LEN, "%s", name);
	*idx = (__u32)m->n_tenants++;
	return 0;
}

/* Level of a cgroup directory, as BPF counts them: its parents up to the
 * mount's root, plus the root's own level (a cgroup namespace's root is
 * not the hierarchy's). */
static int cgroup_level(const struct meter_cgroup *m, const char *path, __u32 *level)
{
	char buf[PATH_MAX], *slash;
	struct stat st;

	if (!realpath(path, buf))
		return -errno;
	for (__u32 n = 0; n <= TENANT_MAX_LEVELS; n++) {
		if (stat(buf, &st) < 0 || !is_fs(buf, CGROUP2_SUPER_MAGIC))
			return -ENOENT;
		if (st.st_ino == m->root_id) {
			*level = n + m->root_level;
			return 0;
		}
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return -ENOENT;
		*slash = '\0';
	}
	return -ELOOP;
}

/* Looks e->path up: 0 (present), -ENOENT (missing) or -EINVAL (no cgroup v2
 * directory).  Logs unless quiet. */
static int resolve_cgroup(const struct meter_cgroup *m, struct cg_entry *e, bool quiet)
{
	const char *tenant = m->names[e->tenant];
	struct stat st;

	e->present = false;
	if (stat(e->path, &st) < 0) {
		int err = errno == ENOENT ? -ENOENT : -EINVAL;

		if (!quiet && err == -ENOENT)
			log_warn("tenant '%s': cgroup '%s' does not exist (yet); it is "
				 "counted once it does", tenant, e->path);
		else if (!quiet)
			log_warn("tenant '%s': cgroup path '%s': %s", tenant, e->path,
				 strerror(errno));
		return err;
	}
	if (!S_ISDIR(st.st_mode) || !is_fs(e->path, CGROUP2_SUPER_MAGIC)) {
		if (!quiet)
			log_warn("tenant '%s': cgroup path '%s' is not a cgroup v2 directory",
				 tenant, e->path);
		return -EINVAL;
	}
	if (cgroup_level(m, e->path, &e->level) < 0 || e->level >= TENANT_MAX_LEVELS) {
		if (!quiet)
			log_warn("tenant '%s': cgroup '%s' is not within %d levels below the "
				 "cgroup v2 root %s", tenant, e->path, TENANT_MAX_LEVELS - 1,
				 m->root);
		return -EINVAL;
	}
	e->id = st.st_ino;
	e->present = true;
	return 0;
}

/* Two tenants cannot own one cgroup. */
static int check_unique(const struct meter_cgroup *m, size_t i)
{
	const struct cg_entry *e = &m->cgs[i];

	for (size_t j = 0; j < i && e->present; j++) {
		if (m->cgs[j].present && m->cgs[j].id == e->id &&
		    m->cgs[j].tenant != e->tenant) {
			log_warn("tenant '%s': cgroup '%s' already belongs to tenant '%s'",
				 m->names[e->tenant], e->path, m->names[m->cgs[j].tenant]);
			return -EINVAL;
		}
	}
	return 0;
}

static void mask_prefix(__u8 *addr, size_t len, unsigned plen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bits = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;

		addr[i] &= (__u8)(0xff00u >> bits);
	}
}

/* Config CIDRs -> LPM keys (host bits cleared) and tenants; one prefix
 * given to two tenants is an error naming both. */
static int build_cidrs(struct meter_cgroup *m, const struct meter_conf *conf)
{
	for (size_t i = 0; i < conf->n_cidrs; i++) {
		const struct meter_conf_cidr *c = &conf->cidrs[i];
		bool v4 = c->family == 4;
		size_t alen = v4 ? 4 : 16, ksize = v4 ? sizeof(m->k4[0]) : sizeof(m->k6[0]);
		size_t *n = v4 ? &m->n4 : &m->n6;
		__u32 *vals = v4 ? m->v4 : m->v6;
		void *key = v4 ? (void *)&m->k4[*n] : (void *)&m->k6[*n];
		__u8 *addr = (__u8 *)key + sizeof(__u32);
		__u32 idx;
		int err = tenant_index(m, c->tenant, &idx);

		if (err)
			return err;
		memset(key, 0, ksize);
		*(__u32 *)key = c->prefix_len;
		memcpy(addr, c->addr, alen);
		mask_prefix(addr, alen, c->prefix_len);
		for (size_t j = 0; j < *n; j++) {
			const void *other = v4 ? (void *)&m->k4[j] : (void *)&m->k6[j];
			char text[INET6_ADDRSTRLEN];

			if (memcmp(other, key, ksize) != 0 || vals[j] == idx)
				continue;
			inet_ntop(v4 ? AF_INET : AF_INET6, addr, text, sizeof(text));
			log_warn("tenant '%s': cidr %s/%u already belongs to tenant '%s'",
				 c->tenant, text, c->prefix_len, m->names[vals[j]]);
			return -EINVAL;
		}
		vals[(*n)++] = idx;
	}
	return 0;
}

static int load_tenants(struct meter_cgroup *m, const struct meter_conf *conf)
{
	int err;

	for (size_t i = 0; i < conf->n_cgroups; i++) {
		const struct meter_conf_cgroup *g = &conf->cgroups[i];
		struct cg_entry *e = &m->cgs[m->n_cgs];
		bool rel = g->path[0] != '/';

		/* a relative path is taken under the cgroup root */
		if (snprintf(e->path, sizeof(e->path), "%s%s%s", rel ? m->root : "",
			     rel ? "/" : "", g->path) >= (int)sizeof(e->path)) {
			log_warn("tenant '%s': cgroup path '%s' is too long", g->tenant, g->path);
			return -ENAMETOOLONG;
		}
		err = tenant_index(m, g->tenant, &e->tenant);
		if (err)
			return err;
		err = resolve_cgroup(m, e, false);
		if (err && err != -ENOENT)
			return err;
		err = check_unique(m, m->n_cgs);
		if (err)
			return err;
		m->has_cgroup[e->tenant] = true;
		m->n_cgs++;
	}
	err = build_cidrs(m, conf);
	if (err)
		return err;
	return 0;
}

static __u64 fingerprint(const struct meter_cgroup *m, const struct meter_conf *conf)
{
	size_t sz = 0;
	const void *elf = tenant_bpf__elf_bytes(&sz);
	__u64 h = fnv(FNV64_OFFSET, elf, sz);
	__u32 abi = TENANT_ABI_VERSION;
	__u8 flags[2] = { conf->n_cgroups > 0, conf->n_cidrs > 0 };

	h = fnv(h, &abi, sizeof(abi));
	h = fnv(h, m->root, strlen(m->root) + 1);
	h = fnv(h, &conf->max_entries, sizeof(conf->max_entries));
	return fnv(h, flags, sizeof(flags));
}

static int read_meta(const char *dir, struct tenant_meta *meta)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, err = 0;

	err = pin_path(path, sizeof(path), dir, META_PIN);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, meta) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int write_meta(const char *dir, const struct tenant_meta *meta)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, err;

	err = pin_path(path, sizeof(path), dir, META_PIN);
	if (err)
		return err;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tenant_meta", sizeof(__u32),
			    sizeof(*meta), 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, meta, BPF_ANY) < 0 || bpf_obj_pin(fd, path) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Desired settings -> map, then remove entries no longer configured; an
 * unchanged entry is never absent in between. */
static int sync_map(int fd, const void *keys, size_t n, size_t key_size,
		    const __u32 *vals, const char *what)
{
	enum { KEY_MAX = sizeof(struct tenant_lpm6) > 8 ? sizeof(struct tenant_lpm6) : 8,
	       STALE_MAX = TENANT_MAX_CGROUPS > TENANT_MAX_CIDRS ? TENANT_MAX_CGROUPS
								 : TENANT_MAX_CIDRS };
	unsigned char key[KEY_MAX], next[KEY_MAX];
	unsigned char (*stale)[KEY_MAX];
	size_t n_stale = 0;
	void *prev = NULL;

	for (size_t i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, (const char *)keys + i * key_size, &vals[i],
					BPF_ANY) < 0) {
			int err = -errno;

			log_warn("cannot set %s entry %zu: %s", what, i, strerror(-err));
			return err;
		}
	}
	stale = calloc(STALE_MAX, sizeof(*stale));
	if (!stale)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, prev, next) == 0 && n_stale < STALE_MAX) {
		bool wanted = false;

		for (size_t i = 0; i < n && !wanted; i++)
			wanted = memcmp((const char *)keys + i * key_size, next, key_size) == 0;
		if (!wanted)
			memcpy(stale[n_stale++], next, key_size);
		memcpy(key, next, key_size);
		prev = key;
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(fd, stale[i]);
	free(stale);
	return 0;
}


static int sync_cidrs(struct meter_cgroup *m, int fd4, int fd6)
{
	__u32 v4[METER_CONF_MAX_CIDRS], v6[METER_CONF_MAX_CIDRS];
	int err;

	for (size_t i = 0; i < m->n4; i++)
		v4[i] = m->slot[m->v4[i]];
	for (size_t i = 0; i < m->n6; i++)
		v6[i] = m->slot[m->v6[i]];
	err = sync_map(fd4, m->k4, m->n4, sizeof(m->k4[0]), v4, "IPv4 CIDR");
	if (!err)
		err = sync_map(fd6, m->k6, m->n6, sizeof(m->k6[0]), v6, "IPv6 CIDR");
	return err;
}

/* The level range goes first when it widens and last when it narrows, so
 * a configured cgroup is never skipped while both maps change. */
static int sync_cgroups(struct meter_cgroup *m, int fd, int levels_fd)
{
	struct tenant_levels old = { 0 }, lv = { .min_level = 1, .max_level = 0 };
	__u64 keys[METER_CONF_MAX_CGROUPS];
	__u32 vals[METER_CONF_MAX_CGROUPS];
	__u32 zero = 0;
	size_t n = 0;
	int err;

	for (size_t i = 0; i < m->n_cgs; i++) {
		const struct cg_entry *e = &m->cgs[i];

		if (!e->present)
			continue;
		keys[n] = e->id;
		vals[n] = m->slot[e->tenant];
		if (n == 0 || e->level < lv.min_level)
			lv.min_level = e->level;
		if (n == 0 || e->level > lv.max_level)
			lv.max_level = e->level;
		n++;
	}
	bpf_map_lookup_elem(levels_fd, &zero, &old);
	if (old.min_level <= old.max_level) {   /* union of old and new */
		struct tenant_levels u = lv;

		if (n == 0 || old.min_level < u.min_level)
			u.min_level = old.min_level;
		if (n == 0 || old.max_level > u.max_level)
			u.max_level = old.max_level;
		if (bpf_map_update_elem(levels_fd, &zero, &u, BPF_ANY) < 0)
			return -errno;
	}
	err = sync_map(fd, keys, n, sizeof(keys[0]), vals, "cgroup");
	if (err)
		return err;
	if (bpf_map_update_elem(levels_fd, &zero, &lv, BPF_ANY) < 0)
		return -errno;
	return 0;
}

/* Create every tenant x metric key up front so the kernel side never has
 * to insert (an insert that fails is counted as overflow). */
static void precreate_counters(struct meter_cgroup *m)
{
	static const __u32 metrics[] = {
		TENANT_METRIC_CPU_NS, TENANT_METRIC_NET_RX_BYTES,
		TENANT_METRIC_NET_TX_BYTES, TENANT_METRIC_TCP_CONNECTIONS,
	};

	memset(m->percpu, 0, sizeof(__u64) * (size_t)m->ncpus);
	for (size_t t = 0; t < m->n_tenants; t++) {
		for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
			struct tenant_key k = { .tenant = m->slot[t], .metric = metrics[i] };

			if (bpf_map_update_elem(m->counters_fd, &k, m->percpu, BPF_NOEXIST) < 0 &&
			    errno != EEXIST)
				log_warn("counter map full ([meter] max_entries): tenant '%s' "
					 "will count as overflow", m->names[t]);
		}
	}
}

/* Every configured tenant gets the slot its name already has, or a free
 * one.  Slots of tenants no longer configured are kept (their counters
 * too) in case they come back. */
static int assign_slots(struct meter_cgroup *m, int names_fd)
{
	static struct tenant_name names[TENANT_MAX_TENANTS];
	__u32 free_slot = 0;

	for (__u32 i = 0; i < TENANT_MAX_TENANTS; i++) {
		if (bpf_map_lookup_elem(names_fd, &i, &names[i]) < 0) {
			int err = -errno;

			log_warn("cannot read the tenant name map: %s", strerror(-err));
			return err;
		}
		names[i].name[TENANT_NAME_LEN - 1] = '\0';
	}
	for (size_t t = 0; t < m->n_tenants; t++) {
		__u32 i;

		for (i = 0; i < TENANT_MAX_TENANTS; i++)
			if (strcmp(names[i].name, m->names[t]) == 0)
				break;
		if (i == TENANT_MAX_TENANTS) {
			while (free_slot < TENANT_MAX_TENANTS && names[free_slot].name[0])
				free_slot++;
			if (free_slot == TENANT_MAX_TENANTS) {
				log_warn("all %d tenant slots under %s are taken by tenants "
					 "metered before; detach to start afresh",
					 TENANT_MAX_TENANTS, m->dir);
				return -ENOSPC;
			}
			i = free_slot;
			snprintf(names[i].name, sizeof(names[i].name), "%s", m->names[t]);
			if (bpf_map_update_elem(names_fd, &i, &names[i], BPF_ANY) < 0)
				return -errno;
			log_info("tenant '%s' metered from now on (slot %u)", m->names[t], i);
			m->from_zero[t] = true;
		}
		m->slot[t] = i;
	}
	return 0;
}

/* *sum: the overflow counter, summed over CPUs.  0 or a negative errno. */
static int read_overflow(struct meter_cgroup *m, __u64 *sum)
{
	__u32 zero = 0;

	*sum = 0;
	if (bpf_map_lookup_elem(m->overflow_fd, &zero, m->percpu) < 0)
		return -errno;
	for (int c = 0; c < m->ncpus; c++)
		*sum += m->percpu[c];
	return 0;
}

/* Maps are pinned by now: sync settings and keep the counter fds. */
static int use_pins(struct meter_cgroup *m)
{
	int names_fd = -1, c4_fd = -1, c6_fd = -1, err;
	__u64 overflow;

	err = meter_open_pinned(m->dir, "names", &names_fd);
	if (!err)
		err = assign_slots(m, names_fd);
	if (!err)
		err = meter_open_pinned(m->dir, "counters", &m->counters_fd);
	if (!err)
		err = meter_open_pinned(m->dir, "overflow", &m->overflow_fd);
	if (!err)
		m->losses_from_zero = read_overflow(m, &overflow) == 0 && overflow == 0;
	if (!err)
		err = meter_open_pinned(m->dir, "cgroup_tenants", &m->cgroups_fd);
	if (!err)
		err = meter_open_pinned(m->dir, "levels", &m->levels_fd);
	if (!err)
		err = meter_open_pinned(m->dir, "cidr4_tenants", &c4_fd);
	if (!err)
		err = meter_open_pinned(m->dir, "cidr6_tenants", &c6_fd);
	if (err)
		goto cleanup;
	err = sync_cgroups(m, m->cgroups_fd, m->levels_fd);
	if (err)
		goto cleanup;
	err = sync_cidrs(m, c4_fd, c6_fd);
	if (err)
		goto cleanup;
	precreate_counters(m);
cleanup:
	if (names_fd >= 0)
		close(names_fd);
	if (c4_fd >= 0)
		close(c4_fd);
	if (c6_fd >= 0)
		close(c6_fd);
	return err;
}

enum prog { P_CPU_BTF, P_CPU_RAW, P_INGRESS, P_EGRESS, P_SOCKOPS, P_COUNT };
#define ALL_PROGS ((1u << P_COUNT) - 1)

static const char *const prog_names[P_COUNT] = {
	[P_CPU_BTF] = "tp_btf/sched_stat_runtime", [P_CPU_RAW] = "raw_tp/sched_stat_runtime",
	[P_INGRESS] = "cgroup_skb/ingress", [P_EGRESS] = "cgroup_skb/egress",
	[P_SOCKOPS] = "sockops",
};

static struct bpf_program *prog_of(struct tenant_bpf *skel, enum prog p)
{
	switch (p) {
	case P_CPU_BTF: return skel->progs.tenant_cpu;
	case P_CPU_RAW: return skel->progs.tenant_cpu_raw;
	case P_INGRESS: return skel->progs.tenant_ingress;
	case P_EGRESS: return skel->progs.tenant_egress;
	case P_SOCKOPS: return skel->progs.tenant_sockops;
	default: return NULL;
	}
}

static bool loaded(struct tenant_bpf *skel, enum prog p)
{
	return bpf_program__fd(prog_of(skel, p)) >= 0;
}

/* NULL with errno set; ENOPKG when the kernel rejected the program. */
static struct bpf_link *attach_hook(struct tenant_bpf *skel, enum hook hk, int root_fd)
{
	static const enum prog cg_progs[HOOK_COUNT] = {
		[HOOK_INGRESS] = P_INGRESS, [HOOK_EGRESS] = P_EGRESS,
		[HOOK_SOCKOPS] = P_SOCKOPS,
	};
	bool btf = loaded(skel, P_CPU_BTF), raw = loaded(skel, P_CPU_RAW);
	struct bpf_link *l = NULL;

	if (hk != HOOK_CPU) {
		if (loaded(skel, cg_progs[hk]))
			return bpf_program__attach_cgroup(prog_of(skel, cg_progs[hk]), root_fd);
		errno = ENOPKG;
		return NULL;
	}
	if (btf)
		l = bpf_program__attach(skel->progs.tenant_cpu);
	if (!l && raw) {
		log_info("tp_btf/sched_stat_runtime unavailable; using raw_tp");
		l = bpf_program__attach(skel->progs.tenant_cpu_raw);
	}
	if (!btf && !raw)
		errno = ENOPKG;
	return l;
}

/* Opens and loads the object with the programs in mask, its maps pinned
 * (or reused) under m->dir. */
static int open_skel(const struct meter_cgroup *m, const struct meter_conf *conf,
		     unsigned mask, struct tenant_bpf **out)
{
	struct tenant_bpf *skel;
	struct bpf_map *map;
	int err;

	*out = NULL;
	skel = tenant_bpf__open();
	if (!skel)
		return errno ? -errno : -EINVAL;
	skel->rodata->has_cgroups = conf->n_cgroups > 0;
	skel->rodata->has_cidrs = conf->n_cidrs > 0;
	for (int p = 0; p < P_COUNT; p++)
		bpf_program__set_autoload(prog_of(skel, (enum prog)p), mask & (1u << p));
	err = bpf_map__set_max_entries(skel->maps.counters, (__u32)conf->max_entries);
	if (err)
		goto cleanup;
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		err = meter_pin_reuse(map, m->dir);
		if (err)
			goto cleanup;
	}
	err = tenant_bpf__load(skel);
	if (err)
		goto cleanup;
	*out = skel;
	skel = NULL;
cleanup:
	tenant_bpf__destroy(skel);
	return err;
}

/* Everything, or else every program this kernel accepts: a rejected
 * program only costs its hook (reported missing), not the whole meter. */
static int load_programs(const struct meter_cgroup *m, const struct meter_conf *conf,
			 struct tenant_bpf **out)
{
	unsigned mask = 0;
	int err = open_skel(m, conf, ALL_PROGS, out);

	if (!err)
		return 0;
	log_warn("loading the cgroup/CIDR programs failed (%s); trying them one by one",
		 strerror(-err));
	for (int p = 0; p < P_COUNT; p++) {
		struct tenant_bpf *probe = NULL;

		if (open_skel(m, conf, 1u << p, &probe) == 0)
			mask |= 1u << p;
		else
			log_warn("this kernel rejects the %s program", prog_names[p]);
		tenant_bpf__destroy(probe);
	}
	if (!mask)
		return err;
	return open_skel(m, conf, mask, out);
}

/* Unpins the old links (they detach), loads, attaches and pins. */
static int load_fresh(struct meter_cgroup *m, const struct meter_conf *conf,
		      const struct tenant_meta *old, struct meter_health *h)
{
	struct tenant_meta meta = { .abi = TENANT_ABI_VERSION };
	struct bpf_link *links[HOOK_COUNT] = { 0 };
	struct tenant_bpf *skel = NULL;
	int root_fd = -1, err;

	meta.fingerprint = fingerprint(m, conf);
	unpin(m->dir, META_PIN);
	for (int i = 0; i < HOOK_COUNT; i++)
		unpin(m->dir, hook_pins[i]);
	/* Without a meta of this layout the counters' meaning is unknown. */
	if ((!old || old->abi != TENANT_ABI_VERSION) && pinned(m->dir, "counters")) {
		log_warn("cgroup/CIDR counters under %s were made by another version; "
			 "they start from zero", m->dir);
		for (size_t i = 0; i < sizeof(map_pins) / sizeof(map_pins[0]); i++)
			unpin(m->dir, map_pins[i]);
	}
	err = load_programs(m, conf, &skel);
	if (err) {
		log_warn("cannot load the cgroup/CIDR meter: %s", strerror(-err));
		goto cleanup;
	}
	root_fd = open(m->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		err = -errno;
		log_warn("cannot open cgroup root %s: %s", m->root, strerror(-err));
		goto cleanup;
	}
	err = use_pins(m);
	if (err)
		goto cleanup;
	for (int i = 0; i < HOOK_COUNT; i++) {
		char path[PATH_MAX];

		links[i] = attach_hook(skel, (enum hook)i, root_fd);
		if (!links[i]) {
			log_warn("%s: %s; that metric is not counted", hook_names[i],
				 errno == ENOPKG ? "the kernel rejected its program"
						 : strerror(errno));
			continue;
		}
		err = pin_path(path, sizeof(path), m->dir, hook_pins[i]);
		if (!err && bpf_link__pin(links[i], path) < 0)
			err = -errno;
		if (err) {
			log_warn("cannot pin %s: %s", path, strerror(-err));
			goto cleanup;
		}
		meta.hooks |= 1u << i;
	}
	err = write_meta(m->dir, &meta);
	if (err)
		log_warn("cannot pin %s/%s: %s", m->dir, META_PIN, strerror(-err));
	else
		log_info("cgroup/CIDR meter loaded for %zu tenants, pinned under %s",
			 m->n_tenants, m->dir);
cleanup:
	for (int i = 0; i < HOOK_COUNT; i++) {
		if (err && links[i])
			bpf_link__unpin(links[i]);
		bpf_link__destroy(links[i]);    /* pinned links stay attached */
	}
	for (int i = 0; i < HOOK_COUNT && !err; i++)
		meter_health_hook(h, hook_names[i], meta.hooks & (1u << i));
	if (root_fd >= 0)
		close(root_fd);
	tenant_bpf__destroy(skel);
	return err;
}

static int reuse(struct meter_cgroup *m, const struct tenant_meta *meta,
		 struct meter_health *h)
{
	int err = use_pins(m);

	if (err)
		return err;
	log_info("reusing the cgroup/CIDR meter pinned under %s", m->dir);
	for (int i = 0; i < HOOK_COUNT; i++)
		meter_health_hook(h, hook_names[i], meta->hooks & (1u << i));
	return 0;
}

static bool can_reuse(const struct meter_cgroup *m, const struct meter_conf *conf,
		      const struct tenant_meta *meta)
{
	if (meta->abi != TENANT_ABI_VERSION || meta->fingerprint != fingerprint(m, conf)) {
		log_info("cgroup/CIDR meter under %s was made by another object or "
			 "config; reloading it", m->dir);
		return false;
	}
	for (size_t i = 0; i < sizeof(map_pins) / sizeof(map_pins[0]); i++) {
		if (!pinned(m->dir, map_pins[i])) {
			log_info("pinned map %s/%s is gone; reloading the cgroup/CIDR meter",
				 m->dir, map_pins[i]);
			return false;
		}
	}
	for (int i = 0; i < HOOK_COUNT; i++) {
		if ((meta->hooks & (1u << i)) && !pinned(m->dir, hook_pins[i])) {
			log_info("pinned link %s/%s is gone; reloading the cgroup/CIDR meter",
				 m->dir, hook_pins[i]);
			return false;
		}
	}
	return true;
}

int meter_cgroup_open(const struct meter_conf *conf, struct meter_health *h,
		      struct meter_cgroup **out)
{
	struct meter_cgroup *m;
	struct tenant_meta meta;
	bool have_meta;
	int err;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->counters_fd = m->overflow_fd = m->cgroups_fd = m->levels_fd = -1;
	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus <= 0) {
		err = m->ncpus ? m->ncpus : -EINVAL;
		goto cleanup;
	}
	m->percpu = calloc((size_t)m->ncpus, sizeof(__u64));
	if (!m->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (snprintf(m->dir, sizeof(m->dir), "%s/%s", conf->pin_dir, PIN_SUBDIR) >=
	    (int)sizeof(m->dir)) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	err = find_root(conf, m->root, sizeof(m->root));
	if (err)
		goto cleanup;
	err = root_identity(m);
	if (err)
		goto cleanup;
	err = load_tenants(m, conf);
	if (err)
		goto cleanup;
	if (mkdir(m->dir, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		log_warn("cannot create %s: %s", m->dir, strerror(-err));
		goto cleanup;
	}
	have_meta = read_meta(m->dir, &meta) == 0;
	if (have_meta && can_reuse(m, conf, &meta))
		err = reuse(m, &meta, h);
	else
		err = load_fresh(m, conf, have_meta ? &meta : NULL, h);
	if (err)
		goto cleanup;
	*out = m;
	m = NULL;
cleanup:
	meter_cgroup_close(m);
	return err;
}

static int read_counter(struct meter_cgroup *m, __u32 tenant, __u32 metric, __u64 *sum)
{
	struct tenant_key k = { .tenant = tenant, .metric = metric };

	*sum = 0;
	if (bpf_map_lookup_elem(m->counters_fd, &k, m->percpu) < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int c = 0; c < m->ncpus; c++)
		*sum += m->percpu[c];
	return 0;
}

/* Follows configured cgroups that appeared, vanished or were created
 * again since the last look: a few stat() calls per read. */
static void refresh_cgroups(struct meter_cgroup *m)
{
	bool changed = false;

	for (size_t i = 0; i < m->n_cgs; i++) {
		struct cg_entry *e = &m->cgs[i];
		struct cg_entry was = *e;

		resolve_cgroup(m, e, true);
		if (e->present && check_unique(m, i))
			e->present = false;
		if (e->present == was.present && (!e->present || e->id == was.id))
			continue;
		changed = true;
		log_info("tenant '%s': cgroup '%s' %s", m->names[e->tenant], e->path,
			 !e->present ? "is gone" : was.present ? "was created again"
							   : "appeared");
	}
	if (changed && sync_cgroups(m, m->cgroups_fd, m->levels_fd))
		log_warn("cannot update the cgroup tenant map");
}

int meter_cgroup_read(struct meter_cgroup *m, struct meter_rows *rows,
		      struct meter_health *h)
{
	static const __u32 metrics[] = {
		TENANT_METRIC_CPU_NS, TENANT_METRIC_NET_RX_BYTES,
		TENANT_METRIC_NET_TX_BYTES, TENANT_METRIC_TCP_CONNECTIONS,
	};
	__u64 v;
	int err;

	refresh_cgroups(m);
	for (size_t t = 0; t < m->n_tenants; t++) {
		for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
			struct meter_row row = { .metric = (int)metrics[i] };

			if (metrics[i] == TENANT_METRIC_CPU_NS && !m->has_cgroup[t])
				continue;
			err = read_counter(m, m->slot[t], metrics[i], &v);
			if (err)
				return err;
			snprintf(row.tenant, sizeof(row.tenant), "%s", m->names[t]);
			row.value = v;
			err = meter_rows_push(rows, &row);
			if (err)
				return err;
		}
	}
	if (read_overflow(m, &v) == 0)
		h->map_overflow += v;
	return 0;
}

bool meter_cgroup_from_zero(const struct meter_cgroup *m, const char *tenant)
{
	for (size_t t = 0; t < m->n_tenants; t++)
		if (strcmp(m->names[t], tenant) == 0)
			return m->from_zero[t];
	return false;
}

bool meter_cgroup_losses_from_zero(const struct meter_cgroup *m)
{
	return m->losses_from_zero;
}

void meter_cgroup_close(struct meter_cgroup *m)
{
	if (!m)
		return;
	if (m->counters_fd >= 0)
		close(m->counters_fd);
	if (m->overflow_fd >= 0)
		close(m->overflow_fd);
	if (m->cgroups_fd >= 0)
		close(m->cgroups_fd);
	if (m->levels_fd >= 0)
		close(m->levels_fd);
	free(m->percpu);
	free(m);
}

int meter_cgroup_status(const char *pin_dir, FILE *out)
{
	char dir[PATH_MAX];
	int n = 0;

	if (snprintf(dir, sizeof(dir), "%s/%s", pin_dir, PIN_SUBDIR) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	for (int i = 0; i < HOOK_COUNT; i++) {
		if (!pinned(dir, hook_pins[i]))
			continue;
		fprintf(out, "%s%s", n++ ? " " : "cgroup: attached (", hook_pins[i] + 5);
	}
	if (n)
		fputs(")\n", out);
	else
		fprintf(out, "cgroup: not attached (no programs pinned in %s)\n", dir);
	return 0;
}

int meter_cgroup_unpin(const char *pin_dir)
{
	char dir[PATH_MAX];
	int err = 0;

	if (snprintf(dir, sizeof(dir), "%s/%s", pin_dir, PIN_SUBDIR) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	unpin(dir, META_PIN);
	for (int i = 0; i < HOOK_COUNT; i++)
		unpin(dir, hook_pins[i]);
	for (size_t i = 0; i < sizeof(map_pins) / sizeof(map_pins[0]); i++)
		unpin(dir, map_pins[i]);
	if (rmdir(dir) < 0 && errno != ENOENT) {
		err = -errno;
		log_warn("cannot remove %s: %s", dir, strerror(-err));
	}
	return err;
}
