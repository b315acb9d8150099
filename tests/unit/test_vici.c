/* SPDX-License-Identifier: MIT */
/*
 * The VICI codec (src/ipsec/vici.c): encoding against hand-written bytes
 * from the protocol description (strongSwan's vici/README.md, including
 * its encoding example), decoding back, every malformed input refused,
 * lookups by path, framing of a byte stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipsec/vici.h"

/* The README's example: key1 = value1, section1 = { sub-section = { key2 =
 * value2 }, list1 = [ item1, item2 ] } */
static void build_example(struct vici_msg *m)
{
	vici_msg_init(m);
	vici_kv(m, "key1", "value1");
	vici_section(m, "section1");
	vici_section(m, "sub-section");
	vici_kv(m, "key2", "value2");
	vici_end(m);
	vici_list(m, "list1");
	vici_item(m, "item1");
	vici_item(m, "item2");
	vici_list_end(m);
	vici_end(m);
}

static const uint8_t example_bytes[] = {
	3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',
	1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',
	1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',
	3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',
	2,
	4, 5, 'l', 'i', 's', 't', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '2',
	6,
	2,
};

static void test_encode_example(void **state)
{
	struct vici_msg m;
	uint8_t *b;
	size_t len;
	size_t plen = 1 + 1 + 8 + sizeof(example_bytes); /* type, name "load-xyz" */

	(void)state;
	build_example(&m);
	assert_false(m.bad);
	assert_int_equal(vici_packet_encode(VICI_CMD_REQUEST, "load-xyz", &m, &b, &len), 0);
	assert_int_equal(len, 4 + plen);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 0);
	assert_int_equal(b[2], plen >> 8);
	assert_int_equal(b[3], plen & 0xff);
	assert_int_equal(b[4], VICI_CMD_REQUEST);
	assert_int_equal(b[5], 8);
	assert_memory_equal(b + 6, "load-xyz", 8);
	assert_memory_equal(b + 14, example_bytes, sizeof(example_bytes));
	assert_int_equal(vici_frame_len(b, len), (long)len);
	assert_int_equal(vici_frame_len(b, len - 1), 0);
	assert_int_equal(vici_frame_len(b, 3), 0);
	free(b);
	vici_msg_free(&m);
}

static void test_decode_round_trip(void **state)
{
	struct vici_msg m;
	struct vici_packet p;
	uint8_t *b;
	size_t len;

	(void)state;
	build_example(&m);
	assert_int_equal(vici_packet_encode(VICI_EVENT, "ike-updown", &m, &b, &len), 0);
	assert_int_equal(vici_packet_decode(b + 4, len - 4, &p), 0);
	assert_int_equal(p.type, VICI_EVENT);
	assert_string_equal(p.name, "ike-updown");
	assert_int_equal(p.msg.n, m.n);
	assert_string_equal(vici_get(&p.msg, "", "key1"), "value1");
	assert_string_equal(vici_get(&p.msg, "section1/sub-section", "key2"), "value2");
	assert_null(vici_get(&p.msg, "section1", "key2")); /* not in a sub-section */
	assert_null(vici_get(&p.msg, "", "key2"));
	assert_null(vici_get(&p.msg, "nosuch", "key1"));
	assert_null(vici_get(&p.msg, "section1/sub", "key2"));
	vici_packet_free(&p);
	free(b);
	vici_msg_free(&m);
}

static void test_unnamed_types(void **state)
{
	uint8_t *b;
	size_t len;
	struct vici_packet p;
	static const uint8_t confirm[] = { VICI_EVENT_CONFIRM };
	static const uint8_t unknown[] = { VICI_CMD_UNKNOWN };

	(void)state;
	assert_int_equal(vici_packet_encode(VICI_EVENT_REGISTER, "log", NULL, &b, &len), 0);
	assert_int_equal(len, 4 + 1 + 1 + 3);
	assert_memory_equal(b, "\0\0\0\x05\x03\x03log", 9);
	free(b);
	assert_int_equal(vici_packet_decode(confirm, 1, &p), 0);
	assert_int_equal(p.type, VICI_EVENT_CONFIRM);
	assert_string_equal(p.name, "");
	vici_packet_free(&p);
	assert_int_equal(vici_packet_decode(unknown, 1, &p), 0);
	assert_int_equal(p.type, VICI_CMD_UNKNOWN);
	vici_packet_free(&p);
	/* an empty response */
	{
		static const uint8_t resp[] = { VICI_CMD_RESPONSE };

		assert_int_equal(vici_packet_decode(resp, 1, &p), 0);
		assert_int_equal(p.msg.n, 0);
		vici_packet_free(&p);
	}
	/* a named type needs its name; an unknown name is fine on encode */
	assert_int_equal(vici_packet_encode(VICI_CMD_REQUEST, "", NULL, &b, &len), -EINVAL);
	assert_int_equal(vici_packet_encode((enum vici_packet_type)8, "x", NULL, &b, &len), -EINVAL);
}

