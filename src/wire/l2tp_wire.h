/* SPDX-License-Identifier: MIT */
/*
 * L2TPv3 wire codec: bytes to structs and back, nothing else.
 *
 * Control messages (RFC 3931 §3.2.1, over UDP) decode into a flat
 * struct l2tp_msg that has one field per AVP we understand and a bitmap
 * saying which were present; encoding goes the other way, so the state
 * machines build a struct and the codec owns byte order, AVP flags and
 * ordering (Message Type first, Message Digest right after it).
 *
 * Data messages (RFC 3931 §4.1.2.1) have tiny inline helpers used by the
 * data path.
 *
 * No I/O, no logging, no allocation: callers own every buffer.
 */
#ifndef L2TP_WIRE_H
#define L2TP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define L2TP_UDP_PORT 1701

/* RFC 3931 §3.2.1 header words */
#define L2TP_HDR_T 0x8000
#define L2TP_HDR_L 0x4000
#define L2TP_HDR_S 0x0800
#define L2TP_HDR_VER_MASK 0x000f
#define L2TP_VERSION 3
#define L2TP_CTRL_FLAGS (L2TP_HDR_T | L2TP_HDR_L | L2TP_HDR_S | L2TP_VERSION) /* 0xC803 */
#define L2TP_CTRL_HDR_LEN 12
#define L2TP_AVP_HDR_LEN 6
#define L2TP_AVP_MAX_LEN 1023
#define L2TP_MAX_MSG_LEN 4096 /* largest control message we build or accept */

/* RFC 3931 §4.1.2.1: data over UDP: flags+ver(0x0003), reserved, session id */
#define L2TP_DATA_UDP_HDR_LEN 8
/* RFC 3931 §4.6 Default L2-Specific Sublayer: S bit, 24-bit sequence number */
#define L2TP_L2SS_S 0x40
#define L2TP_SEQ24_MASK 0xffffffu

/* RFC 3931 §3.1 message types */
enum l2tp_msg_type {
	L2TP_MSG_ZLB = 0, /* our marker: no Message Type AVP at all */
	L2TP_MSG_SCCRQ = 1,
	L2TP_MSG_SCCRP = 2,
	L2TP_MSG_SCCCN = 3,
	L2TP_MSG_STOPCCN = 4,
	L2TP_MSG_HELLO = 6,
	L2TP_MSG_OCRQ = 7,
	L2TP_MSG_OCRP = 8,
	L2TP_MSG_OCCN = 9,
	L2TP_MSG_ICRQ = 10,
	L2TP_MSG_ICRP = 11,
	L2TP_MSG_ICCN = 12,
	L2TP_MSG_CDN = 14,
	L2TP_MSG_WEN = 15,
	L2TP_MSG_SLI = 16,
	L2TP_MSG_ACK = 20,
	L2TP_MSG_TYPE_MAX = 32,
};

