/* meter_http: HTTP API requests on configured local ports (bpf/http.bpf.c).
 *
 * Everything lives pinned under <pin_dir>/http/: the counter, stats and
 * connection maps, one link per hook ("link_<program>"), and the
 * "http_meta" map holding the fingerprint (FNV-1a over the BPF object bytes
 * and every setting the programs see).  bpffs holds no regular files, so
 * the fingerprint is a pinned map, written last.  The links stay pinned when
 * the agent exits, so counting goes on while it is down.  On open, a
 * matching fingerprint with every link present means "reuse without
 * reloading"; anything else loads afresh, keeping the counters: for the
 * same object the new programs take over the open connections, for a new
 * build the old programs stay attached until theirs end (http_drain.h).
 *
 * Ownership: meter_http_open() returns a struct the caller frees with
 * meter_http_close(), which closes fds and leaves the pins in place;
 * meter_http_unpin() removes them. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "fileio.h"
#include "http_drain.h"
#include "log.h"
#include "meter_parts.h"
#include "metric.h"
#include "bpf/http.h"
#include "bpf/http.skel.h"

#define HTTP_MAX_LINKS 32

struct meter_http {
	struct http_bpf *skel;          /* NULL when pinned links were reused */
	struct bpf_link *links[HTTP_MAX_LINKS];
	struct bpf_program *link_progs[HTTP_MAX_LINKS]; /* what each link runs */
	size_t n_links;
	int slots_fd, vals_fd, stats_fd;        /* owned */
	uint64_t unmetered_logged;      /* HTTP_STAT_DROP_UNMETERED when last logged */
	bool from_zero;                 /* the counters held nothing at load */
	bool losses_from_zero;          /* nor did the loss counters */
	char dir[512];                  /* <pin_dir>/http */
	time_t drain_logged;            /* when a drain in progress was last logged */
	int64_t drain_max_ms;           /* [http] drain_max */
	char routes[METER_CONF_MAX_ROUTES][METER_CONF_NAME_LEN];
	size_t n_routes;
};

static const char *const method_names[HTTP_M_COUNT] = {
	"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
};

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * HTTP_FNV_PRIME;
	return h;
}

/* ASCII lower case, as the kernel side folds header-name bytes. */
static unsigned char fnv_lower_byte(char ch)
{
	unsigned char c = (unsigned char)ch;

	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Header names compare case-insensitively: the kernel hashes them lower-cased. */
static uint64_t fnv_lower(const char *s)
{
	uint64_t h = HTTP_FNV_OFFSET;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c += 32;
		h = (h ^ c) * HTTP_FNV_PRIME;
	}
	return h;
}

/* "/v1/items/{*}" -> segments v1, items, {*} (braces only keep this a
 * comment).  "*" is exactly one segment (any
 * bytes but '/', possibly empty), "**" (last only) zero or more segments. */
static int route_compile(const char *pattern, struct http_route *r)
{
	const char *p = pattern;

	memset(r, 0, sizeof(*r));
	if (*p != '/')
		goto bad;
	p++;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (r->nseg == HTTP_MAX_SEGS) {
			log_warn("route '%s': more than %d path segments", pattern,
				 HTTP_MAX_SEGS);
			return -EINVAL;
		}
		if (len == 2 && !memcmp(p, "**", 2)) {
			if (end) {
				log_warn("route '%s': '**' must be the last segment", pattern);
				return -EINVAL;
			}
			r->kind[r->nseg] = HTTP_SEG_REST;
		} else if (len == 1 && *p == '*') {
			r->kind[r->nseg] = HTTP_SEG_ONE;
		} else if (memchr(p, '*', len)) {
			log_warn("route '%s': '*' must be a whole segment ('*' or '**')",
				 pattern);
			return -EINVAL;
		} else {
			r->kind[r->nseg] = HTTP_SEG_LIT;
			r->hash[r->nseg] = fnv_bytes(HTTP_FNV_OFFSET, p, len);
		}
		r->nseg++;
		if (!end)
			return 0;
		p = end + 1;
	}
bad:
	log_warn("route '%s' must start with '/'", pattern);
	return -EINVAL;
}

/* Everything the loaded programs depend on. */
static uint64_t fingerprint(const struct meter_conf *conf, uint64_t obj_hash,
			    bool sock_hooks)
{
	uint64_t h = obj_hash;

	h = fnv_bytes(h, conf->ports, conf->n_ports * sizeof(conf->ports[0]));
	h = fnv_bytes(h, conf->tenant_header, sizeof(conf->tenant_header));
	h = fnv_bytes(h, conf->api_key_header, sizeof(conf->api_key_header));
	for (size_t i = 0; i < conf->n_routes; i++)
		h = fnv_bytes(h, conf->routes[i].pattern, sizeof(conf->routes[i].pattern));
	h = fnv_bytes(h, &conf->n_routes, sizeof(conf->n_routes));
	for (size_t i = 0; i < conf->n_keys; i++) {
		h = fnv_bytes(h, &conf->keys[i].hash, sizeof(conf->keys[i].hash));
		h = fnv_bytes(h, conf->keys[i].tenant, sizeof(conf->keys[i].tenant));
	}
	h = fnv_bytes(h, &conf->max_entries, sizeof(conf->max_entries));
	h = fnv_bytes(h, &conf->max_connections, sizeof(conf->max_connections));
	h = fnv_bytes(h, &sock_hooks, sizeof(sock_hooks));
	return h;
}