static void test_builder_misuse(void **state)
{
	struct vici_msg m;
	uint8_t *b = NULL;
	size_t len;
	char big[300];

	(void)state;
	vici_msg_init(&m);
	vici_end(&m); /* nothing open */
	assert_true(m.bad);
	assert_int_equal(vici_packet_encode(VICI_CMD_REQUEST, "x", &m, &b, &len), -EINVAL);
	vici_msg_free(&m);

	vici_msg_init(&m);
	vici_list(&m, "l");
	vici_kv(&m, "k", "v"); /* a key in a list */
	assert_true(m.bad);
	vici_msg_free(&m);

	vici_msg_init(&m);
	vici_item(&m, "v"); /* an item outside a list */
	assert_true(m.bad);
	vici_msg_free(&m);

	vici_msg_init(&m);
	vici_section(&m, "s"); /* left open */
	assert_false(m.bad);
	assert_int_equal(vici_packet_encode(VICI_CMD_REQUEST, "x", &m, &b, &len), -EINVAL);
	vici_msg_free(&m);

	vici_msg_init(&m);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vici_kv(&m, big, "v"); /* name above 255 bytes */
	assert_true(m.bad);
	vici_msg_free(&m);

	vici_msg_init(&m);
	vici_kv(&m, "", "v"); /* empty name */
	assert_true(m.bad);
	vici_msg_free(&m);

	vici_msg_init(&m);
	vici_list(&m, "a");
	vici_list(&m, "b"); /* nested list */
	assert_true(m.bad);
	vici_msg_free(&m);
}

static void test_value_limits(void **state)
{
	struct vici_msg m;
	char *v = malloc(VICI_VALUE_MAX + 2);
	uint8_t *b;
	size_t len;
	struct vici_packet p;

	(void)state;
	memset(v, 'x', VICI_VALUE_MAX + 1);
	v[VICI_VALUE_MAX + 1] = '\0';
	vici_msg_init(&m);
	vici_kv(&m, "k", v);
	assert_true(m.bad);
	vici_msg_free(&m);
	v[VICI_VALUE_MAX] = '\0';
	vici_msg_init(&m);
	vici_kv(&m, "k", v);
	vici_kv_blob(&m, "bin", "\0\x01\xff", 3);
	assert_false(m.bad);
	assert_int_equal(vici_packet_encode(VICI_CMD_RESPONSE, NULL, &m, &b, &len), 0);
	assert_int_equal(vici_packet_decode(b + 4, len - 4, &p), 0);
	assert_int_equal(strlen(vici_get(&p.msg, "", "k")), VICI_VALUE_MAX);
	assert_int_equal(p.msg.v[1].len, 3);
	assert_memory_equal(p.msg.v[1].value, "\0\x01\xff", 3);
	vici_packet_free(&p);
	free(b);
	vici_msg_free(&m);
	free(v);
}

static void expect_bad(const uint8_t *b, size_t len)
{
	struct vici_packet p;

	assert_int_equal(vici_packet_decode(b, len, &p), -EBADMSG);
	assert_int_equal(p.msg.n, 0);
	vici_packet_free(&p);
}

static void test_decode_malformed(void **state)
{
	(void)state;
	expect_bad((const uint8_t *)"", 0); /* no type */
	expect_bad((const uint8_t *)"\x08", 1); /* unknown type */
	expect_bad((const uint8_t *)"\x00", 1); /* request without name */
	expect_bad((const uint8_t *)"\x00\x00", 2); /* empty name */
	expect_bad((const uint8_t *)"\x00\x05" "abc", 5); /* name cut */
	expect_bad((const uint8_t *)"\x05\x00", 2); /* confirm with a body */
	expect_bad((const uint8_t *)"\x01\x09", 2); /* unknown element */
	expect_bad((const uint8_t *)"\x01\x01\x01s", 4); /* section never ended */
	expect_bad((const uint8_t *)"\x01\x02", 2); /* end without start */
	expect_bad((const uint8_t *)"\x01\x03\x01k\x00\x05" "ab", 8); /* value cut */
	expect_bad((const uint8_t *)"\x01\x03\x01k\x00", 5); /* value length cut */
	expect_bad((const uint8_t *)"\x01\x03", 2); /* name length missing */
	expect_bad((const uint8_t *)"\x01\x03\x00\x00\x00", 5); /* empty key name */
	expect_bad((const uint8_t *)"\x01\x05\x00\x01x", 5); /* item outside a list */
	expect_bad((const uint8_t *)"\x01\x06", 2); /* list end outside a list */
	expect_bad((const uint8_t *)"\x01\x04\x01l", 4); /* list never ended */
	expect_bad((const uint8_t *)"\x01\x04\x01l\x04\x01m\x06\x06", 9); /* nested list */
	expect_bad((const uint8_t *)"\x01\x04\x01l\x03\x01k\x00\x00\x06", 10); /* key in a list */
	expect_bad((const uint8_t *)"\x01\x04\x01l\x01\x01s\x02\x06", 9); /* section in a list */
	expect_bad((const uint8_t *)"\x01\x03\x02k\0\x00\x00", 7); /* NUL in a name */
	{
		uint8_t deep[2 + 3 * (VICI_DEPTH_MAX + 1) + VICI_DEPTH_MAX + 1];
		size_t o = 0;

		deep[o++] = VICI_CMD_RESPONSE;
		for (int i = 0; i <= VICI_DEPTH_MAX; i++) {
			deep[o++] = VICI_SECTION_START;
			deep[o++] = 1;
			deep[o++] = 's';
		}
		for (int i = 0; i <= VICI_DEPTH_MAX; i++)
			deep[o++] = VICI_SECTION_END;
		expect_bad(deep, o); /* too deep */
	}
}

