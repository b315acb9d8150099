/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the L2TPv3 control message codec (src/wire/l2tp_wire.c)
 * and the inline data header helpers: round trips of every message we
 * send, real freeRtr messages from shared/captures, and malformed input.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire/l2tp_wire.h"

#define BUF_MAX L2TP_MAX_MSG_LEN

/* Parse a hex string into buf; returns its length. */
static size_t hex2bin(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	while (hex[0] && hex[1]) {
		unsigned x;

		assert_true(n < cap);
		assert_int_equal(sscanf(hex, "%2x", &x), 1);
		buf[n++] = (uint8_t)x;
		hex += 2;
	}
	return n;
}

/* ---------------------------------------------------------------------- */
/* Messages we send */

static void msg_init(struct l2tp_msg *m, uint16_t type, uint32_t ccid, uint16_t ns, uint16_t nr)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->ccid = ccid;
	m->ns = ns;
	m->nr = nr;
	if (type != L2TP_MSG_ZLB)
		l2tp_msg_set(m, L2TP_AVP_MESSAGE_TYPE);
}

static void set_digest(struct l2tp_msg *m, uint8_t type)
{
	m->n_digests = 1;
	m->digest_type[0] = type;
	l2tp_msg_set(m, L2TP_AVP_MESSAGE_DIGEST); /* as decode reports it; encode looks at n_digests */
}

static void make_sccrq(struct l2tp_msg *m)
{
	static const uint16_t caps[] = { 5, 4 };
	size_t i;

	msg_init(m, L2TP_MSG_SCCRQ, 0, 0, 0);
	strcpy(m->host_name, "RT1");
	l2tp_msg_set(m, L2TP_AVP_HOST_NAME);
	m->router_id = 3232236042u; /* 192.168.2.10 */
	l2tp_msg_set(m, L2TP_AVP_ROUTER_ID);
	m->assigned_ccid = 54524;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_CCID);
	memcpy(m->pw_caps, caps, sizeof(caps));
	m->n_pw_caps = 2;
	l2tp_msg_set(m, L2TP_AVP_PW_CAPABILITIES);
	strcpy(m->vendor_name, "l2tpv3d");
	l2tp_msg_set(m, L2TP_AVP_VENDOR_NAME);
	m->recv_window = 16;
	l2tp_msg_set(m, L2TP_AVP_RECV_WINDOW);
	for (i = 0; i < 16; i++)
		m->nonce[i] = (uint8_t)(0xa0 + i);
	m->nonce_len = 16;
	l2tp_msg_set(m, L2TP_AVP_NONCE);
	for (i = 0; i < 8; i++)
		m->tie_breaker[i] = (uint8_t)(i * 17);
	l2tp_msg_set(m, L2TP_AVP_TIE_BREAKER);
	set_digest(m, L2TP_DIGEST_HMAC_MD5);
}

static void make_sccrp(struct l2tp_msg *m)
{
	static const uint16_t caps[] = { 5 };
	size_t i;

	msg_init(m, L2TP_MSG_SCCRP, 54524, 0, 1);
	strcpy(m->host_name, "RT2");
	l2tp_msg_set(m, L2TP_AVP_HOST_NAME);
	m->router_id = 3232236043u;
	l2tp_msg_set(m, L2TP_AVP_ROUTER_ID);
	m->assigned_ccid = 50910;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_CCID);
	memcpy(m->pw_caps, caps, sizeof(caps));
	m->n_pw_caps = 1;
	l2tp_msg_set(m, L2TP_AVP_PW_CAPABILITIES);
	strcpy(m->vendor_name, "l2tpv3d");
	l2tp_msg_set(m, L2TP_AVP_VENDOR_NAME);
	m->recv_window = 4;
	l2tp_msg_set(m, L2TP_AVP_RECV_WINDOW);
	for (i = 0; i < 20; i++)
		m->nonce[i] = (uint8_t)(0x50 + i);
	m->nonce_len = 20;
	l2tp_msg_set(m, L2TP_AVP_NONCE);
	for (i = 0; i < 16; i++)
		m->challenge[i] = (uint8_t)(0x10 + i);
	m->challenge_len = 16;
	l2tp_msg_set(m, L2TP_AVP_CHALLENGE);
	for (i = 0; i < 16; i++)
		m->challenge_response[i] = (uint8_t)(0xe0 + i);
	l2tp_msg_set(m, L2TP_AVP_CHALLENGE_RESPONSE);
	set_digest(m, L2TP_DIGEST_HMAC_SHA1);
}

static void make_scccn(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_SCCCN, 50910, 1, 1);
	memset(m->challenge_response, 0x42, 16);
	l2tp_msg_set(m, L2TP_AVP_CHALLENGE_RESPONSE);
	set_digest(m, L2TP_DIGEST_HMAC_MD5);
}

static void make_stopccn(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_STOPCCN, 50910, 2, 1);
	m->result_code = L2TP_STOPCCN_ERROR;
	m->error_code = L2TP_ERR_UNKNOWN_MANDATORY;
	m->has_error_code = true;
	strcpy(m->error_msg, "unknown mandatory AVP 99");
	l2tp_msg_set(m, L2TP_AVP_RESULT_CODE);
	m->assigned_ccid = 54524;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_CCID);
}

static void make_hello(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_HELLO, 50910, 3, 7);
}

static void make_ack(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_ACK, 50910, 4, 8);
	set_digest(m, L2TP_DIGEST_HMAC_MD5);
}

static void make_zlb(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_ZLB, 50910, 4, 9);
}

static void make_icrq(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_ICRQ, 50910, 2, 1);
	m->local_session_id = 14473;
	l2tp_msg_set(m, L2TP_AVP_LOCAL_SESSION_ID);
	m->remote_session_id = 0;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_SESSION_ID);
	m->serial_number = 77;
	l2tp_msg_set(m, L2TP_AVP_SERIAL_NUMBER);
	m->pw_type = L2TP_PW_TYPE_ETH;
	l2tp_msg_set(m, L2TP_AVP_PW_TYPE);
	memcpy(m->remote_end_id, "yamaha", 6);
	m->remote_end_id_len = 6;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_END_ID);
	m->circuit_status = L2TP_CIRCUIT_ACTIVE | L2TP_CIRCUIT_NEW;
	l2tp_msg_set(m, L2TP_AVP_CIRCUIT_STATUS);
	m->assigned_cookie_len = 0;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_COOKIE);
	m->l2ss = 0;
	l2tp_msg_set(m, L2TP_AVP_L2SS);
	memset(m->tie_breaker, 0x5a, 8);
	l2tp_msg_set(m, L2TP_AVP_TIE_BREAKER);
}

static void make_icrp(struct l2tp_msg *m)
{
	static const uint8_t cookie[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	msg_init(m, L2TP_MSG_ICRP, 54524, 1, 3);
	m->local_session_id = 54668;
	l2tp_msg_set(m, L2TP_AVP_LOCAL_SESSION_ID);
	m->remote_session_id = 14473;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_SESSION_ID);
	m->circuit_status = L2TP_CIRCUIT_ACTIVE;
	l2tp_msg_set(m, L2TP_AVP_CIRCUIT_STATUS);
	memcpy(m->assigned_cookie, cookie, 8);
	m->assigned_cookie_len = 8;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_COOKIE);
	m->l2ss = 1;
	l2tp_msg_set(m, L2TP_AVP_L2SS);
	m->data_sequencing = 2;
	l2tp_msg_set(m, L2TP_AVP_DATA_SEQUENCING);
	m->tx_connect_speed = 10000000000ull;
	l2tp_msg_set(m, L2TP_AVP_TX_CONNECT_SPEED);
	m->rx_connect_speed = 0xfedcba9876543210ull;
	l2tp_msg_set(m, L2TP_AVP_RX_CONNECT_SPEED);
	m->phys_channel_id = 0xdeadbeef;
	l2tp_msg_set(m, L2TP_AVP_PHYS_CHANNEL_ID);
}

static void make_iccn(struct l2tp_msg *m)
{
	static const uint8_t cookie[4] = { 0x11, 0x22, 0x33, 0x44 };

	msg_init(m, L2TP_MSG_ICCN, 50910, 3, 2);
	m->local_session_id = 14473;
	l2tp_msg_set(m, L2TP_AVP_LOCAL_SESSION_ID);
	m->remote_session_id = 54668;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_SESSION_ID);
	m->circuit_status = L2TP_CIRCUIT_ACTIVE;
	l2tp_msg_set(m, L2TP_AVP_CIRCUIT_STATUS);
	memcpy(m->assigned_cookie, cookie, 4);
	m->assigned_cookie_len = 4;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_COOKIE);
	m->l2ss = 0;
	l2tp_msg_set(m, L2TP_AVP_L2SS);
}

static void make_cdn(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_CDN, 50910, 5, 3);
	m->result_code = L2TP_CDN_ADMIN;
	l2tp_msg_set(m, L2TP_AVP_RESULT_CODE);
	m->local_session_id = 14473;
	l2tp_msg_set(m, L2TP_AVP_LOCAL_SESSION_ID);
	m->remote_session_id = 54668;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_SESSION_ID);
}

static void make_sli(struct l2tp_msg *m)
{
	msg_init(m, L2TP_MSG_SLI, 50910, 6, 3);
	m->local_session_id = 14473;
	l2tp_msg_set(m, L2TP_AVP_LOCAL_SESSION_ID);
	m->remote_session_id = 54668;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_SESSION_ID);
	m->circuit_status = 0;
	l2tp_msg_set(m, L2TP_AVP_CIRCUIT_STATUS);
}