static int http_dir(const char *pin_dir, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/http", pin_dir) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int pin_path(char *buf, size_t len, const char *dir, const char *prefix,
		    const char *name)
{
	if (snprintf(buf, len, "%s/%s%s", dir, prefix, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* "tp_btf/sys_exit" -> "http:sys_exit" */
static void hook_name(const struct bpf_program *prog, char *buf, size_t len)
{
	const char *sec = bpf_program__section_name(prog);
	const char *slash = strrchr(sec, '/');

	snprintf(buf, len, "http:%s", slash ? slash + 1 : sec);
}

/* libbpf finds tracepoint ids through tracefs; mount it if nobody has. */
static void ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		log_warn("tracefs is not mounted and mounting it at "
			 "/sys/kernel/tracing failed: %s", strerror(errno));
	else
		log_info("mounted tracefs at /sys/kernel/tracing");
}

/* Does the running kernel have the socket I/O tracepoints (6.3+)? */
static bool kernel_has_sock_hooks(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = btf__find_by_name_kind(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) > 0 &&
	     btf__find_by_name_kind(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return ok;
}

/* Socket hooks where the kernel has them (or the config says so), else
 * the syscall-exit hook; the other set is not loaded. */
static int choose_hooks(struct http_bpf *skel, const struct meter_conf *conf,
			bool *sock_hooks)
{
	struct bpf_program *sock_progs[] = {
		skel->progs.sock_state, skel->progs.sock_destroy,
		skel->progs.sock_recv, skel->progs.sock_send,
	};
	struct bpf_program *sys_progs[] = {
		skel->progs.sys_exit, skel->progs.tp_process_exit,
	};
	bool have = kernel_has_sock_hooks();

	switch (conf->http_hooks) {
	case METER_HTTP_HOOKS_SOCKET:
		if (!have) {
			log_warn("[http] hooks = socket, but this kernel has no "
				 "sock_send_length/sock_recv_length tracepoints (6.3+)");
			return -EOPNOTSUPP;
		}
		*sock_hooks = true;
		break;
	case METER_HTTP_HOOKS_SYSCALL:
		*sock_hooks = false;
		break;
	default:
		*sock_hooks = have;
		if (!have)
			log_warn("HTTP meter: no socket I/O tracepoints in this kernel "
				 "(6.3+); using the syscall-exit hook, which slows every "
				 "syscall on the host a little");
	}
	for (size_t i = 0; i < sizeof(sock_progs) / sizeof(sock_progs[0]); i++)
		bpf_program__set_autoload(sock_progs[i], *sock_hooks);
	for (size_t i = 0; i < sizeof(sys_progs) / sizeof(sys_progs[0]); i++)
		bpf_program__set_autoload(sys_progs[i], !*sock_hooks);
	return 0;
}

static int read_meta(const char *dir, struct http_meta *meta)
{
	char path[512];
	uint32_t zero = 0;
	int fd, err = 0;

	memset(meta, 0, sizeof(*meta));
	if (pin_path(path, sizeof(path), dir, "", "http_meta"))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, meta))
		err = -errno;
	close(fd);
	return err;
}

/* Is the link of program prog pinned under dir? */
static bool link_pinned(const char *dir, const char *prog)
{
	char path[512];

	return !pin_path(path, sizeof(path), dir, "link_", prog) && access(path, F_OK) == 0;
}

/* Every program of the object has its link pinned? */
static bool links_complete(struct http_bpf *skel, const char *dir)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		if (bpf_program__autoload(prog) && !link_pinned(dir, bpf_program__name(prog)))
			return false;
	}
	return true;
}

/* Calls fn for each "link_<program>" pin in dir, with the pin's name. */
static void for_each_link(const char *dir, void (*fn)(const char *dir, const char *pin,
						      void *arg), void *arg)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "link_", 5))
			fn(dir, de->d_name, arg);
	closedir(d);
}

static void unpin_link(const char *dir, const char *pin, void *arg)
{
	char path[1024];

	(void)arg;
	if (snprintf(path, sizeof(path), "%s/%s", dir, pin) >= (int)sizeof(path))
		return;
	if (unlink(path))
		log_warn("cannot unpin %s: %s", path, strerror(errno));
}

/* Every pinned link, including those of programs an older agent had and
 * this one has not (they would stay attached otherwise). */
static void unpin_links(const char *dir)
{
	for_each_link(dir, unpin_link, NULL);
}

/* name as the request parser compares it a word at a time (bpf/http.h).
 * Left to the hash (words 0): a name too long, and the two framing
 * headers, which the parser must classify as such first. */