/* RFC 3931 §5.4, IETF vendor 0 */
enum l2tp_avp_type {
	L2TP_AVP_MESSAGE_TYPE = 0,
	L2TP_AVP_RESULT_CODE = 1,
	L2TP_AVP_PROTOCOL_VERSION = 2, /* v2 only: recognised and ignored */
	L2TP_AVP_FRAMING_CAP = 3,      /* v2 only */
	L2TP_AVP_BEARER_CAP = 4,       /* v2 only */
	L2TP_AVP_TIE_BREAKER = 5,
	L2TP_AVP_FIRMWARE_REV = 6,
	L2TP_AVP_HOST_NAME = 7,
	L2TP_AVP_VENDOR_NAME = 8,
	L2TP_AVP_ASSIGNED_TUNNEL_ID = 9, /* v2 only */
	L2TP_AVP_RECV_WINDOW = 10,
	L2TP_AVP_CHALLENGE = 11,
	L2TP_AVP_CHALLENGE_RESPONSE = 13,
	L2TP_AVP_ASSIGNED_SESSION_ID = 14, /* v2 only */
	L2TP_AVP_SERIAL_NUMBER = 15,
	L2TP_AVP_TX_CONNECT_SPEED_V2 = 24, /* v2 only */
	L2TP_AVP_PHYS_CHANNEL_ID = 25,
	L2TP_AVP_CIRCUIT_ERRORS = 34,
	L2TP_AVP_RANDOM_VECTOR = 36,
	L2TP_AVP_RX_CONNECT_SPEED_V2 = 38, /* v2 only */
	L2TP_AVP_EXT_VENDOR_ID = 58,
	L2TP_AVP_MESSAGE_DIGEST = 59,
	L2TP_AVP_ROUTER_ID = 60,
	L2TP_AVP_ASSIGNED_CCID = 61,
	L2TP_AVP_PW_CAPABILITIES = 62,
	L2TP_AVP_LOCAL_SESSION_ID = 63,
	L2TP_AVP_REMOTE_SESSION_ID = 64,
	L2TP_AVP_ASSIGNED_COOKIE = 65,
	L2TP_AVP_REMOTE_END_ID = 66,
	L2TP_AVP_PW_TYPE = 68,
	L2TP_AVP_L2SS = 69,
	L2TP_AVP_DATA_SEQUENCING = 70,
	L2TP_AVP_CIRCUIT_STATUS = 71,
	L2TP_AVP_PREFERRED_LANGUAGE = 72,
	L2TP_AVP_NONCE = 73,
	L2TP_AVP_TX_CONNECT_SPEED = 74,
	L2TP_AVP_RX_CONNECT_SPEED = 75,
	L2TP_AVP_TYPE_MAX = 128, /* size of the presence bitmap */
};

/* RFC 3931 §5.4.4 Data Sequencing AVP levels */
enum l2tp_data_seq {
	L2TP_DATA_SEQ_NONE = 0,
	L2TP_DATA_SEQ_NON_IP = 1, /* only non-IP data packets */
	L2TP_DATA_SEQ_ALL = 2,
};

/* RFC 3931 §5.4.2 StopCCN result codes */
enum l2tp_stopccn_result {
	L2TP_STOPCCN_CLEAR = 1,
	L2TP_STOPCCN_ERROR = 2,
	L2TP_STOPCCN_EXISTS = 3,
	L2TP_STOPCCN_NOT_AUTHORIZED = 4,
	L2TP_STOPCCN_BAD_VERSION = 5,
	L2TP_STOPCCN_SHUTDOWN = 6,
	L2TP_STOPCCN_FSM = 7,
};

/* RFC 3931 §5.4.2 CDN result codes */
enum l2tp_cdn_result {
	L2TP_CDN_LOST_CARRIER = 1,
	L2TP_CDN_ERROR = 2,
	L2TP_CDN_ADMIN = 3,
	L2TP_CDN_NO_RESOURCES_TEMP = 4,
	L2TP_CDN_NO_RESOURCES_PERM = 5,
	L2TP_CDN_LOST_TIE = 13,
	L2TP_CDN_PW_TYPE_UNSUPPORTED = 14,
	L2TP_CDN_SEQ_WITHOUT_L2SS = 15,
	L2TP_CDN_FSM = 16,
	L2TP_CDN_UNKNOWN_FORWARDER = 24,   /* RFC 4667 */
	L2TP_CDN_UNAUTH_FORWARDER = 25,    /* RFC 4667 */
};

/* RFC 3931 §5.4.2 error codes (with result 2) */
enum l2tp_error_code {
	L2TP_ERR_NONE = 0,
	L2TP_ERR_NO_CONTROL = 1,
	L2TP_ERR_BAD_LENGTH = 2,
	L2TP_ERR_OUT_OF_RANGE = 3,
	L2TP_ERR_NO_RESOURCES = 4,
	L2TP_ERR_BAD_SESSION_ID = 5,
	L2TP_ERR_VENDOR = 6,
	L2TP_ERR_TRY_ANOTHER = 7,
	L2TP_ERR_UNKNOWN_MANDATORY = 8,
};

