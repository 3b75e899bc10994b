#include "sender.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "truemeter.pb-c.h"

struct sender {
	const struct agent_conf *conf;
	struct spool *spool;
	nng_socket sock;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;           /* interrupts backoff sleeps */
	struct sender_stats stats;
};

static int nng_errno(int rv)
{
	switch (rv) {
	case 0: return 0;
	case NNG_ENOMEM: return -ENOMEM;
	case NNG_ETIMEDOUT: return -ETIMEDOUT;
	case NNG_ECLOSED: return -EPIPE;
	case NNG_EADDRINVAL: return -EINVAL;
	case NNG_ENOTSUP: return -ENOTSUP;
	default: return -EIO;
	}
}

static int tls_client_config(const struct agent_conf *c, nng_tls_config **out)
{
	nng_tls_config *cfg = NULL;
	char *cert = NULL, *key = NULL;
	size_t len;
	int rv, err = 0;

	rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
	if (rv) {
		log_warn("TLS unavailable: %s", nng_strerror(rv));
		err = nng_errno(rv);
		goto cleanup;
	}
	rv = nng_tls_config_ca_file(cfg, c->tls_ca);
	if (rv) {
		log_warn("cannot load TLS CA %s: %s", c->tls_ca, nng_strerror(rv));
		err = -EINVAL;
		goto cleanup;
	}
	nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	if (c->tls_server_name[0])
		nng_tls_config_server_name(cfg, c->tls_server_name);
	if (c->tls_cert[0]) {
		err = fileio_read_all(c->tls_cert, 1 << 20, &cert, &len);
		if (!err)
			err = fileio_read_all(c->tls_key, 1 << 20, &key, &len);
		if (err) {
			log_warn("cannot read TLS client certificate/key: %s", strerror(-err));
			goto cleanup;
		}
		rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
		if (rv) {
			log_warn("bad TLS client certificate %s / key %s: %s",
				 c->tls_cert, c->tls_key, nng_strerror(rv));
			err = -EINVAL;
			goto cleanup;
		}
	}
	*out = cfg;
	cfg = NULL;
cleanup:
	if (key)
		sodium_memzero(key, strlen(key));
	free(cert);
	free(key);
	if (cfg)
		nng_tls_config_free(cfg);
	return err;
}

/* Is a pipe to the collector up?  One dialer makes one pipe at a time, so
 * the last event tells.  Static, not in struct sender: nng may call back
 * while sender_stop()'s detached close still runs after the free; an agent
 * has one sender. */
static atomic_bool sender_connected;

static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	atomic_store((atomic_bool *)arg, ev == NNG_PIPE_EV_ADD_POST);
}

int sender_dial(const struct agent_conf *c, atomic_bool *connected, nng_socket *sock)
{
	nng_dialer d;
	nng_tls_config *tls = NULL;
	int rv, err = 0;

	rv = nng_req0_open(sock);
	if (rv) {
		log_warn("cannot open nng REQ socket: %s", nng_strerror(rv));
		return nng_errno(rv);
	}
	nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, (size_t)c->max_message);
	nng_socket_set_ms(*sock, NNG_OPT_RECVTIMEO, (nng_duration)c->timeout_ms);
	nng_socket_set_ms(*sock, NNG_OPT_SENDTIMEO, (nng_duration)c->timeout_ms);
	/* the sender resends itself after a timeout; nng's own resend would
	 * only duplicate that */
	nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(*sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(*sock, NNG_OPT_RECONNMAXT,
			  (nng_duration)(c->retry_max_ms < 1000 ? 1000 : c->retry_max_ms));
	if (connected) {
		nng_pipe_notify(*sock, NNG_PIPE_EV_ADD_POST, pipe_event, connected);
		nng_pipe_notify(*sock, NNG_PIPE_EV_REM_POST, pipe_event, connected);
	}
	rv = nng_dialer_create(&d, *sock, c->url);
	if (rv) {
		log_warn("bad collector url '%s': %s", c->url, nng_strerror(rv));
		err = nng_errno(rv);
		goto cleanup;
	}
	nng_dialer_set_size(d, NNG_OPT_RECVMAXSZ, (size_t)c->max_message);
	if (strncmp(c->url, "tls+tcp://", 10) == 0) {
		err = tls_client_config(c, &tls);
		if (err)
			goto cleanup;
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls);
		if (rv) {
			log_warn("cannot set TLS on %s: %s", c->url, nng_strerror(rv));
			err = nng_errno(rv);
			goto cleanup;
		}
	}
	rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	if (rv) {
		log_warn("cannot dial %s: %s", c->url, nng_strerror(rv));
		err = nng_errno(rv);
		goto cleanup;
	}
cleanup:
	if (tls)
		nng_tls_config_free(tls);   /* the dialer holds its own reference */
	if (err)
		nng_close(*sock);
	return err;
}

/* Sleeps ms or until sender_stop(). */
static void nap(struct sender *s, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&s->stop))
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&s->lock);
}

/* Exponential backoff with "equal jitter": half fixed, half random. */
static int64_t backoff_ms(const struct agent_conf *c, unsigned attempt)
{
	int64_t d = c->retry_min_ms;

	for (unsigned i = 0; i < attempt && d < c->retry_max_ms; i++)
		d *= 2;
	if (d > c->retry_max_ms)
		d = c->retry_max_ms;
	return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
}

enum outcome { SENT_DONE, SENT_REJECTED, SENT_FAILED };