static void hdr_words(const char *name, struct http_hdr_words *out)
{
	size_t len = strlen(name);

	memset(out, 0, sizeof(*out));
	if (!len || len + 1 > 8 * HTTP_HDR_WORDS || !strcasecmp(name, "content-length") ||
	    !strcasecmp(name, "transfer-encoding"))
		return;
	for (size_t k = 0; k <= len; k++) {
		unsigned char c = k < len ? fnv_lower_byte(name[k]) : ':';
		unsigned int shift = 8 * (k % 8);

		out->want[k / 8] |= (uint64_t)c << shift;
		out->mask[k / 8] |= 0xffULL << shift;
		if (c >= 'a' && c <= 'z')
			out->fold[k / 8] |= 0x20ULL << shift;
	}
	out->words = len / 8 + 1;
	out->len = len;
}

static int set_rodata(struct http_bpf *skel, const struct meter_conf *conf)
{
	struct http_bpf__rodata *ro = skel->rodata;

	if (conf->n_routes > HTTP_MAX_ROUTES || conf->n_ports > HTTP_MAX_PORTS)
		return -E2BIG;
	for (size_t i = 0; i < conf->n_ports; i++)
		ro->ports[i] = conf->ports[i];
	ro->n_ports = conf->n_ports;
	for (size_t i = 0; i < conf->n_routes; i++) {
		int err = route_compile(conf->routes[i].pattern, &ro->routes[i]);

		if (err)
			return err;
	}
	ro->n_routes = conf->n_routes;
	ro->use_tenant_hdr = conf->tenant_header[0] != '\0';
	ro->use_key_hdr = conf->api_key_header[0] != '\0';
	ro->tenant_hdr_hash = fnv_lower(conf->tenant_header);
	ro->key_hdr_hash = fnv_lower(conf->api_key_header);
	ro->tenant_hdr_c0 = (uint8_t)(fnv_lower_byte(conf->tenant_header[0]));
	ro->key_hdr_c0 = (uint8_t)(fnv_lower_byte(conf->api_key_header[0]));
	hdr_words(conf->tenant_header, &ro->tenant_hdr_words);
	hdr_words(conf->api_key_header, &ro->key_hdr_words);
	ro->cl_hdr_hash = fnv_lower("content-length");
	ro->te_hdr_hash = fnv_lower("transfer-encoding");
	ro->max_socks = conf->max_connections;
	ro->max_counters = conf->max_entries;
	return 0;
}

