/* The agent's configuration: [agent], [collector] and [spool] sections plus
 * the meter's own sections (agent/meter_conf.h), all in one INI file.
 * Plain data, no ownership: every string lives inside the struct. */
#ifndef TM_AGENT_CONF_H
#define TM_AGENT_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "meter_conf.h"

#define AGENT_CONF_PATH_LEN 256

struct agent_conf {
	/* [agent] */
	char key[AGENT_CONF_PATH_LEN];          /* private key file */
	char state_dir[AGENT_CONF_PATH_LEN];    /* spool/ and state live here */
	int64_t interval_ms;                    /* report window length */
	char hostname[128];                     /* "" = gethostname() */
	/* [collector] */
	char url[AGENT_CONF_PATH_LEN];          /* tcp://, ipc://, tls+tcp:// */
	char tls_ca[AGENT_CONF_PATH_LEN];
	char tls_cert[AGENT_CONF_PATH_LEN];
	char tls_key[AGENT_CONF_PATH_LEN];
	char tls_server_name[128];
	int64_t timeout_ms;                     /* wait for an ack this long */
	int64_t max_message;                    /* NNG_OPT_RECVMAXSZ for acks */
	int64_t max_report;                     /* largest sealed report sent */
	int64_t retry_min_ms;                   /* first backoff step */
	int64_t retry_max_ms;                   /* backoff cap */
	/* [spool] */
	int64_t spool_max_bytes;
	int64_t spool_max_reports;
	/* the meter's sections */
	struct meter_conf meter;
};

void agent_conf_defaults(struct agent_conf *c);
/* Loads path over the defaults and runs the cross-field checks.  0, or a
 * negative errno with "file:line: message" (or "file: message") in err. */
int agent_conf_load(const char *path, struct agent_conf *c, char *err, size_t errlen);

#endif