typedef void (*make_fn)(struct l2tp_msg *m);

static const make_fn all_makers[] = {
	make_sccrq, make_sccrp, make_scccn, make_stopccn, make_hello, make_ack,
	make_zlb,   make_icrq,  make_iccn,  make_icrp,    make_cdn,   make_sli,
};
#define N_MAKERS (sizeof(all_makers) / sizeof(all_makers[0]))

/* ---------------------------------------------------------------------- */
/* Round trips */

static void assert_msg_equal(const struct l2tp_msg *a, const struct l2tp_msg *b)
{
	size_t i;

	assert_int_equal(a->ccid, b->ccid);
	assert_int_equal(a->ns, b->ns);
	assert_int_equal(a->nr, b->nr);
	assert_int_equal(a->type, b->type);
	assert_memory_equal(a->present, b->present, sizeof(a->present));
	if (l2tp_msg_has(a, L2TP_AVP_RESULT_CODE)) {
		assert_int_equal(a->result_code, b->result_code);
		assert_int_equal(a->has_error_code, b->has_error_code);
		assert_int_equal(a->error_code, b->error_code);
		assert_string_equal(a->error_msg, b->error_msg);
	}
	if (l2tp_msg_has(a, L2TP_AVP_TIE_BREAKER))
		assert_memory_equal(a->tie_breaker, b->tie_breaker, 8);
	assert_string_equal(a->host_name, b->host_name);
	assert_string_equal(a->vendor_name, b->vendor_name);
	assert_int_equal(a->recv_window, b->recv_window);
	assert_int_equal(a->challenge_len, b->challenge_len);
	assert_memory_equal(a->challenge, b->challenge, a->challenge_len);
	if (l2tp_msg_has(a, L2TP_AVP_CHALLENGE_RESPONSE))
		assert_memory_equal(a->challenge_response, b->challenge_response, 16);
	assert_int_equal(a->serial_number, b->serial_number);
	assert_int_equal(a->phys_channel_id, b->phys_channel_id);
	assert_int_equal(a->router_id, b->router_id);
	assert_int_equal(a->assigned_ccid, b->assigned_ccid);
	assert_int_equal(a->n_pw_caps, b->n_pw_caps);
	for (i = 0; i < a->n_pw_caps; i++)
		assert_int_equal(a->pw_caps[i], b->pw_caps[i]);
	assert_int_equal(a->local_session_id, b->local_session_id);
	assert_int_equal(a->remote_session_id, b->remote_session_id);
	assert_int_equal(a->assigned_cookie_len, b->assigned_cookie_len);
	assert_memory_equal(a->assigned_cookie, b->assigned_cookie, a->assigned_cookie_len);
	assert_int_equal(a->remote_end_id_len, b->remote_end_id_len);
	assert_memory_equal(a->remote_end_id, b->remote_end_id, a->remote_end_id_len);
	assert_int_equal(a->pw_type, b->pw_type);
	assert_int_equal(a->l2ss, b->l2ss);
	assert_int_equal(a->data_sequencing, b->data_sequencing);
	assert_int_equal(a->circuit_status, b->circuit_status);
	assert_int_equal(a->nonce_len, b->nonce_len);
	assert_memory_equal(a->nonce, b->nonce, a->nonce_len);
	assert_true(a->tx_connect_speed == b->tx_connect_speed);
	assert_true(a->rx_connect_speed == b->rx_connect_speed);
	assert_int_equal(a->n_digests, b->n_digests);
	for (i = 0; i < a->n_digests; i++) {
		assert_int_equal(a->digest_type[i], b->digest_type[i]);
		assert_int_equal(a->digest_off[i], b->digest_off[i]);
		assert_memory_equal(a->digest[i], b->digest[i], 20);
	}
	assert_false(b->unknown_mandatory);
	assert_int_equal(b->n_hidden, 0);
	assert_int_equal(b->names_truncated, 0);
}

/* Encode, decode, compare; returns the encoded length. */
static int roundtrip(make_fn make, uint8_t *buf)
{
	struct l2tp_msg in, out;
	int len;

	make(&in);
	len = l2tp_ctrl_encode(&in, buf, BUF_MAX);
	assert_true(len >= L2TP_CTRL_HDR_LEN);
	assert_int_equal(buf[0] << 8 | buf[1], L2TP_CTRL_FLAGS);
	assert_int_equal(buf[2] << 8 | buf[3], len);
	memset(&out, 0xff, sizeof(out));
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)len, &out), L2TP_DEC_OK);
	assert_msg_equal(&in, &out);
	return len;
}

static void test_roundtrip_sccrq(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_sccrq, buf);
}

static void test_roundtrip_sccrp(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_sccrp, buf);
}

static void test_roundtrip_scccn(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_scccn, buf);
}

static void test_roundtrip_stopccn_result_with_error_and_message(void **state)
{
	uint8_t buf[BUF_MAX];
	struct l2tp_msg m;

	(void)state;
	roundtrip(make_stopccn, buf);

	/* result only: a 2-byte value, has_error_code false */
	make_stopccn(&m);
	m.has_error_code = false;
	m.error_code = 0;
	m.error_msg[0] = '\0';
	assert_int_equal(l2tp_ctrl_encode(&m, buf, sizeof(buf)), 12 + 8 + 8 + 10);
	assert_int_equal(l2tp_ctrl_decode(buf, 38, &m), 0);
	assert_false(m.has_error_code);
	/* a message without has_error_code still carries the error slot */
	make_stopccn(&m);
	m.has_error_code = false;
	m.error_code = 0;
	assert_true(l2tp_ctrl_encode(&m, buf, sizeof(buf)) > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, sizeof(buf), &m), 0);
	assert_true(m.has_error_code);
	assert_int_equal(m.error_code, 0);
	assert_string_equal(m.error_msg, "unknown mandatory AVP 99");
}

static void test_roundtrip_hello(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	assert_int_equal(roundtrip(make_hello, buf), 20);
}

static void test_roundtrip_ack_with_digest(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	assert_int_equal(roundtrip(make_ack, buf), 12 + 8 + 23);
}

static void test_roundtrip_zlb_is_12_bytes(void **state)
{
	uint8_t buf[BUF_MAX];
	struct l2tp_msg m;

	(void)state;
	assert_int_equal(roundtrip(make_zlb, buf), 12);
	/* present bits and digests are ignored for a ZLB */
	make_zlb(&m);
	l2tp_msg_set(&m, L2TP_AVP_HOST_NAME);
	set_digest(&m, L2TP_DIGEST_HMAC_MD5);
	assert_int_equal(l2tp_ctrl_encode(&m, buf, 12), 12);
}

static void test_roundtrip_icrq(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_icrq, buf);
}

static void test_roundtrip_icrp(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_icrp, buf);
}

static void test_roundtrip_iccn(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_iccn, buf);
}

static void test_roundtrip_cdn(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_cdn, buf);
}

static void test_roundtrip_sli(void **state)
{
	uint8_t buf[BUF_MAX];

	(void)state;
	roundtrip(make_sli, buf);
}

/* Walk the encoded AVPs: Message Type first, Digest second, then ascending
 * types; M=0 exactly on the RFC 3931 M=0 AVPs; H never set. */
static void test_encode_avp_order_and_flags(void **state)
{
	uint8_t buf[BUF_MAX];
	size_t k;

	(void)state;
	for (k = 0; k < N_MAKERS; k++) {
		struct l2tp_msg m;
		int len, idx = 0, prev = -1;
		size_t off;

		all_makers[k](&m);
		len = l2tp_ctrl_encode(&m, buf, sizeof(buf));
		assert_true(len > 0);
		for (off = L2TP_CTRL_HDR_LEN; off < (size_t)len; idx++) {
			unsigned flags = (unsigned)(buf[off] << 8 | buf[off + 1]);
			unsigned vendor = (unsigned)(buf[off + 2] << 8 | buf[off + 3]);
			int type = buf[off + 4] << 8 | buf[off + 5];
			bool m0 = type == 6 || type == 8 || type == 15 || type == 25 || type == 72 || type == 74 ||
				  type == 75;

			assert_int_equal(vendor, 0);
			assert_int_equal(flags & 0x4000, 0);
			assert_int_equal(flags & 0x3c00, 0);
			assert_int_equal(!!(flags & 0x8000), !m0);
			if (idx == 0)
				assert_int_equal(type, L2TP_AVP_MESSAGE_TYPE);
			else if (idx == 1 && m.n_digests)
				assert_int_equal(type, L2TP_AVP_MESSAGE_DIGEST);
			else
				assert_true(type > prev);
			if (type == L2TP_AVP_MESSAGE_DIGEST) {
				assert_int_equal(m.digest_off[0], off + 6);
				assert_int_equal(buf[off + 6], m.digest_type[0]);
			} else {
				prev = type;
			}
			off += flags & 0x3ff;
		}
		assert_int_equal(off, (size_t)len);
	}
}

