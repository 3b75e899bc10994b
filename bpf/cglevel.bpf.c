// SPDX-License-Identifier: GPL-2.0
/* The calling task's cgroup v2 ancestry as the kernel numbers it, from the
 * hierarchy's real root (level 0) down: run once with BPF_PROG_TEST_RUN by
 * agent/cgroup_level.c, which finds a cgroup namespace's root in it.  Not
 * attached anywhere. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tenant.h"

char LICENSE[] SEC("license") = "GPL";

__u64 ancestor_ids[TENANT_MAX_LEVELS];   /* 0 below the task's own level */

SEC("raw_tp")
int cgroup_ancestry(void *ctx)
{
	for (int i = 0; i < TENANT_MAX_LEVELS; i++)
		ancestor_ids[i] = bpf_get_current_ancestor_cgroup_id(i);
	return 0;
}
