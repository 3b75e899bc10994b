/* http_drain: see http_drain.h. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "http_drain.h"
#include "log.h"
#include "bpf/http.h"

/* The connection maps that go with the draining links ("link_*"): the
 * socket hooks' and the syscall hook's. */
static const char *const drain_maps[] = {
	"http_socks", "http_nsocks", "http_ctl", "http_conns", "http_procs",
};

/* dir/drain, or dir/drain/name */
static int drain_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = name ? snprintf(buf, len, "%s/drain/%s", dir, name) :
		       snprintf(buf, len, "%s/drain", dir);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool is_drain_pin(const char *name)
{
	if (!strncmp(name, "link_", 5))
		return true;
	for (size_t i = 0; i < sizeof(drain_maps) / sizeof(drain_maps[0]); i++)
		if (!strcmp(name, drain_maps[i]))
			return true;
	return false;
}

void http_drain_conn_unpin(const char *dir)
{
	char path[512];

	for (size_t i = 0; i < sizeof(drain_maps) / sizeof(drain_maps[0]); i++)
		if (snprintf(path, sizeof(path), "%s/%s", dir, drain_maps[i]) <
		    (int)sizeof(path))
			unlink(path);
}

/* Is the map pinned at path of type type, with value_size bytes per entry? */
static bool pinned_map_is(const char *path, enum bpf_map_type type, uint32_t value_size)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	bool ok;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return false;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == type &&
	     (!value_size || info.value_size == value_size);
	close(fd);
	return ok;
}

static bool pinned(const char *dir, const char *name)
{
	char path[512];

	return snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path) &&
	       access(path, F_OK) == 0;
}

static bool pinned_in_is(const char *dir, const char *name, enum bpf_map_type type,
			 uint32_t value_size)
{
	char path[512];

	return snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path) &&
	       pinned_map_is(path, type, value_size);
}

bool http_drain_possible(const char *dir)
{
	if (pinned(dir, "link_sock_recv"))
		return pinned_in_is(dir, "http_socks", BPF_MAP_TYPE_SK_STORAGE, 0) &&
		       pinned_in_is(dir, "http_nsocks", BPF_MAP_TYPE_ARRAY, sizeof(int64_t));
	if (pinned(dir, "link_sys_exit"))
		return pinned_in_is(dir, "http_conns", BPF_MAP_TYPE_HASH, 0) &&
		       pinned_in_is(dir, "http_procs", BPF_MAP_TYPE_ARRAY, sizeof(uint64_t));
	return false;
}

/* Is the drain under dir the syscall hook's (else the socket hooks')? */
static bool drain_is_syscall(const char *dir)
{
	char path[512];

	return !drain_path(path, sizeof(path), dir, NULL) && pinned(path, "link_sys_exit");
}

/* Renames every drain pin in from to the same name in to.  Stops at the
 * first failure. */
static int move_pins(const char *from, const char *to)
{
	char src[1024], dst[1024];
	struct dirent *de;
	DIR *d = opendir(from);
	int err = 0;

	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		if (!is_drain_pin(de->d_name))
			continue;
		if (snprintf(src, sizeof(src), "%s/%s", from, de->d_name) >= (int)sizeof(src) ||
		    snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name) >= (int)sizeof(dst)) {
			err = -ENAMETOOLONG;
			break;
		}
		if (rename(src, dst)) {
			err = -errno;
			log_warn("cannot move pin %s to %s: %s", src, dst, strerror(errno));
		}
	}
	closedir(d);
	return err;
}

/* Sets the http_ctl flags pinned at path, keeping those outside mask;
 * -ENOENT from a build without one. */
