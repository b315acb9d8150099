/* SPDX-License-Identifier: MIT */
/*
 * Write seed corpora from real exchanges of our own state machines:
 *   gen-corpus FSM_DIR WIRE_DIR
 * FSM_DIR gets one fuzz_fsm input per role, authentication style and
 * ending (exchange-*); WIRE_DIR every distinct datagram sent (msg-*),
 * named after its message type, and a few hand-made messages the
 * exchanges lack (hand-*).  Deterministic: the fake random source
 * is a counter, so reruns write the same files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fsm.h"
#include "wire/l2tp_wire.h"

struct wire_out {
	const char *dir;
	unsigned n;
	unsigned seen[L2TP_MSG_TYPE_MAX][3]; /* per type: count, keep at most 3 */
};

static void on_dgram(const uint8_t *buf, size_t len, void *arg)
{
	struct wire_out *w = arg;
	struct l2tp_msg m;
	char path[512];
	FILE *f;

	if (l2tp_ctrl_decode(buf, len, &m) != 0 || m.type >= L2TP_MSG_TYPE_MAX)
		return;
	if (w->seen[m.type][0]++ >= 3)
		return;
	snprintf(path, sizeof(path), "%s/msg-%03u-%s%s", w->dir, w->n++, l2tp_msg_type_name(m.type),
		 m.n_digests ? "-digest" : "");
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void write_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Messages the exchanges do not show: CDN, SLI, WEN, an unknown type with
 * M=0, hidden AVPs (secret "yamaha", as fuzz_wire uses). */
static void write_handmade(const char *dir)
{
	static const uint8_t rv[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };
	static const uint8_t sid[4] = { 0, 0, 0x12, 0x34 };
	uint8_t buf[L2TP_MAX_MSG_LEN];
	struct l2tp_msg m;
	int n, r;

	memset(&m, 0, sizeof(m));
	m.ccid = 0x0a0b0c0d;
	m.ns = 5;
	m.nr = 4;
	l2tp_msg_set(&m, L2TP_AVP_MESSAGE_TYPE);
	l2tp_msg_set(&m, L2TP_AVP_LOCAL_SESSION_ID);
	l2tp_msg_set(&m, L2TP_AVP_REMOTE_SESSION_ID);
	m.local_session_id = 0x2000;
	m.remote_session_id = 0x1000;

	m.type = L2TP_MSG_CDN;
	l2tp_msg_set(&m, L2TP_AVP_RESULT_CODE);
	m.result_code = L2TP_CDN_ADMIN;
	m.has_error_code = true;
	snprintf(m.error_msg, sizeof(m.error_msg), "administrative");
	n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	write_file(dir, "hand-CDN", buf, (size_t)n);
	m.present[0] &= ~(1u << L2TP_AVP_RESULT_CODE);

	m.type = L2TP_MSG_SLI;
	l2tp_msg_set(&m, L2TP_AVP_CIRCUIT_STATUS);
	m.circuit_status = L2TP_CIRCUIT_ACTIVE;
	n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	write_file(dir, "hand-SLI", buf, (size_t)n);

	m.type = L2TP_MSG_WEN;
	n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	write_file(dir, "hand-WEN", buf, (size_t)n);

	m.type = 42;
	n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	buf[12] &= 0x7f; /* Message Type M=0 */
	write_file(dir, "hand-unknown-type-M0", buf, (size_t)n);

	/* ICRQ: Random Vector, then hidden Local Session ID and Remote End ID */
	m.type = L2TP_MSG_ICRQ;
	m.present[L2TP_AVP_LOCAL_SESSION_ID / 32] &= ~(1u << (L2TP_AVP_LOCAL_SESSION_ID % 32));
	n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	buf[n++] = 0x80;
	buf[n++] = 6 + sizeof(rv);
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = L2TP_AVP_RANDOM_VECTOR;
	memcpy(buf + n, rv, sizeof(rv));
	n += (int)sizeof(rv);
	r = l2tp_avp_hide(buf + n, sizeof(buf) - (size_t)n, true, L2TP_AVP_LOCAL_SESSION_ID, sid, 4, 10, "yamaha", 6,
			  rv, sizeof(rv));
	n += r > 0 ? r : 0;
	r = l2tp_avp_hide(buf + n, sizeof(buf) - (size_t)n, true, L2TP_AVP_REMOTE_END_ID, (const uint8_t *)"yamaha",
			  6, 25, "yamaha", 6, rv, sizeof(rv));
	n += r > 0 ? r : 0;
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	write_file(dir, "hand-ICRQ-hidden", buf, (size_t)n);
}

int main(int argc, char **argv)
{
	static const char *const role[] = { "responder", "initiator" };
	static const char *const auth[] = { "noauth", "digest", "challenge" };
	struct wire_out w = { 0 };
	char path[512];

	if (argc != 3) {
		fprintf(stderr, "usage: %s FSM_DIR WIRE_DIR\n", argv[0]);
		return 2;
	}
	w.dir = argv[2];
	write_handmade(argv[2]);
	for (unsigned sel = 0; sel < 16; sel++) {
		FILE *f;

		if (((sel >> 1) & 3) == 3)
			continue;
		snprintf(path, sizeof(path), "%s/exchange-%s-%s%s", argv[1], role[sel & 1], auth[(sel >> 1) & 3],
			 sel & 8 ? "-stopccn" : "");
		f = fopen(path, "wb");
		if (!f || fuzz_fsm_record((uint8_t)sel, 40, f, on_dgram, &w) != 0 || fclose(f) != 0) {
			perror(path);
			return 1;
		}
		memset(w.seen, 0, sizeof(w.seen));
	}
	return 0;
}
