/* cgroup v2 levels as BPF sees them.  bpf_skb_ancestor_cgroup_id() and
 * its kin count levels from the hierarchy's real root (level 0); inside a
 * cgroup namespace (a container's) the cgroup v2 mount shows the
 * namespace's root instead, some levels further down. */
#ifndef TM_CGROUP_LEVEL_H
#define TM_CGROUP_LEVEL_H

#include <linux/types.h>

/* The level of root, the directory a cgroup v2 hierarchy is mounted on,
 * whose cgroup id (inode) is root_id: 0 for the real root; for a
 * namespace's root, found among the calling task's own ancestors with a
 * BPF program run once (needs CAP_BPF and CAP_PERFMON, or root).  0 or a
 * negative errno, logged (root names it). */
int cgroup_level_of_root(const char *root, __u64 root_id, __u32 *level);

#endif
