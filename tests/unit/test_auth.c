/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of control message authentication (src/wire/l2tp_auth.c):
 * the shared key and CHAP vectors, digest sign/verify, and an end-to-end
 * check of our digests against Wireshark: the tests write a pcap of signed
 * SCCRQ/SCCRP/SCCCN/ICRQ/ICRP/ACK over UDP 1701 and ask tshark (when it is
 * installed) whether it finds any incorrect digest with the same secret.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire/l2tp_wire.h"

#define BUF_MAX L2TP_MAX_MSG_LEN

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

static const char secret[] = "yamaha";

static const uint8_t nonce_a[16] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
				     0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
static const uint8_t nonce_b[20] = { 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9,
				     0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3 };

/* ---------------------------------------------------------------------- */
/* Known vectors */

static void test_shared_key_vectors(void **state)
{
	uint8_t key[16], want[16];

	(void)state;
	/* HMAC-MD5(key="yamaha", 0x02) and HMAC-MD5(key="", 0x02), from Python's hmac */
	l2tp_auth_shared_key(secret, strlen(secret), key);
	hex2bin("3577a0cc37ce0d449520a6152e48d13c", want, sizeof(want));
	assert_memory_equal(key, want, 16);
	l2tp_auth_shared_key("", 0, key);
	hex2bin("7b6085fbf45933670abcb07a27fcea5e", want, sizeof(want));
	assert_memory_equal(key, want, 16);
}

/* shared/captures/README.md: freertr-l2tpv3-auth.pcap, secret "yamaha" */
static void test_chap_response_freertr_sccrp_and_scccn(void **state)
{
	uint8_t ch[16], want[16], got[16];

	(void)state;
	hex2bin("261d3350236d444b6f161360696f7266", ch, sizeof(ch));
	hex2bin("eb94610d20eada7e6af3c7272bdaab58", want, sizeof(want));
	l2tp_auth_chap_response(L2TP_MSG_SCCRP, secret, strlen(secret), ch, 16, got);
	assert_memory_equal(got, want, 16);

	hex2bin("6a7919662f06414e1f580d770b55156b", ch, sizeof(ch));
	hex2bin("08243871d191a2e50f176bfb717469f8", want, sizeof(want));
	l2tp_auth_chap_response(L2TP_MSG_SCCCN, secret, strlen(secret), ch, 16, got);
	assert_memory_equal(got, want, 16);

	/* the id byte matters */
	l2tp_auth_chap_response(L2TP_MSG_SCCRP, secret, strlen(secret), ch, 16, got);
	assert_memory_not_equal(got, want, 16);
}

/* ---------------------------------------------------------------------- */
/* Messages */

static void msg_init(struct l2tp_msg *m, uint16_t type, uint32_t ccid, uint16_t ns, uint16_t nr, uint8_t digest)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->ccid = ccid;
	m->ns = ns;
	m->nr = nr;
	m->n_digests = 1;
	m->digest_type[0] = digest;
}

static void set_ctl_identity(struct l2tp_msg *m, const char *host, uint32_t router_id, uint32_t ccid,
			     const uint8_t *nonce, size_t nonce_len)
{
	strcpy(m->host_name, host);
	l2tp_msg_set(m, L2TP_AVP_HOST_NAME);
	strcpy(m->vendor_name, "l2tpv3d");
	l2tp_msg_set(m, L2TP_AVP_VENDOR_NAME);
	m->router_id = router_id;
	l2tp_msg_set(m, L2TP_AVP_ROUTER_ID);
	m->assigned_ccid = ccid;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_CCID);
	m->pw_caps[0] = L2TP_PW_TYPE_ETH;
	m->pw_caps[1] = L2TP_PW_TYPE_ETH_VLAN;
	m->n_pw_caps = 2;
	l2tp_msg_set(m, L2TP_AVP_PW_CAPABILITIES);
	m->recv_window = 8;
	l2tp_msg_set(m, L2TP_AVP_RECV_WINDOW);
	if (nonce_len) {
		memcpy(m->nonce, nonce, nonce_len);
		m->nonce_len = nonce_len;
		l2tp_msg_set(m, L2TP_AVP_NONCE);
	}
}

