/* The collector's own settings: the [collector] section.  Other modules
 * (the judge: [http], [stripe], [razorpay], [pricing], [alerts],
 * [reconcile]) bring their own conf tables; collector_main.c lists them
 * all for one conf_load().  Plain data, no ownership. */
#ifndef TM_COLLECTOR_CONF_H
#define TM_COLLECTOR_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "report.h"

#define COLLECTOR_MAX_LISTEN 16
#define COLLECTOR_MAX_ENROLL 1024
#define COLLECTOR_PATH_LEN 256

struct collector_conf {
	char listen[COLLECTOR_MAX_LISTEN][COLLECTOR_PATH_LEN];  /* repeatable */
	size_t n_listen;
	char database[COLLECTOR_PATH_LEN];
	int64_t max_message;                  /* largest report accepted */
	char enrolled_keys[COLLECTOR_PATH_LEN];  /* directory of *.pub, "" = none */
	uint8_t enroll[COLLECTOR_MAX_ENROLL][REPORT_PK_LEN];  /* enroll = HEX */
	size_t n_enroll;
	char tls_cert[COLLECTOR_PATH_LEN];    /* for tls+tcp:// listeners */
	char tls_key[COLLECTOR_PATH_LEN];
	int64_t workers;                      /* concurrent report handlers */
	int ipc_mode;                         /* ipc:// sockets' permission bits */
	int64_t retention_days;               /* windows' rows kept; 0 = all */
	char retention_archive[COLLECTOR_PATH_LEN];  /* months bundled first */
};

void collector_conf_defaults(struct collector_conf *c);
/* Keys with offsets into struct collector_conf, for a struct conf_table. */
const struct conf_key *collector_conf_keys(void);
/* Cross-field checks after loading; "path: message" in err. */
int collector_conf_check(const struct collector_conf *c, const char *path,
			 char *err, size_t errlen);

#endif
