/* Report signing, verification and the hash chain.
 *
 * A report is serialized, signed with the agent's Ed25519 key (detached) and
 * wrapped in an Envelope.  Its digest is BLAKE2b-256 over the signed report
 * bytes; the next report of the same epoch carries that digest as
 * prev_digest.  Keys are stored as hex text: the private key file holds the
 * 64-byte libsodium secret key (mode 0600), the public key file 32 bytes. */
#ifndef TM_REPORT_H
#define TM_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "truemeter.pb-c.h"

#define REPORT_PK_LEN 32
#define REPORT_SK_LEN 64
#define REPORT_DIGEST_LEN 32
#define REPORT_PK_HEX_LEN (2 * REPORT_PK_LEN)

struct report_key {
	uint8_t pk[REPORT_PK_LEN];
	uint8_t sk[REPORT_SK_LEN];
};

/* Writes a new key pair (private 0600, public 0644) with atomic writes. */
int report_keygen(const char *priv_path, const char *pub_path);
int report_key_load(const char *priv_path, struct report_key *key);
/* A public key file or a 64-character hex string. */
int report_pubkey_load(const char *path, uint8_t pk[REPORT_PK_LEN]);
int report_pubkey_parse(const char *hex, uint8_t pk[REPORT_PK_LEN]);
/* out must hold 2 * len + 1 bytes. */
void report_hex(const uint8_t *bin, size_t len, char *out);

/* Serializes r, signs it and returns the envelope in *out (malloc'd, the
 * caller frees) and the report's digest.  r->agent_id must be key->pk. */
int report_seal(const struct report_key *key, const Truemeter__Report *r,
		uint8_t **out, size_t *outlen, uint8_t digest[REPORT_DIGEST_LEN]);

/* Decodes an envelope and checks the signature against the report's own
 * agent_id (enrolment is the caller's check).  On success *out is owned by
 * the caller and freed with report_free().  -EBADMSG with a message in err
 * for anything malformed or forged. */
int report_open(const uint8_t *buf, size_t len, Truemeter__Report **out,
		uint8_t digest[REPORT_DIGEST_LEN], char *err, size_t errlen);
void report_free(Truemeter__Report *r);

/* The report's string idx (a usage row's tenant, route or method), or NULL
 * when the report has no such string.  Borrowed from r. */
const char *report_string(const Truemeter__Report *r, uint32_t idx);

/* Ack encoding helpers; *out malloc'd, the caller frees. */
int report_ack_pack(uint64_t epoch, uint64_t seq, Truemeter__Ack__Status st,
		    const char *error, uint8_t **out, size_t *outlen);

#endif
