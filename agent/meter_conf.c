#include "meter_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

uint64_t meter_key_hash(const char *key, size_t len)
{
	uint64_t h = FNV64_OFFSET;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)key[i];
		h *= FNV64_PRIME;
	}
	return h;
}

void meter_conf_defaults(struct meter_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->pin_dir, sizeof(c->pin_dir), "/sys/fs/bpf/truemeter");
	c->max_entries = 16384;
	c->max_connections = 65536;
	c->drain_max_ms = 24LL * 3600 * 1000;
}

static int copy_name(char *dst, size_t size, const char *src, const char *what,
		     char *err, size_t errlen)
{
	if (!*src || strlen(src) >= size) {
		snprintf(err, errlen, "%s must be 1..%zu characters", what, size - 1);
		return -EINVAL;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int parse_ports(void *obj, const char *section, const char *name,
		       const char *value, char *err, size_t errlen)
{
	struct meter_conf *c = obj;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", value);
	for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		int64_t port;

		if (conf_parse_int(tok, &port) || port < 1 || port > 65535) {
			snprintf(err, errlen, "port '%s' is not 1..65535", tok);
			return -EINVAL;
		}
		if (c->n_ports == METER_CONF_MAX_PORTS) {
			snprintf(err, errlen, "more than %d ports", METER_CONF_MAX_PORTS);
			return -E2BIG;
		}
		c->ports[c->n_ports++] = (uint16_t)port;
	}
	return 0;
}

static int parse_route(void *obj, const char *section, const char *name,
		       const char *value, char *err, size_t errlen)
{
	struct meter_conf *c = obj;

	if (value[0] != '/') {
		snprintf(err, errlen, "route pattern '%s' must start with '/'", value);
		return -EINVAL;
	}
	if (c->n_routes == METER_CONF_MAX_ROUTES) {
		snprintf(err, errlen, "more than %d routes", METER_CONF_MAX_ROUTES);
		return -E2BIG;
	}
	return copy_name(c->routes[c->n_routes++].pattern, METER_CONF_NAME_LEN,
			 value, "route pattern", err, errlen);
}

static int parse_key_hash(void *obj, const char *section, const char *name,
			  const char *value, char *err, size_t errlen)
{
	struct meter_conf *c = obj;
	struct meter_conf_key *k;
	char *end;

	if (c->n_keys == METER_CONF_MAX_KEYS) {
		snprintf(err, errlen, "more than %d API keys", METER_CONF_MAX_KEYS);
		return -E2BIG;
	}
	k = &c->keys[c->n_keys];
	errno = 0;
	k->hash = strtoull(value, &end, 16);
	if (errno || *end || strlen(value) != 16) {
		snprintf(err, errlen, "API key hash '%s' must be 16 hex digits "
			 "(truemeter-agent hashkey KEY)", value);
		return -EINVAL;
	}
	if (copy_name(k->tenant, sizeof(k->tenant), conf_section_arg(section),
		      "tenant name in [api_key NAME]", err, errlen))
		return -EINVAL;
	c->n_keys++;
	return 0;
}

static int parse_cgroup(void *obj, const char *section, const char *name,
			const char *value, char *err, size_t errlen)
{
	struct meter_conf *c = obj;
	struct meter_conf_cgroup *g;

	if (c->n_cgroups == METER_CONF_MAX_CGROUPS) {
		snprintf(err, errlen, "more than %d cgroups", METER_CONF_MAX_CGROUPS);
		return -E2BIG;
	}
	g = &c->cgroups[c->n_cgroups];
	if (copy_name(g->tenant, sizeof(g->tenant), conf_section_arg(section),
		      "tenant name in [tenant NAME]", err, errlen) ||
	    copy_name(g->path, sizeof(g->path), value, "cgroup path", err, errlen))
		return -EINVAL;
	c->n_cgroups++;
	return 0;
}

static int parse_cidr(void *obj, const char *section, const char *name,
		      const char *value, char *err, size_t errlen)
{
	struct meter_conf *c = obj;
	struct meter_conf_cidr *r;
	char addr[64], *slash, *end;
	long plen;

	if (c->n_cidrs == METER_CONF_MAX_CIDRS) {
		snprintf(err, errlen, "more than %d CIDRs", METER_CONF_MAX_CIDRS);
		return -E2BIG;
	}
	r = &c->cidrs[c->n_cidrs];
	snprintf(addr, sizeof(addr), "%s", value);
	slash = strchr(addr, '/');
	if (!slash) {
		snprintf(err, errlen, "CIDR '%s' needs a /prefix", value);
		return -EINVAL;
	}
	*slash = '\0';
	plen = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, r->addr) == 1) {
		r->family = 4;
	} else if (inet_pton(AF_INET6, addr, r->addr) == 1) {
		r->family = 6;
	} else {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	if (*end || slash[1] == '\0' || plen < 0 || plen > (r->family == 4 ? 32 : 128)) {
		snprintf(err, errlen, "bad prefix length in CIDR '%s'", value);
		return -EINVAL;
	}
	r->prefix_len = (uint8_t)plen;
	if (copy_name(r->tenant, sizeof(r->tenant), conf_section_arg(section),
		      "tenant name in [tenant NAME]", err, errlen))
		return -EINVAL;
	c->n_cidrs++;
	return 0;
}

