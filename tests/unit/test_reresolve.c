/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the re-resolution decisions (src/daemon/reresolve.c,
 * issue 15): first answer, unchanged, changed, a rotating name that must
 * not flap, failures that keep the last good address and log at a bounded
 * rate, the retry back-off before any address is known, the family filter.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/addr.h"
#include "daemon/reresolve.h"

static struct sockaddr_storage a4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(1701); /* ports are ignored */
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage a6(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
	return ss;
}

#define IV 60000u

static void test_first_same_changed(void **state)
{
	struct rr_state s = { 0 };
	struct rr_outcome o;
	struct sockaddr_storage x = a4("192.0.2.1"), y = a4("192.0.2.2");

	(void)state;
	rr_result(&s, &x, 1, AF_UNSPEC, 1000, IV, &o);
	assert_int_equal(o.verdict, RR_FIRST);
	assert_true(s.have);
	assert_true(sockaddr_same_host(&s.addr, &x));
	assert_int_equal(((struct sockaddr_in *)&s.addr)->sin_port, 0);
	assert_int_equal(s.next_ms, 1000 + IV);
	rr_result(&s, &x, 1, AF_UNSPEC, 61000, IV, &o);
	assert_int_equal(o.verdict, RR_SAME);
	assert_false(o.recovered);
	rr_result(&s, &y, 1, AF_UNSPEC, 121000, IV, &o);
	assert_int_equal(o.verdict, RR_CHANGED);
	assert_true(sockaddr_same_host(&o.old, &x));
	assert_true(sockaddr_same_host(&s.addr, &y));
	assert_int_equal(s.next_ms, 121000 + IV);
}

/* a name served in rotation keeps the address in use while it is listed */
static void test_rotation_does_not_flap(void **state)
{
	struct rr_state s = { 0 };
	struct rr_outcome o;
	struct sockaddr_storage v1[2] = { a4("192.0.2.1"), a4("192.0.2.2") };
	struct sockaddr_storage v2[2] = { a4("192.0.2.2"), a4("192.0.2.1") };
	struct sockaddr_storage v3[2] = { a4("192.0.2.3"), a4("192.0.2.4") };

	(void)state;
	rr_result(&s, v1, 2, AF_UNSPEC, 0, IV, &o);
	assert_int_equal(o.verdict, RR_FIRST);
	assert_true(sockaddr_same_host(&s.addr, &v1[0]));
	rr_result(&s, v2, 2, AF_UNSPEC, IV, IV, &o);
	assert_int_equal(o.verdict, RR_SAME);
	assert_true(sockaddr_same_host(&s.addr, &v1[0]));
	rr_result(&s, v3, 2, AF_UNSPEC, 2 * IV, IV, &o);
	assert_int_equal(o.verdict, RR_CHANGED);
	assert_true(sockaddr_same_host(&s.addr, &v3[0]));
}

/* failures keep the last good address, log the first and then at most
 * every RR_FAIL_LOG_MS with the count; a success says it recovered */
static void test_failure_keeps_address_bounded_log(void **state)
{
	struct rr_state s = { 0 };
	struct rr_outcome o;
	struct sockaddr_storage x = a4("192.0.2.1");
	uint64_t t = 5000;
	unsigned logged = 0;

	(void)state;
	rr_result(&s, &x, 1, AF_UNSPEC, t, IV, &o);
	for (int i = 0; i < 30; i++) { /* 30 minutes of failures */
		t += IV;
		rr_result(&s, NULL, 0, AF_UNSPEC, t, IV, &o);
		assert_int_equal(o.verdict, RR_FAILED);
		assert_true(s.have);
		assert_true(sockaddr_same_host(&s.addr, &x));
		assert_int_equal(s.next_ms, t + IV); /* known address: the interval */
		if (o.log) {
			logged++;
			assert_int_equal(o.suppressed, logged == 1 ? 0 : RR_FAIL_LOG_MS / IV - 1);
		}
	}
	assert_int_equal(logged, 3); /* at 0, 10 and 20 minutes */
	t += IV;
	rr_result(&s, &x, 1, AF_UNSPEC, t, IV, &o);
	assert_int_equal(o.verdict, RR_SAME);
	assert_true(o.recovered);
	/* the next failure is logged at once again */
	rr_result(&s, NULL, 0, AF_UNSPEC, t + IV, IV, &o);
	assert_true(o.log);
	assert_int_equal(o.suppressed, 0);
}

/* no address yet: retries sooner, doubling up to the interval */
static void test_backoff_before_first_address(void **state)
{
	struct rr_state s = { 0 };
	struct rr_outcome o;
	uint64_t t = 0, want[] = { 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
	struct sockaddr_storage x = a4("192.0.2.1");

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		rr_result(&s, NULL, 0, AF_UNSPEC, t, IV, &o);
		assert_int_equal(o.verdict, RR_FAILED);
		assert_false(s.have);
		assert_int_equal(s.next_ms - t, want[i]);
		t = s.next_ms;
	}
	rr_result(&s, &x, 1, AF_UNSPEC, t, IV, &o);
	assert_int_equal(o.verdict, RR_FIRST);
	assert_true(o.recovered);
	/* an interval shorter than the first retry is kept */
	memset(&s, 0, sizeof(s));
	rr_result(&s, NULL, 0, AF_UNSPEC, 0, 1000, &o);
	assert_int_equal(s.next_ms, 1000);
}

/* only the wanted family counts; an answer without it is a failure */
static void test_family(void **state)
{
	struct rr_state s = { 0 };
	struct rr_outcome o;
	struct sockaddr_storage v[2] = { a6("2001:db8::1"), a4("192.0.2.9") };

	(void)state;
	rr_result(&s, v, 2, AF_INET, 0, IV, &o);
	assert_int_equal(o.verdict, RR_FIRST);
	assert_true(sockaddr_same_host(&s.addr, &v[1]));
	rr_result(&s, v, 1, AF_INET, IV, IV, &o);
	assert_int_equal(o.verdict, RR_FAILED);
	assert_true(sockaddr_same_host(&s.addr, &v[1]));
	memset(&s, 0, sizeof(s));
	rr_result(&s, v, 2, AF_UNSPEC, 0, IV, &o);
	assert_true(sockaddr_same_host(&s.addr, &v[0]));
	assert_false(sockaddr_same_host(&v[0], &v[1]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_same_changed),
		cmocka_unit_test(test_rotation_does_not_flap),
		cmocka_unit_test(test_failure_keeps_address_bounded_log),
		cmocka_unit_test(test_backoff_before_first_address),
		cmocka_unit_test(test_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
