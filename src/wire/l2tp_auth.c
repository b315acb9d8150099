/* SPDX-License-Identifier: MIT */
/*
 * L2TPv3 control message authentication (RFC 3931 §4.3, §5.4.1) and the
 * L2TPv2-style CHAP Challenge Response (RFC 2661 §4.4.3, §5.1.1).
 *
 * Digest inputs, as RFC 3931 §4.3 defines them and as Wireshark checks them
 * (wireshark/wireshark epan/dissectors/packet-l2tp.c: update_shared_key,
 * md5_hmac_digest, sha1_hmac_digest, check_control_digest, store_cma_nonce):
 *  - shared_key = HMAC-MD5(key = secret, data = one byte 0x02), also for
 *    SHA-1 digests, whose HMAC is keyed with these 16 bytes.  Wireshark
 *    uses the configured secret once any Nonce AVP was seen on the
 *    connection, else the empty secret (integrity-only mode).
 *  - SCCRQ: HMAC(shared_key, message); no nonce, even though the SCCRQ
 *    carries its sender's Nonce.
 *  - Every other message (SCCRP included; Wireshark picks up the SCCRP's
 *    own Nonce before it checks the digest): HMAC(shared_key,
 *    sender_nonce || receiver_nonce || message), where sender_nonce is
 *    the Nonce from the SCCRQ/SCCRP of the LCCE that sent this message.
 *    So the signer puts its own (local) nonce first and the verifier puts
 *    the peer's first.  Wireshark hashes nonces only if it saw both.
 *  - message = from the flags word up to the header's Length (over IP
 *    after the 4 zero bytes), with the Message Digest AVP's type byte kept
 *    and its 16/20 digest bytes zeroed.
 *  - Two Message Digest AVPs (key rollover): protocol.md §6.1 reads the RFC
 *    as zeroing every digest field, Wireshark zeroes only the one it checks
 *    (and checks only the last).  We sign with one digest, where the two
 *    agree, and verification accepts either reading for each digest.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wire/l2tp_wire.h"

#define DIGEST_MAX 20

void l2tp_auth_shared_key(const void *secret, size_t secret_len, uint8_t ret_key[16])
{
	static const uint8_t two = 0x02;
	static const uint8_t empty;
	unsigned int n = 0;

	if (!HMAC(EVP_md5(), secret_len ? secret : &empty, (int)secret_len, &two, 1, ret_key, &n) || n != 16)
		memset(ret_key, 0, 16);
}

static size_t digest_len(uint8_t type)
{
	return type == L2TP_DIGEST_HMAC_MD5 ? 16 : type == L2TP_DIGEST_HMAC_SHA1 ? 20 : 0;
}

/* Is the digest at offset off (its type byte) inside msg[0..len)? */
static bool digest_fits(size_t off, uint8_t type, size_t len)
{
	size_t dlen = digest_len(type);

	return dlen && off < len && len - off >= 1 + dlen;
}

/*
 * HMAC(key, n1 || n2 || msg) with the digest bytes of the listed digests
 * read as zero.  zero_off[i] is the offset of a digest's type byte, every
 * range already checked by digest_fits(); the ranges must be ascending.
 * Returns false on an OpenSSL failure.
 */
static bool hmac_msg(const uint8_t key[16], uint8_t type, const uint8_t *n1, size_t n1_len, const uint8_t *n2,
		     size_t n2_len, const uint8_t *msg, size_t len, const size_t *zero_off, const uint8_t *zero_type,
		     size_t n_zero, uint8_t out[DIGEST_MAX])
{
	static const uint8_t zero[DIGEST_MAX];
	char md[16];
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	size_t pos = 0, outl = 0, i;
	bool ok = false;

	strcpy(md, type == L2TP_DIGEST_HMAC_MD5 ? "MD5" : "SHA1");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0);
	params[1] = OSSL_PARAM_construct_end();

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return false;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx || !EVP_MAC_init(ctx, key, 16, params))
		goto out_free;
	if (n1_len && !EVP_MAC_update(ctx, n1, n1_len))
		goto out_free;
	if (n2_len && !EVP_MAC_update(ctx, n2, n2_len))
		goto out_free;
	for (i = 0; i < n_zero; i++) {
		size_t start = zero_off[i] + 1, dlen = digest_len(zero_type[i]);

		if (start < pos)
			goto out_free; /* overlapping: cannot happen for decoded offsets */
		if (!EVP_MAC_update(ctx, msg + pos, start - pos) || !EVP_MAC_update(ctx, zero, dlen))
			goto out_free;
		pos = start + dlen;
	}
	if (!EVP_MAC_update(ctx, msg + pos, len - pos) || !EVP_MAC_final(ctx, out, &outl, DIGEST_MAX))
		goto out_free;
	ok = outl == digest_len(type);