static void test_encode_enobufs_for_every_short_cap(void **state)
{
	uint8_t buf[BUF_MAX];
	size_t k;

	(void)state;
	for (k = 0; k < N_MAKERS; k++) {
		struct l2tp_msg m;
		int len;
		size_t cap;

		all_makers[k](&m);
		len = l2tp_ctrl_encode(&m, buf, sizeof(buf));
		assert_true(len > 0);
		for (cap = 0; cap < (size_t)len; cap++) {
			uint8_t *small = malloc(cap ? cap : 1);

			assert_non_null(small);
			assert_int_equal(l2tp_ctrl_encode(&m, small, cap), -ENOBUFS);
			free(small);
		}
	}
}

static void test_encode_einval_on_bad_lengths(void **state)
{
	uint8_t buf[BUF_MAX];
	struct l2tp_msg m;

	(void)state;
	make_icrq(&m);
	m.assigned_cookie_len = 5;
	assert_int_equal(l2tp_ctrl_encode(&m, buf, sizeof(buf)), -EINVAL);
	make_sccrq(&m);
	m.nonce_len = L2TP_NONCE_MAX + 1;
	assert_int_equal(l2tp_ctrl_encode(&m, buf, sizeof(buf)), -EINVAL);
	make_sccrq(&m);
	m.n_pw_caps = L2TP_PW_CAPS_MAX + 1;
	assert_int_equal(l2tp_ctrl_encode(&m, buf, sizeof(buf)), -EINVAL);
	make_sccrq(&m);
	m.digest_type[0] = 7;
	assert_int_equal(l2tp_ctrl_encode(&m, buf, sizeof(buf)), -EINVAL);
	make_sccrq(&m);
	m.n_digests = 2;
	assert_int_equal(l2tp_ctrl_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_encode_patch_nr(void **state)
{
	uint8_t buf[BUF_MAX];
	struct l2tp_msg m;
	int len;

	(void)state;
	make_hello(&m);
	len = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	l2tp_ctrl_patch_nr(buf, 0xbeef);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)len, &m), 0);
	assert_int_equal(m.nr, 0xbeef);
	assert_true(l2tp_is_ctrl(buf));
}

/* ---------------------------------------------------------------------- */
/* Real messages: freeRtr <-> freeRtr over IP/115, from
 * shared/captures/freertr-l2tpv3*.pcap, the 4 zero bytes stripped. */

static const char sccrq_hex[] = /* freertr-l2tpv3.pcap frame 3 */
	"c8030071000000000000000080080000000000018008000000020100800a00000003"
	"00000003000a0000000400000003000e00000005fffffffffffffff0800900000007"
	"66726180080000000a0400000a0000003cc6336401000a0000003d1402503c000e00"
	"00003e0005000400060007";
static const char sccrp_hex[] = /* frame 4 */
	"c80300631402503c0000000180080000000000028008000000020100800a00000003"
	"00000003000a000000040000000380090000000766726280080000000a0400000a00"
	"00003cc6336402000a0000003d2c0eda9a000e0000003e0005000400060007";
static const char scccn_hex[] = /* frame 5 */
	"c80300142c0eda9a000100018008000000000003";
static const char zlb_hex[] = /* frame 6 */
	"c803000c1402503c00010002";
static const char icrq_hex[] = /* frame 7 */
	"c803005a2c0eda9a00020001800800000000000a000e00000005fffffffffffffff0"
	"800a0000000f00000001000a0000003f49e41418000a0000004000000000000a0000"
	"00423132333400080000004400050008000000470001";
static const char icrp_hex[] = /* frame 8 */
	"c803004c1402503c00010003800800000000000b800a0000000f00000001000a0000"
	"003f4df7da61000a0000004049e41418000a000000423132333400080000004400050"
	"008000000470001";
static const char iccn_hex[] = /* frame 10: v2 connect speeds 24, 38 */
	"c80300442c0eda9a00030002800800000000000c000a000000180000fa00000a0000"
	"00260000fa00000a0000003f49e41418000a000000404df7da610008000000470001";
static const char sli_hex[] = /* frame 12 */
	"c80300301402503c000200048008000000000010000a0000003f4df7da61000a0000"
	"004049e414180008000000470001";
static const char hello_hex[] = /* frame 16 */
	"c80300142c0eda9a000500038008000000000006";
static const char auth_sccrq_hex[] = /* freertr-l2tpv3-auth.pcap frame 3 */
	"c8030087000000000000000080080000000000018008000000020100800a00000003"
	"00000003000a0000000400000003000e00000005fffffffffffffff0800900000007"
	"66726180080000000a0400000a0000003cc6336401000a0000003d3eea4119000e00"
	"00003e000500040006000700160000000b261d3350236d444b6f161360696f7266";
static const char auth_sccrp_hex[] = /* frame 4 */
	"c803008f3eea41190000000180080000000000028008000000020100800a00000003"
	"00000003000a000000040000000380090000000766726280080000000a0400000a00"
	"00003cc6336402000a0000003d10d4b90a000e0000003e0005000400060007001600"
	"00000b6a7919662f06414e1f580d770b55156b00160000000deb94610d20eada7e6a"
	"f3c7272bdaab58";
static const char auth_scccn_hex[] = /* frame 5 */
	"c803002a10d4b90a00010001800800000000000300160000000d08243871d191a2e5"
	"0f176bfb717469f8";

static void decode_hex(const char *hex, struct l2tp_msg *m)
{
	uint8_t buf[BUF_MAX];
	size_t len = hex2bin(hex, buf, sizeof(buf));

	assert_int_equal(l2tp_ctrl_decode(buf, len, m), L2TP_DEC_OK);
	assert_false(m->unknown_mandatory); /* v2 AVPs with M=1 are recognised */
	assert_int_equal(m->n_hidden, 0);
	assert_int_equal(m->n_digests, 0);
}

static void test_freertr_sccrq_sccrp_identity(void **state)
{
	static const uint16_t caps[] = { 5, 4, 6, 7 };
	static const uint8_t tb[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0 };
	struct l2tp_msg m;

	(void)state;
	decode_hex(sccrq_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCRQ);
	assert_int_equal(m.ccid, 0);
	assert_int_equal(m.ns, 0);
	assert_int_equal(m.nr, 0);
	assert_string_equal(m.host_name, "fra");
	assert_int_equal(m.router_id, 3325256705u); /* 198.51.100.1 */
	assert_int_equal(m.assigned_ccid, 335695932u);
	assert_int_equal(m.recv_window, 1024);
	assert_int_equal(m.n_pw_caps, 4);
	assert_memory_equal(m.pw_caps, caps, sizeof(caps));
	assert_true(l2tp_msg_has(&m, L2TP_AVP_TIE_BREAKER)); /* sent with M=0 */
	assert_memory_equal(m.tie_breaker, tb, 8);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_PROTOCOL_VERSION));
	assert_false(l2tp_msg_has(&m, L2TP_AVP_VENDOR_NAME));

	decode_hex(sccrp_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCRP);
	assert_int_equal(m.ccid, 0x1402503c);
	assert_int_equal(m.ns, 0);
	assert_int_equal(m.nr, 1);
	assert_string_equal(m.host_name, "frb");
	assert_int_equal(m.router_id, 3325256706u);
	assert_int_equal(m.assigned_ccid, 739170970u);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_TIE_BREAKER));
}

static void test_freertr_scccn_zlb_hello(void **state)
{
	struct l2tp_msg m;

	(void)state;
	decode_hex(scccn_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCCN);
	assert_int_equal(m.ccid, 0x2c0eda9a);
	assert_int_equal(m.ns, 1);
	assert_int_equal(m.nr, 1);

	decode_hex(zlb_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_ZLB);
	assert_int_equal(m.ccid, 0x1402503c);
	assert_int_equal(m.ns, 1);
	assert_int_equal(m.nr, 2);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_MESSAGE_TYPE));

	decode_hex(hello_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_HELLO);
	assert_int_equal(m.ns, 5);
	assert_int_equal(m.nr, 3);
}

static void test_freertr_session_messages(void **state)
{
	struct l2tp_msg m;

	(void)state;
	decode_hex(icrq_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRQ);
	assert_int_equal(m.local_session_id, 1239684120u);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_REMOTE_SESSION_ID));
	assert_int_equal(m.remote_session_id, 0);
	assert_int_equal(m.serial_number, 1);
	assert_int_equal(m.remote_end_id_len, 4);
	assert_memory_equal(m.remote_end_id, "1234", 4);
	assert_int_equal(m.pw_type, L2TP_PW_TYPE_ETH);
	assert_int_equal(m.circuit_status, L2TP_CIRCUIT_ACTIVE);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_COOKIE));
	assert_false(l2tp_msg_has(&m, L2TP_AVP_L2SS));

	decode_hex(icrp_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	assert_int_equal(m.local_session_id, 1308088929u);
	assert_int_equal(m.remote_session_id, 1239684120u);

	decode_hex(iccn_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_ICCN);
	assert_int_equal(m.local_session_id, 1239684120u);
	assert_int_equal(m.remote_session_id, 1308088929u);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_TX_CONNECT_SPEED));
	assert_false(l2tp_msg_has(&m, L2TP_AVP_TX_CONNECT_SPEED_V2));

	decode_hex(sli_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_SLI);
	assert_int_equal(m.local_session_id, 1308088929u);
	assert_int_equal(m.remote_session_id, 1239684120u);
	assert_int_equal(m.circuit_status, L2TP_CIRCUIT_ACTIVE);
}

