#include "receiver.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"

struct worker {
	struct receiver *r;
	nng_aio *aio;
	nng_ctx ctx;
	enum { W_RECV, W_SEND } state;
};

struct receiver {
	struct store *store;
	struct enrol *enrol;
	size_t max_message;
	pthread_mutex_t lock;          /* the store and the stats */
	struct receiver_stats stats;
	nng_socket sock;
	bool open;
	struct worker *workers;
	size_t n_workers;
};

static const char *const reason_names[RECV_REJ_COUNT] = {
	[RECV_REJ_OVERSIZE] = "oversize",
	[RECV_REJ_DECODE] = "decode",
	[RECV_REJ_SIGNATURE] = "signature",
	[RECV_REJ_UNKNOWN_KEY] = "unknown_key",
	[RECV_REJ_BAD_SEQ] = "bad_seq",
	[RECV_REJ_FIRST_PREV] = "first_prev",
	[RECV_REJ_CONFLICT] = "conflict",
	[RECV_REJ_CHAIN] = "chain_broken",
	[RECV_REJ_STALE] = "stale",
	[RECV_REJ_CONTENT] = "content",
};

const char *receiver_reason_name(enum receiver_reason why)
{
	return why < RECV_REJ_COUNT ? reason_names[why] : "?";
}

