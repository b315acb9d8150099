/* SPDX-License-Identifier: MIT */
/*
 * L2TPv3 control message codec (RFC 3931 §3.2.1, §5).
 *
 * The decoder is the first thing a datagram from the network meets, so it
 * trusts nothing: every read is bounded by the header's Length field, which
 * itself must fit inside the datagram.  Bytes past Length (padding some
 * stacks add) are ignored; a Length larger than the datagram, smaller than a
 * header or larger than L2TP_MAX_MSG_LEN is L2TP_DEC_BAD_LENGTH.
 *
 * AVP policy (RFC 3931 §5.2, §7.1; shared/protocol.md §1.5, §3):
 *  - Message Type must be the first AVP, IETF, not hidden, 2 bytes, not 0
 *    (reserved, and our ZLB marker); later Message Type AVPs are ignored.
 *    Other unknown message types are returned as they are: the state
 *    machine decides (RFC 3931 §5.4.1).
 *  - L2TPv2-only AVPs 2, 3, 4, 6, 9, 14, 24, 38 are recognised and ignored
 *    whatever their M bit (freeRtr sends Protocol Version and Framing
 *    Capabilities with M=1 in its v3 SCCRQ); v2_protocol_version says
 *    whether a Protocol Version AVP was there.
 *  - Hidden AVPs are counted in n_hidden; known IETF ones that follow a
 *    Random Vector are recorded (offsets, at most L2TP_HIDDEN_MAX) for
 *    l2tp_msg_unhide.  Until then one with M=1 reads as an unknown
 *    mandatory AVP (unknown_hidden says l2tp_msg_unhide may lift that);
 *    hidden Message Type, Random Vector and Message Digest are never
 *    decodable (RFC 3931 §5.3: they MUST NOT be hidden).
 *  - The Message Type AVP's M bit is kept in type_mandatory: an unknown
 *    message type with M=0 may be ignored, with M=1 it clears the
 *    connection (RFC 3931 §5.4.1).
 *  - Vendor AVPs (vendor != 0) and unknown IETF types are skipped; the
 *    first one with M=1 is recorded in unknown_mandatory/_vendor/_type and
 *    decoding goes on, so the state machine can answer with Result 2 /
 *    Error 8.
 *  - A known AVP whose value has the wrong size fails the whole message
 *    (L2TP_DEC_BAD_AVP_VALUE) if M=1, and is ignored (not marked present)
 *    if M=0.
 *  - Host Name, Vendor Name and the Result Code message are truncated to
 *    255 bytes (names_truncated counts it); every other variable-length
 *    value larger than its field is a bad value.
 *  - A repeated AVP overwrites the earlier one, except Message Digest, of
 *    which up to L2TP_MAX_DIGESTS are kept (more is TOO_MANY_DIGESTS).
 */
#include <errno.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/text.h"
#include "wire/l2tp_wire.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

#define AVP_M 0x8000
#define AVP_H 0x4000
#define AVP_LEN_MASK 0x03ff
#define AVP_VALUE_MAX (L2TP_AVP_MAX_LEN - L2TP_AVP_HDR_LEN)

enum avp_kind {
	AVP_UNKNOWN = 0, /* not in the table: unknown, look at M */
	AVP_KNOWN,       /* decoded (or at least marked present) */
	AVP_V2,          /* L2TPv2 only: recognised, ignored whatever M says */
};

/* What the decoder knows about each IETF AVP type: value size bounds.
 * Finer rules (Result Code, PW list, cookie, digest) are in value_ok(). */
struct avp_rule {
	uint8_t kind;
	uint16_t min;
	uint16_t max;
};