static int fill_keys(struct http_bpf *skel, const struct meter_conf *conf)
{
	int fd = bpf_map__fd(skel->maps.http_keys);

	for (size_t i = 0; i < conf->n_keys; i++) {
		struct http_tenant t = { 0 };

		snprintf(t.name, sizeof(t.name), "%s", conf->keys[i].tenant);
		if (bpf_map_update_elem(fd, &conf->keys[i].hash, &t, BPF_ANY)) {
			int err = -errno;

			log_warn("cannot store API key hash for tenant %s: %s",
				 conf->keys[i].tenant, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Attaches every loaded program; pin_all() pins the links once the old
 * ones are gone from their paths.  A hook that cannot attach is a warning.
 * Without the hooks that see the bytes nothing can be metered: an error. */
static int attach_all(struct meter_http *m, struct meter_health *h)
{
	struct bpf_program *prog;
	int have_io = 0, need_io = 0;
	char name[METER_HOOK_NAME_LEN];

	bpf_object__for_each_program(prog, m->skel->obj) {
		/* all but the process-exit hook see connections or bytes */
		bool io = prog != m->skel->progs.tp_process_exit;
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		need_io += io;
		hook_name(prog, name, sizeof(name));
		link = bpf_program__attach(prog);
		if (!link) {
			log_warn("HTTP hook %s did not attach: %s (its traffic is "
				 "not metered)", name, strerror(errno));
			meter_health_hook(h, name, false);
			continue;
		}
		if (m->n_links < HTTP_MAX_LINKS) {
			m->link_progs[m->n_links] = prog;
			m->links[m->n_links++] = link;
		} else {
			bpf_link__destroy(link);
		}
		meter_health_hook(h, name, true);
		have_io += io;
	}
	if (have_io < need_io) {
		log_warn("HTTP meter: the hooks that see connections and their "
			 "bytes did not all attach: HTTP is not metered");
		return -ENOENT;
	}
	return 0;
}

/* Pins the links, so counting goes on after the agent exits. */
static void pin_all(struct meter_http *m, const char *dir)
{
	char path[512];

	for (size_t i = 0; i < m->n_links; i++) {
		int err = pin_path(path, sizeof(path), dir, "link_",
				   bpf_program__name(m->link_progs[i]));

		if (!err)
			err = bpf_link__pin(m->links[i], path);
		if (err)
			log_warn("cannot pin link %s: %s (counting stops when the "
				 "agent exits)", path, strerror(-err));
	}
}

/* Were the pinned links made by the same kind of hooks (socket or syscall)
 * as the object's, which autoloads only the kind it was set to? */
static bool pinned_same_hooks(struct http_bpf *skel, const char *dir)
{
	bool syscall = bpf_program__autoload(skel->progs.sys_exit);

	return link_pinned(dir, "sys_exit") == syscall &&
	       link_pinned(dir, "sock_recv") == !syscall;
}

static int write_meta(struct http_bpf *skel, const struct meter_conf *conf,
		      uint64_t fp, uint64_t obj_hash)
{
	struct http_meta meta = { .fingerprint = fp, .obj_hash = obj_hash };
	uint32_t zero = 0;

	meta.n_routes = conf->n_routes;
	for (size_t i = 0; i < conf->n_routes && i < HTTP_MAX_ROUTES; i++)
		snprintf(meta.routes[i], sizeof(meta.routes[i]), "%s", conf->routes[i].pattern);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.http_meta), &zero, &meta, 0))
		return -errno;
	return 0;
}

/* Counter keys hold route indexes: they keep their meaning only if the old
 * route list is a prefix of the new one (routes appended at the end). */
static bool routes_compatible(const struct http_meta *old, const struct meter_conf *conf)
{
	if (old->n_routes > conf->n_routes || old->n_routes > HTTP_MAX_ROUTES)
		return false;
	for (uint32_t i = 0; i < old->n_routes; i++)
		if (strncmp(old->routes[i], conf->routes[i].pattern, sizeof(old->routes[i])))
			return false;
	return true;
}

/* Removes the pins of maps under dir (a load then creates them afresh). */
static void unpin_maps(struct bpf_map *const *maps, size_t n, const char *dir)
{
	char path[512];

	for (size_t i = 0; i < n; i++)
		if (!pin_path(path, sizeof(path), dir, "", bpf_map__name(maps[i])))
			unlink(path);
}

/* Would libbpf reuse every one of maps pinned under dir as it is? */
static bool maps_reusable(struct bpf_map *const *maps, size_t n, const char *dir)
{
	for (size_t i = 0; i < n; i++)
		if (!meter_pin_compatible(maps[i], dir))
			return false;
	return true;
}

/* Is fd the per-CPU hash of http_key -> http_val that builds before the
 * slot maps counted into? */
static bool is_old_counts(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	       info.type == BPF_MAP_TYPE_PERCPU_HASH &&
	       info.key_size == sizeof(struct http_key) &&
	       info.value_size == sizeof(struct http_val);
}

/* Moves the counts of an older build's pinned http_counts map into fresh
 * slot maps, so an upgrade loses nothing; call after load, before the
 * programs attach (nothing else hands out slots then).  The old map is
 * removed once its counts are in, or if they cannot be used; on an error
 * it stays for the next load to try again. */
static int migrate_old_counts(struct http_bpf *skel, const char *dir,
			      const struct meter_conf *conf)
{
	int slots_fd = bpf_map__fd(skel->maps.http_slots);
	int vals_fd = bpf_map__fd(skel->maps.http_vals);
	int nslots_fd = bpf_map__fd(skel->maps.http_nslots);
	int ncpu = libbpf_num_possible_cpus();
	struct http_key key, next, *prev = NULL;
	struct http_val *vals = NULL;
	uint64_t nslots = 0;
	uint32_t zero = 0, slot;
	char path[512];
	int old_fd, err = 0;

	if (pin_path(path, sizeof(path), dir, "", "http_counts"))
		return 0;
	old_fd = bpf_obj_get(path);
	if (old_fd < 0)
		return 0;               /* nothing to move */
	if (!is_old_counts(old_fd) || bpf_map_lookup_elem(nslots_fd, &zero, &nslots) ||
	    nslots) {
		log_warn("HTTP meter: %s is not an older build's counters for empty slot "
			 "maps; removed without reading it", path);
		goto cleanup;
	}
	if (ncpu <= 0) {
		err = ncpu ? ncpu : -EINVAL;
		goto cleanup;
	}
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (slot = 0; bpf_map_get_next_key(old_fd, prev, &next) == 0; prev = &key) {
		key = next;
		if (bpf_map_lookup_elem(old_fd, &key, vals))
			continue;
		if (slot >= (uint64_t)conf->max_entries) {
			log_warn("HTTP meter: %s holds more keys than max_entries (%lld); "
				 "the rest are dropped", path, (long long)conf->max_entries);
			break;
		}
		/* BPF_ANY: a retry after a failed move numbers the keys afresh */
		if (bpf_map_update_elem(slots_fd, &key, &slot, BPF_ANY) ||
		    bpf_map_update_elem(vals_fd, &slot, vals, BPF_ANY)) {
			err = -errno;
			log_warn("HTTP meter: moving the counts of %s: %s", path, strerror(-err));
			goto cleanup;
		}
		slot++;
	}
	nslots = slot;
	if (bpf_map_update_elem(nslots_fd, &zero, &nslots, BPF_ANY)) {
		err = -errno;
		goto cleanup;
	}
	log_info("HTTP meter: moved %u counter keys of an older build into the slot maps",
		 slot);
cleanup:
	if (!err)
		unlink(path);   /* moved, or of no use; kept for a retry on error */
	free(vals);
	close(old_fd);
	return err;
}

/* What meter_http_open() found pinned, for a load afresh. */
struct load_plan {
	const char *dir;        /* <pin_dir>/http */
	uint64_t fp, obj_hash;  /* the new fingerprint and object hash */
	bool same_obj;          /* the pinned programs are this object's */
	bool keep_counts;       /* the route list lets the counters stay */
};

/* The counter maps go together: a slot number means nothing without the
 * key table that names it and the allocator that handed it out.  Whether
 * the pinned ones are kept. */
static bool plan_counters(struct http_bpf *skel, const struct meter_conf *conf,
			  const struct load_plan *p)
{
	struct bpf_map *counter_maps[] = {
		skel->maps.http_slots, skel->maps.http_vals, skel->maps.http_nslots,
	};
	size_t n = sizeof(counter_maps) / sizeof(counter_maps[0]);
	char path[512];

	bpf_map__set_max_entries(skel->maps.http_slots, conf->max_entries);
	bpf_map__set_max_entries(skel->maps.http_vals, conf->max_entries);
	if (!p->keep_counts) {
		log_warn("HTTP meter: the route list changed other than by appending; "
			 "the HTTP counters start afresh (read them before changing routes)");
		unpin_maps(counter_maps, n, p->dir);
		/* an older build's counters name routes by index too */
		if (!pin_path(path, sizeof(path), p->dir, "", "http_counts"))
			unlink(path);
		return false;
	}
	if (maps_reusable(counter_maps, n, p->dir))
		return true;
	log_warn("HTTP meter: the pinned counters have another layout or size; "
		 "they start afresh (their counts are lost)");
	unpin_maps(counter_maps, n, p->dir);
	return false;
}

/* Connection state from another object may have another layout: the new
 * programs get fresh maps, and the old ones, when both use the same kind
 * of hook and count into the same counters, finish their own connections
 * (http_drain.h).  *draining says whether a drain began (the caller undoes
 * it on a later error).  The old programs go on counting meanwhile. */
static int plan_connections(struct http_bpf *skel, const struct meter_conf *conf,
			    const struct load_plan *p, bool counters_kept, bool *draining)
{
	/* an entry without its count would never be deleted at close */
	struct bpf_map *fd_maps[] = { skel->maps.http_fds, skel->maps.http_fdcount };
	struct http_drain_maps prev = {
		.socks = skel->maps.http_socks_prev, .nsocks = skel->maps.http_nsocks_prev,
		.conns = skel->maps.http_conns_prev, .procs = skel->maps.http_procs_prev,
	};
	bool sock_hooks = !bpf_program__autoload(skel->progs.sys_exit);
	int err = 0;

	*draining = false;
	if (!p->same_obj && counters_kept && pinned_same_hooks(skel, p->dir) &&
	    http_drain_possible(p->dir)) {
		err = http_drain_begin(p->dir);
		if (err)
			goto cleanup;
		*draining = true;
	}
	if (!p->same_obj)       /* what a drain did not take starts afresh */
		http_drain_conn_unpin(p->dir);
	err = http_drain_bind(p->dir, !sock_hooks, &prev);
	if (err)
		goto cleanup;
	if (!sock_hooks) {
		bpf_map__set_max_entries(skel->maps.http_conns, conf->max_connections);
	} else {
		/* the syscall hook's tables are not used by the socket hooks */
		bpf_map__set_max_entries(skel->maps.http_conns, 1);
		bpf_map__set_max_entries(skel->maps.http_procs, 1);
		bpf_map__set_max_entries(skel->maps.http_fds, 1);
		bpf_map__set_max_entries(skel->maps.http_fdcache, 1);
		bpf_map__set_max_entries(skel->maps.http_fdcount, 1);
	}
	if (!maps_reusable(fd_maps, 2, p->dir))
		unpin_maps(fd_maps, 2, p->dir);
cleanup:
	return err;
}

/* The maps that outlive a load: libbpf reuses what is still pinned. */
static int reuse_pins(struct http_bpf *skel, const char *dir)
{
	struct bpf_map *keep[] = {
		skel->maps.http_slots, skel->maps.http_vals,
		skel->maps.http_nslots, skel->maps.http_stats,
		skel->maps.http_meta, skel->maps.http_conns,
		skel->maps.http_procs, skel->maps.http_socks,
		skel->maps.http_nsocks, skel->maps.http_ctl,
		/* every build's: a connection without state counts once */
		skel->maps.http_fds, skel->maps.http_fdcount,
		skel->maps.http_unmetered,
	};
	int err = 0;

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]) && !err; i++)
		err = meter_pin_reuse(keep[i], dir);
	return err;
}