static void test_freertr_challenge_avps(void **state)
{
	static const uint8_t ch1[16] = { 0x26, 0x1d, 0x33, 0x50, 0x23, 0x6d, 0x44, 0x4b,
					 0x6f, 0x16, 0x13, 0x60, 0x69, 0x6f, 0x72, 0x66 };
	static const uint8_t resp1[16] = { 0xeb, 0x94, 0x61, 0x0d, 0x20, 0xea, 0xda, 0x7e,
					   0x6a, 0xf3, 0xc7, 0x27, 0x2b, 0xda, 0xab, 0x58 };
	struct l2tp_msg m;

	(void)state;
	decode_hex(auth_sccrq_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCRQ);
	assert_int_equal(m.challenge_len, 16);
	assert_memory_equal(m.challenge, ch1, 16);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE_RESPONSE));

	decode_hex(auth_sccrp_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCRP);
	assert_int_equal(m.challenge_len, 16);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE_RESPONSE));
	assert_memory_equal(m.challenge_response, resp1, 16);

	decode_hex(auth_scccn_hex, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCCN);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE_RESPONSE));
	assert_int_equal(m.challenge_response[0], 0x08);
}

/* ---------------------------------------------------------------------- */
/* Malformed input */

static const char *const all_hex[] = {
	sccrq_hex, sccrp_hex, scccn_hex, zlb_hex, icrq_hex, icrp_hex, iccn_hex,
	sli_hex, hello_hex, auth_sccrq_hex, auth_sccrp_hex, auth_scccn_hex,
};

/* Every truncation, with the Length field left alone and with it patched
 * to the truncated size: an error or a clean decode, never a crash (ASan
 * sees every byte past the copy because each copy is malloc'd exactly). */
static void check_truncations(const uint8_t *full, size_t len)
{
	size_t cut;

	for (cut = 0; cut < len; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		struct l2tp_msg m;
		int rc;

		assert_non_null(b);
		memcpy(b, full, cut);
		rc = l2tp_ctrl_decode(b, cut, &m);
		if (cut < L2TP_CTRL_HDR_LEN)
			assert_int_equal(rc, L2TP_DEC_TOO_SHORT);
		else
			assert_int_equal(rc, L2TP_DEC_BAD_LENGTH);
		if (cut >= 4) {
			b[2] = (uint8_t)(cut >> 8);
			b[3] = (uint8_t)cut;
			rc = l2tp_ctrl_decode(b, cut, &m);
			assert_true(rc <= 0 && rc > -L2TP_DEC_ERR_MAX);
		}
		free(b);
	}
}

static void test_malformed_every_truncation(void **state)
{
	uint8_t buf[BUF_MAX];
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(all_hex) / sizeof(all_hex[0]); k++)
		check_truncations(buf, hex2bin(all_hex[k], buf, sizeof(buf)));
	for (k = 0; k < N_MAKERS; k++) {
		struct l2tp_msg m;
		int len;

		all_makers[k](&m);
		len = l2tp_ctrl_encode(&m, buf, sizeof(buf));
		check_truncations(buf, (size_t)len);
	}
}

/* HELLO header + Message Type AVP, then room for one more AVP. */
static size_t hello_plus(uint8_t *buf, const uint8_t *avp, size_t avp_len)
{
	size_t len = hex2bin(hello_hex, buf, BUF_MAX);

	memcpy(buf + len, avp, avp_len);
	len += avp_len;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	return len;
}

static void test_malformed_avp_length_0_to_5(void **state)
{
	uint8_t buf[BUF_MAX];
	uint8_t avp[8] = { 0x80, 0, 0, 0, 0, 7, 0, 0 };
	struct l2tp_msg m;
	unsigned l;

	(void)state;
	for (l = 0; l < 6; l++) {
		avp[1] = (uint8_t)l;
		assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, 8), &m), L2TP_DEC_BAD_AVP_LENGTH);
	}
	/* a 6-byte AVP is fine (empty Host Name) */
	avp[1] = 6;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, 6), &m), L2TP_DEC_OK);
	/* fewer than 6 bytes left for an AVP header */
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, 5), &m), L2TP_DEC_BAD_AVP_LENGTH);
}

static void test_malformed_avp_past_end(void **state)
{
	uint8_t buf[BUF_MAX];
	const uint8_t avp[] = { 0x80, 11, 0, 0, 0, 7, 'a', 'b', 'c', 'd' };
	struct l2tp_msg m;
	size_t len;

	(void)state;
	len = hello_plus(buf, avp, sizeof(avp));
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_AVP_LENGTH);
	/* the datagram has the byte, but Length excludes it */
	buf[len] = 'e';
	assert_int_equal(l2tp_ctrl_decode(buf, len + 1, &m), L2TP_DEC_BAD_AVP_LENGTH);
	/* AVP length reaching 1023 in a short message */
	buf[20] = 0x83;
	buf[21] = 0xff;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_AVP_LENGTH);
}

static void test_malformed_header(void **state)
{
	uint8_t buf[BUF_MAX];
	struct l2tp_msg m, keep;
	size_t len = hex2bin(hello_hex, buf, sizeof(buf));

	(void)state;
	memset(&keep, 0x77, sizeof(keep));
	m = keep;
	/* Length bigger than the datagram; ret untouched on failure */
	buf[3] = (uint8_t)(len + 1);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_LENGTH);
	assert_memory_equal(&m, &keep, sizeof(m));
	/* Length smaller than a header */
	buf[3] = 11;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_LENGTH);
	/* trailing bytes after Length are ignored: the HELLO decodes as a ZLB */
	buf[3] = 12;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.type, L2TP_MSG_ZLB);
	buf[3] = (uint8_t)len;
	/* Ver 2 */
	buf[1] = 0x02;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_VERSION);
	buf[1] = 0x03;
	/* T=0, L=0, S=0 */
	buf[0] = 0x48;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_FLAGS);
	buf[0] = 0x88;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_FLAGS);
	buf[0] = 0xc0;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_FLAGS);
	buf[0] = 0xc8;
	/* reserved bits are ignored */
	buf[0] = 0xcb;
	buf[1] = 0xf3;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	/* larger than L2TP_MAX_MSG_LEN */
	{
		uint8_t *big = calloc(1, L2TP_MAX_MSG_LEN + 1);

		assert_non_null(big);
		memcpy(big, buf, 20);
		big[2] = (L2TP_MAX_MSG_LEN + 1) >> 8;
		big[3] = (uint8_t)(L2TP_MAX_MSG_LEN + 1);
		assert_int_equal(l2tp_ctrl_decode(big, L2TP_MAX_MSG_LEN + 1, &m), L2TP_DEC_BAD_LENGTH);
		free(big);
	}
}

static void test_malformed_message_type_not_first(void **state)
{
	uint8_t buf[BUF_MAX];
	struct l2tp_msg m;
	size_t len = hex2bin(hello_hex, buf, sizeof(buf));

	(void)state;
	buf[17] = L2TP_AVP_HOST_NAME; /* first AVP is now a Host Name */
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_NO_MSG_TYPE);
	buf[17] = 0;
	buf[15] = 9; /* vendor 9 type 0 */
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_NO_MSG_TYPE);
	buf[15] = 0;
	buf[12] = 0xc0; /* hidden Message Type */
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_AVP_VALUE);
	buf[12] = 0x80;
	buf[19] = 0; /* Message Type 0 is reserved, not a ZLB */
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_BAD_AVP_VALUE);
	buf[19] = 99; /* unknown types are the state machine's business */
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.type, 99);
	buf[19] = L2TP_MSG_HELLO;
	buf[12] = 0x00; /* M=0 Message Type is accepted */
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.type, L2TP_MSG_HELLO);
}

static void test_malformed_wrong_size_known_avp_m1_vs_m0(void **state)
{
	uint8_t buf[BUF_MAX];
	/* Router ID with a 3-byte value */
	uint8_t avp[] = { 0x80, 9, 0, 0, 0, L2TP_AVP_ROUTER_ID, 1, 2, 3 };
	struct l2tp_msg m;

	(void)state;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_BAD_AVP_VALUE);
	avp[0] = 0x00;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_OK);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_ROUTER_ID));
	assert_false(m.unknown_mandatory);

	/* cookie of 5 bytes, digest type 0 with a 20-byte digest, odd PW list */
	{
		uint8_t cookie[] = { 0x80, 11, 0, 0, 0, L2TP_AVP_ASSIGNED_COOKIE, 1, 2, 3, 4, 5 };
		uint8_t digest[27] = { 0x80, 27, 0, 0, 0, L2TP_AVP_MESSAGE_DIGEST, L2TP_DIGEST_HMAC_MD5 };
		uint8_t caps[] = { 0x80, 9, 0, 0, 0, L2TP_AVP_PW_CAPABILITIES, 0, 5, 0 };
		uint8_t result[] = { 0x80, 9, 0, 0, 0, L2TP_AVP_RESULT_CODE, 0, 1, 0 };

		assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, cookie, sizeof(cookie)), &m),
				 L2TP_DEC_BAD_AVP_VALUE);
		assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, digest, sizeof(digest)), &m),
				 L2TP_DEC_BAD_AVP_VALUE);
		assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, caps, sizeof(caps)), &m),
				 L2TP_DEC_BAD_AVP_VALUE);
		assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, result, sizeof(result)), &m),
				 L2TP_DEC_BAD_AVP_VALUE);
	}
}