int receiver_new(struct store *store, struct enrol *enrol, size_t max_message,
		 struct receiver **out)
{
	struct receiver *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->store = store;
	r->enrol = enrol;
	r->max_message = max_message;
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void receiver_stats_get(struct receiver *r, struct receiver_stats *st)
{
	pthread_mutex_lock(&r->lock);
	*st = r->stats;
	pthread_mutex_unlock(&r->lock);
}

/* What a message turned into. */
struct verdict {
	uint64_t epoch, seq;
	Truemeter__Ack__Status status;
	char error[256];
};

/* One log line per rejection naming agent, epoch, seq and reason; counted. */
static void reject(struct receiver *r, struct verdict *v, const uint8_t *agent,
		   enum receiver_reason why, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void reject(struct receiver *r, struct verdict *v, const uint8_t *agent,
		   enum receiver_reason why, const char *fmt, ...)
{
	char hex[REPORT_PK_HEX_LEN + 1] = "unknown";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->error, sizeof(v->error), fmt, ap);
	va_end(ap);
	if (agent)
		report_hex(agent, REPORT_PK_LEN, hex);
	hex[16] = '\0';
	v->status = TRUEMETER__ACK__STATUS__REJECTED;
	pthread_mutex_lock(&r->lock);
	r->stats.rejected[why]++;
	pthread_mutex_unlock(&r->lock);
	log_warn("rejected report: agent %s epoch %016" PRIx64 " seq %" PRIu64
		 ": %s: %s", hex, v->epoch, v->seq, reason_names[why], v->error);
}

/* Chain and dedup decision plus the store, under the receiver lock so two
 * contexts never race on one chain. */
static void decide_and_store(struct receiver *r, const Truemeter__Report *rep,
			     const uint8_t digest[REPORT_DIGEST_LEN],
			     const uint8_t *env, size_t env_len, struct verdict *v)
{
	const uint8_t *agent = rep->agent_id.data;
	uint8_t old[REPORT_DIGEST_LEN];
	struct store_chain chain = { 0 };
	uint64_t gap_from = 1, gap_to = 0;
	char reason[128] = "", hex[REPORT_PK_HEX_LEN + 1];
	int rc;

	report_hex(agent, REPORT_PK_LEN, hex);
	hex[16] = '\0';
	pthread_mutex_lock(&r->lock);
	rc = store_report_digest(r->store, agent, rep->epoch, rep->seq, old);
	if (rc < 0)
		goto store_failed;
	if (rc == 1) {
		pthread_mutex_unlock(&r->lock);
		if (memcmp(old, digest, REPORT_DIGEST_LEN) != 0) {
			reject(r, v, agent, RECV_REJ_CONFLICT, "conflicting report: "
			       "this seq is stored with another digest");
			return;
		}
		v->status = TRUEMETER__ACK__STATUS__DUPLICATE;
		pthread_mutex_lock(&r->lock);
		r->stats.duplicates++;
		pthread_mutex_unlock(&r->lock);
		log_info("duplicate report: agent %s epoch %016" PRIx64 " seq %" PRIu64
			 " already stored (resend or replay); nothing stored", hex,
			 v->epoch, v->seq);
		return;
	}
	rc = store_chain_get(r->store, agent, rep->epoch, &chain);
	if (rc < 0)
		goto store_failed;
	if (chain.found && rep->seq == chain.last_seq + 1) {
		if (memcmp(rep->prev_digest.data, chain.last_digest, REPORT_DIGEST_LEN)) {
			pthread_mutex_unlock(&r->lock);
			reject(r, v, agent, RECV_REJ_CHAIN, "chain broken: prev_digest "
			       "does not match stored seq %" PRIu64, chain.last_seq);
			return;
		}
	} else if (chain.found && rep->seq <= chain.last_seq) {
		pthread_mutex_unlock(&r->lock);
		reject(r, v, agent, RECV_REJ_STALE, "seq is behind the stored chain "
		       "head %" PRIu64 " and is not stored (it never arrived, or its "
		       "window was pruned)", chain.last_seq);
		return;
	} else if (rep->seq > chain.last_seq + 1) {
		gap_from = chain.last_seq + 1;
		gap_to = rep->seq - 1;
		if (rep->health && rep->health->spool_drops)
			snprintf(reason, sizeof(reason), "reports missing; agent declares "
				 "%" PRIu64 " spool drops", rep->health->spool_drops);
		else
			snprintf(reason, sizeof(reason), "reports missing (unexplained)");
	}
	rc = store_report_put_signed(r->store, rep, digest, env, env_len,
				     gap_from, gap_to, reason);
	if (rc < 0)
		goto store_failed;
	if (rc == STORE_PUT_DUPLICATE) {
		v->status = TRUEMETER__ACK__STATUS__DUPLICATE;
		r->stats.duplicates++;
	} else {
		v->status = TRUEMETER__ACK__STATUS__OK;
		r->stats.stored++;
		r->stats.rows += rep->n_rows;
		if (gap_from <= gap_to) {
			r->stats.gaps++;
			log_warn("gap: agent %s epoch %016" PRIx64 " seqs %" PRIu64
				 "..%" PRIu64 " never arrived: %s", hex, rep->epoch,
				 gap_from, gap_to, reason);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return;
store_failed:
	r->stats.retries++;
	pthread_mutex_unlock(&r->lock);
	v->status = TRUEMETER__ACK__STATUS__RETRY;
	snprintf(v->error, sizeof(v->error), "store failure: %s", strerror(-rc));
	log_warn("store failed for agent %s epoch %016" PRIx64 " seq %" PRIu64
		 ": %s; asked the agent to retry", hex, v->epoch, v->seq, strerror(-rc));
}

/* What the store refuses, refused here as such: asked to retry instead,
 * an agent would resend it forever, its later reports queued behind it.
 * Every row names a non-empty tenant and strings the report has, and fits
 * SQLite's signed integers; the window does not end before it starts. */
static int content_check(const Truemeter__Report *rep, char *why, size_t len)
{
	if (rep->window_end_ms < rep->window_start_ms) {
		snprintf(why, len, "window ends (%" PRId64 ") before it starts (%" PRId64 ")",
			 rep->window_end_ms, rep->window_start_ms);
		return -EINVAL;
	}
	for (size_t i = 0; i < rep->n_rows; i++) {
		const Truemeter__UsageRow *u = rep->rows[i];
		const char *tenant = report_string(rep, u->tenant);

		if (!tenant || !*tenant || !report_string(rep, u->route) ||
		    !report_string(rep, u->method)) {
			snprintf(why, len, "row %zu names a string the report does not "
				 "have (or an empty tenant)", i);
			return -EINVAL;
		}
		if (u->value > (uint64_t)INT64_MAX) {
			snprintf(why, len, "row %zu: value %" PRIu64 " is out of range", i,
				 u->value);
			return -EINVAL;
		}
	}
	return 0;
}

/* Everything that needs no store: size, decode, signature, enrolment, seq
 * and prev_digest shape, content.  Returns the report (to store) or NULL. */
static Truemeter__Report *check_message(struct receiver *r, const uint8_t *buf,
					size_t len, uint8_t digest[REPORT_DIGEST_LEN],
					struct verdict *v)
{
	Truemeter__Report *rep = NULL;
	const uint8_t *agent;
	char why[256];

	if (len > r->max_message) {
		reject(r, v, NULL, RECV_REJ_OVERSIZE, "message of %zu bytes exceeds "
		       "max_message %zu", len, r->max_message);
		return NULL;
	}
	if (report_open(buf, len, &rep, digest, why, sizeof(why))) {
		reject(r, v, NULL, strstr(why, "bad signature") ? RECV_REJ_SIGNATURE :
		       RECV_REJ_DECODE, "%s", why);
		return NULL;
	}
	agent = rep->agent_id.data;
	v->epoch = rep->epoch;
	v->seq = rep->seq;
	if (!enrol_check(r->enrol, agent)) {
		reject(r, v, agent, RECV_REJ_UNKNOWN_KEY, "agent key is not enrolled");
		goto fail;
	}
	if (rep->seq == 0) {
		reject(r, v, agent, RECV_REJ_BAD_SEQ, "seq 0 is not valid (seqs start at 1)");
		goto fail;
	}
	if (rep->seq == 1 && rep->prev_digest.len) {
		reject(r, v, agent, RECV_REJ_FIRST_PREV, "seq 1 must have an empty "
		       "prev_digest");
		goto fail;
	}
	if (rep->seq > 1 && rep->prev_digest.len != REPORT_DIGEST_LEN) {
		reject(r, v, agent, RECV_REJ_BAD_SEQ, "prev_digest is %zu bytes, "
		       "expected %d", rep->prev_digest.len, REPORT_DIGEST_LEN);
		goto fail;
	}
	if (content_check(rep, why, sizeof(why))) {
		reject(r, v, agent, RECV_REJ_CONTENT, "%s", why);
		goto fail;
	}
	return rep;
fail:
	report_free(rep);
	return NULL;
}

int receiver_process(struct receiver *r, const uint8_t *buf, size_t len,
		     uint8_t **ack, size_t *acklen)
{
	struct verdict v = { .status = TRUEMETER__ACK__STATUS__REJECTED };
	uint8_t digest[REPORT_DIGEST_LEN];
	Truemeter__Report *rep;

	pthread_mutex_lock(&r->lock);
	r->stats.received++;
	pthread_mutex_unlock(&r->lock);
	rep = check_message(r, buf, len, digest, &v);
	if (rep) {
		decide_and_store(r, rep, digest, buf, len, &v);
		report_free(rep);
	}
	return report_ack_pack(v.epoch, v.seq, v.status, v.error, ack, acklen);
}

/* ---- nng plumbing --------------------------------------------------------- */

static void worker_cb(void *arg)
{
	struct worker *w = arg;
	nng_msg *msg;
	uint8_t *ack = NULL;
	size_t acklen = 0;
	int rv = nng_aio_result(w->aio);

	if (w->state == W_SEND) {
		if (rv) {
			/* the agent went away; it resends and gets DUPLICATE */
			nng_msg_free(nng_aio_get_msg(w->aio));
			if (rv == NNG_ECLOSED)
				return;
		}
		w->state = W_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	if (rv) {
		if (rv == NNG_ECLOSED)
			return;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	msg = nng_aio_get_msg(w->aio);
	if (receiver_process(w->r, nng_msg_body(msg), nng_msg_len(msg), &ack, &acklen) ||
	    (nng_msg_clear(msg), nng_msg_append(msg, ack, acklen))) {
		free(ack);
		nng_msg_free(msg);
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	free(ack);
	nng_aio_set_msg(w->aio, msg);
	w->state = W_SEND;
	nng_ctx_send(w->ctx, w->aio);
}

static int tls_server_config(const struct collector_conf *c, nng_tls_config **out)
{
	nng_tls_config *cfg = NULL;
	char *cert = NULL, *key = NULL;
	size_t len;
	int rv, err;

	err = fileio_read_all(c->tls_cert, 1 << 20, &cert, &len);
	if (!err)
		err = fileio_read_all(c->tls_key, 1 << 20, &key, &len);
	if (err) {
		log_warn("cannot read TLS certificate %s / key %s: %s", c->tls_cert,
			 c->tls_key, strerror(-err));
		goto cleanup;
	}
	rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER);
	if (!rv)
		rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
	if (rv) {
		log_warn("bad TLS certificate %s / key %s: %s", c->tls_cert, c->tls_key,
			 nng_strerror(rv));
		err = -EINVAL;
		goto cleanup;
	}
	*out = cfg;
	cfg = NULL;
cleanup:
	if (key)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
	if (cfg)
		nng_tls_config_free(cfg);
	return err;
}

static int start_listener(struct receiver *r, const struct collector_conf *c,
			  const char *url)
{
	const bool ipc = strncmp(url, "ipc://", 6) == 0;
	nng_tls_config *tls = NULL;
	nng_listener l;
	int rv, err = 0;

	rv = nng_listener_create(&l, r->sock, url);
	if (rv) {
		log_warn("cannot listen on %s: %s", url, nng_strerror(rv));
		return -EINVAL;
	}
	nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, r->max_message + 4096);
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		err = tls_server_config(c, &tls);
		if (err)
			goto cleanup;
		rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls);
		if (rv) {
			log_warn("cannot set TLS on %s: %s", url, nng_strerror(rv));
			err = -EINVAL;
			goto cleanup;
		}
	}
	if (ipc) {
		rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, c->ipc_mode);
		if (rv) {
			log_warn("cannot set the permissions of %s: %s", url, nng_strerror(rv));
			err = -EINVAL;
			goto cleanup;
		}
	}
	rv = nng_listener_start(l, 0);
	if (rv) {
		log_warn("cannot listen on %s: %s", url, nng_strerror(rv));
		err = -EADDRINUSE;
		goto cleanup;
	}
	if (ipc)
		log_info("listening on %s (mode %04o)", url, (unsigned)c->ipc_mode);
	else
		log_info("listening on %s", url);
cleanup:
	if (tls)
		nng_tls_config_free(tls);
	return err;
}

int receiver_listen(struct receiver *r, const struct collector_conf *c)
{
	int rv, err = 0;

	rv = nng_rep0_open(&r->sock);
	if (rv) {
		log_warn("cannot open nng REP socket: %s", nng_strerror(rv));
		return -EIO;
	}
	r->open = true;
	/* the transport drops anything far beyond max_message before it is
	 * buffered; what is just above it still gets a REJECTED answer */
	nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, r->max_message + 4096);
	for (size_t i = 0; i < c->n_listen && !err; i++)
		err = start_listener(r, c, c->listen[i]);
	if (err)
		return err;
	r->workers = calloc((size_t)c->workers, sizeof(*r->workers));
	if (!r->workers)
		return -ENOMEM;
	for (size_t i = 0; i < (size_t)c->workers; i++) {
		struct worker *w = &r->workers[i];

		w->r = r;
		rv = nng_aio_alloc(&w->aio, worker_cb, w);
		if (rv)
			return -ENOMEM;
		r->n_workers++;
		rv = nng_ctx_open(&w->ctx, r->sock);
		if (rv)
			return -EIO;
		w->state = W_RECV;
		nng_ctx_recv(w->ctx, w->aio);
	}
	return 0;
}

void receiver_free(struct receiver *r)
{
	if (!r)
		return;
	if (r->open)
		nng_close(r->sock);
	for (size_t i = 0; i < r->n_workers; i++)
		nng_aio_stop(r->workers[i].aio);
	for (size_t i = 0; i < r->n_workers; i++)
		nng_aio_free(r->workers[i].aio);
	free(r->workers);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