#define L2TP_PW_TYPE_ETH_VLAN 0x0004
#define L2TP_PW_TYPE_ETH 0x0005

#define L2TP_CIRCUIT_ACTIVE 0x0001
#define L2TP_CIRCUIT_NEW 0x0002

#define L2TP_DIGEST_HMAC_MD5 0
#define L2TP_DIGEST_HMAC_SHA1 1

/* size limits of decoded variable-length fields; longer values are truncated
 * for names (names_truncated counts it) and rejected as malformed otherwise */
#define L2TP_NAME_MAX 255
#define L2TP_END_ID_MAX 255
#define L2TP_NONCE_MAX 64
#define L2TP_CHALLENGE_MAX 64
#define L2TP_ERRMSG_MAX 255
#define L2TP_PW_CAPS_MAX 16
#define L2TP_MAX_DIGESTS 2
#define L2TP_HIDDEN_MAX 16 /* hidden AVPs recorded per message for l2tp_msg_unhide */

/* Where a hidden AVP (H bit, RFC 3931 §5.3) sits in the raw message, and
 * the Random Vector that precedes it: byte offsets from the flags word. */
struct l2tp_hidden_avp {
	size_t off;    /* AVP header */
	size_t len;    /* whole AVP, header included */
	size_t rv_off; /* Random Vector value */
	size_t rv_len;
};

/*
 * A control message, decoded or to be encoded.  Fields are valid only
 * when the matching bit is set (l2tp_msg_has / l2tp_msg_set); strings are
 * NUL-terminated copies with an explicit length (Remote End ID is opaque).
 */
struct l2tp_msg {
	/* header */
	uint32_t ccid; /* receiver's Control Connection ID */
	uint16_t ns;
	uint16_t nr;
	uint16_t type; /* enum l2tp_msg_type; L2TP_MSG_ZLB if no AVP */
	bool type_mandatory; /* decode: M bit of the Message Type AVP (RFC 3931 §5.4.1) */

	uint32_t present[L2TP_AVP_TYPE_MAX / 32];

	uint16_t result_code;
	uint16_t error_code;       /* valid if has_error_code */
	bool has_error_code;
	char error_msg[L2TP_ERRMSG_MAX + 1];
	uint8_t tie_breaker[8];
	char host_name[L2TP_NAME_MAX + 1];
	char vendor_name[L2TP_NAME_MAX + 1];
	uint16_t recv_window;
	uint8_t challenge[L2TP_CHALLENGE_MAX];
	size_t challenge_len;
	uint8_t challenge_response[16];
	uint32_t serial_number;
	uint32_t phys_channel_id;
	uint32_t router_id;
	uint32_t assigned_ccid;
	uint16_t pw_caps[L2TP_PW_CAPS_MAX];
	size_t n_pw_caps;
	uint32_t local_session_id;
	uint32_t remote_session_id;
	uint8_t assigned_cookie[8];
	size_t assigned_cookie_len; /* 0, 4 or 8 */
	uint8_t remote_end_id[L2TP_END_ID_MAX];
	size_t remote_end_id_len;
	uint16_t pw_type;
	uint16_t l2ss;
	uint16_t data_sequencing;
	uint16_t circuit_status;
	uint8_t nonce[L2TP_NONCE_MAX];
	size_t nonce_len;
	uint64_t tx_connect_speed;
	uint64_t rx_connect_speed;

	/* Message Digest AVPs (RFC 3931 §5.4.1); on decode the offsets let
	 * l2tp_auth_digest_verify zero them in a copy; on encode set
	 * n_digests = 1 and digest_type[0] to reserve room for one digest. */
	size_t n_digests;
	uint8_t digest_type[L2TP_MAX_DIGESTS];
	uint8_t digest[L2TP_MAX_DIGESTS][20];
	size_t digest_off[L2TP_MAX_DIGESTS]; /* offset of the AVP value (type byte) */