static int set_ctl_at(const char *path, uint32_t mask, uint32_t flags)
{
	uint32_t zero = 0, cur = 0;
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_map_lookup_elem(fd, &zero, &cur) ? -errno : 0;
	cur = (cur & ~mask) | flags;
	if (!err && bpf_map_update_elem(fd, &zero, &cur, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/* The draining programs' http_ctl */
static int set_ctl(const char *dir, uint32_t flags)
{
	char path[512];
	int err = drain_path(path, sizeof(path), dir, "http_ctl");

	return err ? err : set_ctl_at(path, HTTP_CTL_DRAINING, flags);
}

int http_drain_held(const char *dir, long long *held)
{
	bool syscall = pinned(dir, "link_sys_exit");
	char path[512];
	uint64_t key, next, *prev = NULL;
	uint32_t zero = 0;
	int64_t n = 0;
	int fd, err = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir,
		     syscall ? "http_conns" : "http_nsocks") >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (syscall) {
		struct bpf_map_info info = { 0 };
		uint32_t len = sizeof(info);

		/* a key deleted meanwhile starts the walk over: bounded */
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			err = -errno;
		for (; !err && n <= info.max_entries &&
		       bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
			key = next;
			n++;
		}
	} else if (bpf_map_lookup_elem(fd, &zero, &n)) {
		err = -errno;
	}
	close(fd);
	*held = n;
	return err;
}

int http_drain_left(const char *dir, long long *left)
{
	char path[512];
	int err = drain_path(path, sizeof(path), dir, NULL);

	return err ? err : http_drain_held(path, left);
}

int http_drain_remove(const char *dir)
{
	char path[512], pin[1024];
	struct dirent *de;
	DIR *d;
	int err;

	err = drain_path(path, sizeof(path), dir, NULL);
	if (err)
		return err;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(pin, sizeof(pin), "%s/%s", path, de->d_name) >= (int)sizeof(pin))
			continue;
		/* ENOENT: a second remover (end-drain beside the agent) */
		if (unlink(pin) && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(path) && errno != ENOENT && !err)
		err = -errno;
	if (err)
		log_warn("cannot remove %s: %s", path, strerror(-err));
	return err;
}

int http_drain_begin(const char *dir)
{
	char path[512];
	long long left;
	int err;

	if (!http_drain_left(dir, &left) && left > 0)
		log_warn("HTTP meter: an earlier build's programs were still finishing "
			 "%lld connection(s); they stop now, and those connections go "
			 "unmetered", left);
	err = http_drain_remove(dir);
	if (!err)
		err = drain_path(path, sizeof(path), dir, NULL);
	if (err)
		return err;
	if (mkdir(path, 0700)) {
		err = -errno;
		log_warn("cannot create %s: %s", path, strerror(errno));
		return err;
	}
	err = move_pins(dir, path);
	if (!err) {
		err = set_ctl(dir, HTTP_CTL_DRAINING);
		if (err == -ENOENT)     /* a build from before drains: no flag */
			err = 0;
	}
	if (err) {
		log_warn("HTTP meter: cannot keep the previous build's programs for "
			 "their connections: %s", strerror(-err));
		http_drain_undo(dir);
		return err;
	}
	if (!http_drain_left(dir, &left))
		log_info("HTTP meter: the previous build's programs stay attached for "
			 "the %lld connection(s) they meter, until these close; new "
			 "connections go to the new build", left);
	return 0;
}

void http_drain_undo(const char *dir)
{
	char path[512];

	if (drain_path(path, sizeof(path), dir, NULL))
		return;
	set_ctl(dir, 0);
	if (move_pins(path, dir))
		log_warn("HTTP meter: the previous build's programs could not all "
			 "be moved back from %s", path);
	else
		rmdir(path);
}

/* Points map at the map pinned at dir/drain/name. */
static int bind_map(struct bpf_map *map, const char *dir, const char *name)
{
	char path[512];
	int fd, err;

	err = drain_path(path, sizeof(path), dir, name);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map__reuse_fd(map, fd);
	close(fd);
	return err;
}

int http_drain_bind(const char *dir, bool syscall_hook, const struct http_drain_maps *prev)
{
	char path[512];
	long long left = 0;
	int err;

	err = drain_path(path, sizeof(path), dir, NULL);
	if (err || access(path, F_OK))
		return err;
	if (drain_is_syscall(dir) != syscall_hook) {
		http_drain_left(dir, &left);
		log_warn("HTTP meter: the draining programs use the %s hook(s), the new "
			 "ones do not; they stop now, and their %lld connection(s) go "
			 "unmetered", syscall_hook ? "socket" : "syscall", left);
		return http_drain_remove(dir);
	}
	if (syscall_hook) {
		err = bind_map(prev->conns, dir, "http_conns");
		if (!err)
			err = bind_map(prev->procs, dir, "http_procs");
	} else {
		err = bind_map(prev->socks, dir, "http_socks");
		if (!err)
			err = bind_map(prev->nsocks, dir, "http_nsocks");
	}
	if (err)
		log_warn("HTTP meter: cannot see the draining programs' connections: %s",
			 strerror(-err));
	return err;
}

/* Removes the drain; then the current programs' http_ctl (in dir) says
 * the previous build's connections are nobody's: the old programs are
 * detached by then, so no connection can be metered twice. */
static int drain_end(const char *dir)
{
	char path[512];
	int err = http_drain_remove(dir);

	if (err)
		return err;
	if (snprintf(path, sizeof(path), "%s/http_ctl", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	err = set_ctl_at(path, HTTP_CTL_PREV_ENDED, HTTP_CTL_PREV_ENDED);
	if (err == -ENOENT)     /* nothing pinned there now: nothing to tell */
		return 0;
	if (err)
		log_warn("HTTP meter: cannot mark the previous build's drain as ended "
			 "in %s: %s", path, strerror(-err));
	return err;
}

int http_drain_poll(const char *dir, long long *left)
{
	int err = http_drain_left(dir, left);

	if (err || *left > 0)
		return err;
	err = drain_end(dir);
	if (!err)
		log_info("HTTP meter: the previous build's programs finished their "
			 "connections and were detached");
	return err;
}

int http_drain_end(const char *dir, long long *left)
{
	int err = http_drain_left(dir, left);

	if (err)
		return err;
	err = drain_end(dir);
	if (!err && *left > 0)
		log_warn("HTTP meter: the previous build's drain ended with %lld "
			 "connection(s) left; each counts once as unmetered "
			 "(health.event_drops) at its next read or write", *left);
	else if (!err)
		log_info("HTTP meter: the previous build's drain ended; it held no "
			 "connection");
	return err;
}

int http_drain_since(const char *dir, time_t *since)
{
	char path[512];
	struct stat st;
	int err = drain_path(path, sizeof(path), dir, NULL);

	if (err)
		return err;
	if (stat(path, &st))
		return -errno;
	*since = st.st_mtime;   /* the pins moved in as it began */
	return 0;
}