static const struct avp_rule avp_rules[L2TP_AVP_TYPE_MAX] = {
	[L2TP_AVP_MESSAGE_TYPE] = { AVP_KNOWN, 2, 2 },
	[L2TP_AVP_RESULT_CODE] = { AVP_KNOWN, 2, AVP_VALUE_MAX },
	[L2TP_AVP_PROTOCOL_VERSION] = { AVP_V2, 0, 0 },
	[L2TP_AVP_FRAMING_CAP] = { AVP_V2, 0, 0 },
	[L2TP_AVP_BEARER_CAP] = { AVP_V2, 0, 0 },
	[L2TP_AVP_TIE_BREAKER] = { AVP_KNOWN, 8, 8 },
	[L2TP_AVP_FIRMWARE_REV] = { AVP_V2, 0, 0 },
	[L2TP_AVP_HOST_NAME] = { AVP_KNOWN, 0, AVP_VALUE_MAX },
	[L2TP_AVP_VENDOR_NAME] = { AVP_KNOWN, 0, AVP_VALUE_MAX },
	[L2TP_AVP_ASSIGNED_TUNNEL_ID] = { AVP_V2, 0, 0 },
	[L2TP_AVP_RECV_WINDOW] = { AVP_KNOWN, 2, 2 },
	[L2TP_AVP_CHALLENGE] = { AVP_KNOWN, 1, L2TP_CHALLENGE_MAX },
	[L2TP_AVP_CHALLENGE_RESPONSE] = { AVP_KNOWN, 16, 16 },
	[L2TP_AVP_ASSIGNED_SESSION_ID] = { AVP_V2, 0, 0 },
	[L2TP_AVP_SERIAL_NUMBER] = { AVP_KNOWN, 4, 4 },
	[L2TP_AVP_TX_CONNECT_SPEED_V2] = { AVP_V2, 0, 0 },
	[L2TP_AVP_PHYS_CHANNEL_ID] = { AVP_KNOWN, 4, 4 },
	[L2TP_AVP_CIRCUIT_ERRORS] = { AVP_KNOWN, 0, AVP_VALUE_MAX }, /* presence only */
	[L2TP_AVP_RANDOM_VECTOR] = { AVP_KNOWN, 1, AVP_VALUE_MAX },  /* presence only */
	[L2TP_AVP_RX_CONNECT_SPEED_V2] = { AVP_V2, 0, 0 },
	[L2TP_AVP_MESSAGE_DIGEST] = { AVP_KNOWN, 17, 21 },
	[L2TP_AVP_ROUTER_ID] = { AVP_KNOWN, 4, 4 },
	[L2TP_AVP_ASSIGNED_CCID] = { AVP_KNOWN, 4, 4 },
	[L2TP_AVP_PW_CAPABILITIES] = { AVP_KNOWN, 0, 2 * L2TP_PW_CAPS_MAX },
	[L2TP_AVP_LOCAL_SESSION_ID] = { AVP_KNOWN, 4, 4 },
	[L2TP_AVP_REMOTE_SESSION_ID] = { AVP_KNOWN, 4, 4 },
	[L2TP_AVP_ASSIGNED_COOKIE] = { AVP_KNOWN, 0, 8 },
	[L2TP_AVP_REMOTE_END_ID] = { AVP_KNOWN, 0, L2TP_END_ID_MAX },
	[L2TP_AVP_PW_TYPE] = { AVP_KNOWN, 2, 2 },
	[L2TP_AVP_L2SS] = { AVP_KNOWN, 2, 2 },
	[L2TP_AVP_DATA_SEQUENCING] = { AVP_KNOWN, 2, 2 },
	[L2TP_AVP_CIRCUIT_STATUS] = { AVP_KNOWN, 2, 2 },
	[L2TP_AVP_PREFERRED_LANGUAGE] = { AVP_KNOWN, 0, AVP_VALUE_MAX }, /* presence only */
	[L2TP_AVP_NONCE] = { AVP_KNOWN, 1, L2TP_NONCE_MAX },
	[L2TP_AVP_TX_CONNECT_SPEED] = { AVP_KNOWN, 8, 8 },
	[L2TP_AVP_RX_CONNECT_SPEED] = { AVP_KNOWN, 8, 8 },
};

static bool value_ok(uint16_t type, const uint8_t *v, size_t vlen)
{
	const struct avp_rule *r = &avp_rules[type];

	if (vlen < r->min || vlen > r->max)
		return false;
	switch (type) {
	case L2TP_AVP_RESULT_CODE:
		return vlen != 3; /* result [+ error [+ message]] */
	case L2TP_AVP_PW_CAPABILITIES:
		return vlen % 2 == 0;
	case L2TP_AVP_ASSIGNED_COOKIE:
		return vlen == 0 || vlen == 4 || vlen == 8;
	case L2TP_AVP_MESSAGE_DIGEST:
		return (v[0] == L2TP_DIGEST_HMAC_MD5 && vlen == 17) ||
		       (v[0] == L2TP_DIGEST_HMAC_SHA1 && vlen == 21);
	default:
		return true;
	}
}

