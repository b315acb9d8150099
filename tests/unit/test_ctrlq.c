/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the queue of messages opening a connection
 * (src/daemon/ctrlq.c): which messages wait (header CCID 0, a control
 * header at all), arrival order kept, the bound, the copies owned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ctrlq.h"

/* a control header: T, L, S, version 3; length 12; ccid; ns 0, nr 0 */
static void hdr(uint8_t *b, uint32_t ccid)
{
	const uint8_t h[12] = { 0xc8, 0x03, 0x00, 0x0c, (uint8_t)(ccid >> 24), (uint8_t)(ccid >> 16),
				(uint8_t)(ccid >> 8), (uint8_t)ccid, 0, 0, 0, 0 };

	memcpy(b, h, sizeof(h));
}

static void test_waits(void **state)
{
	uint8_t b[20] = { 0 };

	(void)state;
	hdr(b, 0);
	assert_true(ctrlq_waits(b, 20));
	assert_true(ctrlq_waits(b, 12));
	assert_false(ctrlq_waits(b, 11)); /* too short: the decoder's to refuse */
	hdr(b, 1);
	assert_false(ctrlq_waits(b, 20)); /* a known connection's: handled at once */
	hdr(b, 0x01000000);
	assert_false(ctrlq_waits(b, 20));
	hdr(b, 0);
	b[0] = 0x00; /* no T bit: a data packet, not for this queue */
	assert_false(ctrlq_waits(b, 20));
}

static void test_order_and_bound(void **state)
{
	struct ctrlq q;
	struct sockaddr_storage p = { .ss_family = AF_INET }, l = { .ss_family = AF_INET6 };
	uint8_t b[16];
	struct ctrlq_item *it;

	(void)state;
	ctrlq_init(&q, 3);
	assert_null(ctrlq_pop(&q));
	for (uint8_t i = 1; i <= 3; i++) {
		hdr(b, 0);
		memset(b + 12, i, 4);
		assert_false(ctrlq_full(&q));
		assert_int_equal(ctrlq_push(&q, b, 12 + i, &p, &l), 0);
	}
	assert_true(ctrlq_full(&q));
	assert_int_equal(ctrlq_push(&q, b, 16, &p, &l), -ENOSPC);
	assert_int_equal(q.n, 3);
	memset(b, 0xee, sizeof(b)); /* the queue holds its own copies */
	for (uint8_t i = 1; i <= 3; i++) {
		it = ctrlq_pop(&q);
		assert_non_null(it);
		assert_int_equal(it->len, 12 + i);
		assert_int_equal(it->raw[12], i);
		assert_int_equal(it->raw[4], 0);
		assert_int_equal(it->peer.ss_family, AF_INET);
		assert_int_equal(it->local.ss_family, AF_INET6);
		free(it);
		if (i == 1) { /* room again; a new one goes behind the older ones */
			hdr(b, 0);
			memset(b + 12, 9, 4);
			assert_int_equal(ctrlq_push(&q, b, 16, &p, &l), 0);
		}
	}
	it = ctrlq_pop(&q);
	assert_non_null(it);
	assert_int_equal(it->raw[12], 9);
	free(it);
	assert_null(ctrlq_pop(&q));
	assert_int_equal(q.n, 0);
	assert_int_equal(q.queued_total, 4);
}

static void test_clear(void **state)
{
	struct ctrlq q;
	struct sockaddr_storage p = { .ss_family = AF_INET };
	uint8_t b[12];

	(void)state;
	ctrlq_init(&q, 100);
	hdr(b, 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(ctrlq_push(&q, b, sizeof(b), &p, &p), 0);
	ctrlq_clear(&q); /* LeakSanitizer checks every copy was freed */
	assert_int_equal(q.n, 0);
	assert_null(ctrlq_pop(&q));
	assert_int_equal(ctrlq_push(&q, b, sizeof(b), &p, &p), 0);
	ctrlq_clear(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits),
		cmocka_unit_test(test_order_and_bound),
		cmocka_unit_test(test_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