out_free:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok;
}

/* The message length to hash: the header's Length if it fits, else len. */
static size_t msg_len(const uint8_t *buf, size_t len)
{
	size_t l;

	if (len < L2TP_CTRL_HDR_LEN)
		return len;
	l = (size_t)buf[2] << 8 | buf[3];
	return l >= L2TP_CTRL_HDR_LEN && l <= len ? l : len;
}

void l2tp_auth_digest_sign(const uint8_t key[16], const uint8_t *local_nonce, size_t local_nonce_len,
			   const uint8_t *remote_nonce, size_t remote_nonce_len, uint8_t *buf, size_t len,
			   const struct l2tp_msg *m)
{
	uint8_t out[DIGEST_MAX];
	size_t off, dlen;
	uint8_t type;

	if (m->n_digests < 1)
		return;
	off = m->digest_off[0];
	type = m->digest_type[0];
	len = msg_len(buf, len);
	if (!digest_fits(off, type, len))
		return;
	dlen = digest_len(type);
	/* On an OpenSSL failure the digest stays zero and the peer drops it. */
	memset(buf + off + 1, 0, dlen);
	buf[off] = type;
	if (hmac_msg(key, type, local_nonce, local_nonce_len, remote_nonce, remote_nonce_len, buf, len, &off, &type,
		     1, out))
		memcpy(buf + off + 1, out, dlen);
}

bool l2tp_auth_digest_verify(const uint8_t key[16], const uint8_t *peer_nonce, size_t peer_nonce_len,
			     const uint8_t *local_nonce, size_t local_nonce_len, const uint8_t *buf,
			     size_t len, const struct l2tp_msg *m)
{
	size_t n = m->n_digests < L2TP_MAX_DIGESTS ? m->n_digests : L2TP_MAX_DIGESTS;
	uint8_t out[DIGEST_MAX];
	size_t i;

	len = msg_len(buf, len);
	for (i = 0; i < n; i++)
		if (!digest_fits(m->digest_off[i], m->digest_type[i], len))
			return false;
	if (n == 2 && m->digest_off[0] >= m->digest_off[1])
		return false;

	for (i = 0; i < n; i++) {
		uint8_t type = m->digest_type[i];
		size_t off = m->digest_off[i], dlen = digest_len(type);
		const uint8_t *got = buf + off + 1;

		/* this digest zeroed alone (Wireshark's reading) */
		if (hmac_msg(key, type, peer_nonce, peer_nonce_len, local_nonce, local_nonce_len, buf, len, &off,
			     &type, 1, out) &&
		    CRYPTO_memcmp(out, got, dlen) == 0)
			return true;
		/* every digest zeroed (protocol.md's reading of RFC 3931) */
		if (n == 2 && hmac_msg(key, type, peer_nonce, peer_nonce_len, local_nonce, local_nonce_len, buf, len,
				       m->digest_off, m->digest_type, n, out) &&
		    CRYPTO_memcmp(out, got, dlen) == 0)
			return true;
	}
	return false;
}

void l2tp_auth_chap_response(uint8_t id, const void *secret, size_t secret_len, const uint8_t *challenge,
			     size_t challenge_len, uint8_t ret_resp[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	bool ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, &id, 1) &&
	     (!secret_len || EVP_DigestUpdate(ctx, secret, secret_len)) &&
	     (!challenge_len || EVP_DigestUpdate(ctx, challenge, challenge_len)) &&
	     EVP_DigestFinal_ex(ctx, ret_resp, &n) && n == 16;
	if (!ok)
		memset(ret_resp, 0, 16);
	EVP_MD_CTX_free(ctx);
}
