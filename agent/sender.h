/* The sender thread: sends spooled reports oldest first over nng REQ, waits
 * for the collector's Ack, and only then removes the spool file (OK or
 * DUPLICATE).  REJECTED moves the file to spool/rejected/ with a loud log;
 * a timeout, a transport error or RETRY backs off exponentially with jitter
 * up to retry_max and sends the same report again.
 *
 * Ownership: sender_start() borrows conf and spool (both must outlive the
 * sender) and returns a sender that sender_stop() joins and frees. */
#ifndef TM_SENDER_H
#define TM_SENDER_H

#include <stdint.h>
#include <nng/nng.h>
#include <stdatomic.h>

#include "agent_conf.h"
#include "spool.h"

struct sender;

struct sender_stats {
	uint64_t sent;          /* send attempts */
	uint64_t acked;         /* OK */
	uint64_t duplicate;     /* DUPLICATE */
	uint64_t rejected;      /* REJECTED */
	uint64_t failed;        /* timeouts, transport errors, RETRY */
};

int sender_start(const struct agent_conf *conf, struct spool *spool,
		 struct sender **out);
void sender_stop(struct sender *s);
void sender_stats_get(struct sender *s, struct sender_stats *st);

/* Opens an nng REQ socket dialing conf's collector URL (non-blocking, so
 * it keeps reconnecting), with RECVMAXSZ, timeouts and TLS set; keeps
 * *connected (if not NULL, outliving the socket) true while a connection
 * is up.  Shared with test tools.  0 or a negative errno, logged. */
int sender_dial(const struct agent_conf *conf, atomic_bool *connected, nng_socket *sock);

#endif