static void set_session(struct l2tp_msg *m, uint32_t local, uint32_t remote)
{
	m->local_session_id = local;
	l2tp_msg_set(m, L2TP_AVP_LOCAL_SESSION_ID);
	m->remote_session_id = remote;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_SESSION_ID);
	m->circuit_status = L2TP_CIRCUIT_ACTIVE;
	l2tp_msg_set(m, L2TP_AVP_CIRCUIT_STATUS);
	m->pw_type = L2TP_PW_TYPE_ETH;
	l2tp_msg_set(m, L2TP_AVP_PW_TYPE);
	m->assigned_cookie_len = 0;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_COOKIE);
	m->l2ss = 0;
	l2tp_msg_set(m, L2TP_AVP_L2SS);
}

/* An ICCN-like message signed with key from A (nonce_a) to B (nonce_b). */
static size_t signed_iccn(uint8_t *buf, const uint8_t key[16], uint8_t digest_type, struct l2tp_msg *m)
{
	int len;

	msg_init(m, L2TP_MSG_ICCN, 0x2222, 3, 2, digest_type);
	set_session(m, 14473, 54668);
	len = l2tp_ctrl_encode(m, buf, BUF_MAX);
	assert_true(len > 0);
	l2tp_auth_digest_sign(key, nonce_a, sizeof(nonce_a), nonce_b, sizeof(nonce_b), buf, (size_t)len, m);
	return (size_t)len;
}

/* B's view of a message from A */
static bool verify_at_b(const uint8_t key[16], const uint8_t *buf, size_t len, const struct l2tp_msg *m)
{
	return l2tp_auth_digest_verify(key, nonce_a, sizeof(nonce_a), nonce_b, sizeof(nonce_b), buf, len, m);
}

static void test_digest_sign_then_verify_md5_and_sha1(void **state)
{
	uint8_t key[16], buf[BUF_MAX], copy[BUF_MAX];
	struct l2tp_msg m, d;
	size_t len;
	int t;

	(void)state;
	l2tp_auth_shared_key(secret, strlen(secret), key);
	for (t = L2TP_DIGEST_HMAC_MD5; t <= L2TP_DIGEST_HMAC_SHA1; t++) {
		static const uint8_t zero[20];

		len = signed_iccn(buf, key, (uint8_t)t, &m);
		assert_memory_not_equal(buf + m.digest_off[0] + 1, zero, t == L2TP_DIGEST_HMAC_MD5 ? 16 : 20);
		assert_int_equal(l2tp_ctrl_decode(buf, len, &d), 0);
		assert_int_equal(d.n_digests, 1);
		assert_int_equal(d.digest_type[0], t);
		memcpy(copy, buf, len);
		assert_true(verify_at_b(key, buf, len, &d));
		assert_memory_equal(copy, buf, len); /* verify leaves buf alone */
		/* trailing bytes beyond Length do not matter */
		buf[len] = 0x99;
		assert_true(verify_at_b(key, buf, len + 1, &d));
		/* A cannot verify its own message: the nonce order is swapped */
		assert_false(l2tp_auth_digest_verify(key, nonce_b, sizeof(nonce_b), nonce_a, sizeof(nonce_a), buf, len,
						     &d));
	}
}

