#include "meter.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fileio.h"
#include "log.h"
#include "meter_parts.h"
#include "metric.h"

struct meter {
	struct meter_conf conf;
	struct meter_health health;     /* hooks, filled at open */
	struct meter_http *http;
	struct meter_cgroup *cgroup;
};

int meter_rows_push(struct meter_rows *rows, const struct meter_row *row)
{
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 256;
		struct meter_row *v = realloc(rows->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rows->v = v;
		rows->cap = cap;
	}
	rows->v[rows->n++] = *row;
	return 0;
}

void meter_health_hook(struct meter_health *h, const char *name, bool attached)
{
	size_t *n = attached ? &h->n_attached : &h->n_missing;
	char (*names)[METER_HOOK_NAME_LEN] = attached ? h->attached : h->missing;

	if (*n == METER_MAX_HOOKS)
		return;
	snprintf(names[*n], METER_HOOK_NAME_LEN, "%s", name);
	(*n)++;
}

static int map_pin_path(struct bpf_map *map, const char *dir, char *path, size_t size)
{
	if (snprintf(path, size, "%s/%s", dir, bpf_map__name(map)) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

bool meter_pin_compatible(struct bpf_map *map, const char *dir)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[512];
	bool ok = true;
	int fd;

	if (map_pin_path(map, dir, path, sizeof(path)))
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return true;            /* nothing pinned: a fresh one will be */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	    (info.type != bpf_map__type(map) ||
	     info.key_size != bpf_map__key_size(map) ||
	     info.value_size != bpf_map__value_size(map) ||
	     info.max_entries != bpf_map__max_entries(map)))
		ok = false;
	close(fd);
	return ok;
}

