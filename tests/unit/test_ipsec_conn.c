/* SPDX-License-Identifier: MIT */
/*
 * RTX lines -> strongSwan connection (src/ipsec/conn.c), golden files:
 * every tests/config/ipsec-*.conf that verifies without error gives
 * tests/ipsec/NAME.vici, the load-conn and load-shared messages of each of
 * its IPsec tunnels exactly as they go to charon, printed as text.  Run with
 * UPDATE_GOLDEN=1 to rewrite them, then review the diff.  Plus unit checks
 * of the names, proposals and identities.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "ipsec/conn.h"

#define CONF_DIR "tests/config"
#define GOLDEN_DIR "tests/ipsec"

static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (len + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static struct cfg *load(const char *text)
{
	struct cfg *c = cfg_new();
	struct cfg_diags d = { 0 };

	assert_non_null(c);
	assert_int_equal(cfg_parse_buffer(c, "t.conf", text, strlen(text), &d), 0);
	assert_int_equal(cfg_verify(c, "t.conf", &d), 0);
	cfg_diags_free(&d);
	return c;
}

/* What the daemon sends for one configuration, as text */
static char *translate(const struct cfg *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	for (size_t i = 0; i < c->n_tunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];
		struct vici_msg m;

		if (!t->ipsec.on)
			continue;
		fprintf(f, "# tunnel %u: load-conn\n", t->id);
		vici_msg_init(&m);
		assert_int_equal(ipsec_conn_build(t, &m), 0);
		vici_msg_print(&m, f, NULL);
		vici_msg_free(&m);
		fprintf(f, "# tunnel %u: load-shared\n", t->id);
		vici_msg_init(&m);
		assert_int_equal(ipsec_shared_build(t, &m), 0);
		vici_msg_print(&m, f, NULL);
		vici_msg_free(&m);
	}
	fclose(f);
	return buf;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_golden(void **state)
{
	const char *env = getenv("UPDATE_GOLDEN");
	bool update = env && !strcmp(env, "1");
	char *names[64];
	size_t n = 0, failures = 0;
	struct dirent *de;
	DIR *dir;

	(void)state;
	dir = opendir(CONF_DIR);
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (!strncmp(de->d_name, "ipsec-", 6) && len > 5 && !strcmp(de->d_name + len - 5, ".conf") && n < 64)
			names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), name_cmp);
	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++) {
		char path[512], out[512];
		size_t len, stem = strlen(names[i]) - 5;
		char *text, *got, *want;
		struct cfg *c;

		snprintf(path, sizeof(path), CONF_DIR "/%s", names[i]);
		text = read_all(path, &len);
		assert_non_null(text);
		c = load(text);
		got = translate(c);
		snprintf(out, sizeof(out), GOLDEN_DIR "/%.*s.vici", (int)stem, names[i]);
		if (update) {
			FILE *f = fopen(out, "w");

			assert_non_null(f);
			fputs(got, f);
			fclose(f);
		} else {
			want = read_all(out, &len);
			if (!want || strcmp(want, got)) {
				fprintf(stderr, "%s differs; got:\n%s", out, got);
				failures++;
			}
			free(want);
		}
		free(got);
		free(text);
		cfg_free(c);
		free(names[i]);
	}
	assert_int_equal(failures, 0);
}

#define BASE                                                                  \
	"tunnel select 1\n tunnel encapsulation l2tpv3\n ipsec tunnel 1\n"     \
	" ipsec sa policy 1 1 esp aes-cbc sha-hmac\n"                         \
	" ipsec ike pre-shared-key 1 text k\n"                                \
	" tunnel enable 1\nipsec transport 1 1 udp 1701\n"

static void test_names(void **state)
{
	char buf[64];

	(void)state;
	ipsec_conn_name(42, buf, sizeof(buf));
	assert_string_equal(buf, "l2tpv3d-t42");
	assert_int_equal(ipsec_conn_tunnel("l2tpv3d-t42"), 42);
	assert_int_equal(ipsec_conn_tunnel("l2tpv3d-t0"), 0);
	assert_int_equal(ipsec_conn_tunnel("l2tpv3d-t042"), 0);
	assert_int_equal(ipsec_conn_tunnel("l2tpv3d-t4x"), 0);
	assert_int_equal(ipsec_conn_tunnel("l2tpv3d-t99999"), 0);
	assert_int_equal(ipsec_conn_tunnel("other"), 0);
	assert_int_equal(ipsec_conn_tunnel("l2tpv3d-t"), 0);
}