	/* decode only: an L2TPv2 Protocol Version AVP (2) was present, as
	 * in freeRtr's v3 SCCRQ/SCCRP (shared/protocol.md §8.5) */
	bool v2_protocol_version;

	/* decode only: the first AVP we did not understand that had M=1
	 * (RFC 3931 §5.2); the state machine decides what to do with it */
	bool unknown_mandatory;
	uint16_t unknown_vendor;
	uint16_t unknown_type;
	bool unknown_hidden; /* ... and it was a hidden AVP l2tp_msg_unhide may decode */
	unsigned n_hidden; /* hidden AVPs seen (decode them with l2tp_msg_unhide) */
	size_t n_hidden_avps; /* of which recorded in hidden[] */
	struct l2tp_hidden_avp hidden[L2TP_HIDDEN_MAX];
	unsigned names_truncated; /* names/messages cut to their field size */
};

static inline bool l2tp_msg_has(const struct l2tp_msg *m, unsigned avp)
{
	return avp < L2TP_AVP_TYPE_MAX && (m->present[avp / 32] >> (avp % 32)) & 1u;
}

static inline void l2tp_msg_set(struct l2tp_msg *m, unsigned avp)
{
	if (avp < L2TP_AVP_TYPE_MAX)
		m->present[avp / 32] |= 1u << (avp % 32);
}

/* Why a datagram was not accepted; every value is countable and has a name. */
enum l2tp_decode_err {
	L2TP_DEC_OK = 0,
	L2TP_DEC_TOO_SHORT = -1,       /* shorter than a header */
	L2TP_DEC_BAD_VERSION = -2,     /* Ver != 3 */
	L2TP_DEC_BAD_FLAGS = -3,       /* control message without L or S */
	L2TP_DEC_BAD_LENGTH = -4,      /* Length field disagrees with datagram */
	L2TP_DEC_BAD_AVP_LENGTH = -5,  /* AVP length < 6 or past the end */
	L2TP_DEC_NO_MSG_TYPE = -6,     /* AVPs present but Message Type not first */
	L2TP_DEC_BAD_AVP_VALUE = -7,   /* known AVP whose value has the wrong size */
	L2TP_DEC_TOO_MANY_DIGESTS = -8,
	L2TP_DEC_ERR_MAX = 9,
};

/* Name of an enum l2tp_decode_err value (a static string). */
const char *l2tp_decode_strerror(int err);

/* Name of a message type ("SCCRQ", ...; "ZLB" for 0; "type-N" otherwise is
 * not possible without a buffer, so unknown types give "unknown"). */
const char *l2tp_msg_type_name(unsigned type);

/*
 * Decode one control message (UDP encapsulation: buf starts at the flags
 * word).  On success fills *ret and returns 0; on failure returns an enum
 * l2tp_decode_err and leaves *ret untouched.  A known AVP with a bad value
 * length makes the whole message L2TP_DEC_BAD_AVP_VALUE if its M bit is set,
 * and is ignored otherwise (RFC 3931 §7.1: treat as unknown).
 */
int l2tp_ctrl_decode(const uint8_t *buf, size_t len, struct l2tp_msg *ret);

/*
 * Encode m (header fields + every present AVP) into buf.  Message Type
 * goes first, then a Message Digest placeholder if m->n_digests is 1
 * (digest bytes zeroed, offset stored in m->digest_off[0]), then the rest in
 * ascending type order.  A ZLB (type L2TP_MSG_ZLB, no AVPs) is 12 bytes.
 * M bits follow RFC 3931 §5.4 (M=0 on Vendor Name, Serial Number, Physical
 * Channel ID, Firmware Revision, Tx/Rx Connect Speed, Preferred Language).
 * Returns the length written, -ENOBUFS if cap is too small, or -EINVAL if
 * a length field is out of range (n_digests > 1, unknown digest_type, empty
 * or oversized nonce/challenge, cookie length not 0/4/8, ...).
 */