static void test_digest_sccrq_signed_without_nonces(void **state)
{
	uint8_t key[16], buf[BUF_MAX];
	struct l2tp_msg m, d;
	int len;

	(void)state;
	l2tp_auth_shared_key(secret, strlen(secret), key);
	msg_init(&m, L2TP_MSG_SCCRQ, 0, 0, 0, L2TP_DIGEST_HMAC_MD5);
	set_ctl_identity(&m, "RT1", 1, 0x1111, nonce_a, sizeof(nonce_a));
	len = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	l2tp_auth_digest_sign(key, NULL, 0, NULL, 0, buf, (size_t)len, &m);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)len, &d), 0);
	assert_true(l2tp_auth_digest_verify(key, NULL, 0, NULL, 0, buf, (size_t)len, &d));
	assert_false(verify_at_b(key, buf, (size_t)len, &d));
}

static void test_digest_any_flipped_byte_fails(void **state)
{
	uint8_t key[16], buf[BUF_MAX];
	struct l2tp_msg m, d;
	size_t len, i;
	int t;

	(void)state;
	l2tp_auth_shared_key(secret, strlen(secret), key);
	for (t = L2TP_DIGEST_HMAC_MD5; t <= L2TP_DIGEST_HMAC_SHA1; t++) {
		len = signed_iccn(buf, key, (uint8_t)t, &m);
		assert_int_equal(l2tp_ctrl_decode(buf, len, &d), 0);
		for (i = 0; i < len; i++) {
			struct l2tp_msg d2;

			buf[i] ^= 0x01;
			/* with the original decode, and with a fresh one if it decodes */
			assert_false(verify_at_b(key, buf, len, &d));
			if (l2tp_ctrl_decode(buf, len, &d2) == 0)
				assert_false(verify_at_b(key, buf, len, &d2));
			buf[i] ^= 0x01;
		}
		assert_true(verify_at_b(key, buf, len, &d));
	}
}

static void test_digest_wrong_secret_or_nonce_fails(void **state)
{
	uint8_t key[16], other[16], buf[BUF_MAX], n[16];
	struct l2tp_msg m, d;
	size_t len;

	(void)state;
	l2tp_auth_shared_key(secret, strlen(secret), key);
	l2tp_auth_shared_key("yamahb", 6, other);
	len = signed_iccn(buf, key, L2TP_DIGEST_HMAC_SHA1, &m);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &d), 0);
	assert_false(verify_at_b(other, buf, len, &d));
	memcpy(n, nonce_a, 16);
	n[15] ^= 0x80;
	assert_false(l2tp_auth_digest_verify(key, n, 16, nonce_b, sizeof(nonce_b), buf, len, &d));
	assert_false(l2tp_auth_digest_verify(key, nonce_a, 15, nonce_b, sizeof(nonce_b), buf, len, &d));
	assert_false(l2tp_auth_digest_verify(key, NULL, 0, NULL, 0, buf, len, &d));
}

static void test_digest_none_present_fails(void **state)
{
	uint8_t key[16], buf[BUF_MAX];
	struct l2tp_msg m, d;
	int len;

	(void)state;
	l2tp_auth_shared_key(secret, strlen(secret), key);
	msg_init(&m, L2TP_MSG_HELLO, 0x2222, 1, 1, 0);
	m.n_digests = 0;
	len = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, 20);
	l2tp_auth_digest_sign(key, nonce_a, sizeof(nonce_a), nonce_b, sizeof(nonce_b), buf, (size_t)len, &m);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)len, &d), 0);
	assert_false(verify_at_b(key, buf, (size_t)len, &d));
	/* a digest offset that does not fit the message is refused, not read */
	d.n_digests = 1;
	d.digest_type[0] = L2TP_DIGEST_HMAC_SHA1;
	d.digest_off[0] = 10;
	assert_false(verify_at_b(key, buf, (size_t)len, &d));
}

/* A HELLO with an MD5 digest (from the encoder) and a SHA-1 digest AVP
 * appended by hand; returns its length. */