/* Copy a name NUL-terminated, truncated to fit dst; returns 1 if truncated.
 * A byte that is not printable ASCII or part of well-formed UTF-8 (a NUL, a
 * control, a stray or cut sequence) is stored as '?': the name goes to log
 * lines and the JSON status as it is stored. */
static unsigned copy_name(char *dst, size_t dst_size, const uint8_t *v, size_t vlen)
{
	size_t n = vlen < dst_size - 1 ? vlen : dst_size - 1;

	memcpy(dst, v, n);
	dst[n] = '\0';
	text_make_printable(dst, n);
	return n < vlen;
}

/* Store a known AVP whose value passed value_ok(). */
static void store(struct l2tp_msg *m, uint16_t type, const uint8_t *v, size_t vlen, size_t v_off)
{
	size_t i;

	switch (type) {
	case L2TP_AVP_RESULT_CODE:
		m->result_code = get16(v);
		m->has_error_code = vlen >= 4;
		m->error_code = vlen >= 4 ? get16(v + 2) : 0;
		if (vlen > 4)
			m->names_truncated += copy_name(m->error_msg, sizeof(m->error_msg), v + 4, vlen - 4);
		else
			m->error_msg[0] = '\0';
		break;
	case L2TP_AVP_TIE_BREAKER:
		memcpy(m->tie_breaker, v, 8);
		break;
	case L2TP_AVP_HOST_NAME:
		m->names_truncated += copy_name(m->host_name, sizeof(m->host_name), v, vlen);
		break;
	case L2TP_AVP_VENDOR_NAME:
		m->names_truncated += copy_name(m->vendor_name, sizeof(m->vendor_name), v, vlen);
		break;
	case L2TP_AVP_RECV_WINDOW:
		m->recv_window = get16(v);
		break;
	case L2TP_AVP_CHALLENGE:
		memcpy(m->challenge, v, vlen);
		m->challenge_len = vlen;
		break;
	case L2TP_AVP_CHALLENGE_RESPONSE:
		memcpy(m->challenge_response, v, 16);
		break;
	case L2TP_AVP_SERIAL_NUMBER:
		m->serial_number = get32(v);
		break;
	case L2TP_AVP_PHYS_CHANNEL_ID:
		m->phys_channel_id = get32(v);
		break;
	case L2TP_AVP_MESSAGE_DIGEST:
		i = m->n_digests++;
		m->digest_type[i] = v[0];
		memset(m->digest[i], 0, sizeof(m->digest[i]));
		memcpy(m->digest[i], v + 1, vlen - 1);
		m->digest_off[i] = v_off;
		break;
	case L2TP_AVP_ROUTER_ID:
		m->router_id = get32(v);
		break;
	case L2TP_AVP_ASSIGNED_CCID:
		m->assigned_ccid = get32(v);
		break;
	case L2TP_AVP_PW_CAPABILITIES:
		m->n_pw_caps = vlen / 2;
		for (i = 0; i < m->n_pw_caps; i++)
			m->pw_caps[i] = get16(v + 2 * i);
		break;
	case L2TP_AVP_LOCAL_SESSION_ID:
		m->local_session_id = get32(v);
		break;
	case L2TP_AVP_REMOTE_SESSION_ID:
		m->remote_session_id = get32(v);
		break;
	case L2TP_AVP_ASSIGNED_COOKIE:
		memcpy(m->assigned_cookie, v, vlen);
		m->assigned_cookie_len = vlen;
		break;
	case L2TP_AVP_REMOTE_END_ID:
		memcpy(m->remote_end_id, v, vlen);
		m->remote_end_id_len = vlen;
		break;
	case L2TP_AVP_PW_TYPE:
		m->pw_type = get16(v);
		break;
	case L2TP_AVP_L2SS:
		m->l2ss = get16(v);
		break;
	case L2TP_AVP_DATA_SEQUENCING:
		m->data_sequencing = get16(v);
		break;
	case L2TP_AVP_CIRCUIT_STATUS:
		m->circuit_status = get16(v);
		break;
	case L2TP_AVP_NONCE:
		memcpy(m->nonce, v, vlen);
		m->nonce_len = vlen;
		break;
	case L2TP_AVP_TX_CONNECT_SPEED:
		m->tx_connect_speed = get64(v);
		break;
	case L2TP_AVP_RX_CONNECT_SPEED:
		m->rx_connect_speed = get64(v);
		break;
	default: /* Circuit Errors, Random Vector, Preferred Language: presence only */
		break;
	}
}

