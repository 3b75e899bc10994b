#include "report.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

static int crypto_ready(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void report_hex(const uint8_t *bin, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, bin, len);
}

static int parse_hex(const char *hex, uint8_t *bin, size_t len)
{
	size_t got = 0;
	const char *end = NULL;

	if (sodium_hex2bin(bin, len, hex, strlen(hex), " \t\r\n", &got, &end) != 0 ||
	    got != len)
		return -EINVAL;
	while (end && *end && strchr(" \t\r\n", *end))
		end++;
	return end && *end ? -EINVAL : 0;
}

int report_keygen(const char *priv_path, const char *pub_path)
{
	struct report_key k;
	char hex[2 * REPORT_SK_LEN + 2];
	int err;

	err = crypto_ready();
	if (err)
		goto cleanup;
	crypto_sign_keypair(k.pk, k.sk);
	report_hex(k.sk, REPORT_SK_LEN, hex);
	strcat(hex, "\n");
	err = fileio_write_atomic(priv_path, hex, strlen(hex), 0600);
	if (err)
		goto cleanup;
	report_hex(k.pk, REPORT_PK_LEN, hex);
	strcat(hex, "\n");
	err = fileio_write_atomic(pub_path, hex, strlen(hex), 0644);
cleanup:
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(hex, sizeof(hex));
	return err;
}

int report_key_load(const char *priv_path, struct report_key *key)
{
	char *text = NULL;
	size_t len;
	int err;

	err = crypto_ready();
	if (err)
		goto cleanup;
	err = fileio_read_all(priv_path, 4096, &text, &len);
	if (err)
		goto cleanup;
	err = parse_hex(text, key->sk, REPORT_SK_LEN);
	if (err)
		goto cleanup;
	err = crypto_sign_ed25519_sk_to_pk(key->pk, key->sk) ? -EINVAL : 0;
cleanup:
	if (text)
		sodium_memzero(text, len);
	free(text);
	return err;
}

int report_pubkey_parse(const char *hex, uint8_t pk[REPORT_PK_LEN])
{
	return parse_hex(hex, pk, REPORT_PK_LEN);
}

int report_pubkey_load(const char *path, uint8_t pk[REPORT_PK_LEN])
{
	char *text = NULL;
	size_t len;
	int err;

	if (strlen(path) == REPORT_PK_HEX_LEN && report_pubkey_parse(path, pk) == 0)
		return 0;
	err = fileio_read_all(path, 4096, &text, &len);
	if (err)
		goto cleanup;
	err = parse_hex(text, pk, REPORT_PK_LEN);
cleanup:
	free(text);
	return err;
}

int report_seal(const struct report_key *key, const Truemeter__Report *r,
		uint8_t **out, size_t *outlen, uint8_t digest[REPORT_DIGEST_LEN])
{
	Truemeter__Envelope env = TRUEMETER__ENVELOPE__INIT;
	uint8_t sig[crypto_sign_BYTES];
	uint8_t *body = NULL, *buf = NULL;
	size_t body_len, len;
	int err;

	*out = NULL;
	*outlen = 0;
	err = crypto_ready();
	if (err)
		goto cleanup;
	body_len = truemeter__report__get_packed_size(r);
	body = malloc(body_len ? body_len : 1);
	if (!body) {
		err = -ENOMEM;
		goto cleanup;
	}
	truemeter__report__pack(r, body);
	crypto_sign_detached(sig, NULL, body, body_len, key->sk);
	crypto_generichash(digest, REPORT_DIGEST_LEN, body, body_len, NULL, 0);
	env.report.data = body;
	env.report.len = body_len;
	env.signature.data = sig;
	env.signature.len = sizeof(sig);
	len = truemeter__envelope__get_packed_size(&env);
	buf = malloc(len);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	truemeter__envelope__pack(&env, buf);
	*out = buf;
	*outlen = len;
	buf = NULL;
cleanup:
	free(body);
	free(buf);
	return err;
}

int report_open(const uint8_t *buf, size_t len, Truemeter__Report **out,
		uint8_t digest[REPORT_DIGEST_LEN], char *err, size_t errlen)
{
	Truemeter__Envelope *env = NULL;
	Truemeter__Report *r = NULL;
	int rc = -EBADMSG;

	*out = NULL;
	if (crypto_ready()) {
		snprintf(err, errlen, "crypto library failed to initialise");
		rc = -EIO;
		goto cleanup;
	}
	env = truemeter__envelope__unpack(NULL, len, buf);
	if (!env) {
		snprintf(err, errlen, "not a report envelope (%zu bytes undecodable)", len);
		goto cleanup;
	}
	if (env->signature.len != crypto_sign_BYTES) {
		snprintf(err, errlen, "signature is %zu bytes, expected %d",
			 env->signature.len, crypto_sign_BYTES);
		goto cleanup;
	}
	r = truemeter__report__unpack(NULL, env->report.len, env->report.data);
	if (!r) {
		snprintf(err, errlen, "signed payload is not a report");
		goto cleanup;
	}
	if (r->agent_id.len != REPORT_PK_LEN) {
		snprintf(err, errlen, "agent_id is %zu bytes, expected %d",
			 r->agent_id.len, REPORT_PK_LEN);
		goto cleanup;
	}
	if (crypto_sign_verify_detached(env->signature.data, env->report.data,
					env->report.len, r->agent_id.data) != 0) {
		snprintf(err, errlen, "bad signature for agent seq %llu",
			 (unsigned long long)r->seq);
		goto cleanup;
	}
	crypto_generichash(digest, REPORT_DIGEST_LEN, env->report.data,
			   env->report.len, NULL, 0);
	*out = r;
	r = NULL;
	rc = 0;
cleanup:
	if (r)
		truemeter__report__free_unpacked(r, NULL);
	if (env)
		truemeter__envelope__free_unpacked(env, NULL);
	return rc;
}

const char *report_string(const Truemeter__Report *r, uint32_t idx)
{
	return idx < r->n_strings && r->strings[idx] ? r->strings[idx] : NULL;
}

void report_free(Truemeter__Report *r)
{
	if (r)
		truemeter__report__free_unpacked(r, NULL);
}

int report_ack_pack(uint64_t epoch, uint64_t seq, Truemeter__Ack__Status st,
		    const char *error, uint8_t **out, size_t *outlen)
{
	Truemeter__Ack ack = TRUEMETER__ACK__INIT;
	size_t len;

	ack.epoch = epoch;
	ack.seq = seq;
	ack.status = st;
	ack.error = (char *)(error ? error : "");
	len = truemeter__ack__get_packed_size(&ack);
	*out = malloc(len ? len : 1);
	if (!*out)
		return -ENOMEM;
	truemeter__ack__pack(&ack, *out);
	*outlen = len;
	return 0;
}
