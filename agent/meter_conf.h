/* Meter settings: which hooks count what for which tenant.  Parsed from the
 * agent config ([meter], [http], [route], [api_key NAME], [tenant NAME]
 * sections, see README "Agent configuration").  Plain data, no ownership. */
#ifndef TM_METER_CONF_H
#define TM_METER_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define METER_CONF_MAX_PORTS 16
#define METER_CONF_MAX_ROUTES 32
#define METER_CONF_MAX_KEYS 256
#define METER_CONF_MAX_CGROUPS 64
#define METER_CONF_MAX_CIDRS 256
#define METER_CONF_NAME_LEN 64
#define METER_CONF_PATH_LEN 256

struct meter_conf_route {
	char pattern[METER_CONF_NAME_LEN];      /* route pattern, see README */
};

struct meter_conf_key {
	uint64_t hash;                          /* meter_key_hash() of the key */
	char tenant[METER_CONF_NAME_LEN];
};

struct meter_conf_cgroup {
	char tenant[METER_CONF_NAME_LEN];
	char path[METER_CONF_PATH_LEN];         /* cgroup v2 directory */
};

struct meter_conf_cidr {
	char tenant[METER_CONF_NAME_LEN];
	uint8_t family;                         /* 4 or 6 */
	uint8_t prefix_len;
	uint8_t addr[16];
};

enum meter_http_hooks {
	METER_HTTP_HOOKS_AUTO,          /* socket where the kernel has them */
	METER_HTTP_HOOKS_SOCKET,        /* sock_{send,recv}_length tracepoints */
	METER_HTTP_HOOKS_SYSCALL,       /* raw sys_exit */
};

struct meter_conf {
	/* [meter] */
	char pin_dir[METER_CONF_PATH_LEN];      /* bpffs dir for pinned maps */
	char cgroup_root[METER_CONF_PATH_LEN];  /* cgroup v2 mount */
	int64_t max_entries;                    /* capacity of counter maps */
	int64_t max_connections;                /* capacity of HTTP conn state */
	/* [http] */
	enum meter_http_hooks http_hooks;       /* hooks = auto|socket|syscall */
	uint16_t ports[METER_CONF_MAX_PORTS];
	size_t n_ports;
	char tenant_header[METER_CONF_NAME_LEN];  /* "" = not used */
	char api_key_header[METER_CONF_NAME_LEN]; /* "" = not used */
	int64_t drain_max_ms;                   /* longest drain after an
						 * upgrade; 0 = until done */
	struct meter_conf_route routes[METER_CONF_MAX_ROUTES];
	size_t n_routes;
	/* [api_key TENANT] hash = ... (repeatable) */
	struct meter_conf_key keys[METER_CONF_MAX_KEYS];
	size_t n_keys;
	/* [tenant NAME] cgroup = ..., cidr = ... (repeatable) */
	struct meter_conf_cgroup cgroups[METER_CONF_MAX_CGROUPS];
	size_t n_cgroups;
	struct meter_conf_cidr cidrs[METER_CONF_MAX_CIDRS];
	size_t n_cidrs;
};

void meter_conf_defaults(struct meter_conf *c);
/* Keys with offsets into struct meter_conf, for a struct conf_table. */
const struct conf_key *meter_conf_keys(void);
/* Cross-field checks after loading; message in err. */
int meter_conf_check(const struct meter_conf *c, char *err, size_t errlen);

/* The API key hash the kernel computes over a header value: salted 64-bit
 * FNV-1a.  Config files hold only these hashes, never keys. */
uint64_t meter_key_hash(const char *key, size_t len);

#endif