/* Record the first unknown M=1 AVP; one that is plainly unknown replaces
 * one that is only hidden (l2tp_msg_unhide may yet decode that). */
static void note_unknown(struct l2tp_msg *m, uint16_t flags, uint16_t vendor, uint16_t type, bool hidden)
{
	if (!(flags & AVP_M))
		return;
	if (m->unknown_mandatory && (hidden || !m->unknown_hidden))
		return;
	m->unknown_mandatory = true;
	m->unknown_hidden = hidden;
	m->unknown_vendor = vendor;
	m->unknown_type = type;
}

/* May a hidden AVP of this IETF type be decoded by l2tp_msg_unhide? */
static bool hideable(uint16_t type)
{
	return type < L2TP_AVP_TYPE_MAX && avp_rules[type].kind == AVP_KNOWN && type != L2TP_AVP_MESSAGE_TYPE &&
	       type != L2TP_AVP_RANDOM_VECTOR && type != L2TP_AVP_MESSAGE_DIGEST;
}

int l2tp_ctrl_decode(const uint8_t *buf, size_t len, struct l2tp_msg *ret)
{
	struct l2tp_msg m;
	uint16_t flags;
	size_t end, off, rv_off = 0, rv_len = 0;

	if (len < L2TP_CTRL_HDR_LEN)
		return L2TP_DEC_TOO_SHORT;
	flags = get16(buf);
	if ((flags & L2TP_HDR_VER_MASK) != L2TP_VERSION)
		return L2TP_DEC_BAD_VERSION;
	if ((flags & (L2TP_HDR_T | L2TP_HDR_L | L2TP_HDR_S)) != (L2TP_HDR_T | L2TP_HDR_L | L2TP_HDR_S))
		return L2TP_DEC_BAD_FLAGS;
	end = get16(buf + 2);
	if (end < L2TP_CTRL_HDR_LEN || end > len || end > L2TP_MAX_MSG_LEN)
		return L2TP_DEC_BAD_LENGTH;

	memset(&m, 0, sizeof(m));
	m.ccid = get32(buf + 4);
	m.ns = get16(buf + 8);
	m.nr = get16(buf + 10);
	m.type = L2TP_MSG_ZLB;

	for (off = L2TP_CTRL_HDR_LEN; off < end;) {
		uint16_t aflags, vendor, type;
		const uint8_t *v;
		size_t alen, vlen;
		bool first = off == L2TP_CTRL_HDR_LEN;

		if (end - off < L2TP_AVP_HDR_LEN)
			return L2TP_DEC_BAD_AVP_LENGTH;
		aflags = get16(buf + off);
		alen = aflags & AVP_LEN_MASK;
		if (alen < L2TP_AVP_HDR_LEN || alen > end - off)
			return L2TP_DEC_BAD_AVP_LENGTH;
		vendor = get16(buf + off + 2);
		type = get16(buf + off + 4);
		v = buf + off + L2TP_AVP_HDR_LEN;
		vlen = alen - L2TP_AVP_HDR_LEN;
		off += alen;

		if (first) {
			if (vendor != 0 || type != L2TP_AVP_MESSAGE_TYPE)
				return L2TP_DEC_NO_MSG_TYPE;
			/* 0 is reserved and would read as our ZLB marker */
			if ((aflags & AVP_H) || vlen != 2 || get16(v) == L2TP_MSG_ZLB)
				return L2TP_DEC_BAD_AVP_VALUE;
			m.type = get16(v);
			m.type_mandatory = (aflags & AVP_M) != 0;
			l2tp_msg_set(&m, L2TP_AVP_MESSAGE_TYPE);
			continue;
		}
		if (vendor == 0 && type < L2TP_AVP_TYPE_MAX && avp_rules[type].kind == AVP_V2) {
			if (type == L2TP_AVP_PROTOCOL_VERSION)
				m.v2_protocol_version = true;
			continue;
		}
		if (aflags & AVP_H) {
			bool rec = vendor == 0 && hideable(type) && rv_len && vlen >= 2 &&
				   m.n_hidden_avps < L2TP_HIDDEN_MAX;

			m.n_hidden++;
			if (rec) {
				struct l2tp_hidden_avp *h = &m.hidden[m.n_hidden_avps++];

				h->off = off - alen;
				h->len = alen;
				h->rv_off = rv_off;
				h->rv_len = rv_len;
			}
			note_unknown(&m, aflags, vendor, type, rec);
			continue;
		}
		if (vendor != 0 || type >= L2TP_AVP_TYPE_MAX || avp_rules[type].kind != AVP_KNOWN) {
			note_unknown(&m, aflags, vendor, type, false);
			continue;
		}
		if (type == L2TP_AVP_RANDOM_VECTOR && vlen) {
			rv_off = (size_t)(v - buf);
			rv_len = vlen;
		}
		if (type == L2TP_AVP_MESSAGE_TYPE)
			continue; /* only the first one counts */
		if (!value_ok(type, v, vlen)) {
			if (aflags & AVP_M)
				return L2TP_DEC_BAD_AVP_VALUE;
			continue;
		}
		if (type == L2TP_AVP_MESSAGE_DIGEST && m.n_digests == L2TP_MAX_DIGESTS)
			return L2TP_DEC_TOO_MANY_DIGESTS;
		store(&m, type, v, vlen, (size_t)(v - buf));
		l2tp_msg_set(&m, type);
	}

	*ret = m;
	return L2TP_DEC_OK;
}