static void test_unknown_avp_m1_recorded_m0_ignored(void **state)
{
	uint8_t buf[BUF_MAX];
	uint8_t avps[] = {
		0x00, 8, 0, 0, 0, 99, 0, 1,         /* unknown, M=0 */
		0x80, 8, 0, 0, 0, 100, 0, 1,        /* unknown, M=1: recorded */
		0x80, 8, 0, 0, 0, 101, 0, 1,        /* second unknown M=1: not */
		0x80, 10, 0, 0, 0, 63, 0, 0, 0, 42, /* decoding went on */
	};
	struct l2tp_msg m;

	(void)state;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, sizeof(avps)), &m), L2TP_DEC_OK);
	assert_true(m.unknown_mandatory);
	assert_int_equal(m.unknown_vendor, 0);
	assert_int_equal(m.unknown_type, 100);
	assert_int_equal(m.local_session_id, 42);

	avps[8] = 0x00;
	avps[16] = 0x00;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, sizeof(avps)), &m), L2TP_DEC_OK);
	assert_false(m.unknown_mandatory);
	assert_int_equal(m.local_session_id, 42);

	/* types past the presence bitmap */
	avps[8] = 0x80;
	avps[12] = 0xff;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, sizeof(avps)), &m), L2TP_DEC_OK);
	assert_true(m.unknown_mandatory);
	assert_int_equal(m.unknown_type, 0xff64);
}

static void test_vendor_avp_is_unknown(void **state)
{
	uint8_t buf[BUF_MAX];
	/* Cisco (9) Local Session ID (3), M=1, then a vendor AVP M=0 */
	uint8_t avps[] = {
		0x00, 10, 0, 9, 0, 3, 0, 0, 0, 1,
		0x80, 10, 0, 9, 0, 3, 0, 0, 0, 1,
	};
	struct l2tp_msg m;

	(void)state;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, 10), &m), L2TP_DEC_OK);
	assert_false(m.unknown_mandatory);
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, sizeof(avps)), &m), L2TP_DEC_OK);
	assert_true(m.unknown_mandatory);
	assert_int_equal(m.unknown_vendor, 9);
	assert_int_equal(m.unknown_type, 3);
	assert_false(l2tp_msg_has(&m, 3));
	assert_false(l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID));
}

static void test_v2_avps_ignored_whatever_m(void **state)
{
	static const uint8_t v2[] = { 2, 3, 4, 6, 9, 14, 24, 38 };
	uint8_t buf[BUF_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v2); i++) {
		/* M=1, and H=1, with a value of a silly size */
		uint8_t avp[] = { 0xc0, 7, 0, 0, 0, v2[i], 0xff };
		struct l2tp_msg m;

		assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_OK);
		assert_false(m.unknown_mandatory);
		assert_false(l2tp_msg_has(&m, v2[i]));
	}
}

static void test_hidden_avp_counted_and_skipped(void **state)
{
	uint8_t buf[BUF_MAX];
	uint8_t avps[] = {
		0x40, 12, 0, 0, 0, L2TP_AVP_HOST_NAME, 1, 2, 3, 4, 5, 6, /* H, M=0 */
		0xc0, 12, 0, 0, 0, L2TP_AVP_REMOTE_END_ID, 1, 2, 3, 4, 5, 6, /* H, M=1 */
	};
	struct l2tp_msg m;

	(void)state;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, 12), &m), L2TP_DEC_OK);
	assert_int_equal(m.n_hidden, 1);
	assert_false(m.unknown_mandatory);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_HOST_NAME));
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, sizeof(avps)), &m), L2TP_DEC_OK);
	assert_int_equal(m.n_hidden, 2);
	assert_true(m.unknown_mandatory);
	assert_int_equal(m.unknown_type, L2TP_AVP_REMOTE_END_ID);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_REMOTE_END_ID));
}

static void test_digests_two_kept_third_rejected(void **state)
{
	uint8_t buf[BUF_MAX];
	uint8_t avps[23 + 27 + 23] = { 0 };
	struct l2tp_msg m;
	size_t len;

	(void)state;
	avps[0] = 0x80, avps[1] = 23, avps[5] = L2TP_AVP_MESSAGE_DIGEST, avps[6] = L2TP_DIGEST_HMAC_MD5;
	memset(avps + 7, 0xaa, 16);
	avps[23] = 0x80, avps[24] = 27, avps[28] = L2TP_AVP_MESSAGE_DIGEST, avps[29] = L2TP_DIGEST_HMAC_SHA1;
	memset(avps + 30, 0xbb, 20);
	memcpy(avps + 50, avps, 23);

	len = hello_plus(buf, avps, 50);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.n_digests, 2);
	assert_int_equal(m.digest_type[0], L2TP_DIGEST_HMAC_MD5);
	assert_int_equal(m.digest_off[0], 20 + 6);
	assert_int_equal(m.digest[0][15], 0xaa);
	assert_int_equal(m.digest[0][16], 0);
	assert_int_equal(m.digest_type[1], L2TP_DIGEST_HMAC_SHA1);
	assert_int_equal(m.digest_off[1], 20 + 23 + 6);
	assert_int_equal(m.digest[1][19], 0xbb);
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avps, sizeof(avps)), &m), L2TP_DEC_TOO_MANY_DIGESTS);
}

static void test_long_names_truncated_long_values_rejected(void **state)
{
	uint8_t buf[BUF_MAX];
	uint8_t avp[6 + 300];
	struct l2tp_msg m;

	(void)state;
	memset(avp, 'x', sizeof(avp));
	avp[0] = 0x80 | (sizeof(avp) >> 8);
	avp[1] = (uint8_t)sizeof(avp);
	avp[2] = avp[3] = avp[4] = 0;
	avp[5] = L2TP_AVP_HOST_NAME;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_OK);
	assert_int_equal(strlen(m.host_name), L2TP_NAME_MAX);
	assert_int_equal(m.names_truncated, 1);
	avp[5] = L2TP_AVP_REMOTE_END_ID;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_BAD_AVP_VALUE);
	avp[5] = L2TP_AVP_NONCE;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_BAD_AVP_VALUE);
}

/* A peer's names reach logs and the JSON status: bytes that are not
 * printable ASCII or well-formed UTF-8 are stored as '?', UTF-8 kept. */
static void test_names_made_printable(void **state)
{
	static const uint8_t name[] = "RT\xff\x01\n\x00x\xe3\x81\x82\xc3(\xed\xa0\x80\xe3\x81";
	uint8_t buf[BUF_MAX];
	uint8_t avp[6 + sizeof(name) - 1];
	struct l2tp_msg m;

	(void)state;
	avp[0] = 0x80;
	avp[1] = (uint8_t)sizeof(avp);
	avp[2] = avp[3] = avp[4] = 0;
	avp[5] = L2TP_AVP_HOST_NAME;
	memcpy(avp + 6, name, sizeof(name) - 1);
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_OK);
	assert_string_equal(m.host_name, "RT????x\xe3\x81\x82?(?????");
	assert_int_equal(m.names_truncated, 0);
	avp[5] = L2TP_AVP_VENDOR_NAME;
	assert_int_equal(l2tp_ctrl_decode(buf, hello_plus(buf, avp, sizeof(avp)), &m), L2TP_DEC_OK);
	assert_string_equal(m.vendor_name, "RT????x\xe3\x81\x82?(?????");
}

/* Every single-byte change of every real and encoded message: decodes or
 * fails cleanly (a cheap in-test fuzz; the fuzz target goes further). */
static void test_malformed_every_byte_flip(void **state)
{
	uint8_t buf[BUF_MAX];
	size_t k, i;
	static const uint8_t vals[] = { 0x00, 0x01, 0x05, 0x06, 0x80, 0xc3, 0xff };

	(void)state;
	for (k = 0; k < sizeof(all_hex) / sizeof(all_hex[0]); k++) {
		size_t len = hex2bin(all_hex[k], buf, sizeof(buf));

		for (i = 0; i < len; i++) {
			uint8_t *b = malloc(len), v;

			assert_non_null(b);
			for (v = 0; v < sizeof(vals); v++) {
				struct l2tp_msg m;
				int rc;

				memcpy(b, buf, len);
				b[i] = vals[v];
				rc = l2tp_ctrl_decode(b, len, &m);
				assert_true(rc <= 0 && rc > -L2TP_DEC_ERR_MAX);
			}
			free(b);
		}
	}
}

static void test_names(void **state)
{
	int e;

	(void)state;
	assert_string_equal(l2tp_msg_type_name(L2TP_MSG_ZLB), "ZLB");
	assert_string_equal(l2tp_msg_type_name(L2TP_MSG_SCCRQ), "SCCRQ");
	assert_string_equal(l2tp_msg_type_name(L2TP_MSG_STOPCCN), "StopCCN");
	assert_string_equal(l2tp_msg_type_name(L2TP_MSG_ACK), "ACK");
	assert_string_equal(l2tp_msg_type_name(5), "unknown");
	assert_string_equal(l2tp_msg_type_name(21), "unknown");
	assert_string_equal(l2tp_msg_type_name(65535), "unknown");
	for (e = 0; e > -L2TP_DEC_ERR_MAX; e--)
		assert_string_not_equal(l2tp_decode_strerror(e), "unknown error");
	assert_string_equal(l2tp_decode_strerror(-L2TP_DEC_ERR_MAX), "unknown error");
	assert_string_equal(l2tp_decode_strerror(1), "unknown error");
}

/* ---------------------------------------------------------------------- */
/* Data header helpers */