static void test_frame_too_long(void **state)
{
	static const uint8_t hdr[] = { 0, 8, 0, 1 }; /* 512 KiB + 1 */
	static const uint8_t max[] = { 0, 8, 0, 0 };

	(void)state;
	assert_int_equal(vici_frame_len(hdr, 4), -EMSGSIZE);
	assert_int_equal(vici_frame_len(max, 4), 0); /* allowed, incomplete */
}

static void test_children_iteration(void **state)
{
	struct vici_msg m;
	long pos = 0, c, sec;
	const char *names[4];
	size_t n = 0;

	(void)state;
	/* a list-sas event: { l2tpv3d-t1 { state = ESTABLISHED, child-sas { l2tp-5 { state = INSTALLED }}}} */
	vici_msg_init(&m);
	vici_section(&m, "l2tpv3d-t1");
	vici_kv(&m, "state", "ESTABLISHED");
	vici_list(&m, "tasks-active");
	vici_item(&m, "x");
	vici_list_end(&m);
	vici_section(&m, "child-sas");
	vici_section(&m, "l2tp-5");
	vici_kv(&m, "state", "INSTALLED");
	vici_end(&m);
	vici_section(&m, "l2tp-6");
	vici_kv(&m, "state", "REKEYED");
	vici_end(&m);
	vici_end(&m);
	vici_end(&m);
	vici_section(&m, "other");
	vici_end(&m);
	assert_false(m.bad);
	while ((c = vici_next_child(&m, -1, &pos)) >= 0)
		names[n++] = m.v[c].name;
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "l2tpv3d-t1");
	assert_string_equal(names[1], "other");
	sec = vici_find_section(&m, "l2tpv3d-t1/child-sas");
	assert_true(sec >= 0);
	pos = sec + 1;
	n = 0;
	while ((c = vici_next_child(&m, sec, &pos)) >= 0) {
		names[n] = vici_get_in(&m, c, "state");
		n++;
	}
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "INSTALLED");
	assert_string_equal(names[1], "REKEYED");
	assert_string_equal(vici_get(&m, "l2tpv3d-t1", "state"), "ESTABLISHED");
	vici_msg_free(&m);
}

static void test_print(void **state)
{
	struct vici_msg m;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	static const char *const secret[] = { "data", NULL };

	(void)state;
	build_example(&m);
	vici_kv(&m, "data", "psk");
	vici_kv_blob(&m, "spi", "\xc1\x02", 2);
	vici_msg_print(&m, f, secret);
	fclose(f);
	assert_string_equal(buf, "key1 = value1\nsection1 {\n  sub-section {\n    key2 = value2\n  }\n"
				 "  list1 = [item1, item2]\n}\ndata = <secret>\nspi = 0xc102\n");
	free(buf);
	vici_msg_free(&m);
}

/* pseudo-random bytes never crash the decoder, and what decodes re-encodes
 * to the same bytes */
static void test_random_bytes(void **state)
{
	uint32_t x = 12345;
	uint8_t buf[64];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (x >> 7) % sizeof(buf);
		struct vici_packet p;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)((x >> 16) % 9);
		}
		x = x * 1103515245u + 12345u;
		if (vici_packet_decode(buf, len, &p) == 0 && p.type != VICI_CMD_UNKNOWN) {
			uint8_t *b;
			size_t blen;

			assert_int_equal(vici_packet_encode(p.type, p.name, &p.msg, &b, &blen), 0);
			assert_int_equal(blen, len + 4);
			assert_memory_equal(b + 4, buf, len);
			free(b);
		}
		vici_packet_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_example),
		cmocka_unit_test(test_decode_round_trip),
		cmocka_unit_test(test_unnamed_types),
		cmocka_unit_test(test_builder_misuse),
		cmocka_unit_test(test_value_limits),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_frame_too_long),
		cmocka_unit_test(test_children_iteration),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