/* ---------------------------------------------------------------------- */
/* Hidden AVPs (RFC 3931 §5.3, RFC 2661 §4.3) */

/* key = HMAC-MD5(secret, 0x01) (RFC 3931 §5.3) */
static bool hide_key(const void *secret, size_t secret_len, uint8_t key[16])
{
	static const uint8_t one = 0x01;
	static const uint8_t empty;
	unsigned int n = 0;

	return HMAC(EVP_md5(), secret_len ? secret : &empty, (int)secret_len, &one, 1, key, &n) && n == 16;
}

/* MD5(a || b || c); c may be empty. */
static bool md5_3(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, const uint8_t *c, size_t clen,
		  uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	bool ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, a, alen) &&
	     EVP_DigestUpdate(ctx, b, blen) && (!clen || EVP_DigestUpdate(ctx, c, clen)) &&
	     EVP_DigestFinal_ex(ctx, out, &n) && n == 16;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/*
 * The MD5 chain over 16-byte blocks, in place; the last block may be
 * short.  Each block's mask is MD5(type || key || RV) for the first,
 * MD5(key || previous cipher block) after; decrypt says which of in/out
 * is the cipher text.
 */
static bool hide_crypt(uint16_t type, const uint8_t key[16], const uint8_t *rv, size_t rv_len, uint8_t *data,
		       size_t len, bool decrypt)
{
	uint8_t t[2] = { (uint8_t)(type >> 8), (uint8_t)type };
	uint8_t mask[16], prev[16];
	size_t i, j, n;

	if (!md5_3(t, 2, key, 16, rv, rv_len, mask))
		return false;
	for (i = 0; i < len; i += 16) {
		n = len - i < 16 ? len - i : 16;
		if (decrypt)
			memcpy(prev, data + i, n);
		for (j = 0; j < n; j++)
			data[i + j] ^= mask[j];
		if (!decrypt)
			memcpy(prev, data + i, n);
		if (n == 16 && i + 16 < len && !md5_3(key, 16, prev, 16, NULL, 0, mask))
			return false;
	}
	return true;
}

int l2tp_msg_unhide(struct l2tp_msg *m, const uint8_t *raw, size_t len, const void *secret, size_t secret_len)
{
	struct l2tp_msg u = *m;
	uint8_t key[16], pt[AVP_VALUE_MAX];
	size_t i;

	if (!hide_key(secret, secret_len, key))
		return -ENOMEM;
	if (u.unknown_hidden) {
		u.unknown_mandatory = false;
		u.unknown_hidden = false;
		u.unknown_vendor = 0;
		u.unknown_type = 0;
	}
	for (i = 0; i < u.n_hidden_avps && i < L2TP_HIDDEN_MAX; i++) {
		const struct l2tp_hidden_avp *h = &u.hidden[i];
		uint16_t aflags, type;
		size_t clen, vlen;

		/* offsets come from decoding raw; check them anyway */
		if (h->len < L2TP_AVP_HDR_LEN + 2 || h->off > len || h->len > len - h->off ||
		    h->rv_off > len || h->rv_len > len - h->rv_off || !h->rv_len)
			return -EINVAL;
		aflags = get16(raw + h->off);
		type = get16(raw + h->off + 4);
		if (!hideable(type))
			return -EINVAL;
		clen = h->len - L2TP_AVP_HDR_LEN;
		memcpy(pt, raw + h->off + L2TP_AVP_HDR_LEN, clen);
		if (!hide_crypt(type, key, raw + h->rv_off, h->rv_len, pt, clen, true))
			return -ENOMEM;
		vlen = get16(pt);
		if (vlen > clen - 2)
			return -EBADMSG;
		if (!value_ok(type, pt + 2, vlen)) {
			if (aflags & AVP_M)
				return -EINVAL;
			continue;
		}
		store(&u, type, pt + 2, vlen, 0);
		l2tp_msg_set(&u, type);
	}
	*m = u;
	return 0;
}

