/* SPDX-License-Identifier: MIT */
/*
 * Write seed corpora from real exchanges of our own state machines:
 *   gen-corpus FSM_DIR WIRE_DIR
 * FSM_DIR gets one fuzz_fsm input per role, authentication style and
 * ending (exchange-*); WIRE_DIR every distinct datagram sent (msg-*),
 * named after its message type.  Deterministic: the fake random source
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