static size_t two_digest_hello(uint8_t *buf, struct l2tp_msg *m)
{
	static const uint8_t sha_avp[27] = { 0x80, 27, 0, 0, 0, L2TP_AVP_MESSAGE_DIGEST, L2TP_DIGEST_HMAC_SHA1 };
	int len;

	msg_init(m, L2TP_MSG_HELLO, 0x2222, 7, 5, L2TP_DIGEST_HMAC_MD5);
	len = l2tp_ctrl_encode(m, buf, BUF_MAX);
	assert_int_equal(len, 43);
	memcpy(buf + len, sha_avp, sizeof(sha_avp));
	len += (int)sizeof(sha_avp);
	buf[2] = 0;
	buf[3] = (uint8_t)len;
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)len, m), 0);
	assert_int_equal(m->n_digests, 2);
	return (size_t)len;
}

/* Sign only digest i of m (the other one hashed as it stands). */
static void sign_one(const uint8_t key[16], uint8_t *buf, size_t len, const struct l2tp_msg *m, size_t i)
{
	struct l2tp_msg one = *m;

	one.n_digests = 1;
	one.digest_type[0] = m->digest_type[i];
	one.digest_off[0] = m->digest_off[i];
	l2tp_auth_digest_sign(key, nonce_a, sizeof(nonce_a), nonce_b, sizeof(nonce_b), buf, len, &one);
}

static void test_digest_two_avps_second_verifies(void **state)
{
	uint8_t key[16], old[16], buf[BUF_MAX];
	struct l2tp_msg m;
	size_t len;

	(void)state;
	l2tp_auth_shared_key(secret, strlen(secret), key);
	l2tp_auth_shared_key("old secret", 10, old);

	/* Wireshark's reading: the first digest (old key) is hashed as it
	 * stands when the second (current key) is computed */
	len = two_digest_hello(buf, &m);
	sign_one(old, buf, len, &m, 0);
	sign_one(key, buf, len, &m, 1);
	assert_true(verify_at_b(key, buf, len, &m));
	/* and the old-key digest, signed while the second was still zero,
	 * verifies under the RFC reading */
	assert_true(verify_at_b(old, buf, len, &m));

	/* the RFC reading: both digest fields zero while either is computed */
	len = two_digest_hello(buf, &m);
	sign_one(key, buf, len, &m, 1);
	memset(buf + m.digest_off[0] + 1, 0x5c, 16); /* an old-key digest, garbage to us */
	assert_true(verify_at_b(key, buf, len, &m));

	/* neither verifies */
	buf[m.digest_off[1] + 1] ^= 1;
	assert_false(verify_at_b(key, buf, len, &m));

	/* the first one verifies, the second is garbage */
	len = two_digest_hello(buf, &m);
	memset(buf + m.digest_off[1] + 1, 0x77, 20);
	sign_one(key, buf, len, &m, 0);
	assert_true(verify_at_b(key, buf, len, &m));
}

/* ---------------------------------------------------------------------- */
/* Wireshark cross-check */

struct pcap {
	FILE *f;
	unsigned n;
};

static void wr16be(uint8_t *p, uint16_t x)
{
	p[0] = (uint8_t)(x >> 8);
	p[1] = (uint8_t)x;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void pcap_open(struct pcap *p, const char *path)
{
	/* classic pcap, microseconds, little endian, LINKTYPE_ETHERNET */
	static const uint8_t hdr[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
					 0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0 };

	p->f = fopen(path, "wb");
	assert_non_null(p->f);
	p->n = 0;
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), p->f), sizeof(hdr));
}

/* One Ethernet/IPv4/UDP 1701->1701 frame; from_a picks the direction
 * between 192.0.2.1 (A) and 192.0.2.2 (B). */
