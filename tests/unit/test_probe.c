/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the static session probe's frames and bookkeeping
 * (src/daemon/probe.c): the ARP probe byte for byte, the answer matching
 * against a reply captured from a Linux 6.1 host (and every way a frame can
 * fail to be one), and the up/down verdicts.  Pure: no sockets, time passed in.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/probe.h"

static const uint8_t our_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/*
 * What a Linux host (192.168.30.2, 02:00:00:00:00:02) answered to the
 * probe of test_build, captured with tcpdump -xx: unicast to the prober,
 * target IP 0.0.0.0, target MAC the prober's (42 bytes, unpadded).
 */
static const uint8_t linux_reply[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0xc0, 0xa8, 0x1e, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
};

/* RFC 5227 §2.1.1: broadcast, sender IP zero, target MAC zero, padded to 60 bytes */
static void test_build(void **state)
{
	static const uint8_t expect[PROBE_FRAME_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x1e, 0x02,
		/* padding */
	};
	uint8_t buf[PROBE_FRAME_LEN + 4];

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(probe_build(buf, sizeof(buf), our_mac, ip("192.168.30.2")), PROBE_FRAME_LEN);
	assert_memory_equal(buf, expect, PROBE_FRAME_LEN);
	assert_int_equal(buf[PROBE_FRAME_LEN], 0xaa); /* nothing written past the frame */
	/* too small a buffer: nothing built */
	assert_int_equal(probe_build(buf, PROBE_FRAME_LEN - 1, our_mac, ip("192.168.30.2")), 0);
}

static void test_linux_reply_is_answer(void **state)
{
	uint8_t padded[60];

	(void)state;
	assert_true(probe_is_answer(linux_reply, sizeof(linux_reply), our_mac, ip("192.168.30.2")));
	/* as a NIC pads it on the way */
	memset(padded, 0, sizeof(padded));
	memcpy(padded, linux_reply, sizeof(linux_reply));
	assert_true(probe_is_answer(padded, sizeof(padded), our_mac, ip("192.168.30.2")));
	/* a broadcast reply is still one (RFC 5227 allows broadcasting them) */
	memset(padded, 0xff, 6);
	assert_true(probe_is_answer(padded, sizeof(padded), our_mac, ip("192.168.30.2")));
}

static void test_not_answers(void **state)
{
	uint8_t f[sizeof(linux_reply)], probe[PROBE_FRAME_LEN];
	static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x09 };
	uint32_t target = ip("192.168.30.2");

	(void)state;
	/* another host's address, another prober's MAC */
	assert_false(probe_is_answer(linux_reply, sizeof(linux_reply), our_mac, ip("192.168.30.3")));
	assert_false(probe_is_answer(linux_reply, sizeof(linux_reply), other_mac, target));
	/* truncated at every length, and NULL */
	for (size_t n = 0; n < sizeof(linux_reply); n++)
		assert_false(probe_is_answer(linux_reply, n, our_mac, target));
	assert_false(probe_is_answer(NULL, 60, our_mac, target));
	/* our own probe (a request) is not its answer */
	assert_int_equal(probe_build(probe, sizeof(probe), our_mac, target), PROBE_FRAME_LEN);
	assert_false(probe_is_answer(probe, sizeof(probe), our_mac, target));
	/* one field off at a time: EtherType, hardware type, protocol type,
	 * address lengths, operation */
	static const struct {
		size_t off;
		uint8_t v;
	} bad[] = { { 12, 0x86 }, { 13, 0x00 }, { 15, 0x06 }, { 16, 0x86 }, { 18, 0x08 }, { 19, 0x10 }, { 21, 0x01 },
		    { 21, 0x04 } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(f, linux_reply, sizeof(f));
		f[bad[i].off] = bad[i].v;
		assert_false(probe_is_answer(f, sizeof(f), our_mac, target));
	}
	/* a VLAN-tagged frame is not read through */
	{
		uint8_t v[sizeof(linux_reply) + 4];

		memcpy(v, linux_reply, 12);
		memcpy(v + 12, "\x81\x00\x00\x0a", 4);
		memcpy(v + 16, linux_reply + 12, sizeof(linux_reply) - 12);
		assert_false(probe_is_answer(v, sizeof(v), our_mac, target));
	}
}

/* count unanswered in a row make it down; an answer makes it up */
static void test_verdicts(void **state)
{
	struct probe_state s;
	bool ch;

	(void)state;
	probe_state_init(&s, 3);
	assert_int_equal(s.verdict, PROBE_UNKNOWN);
	assert_string_equal(probe_verdict_name(s.verdict), "unknown");
	/* first probe, answered */
	assert_int_equal(probe_on_send(&s, &ch), PROBE_UNKNOWN);
	assert_false(ch);
	assert_int_equal(probe_on_answer(&s, 1000, &ch), PROBE_UP);
	assert_true(ch);
	assert_int_equal(s.last_answer_ms, 1000);
	/* a second answer to the same probe counts nothing */
	assert_int_equal(probe_on_answer(&s, 1100, &ch), PROBE_UP);
	assert_false(ch);
	assert_int_equal(s.answered, 1);
	assert_int_equal(s.last_answer_ms, 1000);
	/* three probes go out unanswered: still up while the third is on its way */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(probe_on_send(&s, &ch), PROBE_UP);
		assert_false(ch);
	}
	assert_int_equal(s.outstanding, 3);
	/* the next send finds three unanswered: down */
	assert_int_equal(probe_on_send(&s, &ch), PROBE_DOWN);
	assert_true(ch);
	assert_string_equal(probe_verdict_name(s.verdict), "down");
	assert_int_equal(probe_on_send(&s, &ch), PROBE_DOWN);
	assert_false(ch);
	assert_int_equal(s.sent, 6);
	assert_int_equal(s.outstanding, 5);
	/* an answer, even late, makes it up again */
	assert_int_equal(probe_on_answer(&s, 9000, &ch), PROBE_UP);
	assert_true(ch);
	assert_string_equal(probe_verdict_name(s.verdict), "up");
	assert_int_equal(s.answered, 2);
	assert_int_equal(s.outstanding, 0);
}

/* never answered: unknown until count are out, then down; count 1 */
static void test_never_answered(void **state)
{
	struct probe_state s;
	bool ch;

	(void)state;
	probe_state_init(&s, 2);
	assert_int_equal(probe_on_send(&s, &ch), PROBE_UNKNOWN);
	assert_int_equal(probe_on_send(&s, &ch), PROBE_UNKNOWN);
	assert_int_equal(probe_on_send(&s, &ch), PROBE_DOWN);
	assert_true(ch);
	/* an answer with nothing outstanding cannot happen after a send; before any: ignored */
	probe_state_init(&s, 1);
	assert_int_equal(probe_on_answer(&s, 5, &ch), PROBE_UNKNOWN);
	assert_false(ch);
	assert_int_equal(s.answered, 0);
	assert_int_equal(probe_on_send(&s, &ch), PROBE_UNKNOWN);
	assert_int_equal(probe_on_send(&s, &ch), PROBE_DOWN);
	/* count 0 is taken as 1 */
	probe_state_init(&s, 0);
	assert_int_equal(s.count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_linux_reply_is_answer),
		cmocka_unit_test(test_not_answers),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_never_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