int l2tp_avp_hide(uint8_t *buf, size_t cap, bool mandatory, uint16_t type, const uint8_t *value, size_t vlen,
		  size_t pad, const void *secret, size_t secret_len, const uint8_t *rv, size_t rv_len)
{
	uint8_t key[16];
	size_t alen = L2TP_AVP_HDR_LEN + 2 + vlen + pad;

	if (vlen > AVP_VALUE_MAX || pad > AVP_VALUE_MAX || alen > L2TP_AVP_MAX_LEN || !rv_len)
		return -EINVAL;
	if (alen > cap)
		return -ENOBUFS;
	if (!hide_key(secret, secret_len, key))
		return -ENOMEM;
	buf[0] = (uint8_t)((mandatory ? AVP_M >> 8 : 0) | AVP_H >> 8 | alen >> 8);
	buf[1] = (uint8_t)alen;
	buf[2] = 0;
	buf[3] = 0;
	buf[4] = (uint8_t)(type >> 8);
	buf[5] = (uint8_t)type;
	buf[6] = (uint8_t)(vlen >> 8);
	buf[7] = (uint8_t)vlen;
	if (vlen)
		memcpy(buf + 8, value, vlen);
	memset(buf + 8 + vlen, 0, pad);
	if (!hide_crypt(type, key, rv, rv_len, buf + L2TP_AVP_HDR_LEN, alen - L2TP_AVP_HDR_LEN, false))
		return -ENOMEM;
	return (int)alen;
}

/* ---------------------------------------------------------------------- */
/* Encoder */

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t off;
	bool full;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
	if (w->full || w->cap - w->off < n) {
		w->full = true;
		return;
	}
	if (n)
		memcpy(w->p + w->off, data, n);
	w->off += n;
}

static void put16(struct wbuf *w, uint16_t x)
{
	uint8_t b[2] = { (uint8_t)(x >> 8), (uint8_t)x };

	put(w, b, sizeof(b));
}

static void put32(struct wbuf *w, uint32_t x)
{
	put16(w, (uint16_t)(x >> 16));
	put16(w, (uint16_t)x);
}

static void put64(struct wbuf *w, uint64_t x)
{
	put32(w, (uint32_t)(x >> 32));
	put32(w, (uint32_t)x);
}

/* RFC 3931 §5.4: the AVPs we send with M=0; all others go out with M=1. */
static bool avp_m_clear(unsigned type)
{
	switch (type) {
	case L2TP_AVP_FIRMWARE_REV:
	case L2TP_AVP_VENDOR_NAME:
	case L2TP_AVP_SERIAL_NUMBER:
	case L2TP_AVP_PHYS_CHANNEL_ID:
	case L2TP_AVP_PREFERRED_LANGUAGE:
	case L2TP_AVP_TX_CONNECT_SPEED:
	case L2TP_AVP_RX_CONNECT_SPEED:
		return true;
	default:
		return false;
	}
}

/* Write an AVP header for a value of vlen bytes; the caller puts the value. */
static void avp_hdr(struct wbuf *w, unsigned type, size_t vlen)
{
	uint16_t flags = (uint16_t)(L2TP_AVP_HDR_LEN + vlen);

	if (!avp_m_clear(type))
		flags |= AVP_M;
	put16(w, flags);
	put16(w, 0);
	put16(w, (uint16_t)type);
}

static void avp_u16(struct wbuf *w, unsigned type, uint16_t x)
{
	avp_hdr(w, type, 2);
	put16(w, x);
}

static void avp_u32(struct wbuf *w, unsigned type, uint32_t x)
{
	avp_hdr(w, type, 4);
	put32(w, x);
}

static void avp_u64(struct wbuf *w, unsigned type, uint64_t x)
{
	avp_hdr(w, type, 8);
	put64(w, x);
}

static void avp_bytes(struct wbuf *w, unsigned type, const void *v, size_t vlen)
{
	avp_hdr(w, type, vlen);
	put(w, v, vlen);
}