int l2tp_ctrl_encode(struct l2tp_msg *m, uint8_t *buf, size_t cap);

/*
 * Hidden AVPs (RFC 3931 §5.3, RFC 2661 §4.3).  The decoder records each
 * hidden IETF AVP it knows (up to L2TP_HIDDEN_MAX, after a Random Vector)
 * and, if its M bit is set, reports it as unknown mandatory until it is
 * decoded.  l2tp_msg_unhide decrypts every recorded AVP of m, decoded from
 * raw/len, with the key HMAC-MD5(secret, 0x01): block 1 is MD5(attribute
 * type || key || Random Vector), block i MD5(key || cipher block i-1); the
 * plaintext is the 2-byte original length, the value and padding.  Each
 * value is then decoded into m like a plain AVP.  Returns 0, or -EBADMSG
 * (original length past the end: wrong secret), -EINVAL (a value of the
 * wrong size with M=1) and leaves m untouched.
 */
int l2tp_msg_unhide(struct l2tp_msg *m, const uint8_t *raw, size_t len, const void *secret, size_t secret_len);

/*
 * Write one hidden AVP (IETF vendor, M bit from mandatory) hiding value
 * with pad bytes of zero padding, for the Random Vector rv that must come
 * before it in the message.  Returns the AVP length, -ENOBUFS if cap is too
 * small, -EINVAL if the AVP would exceed L2TP_AVP_MAX_LEN.
 */
int l2tp_avp_hide(uint8_t *buf, size_t cap, bool mandatory, uint16_t type, const uint8_t *value, size_t vlen,
		  size_t pad, const void *secret, size_t secret_len, const uint8_t *rv, size_t rv_len);

/* Rewrite Nr in an encoded message (retransmissions carry a fresh Nr). */
static inline void l2tp_ctrl_patch_nr(uint8_t *buf, uint16_t nr)
{
	buf[10] = (uint8_t)(nr >> 8);
	buf[11] = (uint8_t)nr;
}

/* Peek at a datagram's first word: true if T=1 (control). len >= 2. */
static inline bool l2tp_is_ctrl(const uint8_t *buf)
{
	return (buf[0] & 0x80) != 0;
}

/* ---------------------------------------------------------------------- */
/* Authentication (RFC 3931 §4.3, §5.4.1; RFC 2661 §4.4.3 challenge style) */

/* shared_key = HMAC-MD5(secret, 0x02) (RFC 3931 §4.3) */
void l2tp_auth_shared_key(const void *secret, size_t secret_len, uint8_t ret_key[16]);

/*
 * Fill in the Message Digest of an encoded message (m as returned by
 * l2tp_ctrl_encode, digest_type[0] chooses MD5 or SHA-1):
 *   digest = HMAC(key, local_nonce || remote_nonce || message)
 * with the digest bytes zero while hashing.  For an SCCRQ pass both nonces
 * empty (RFC 3931 §4.3: the nonce is inside the message).
 */
void l2tp_auth_digest_sign(const uint8_t key[16], const uint8_t *local_nonce, size_t local_nonce_len,
			   const uint8_t *remote_nonce, size_t remote_nonce_len, uint8_t *buf, size_t len,
			   const struct l2tp_msg *m);

/*
 * Verify a received message's digest(s): the sender's nonce is the peer's
 * (peer_nonce), the receiver's is ours.  True if any digest present
 * verifies; false if none is present or none verifies.  Does not modify buf.
 */
bool l2tp_auth_digest_verify(const uint8_t key[16], const uint8_t *peer_nonce, size_t peer_nonce_len,
			     const uint8_t *local_nonce, size_t local_nonce_len, const uint8_t *buf,
			     size_t len, const struct l2tp_msg *m);