static int parse_hooks(void *obj, const char *section, const char *name,
		       const char *value, char *err, size_t errlen)
{
	struct meter_conf *c = obj;

	if (!strcmp(value, "auto"))
		c->http_hooks = METER_HTTP_HOOKS_AUTO;
	else if (!strcmp(value, "socket"))
		c->http_hooks = METER_HTTP_HOOKS_SOCKET;
	else if (!strcmp(value, "syscall"))
		c->http_hooks = METER_HTTP_HOOKS_SYSCALL;
	else {
		snprintf(err, errlen, "hooks must be auto, socket or syscall, not '%s'", value);
		return -EINVAL;
	}
	return 0;
}

static const struct conf_key meter_keys[] = {
	{ "meter", "pin_dir", CONF_STRING, offsetof(struct meter_conf, pin_dir), METER_CONF_PATH_LEN },
	{ "meter", "cgroup_root", CONF_STRING, offsetof(struct meter_conf, cgroup_root), METER_CONF_PATH_LEN },
	{ "meter", "max_entries", CONF_INT, offsetof(struct meter_conf, max_entries), 0, 64, 1 << 22 },
	{ "meter", "max_connections", CONF_INT, offsetof(struct meter_conf, max_connections), 0, 64, 1 << 22 },
	{ "http", "ports", CONF_CUSTOM, 0, 0, 0, 0, parse_ports },
	{ "http", "hooks", CONF_CUSTOM, 0, 0, 0, 0, parse_hooks },
	{ "http", "tenant_header", CONF_STRING, offsetof(struct meter_conf, tenant_header), METER_CONF_NAME_LEN },
	{ "http", "api_key_header", CONF_STRING, offsetof(struct meter_conf, api_key_header), METER_CONF_NAME_LEN },
	{ "http", "route", CONF_CUSTOM, 0, 0, 0, 0, parse_route },
	{ "http", "drain_max", CONF_DURATION, offsetof(struct meter_conf, drain_max_ms), 0, 0, 366LL * 86400 * 1000 },
	{ "api_key *", "hash", CONF_CUSTOM, 0, 0, 0, 0, parse_key_hash },
	{ "tenant *", "cgroup", CONF_CUSTOM, 0, 0, 0, 0, parse_cgroup },
	{ "tenant *", "cidr", CONF_CUSTOM, 0, 0, 0, 0, parse_cidr },
	{ NULL },
};

const struct conf_key *meter_conf_keys(void)
{
	return meter_keys;
}

int meter_conf_check(const struct meter_conf *c, char *err, size_t errlen)
{
	if (c->n_ports && !c->tenant_header[0] && !c->api_key_header[0]) {
		snprintf(err, errlen, "[http] ports are set but neither tenant_header "
			 "nor api_key_header is");
		return -EINVAL;
	}
	if (c->n_keys && !c->api_key_header[0]) {
		snprintf(err, errlen, "[api_key ...] sections need [http] api_key_header");
		return -EINVAL;
	}
	if (!c->n_ports && !c->n_cgroups && !c->n_cidrs) {
		snprintf(err, errlen, "nothing to meter: set [http] ports, or a "
			 "[tenant NAME] with cgroup or cidr");
		return -EINVAL;
	}
	return 0;
}
