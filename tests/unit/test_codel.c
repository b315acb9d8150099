/* SPDX-License-Identifier: MIT */
/*
 * CoDel drop decisions (src/dataplane/codel.c): the control law's exact
 * timing, entering and leaving the dropping state, the "queue holds at most
 * one packet" exemption, and resuming the drop rate on re-entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dataplane/codel.h"

enum {
	MS = 1000000,
	US = 1000,
};

static const struct codel_params P = { .target = 5 * MS, .interval = 100 * MS };

/* floor(interval / sqrt(count)) for interval 100 ms, checked by hand:
 * 100e6 / sqrt(2) = 70710678.1, / sqrt(3) = 57735026.9, / 2 = 50000000,
 * / sqrt(5) = 44721359.5, / sqrt(10) = 31622776.6, / sqrt(100) = 10e6 */
static void test_control_law_exact(void **state)
{
	(void)state;
	assert_int_equal(codel_control_law(0, 100 * MS, 1), 100000000);
	assert_int_equal(codel_control_law(0, 100 * MS, 2), 70710678);
	assert_int_equal(codel_control_law(0, 100 * MS, 3), 57735026);
	assert_int_equal(codel_control_law(0, 100 * MS, 4), 50000000);
	assert_int_equal(codel_control_law(0, 100 * MS, 5), 44721359);
	assert_int_equal(codel_control_law(0, 100 * MS, 10), 31622776);
	assert_int_equal(codel_control_law(0, 100 * MS, 100), 10000000);
	/* added to t */
	assert_int_equal(codel_control_law(12345, 100 * MS, 4), 50012345);
	/* count 0 counts as 1 */
	assert_int_equal(codel_control_law(7, 100 * MS, 0), 100000007);
	/* a 1 ms interval: 1e6 / sqrt(3) = 577350.26 */
	assert_int_equal(codel_control_law(0, 1 * MS, 3), 577350);
	/* the largest interval does not overflow: 4e9 / sqrt(2) = 2828427124.7 */
	assert_int_equal(codel_control_law(0, CODEL_INTERVAL_MAX_NS, 2), 2828427124u);
	/* larger ones are clamped to it */
	assert_int_equal(codel_control_law(0, (uint64_t)CODEL_INTERVAL_MAX_NS * 3, 1), CODEL_INTERVAL_MAX_NS);
	/* exact for every count: q = result is the largest integer with
	 * q * q * count <= interval^2 */
	for (uint32_t c = 1; c < 5000; c++) {
		uint64_t q = codel_control_law(0, 100 * MS, c);
		unsigned __int128 i2 = (unsigned __int128)(100 * MS) * (100 * MS);

		assert_true((unsigned __int128)q * q * c <= i2);
		assert_true((unsigned __int128)(q + 1) * (q + 1) * c > i2);
	}
}

/* Below target nothing is ever dropped, however long. */
static void test_below_target_never_drops(void **state)
{
	struct codel c;

	(void)state;
	codel_init(&c);
	for (uint64_t t = 1 * MS; t < (uint64_t)10000 * MS; t += 1 * MS)
		assert_false(codel_dequeue(&c, &P, t, 5 * MS - 1, false));
	assert_false(c.dropping);
}

/* Above target: the first drop comes exactly one interval after the
 * sojourn first exceeded target; then drops follow the control law:
 * interval/sqrt(2), /sqrt(3), ... after the previous one. */
static void test_drop_schedule(void **state)
{
	struct codel c;
	uint64_t t0 = 1000 * MS, t;
	uint64_t expect[6];
	unsigned k = 0;

	(void)state;
	codel_init(&c);
	/* first packet above target: starts the interval, not dropped */
	assert_false(codel_dequeue(&c, &P, t0, 6 * MS, false));
	/* just before the interval ends: not yet */
	assert_false(codel_dequeue(&c, &P, t0 + 100 * MS - 1, 6 * MS, false));
	/* at the end of the interval: the first drop */
	assert_true(codel_dequeue(&c, &P, t0 + 100 * MS, 6 * MS, false));
	assert_true(c.dropping);
	assert_int_equal(c.count, 1);
	/* expected drop times: each previous + floor(100 ms / sqrt(count)) */
	expect[0] = t0 + 100 * MS;
	expect[1] = expect[0] + 100000000; /* count 1 -> next drop 100 ms later */
	expect[2] = expect[1] + 70710678;  /* count 2 */
	expect[3] = expect[2] + 57735026;  /* count 3 */
	expect[4] = expect[3] + 50000000;  /* count 4 */
	expect[5] = expect[4] + 44721359;  /* count 5 */
	assert_int_equal(c.drop_next, expect[1]);
	/* a packet every microsecond, all above target: the first one at or
	 * after each of those times is dropped, no other */
	k = 1;
	for (t = t0 + 100 * MS + 1 * US; k < 6; t += 1 * US) {
		bool d = codel_dequeue(&c, &P, t, 6 * MS, false);

		if (t >= expect[k]) {
			assert_true(d);
			assert_int_equal(c.count, k + 1);
			k++;
			if (k < 6)
				assert_int_equal(c.drop_next, expect[k]);
		} else {
			assert_false(d);
		}
	}
}

