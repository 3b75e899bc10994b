#include "collector_conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "retention.h"

#define C(f) offsetof(struct collector_conf, f)

static bool url_ok(const char *url)
{
	return !strncmp(url, "tcp://", 6) || !strncmp(url, "ipc://", 6) ||
	       !strncmp(url, "tls+tcp://", 10);
}

static int parse_listen(void *obj, const char *section, const char *name,
			const char *value, char *err, size_t errlen)
{
	struct collector_conf *c = obj;

	if (!url_ok(value)) {
		snprintf(err, errlen, "listen URL '%s' must start with tcp://, ipc:// "
			 "or tls+tcp://", value);
		return -EINVAL;
	}
	if (c->n_listen == COLLECTOR_MAX_LISTEN) {
		snprintf(err, errlen, "more than %d listen URLs", COLLECTOR_MAX_LISTEN);
		return -E2BIG;
	}
	if (strlen(value) >= COLLECTOR_PATH_LEN) {
		snprintf(err, errlen, "listen URL longer than %d bytes", COLLECTOR_PATH_LEN - 1);
		return -EINVAL;
	}
	snprintf(c->listen[c->n_listen++], COLLECTOR_PATH_LEN, "%s", value);
	return 0;
}

static int parse_enroll(void *obj, const char *section, const char *name,
			const char *value, char *err, size_t errlen)
{
	struct collector_conf *c = obj;

	if (c->n_enroll == COLLECTOR_MAX_ENROLL) {
		snprintf(err, errlen, "more than %d enroll keys", COLLECTOR_MAX_ENROLL);
		return -E2BIG;
	}
	if (report_pubkey_parse(value, c->enroll[c->n_enroll])) {
		snprintf(err, errlen, "enroll key '%s' is not %d hex digits (an "
			 "agent's public key file holds one)", value, REPORT_PK_HEX_LEN);
		return -EINVAL;
	}
	c->n_enroll++;
	return 0;
}

/* Octal permission bits, as chmod takes them: "0666", "660" */
static int parse_ipc_mode(void *obj, const char *section, const char *name,
			  const char *value, char *err, size_t errlen)
{
	struct collector_conf *c = obj;
	size_t len = strlen(value);
	int mode = 0;

	for (size_t i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '7' || i >= 4) {
			mode = -1;
			break;
		}
		mode = mode * 8 + (value[i] - '0');
	}
	if (!len || mode < 0 || mode > 0777) {
		snprintf(err, errlen, "ipc_mode '%s' is not octal permission bits "
			 "such as 0666 or 0660", value);
		return -EINVAL;
	}
	c->ipc_mode = mode;
	return 0;
}

static const struct conf_key collector_keys[] = {
	{ "collector", "listen", CONF_CUSTOM, 0, 0, 0, 0, parse_listen },
	{ "collector", "database", CONF_STRING, C(database), COLLECTOR_PATH_LEN },
	{ "collector", "max_message", CONF_SIZE, C(max_message), 0, 1024, 1 << 30 },
	{ "collector", "enrolled_keys", CONF_STRING, C(enrolled_keys), COLLECTOR_PATH_LEN },
	{ "collector", "enroll", CONF_CUSTOM, 0, 0, 0, 0, parse_enroll },
	{ "collector", "tls_cert", CONF_STRING, C(tls_cert), COLLECTOR_PATH_LEN },
	{ "collector", "tls_key", CONF_STRING, C(tls_key), COLLECTOR_PATH_LEN },
	{ "collector", "workers", CONF_INT, C(workers), 0, 1, 256 },
	{ "collector", "ipc_mode", CONF_CUSTOM, 0, 0, 0, 0, parse_ipc_mode },
	{ "collector", "retention_days", CONF_INT, C(retention_days), 0, 0, 100000 },
	{ "collector", "retention_archive", CONF_STRING, C(retention_archive), COLLECTOR_PATH_LEN },
	{ NULL },
};

void collector_conf_defaults(struct collector_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->database, sizeof(c->database), "/var/lib/truemeter/truemeter.db");
	c->max_message = 4 << 20;
	c->workers = 4;
	/* Every report is checked against an enrolled key, so a socket any
	 * local user may connect to exposes what a TCP port on 127.0.0.1
	 * does; a root agent, whose capabilities are dropped, cannot pass
	 * the permissions of a socket owned by the collector's user. */
	c->ipc_mode = 0666;
}

const struct conf_key *collector_conf_keys(void)
{
	return collector_keys;
}

int collector_conf_check(const struct collector_conf *c, const char *path,
			 char *err, size_t errlen)
{
	bool tls = false;

	for (size_t i = 0; i < c->n_listen; i++)
		tls |= strncmp(c->listen[i], "tls+tcp://", 10) == 0;
	if (!c->n_listen) {
		snprintf(err, errlen, "%s: [collector] needs at least one listen URL", path);
		return -EINVAL;
	}
	if (tls && (!c->tls_cert[0] || !c->tls_key[0])) {
		snprintf(err, errlen, "%s: [collector] a tls+tcp:// listener needs "
			 "tls_cert and tls_key", path);
		return -EINVAL;
	}
	if (c->retention_days && c->retention_days < RETENTION_MIN_DAYS) {
		snprintf(err, errlen, "%s: [collector] retention_days = %lld is under %d: "
			 "the collector reconciles the previous calendar month too, and "
			 "keeps its windows (0 keeps everything)", path,
			 (long long)c->retention_days, RETENTION_MIN_DAYS);
		return -EINVAL;
	}
	if (c->retention_archive[0] && !c->retention_days) {
		snprintf(err, errlen, "%s: [collector] retention_archive is set but "
			 "retention_days is not: nothing would be pruned", path);
		return -EINVAL;
	}
	if (!c->enrolled_keys[0] && !c->n_enroll) {
		snprintf(err, errlen, "%s: [collector] no agent is enrolled: set "
			 "enrolled_keys = DIR or enroll = HEX", path);
		return -EINVAL;
	}
	return 0;
}