static void pcap_write(struct pcap *p, bool from_a, const uint8_t *l2tp, size_t len)
{
	uint8_t f[14 + 20 + 8 + BUF_MAX];
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint8_t rec[16];
	uint32_t sum, ts = p->n++;
	size_t caplen = 14 + 20 + 8 + len;

	memset(f, 0, 14 + 20 + 8);
	memcpy(f, from_a ? "\x02\0\0\0\0\x02" : "\x02\0\0\0\0\x01", 6);
	memcpy(f + 6, from_a ? "\x02\0\0\0\0\x01" : "\x02\0\0\0\0\x02", 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	wr16be(ip + 2, (uint16_t)(20 + 8 + len));
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, from_a ? "\xc0\x00\x02\x01\xc0\x00\x02\x02" : "\xc0\x00\x02\x02\xc0\x00\x02\x01", 8);
	wr16be(ip + 10, csum_fold(csum_add(0, ip, 20)));
	wr16be(udp, L2TP_UDP_PORT);
	wr16be(udp + 2, L2TP_UDP_PORT);
	wr16be(udp + 4, (uint16_t)(8 + len));
	memcpy(udp + 8, l2tp, len);
	sum = csum_add(0, ip + 12, 8) + 17 + (uint32_t)(8 + len);
	sum = csum_add(sum, udp, 8 + len);
	wr16be(udp + 6, csum_fold(sum) ? csum_fold(sum) : 0xffff);

	memset(rec, 0, sizeof(rec));
	rec[0] = (uint8_t)ts; /* seconds */
	rec[8] = (uint8_t)caplen;
	rec[9] = (uint8_t)(caplen >> 8);
	memcpy(rec + 12, rec + 8, 4);
	assert_int_equal(fwrite(rec, 1, 16, p->f), 16);
	assert_int_equal(fwrite(f, 1, caplen, p->f), caplen);
}

static void pcap_close(struct pcap *p)
{
	assert_int_equal(fclose(p->f), 0);
}

enum tamper {
	TAMPER_NONE,
	TAMPER_SCCCN_NONCES_SWAPPED, /* A signs its SCCCN as if it were B */
	TAMPER_ICRQ_BYTE,            /* a flipped byte after signing the ICRQ (A -> B) */
	TAMPER_ICRP_BYTE,            /* the same in the ICRP (B -> A) */
};

/* Encode, sign and write one message; from_a: A -> B, else B -> A. */
static void put_msg(struct pcap *p, const uint8_t key[16], struct l2tp_msg *m, bool from_a, bool with_nonces,
		    bool swap, bool flip)
{
	uint8_t buf[BUF_MAX];
	const uint8_t *local = from_a ? nonce_a : nonce_b, *remote = from_a ? nonce_b : nonce_a;
	size_t local_len = from_a ? sizeof(nonce_a) : sizeof(nonce_b);
	size_t remote_len = from_a ? sizeof(nonce_b) : sizeof(nonce_a);
	struct l2tp_msg d;
	int len = l2tp_ctrl_encode(m, buf, sizeof(buf));

	assert_true(len > 0);
	if (!with_nonces)
		local_len = remote_len = 0;
	if (swap)
		l2tp_auth_digest_sign(key, remote, remote_len, local, local_len, buf, (size_t)len, m);
	else
		l2tp_auth_digest_sign(key, local, local_len, remote, remote_len, buf, (size_t)len, m);
	/* the receiver's view agrees, unless we tampered */
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)len, &d), 0);
	assert_int_equal(l2tp_auth_digest_verify(key, local, local_len, remote, remote_len, buf, (size_t)len, &d),
			 !swap);
	if (flip)
		buf[len - 1] ^= 0x01;
	pcap_write(p, from_a, buf, (size_t)len);
}

/* SCCRQ, SCCRP, SCCCN, ICRQ, ICRP, ACK between A and B.  with_nonces false
 * is integrity-only mode: no Nonce AVPs, key from the empty secret. */
