/* The collector's receiving side: nng REP listeners (tcp, ipc, tls+tcp)
 * served by several nng contexts, and the decision for each message:
 * bounded decode + signature (report_open), enrolment, dedup and chain
 * checks against the store, one-transaction store, then the Ack.
 *
 *   same (agent, epoch, seq) stored, same digest     -> DUPLICATE
 *   ... with another digest                          -> REJECTED conflicting
 *   seq == last + 1 and prev_digest != last digest   -> REJECTED chain broken
 *   seq > last + 1 (or a new epoch not at 1)         -> OK, gap recorded
 *   seq 1 with a prev_digest                         -> REJECTED
 *   seq < last and never stored                      -> REJECTED stale
 *   store failure                                    -> RETRY (nothing acked
 *                                                       that is not committed)
 *
 * Ownership: receiver_new() borrows store and enrol (they must outlive the
 * receiver) and returns a receiver freed by receiver_free() (NULL ok),
 * which stops listening first.  Acks are malloc'd, owned by the caller. */
#ifndef TM_RECEIVER_H
#define TM_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "collector_conf.h"
#include "enrol.h"
#include "store.h"

enum receiver_reason {
	RECV_REJ_OVERSIZE,      /* larger than max_message */
	RECV_REJ_DECODE,        /* not an envelope / report */
	RECV_REJ_SIGNATURE,     /* signature does not verify */
	RECV_REJ_UNKNOWN_KEY,   /* agent not enrolled */
	RECV_REJ_BAD_SEQ,       /* seq 0, or a malformed prev_digest */
	RECV_REJ_FIRST_PREV,    /* seq 1 with a prev_digest */
	RECV_REJ_CONFLICT,      /* same seq stored with another digest */
	RECV_REJ_CHAIN,         /* prev_digest does not match */
	RECV_REJ_STALE,         /* seq behind the chain head, never stored */
	RECV_REJ_CONTENT,       /* rows or window the store cannot hold */
	RECV_REJ_COUNT
};

struct receiver_stats {
	uint64_t received;      /* messages handled */
	uint64_t stored;        /* OK */
	uint64_t duplicates;    /* DUPLICATE */
	uint64_t retries;       /* RETRY: the store failed */
	uint64_t gaps;          /* gaps recorded */
	uint64_t rows;          /* usage rows stored */
	uint64_t rejected[RECV_REJ_COUNT];
};

struct receiver;

/* max_message: messages above it are rejected (the transport limit,
 * NNG_OPT_RECVMAXSZ, is set a little above so they can be answered). */
int receiver_new(struct store *store, struct enrol *enrol, size_t max_message,
		 struct receiver **out);
void receiver_free(struct receiver *r);

/* Handles one message and returns the Ack to send (always one). */
int receiver_process(struct receiver *r, const uint8_t *buf, size_t len,
		     uint8_t **ack, size_t *acklen);

/* Opens the REP socket, starts every listener in conf and the workers. */
int receiver_listen(struct receiver *r, const struct collector_conf *conf);

void receiver_stats_get(struct receiver *r, struct receiver_stats *st);
/* "oversize", "decode", ... for logs and /metrics labels. */
const char *receiver_reason_name(enum receiver_reason why);

#endif
