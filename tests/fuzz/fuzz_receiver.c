/* libFuzzer target: the collector's receiver, behind the signature an
 * enrolled agent's key makes (a compromised host, or a buggy agent).
 * Input: one byte, then either the message as it comes off the wire (bit 0
 * set: decoding, the size limit) or a Report protobuf that is given the
 * enrolled key's agent id and sealed with it before it goes in (the
 * report's own checks, the chain, the store).  With TM_FUZZ_SEED_DIR set,
 * the first run writes a few real reports there as seeds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enrol.h"
#include "fuzz_util.h"
#include "meter.h"
#include "metric.h"
#include "receiver.h"
#include "report.h"
#include "reportbuild.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct report_key key;
static struct store *store;
static struct enrol *enrol;
static struct receiver *recv;

/* Real reports of key, seq 1..3 chained, each with HTTP and cgroup rows. */
static void write_seeds(const char *dir)
{
	uint8_t prev[REPORT_DIGEST_LEN], digest[REPORT_DIGEST_LEN], *env, *packed;
	struct meter_row rows[3] = {
		{ .tenant = "acme", .metric = METRIC_API_REQUESTS, .route = "/v1/items/*",
		  .method = "GET", .status_class = 2, .value = 7 },
		{ .tenant = "acme", .metric = METRIC_CPU_NS, .value = 123456789 },
		{ .tenant = "unknown", .metric = METRIC_NET_RX_BYTES, .value = 4096 },
	};
	struct meter_health h = { .map_overflow = 1 };

	for (uint64_t seq = 1; seq <= 3; seq++) {
		struct reportbuild_in in = {
			.agent_id = key.pk, .epoch = 42, .seq = seq,
			.window_start_ms = 1700000000000LL + 10000 * (int64_t)seq,
			.window_end_ms = 1700000010000LL + 10000 * (int64_t)seq,
			.deltas = rows, .n_deltas = 3, .health = &h, .hostname = "fuzz",
			.prev_digest = seq > 1 ? prev : NULL,
		};
		Truemeter__Report *r;
		char path[512];
		size_t len, plen;

		if (reportbuild_make(&in, &r) || report_seal(&key, r, &env, &len, digest))
			abort();
		plen = truemeter__report__get_packed_size(r);
		packed = malloc((plen > len ? plen : len) + 1);
		if (!packed)
			abort();
		packed[0] = 0;
		truemeter__report__pack(r, packed + 1);
		snprintf(path, sizeof(path), "%s/report-%llu", dir, (unsigned long long)seq);
		fuzz_write_file(path, packed, plen + 1);
		packed[0] = 1;                  /* the wire form too */
		memcpy(packed + 1, env, len);
		snprintf(path, sizeof(path), "%s/wire-%llu", dir, (unsigned long long)seq);
		fuzz_write_file(path, packed, len + 1);
		memcpy(prev, digest, sizeof(prev));
		free(packed);
		free(env);
		reportbuild_free(r);
	}
}

static void setup(void)
{
	char dir[] = "/tmp/tm-fuzz-receiver.XXXXXX", priv[64], pub[64], db[64];
	const char *seeds = getenv("TM_FUZZ_SEED_DIR");

	if (!mkdtemp(dir))
		abort();
	snprintf(priv, sizeof(priv), "%s/a.key", dir);
	snprintf(pub, sizeof(pub), "%s/a.pub", dir);
	snprintf(db, sizeof(db), "%s/t.db", dir);
	if (report_keygen(priv, pub) || report_key_load(priv, &key) ||
	    store_open(db, &store) ||
	    enrol_new(NULL, (const uint8_t (*)[REPORT_PK_LEN])key.pk, 1, &enrol) ||
	    receiver_new(store, enrol, 1 << 20, &recv))
		abort();
	unlink(priv);
	unlink(pub);
	if (seeds)
		write_seeds(seeds);
}

/* The chain so far: a report that follows the last one stored gets its
 * digest as prev_digest, so the fuzzer's chains can grow. */
static struct {
	bool set;
	uint64_t epoch, seq;
	uint8_t digest[REPORT_DIGEST_LEN];
} head;

struct sealed {
	uint8_t *env;
	size_t len;
	uint64_t epoch, seq;
	uint8_t digest[REPORT_DIGEST_LEN];
};

/* The fuzzed report, given key's agent id (and the chain head's digest
 * when it follows it) and sealed: 0, or -1 if the input does not decode
 * as a report. */
static int seal(const uint8_t *data, size_t size, struct sealed *out)
{
	Truemeter__Report *r = truemeter__report__unpack(NULL, size, data);
	ProtobufCBinaryData id, prev;
	int err;

	if (!r)
		return -1;
	id = r->agent_id;               /* freed with r: put back before */
	prev = r->prev_digest;
	r->agent_id.data = key.pk;
	r->agent_id.len = REPORT_PK_LEN;
	if (head.set && r->epoch == head.epoch && r->seq == head.seq + 1 &&
	    prev.len == REPORT_DIGEST_LEN) {
		r->prev_digest.data = head.digest;
		r->prev_digest.len = REPORT_DIGEST_LEN;
	}
	out->epoch = r->epoch;
	out->seq = r->seq;
	err = report_seal(&key, r, &out->env, &out->len, out->digest) ? -1 : 0;
	r->agent_id = id;
	r->prev_digest = prev;
	truemeter__report__free_unpacked(r, NULL);
	return err;
}

static void note_stored(const struct sealed *s, const uint8_t *ack, size_t acklen)
{
	Truemeter__Ack *a = truemeter__ack__unpack(NULL, acklen, ack);

	if (a && a->status == TRUEMETER__ACK__STATUS__OK &&
	    (!head.set || s->epoch != head.epoch || s->seq > head.seq)) {
		head.set = true;
		head.epoch = s->epoch;
		head.seq = s->seq;
		memcpy(head.digest, s->digest, REPORT_DIGEST_LEN);
	}
	truemeter__ack__free_unpacked(a, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sealed sealed;
	uint8_t *ack = NULL;
	size_t acklen;

	if (!recv)
		setup();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		receiver_process(recv, data + 1, size - 1, &ack, &acklen);
	} else if (seal(data + 1, size - 1, &sealed) == 0) {
		if (receiver_process(recv, sealed.env, sealed.len, &ack, &acklen) == 0)
			note_stored(&sealed, ack, acklen);
		free(sealed.env);
	}
	free(ack);
	return 0;
}