static void write_exchange(const char *path, bool with_nonces, enum tamper tamper)
{
	uint8_t key[16];
	struct l2tp_msg m;
	struct pcap p;

	if (with_nonces)
		l2tp_auth_shared_key(secret, strlen(secret), key);
	else
		l2tp_auth_shared_key("", 0, key);
	pcap_open(&p, path);

	msg_init(&m, L2TP_MSG_SCCRQ, 0, 0, 0, L2TP_DIGEST_HMAC_MD5);
	set_ctl_identity(&m, "RT1", 3232236042u, 0x1111, nonce_a, with_nonces ? sizeof(nonce_a) : 0);
	memset(m.tie_breaker, 0x3c, 8);
	l2tp_msg_set(&m, L2TP_AVP_TIE_BREAKER);
	/* the SCCRQ digest covers the message only (its nonce is inside) */
	put_msg(&p, key, &m, true, false, false, false);

	msg_init(&m, L2TP_MSG_SCCRP, 0x1111, 0, 1, L2TP_DIGEST_HMAC_SHA1);
	set_ctl_identity(&m, "RT2", 3232236043u, 0x2222, nonce_b, with_nonces ? sizeof(nonce_b) : 0);
	put_msg(&p, key, &m, false, with_nonces, false, false);

	msg_init(&m, L2TP_MSG_SCCCN, 0x2222, 1, 1, L2TP_DIGEST_HMAC_MD5);
	put_msg(&p, key, &m, true, with_nonces, tamper == TAMPER_SCCCN_NONCES_SWAPPED, false);

	msg_init(&m, L2TP_MSG_ICRQ, 0x2222, 2, 1, L2TP_DIGEST_HMAC_MD5);
	set_session(&m, 14473, 0);
	m.serial_number = 1;
	l2tp_msg_set(&m, L2TP_AVP_SERIAL_NUMBER);
	memcpy(m.remote_end_id, "yamaha", 6);
	m.remote_end_id_len = 6;
	l2tp_msg_set(&m, L2TP_AVP_REMOTE_END_ID);
	put_msg(&p, key, &m, true, with_nonces, false, tamper == TAMPER_ICRQ_BYTE);

	msg_init(&m, L2TP_MSG_ICRP, 0x1111, 1, 3, L2TP_DIGEST_HMAC_SHA1);
	set_session(&m, 54668, 14473);
	put_msg(&p, key, &m, false, with_nonces, false, tamper == TAMPER_ICRP_BYTE);

	msg_init(&m, L2TP_MSG_ACK, 0x2222, 3, 2, L2TP_DIGEST_HMAC_MD5);
	put_msg(&p, key, &m, true, with_nonces, false, false);

	pcap_close(&p);
}

/* Run tshark; returns its stdout (malloc'd, NUL-terminated). */
static char *run_tshark(const char *pcap, const char *secret_pref, const char *args)
{
	char cmd[1024];
	char *out = calloc(1, 65536);
	size_t n = 0, r;
	FILE *f;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' -o l2tp.shared_secret:%s %s 2>/dev/null", pcap, secret_pref,
		 args);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((r = fread(out + n, 1, 65535 - n, f)) > 0)
		n += r;
	assert_int_equal(pclose(f), 0);
	return out;
}

#define BAD_FILTER "-Y 'l2tp.incorrect_digest || _ws.malformed || _ws.expert.severity >= \"Warning\"' " \
		   "-T fields -e frame.number"

struct tmp {
	char dir[64];
	char path[96];
};

static int tshark_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/l2tpv3d-test-auth.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/digest.pcap", t->dir);
	*state = t;
	return 0;
}