/* *total: stat counter slot of http_stats (fd) summed over the ncpu CPUs,
 * buf their values.  0 or a negative errno. */
static int stat_total(int fd, uint32_t slot, uint64_t *buf, int ncpu, uint64_t *total)
{
	*total = 0;
	if (bpf_map_lookup_elem(fd, &slot, buf))
		return -errno;
	for (int c = 0; c < ncpu; c++)
		*total += buf[c];
	return 0;
}

/* Do the loaded counters hold nothing (m->from_zero), and the loss
 * counters (m->losses_from_zero)?  Maps just created do; so do reused ones
 * that never counted. */
static int check_empty(struct meter_http *m)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t nslots = 1, *stats = NULL;
	uint32_t zero = 0;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	stats = calloc(ncpu, sizeof(*stats));
	if (!stats)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(m->skel->maps.http_nslots), &zero, &nslots)) {
		err = -errno;
		goto cleanup;
	}
	m->from_zero = nslots == 0;
	m->losses_from_zero = true;
	for (uint32_t slot = 0; slot < HTTP_STAT_COUNT && m->losses_from_zero; slot++) {
		uint64_t total;

		err = stat_total(bpf_map__fd(m->skel->maps.http_stats), slot, stats, ncpu,
				 &total);
		if (err)
			goto cleanup;
		m->losses_from_zero = total == 0;
	}
