#include "cgroup_level.h"

#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/cglevel.skel.h"
#include "bpf/tenant.h"
#include "log.h"

#define CGROUP_ROOT_ID 1   /* kernfs id of the real root cgroup */

int cgroup_level_of_root(const char *root, __u64 root_id, __u32 *level)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct cglevel_bpf *skel = NULL;
	int err;

	if (root_id == CGROUP_ROOT_ID) {
		*level = 0;
		return 0;
	}
	skel = cglevel_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		log_warn("cgroup root %s is a cgroup namespace's; cannot load the "
			 "program that finds its level: %s", root, strerror(-err));
		return err;
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.cgroup_ancestry), &opts);
	if (err) {
		err = -errno;
		log_warn("cgroup root %s: running the level probe: %s", root, strerror(-err));
		goto cleanup;
	}
	err = -ENOENT;
	for (__u32 i = 0; i < TENANT_MAX_LEVELS; i++) {
		if (skel->bss->ancestor_ids[i] == root_id) {
			*level = i;
			err = 0;
			break;
		}
	}
	if (err)
		log_warn("cgroup root %s is not among this process's cgroup ancestors "
			 "(a bind mount of another subtree?); set [meter] cgroup_root "
			 "to the cgroup v2 mount of this namespace", root);
	else
		log_info("cgroup root %s is a cgroup namespace's root, at level %u",
			 root, *level);
cleanup:
	cglevel_bpf__destroy(skel);
	return err;
}