int meter_open_pinned(const char *dir, const char *name, int *fd)
{
	char path[512];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	*fd = bpf_obj_get(path);
	if (*fd < 0) {
		int err = -errno;

		log_warn("cannot open pinned map %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

int meter_pin_reuse(struct bpf_map *map, const char *dir)
{
	char path[512];
	int err;

	err = map_pin_path(map, dir, path, sizeof(path));
	if (!err)
		err = bpf_map__set_pin_path(map, path);
	if (err)
		return err;
	/* libbpf reuses a compatible pinned map at load time and fails on an
	 * incompatible one; remove that so a changed layout starts fresh. */
	if (!meter_pin_compatible(map, dir)) {
		log_warn("pinned map %s has another layout; starting it afresh "
			 "(its counts are lost)", path);
		unlink(path);
	}
	return 0;
}

#define PROC_PID_INIT_INO 0xEFFFFFFCU   /* the initial pid namespace's inode */

/* Does this process have a mount namespace of its own, whose mounts end
 * with it: a service's (systemd's ProtectSystem= and kin) or a
 * container's (where PID 1 is the container's init, in a pid namespace
 * that is not the initial one)? */
static bool own_mount_ns(void)
{
	struct stat self, init;

	/* PID 1's namespaces may be closed to us (not dumpable) */
	if (stat("/proc/self/ns/mnt", &self) == 0 && stat("/proc/1/ns/mnt", &init) == 0 &&
	    self.st_ino != init.st_ino)
		return true;
	return stat("/proc/self/ns/pid", &self) == 0 && self.st_ino != PROC_PID_INIT_INO;
}

static int ensure_bpffs(const char *pin_dir)
{
	struct statfs st;
	int err;

	/* Hosts without systemd often have no bpffs: mount the usual one when
	 * the pins go there. */
	if (strncmp(pin_dir, "/sys/fs/bpf/", 12) == 0 &&
	    (statfs("/sys/fs/bpf", &st) < 0 || st.f_type != BPF_FS_MAGIC)) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
			log_warn("bpffs is not mounted and mounting it at /sys/fs/bpf "
				 "failed: %s", strerror(errno));
		else if (own_mount_ns())
			log_warn("mounted bpffs at /sys/fs/bpf in a mount namespace of "
				 "this agent's own (a container's or a service's): the "
				 "pins, and the counts in them, end with it, so the next "
				 "start meters afresh; mount bpffs on the host and share "
				 "it (bind-mount /sys/fs/bpf)");
		else
			log_info("mounted bpffs at /sys/fs/bpf");
	}
	err = fileio_mkdirs(pin_dir, 0700);

	if (err)
		log_warn("cannot create pin directory %s: %s (is bpffs mounted at "
			 "/sys/fs/bpf?)", pin_dir, strerror(-err));
	return err;
}

bool meter_pins_present(const struct meter_conf *conf)
{
	struct dirent *e;
	bool present = false;
	DIR *d;

	if (ensure_bpffs(conf->pin_dir))
		return true;
	d = opendir(conf->pin_dir);
	if (!d)
		return errno != ENOENT;
	while (!present && (e = readdir(d)))
		present = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return present;
}

int meter_open(const struct meter_conf *conf, struct meter **out)
{
	struct meter *m;
	int err;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->conf = *conf;
	libbpf_set_print(log_libbpf_print);
	err = ensure_bpffs(conf->pin_dir);
	if (err)
		goto cleanup;
	if (conf->n_ports) {
		err = meter_http_open(&m->conf, &m->health, &m->http);
		if (err) {
			log_warn("HTTP metering unavailable: %s", strerror(-err));
			meter_health_hook(&m->health, "http", false);
		}
	}
	if (conf->n_cgroups || conf->n_cidrs) {
		err = meter_cgroup_open(&m->conf, &m->health, &m->cgroup);
		if (err) {
			log_warn("cgroup/CIDR metering unavailable: %s", strerror(-err));
			meter_health_hook(&m->health, "cgroup", false);
		}
	}
	if (!m->http && !m->cgroup) {
		log_warn("no meter could be attached");
		err = err ? err : -ENOENT;
		goto cleanup;
	}
	err = 0;
	*out = m;
	m = NULL;
cleanup:
	meter_close(m);
	return err;
}

int meter_read(struct meter *m, struct meter_row **rows_out, size_t *n,
	       struct meter_health *health)
{
	struct meter_rows rows = { 0 };
	int err = 0;

	*rows_out = NULL;
	*n = 0;
	*health = m->health;
	health->map_overflow = 0;
	health->event_drops = 0;
	if (m->http) {
		err = meter_http_read(m->http, &rows, health);
		if (err)
			goto cleanup;
	}
	if (m->cgroup) {
		err = meter_cgroup_read(m->cgroup, &rows, health);
		if (err)
			goto cleanup;
	}
	*rows_out = rows.v;
	*n = rows.n;
	rows.v = NULL;
cleanup:
	free(rows.v);
	return err;
}

bool meter_counts_from_zero(const struct meter *m, const struct meter_row *key)
{
	switch (key->metric) {
	case METRIC_API_REQUESTS:
	case METRIC_API_REQUEST_BYTES:
	case METRIC_API_RESPONSE_BYTES:
		return m->http && meter_http_from_zero(m->http);
	case METRIC_NET_RX_BYTES:
	case METRIC_NET_TX_BYTES:
	case METRIC_CPU_NS:
	case METRIC_TCP_CONNECTIONS:
		return m->cgroup && meter_cgroup_from_zero(m->cgroup, key->tenant);
	}
	return false;
}

bool meter_losses_from_zero(const struct meter *m)
{
	/* a configured part that did not open may still hold its losses */
	bool http = m->conf.n_ports != 0, cgroup = m->conf.n_cgroups || m->conf.n_cidrs;

	return (!http || (m->http && meter_http_losses_from_zero(m->http))) &&
	       (!cgroup || (m->cgroup && meter_cgroup_losses_from_zero(m->cgroup)));
}

void meter_close(struct meter *m)
{
	if (!m)
		return;
	meter_http_close(m->http);
	meter_cgroup_close(m->cgroup);
	free(m);
}