static void test_data_hdr_cookie_and_l2ss(void **state)
{
	static const uint8_t cookie[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	static const size_t cookie_lens[] = { 0, 4, 8 };
	size_t c;

	(void)state;
	for (c = 0; c < 3; c++) {
		size_t cl = cookie_lens[c];
		int l2ss;

		for (l2ss = 0; l2ss < 2; l2ss++) {
			uint8_t hdr[20];
			uint32_t sid = 0;
			size_t n;

			memset(hdr, 0xee, sizeof(hdr));
			n = l2tp_data_hdr_write(hdr, 0xAABBCCDD, cookie, cl, l2ss, true, 0x123456);
			assert_int_equal(n, l2tp_data_hdr_len(cl, l2ss));
			assert_int_equal(n, 8 + cl + (l2ss ? 4 : 0));
			assert_int_equal(hdr[0], 0x00);
			assert_int_equal(hdr[1], 0x03);
			assert_int_equal(hdr[2] | hdr[3], 0);
			assert_memory_equal(hdr + 8, cookie, cl);
			if (l2ss) {
				const uint8_t want[4] = { 0x40, 0x12, 0x34, 0x56 };

				assert_memory_equal(hdr + 8 + cl, want, 4);
				/* S=0: the whole sublayer is zero */
				l2tp_data_hdr_write(hdr, 0xAABBCCDD, cookie, cl, true, false, 0x123456);
				assert_int_equal(hdr[8 + cl] | hdr[9 + cl] | hdr[10 + cl] | hdr[11 + cl], 0);
			}
			if (n < sizeof(hdr))
				assert_int_equal(hdr[n], 0xee);
			assert_false(l2tp_is_ctrl(hdr));
			assert_int_equal(l2tp_data_hdr_sid(hdr, n, &sid), 0);
			assert_int_equal(sid, 0xAABBCCDD);
		}
	}
}

/* RFC 3931 §4.6: the sublayer's S bit and number; "not newer" is the
 * last number and the 2^23 - 1 before it, across the wrap. */
static void test_l2ss_seq24(void **state)
{
	static const uint8_t s1[4] = { 0x40, 0xab, 0xcd, 0xef }, s0[4] = { 0x00, 0xab, 0xcd, 0xef };
	static const uint8_t other[4] = { 0xbf, 0x00, 0x00, 0x01 }; /* every bit but S */
	uint32_t ns = 7;

	(void)state;
	assert_true(l2tp_l2ss_read(s1, &ns));
	assert_int_equal(ns, 0xabcdef);
	ns = 7;
	assert_false(l2tp_l2ss_read(s0, &ns));
	assert_false(l2tp_l2ss_read(other, &ns));
	assert_int_equal(ns, 7);

	assert_true(l2tp_seq24_newer(1, 0));
	assert_false(l2tp_seq24_newer(0, 0));
	assert_false(l2tp_seq24_newer(0, 1));
	assert_true(l2tp_seq24_newer(0, 0xffffff));	  /* wraps */
	assert_true(l2tp_seq24_newer(5, 0xfffffe));
	assert_false(l2tp_seq24_newer(0xffffff, 0));
	assert_true(l2tp_seq24_newer(0x800000, 0));	  /* 2^23 ahead */
	assert_false(l2tp_seq24_newer(0x800001, 0));	  /* 2^23 - 1 behind */
	assert_true(l2tp_seq24_newer(0x7fffff, 0xffffff)); /* 2^23 ahead across the wrap */
	assert_false(l2tp_seq24_newer(0x800000, 0xffffff));
	assert_true(l2tp_seq24_newer(0x1000005, 4)); /* bits above 24 ignored */
}

static void test_data_hdr_sid_rejects(void **state)
{
	uint8_t hdr[20];
	uint32_t sid = 7;

	(void)state;
	l2tp_data_hdr_write(hdr, 0x01020304, NULL, 0, false, false, 0);
	assert_int_equal(l2tp_data_hdr_sid(hdr, 7, &sid), L2TP_DEC_TOO_SHORT);
	assert_int_equal(sid, 7);
	hdr[1] = 0x02;
	assert_int_equal(l2tp_data_hdr_sid(hdr, 8, &sid), L2TP_DEC_BAD_VERSION);
	assert_int_equal(sid, 7);
	hdr[1] = 0x03;
	assert_int_equal(l2tp_data_hdr_sid(hdr, 8, &sid), 0);
	assert_int_equal(sid, 0x01020304);
}

/* ---------------------------------------------------------------------- */
/* RFC 3931 §5.4.1: the Message Type AVP's M bit */

static void test_rfc3931_5_4_1_message_type_m_bit_exposed(void **state)
{
	static const uint8_t none[1];
	uint8_t buf[BUF_MAX];
	struct l2tp_msg m;
	size_t len;

	(void)state;
	len = hello_plus(buf, none, 0);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_true(m.type_mandatory);
	/* an unknown type (42) with M=0: decoded, the FSM may ignore it */
	buf[12] &= 0x7f;
	buf[19] = 42;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_false(m.type_mandatory);
	assert_int_equal(m.type, 42);
	assert_string_equal(l2tp_msg_type_name(m.type), "unknown");
	/* the same with M=1: the FSM must clear the connection */
	buf[12] |= 0x80;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_true(m.type_mandatory);
}

/* ---------------------------------------------------------------------- */
/* RFC 3931 §5.3 / RFC 2661 §4.3: hidden AVPs */

static const char hide_secret[] = "yamaha";
static const uint8_t hide_rv[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* HELLO + Random Vector (hide_rv) + the given AVP bytes; returns length. */
static size_t hello_rv_plus(uint8_t *buf, const uint8_t *avps, size_t avps_len)
{
	uint8_t tmp[BUF_MAX];
	size_t n = 0;

	tmp[n++] = 0x80;
	tmp[n++] = 6 + sizeof(hide_rv);
	tmp[n++] = 0;
	tmp[n++] = 0;
	tmp[n++] = 0;
	tmp[n++] = L2TP_AVP_RANDOM_VECTOR;
	memcpy(tmp + n, hide_rv, sizeof(hide_rv));
	n += sizeof(hide_rv);
	memcpy(tmp + n, avps, avps_len);
	return hello_plus(buf, tmp, n + avps_len);
}

/* A vector computed independently (Python hashlib/hmac): Local Session ID
 * 14473 hidden with secret "yamaha", Random Vector 01..10, 10 and 20 bytes
 * of zero padding (one full block; a full and a short block). */
static void test_rfc3931_5_3_hide_known_vector(void **state)
{
	static const uint8_t value[4] = { 0, 0, 0x38, 0x89 };
	uint8_t avp[64], want[32];
	int n;

	(void)state;
	n = l2tp_avp_hide(avp, sizeof(avp), true, L2TP_AVP_LOCAL_SESSION_ID, value, 4, 10, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	assert_int_equal(n, 6 + 16);
	assert_int_equal(avp[0], 0xc0); /* M and H */
	assert_int_equal(avp[1], 22);
	assert_int_equal(avp[5], L2TP_AVP_LOCAL_SESSION_ID);
	hex2bin("c5aca7a2fd498636bcc726093fecdfe4", want, sizeof(want));
	assert_memory_equal(avp + 6, want, 16);

	n = l2tp_avp_hide(avp, sizeof(avp), false, L2TP_AVP_LOCAL_SESSION_ID, value, 4, 20, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	assert_int_equal(n, 6 + 26);
	assert_int_equal(avp[0], 0x40);
	hex2bin("c5aca7a2fd498636bcc726093fecdfe4be29c121a655d515bf04", want, sizeof(want));
	assert_memory_equal(avp + 6, want, 26);

	assert_int_equal(l2tp_avp_hide(avp, 10, true, 63, value, 4, 10, "x", 1, hide_rv, 16), -ENOBUFS);
	assert_int_equal(l2tp_avp_hide(avp, sizeof(avp), true, 63, value, 4, 10, "x", 1, hide_rv, 0), -EINVAL);
	assert_int_equal(l2tp_avp_hide(avp, sizeof(avp), true, 63, value, 4, 1020, "x", 1, hide_rv, 16), -EINVAL);
}

static void test_rfc3931_5_3_unhide_decodes_like_plain_avps(void **state)
{
	static const uint8_t sid[4] = { 0, 0, 0x38, 0x89 }, cs[2] = { 0, 1 };
	uint8_t buf[BUF_MAX], avps[256];
	struct l2tp_msg m, before;
	size_t n = 0, len;
	int r;

	(void)state;
	/* Local Session ID (M=1, one block), Remote End ID (M=1, 3 blocks,
	 * no padding), Circuit Status (M=0, short block) */
	r = l2tp_avp_hide(avps + n, sizeof(avps) - n, true, L2TP_AVP_LOCAL_SESSION_ID, sid, 4, 10, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	assert_true(r > 0);
	n += (size_t)r;
	r = l2tp_avp_hide(avps + n, sizeof(avps) - n, true, L2TP_AVP_REMOTE_END_ID,
			  (const uint8_t *)"a-remote-end-id-of-46-bytes..................", 46, 0, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	assert_true(r > 0);
	n += (size_t)r;
	r = l2tp_avp_hide(avps + n, sizeof(avps) - n, false, L2TP_AVP_CIRCUIT_STATUS, cs, 2, 3, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	assert_true(r > 0);
	n += (size_t)r;
	len = hello_rv_plus(buf, avps, n);

	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.n_hidden, 3);
	assert_int_equal(m.n_hidden_avps, 3);
	/* not decoded yet: the first hidden M=1 AVP reads as unknown */
	assert_true(m.unknown_mandatory);
	assert_true(m.unknown_hidden);
	assert_int_equal(m.unknown_type, L2TP_AVP_LOCAL_SESSION_ID);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID));

	/* wrong secret: -EBADMSG (or a value that does not fit), m untouched */
	before = m;
	r = l2tp_msg_unhide(&m, buf, len, "yamahb", 6);
	assert_true(r == -EBADMSG || r == -EINVAL);
	assert_memory_equal(&m, &before, sizeof(m));

	assert_int_equal(l2tp_msg_unhide(&m, buf, len, hide_secret, strlen(hide_secret)), 0);
	assert_false(m.unknown_mandatory);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID));
	assert_int_equal(m.local_session_id, 14473);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_REMOTE_END_ID));
	assert_int_equal(m.remote_end_id_len, 46);
	assert_memory_equal(m.remote_end_id, "a-remote-end-id-of-46-bytes", 27);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_CIRCUIT_STATUS));
	assert_int_equal(m.circuit_status, 1);
}