static int tshark_teardown(void **state)
{
	struct tmp *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

static bool have_tshark(void)
{
	return system("command -v tshark >/dev/null 2>&1") == 0;
}

static void test_tshark_accepts_our_digests_with_nonces(void **state)
{
	struct tmp *t = *state;
	char *out;

	if (!have_tshark())
		skip();
	write_exchange(t->path, true, TAMPER_NONE);

	/* every frame dissected as the L2TPv3 control message we meant */
	out = run_tshark(t->path, secret,
			 "-Y l2tp.type==1 -T fields -e l2tp.avp.message_type -e l2tp.avp.message_digest");
	assert_int_equal(strncmp(out, "1\t", 2), 0);
	assert_non_null(strstr(out, "\n2\t"));
	assert_non_null(strstr(out, "\n3\t"));
	assert_non_null(strstr(out, "\n10\t"));
	assert_non_null(strstr(out, "\n11\t"));
	assert_non_null(strstr(out, "\n20\t"));
	free(out);

	out = run_tshark(t->path, secret,
			 "-Y 'l2tp.avp.message_type==1 || l2tp.avp.message_type==2' -T fields "
			 "-e l2tp.avp.host_name -e l2tp.avp.router_id -e l2tp.avp.assigned_control_conn_id");
	assert_string_equal(out, "RT1\t3232236042\t4369\nRT2\t3232236043\t8738\n");
	free(out);

	out = run_tshark(t->path, secret,
			 "-Y 'l2tp.avp.message_type==10' -T fields -e l2tp.avp.local_session_id "
			 "-e l2tp.avp.remote_session_id -e l2tp.avp.remote_end_id -e l2tp.avp.pseudowire_type");
	assert_string_equal(out, "14473\t0\tyamaha\t5\n");
	free(out);

	out = run_tshark(t->path, secret, BAD_FILTER);
	assert_string_equal(out, "");
	free(out);
}

static void test_tshark_accepts_integrity_only_digests(void **state)
{
	struct tmp *t = *state;
	char *out;

	if (!have_tshark())
		skip();
	write_exchange(t->path, false, TAMPER_NONE);
	out = run_tshark(t->path, secret, BAD_FILTER);
	assert_string_equal(out, "");
	free(out);
}

/* The check above has teeth: tshark does flag swapped nonces, changed bytes
 * in either direction (only in the frame we spoilt) and another secret. */
static void test_tshark_flags_swapped_nonces_flipped_bytes_wrong_secret(void **state)
{
	struct tmp *t = *state;
	char *out;

	if (!have_tshark())
		skip();
	write_exchange(t->path, true, TAMPER_SCCCN_NONCES_SWAPPED);
	out = run_tshark(t->path, secret, "-Y l2tp.incorrect_digest -T fields -e frame.number");
	assert_string_equal(out, "3\n");
	free(out);

	write_exchange(t->path, true, TAMPER_ICRQ_BYTE);
	out = run_tshark(t->path, secret, "-Y l2tp.incorrect_digest -T fields -e frame.number");
	assert_string_equal(out, "4\n");
	free(out);

	write_exchange(t->path, true, TAMPER_ICRP_BYTE);
	out = run_tshark(t->path, secret, "-Y l2tp.incorrect_digest -T fields -e frame.number");
	assert_string_equal(out, "5\n");
	free(out);

	/* another secret: every digest is wrong, in both directions */
	write_exchange(t->path, true, TAMPER_NONE);
	out = run_tshark(t->path, "yamahb", "-Y l2tp.incorrect_digest -T fields -e frame.number");
	assert_string_equal(out, "1\n2\n3\n4\n5\n6\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_key_vectors),
		cmocka_unit_test(test_chap_response_freertr_sccrp_and_scccn),
		cmocka_unit_test(test_digest_sign_then_verify_md5_and_sha1),
		cmocka_unit_test(test_digest_sccrq_signed_without_nonces),
		cmocka_unit_test(test_digest_any_flipped_byte_fails),
		cmocka_unit_test(test_digest_wrong_secret_or_nonce_fails),
		cmocka_unit_test(test_digest_none_present_fails),
		cmocka_unit_test(test_digest_two_avps_second_verifies),
		cmocka_unit_test_setup_teardown(test_tshark_accepts_our_digests_with_nonces, tshark_setup,
						tshark_teardown),
		cmocka_unit_test_setup_teardown(test_tshark_accepts_integrity_only_digests, tshark_setup,
						tshark_teardown),
		cmocka_unit_test_setup_teardown(test_tshark_flags_swapped_nonces_flipped_bytes_wrong_secret,
						tshark_setup, tshark_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
