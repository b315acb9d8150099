/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the wire codec (src/wire): one datagram as it comes from
 * UDP 1701.  Properties checked beyond "no crash, no sanitizer report":
 *  - a message that decodes re-encodes (encoding never fails on what the
 *    decoder accepted), the re-encoded bytes decode to the same fields,
 *    and encoding those gives the same bytes again;
 *  - digest verification and hidden-AVP decoding with a fixed secret
 *    never read outside the datagram; unhiding leaves m alone on failure;
 *  - the data header helpers agree with each other.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "wire/l2tp_wire.h"

#define SECRET "yamaha"

/* AVPs the decoder only marks present: the encoder has no value for them. */
static void drop_presence_only(struct l2tp_msg *m)
{
	static const unsigned only[] = { L2TP_AVP_CIRCUIT_ERRORS, L2TP_AVP_RANDOM_VECTOR,
					 L2TP_AVP_PREFERRED_LANGUAGE };

	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++)
		m->present[only[i] / 32] &= ~(1u << (only[i] % 32));
}

static void check_same(const struct l2tp_msg *a, const struct l2tp_msg *b)
{
	fuzz_check(a->ccid == b->ccid && a->ns == b->ns && a->nr == b->nr && a->type == b->type);
	fuzz_check(memcmp(a->present, b->present, sizeof(a->present)) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_RESULT_CODE)) {
		fuzz_check(a->result_code == b->result_code);
		fuzz_check(strcmp(a->error_msg, b->error_msg) == 0);
		fuzz_check(!a->has_error_code || a->error_code == b->error_code);
	}
	if (l2tp_msg_has(a, L2TP_AVP_HOST_NAME))
		fuzz_check(strcmp(a->host_name, b->host_name) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_VENDOR_NAME))
		fuzz_check(strcmp(a->vendor_name, b->vendor_name) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_TIE_BREAKER))
		fuzz_check(memcmp(a->tie_breaker, b->tie_breaker, 8) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_CHALLENGE))
		fuzz_check(a->challenge_len == b->challenge_len &&
			   memcmp(a->challenge, b->challenge, a->challenge_len) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_CHALLENGE_RESPONSE))
		fuzz_check(memcmp(a->challenge_response, b->challenge_response, 16) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_NONCE))
		fuzz_check(a->nonce_len == b->nonce_len && memcmp(a->nonce, b->nonce, a->nonce_len) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_PW_CAPABILITIES))
		fuzz_check(a->n_pw_caps == b->n_pw_caps &&
			   memcmp(a->pw_caps, b->pw_caps, a->n_pw_caps * sizeof(a->pw_caps[0])) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_ASSIGNED_COOKIE))
		fuzz_check(a->assigned_cookie_len == b->assigned_cookie_len &&
			   memcmp(a->assigned_cookie, b->assigned_cookie, a->assigned_cookie_len) == 0);
	if (l2tp_msg_has(a, L2TP_AVP_REMOTE_END_ID))
		fuzz_check(a->remote_end_id_len == b->remote_end_id_len &&
			   memcmp(a->remote_end_id, b->remote_end_id, a->remote_end_id_len) == 0);
	fuzz_check(a->recv_window == b->recv_window && a->serial_number == b->serial_number &&
		   a->phys_channel_id == b->phys_channel_id && a->router_id == b->router_id &&
		   a->assigned_ccid == b->assigned_ccid && a->local_session_id == b->local_session_id &&
		   a->remote_session_id == b->remote_session_id && a->pw_type == b->pw_type &&
		   a->l2ss == b->l2ss && a->data_sequencing == b->data_sequencing &&
		   a->circuit_status == b->circuit_status && a->tx_connect_speed == b->tx_connect_speed &&
		   a->rx_connect_speed == b->rx_connect_speed);
	fuzz_check(a->n_digests == b->n_digests);
	if (a->n_digests)
		fuzz_check(a->digest_type[0] == b->digest_type[0]);
}