static void test_rfc3931_5_3_hidden_without_random_vector_or_forbidden(void **state)
{
	static const uint8_t sid[4] = { 0, 0, 0, 7 };
	uint8_t buf[BUF_MAX], avps[128];
	struct l2tp_msg m;
	size_t len;
	int r;

	(void)state;
	/* no Random Vector before it: never decodable, stays unknown */
	r = l2tp_avp_hide(avps, sizeof(avps), true, L2TP_AVP_LOCAL_SESSION_ID, sid, 4, 10, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	assert_true(r > 0);
	len = hello_plus(buf, avps, (size_t)r);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.n_hidden, 1);
	assert_int_equal(m.n_hidden_avps, 0);
	assert_true(m.unknown_mandatory);
	assert_false(m.unknown_hidden);
	assert_int_equal(l2tp_msg_unhide(&m, buf, len, hide_secret, strlen(hide_secret)), 0);
	assert_true(m.unknown_mandatory);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID));

	/* Message Digest and Random Vector must not be hidden (§5.3) */
	r = l2tp_avp_hide(avps, sizeof(avps), true, L2TP_AVP_RANDOM_VECTOR, sid, 4, 10, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	len = hello_rv_plus(buf, avps, (size_t)r);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_true(m.unknown_mandatory);
	assert_false(m.unknown_hidden);
	assert_int_equal(m.n_hidden_avps, 0);

	/* a plainly unknown M=1 AVP after a hidden one is what gets reported,
	 * and unhiding does not hide it */
	r = l2tp_avp_hide(avps, sizeof(avps), true, L2TP_AVP_LOCAL_SESSION_ID, sid, 4, 10, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	memcpy(avps + r, (const uint8_t[]){ 0x80, 8, 0, 0, 0, 100, 0, 1 }, 8);
	len = hello_rv_plus(buf, avps, (size_t)r + 8);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.unknown_type, 100);
	assert_false(m.unknown_hidden);
	assert_int_equal(l2tp_msg_unhide(&m, buf, len, hide_secret, strlen(hide_secret)), 0);
	assert_true(m.unknown_mandatory);
	assert_int_equal(m.unknown_type, 100);
	assert_int_equal(m.local_session_id, 7);
}

static void test_rfc3931_5_3_hidden_bounded_and_bad_values(void **state)
{
	static const uint8_t sid[4] = { 0, 0, 0, 9 }, three[3] = { 1, 2, 3 };
	uint8_t buf[BUF_MAX], avps[1024];
	struct l2tp_msg m;
	size_t n = 0, len, i;
	int r;

	(void)state;
	/* more hidden AVPs than we record: the rest stay unknown */
	for (i = 0; i < L2TP_HIDDEN_MAX + 2; i++) {
		r = l2tp_avp_hide(avps + n, sizeof(avps) - n, true, L2TP_AVP_LOCAL_SESSION_ID, sid, 4, 0, hide_secret,
				  strlen(hide_secret), hide_rv, sizeof(hide_rv));
		assert_true(r > 0);
		n += (size_t)r;
	}
	len = hello_rv_plus(buf, avps, n);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(m.n_hidden, L2TP_HIDDEN_MAX + 2);
	assert_int_equal(m.n_hidden_avps, L2TP_HIDDEN_MAX);
	assert_false(m.unknown_hidden);
	assert_int_equal(l2tp_msg_unhide(&m, buf, len, hide_secret, strlen(hide_secret)), 0);
	assert_true(m.unknown_mandatory);
	assert_int_equal(m.local_session_id, 9);

	/* a hidden value of the wrong size: M=1 fails, M=0 is ignored */
	r = l2tp_avp_hide(avps, sizeof(avps), true, L2TP_AVP_LOCAL_SESSION_ID, three, 3, 5, hide_secret,
			  strlen(hide_secret), hide_rv, sizeof(hide_rv));
	len = hello_rv_plus(buf, avps, (size_t)r);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(l2tp_msg_unhide(&m, buf, len, hide_secret, strlen(hide_secret)), -EINVAL);
	assert_true(m.unknown_mandatory);
	buf[len - r] &= 0x7f;
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), L2TP_DEC_OK);
	assert_int_equal(l2tp_msg_unhide(&m, buf, len, hide_secret, strlen(hide_secret)), 0);
	assert_false(m.unknown_mandatory);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID));
}

/* ---------------------------------------------------------------------- */
/* tshark decodes every control message we send (issue 4): each builder
 * above, as the FSM fills them, with and without a Message Digest, in a
 * pcap of Ethernet/IPv4/UDP 1701 frames between 192.0.2.1 (A, the SCCRQ
 * sender) and 192.0.2.2 (B). */

#define TS_SECRET "yamaha"

struct pcapw {
	FILE *f;
	unsigned n;
};

static void be16(uint8_t *p, uint16_t x)
{
	p[0] = (uint8_t)(x >> 8);
	p[1] = (uint8_t)x;
}

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void pcapw_open(struct pcapw *p, const char *path)
{
	static const uint8_t hdr[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
					 0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0 };

	p->f = fopen(path, "wb");
	assert_non_null(p->f);
	p->n = 0;
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), p->f), sizeof(hdr));
}

/* One frame; UDP checksum 0 (none), which IPv4 allows. */
static void pcapw_put(struct pcapw *p, bool from_a, const uint8_t *l2tp, size_t len)
{
	uint8_t f[14 + 20 + 8 + BUF_MAX], rec[16] = { 0 };
	uint8_t *ip = f + 14, *udp = ip + 20;
	size_t caplen = 14 + 20 + 8 + len;

	memset(f, 0, 14 + 20 + 8);
	memcpy(f, from_a ? "\x02\0\0\0\0\x02" : "\x02\0\0\0\0\x01", 6);
	memcpy(f + 6, from_a ? "\x02\0\0\0\0\x01" : "\x02\0\0\0\0\x02", 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	be16(ip + 2, (uint16_t)(20 + 8 + len));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, from_a ? "\xc0\x00\x02\x01\xc0\x00\x02\x02" : "\xc0\x00\x02\x02\xc0\x00\x02\x01", 8);
	be16(ip + 10, ip_csum(ip, 20));
	be16(udp, L2TP_UDP_PORT);
	be16(udp + 2, L2TP_UDP_PORT);
	be16(udp + 4, (uint16_t)(8 + len));
	memcpy(udp + 8, l2tp, len);
	rec[0] = (uint8_t)p->n++;
	rec[8] = (uint8_t)caplen;
	rec[9] = (uint8_t)(caplen >> 8);
	memcpy(rec + 12, rec + 8, 4);
	assert_int_equal(fwrite(rec, 1, 16, p->f), 16);
	assert_int_equal(fwrite(f, 1, caplen, p->f), caplen);
}

/* Encode m, sign it if it has a digest (SCCRQ without nonces, others with
 * the sender's nonce first), write it; returns the encoded length. */
static size_t put_signed(struct pcapw *p, struct l2tp_msg *m, bool digest, bool from_a, const uint8_t *na, size_t na_len,
			 const uint8_t *nb, size_t nb_len, uint8_t *out)
{
	uint8_t key[16];
	int len;

	if (!digest) {
		m->n_digests = 0;
		m->present[L2TP_AVP_MESSAGE_DIGEST / 32] &= ~(1u << (L2TP_AVP_MESSAGE_DIGEST % 32));
	} else if (!m->n_digests) {
		set_digest(m, L2TP_DIGEST_HMAC_MD5);
	}
	len = l2tp_ctrl_encode(m, out, BUF_MAX);
	assert_true(len > 0);
	if (digest) {
		l2tp_auth_shared_key(TS_SECRET, strlen(TS_SECRET), key);
		if (m->type == L2TP_MSG_SCCRQ)
			l2tp_auth_digest_sign(key, NULL, 0, NULL, 0, out, (size_t)len, m);
		else if (from_a)
			l2tp_auth_digest_sign(key, na, na_len, nb, nb_len, out, (size_t)len, m);
		else
			l2tp_auth_digest_sign(key, nb, nb_len, na, na_len, out, (size_t)len, m);
	}
	pcapw_put(p, from_a, out, (size_t)len);
	return (size_t)len;
}

struct sent_msg {
	void (*make)(struct l2tp_msg *m);
	bool from_a;
};