static bool encodable(const struct l2tp_msg *m)
{
	if (m->n_digests > 1)
		return false;
	if (m->n_digests == 1 && m->digest_type[0] != L2TP_DIGEST_HMAC_MD5 &&
	    m->digest_type[0] != L2TP_DIGEST_HMAC_SHA1)
		return false;
	if (l2tp_msg_has(m, L2TP_AVP_CHALLENGE) && (m->challenge_len == 0 || m->challenge_len > L2TP_CHALLENGE_MAX))
		return false;
	if (l2tp_msg_has(m, L2TP_AVP_NONCE) && (m->nonce_len == 0 || m->nonce_len > L2TP_NONCE_MAX))
		return false;
	if (l2tp_msg_has(m, L2TP_AVP_PW_CAPABILITIES) && m->n_pw_caps > L2TP_PW_CAPS_MAX)
		return false;
	if (l2tp_msg_has(m, L2TP_AVP_ASSIGNED_COOKIE) && m->assigned_cookie_len != 0 &&
	    m->assigned_cookie_len != 4 && m->assigned_cookie_len != 8)
		return false;
	if (l2tp_msg_has(m, L2TP_AVP_REMOTE_END_ID) && m->remote_end_id_len > L2TP_END_ID_MAX)
		return false;
	return true;
}

static void encode_avp(struct wbuf *w, const struct l2tp_msg *m, unsigned type)
{
	size_t n, i;

	switch (type) {
	case L2TP_AVP_RESULT_CODE:
		n = strnlen(m->error_msg, L2TP_ERRMSG_MAX);
		avp_hdr(w, type, 2 + (m->has_error_code || n ? 2 + n : 0));
		put16(w, m->result_code);
		if (m->has_error_code || n) {
			put16(w, m->error_code);
			put(w, m->error_msg, n);
		}
		break;
	case L2TP_AVP_TIE_BREAKER:
		avp_bytes(w, type, m->tie_breaker, 8);
		break;
	case L2TP_AVP_HOST_NAME:
		avp_bytes(w, type, m->host_name, strnlen(m->host_name, L2TP_NAME_MAX));
		break;
	case L2TP_AVP_VENDOR_NAME:
		avp_bytes(w, type, m->vendor_name, strnlen(m->vendor_name, L2TP_NAME_MAX));
		break;
	case L2TP_AVP_RECV_WINDOW:
		avp_u16(w, type, m->recv_window);
		break;
	case L2TP_AVP_CHALLENGE:
		avp_bytes(w, type, m->challenge, m->challenge_len);
		break;
	case L2TP_AVP_CHALLENGE_RESPONSE:
		avp_bytes(w, type, m->challenge_response, 16);
		break;
	case L2TP_AVP_SERIAL_NUMBER:
		avp_u32(w, type, m->serial_number);
		break;
	case L2TP_AVP_PHYS_CHANNEL_ID:
		avp_u32(w, type, m->phys_channel_id);
		break;
	case L2TP_AVP_ROUTER_ID:
		avp_u32(w, type, m->router_id);
		break;
	case L2TP_AVP_ASSIGNED_CCID:
		avp_u32(w, type, m->assigned_ccid);
		break;
	case L2TP_AVP_PW_CAPABILITIES:
		avp_hdr(w, type, 2 * m->n_pw_caps);
		for (i = 0; i < m->n_pw_caps; i++)
			put16(w, m->pw_caps[i]);
		break;
	case L2TP_AVP_LOCAL_SESSION_ID:
		avp_u32(w, type, m->local_session_id);
		break;
	case L2TP_AVP_REMOTE_SESSION_ID:
		avp_u32(w, type, m->remote_session_id);
		break;
	case L2TP_AVP_ASSIGNED_COOKIE:
		avp_bytes(w, type, m->assigned_cookie, m->assigned_cookie_len);
		break;
	case L2TP_AVP_REMOTE_END_ID:
		avp_bytes(w, type, m->remote_end_id, m->remote_end_id_len);
		break;
	case L2TP_AVP_PW_TYPE:
		avp_u16(w, type, m->pw_type);
		break;
	case L2TP_AVP_L2SS:
		avp_u16(w, type, m->l2ss);
		break;
	case L2TP_AVP_DATA_SEQUENCING:
		avp_u16(w, type, m->data_sequencing);
		break;
	case L2TP_AVP_CIRCUIT_STATUS:
		avp_u16(w, type, m->circuit_status);
		break;
	case L2TP_AVP_NONCE:
		avp_bytes(w, type, m->nonce, m->nonce_len);
		break;
	case L2TP_AVP_TX_CONNECT_SPEED:
		avp_u64(w, type, m->tx_connect_speed);
		break;
	case L2TP_AVP_RX_CONNECT_SPEED:
		avp_u64(w, type, m->rx_connect_speed);
		break;
	default:
		/* Message Type and Digest are placed by the caller; the rest
		 * (v2 AVPs, Random Vector, Circuit Errors, Preferred Language)
		 * have no field to encode from. */
		break;
	}
}