/* CHAP-style response MD5(id || secret || challenge), id = message type of
 * the message carrying it: 2 in SCCRP, 3 in SCCCN (RFC 2661 §4.4.3). */
void l2tp_auth_chap_response(uint8_t id, const void *secret, size_t secret_len, const uint8_t *challenge,
			     size_t challenge_len, uint8_t ret_resp[16]);

/* ---------------------------------------------------------------------- */
/* Data messages over UDP (RFC 3931 §4.1.2.1, §4.6 Default L2SS) */

/* Header length for a data packet over UDP: 8 + cookie + (l2ss ? 4 : 0) */
static inline size_t l2tp_data_hdr_len(size_t cookie_len, bool l2ss)
{
	return L2TP_DATA_UDP_HDR_LEN + cookie_len + (l2ss ? 4 : 0);
}

/* Write a UDP data header; returns its length. hdr must hold 20 bytes. */
static inline size_t l2tp_data_hdr_write(uint8_t *hdr, uint32_t peer_sid, const uint8_t *cookie,
					 size_t cookie_len, bool l2ss, bool seq_s, uint32_t seq)
{
	hdr[0] = 0x00;
	hdr[1] = 0x03;
	hdr[2] = 0;
	hdr[3] = 0;
	hdr[4] = (uint8_t)(peer_sid >> 24);
	hdr[5] = (uint8_t)(peer_sid >> 16);
	hdr[6] = (uint8_t)(peer_sid >> 8);
	hdr[7] = (uint8_t)peer_sid;
	size_t off = 8;
	if (cookie_len) {
		memcpy(hdr + off, cookie, cookie_len);
		off += cookie_len;
	}
	if (l2ss) {
		hdr[off] = seq_s ? L2TP_L2SS_S : 0;
		hdr[off + 1] = seq_s ? (uint8_t)(seq >> 16) : 0;
		hdr[off + 2] = seq_s ? (uint8_t)(seq >> 8) : 0;
		hdr[off + 3] = seq_s ? (uint8_t)seq : 0;
		off += 4;
	}
	return off;
}

/*
 * Default L2-Specific Sublayer (RFC 3931 §4.6): 4 bytes, the S bit (0x40
 * of the first) saying the 24-bit Sequence Number that follows is valid.
 * Numbers start at 0 and wrap at 2^24; a number is "not newer" than the
 * last one received when it is that one or one of the 2^23 - 1 before it.
 */
/* Read a Default L2SS; returns true and *ret_seq if S=1, false if S=0. */
static inline bool l2tp_l2ss_read(const uint8_t l2ss[static 4], uint32_t *ret_seq)
{
	if (!(l2ss[0] & L2TP_L2SS_S))
		return false;
	*ret_seq = (uint32_t)l2ss[1] << 16 | (uint32_t)l2ss[2] << 8 | l2ss[3];
	return true;
}

/* Is 24-bit sequence number ns newer than last (RFC 3931 §4.6)?  Newer
 * means 1 .. 2^23 ahead, modulo 2^24. */
static inline bool l2tp_seq24_newer(uint32_t ns, uint32_t last)
{
	uint32_t d = (ns - last) & L2TP_SEQ24_MASK;

	return d != 0 && d <= 0x800000u;
}

/*
 * Parse the fixed part of a UDP data header: checks T=0, Ver=3 and length.
 * Returns 0 and the session id, or an enum l2tp_decode_err.
 */
static inline int l2tp_data_hdr_sid(const uint8_t *buf, size_t len, uint32_t *ret_sid)
{
	if (len < L2TP_DATA_UDP_HDR_LEN)
		return L2TP_DEC_TOO_SHORT;
	if ((buf[1] & L2TP_HDR_VER_MASK) != L2TP_VERSION)
		return L2TP_DEC_BAD_VERSION;
	*ret_sid = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
	return 0;
}

#endif