cleanup:
	free(stats);
	return err;
}

/* How long the load took, and how close the largest program came to the
 * verifier's limit of 1,000,000 instructions (the parser is sized against
 * it: README, "Cost per API request"). */
static void log_verified(struct http_bpf *skel, const struct timespec *t0)
{
	const char *largest = NULL;
	struct bpf_program *prog;
	struct timespec t1;
	__u32 most = 0;

	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);

		if (!bpf_program__autoload(prog) ||
		    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		if (info.verified_insns > most) {
			most = info.verified_insns;
			largest = bpf_program__name(prog);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("HTTP programs loaded in %.1f s; the verifier went through %u "
		 "instructions of its 1,000,000 for the largest (%s)",
		 (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9,
		 most, largest ? largest : "none");
}

/* Loads, attaches and pins the new programs.  Programs sharing the
 * connection state know which bytes they parsed (its stream positions):
 * the new programs attach beside the old ones, which parse each I/O first
 * until they go, and no request goes unseen.  Otherwise the old programs
 * stop before the new ones start, so nothing is counted twice; a
 * connection whose state the new ones share and that moves bytes in
 * between is counted as a drop.  *old_stopped says whether the old links
 * are gone (the caller removes the new ones on a later error). */
static int load_attach(struct meter_http *m, const struct meter_conf *conf,
		       const struct load_plan *p, struct meter_health *h, bool *old_stopped)
{
	bool overlap = p->same_obj && pinned_same_hooks(m->skel, p->dir);
	struct timespec t0;
	int err;

	*old_stopped = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = http_bpf__load(m->skel);
	if (err) {
		log_warn("loading bpf/http.bpf.o failed: %s", strerror(-err));
		goto cleanup;
	}
	log_verified(m->skel, &t0);
	err = fill_keys(m->skel, conf);
	if (err)
		goto cleanup;
	if (!overlap) {
		unpin_links(p->dir);
		*old_stopped = true;
	}
	err = migrate_old_counts(m->skel, p->dir, conf);   /* nothing counts into it now */
	if (!err)
		err = check_empty(m);
	if (!err)
		err = write_meta(m->skel, conf, 0, p->obj_hash);   /* invalid until every link is pinned */
	if (!err)
		err = attach_all(m, h);
	if (err)
		goto cleanup;
	if (overlap) {
		unpin_links(p->dir);
		*old_stopped = true;
	}
	pin_all(m, p->dir);
	err = write_meta(m->skel, conf, p->fp, p->obj_hash);
cleanup:
	return err;
}

/* The old programs go on counting while the new ones load (the verifier
 * takes about a second); on an error no half-attached meter is left
 * behind, and old programs still attached keep counting. */
static int load_fresh(struct meter_http *m, const struct meter_conf *conf,
		      const struct load_plan *p, struct meter_health *h)
{
	bool old_stopped = false, draining = false;
	int err;

	err = set_rodata(m->skel, conf);
	if (!err)
		err = plan_connections(m->skel, conf, p, plan_counters(m->skel, conf, p),
				       &draining);
	if (!err)
		err = reuse_pins(m->skel, p->dir);
	if (!err)
		err = load_attach(m, conf, p, h, &old_stopped);
	if (err)
		goto cleanup;
	m->slots_fd = dup(bpf_map__fd(m->skel->maps.http_slots));
	m->vals_fd = dup(bpf_map__fd(m->skel->maps.http_vals));
	m->stats_fd = dup(bpf_map__fd(m->skel->maps.http_stats));
	if (m->slots_fd < 0 || m->vals_fd < 0 || m->stats_fd < 0)
		err = -errno;
cleanup:
	if (err && old_stopped)
		unpin_links(p->dir);
	if (err && draining)
		http_drain_undo(p->dir);
	return err;
}

static int reuse_pinned(struct meter_http *m, const char *dir, struct meter_health *h)
{
	struct bpf_program *prog;
	char name[METER_HOOK_NAME_LEN];
	int err;

	err = meter_open_pinned(dir, "http_slots", &m->slots_fd);
	if (!err)
		err = meter_open_pinned(dir, "http_vals", &m->vals_fd);
	if (!err)
		err = meter_open_pinned(dir, "http_stats", &m->stats_fd);
	if (err)
		return err;
	bpf_object__for_each_program(prog, m->skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		hook_name(prog, name, sizeof(name));
		meter_health_hook(h, name, true);
	}
	return 0;
}

bool meter_http_from_zero(const struct meter_http *m)
{
	return m->from_zero;
}

bool meter_http_losses_from_zero(const struct meter_http *m)
{
	return m->losses_from_zero;
}

int meter_http_open(const struct meter_conf *conf, struct meter_health *h,
		    struct meter_http **out)
{
	struct meter_http *m;
	struct http_meta meta;
	char dir[512];
	const void *obj;
	size_t obj_len;
	uint64_t obj_hash, fp;
	struct http_route scratch;
	bool sock_hooks;
	int err;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->slots_fd = m->vals_fd = m->stats_fd = -1;
	for (size_t i = 0; i < conf->n_routes; i++) {
		err = route_compile(conf->routes[i].pattern, &scratch);
		if (err)
			goto cleanup;
		snprintf(m->routes[i], sizeof(m->routes[i]), "%s", conf->routes[i].pattern);
	}
	m->n_routes = conf->n_routes;
	err = http_dir(conf->pin_dir, dir, sizeof(dir));
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	m->drain_max_ms = conf->drain_max_ms;
	if (!err)
		err = fileio_mkdirs(dir, 0700);
	if (err) {
		log_warn("cannot create %s: %s", dir, strerror(-err));
		goto cleanup;
	}
	ensure_tracefs();
	m->skel = http_bpf__open();
	if (!m->skel) {
		err = -errno;
		log_warn("opening bpf/http.bpf.o failed: %s", strerror(-err));
		goto cleanup;
	}
	err = choose_hooks(m->skel, conf, &sock_hooks);
	if (err)
		goto cleanup;
	obj = http_bpf__elf_bytes(&obj_len);
	obj_hash = fnv_bytes(HTTP_FNV_OFFSET, obj, obj_len);
	fp = fingerprint(conf, obj_hash, sock_hooks);
	if (read_meta(dir, &meta) == 0 && meta.fingerprint == fp &&
	    links_complete(m->skel, dir)) {
		log_info("HTTP meter: reusing the programs and counters pinned in %s", dir);
		err = reuse_pinned(m, dir, h);
		http_bpf__destroy(m->skel);
		m->skel = NULL;
	} else {
		struct load_plan plan = {
			.dir = dir, .fp = fp, .obj_hash = obj_hash,
			/* the connection table is kept only for the same object */
			.same_obj = meta.obj_hash == obj_hash,
			.keep_counts = (!meta.fingerprint && !meta.obj_hash) ||
				       routes_compatible(&meta, conf),
		};

		log_info("HTTP meter: loading afresh into %s (%s)", dir,
			 meta.fingerprint ? "program or settings changed" :
					    "nothing usable pinned");
		err = load_fresh(m, conf, &plan, h);
	}
	if (err)
		goto cleanup;
	*out = m;
	m = NULL;
cleanup:
	meter_http_close(m);
	return err;
}

/* Ends a finished drain, and one that has lasted drain_max; one in
 * progress is logged hourly, as the old programs cost a second run per
 * socket call while it lasts. */
static void drain_check(struct meter_http *m)
{
	long long left;
	time_t now = time(NULL), since;

	if (http_drain_poll(m->dir, &left) || left <= 0)
		return;
	if (m->drain_max_ms > 0 && !http_drain_since(m->dir, &since) &&
	    (int64_t)(now - since) * 1000 >= m->drain_max_ms) {
		log_warn("HTTP meter: the previous build's programs have drained "
			 "for %lld s, [http] drain_max; ending the drain",
			 (long long)(now - since));
		http_drain_end(m->dir, &left);
		return;
	}
	if (now - m->drain_logged >= 3600) {
		if (m->drain_logged)
			log_info("HTTP meter: the previous build's programs still meter "
				 "%lld connection(s) (%s/drain)", left, m->dir);
		m->drain_logged = now;
	}
}

int meter_http_read(struct meter_http *m, struct meter_rows *rows,
		    struct meter_health *h)
{
	int ncpu = libbpf_num_possible_cpus();
	struct http_key key, next, *prev = NULL;
	struct http_val *vals = NULL;
	uint64_t *stats = NULL;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	drain_check(m);
	vals = calloc(ncpu, sizeof(*vals));
	stats = calloc(ncpu, sizeof(*stats));
	if (!vals || !stats) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (bpf_map_get_next_key(m->slots_fd, prev, &next) == 0) {
		struct http_val sum = { 0 };
		struct meter_row row = { 0 };
		uint32_t slot;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->slots_fd, &key, &slot) ||
		    bpf_map_lookup_elem(m->vals_fd, &slot, vals))
			continue;       /* deleted meanwhile */
		for (int c = 0; c < ncpu; c++) {
			sum.requests += vals[c].requests;
			sum.req_bytes += vals[c].req_bytes;
			sum.resp_bytes += vals[c].resp_bytes;
		}
		if (!sum.requests)
			continue;       /* named, not yet counted */
		snprintf(row.tenant, sizeof(row.tenant), "%.*s",
			 (int)strnlen(key.tenant, sizeof(key.tenant)), key.tenant);
		snprintf(row.route, sizeof(row.route), "%s",
			 key.route < m->n_routes ? m->routes[key.route] : "other");
		snprintf(row.method, sizeof(row.method), "%s",
			 method_names[key.method < HTTP_M_COUNT ? key.method : HTTP_M_OTHER]);
		row.status_class = key.status;
		row.metric = METRIC_API_REQUESTS;
		row.value = sum.requests;
		err = meter_rows_push(rows, &row);
		row.metric = METRIC_API_REQUEST_BYTES;
		row.value = sum.req_bytes;
		if (!err)
			err = meter_rows_push(rows, &row);
		row.metric = METRIC_API_RESPONSE_BYTES;
		row.value = sum.resp_bytes;
		if (!err)
			err = meter_rows_push(rows, &row);
		if (err)
			goto cleanup;
	}
	for (uint32_t slot = 0; slot < HTTP_STAT_COUNT; slot++) {
		uint64_t total;

		if (stat_total(m->stats_fd, slot, stats, ncpu, &total))
			continue;
		if (slot == HTTP_STAT_OVERFLOW)
			h->map_overflow += total;
		else
			h->event_drops += total;
		if (slot == HTTP_STAT_DROP_UNMETERED && total > m->unmetered_logged) {
			log_warn("HTTP meter: %llu connection(s) on the metered ports were "
				 "opened before the meter's connection state existed (its "
				 "first start, or a new build) or while its programs were "
				 "detached; their requests are not counted (in health as drops)",
				 (unsigned long long)(total - m->unmetered_logged));
			m->unmetered_logged = total;
		}
		if (total)
			log_debug("http stat %u: %llu", slot, (unsigned long long)total);
	}
cleanup:
	free(vals);
	free(stats);
	return err;
}