static void roundtrip(const struct l2tp_msg *m)
{
	static uint8_t buf1[L2TP_MAX_MSG_LEN], buf2[L2TP_MAX_MSG_LEN];
	struct l2tp_msg e = *m, d, e2;
	int n1, n2;

	if (e.n_digests > 1)
		e.n_digests = 1;
	drop_presence_only(&e);
	n1 = l2tp_ctrl_encode(&e, buf1, sizeof(buf1));
	fuzz_check(n1 >= L2TP_CTRL_HDR_LEN);
	fuzz_check(l2tp_ctrl_decode(buf1, (size_t)n1, &d) == L2TP_DEC_OK);
	fuzz_check(!d.unknown_mandatory && d.n_hidden == 0 && d.type_mandatory == (d.type != L2TP_MSG_ZLB));
	check_same(&e, &d);
	e2 = d;
	n2 = l2tp_ctrl_encode(&e2, buf2, sizeof(buf2));
	fuzz_check(n2 == n1 && memcmp(buf1, buf2, (size_t)n1) == 0);
}

static void data_helpers(const uint8_t *data, size_t size)
{
	uint8_t hdr[20];
	uint32_t sid = 0, sid2 = 0;
	size_t cookie_len, n;
	bool l2ss;

	if (l2tp_data_hdr_sid(data, size, &sid) == 0)
		fuzz_check(size >= L2TP_DATA_UDP_HDR_LEN);
	if (size < 2)
		return;
	(void)l2tp_is_ctrl(data);
	/* write a header from the input's bytes and parse it back */
	cookie_len = (size_t[]){ 0, 4, 8, 0 }[data[0] & 3];
	l2ss = data[0] & 4;
	if (size < 2 + cookie_len + 4)
		return;
	n = l2tp_data_hdr_write(hdr, sid, data + 2, cookie_len, l2ss, data[1] & 1,
				(uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4]);
	fuzz_check(n == l2tp_data_hdr_len(cookie_len, l2ss));
	fuzz_check(l2tp_data_hdr_sid(hdr, n, &sid2) == 0 && sid2 == sid);
	fuzz_check(memcmp(hdr + 8, data + 2, cookie_len) == 0);
	fuzz_check(!l2tp_is_ctrl(hdr));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t nonce_a[16] = { 1, 2, 3 }, nonce_b[16] = { 4, 5, 6 };
	struct l2tp_msg m, u, before;
	uint8_t key[16];
	int r;

	data_helpers(data, size);
	r = l2tp_ctrl_decode(data, size, &m);
	fuzz_check(r <= 0 && r > -L2TP_DEC_ERR_MAX);
	fuzz_check(strcmp(l2tp_decode_strerror(r), "unknown error") != 0);
	if (r != L2TP_DEC_OK)
		return 0;
	fuzz_check(m.n_digests <= L2TP_MAX_DIGESTS && m.n_hidden_avps <= L2TP_HIDDEN_MAX);
	fuzz_check(m.n_hidden_avps <= m.n_hidden);
	(void)l2tp_msg_type_name(m.type);

	l2tp_auth_shared_key(SECRET, strlen(SECRET), key);
	(void)l2tp_auth_digest_verify(key, NULL, 0, NULL, 0, data, size, &m);
	(void)l2tp_auth_digest_verify(key, nonce_a, sizeof(nonce_a), nonce_b, sizeof(nonce_b), data, size, &m);

	u = m;
	before = m;
	r = l2tp_msg_unhide(&u, data, size, SECRET, strlen(SECRET));
	if (r == 0) {
		fuzz_check(!u.unknown_hidden);
		roundtrip(&u);
	} else {
		fuzz_check(r == -EBADMSG || r == -EINVAL);
		fuzz_check(memcmp(&u, &before, sizeof(u)) == 0);
	}
	roundtrip(&m);
	return 0;
}