/* One request/ack exchange for entry e. */
static enum outcome exchange(struct sender *s, const struct spool_entry *e,
			     const uint8_t *buf, size_t len)
{
	Truemeter__Ack *ack = NULL;
	nng_msg *msg = NULL;
	enum outcome out = SENT_FAILED;
	int rv;

	rv = nng_msg_alloc(&msg, 0);
	if (!rv)
		rv = nng_msg_append(msg, buf, len);
	if (!rv)
		rv = nng_sendmsg(s->sock, msg, 0);
	if (rv) {
		nng_msg_free(msg);
		log_debug("send of seq %" PRIu64 " failed: %s", e->seq, nng_strerror(rv));
		return SENT_FAILED;
	}
	msg = NULL;
	rv = nng_recvmsg(s->sock, &msg, 0);
	if (rv) {
		log_debug("no ack for seq %" PRIu64 ": %s", e->seq, nng_strerror(rv));
		return SENT_FAILED;
	}
	ack = truemeter__ack__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	if (!ack || ack->epoch != e->epoch || ack->seq != e->seq) {
		log_warn("collector sent a malformed or mismatched ack for epoch "
			 "%016" PRIx64 " seq %" PRIu64, e->epoch, e->seq);
		goto cleanup;
	}
	switch (ack->status) {
	case TRUEMETER__ACK__STATUS__OK:
		s->stats.acked++;
		out = SENT_DONE;
		break;
	case TRUEMETER__ACK__STATUS__DUPLICATE:
		s->stats.duplicate++;
		out = SENT_DONE;
		break;
	case TRUEMETER__ACK__STATUS__REJECTED:
		log_warn("collector REJECTED report epoch %016" PRIx64 " seq %" PRIu64
			 ": %s (moved to spool/rejected/)", e->epoch, e->seq,
			 ack->error);
		s->stats.rejected++;
		out = SENT_REJECTED;
		break;
	default:
		log_info("collector asked to retry seq %" PRIu64 ": %s", e->seq,
			 ack->error);
		break;
	}
cleanup:
	if (ack)
		truemeter__ack__free_unpacked(ack, NULL);
	nng_msg_free(msg);
	return out;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	unsigned attempt = 0;

	while (!atomic_load(&s->stop)) {
		struct spool_entry e;
		uint8_t *buf = NULL;
		size_t len;
		enum outcome out;
		int err;

		if (!spool_oldest(s->spool, &e)) {
			spool_wait(s->spool, 500);
			continue;
		}
		err = spool_read(s->spool, &e, &buf, &len);
		if (err == -EBADMSG || err == -ENOENT)
			continue;        /* moved aside or dropped meanwhile */
		if (err) {
			nap(s, backoff_ms(s->conf, attempt++));
			continue;
		}
		s->stats.sent++;
		out = exchange(s, &e, buf, len);
		free(buf);
		if (out == SENT_DONE) {
			attempt = 0;
			err = spool_remove(s->spool, &e);
			if (err)
				log_warn("spool: cannot remove acknowledged report seq %"
					 PRIu64 ": %s", e.seq, strerror(-err));
		} else if (out == SENT_REJECTED) {
			attempt = 0;
			spool_reject(s->spool, &e);
		} else {
			/* It stays in flight through the backoff: a report whose
			 * ack never came may be stored all the same, so a full
			 * spool must drop (and declare lost) a newer one instead. */
			s->stats.failed++;
			if (attempt == 3 && !atomic_load(&sender_connected))
				log_warn("no connection to the collector at %s: "
					 "nothing listens there, or it refuses this "
					 "agent (for ipc://, the socket's permissions); "
					 "reports stay spooled and are retried",
					 s->conf->url);
			else if (attempt == 3)
				log_warn("collector %s not answering report seq %"
					 PRIu64 " (%zu bytes); reports stay spooled "
					 "and are retried (a collector drops a report "
					 "far above its max_message unanswered)",
					 s->conf->url, e.seq, len);
			nap(s, backoff_ms(s->conf, attempt++));
		}
	}
	return NULL;
}

int sender_start(const struct agent_conf *conf, struct spool *spool,
		 struct sender **out)
{
	struct sender *s;
	int err;

	*out = NULL;
	if (sodium_init() < 0)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conf = conf;
	s->spool = spool;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	err = sender_dial(conf, &sender_connected, &s->sock);
	if (err) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return err;
	}
	err = -pthread_create(&s->thread, NULL, sender_main, s);
	if (err) {
		nng_close(s->sock);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return err;
	}
	s->started = true;
	*out = s;
	return 0;
}

static void *close_socket(void *arg)
{
	nng_socket sock = { .id = (uint32_t)(uintptr_t)arg };

	nng_close(sock);
	return NULL;
}

void sender_stop(struct sender *s)
{
	pthread_t closer;

	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	spool_wakeup(s->spool);
	/* closing the socket aborts a blocked send or receive.  nng 1.5's
	 * nng_close() can hang while a REQ pipe is torn down, so it runs in a
	 * detached thread and the join has a deadline: at shutdown everything
	 * durable is already on disk, and exit() ends a stuck close. */
	if (pthread_create(&closer, NULL, close_socket,
			   (void *)(uintptr_t)nng_socket_id(s->sock)) == 0)
		pthread_detach(closer);
	else
		nng_close(s->sock);
	if (s->started) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 3;
		if (pthread_timedjoin_np(s->thread, NULL, &ts) != 0) {
			log_warn("sender did not stop within 3 s; leaving it");
			return;
		}
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void sender_stats_get(struct sender *s, struct sender_stats *st)
{
	*st = s->stats;
}