void meter_http_close(struct meter_http *m)
{
	if (!m)
		return;
	/* Destroying a pinned link only drops our fd; the pin keeps it. */
	for (size_t i = 0; i < m->n_links; i++)
		bpf_link__destroy(m->links[i]);
	http_bpf__destroy(m->skel);
	if (m->slots_fd >= 0)
		close(m->slots_fd);
	if (m->vals_fd >= 0)
		close(m->vals_fd);
	if (m->stats_fd >= 0)
		close(m->stats_fd);
	free(m);
}

/* pinned_hooks()'s buffer as it fills */
struct hook_list {
	char *buf;
	size_t len, used;
};

static void list_hook(const char *dir, const char *pin, void *arg)
{
	struct hook_list *l = arg;
	int n;

	(void)dir;
	if (l->used >= l->len)
		return;
	n = snprintf(l->buf + l->used, l->len - l->used, "%s%s", l->used ? " " : "", pin + 5);
	if (n < 0 || (size_t)n >= l->len - l->used)
		l->used = l->len;       /* full: the rest is left out */
	else
		l->used += n;
}

/* The hooks whose links are pinned in dir, space-separated, into buf */
static void pinned_hooks(const char *dir, char *buf, size_t len)
{
	struct hook_list l = { .buf = buf, .len = len };

	buf[0] = '\0';
	for_each_link(dir, list_hook, &l);
}