/* One packet below target ends the dropping state and restarts the
 * interval. */
static void test_leave_dropping(void **state)
{
	struct codel c;
	uint64_t t = 1000 * MS;

	(void)state;
	codel_init(&c);
	assert_false(codel_dequeue(&c, &P, t, 10 * MS, false));
	assert_true(codel_dequeue(&c, &P, t + 100 * MS, 10 * MS, false));
	assert_true(c.dropping);
	assert_false(codel_dequeue(&c, &P, t + 101 * MS, 4 * MS, false));
	assert_false(c.dropping);
	assert_int_equal(c.first_above, 0);
	/* above again: a new interval must pass before a drop */
	assert_false(codel_dequeue(&c, &P, t + 300 * MS, 10 * MS, false));
	assert_false(codel_dequeue(&c, &P, t + 399 * MS, 10 * MS, false));
	assert_true(codel_dequeue(&c, &P, t + 400 * MS, 10 * MS, false));
	/* the last dropping state made no drop beyond its first (count -
	 * lastcount is 0): count starts at 1 again */
	assert_int_equal(c.count, 1);
}

/* A queue holding at most one packet is never dropped from, and that
 * restarts the interval like a sojourn below target. */
static void test_small_backlog_exempt(void **state)
{
	struct codel c;
	uint64_t t = 1000 * MS;

	(void)state;
	codel_init(&c);
	assert_false(codel_dequeue(&c, &P, t, 50 * MS, false));
	assert_false(codel_dequeue(&c, &P, t + 150 * MS, 50 * MS, true));
	assert_int_equal(c.first_above, 0);
	assert_false(codel_dequeue(&c, &P, t + 151 * MS, 50 * MS, false));
	assert_false(codel_dequeue(&c, &P, t + 250 * MS, 50 * MS, false));
	assert_true(codel_dequeue(&c, &P, t + 251 * MS, 50 * MS, false));
}

/* Re-entering the dropping state within 16 intervals of the last drop
 * time resumes with the drops that state made beyond its start count. */
static void test_reentry_resumes_rate(void **state)
{
	struct codel c;
	uint64_t t = 1000 * MS, first;

	(void)state;
	codel_init(&c);
	assert_false(codel_dequeue(&c, &P, t, 10 * MS, false));
	first = t + 100 * MS;
	assert_true(codel_dequeue(&c, &P, first, 10 * MS, false)); /* count 1 */
	assert_true(codel_dequeue(&c, &P, first + 100 * MS, 10 * MS, false)); /* 2 */
	assert_true(codel_dequeue(&c, &P, first + 100 * MS + 70710678, 10 * MS, false)); /* 3 */
	assert_true(codel_dequeue(&c, &P, first + 100 * MS + 70710678 + 57735026, 10 * MS, false)); /* 4 */
	assert_int_equal(c.count, 4);
	assert_int_equal(c.lastcount, 1);
	t = first + 100 * MS + 70710678 + 57735026 + 1 * MS;
	/* below target: leave */
	assert_false(codel_dequeue(&c, &P, t, 1 * MS, false));
	assert_false(c.dropping);
	/* above again soon after: a new interval, then re-entry with
	 * count = 4 - 1 = 3 and the next drop interval/sqrt(3) later */
	assert_false(codel_dequeue(&c, &P, t + 10 * MS, 10 * MS, false));
	assert_true(codel_dequeue(&c, &P, t + 110 * MS, 10 * MS, false));
	assert_int_equal(c.count, 3);
	assert_int_equal(c.lastcount, 3);
	assert_int_equal(c.drop_next, t + 110 * MS + 57735026);
}

/* Re-entry long after (>= 16 intervals past drop_next) starts over. */
static void test_reentry_late_starts_over(void **state)
{
	struct codel c;
	uint64_t t = 1000 * MS, first;

	(void)state;
	codel_init(&c);
	assert_false(codel_dequeue(&c, &P, t, 10 * MS, false));
	first = t + 100 * MS;
	assert_true(codel_dequeue(&c, &P, first, 10 * MS, false));
	assert_true(codel_dequeue(&c, &P, first + 100 * MS, 10 * MS, false));
	assert_true(codel_dequeue(&c, &P, first + 100 * MS + 70710678, 10 * MS, false));
	assert_int_equal(c.count, 3);
	assert_false(codel_dequeue(&c, &P, first + 200 * MS, 1 * MS, false));
	/* drop_next is first + 100 ms + 70.7 ms + 57.7 ms; re-enter 16
	 * intervals after it */
	t = c.drop_next + 1600 * MS;
	assert_false(codel_dequeue(&c, &P, t - 100 * MS, 10 * MS, false));
	assert_true(codel_dequeue(&c, &P, t, 10 * MS, false));
	assert_int_equal(c.count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_law_exact),
		cmocka_unit_test(test_below_target_never_drops),
		cmocka_unit_test(test_drop_schedule),
		cmocka_unit_test(test_leave_dropping),
		cmocka_unit_test(test_small_backlog_exempt),
		cmocka_unit_test(test_reentry_resumes_rate),
		cmocka_unit_test(test_reentry_late_starts_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
