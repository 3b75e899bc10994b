#include "agent_conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

#define A(f) offsetof(struct agent_conf, f)

static const struct conf_key agent_keys[] = {
	{ "agent", "key", CONF_STRING, A(key), AGENT_CONF_PATH_LEN },
	{ "agent", "state_dir", CONF_STRING, A(state_dir), AGENT_CONF_PATH_LEN },
	{ "agent", "interval", CONF_DURATION, A(interval_ms), 0, 10, 86400000 },
	{ "agent", "hostname", CONF_STRING, A(hostname), 128 },
	{ "collector", "url", CONF_STRING, A(url), AGENT_CONF_PATH_LEN },
	{ "collector", "tls_ca", CONF_STRING, A(tls_ca), AGENT_CONF_PATH_LEN },
	{ "collector", "tls_cert", CONF_STRING, A(tls_cert), AGENT_CONF_PATH_LEN },
	{ "collector", "tls_key", CONF_STRING, A(tls_key), AGENT_CONF_PATH_LEN },
	{ "collector", "tls_server_name", CONF_STRING, A(tls_server_name), 128 },
	{ "collector", "timeout", CONF_DURATION, A(timeout_ms), 0, 10, 3600000 },
	{ "collector", "max_message", CONF_SIZE, A(max_message), 0, 1024, 1 << 30 },
	{ "collector", "max_report", CONF_SIZE, A(max_report), 0, 1024, 1 << 30 },
	{ "collector", "retry_min", CONF_DURATION, A(retry_min_ms), 0, 1, 3600000 },
	{ "collector", "retry_max", CONF_DURATION, A(retry_max_ms), 0, 1, 3600000 },
	{ "spool", "max_bytes", CONF_SIZE, A(spool_max_bytes), 0, 4096, INT64_MAX },
	{ "spool", "max_reports", CONF_INT, A(spool_max_reports), 0, 1, 100000000 },
	{ NULL },
};

void agent_conf_defaults(struct agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/truemeter-agent");
	c->interval_ms = 10000;
	c->timeout_ms = 5000;
	c->max_message = 65536;
	c->max_report = 1 << 20;
	c->retry_min_ms = 100;
	c->retry_max_ms = 30000;
	c->spool_max_bytes = 256LL << 20;
	c->spool_max_reports = 100000;
	meter_conf_defaults(&c->meter);
}

static int check(const struct agent_conf *c, const char *path, char *err, size_t errlen)
{
	char msg[256];

	if (!c->key[0]) {
		snprintf(err, errlen, "%s: [agent] key is required "
			 "(truemeter-agent keygen PRIV PUB makes one)", path);
		return -EINVAL;
	}
	if (!c->url[0]) {
		snprintf(err, errlen, "%s: [collector] url is required", path);
		return -EINVAL;
	}
	if (strncmp(c->url, "tcp://", 6) && strncmp(c->url, "ipc://", 6) &&
	    strncmp(c->url, "tls+tcp://", 10)) {
		snprintf(err, errlen, "%s: [collector] url '%s' must start with "
			 "tcp://, ipc:// or tls+tcp://", path, c->url);
		return -EINVAL;
	}
	if (strncmp(c->url, "tls+tcp://", 10) == 0 && !c->tls_ca[0]) {
		snprintf(err, errlen, "%s: [collector] tls+tcp:// needs tls_ca", path);
		return -EINVAL;
	}
	if (!!c->tls_cert[0] != !!c->tls_key[0]) {
		snprintf(err, errlen, "%s: [collector] tls_cert and tls_key go together", path);
		return -EINVAL;
	}
	if (c->retry_min_ms > c->retry_max_ms) {
		snprintf(err, errlen, "%s: [collector] retry_min is above retry_max", path);
		return -EINVAL;
	}
	if (c->spool_max_bytes < c->max_report) {
		snprintf(err, errlen, "%s: [collector] max_report is above [spool] "
			 "max_bytes: such a report could never be spooled", path);
		return -EINVAL;
	}
	if (meter_conf_check(&c->meter, msg, sizeof(msg))) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return -EINVAL;
	}
	return 0;
}

int agent_conf_load(const char *path, struct agent_conf *c, char *err, size_t errlen)
{
	struct conf_table tables[] = {
		{ agent_keys, c },
		{ meter_conf_keys(), &c->meter },
		{ NULL, NULL },
	};
	int rc;

	rc = conf_load(path, tables, err, errlen);
	if (rc)
		return rc;
	return check(c, path, err, errlen);
}