int meter_http_status(const struct meter_conf *conf, FILE *out)
{
	char dir[512], hooks[256];
	long long held;
	time_t since;
	int err = http_dir(conf->pin_dir, dir, sizeof(dir));

	if (err)
		return err;
	pinned_hooks(dir, hooks, sizeof(hooks));
	if (!hooks[0]) {
		fprintf(out, "http: not attached (no programs pinned in %s)\n", dir);
		return 0;
	}
	fprintf(out, "http: attached (%s)\n", hooks);
	if (!http_drain_held(dir, &held))
		fprintf(out, "http: %lld connection(s) metered\n", held);
	if (http_drain_since(dir, &since) || http_drain_left(dir, &held))
		return 0;
	fprintf(out, "http: the previous build drains: %lld connection(s) left, for %lld s",
		held, (long long)(time(NULL) - since));
	if (conf->drain_max_ms > 0)
		fprintf(out, " (drain_max %lld s; end-drain ends it now)",
			(long long)(conf->drain_max_ms / 1000));
	fputc('\n', out);
	return 0;
}

int meter_http_end_drain(const char *pin_dir, long long *left)
{
	char dir[512];
	int err = http_dir(pin_dir, dir, sizeof(dir));

	return err ? err : http_drain_end(dir, left);
}

int meter_http_unpin(const char *pin_dir)
{
	char dir[512], path[1024];
	struct dirent *de;
	DIR *d;
	int err;

	err = http_dir(pin_dir, dir, sizeof(dir));
	if (err)
		return err;
	err = http_drain_remove(dir);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? err : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && !err)
		err = -errno;
	if (!err)
		log_info("HTTP meter: removed the pinned programs and counters in %s", dir);
	return err;
}
