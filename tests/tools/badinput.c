/* badinput: hostile and edge-case messages for the collector, built with
 * the real libraries (report building, signing, the agent's nng dialer).
 *
 *   badinput URL seed KEY EPOCH N DIR    valid chained reports seq 1..N;
 *                                        each envelope also goes to DIR/SEQ.env
 *   badinput URL sendfile FILE           send a file's bytes as they are
 *   badinput URL random N SEED           N random bytes
 *   badinput URL truncated KEY EPOCH SEQ a valid report cut in half
 *   badinput URL flipped KEY EPOCH SEQ   a valid report with one bit flipped
 *   badinput URL oversize N              an N-byte message
 *   badinput URL chain KEY EPOCH SEQ     seq chained to a wrong digest
 *   badinput URL conflict KEY EPOCH SEQ  another report with an existing seq
 *
 * Prints one line per message: "ack STATUS: error" or "noanswer: why".
 * Exits 0 when every message was sent (whatever the answer), 1 otherwise;
 * seed exits 1 unless every report was acked OK. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "agent_conf.h"
#include "fileio.h"
#include "metric.h"
#include "reportbuild.h"
#include "sender.h"

static const char *status_name(int st)
{
	static const char *const names[] = { "OK", "DUPLICATE", "REJECTED", "RETRY" };

	return st >= 0 && st < 4 ? names[st] : "?";
}

/* Sends one message and prints the answer; the status, or -1. */
static int send_msg(nng_socket sock, const uint8_t *buf, size_t len)
{
	nng_msg *msg = NULL;
	Truemeter__Ack *ack;
	int rv, st;

	rv = nng_msg_alloc(&msg, 0);
	if (!rv)
		rv = nng_msg_append(msg, buf, len);
	if (!rv)
		rv = nng_sendmsg(sock, msg, 0);
	if (rv) {
		nng_msg_free(msg);
		printf("noanswer: send: %s\n", nng_strerror(rv));
		return -1;
	}
	rv = nng_recvmsg(sock, &msg, 0);
	if (rv) {
		printf("noanswer: %s\n", nng_strerror(rv));
		return -1;
	}
	ack = truemeter__ack__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (!ack) {
		printf("noanswer: undecodable ack\n");
		return -1;
	}
	st = ack->status;
	printf("ack %s: %s\n", status_name(st), ack->error);
	truemeter__ack__free_unpacked(ack, NULL);
	return st;
}

/* A sealed report of key: tenant "badinput", api_requests = value. */
static int make(const struct report_key *key, uint64_t epoch, uint64_t seq,
		const uint8_t *prev, uint64_t value, uint8_t **env, size_t *len,
		uint8_t digest[REPORT_DIGEST_LEN])
{
	struct meter_row d;
	Truemeter__Report *r;
	struct reportbuild_in in = {
		.agent_id = key->pk, .epoch = epoch, .seq = seq,
		.window_start_ms = 1700000000000LL + (int64_t)seq * 1000,
		.window_end_ms = 1700000001000LL + (int64_t)seq * 1000,
		.deltas = &d, .n_deltas = 1, .prev_digest = prev, .hostname = "badinput",
	};
	int err;

	memset(&d, 0, sizeof(d));
	strcpy(d.tenant, "badinput");
	d.metric = METRIC_API_REQUESTS;
	d.value = value;
	err = reportbuild_make(&in, &r);
	if (!err)
		err = report_seal(key, r, env, len, digest);
	reportbuild_free(r);
	return err;
}

static int seed(nng_socket sock, const struct report_key *key, uint64_t epoch,
		uint64_t n, const char *dir)
{
	uint8_t prev[REPORT_DIGEST_LEN], digest[REPORT_DIGEST_LEN], *env;
	size_t len;
	int bad = 0;

	for (uint64_t seq = 1; seq <= n; seq++) {
		char path[512];

		if (make(key, epoch, seq, seq > 1 ? prev : NULL, seq, &env, &len, digest))
			return 1;
		snprintf(path, sizeof(path), "%s/%" PRIu64 ".env", dir, seq);
		if (fileio_write_atomic(path, env, len, 0600))
			bad = 1;
		if (send_msg(sock, env, len) != TRUEMETER__ACK__STATUS__OK)
			bad = 1;
		memcpy(prev, digest, sizeof(prev));
		free(env);
	}
	return bad;
}

int main(int argc, char **argv)
{
	static struct agent_conf conf;
	struct report_key key;
	uint8_t *buf = NULL, digest[REPORT_DIGEST_LEN], prev[REPORT_DIGEST_LEN];
	size_t len = 0;
	nng_socket sock;
	const char *cmd;
	int rc = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: badinput URL COMMAND ARGS (see the source)\n");
		return 2;
	}
	cmd = argv[2];
	agent_conf_defaults(&conf);
	snprintf(conf.url, sizeof(conf.url), "%s", argv[1]);
	conf.timeout_ms = 3000;
	if (getenv("BADINPUT_CA"))
		snprintf(conf.tls_ca, sizeof(conf.tls_ca), "%s", getenv("BADINPUT_CA"));
	if (sender_dial(&conf, NULL, &sock))
		return 1;
	/* random, oversize and sendfile need no key; the rest take one */
	if (!strcmp(cmd, "random") && argc == 5) {
		uint64_t x = strtoull(argv[4], NULL, 10) | 1;

		len = strtoul(argv[3], NULL, 10);
		buf = malloc(len + 1);
		for (size_t i = 0; buf && i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
	} else if (!strcmp(cmd, "oversize") && argc == 4) {
		len = strtoul(argv[3], NULL, 10);
		buf = calloc(1, len + 1);
	} else if (!strcmp(cmd, "sendfile") && argc == 4) {
		if (fileio_read_all(argv[3], 1 << 26, (char **)&buf, &len))
			goto cleanup;
	} else if (argc >= 6 && report_key_load(argv[3], &key) == 0) {
		uint64_t epoch = strtoull(argv[4], NULL, 0);
		uint64_t n = strtoull(argv[5], NULL, 0);

		memset(prev, 0x77, sizeof(prev));
		if (!strcmp(cmd, "seed") && argc == 7) {
			rc = seed(sock, &key, epoch, n, argv[6]);
			goto cleanup;
		} else if (!strcmp(cmd, "truncated")) {
			if (make(&key, epoch, n, n > 1 ? prev : NULL, 1, &buf, &len, digest))
				goto cleanup;
			len /= 2;
		} else if (!strcmp(cmd, "flipped")) {
			if (make(&key, epoch, n, n > 1 ? prev : NULL, 1, &buf, &len, digest))
				goto cleanup;
			buf[len / 2] ^= 0x01;
		} else if (!strcmp(cmd, "chain") || !strcmp(cmd, "conflict")) {
			/* conflict: a value no seeded report has */
			if (make(&key, epoch, n, n > 1 ? prev : NULL, 999999, &buf, &len, digest))
				goto cleanup;
		} else {
			fprintf(stderr, "badinput: unknown command %s\n", cmd);
			goto cleanup;
		}
	} else {
		fprintf(stderr, "badinput: bad arguments for %s (or unreadable key)\n", cmd);
		goto cleanup;
	}
	if (!buf)
		goto cleanup;
	send_msg(sock, buf, len);
	rc = 0;
cleanup:
	free(buf);
	/* no nng_close(): nng 1.5 can hang closing a REQ socket whose pipe the
	 * peer just dropped (the oversize case); exit tears everything down */
	(void)sock;
	return rc;
}