/* Every message type the FSM sends, SCCRQ/SCCRP first (their nonces). */
static const struct sent_msg every_msg[] = {
	{ make_sccrq, true }, { make_sccrp, false }, { make_scccn, true }, { make_icrq, true },
	{ make_icrp, false }, { make_iccn, true },   { make_hello, false }, { make_ack, true },
	{ make_sli, true },   { make_cdn, false },   { make_stopccn, true }, { make_zlb, false },
};

/* Write the exchange; returns the number of frames. */
static unsigned write_every_msg(const char *path, bool digest)
{
	uint8_t buf[BUF_MAX], na[L2TP_NONCE_MAX], nb[L2TP_NONCE_MAX];
	size_t na_len = 0, nb_len = 0;
	struct l2tp_msg m;
	struct pcapw p;
	size_t i;

	pcapw_open(&p, path);
	for (i = 0; i < sizeof(every_msg) / sizeof(every_msg[0]); i++) {
		every_msg[i].make(&m);
		if (m.type == L2TP_MSG_ZLB && digest)
			continue; /* RFC 3931 §6.15: an ACK instead */
		if (m.type == L2TP_MSG_SCCRQ) {
			memcpy(na, m.nonce, m.nonce_len);
			na_len = m.nonce_len;
		}
		if (m.type == L2TP_MSG_SCCRP) {
			memcpy(nb, m.nonce, m.nonce_len);
			nb_len = m.nonce_len;
		}
		if (!digest) {
			/* no digest, no nonce: tshark must not expect one */
			m.present[L2TP_AVP_NONCE / 32] &= ~(1u << (L2TP_AVP_NONCE % 32));
		}
		put_signed(&p, &m, digest, every_msg[i].from_a, na, na_len, nb, nb_len, buf);
	}
	assert_int_equal(fclose(p.f), 0);
	return p.n;
}

static char *tshark_out(const char *pcap, const char *args)
{
	char cmd[1024];
	char *out = calloc(1, 65536);
	size_t n = 0, r;
	FILE *f;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' -o l2tp.shared_secret:" TS_SECRET " %s 2>/dev/null", pcap, args);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((r = fread(out + n, 1, 65535 - n, f)) > 0)
		n += r;
	assert_int_equal(pclose(f), 0);
	return out;
}

#define TS_BAD "-Y '_ws.malformed || _ws.expert.severity >= \"Warning\"' -T fields -e frame.number"

static void test_tshark_decodes_every_message_we_send(void **state)
{
	char dir[] = "/tmp/l2tpv3d-test-wire.XXXXXX", path[64], want[256], *out;
	size_t i, o;

	(void)state;
	if (system("command -v tshark >/dev/null 2>&1") != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/every.pcap", dir);

	for (int digest = 0; digest < 2; digest++) {
		unsigned frames = write_every_msg(path, digest);

		/* each frame is the control message we meant, digest or not */
		out = tshark_out(path, "-Y l2tp.type==1 -T fields -e l2tp.avp.message_type -e l2tp.avp.message_digest "
				       "-E occurrence=f");
		for (i = 0, o = 0; i < sizeof(every_msg) / sizeof(every_msg[0]); i++) {
			struct l2tp_msg m;

			every_msg[i].make(&m);
			if (m.type == L2TP_MSG_ZLB && digest)
				continue;
			if (m.type == L2TP_MSG_ZLB)
				o += (size_t)snprintf(want + o, sizeof(want) - o, "\t\n");
			else
				o += (size_t)snprintf(want + o, sizeof(want) - o, "%u\t%s\n", m.type,
						      digest ? "" : "");
		}
		/* compare types only (digest values differ per message) */
		{
			char got[256];
			size_t g = 0;

			for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
				char *tab = strchr(line, '\t');

				assert_non_null(tab);
				assert_true(digest ? tab[1] != '\0' : tab[1] == '\0');
				tab[1] = '\0';
				g += (size_t)snprintf(got + g, sizeof(got) - g, "%s\n", line);
			}
			assert_string_equal(got, want);
		}
		free(out);
		assert_int_equal(frames, digest ? 11 : 12);

		/* not one malformed packet, expert warning or wrong digest */
		out = tshark_out(path, "-Y '_ws.malformed || _ws.expert.severity >= \"Warning\" || l2tp.incorrect_digest' "
				       "-T fields -e frame.number");
		assert_string_equal(out, "");
		free(out);
	}

	/* the StopCCN's Result Code and message, as tshark reads them */
	out = tshark_out(path, "-Y l2tp.avp.message_type==4 -T fields -e l2tp.result_code -e l2tp.avp.error_code "
			       "-e l2tp.avp.error_message");
	assert_string_equal(out, "2\t8\tunknown mandatory AVP 99\n");
	free(out);

	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

/* The filter above has teeth: a malformed AVP and a wrong digest are both
 * caught by it. */
static void test_tshark_filter_flags_malformed_and_bad_digest(void **state)
{
	char dir[] = "/tmp/l2tpv3d-test-wire.XXXXXX", path[64], *out;
	uint8_t buf[BUF_MAX], na[16], nb[20];
	struct l2tp_msg m;
	struct pcapw p;
	size_t len;

	(void)state;
	if (system("command -v tshark >/dev/null 2>&1") != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bad.pcap", dir);
	pcapw_open(&p, path);
	make_sccrq(&m);
	memcpy(na, m.nonce, 16);
	put_signed(&p, &m, true, true, na, 16, nb, 0, buf);
	make_sccrp(&m);
	memcpy(nb, m.nonce, 20);
	put_signed(&p, &m, true, false, na, 16, nb, 20, buf);
	/* frame 3: a HELLO whose digest is wrong */
	make_hello(&m);
	len = put_signed(&p, &m, true, true, na, 16, nb, 20, buf);
	(void)len;
	fseek(p.f, -1, SEEK_CUR);
	fputc(0x5a, p.f); /* last byte of the frame: the digest's */
	/* frame 4: an ICRQ whose last AVP claims more bytes than there are */
	make_icrq(&m);
	len = (size_t)l2tp_ctrl_encode(&m, buf, sizeof(buf));
	buf[len - 8] = 0x80;
	buf[len - 7] = 60; /* Circuit Status, the last AVP, has 8 bytes */
	pcapw_put(&p, true, buf, len);
	assert_int_equal(fclose(p.f), 0);

	out = tshark_out(path, TS_BAD);
	assert_int_equal(strcmp(out, "3\n4\n"), 0);
	free(out);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_sccrq),
		cmocka_unit_test(test_roundtrip_sccrp),
		cmocka_unit_test(test_roundtrip_scccn),
		cmocka_unit_test(test_roundtrip_stopccn_result_with_error_and_message),
		cmocka_unit_test(test_roundtrip_hello),
		cmocka_unit_test(test_roundtrip_ack_with_digest),
		cmocka_unit_test(test_roundtrip_zlb_is_12_bytes),
		cmocka_unit_test(test_roundtrip_icrq),
		cmocka_unit_test(test_roundtrip_icrp),
		cmocka_unit_test(test_roundtrip_iccn),
		cmocka_unit_test(test_roundtrip_cdn),
		cmocka_unit_test(test_roundtrip_sli),
		cmocka_unit_test(test_encode_avp_order_and_flags),
		cmocka_unit_test(test_encode_enobufs_for_every_short_cap),
		cmocka_unit_test(test_encode_einval_on_bad_lengths),
		cmocka_unit_test(test_encode_patch_nr),
		cmocka_unit_test(test_freertr_sccrq_sccrp_identity),
		cmocka_unit_test(test_freertr_scccn_zlb_hello),
		cmocka_unit_test(test_freertr_session_messages),
		cmocka_unit_test(test_freertr_challenge_avps),
		cmocka_unit_test(test_malformed_every_truncation),
		cmocka_unit_test(test_malformed_avp_length_0_to_5),
		cmocka_unit_test(test_malformed_avp_past_end),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_malformed_message_type_not_first),
		cmocka_unit_test(test_malformed_wrong_size_known_avp_m1_vs_m0),
		cmocka_unit_test(test_unknown_avp_m1_recorded_m0_ignored),
		cmocka_unit_test(test_vendor_avp_is_unknown),
		cmocka_unit_test(test_v2_avps_ignored_whatever_m),
		cmocka_unit_test(test_hidden_avp_counted_and_skipped),
		cmocka_unit_test(test_digests_two_kept_third_rejected),
		cmocka_unit_test(test_long_names_truncated_long_values_rejected),
		cmocka_unit_test(test_names_made_printable),
		cmocka_unit_test(test_malformed_every_byte_flip),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_data_hdr_cookie_and_l2ss),
		cmocka_unit_test(test_data_hdr_sid_rejects),
		cmocka_unit_test(test_l2ss_seq24),
		cmocka_unit_test(test_rfc3931_5_4_1_message_type_m_bit_exposed),
		cmocka_unit_test(test_rfc3931_5_3_hide_known_vector),
		cmocka_unit_test(test_rfc3931_5_3_unhide_decodes_like_plain_avps),
		cmocka_unit_test(test_rfc3931_5_3_hidden_without_random_vector_or_forbidden),
		cmocka_unit_test(test_rfc3931_5_3_hidden_bounded_and_bad_values),
		cmocka_unit_test(test_tshark_decodes_every_message_we_send),
		cmocka_unit_test(test_tshark_filter_flags_malformed_and_bad_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
