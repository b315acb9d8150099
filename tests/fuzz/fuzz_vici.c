/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the VICI codec (src/ipsec/vici.c): the input is what
 * charon could send on the socket, a byte stream of length-prefixed
 * packets.  Frame it, decode each packet; a decoded packet must encode back
 * to the same bytes, and the lookups the daemon uses (sections by path,
 * children, keys) must stay in bounds.
 */
#include <string.h>

#include "fuzz.h"
#include "ipsec/vici.h"

static void walk(const struct vici_msg *m, long sec, int depth)
{
	long pos = sec + 1, c;

	if (depth > VICI_DEPTH_MAX + 1)
		return;
	(void)vici_get_in(m, sec, "state");
	while ((c = vici_next_child(m, sec, &pos)) >= 0) {
		fuzz_check((size_t)c < m->n && m->v[c].type == VICI_SECTION_START);
		walk(m, c, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		long n = vici_frame_len(data + off, size - off);
		struct vici_packet p;

		if (n <= 0)
			break;
		if (vici_packet_decode(data + off + 4, (size_t)n - 4, &p) == 0) {
			uint8_t *b;
			size_t len;

			fuzz_check(vici_packet_encode(p.type, p.name, &p.msg, &b, &len) == 0);
			fuzz_check(len == (size_t)n && !memcmp(b, data + off, len));
			free(b);
			walk(&p.msg, -1, 0);
			(void)vici_get(&p.msg, "a/child-sas/b", "spi-in");
			(void)vici_find_section(&p.msg, "x/y");
		}
		vici_packet_free(&p);
		off += (size_t)n;
	}
	return 0;
}