int l2tp_ctrl_encode(struct l2tp_msg *m, uint8_t *buf, size_t cap)
{
	struct wbuf w = { .p = buf, .cap = cap };
	size_t digest_off = 0;
	unsigned type;

	if (!encodable(m))
		return -EINVAL;

	put16(&w, L2TP_CTRL_FLAGS);
	put16(&w, 0); /* Length, patched below */
	put32(&w, m->ccid);
	put16(&w, m->ns);
	put16(&w, m->nr);

	if (m->type != L2TP_MSG_ZLB) {
		avp_u16(&w, L2TP_AVP_MESSAGE_TYPE, m->type);
		if (m->n_digests == 1) {
			size_t dlen = m->digest_type[0] == L2TP_DIGEST_HMAC_MD5 ? 16 : 20;
			static const uint8_t zero[20];

			avp_hdr(&w, L2TP_AVP_MESSAGE_DIGEST, 1 + dlen);
			digest_off = w.off;
			put(&w, &m->digest_type[0], 1);
			put(&w, zero, dlen);
		}
		for (type = L2TP_AVP_MESSAGE_TYPE + 1; type < L2TP_AVP_TYPE_MAX; type++)
			if (type != L2TP_AVP_MESSAGE_DIGEST && l2tp_msg_has(m, type))
				encode_avp(&w, m, type);
	}

	if (w.full || w.off > UINT16_MAX)
		return -ENOBUFS;
	buf[2] = (uint8_t)(w.off >> 8);
	buf[3] = (uint8_t)w.off;
	if (m->type != L2TP_MSG_ZLB && m->n_digests == 1) {
		memset(m->digest[0], 0, sizeof(m->digest[0]));
		m->digest_off[0] = digest_off;
	}
	return (int)w.off;
}

/* ---------------------------------------------------------------------- */
/* Names */

const char *l2tp_decode_strerror(int err)
{
	switch (err) {
	case L2TP_DEC_OK:
		return "ok";
	case L2TP_DEC_TOO_SHORT:
		return "too short";
	case L2TP_DEC_BAD_VERSION:
		return "bad version";
	case L2TP_DEC_BAD_FLAGS:
		return "bad header flags";
	case L2TP_DEC_BAD_LENGTH:
		return "bad length";
	case L2TP_DEC_BAD_AVP_LENGTH:
		return "bad AVP length";
	case L2TP_DEC_NO_MSG_TYPE:
		return "no message type";
	case L2TP_DEC_BAD_AVP_VALUE:
		return "bad AVP value";
	case L2TP_DEC_TOO_MANY_DIGESTS:
		return "too many digests";
	default:
		return "unknown error";
	}
}

const char *l2tp_msg_type_name(unsigned type)
{
	static const char *const names[] = {
		[L2TP_MSG_ZLB] = "ZLB",
		[L2TP_MSG_SCCRQ] = "SCCRQ",
		[L2TP_MSG_SCCRP] = "SCCRP",
		[L2TP_MSG_SCCCN] = "SCCCN",
		[L2TP_MSG_STOPCCN] = "StopCCN",
		[L2TP_MSG_HELLO] = "HELLO",
		[L2TP_MSG_OCRQ] = "OCRQ",
		[L2TP_MSG_OCRP] = "OCRP",
		[L2TP_MSG_OCCN] = "OCCN",
		[L2TP_MSG_ICRQ] = "ICRQ",
		[L2TP_MSG_ICRP] = "ICRP",
		[L2TP_MSG_ICCN] = "ICCN",
		[L2TP_MSG_CDN] = "CDN",
		[L2TP_MSG_WEN] = "WEN",
		[L2TP_MSG_SLI] = "SLI",
		[L2TP_MSG_ACK] = "ACK",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}