static void test_proposals_and_ids(void **state)
{
	struct cfg *c;
	const struct cfg_tunnel *t;
	char buf[300];

	(void)state;
	/* Yamaha's defaults */
	c = load(BASE " ipsec ike remote address 1 192.0.2.1\n");
	t = cfg_tunnel_find(c, 1);
	ipsec_ike_proposal(&t->ipsec.gw, buf, sizeof(buf));
	assert_string_equal(buf, "3des-sha1-modp1024");
	ipsec_esp_proposal(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "aes128-sha1");
	ipsec_remote_id(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1");
	ipsec_local_id(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_false(t->ipsec.aggressive);
	assert_true(t->ipsec.initiator);
	assert_false(t->ipsec.auto_refresh);
	cfg_free(c);

	/* PFS, GCM, IKEv2, names of each type */
	c = load("tunnel select 1\n tunnel encapsulation l2tpv3\n ipsec tunnel 1\n"
		 " ipsec sa policy 1 7 esp aes256-gcm\n ipsec ike pre-shared-key 7 text k\n"
		 " ipsec ike remote address 7 any\n ipsec ike version 7 2\n ipsec ike group 7 ecp256\n"
		 " ipsec ike pfs 7 on\n ipsec ike encryption 7 aes256-cbc\n ipsec ike hash 7 sha384\n"
		 " ipsec ike local name 7 me@example.com user-fqdn\n ipsec ike remote name 7 198.51.100.1 ipv4-addr\n"
		 " tunnel enable 1\nipsec transport 1 1 udp 1701\n");
	t = cfg_tunnel_find(c, 1);
	ipsec_ike_proposal(&t->ipsec.gw, buf, sizeof(buf));
	assert_string_equal(buf, "aes256-sha384-ecp256");
	ipsec_esp_proposal(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "aes256gcm16-ecp256");
	ipsec_local_id(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "userfqdn:me@example.com");
	ipsec_remote_id(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4:198.51.100.1");
	assert_false(t->ipsec.aggressive); /* IKEv2 has none */
	assert_false(t->ipsec.initiator);
	cfg_free(c);

	/* 3DES + MD5 ESP */
	c = load("tunnel select 1\n tunnel encapsulation l2tpv3\n ipsec tunnel 1\n"
		 " ipsec sa policy 1 1 esp 3des-cbc md5-hmac\n ipsec ike pre-shared-key 1 text k\n"
		 " ipsec ike remote address 1 vpn.example.net\n ipsec ike local name 1 a.example fqdn\n"
		 " tunnel enable 1\nipsec transport 1 1 udp 1701\n");
	t = cfg_tunnel_find(c, 1);
	ipsec_esp_proposal(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "3des-md5");
	ipsec_local_id(&t->ipsec, buf, sizeof(buf));
	assert_string_equal(buf, "fqdn:a.example");
	assert_true(t->ipsec.aggressive);
	cfg_free(c);
}

static void test_not_ipsec(void **state)
{
	struct cfg *c;
	struct vici_msg m;

	(void)state;
	c = load("tunnel select 1\n tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 192.0.2.1\n"
		 " tunnel enable 1\n");
	vici_msg_init(&m);
	assert_int_equal(ipsec_conn_build(cfg_tunnel_find(c, 1), &m), -EINVAL);
	assert_int_equal(ipsec_shared_build(cfg_tunnel_find(c, 1), &m), -EINVAL);
	assert_int_equal(m.n, 0);
	vici_msg_free(&m);
	cfg_free(c);
}

/* a reload keeps an IPsec tunnel whose settings are the same, restarts it
 * when any IPsec setting changed */
static void test_equality(void **state)
{
	struct cfg *a, *b;

	(void)state;
	a = load(BASE " ipsec ike remote address 1 192.0.2.1\n");
	b = load("# moved lines\n" BASE " ipsec ike remote address 1 192.0.2.1\n");
	assert_true(cfg_tunnel_equal(cfg_tunnel_find(a, 1), cfg_tunnel_find(b, 1)));
	cfg_free(b);
	b = load(BASE " ipsec ike remote address 1 192.0.2.1\n ipsec ike pre-shared-key 1 text other\n");
	assert_false(cfg_tunnel_equal(cfg_tunnel_find(a, 1), cfg_tunnel_find(b, 1)));
	cfg_free(b);
	b = load(BASE " ipsec ike remote address 1 192.0.2.1\nipsec auto refresh on\n");
	assert_false(cfg_tunnel_equal(cfg_tunnel_find(a, 1), cfg_tunnel_find(b, 1)));
	cfg_free(b);
	b = load(BASE " ipsec ike remote address 1 192.0.2.1\n ipsec ike group 1 modp2048\n");
	assert_false(cfg_tunnel_equal(cfg_tunnel_find(a, 1), cfg_tunnel_find(b, 1)));
	cfg_free(b);
	cfg_free(a);
}

/* the daemon's resolution of the IKE remote host name goes before the
 * name in remote_addrs (issue 15); without one the name alone */
static void test_remote_host_target(void **state)
{
	struct cfg *c;
	struct vici_msg m;
	struct sockaddr_storage to;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&to;
	const char *items[4];
	size_t n;

	(void)state;
	c = load(BASE " ipsec ike remote address 1 peer.example.jp\n");
	for (int pass = 0; pass < 2; pass++) {
		memset(&to, 0, sizeof(to));
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, "198.51.100.7", &s4->sin_addr), 1);
		vici_msg_init(&m);
		assert_int_equal(ipsec_conn_build_to(cfg_tunnel_find(c, 1), pass ? &to : NULL, &m), 0);
		n = 0;
		for (size_t i = 0; i < m.n; i++) {
			if (m.v[i].type != VICI_LIST_START || strcmp(m.v[i].name, "remote_addrs"))
				continue;
			for (size_t k = i + 1; k < m.n && m.v[k].type == VICI_LIST_ITEM && n < 4; k++)
				items[n++] = (const char *)m.v[k].value;
		}
		assert_int_equal(n, pass ? 2 : 1);
		if (pass) {
			assert_string_equal(items[0], "198.51.100.7");
			assert_string_equal(items[1], "peer.example.jp");
		} else {
			assert_string_equal(items[0], "peer.example.jp");
		}
		vici_msg_free(&m);
	}
	cfg_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_proposals_and_ids),
		cmocka_unit_test(test_not_ipsec),
		cmocka_unit_test(test_equality),
		cmocka_unit_test(test_remote_host_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
