/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/config: the reference scenario's configurations as
 * pasted (Japanese comments and all) and in English, the comment rules,
 * one test per diagnostic, the verify pass, print -> parse round trips,
 * golden files (tests/config/NAME.conf -> NAME.ok + NAME.diag; run with
 * UPDATE_GOLDEN=1 to rewrite them) and pseudo-random inputs.
 *
 * Run from the repository root (meson's workdir), which holds tests/config.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define GOLDEN_DIR "tests/config"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char *read_all(const char *path, size_t *ret_len);

struct run {
	struct cfg *c;
	struct cfg_diags d;
	int parse_r;
	int verify_r;
	size_t parse_errors; /* errors from cfg_parse_buffer alone */
};

static void run_text(struct run *r, const char *text, size_t len, bool verify)
{
	memset(r, 0, sizeof(*r));
	r->c = cfg_new();
	assert_non_null(r->c);
	r->parse_r = cfg_parse_buffer(r->c, "t.conf", text, len, &r->d);
	r->parse_errors = r->d.n_errors;
	if (verify)
		r->verify_r = cfg_verify(r->c, "t.conf", &r->d);
}

static void parse_only(struct run *r, const char *text)
{
	run_text(r, text, strlen(text), false);
}

static void parse_verify(struct run *r, const char *text)
{
	run_text(r, text, strlen(text), true);
}

static void run_free(struct run *r)
{
	cfg_free(r->c);
	cfg_diags_free(&r->d);
}

/* All diagnostics, formatted, one per line. */
static char *diags_text(const struct cfg_diags *d)
{
	char *s = NULL, line[1024];
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	assert_non_null(f);
	for (size_t i = 0; i < d->n; i++) {
		cfg_diag_format(&d->v[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	fclose(f);
	return s;
}

/* Exactly one diagnostic, and it reads `expect`. */
static void assert_only_diag(const struct cfg_diags *d, const char *expect)
{
	char *s = diags_text(d);
	char *want = malloc(strlen(expect) + 2);

	assert_non_null(want);
	sprintf(want, "%s\n", expect);
	assert_string_equal(s, want);
	free(want);
	free(s);
}

/* Some diagnostic contains `needle`. */
static void assert_diags_have(const struct cfg_diags *d, const char *needle)
{
	char *s = diags_text(d);

	if (!strstr(s, needle))
		fprintf(stderr, "no \"%s\" in:\n%s", needle, s);
	assert_non_null(strstr(s, needle));
	free(s);
}

/* text parses, fails verification, and a diagnostic says needle. */
static void expect_verify_error(const char *text, const char *needle)
{
	struct run r;

	parse_verify(&r, text);
	assert_int_equal(r.verify_r, -EINVAL);
	assert_diags_have(&r.d, needle);
	run_free(&r);
}

static char *print_text(const struct cfg *c)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	assert_non_null(f);
	cfg_print(c, f);
	fclose(f);
	return s;
}

static uint32_t rid(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static void assert_sockaddr(const struct sockaddr_storage *ss, const char *addr)
{
	char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
		assert_int_equal(ntohs(sin->sin_port), 1701);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		assert_int_equal(ss->ss_family, AF_INET6);
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
		assert_int_equal(ntohs(sin6->sin6_port), 1701);
	}
	assert_string_equal(buf, addr);
}

static void assert_address(const struct cfg *c, size_t i, const char *ifname,
			   const char *addr, unsigned len)
{
	char buf[INET_ADDRSTRLEN];

	assert_true(i < c->n_addresses);
	assert_string_equal(c->addresses[i].ifname, ifname);
	assert_int_equal(c->addresses[i].family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &c->addresses[i].addr.v4, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
	assert_int_equal(c->addresses[i].prefixlen, len);
}

/* Same configuration, line numbers aside; tunnels with no block skipped. */
static void assert_cfg_equal(const struct cfg *a, const struct cfg *b)
{
	size_t i, j;

	assert_int_equal(a->service_on, b->service_on);
	assert_int_equal(a->dp_realtime, b->dp_realtime);
	assert_int_equal(a->dp_threads, b->dp_threads);
	assert_int_equal(a->dp_busy_poll, b->dp_busy_poll);
	assert_int_equal(a->dp_fastpath, b->dp_fastpath);
	assert_int_equal(a->n_bridges, b->n_bridges);
	for (i = 0; i < a->n_bridges; i++) {
		const struct cfg_bridge *x = &a->bridges[i], *y = &b->bridges[i];

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->n_members, y->n_members);
		for (j = 0; j < x->n_members; j++)
			assert_string_equal(x->members[j], y->members[j]);
	}
	assert_int_equal(a->n_addresses, b->n_addresses);
	for (i = 0; i < a->n_addresses; i++) {
		const struct cfg_address *x = &a->addresses[i], *y = &b->addresses[i];

		assert_string_equal(x->ifname, y->ifname);
		assert_int_equal(x->family, y->family);
		assert_memory_equal(&x->addr, &y->addr, sizeof(x->addr));
		assert_int_equal(x->prefixlen, y->prefixlen);
	}
	for (i = 0, j = 0;; i++, j++) {
		const struct cfg_tunnel *x, *y;

		while (i < a->n_tunnels && !a->tunnels[i].line)
			i++;
		while (j < b->n_tunnels && !b->tunnels[j].line)
			j++;
		if (i == a->n_tunnels || j == b->n_tunnels) {
			assert_int_equal(i, a->n_tunnels);
			assert_int_equal(j, b->n_tunnels);
			break;
		}
		x = &a->tunnels[i];
		y = &b->tunnels[j];
		assert_int_equal(x->id, y->id);
		assert_int_equal(x->enabled, y->enabled);
		assert_int_equal(x->has_encapsulation, y->has_encapsulation);
		assert_int_equal(x->encap, y->encap);
		assert_int_equal(x->has_endpoint, y->has_endpoint);
		assert_int_equal(x->has_local_address, y->has_local_address);
		assert_memory_equal(&x->local, &y->local, sizeof(x->local));
		assert_memory_equal(&x->remote, &y->remote, sizeof(x->remote));
		assert_int_equal(x->always_on, y->always_on);
		assert_string_equal(x->hostname, y->hostname);
		assert_int_equal(x->auth, y->auth);
		assert_memory_equal(x->secret, y->secret, sizeof(x->secret));
		assert_int_equal(x->auth_style, y->auth_style);
		assert_int_equal(x->disconnect_time, y->disconnect_time);
		assert_int_equal(x->keepalive, y->keepalive);
		assert_int_equal(x->keepalive_interval, y->keepalive_interval);
		assert_int_equal(x->keepalive_count, y->keepalive_count);
		assert_int_equal(x->keepalive_log, y->keepalive_log);
		assert_int_equal(x->syslog, y->syslog);
		assert_int_equal(x->has_local_router_id, y->has_local_router_id);
		assert_int_equal(x->local_router_id, y->local_router_id);
		assert_int_equal(x->has_remote_router_id, y->has_remote_router_id);
		assert_int_equal(x->remote_router_id, y->remote_router_id);
		assert_int_equal(x->has_remote_end_id, y->has_remote_end_id);
		assert_string_equal(x->remote_end_id, y->remote_end_id);
		assert_int_equal(x->mss_mode, y->mss_mode);
		assert_int_equal(x->mss_value, y->mss_value);
		assert_string_equal(x->ifname, y->ifname);
		assert_string_equal(x->bridge, y->bridge);
		assert_int_equal(x->n_pws, y->n_pws);
		for (size_t k = 0; k < x->n_pws; k++) {
			assert_int_equal(x->pws[k].num, y->pws[k].num);
			assert_string_equal(x->pws[k].end_id, y->pws[k].end_id);
			assert_string_equal(x->pws[k].ifname, y->pws[k].ifname);
			assert_string_equal(x->pws[k].bridge, y->pws[k].bridge);
			assert_int_equal(x->pws[k].vlan, y->pws[k].vlan);
		}
		assert_int_equal(x->vlan, y->vlan);
		assert_true(cfg_ipsec_equal(&x->ipsec, &y->ipsec));
	}
}

/*
 * print c, parse and (if verify) verify the text: no parse error, same
 * struct.  (Verify errors of a bad configuration survive the trip.)
 */
static void assert_round_trip(const struct cfg *c, bool verify)
{
	char *text = print_text(c);
	struct run r;

	run_text(&r, text, strlen(text), verify);
	if (r.parse_errors) {
		char *s = diags_text(&r.d);

		fprintf(stderr, "reparse of:\n%s\ngave:\n%s", text, s);
		free(s);
	}
	assert_int_equal(r.parse_errors, 0);
	assert_int_equal(r.parse_r, 0);
	assert_cfg_equal(c, r.c);
	run_free(&r);
	free(text);
}

/* ------------------------------------------------------------------ */
/* The reference scenario                                              */
/* ------------------------------------------------------------------ */

/* The tunnel both routers share, as the scenario configures it. */
static void assert_scenario_tunnel(const struct cfg_tunnel *t, const char *hostname,
				   const char *local_rid, const char *remote_rid)
{
	assert_int_equal(t->id, 1);
	assert_true(t->enabled);
	assert_true(t->has_encapsulation);
	assert_true(t->always_on);
	assert_string_equal(t->hostname, hostname);
	assert_true(t->auth);
	assert_string_equal(t->secret, "yamaha");
	assert_int_equal(t->auth_style, CFG_AUTH_DIGEST);
	assert_int_equal(t->disconnect_time, 0);
	assert_true(t->keepalive);
	assert_int_equal(t->keepalive_interval, 60);
	assert_int_equal(t->keepalive_count, 3);
	assert_true(t->keepalive_log);
	assert_true(t->syslog);
	assert_true(t->has_local_router_id);
	assert_int_equal(t->local_router_id, rid(local_rid));
	assert_true(t->has_remote_router_id);
	assert_int_equal(t->remote_router_id, rid(remote_rid));
	assert_true(t->has_remote_end_id);
	assert_string_equal(t->remote_end_id, "yamaha");
	assert_int_equal(t->mss_mode, CFG_MSS_AUTO);
	assert_int_equal(t->mss_value, 0);
	assert_string_equal(t->ifname, "tunnel1");
	assert_string_equal(t->bridge, "bridge1");
}

static void assert_scenario_bridge(const struct cfg *c)
{
	const struct cfg_bridge *b = cfg_bridge_find(c, "bridge1");

	assert_int_equal(c->n_bridges, 1);
	assert_non_null(b);
	assert_int_equal(b->n_members, 2);
	assert_string_equal(b->members[0], "lan1");
	assert_string_equal(b->members[1], "tunnel1");
	assert_null(cfg_bridge_find(c, "bridge2"));
}

/* notices on exactly these lines, nothing else */
static void assert_notices_on(const struct cfg_diags *d, const unsigned *lines, size_t n)
{
	assert_int_equal(d->n, n);
	assert_int_equal(d->n_errors, 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(d->v[i].level, CFG_DIAG_NOTICE);
		assert_int_equal(d->v[i].line, lines[i]);
		assert_non_null(strstr(d->v[i].msg, "not l2tpv3d's job, ignored: "));
	}
}

static struct cfg *load(const char *path, struct cfg_diags *d)
{
	struct cfg *c = NULL;

	memset(d, 0, sizeof(*d));
	assert_int_equal(cfg_load_file(path, &c, d), 0);
	assert_non_null(c);
	return c;
}

static void check_router1(const char *path, unsigned select_line, const unsigned *notices,
			  size_t n_notices)
{
	struct cfg_diags d;
	struct cfg *c = load(path, &d);
	const struct cfg_tunnel *t;

	assert_notices_on(&d, notices, n_notices);
	assert_true(c->service_on);
	assert_scenario_bridge(c);
	assert_int_equal(c->n_addresses, 1);
	assert_address(c, 0, "bridge1", "192.168.2.10", 24);
	assert_int_equal(c->n_tunnels, 1);
	t = cfg_tunnel_find(c, 1);
	assert_ptr_equal(t, &c->tunnels[0]);
	assert_int_equal(t->line, select_line);
	assert_scenario_tunnel(t, "RT1", "192.168.2.10", "192.168.2.20");
	assert_true(t->has_endpoint);
	assert_true(t->has_local_address);
	assert_sockaddr(&t->local, "192.168.2.10");
	assert_sockaddr(&t->remote, "203.0.113.2");
	assert_int_equal(t->local_router_id, 3232236042u);
	assert_null(cfg_tunnel_find(c, 2));
	assert_round_trip(c, true);
	cfg_free(c);
	cfg_diags_free(&d);
}

static void check_router2(const char *path, unsigned select_line, const unsigned *notices,
			  size_t n_notices)
{
	struct cfg_diags d;
	struct cfg *c = load(path, &d);
	const struct cfg_tunnel *t;

	assert_notices_on(&d, notices, n_notices);
	assert_true(c->service_on);
	assert_scenario_bridge(c);
	assert_int_equal(c->n_addresses, 2);
	assert_address(c, 0, "bridge1", "192.168.2.20", 24);
	assert_address(c, 1, "lan2", "203.0.113.2", 29);
	assert_int_equal(c->n_tunnels, 1);
	t = cfg_tunnel_find(c, 1);
	assert_non_null(t);
	assert_int_equal(t->line, select_line);
	assert_scenario_tunnel(t, "RT2", "192.168.2.20", "192.168.2.10");
	assert_false(t->has_endpoint); /* the responder */
	assert_false(t->has_local_address);
	assert_int_equal(t->remote_router_id, 3232236042u);
	assert_int_equal(t->local_router_id, 3232236052u);
	assert_round_trip(c, true);
	cfg_free(c);
	cfg_diags_free(&d);
}

/* The seed files keep the pasted Japanese comments; only addresses were unmasked. */
static void assert_as_pasted(const char *path)
{
	size_t len;
	char *text = read_all(path, &len);

	assert_non_null(text);
	assert_non_null(strstr(text, " # \xe3\x83\x88\xe3\x83\xb3\xe3\x83\x8d\xe3\x83\xab")); /* トンネル */
	assert_non_null(strstr(text, "administrator password *\n"));
	assert_null(strstr(text, "xxx"));
	free(text);
}

static void test_seed_router1_as_pasted(void **state)
{
	/* administrator password, ip lan2 address dhcp, ip lan2 nat, 4 nat, telnetd */
	static const unsigned notices[] = { 1, 4, 5, 21, 22, 23, 24, 25 };

	(void)state;
	assert_as_pasted(GOLDEN_DIR "/seed-router1.conf");
	check_router1(GOLDEN_DIR "/seed-router1.conf", 6, notices, 8);
}

static void test_seed_router2_as_pasted(void **state)
{
	/* administrator password, ip route, ip lan2 nat, 4 nat, telnetd, dns */
	static const unsigned notices[] = { 1, 2, 6, 21, 22, 23, 24, 25, 26 };

	(void)state;
	assert_as_pasted(GOLDEN_DIR "/seed-router2.conf");
	check_router2(GOLDEN_DIR "/seed-router2.conf", 7, notices, 9);
}

static void test_scenario_router1_english(void **state)
{
	static const unsigned notices[] = { 3, 4, 20, 21, 22, 23, 24 };

	(void)state;
	check_router1(GOLDEN_DIR "/router1.conf", 5, notices, 7);
}

static void test_scenario_router2_english(void **state)
{
	static const unsigned notices[] = { 1, 5, 20, 21, 22, 23, 24, 25 };

	(void)state;
	check_router2(GOLDEN_DIR "/router2.conf", 6, notices, 8);
}

static void test_seed_notice_texts(void **state)
{
	struct cfg_diags d;
	struct cfg *c = load(GOLDEN_DIR "/seed-router1.conf", &d);
	char line[1024];

	(void)state;
	cfg_diag_format(&d.v[1], line, sizeof(line));
	assert_string_equal(line, "tests/config/seed-router1.conf:4: notice: 'ip lan2 address "
			    "dhcp': not l2tpv3d's job, ignored: run the host's DHCP client on "
			    "the interface");
	cfg_diag_format(&d.v[2], line, sizeof(line));
	assert_string_equal(line, "tests/config/seed-router1.conf:5: notice: 'ip lan2 nat "
			    "descriptor 1': not l2tpv3d's job, ignored: configure NAT with "
			    "nftables");
	cfg_free(c);
	cfg_diags_free(&d);
}

/* ------------------------------------------------------------------ */
/* Lines and comments                                                  */
/* ------------------------------------------------------------------ */

static void test_hash_inside_secret_is_kept(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 1\n l2tp tunnel auth on ab#c # the secret\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_string_equal(r.c->tunnels[0].secret, "ab#c");
	assert_true(r.c->tunnels[0].auth);
	run_free(&r);
}

static void test_hash_at_line_start_after_space_and_tab(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "# a comment\n   # indented comment\ntunnel select 1\t# tab\n"
		       " l2tp hostname RT#1#   # trailing\n#tunnel select 2\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->n_tunnels, 1);
	assert_string_equal(r.c->tunnels[0].hostname, "RT#1#");
	run_free(&r);
}

static void test_utf8_comments_and_wide_spaces(void **state)
{
	struct run r;

	(void)state;
	/* U+3000 IDEOGRAPHIC SPACE and U+00A0 NO-BREAK SPACE before '#' */
	parse_only(&r, "tunnel select 1 # トンネル設定\n"
		       " l2tp hostname RT1\xe3\x80\x80# ホスト名\n"
		       " l2tp syslog on\xc2\xa0# Syslog化\n"
		       "# 全角コメント ①②③\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_string_equal(r.c->tunnels[0].hostname, "RT1");
	assert_true(r.c->tunnels[0].syslog);
	run_free(&r);
}

static void test_crlf_line_ends(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 1\r\n l2tp hostname RT1\r\n l2tp tunnel auth on s3cret\r\n"
		       "\r\n tunnel enable 1 # c\r\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_string_equal(r.c->tunnels[0].hostname, "RT1");
	assert_string_equal(r.c->tunnels[0].secret, "s3cret");
	assert_true(r.c->tunnels[0].enabled);
	run_free(&r);
}

static void test_indent_and_blank_lines_insignificant(void **state)
{
	struct run r1, r2;

	(void)state;
	parse_only(&r1, "tunnel select 1\n\n\n\t  l2tp hostname RT1\n   \n\t\n l2tp always-on on");
	parse_only(&r2, "tunnel select 1\nl2tp hostname RT1\nl2tp always-on on\n");
	assert_int_equal(r1.d.n, 0);
	assert_int_equal(r2.d.n, 0);
	assert_cfg_equal(r1.c, r2.c);
	assert_true(r1.c->tunnels[0].always_on); /* last line without '\n' */
	run_free(&r1);
	run_free(&r2);
}

static void test_byte_order_mark_skipped(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "\xef\xbb\xbftunnel select 1\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->n_tunnels, 1);
	run_free(&r);
}

static void test_keywords_case_insensitive(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "TUNNEL Select 1\n L2TP Always-On ON\n L2TP hostname Rt1\n");
	assert_int_equal(r.d.n, 0);
	assert_true(r.c->tunnels[0].always_on);
	assert_string_equal(r.c->tunnels[0].hostname, "Rt1"); /* values keep their case */
	run_free(&r);
}

static void test_empty_buffer(void **state)
{
	struct run r;

	(void)state;
	run_text(&r, "", 0, true);
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->n_tunnels, 0);
	assert_false(r.c->service_on);
	run_free(&r);
}

static void test_buffer_not_nul_terminated(void **state)
{
	static const char text[] = { 't', 'u', 'n', 'n', 'e', 'l', ' ', 's', 'e', 'l', 'e',
				     'c', 't', ' ', '7' };
	struct run r;

	(void)state;
	run_text(&r, text, sizeof(text), false);
	assert_int_equal(r.d.n, 0);
	assert_non_null(cfg_tunnel_find(r.c, 7));
	run_free(&r);
}

static void test_tunnel_defaults(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;

	(void)state;
	parse_only(&r, "tunnel select 3\n");
	t = cfg_tunnel_find(r.c, 3);
	assert_non_null(t);
	assert_false(t->enabled);
	assert_false(t->has_encapsulation);
	assert_false(t->has_endpoint);
	assert_false(t->always_on);
	assert_string_equal(t->hostname, "");
	assert_false(t->auth);
	assert_int_equal(t->auth_style, CFG_AUTH_DIGEST);
	assert_int_equal(t->disconnect_time, 0);
	assert_true(t->keepalive);
	assert_int_equal(t->keepalive_interval, 60);
	assert_int_equal(t->keepalive_count, 3);
	assert_false(t->keepalive_log);
	assert_false(t->syslog);
	assert_false(t->has_local_router_id);
	assert_false(t->has_remote_router_id);
	assert_false(t->has_remote_end_id);
	assert_int_equal(t->mss_mode, CFG_MSS_OFF);
	assert_string_equal(t->ifname, "tunnel3");
	assert_string_equal(t->bridge, "");
	run_free(&r);
}

static void test_values_of_every_form(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;

	(void)state;
	parse_only(&r, "tunnel select 2\n"
		       " tunnel endpoint address 2001:db8::2\n"
		       " l2tp tunnel disconnect time 300\n"
		       " l2tp keepalive use on 30\n"
		       " ip tunnel tcp mss limit 1400\n"
		       " l2tp tunnel auth on x\n"
		       " l2tp tunnel auth off\n"
		       "tunnel select 3\n"
		       " l2tp keepalive use on 10 5\n"
		       " l2tp keepalive use off\n"
		       " ip tunnel tcp mss limit auto\n"
		       " ip tunnel tcp mss limit off\n"
		       " tunnel endpoint address 10.0.0.1 10.0.0.2\n"
		       " tunnel endpoint address 10.0.0.3\n"
		       "l2tp service on\n");
	assert_int_equal(r.d.n, 0);
	assert_true(r.c->service_on);
	t = cfg_tunnel_find(r.c, 2);
	assert_true(t->has_endpoint);
	assert_false(t->has_local_address);
	assert_sockaddr(&t->remote, "2001:db8::2");
	assert_int_equal(t->disconnect_time, 300);
	assert_true(t->keepalive);
	assert_int_equal(t->keepalive_interval, 30);
	assert_int_equal(t->keepalive_count, 3);
	assert_int_equal(t->mss_mode, CFG_MSS_FIXED);
	assert_int_equal(t->mss_value, 1400);
	assert_false(t->auth);
	assert_string_equal(t->secret, "");
	t = cfg_tunnel_find(r.c, 3);
	assert_false(t->keepalive);
	assert_int_equal(t->keepalive_interval, 60);
	assert_int_equal(t->keepalive_count, 3);
	assert_int_equal(t->mss_mode, CFG_MSS_OFF);
	assert_false(t->has_local_address); /* the later line replaces the earlier */
	assert_sockaddr(&t->remote, "10.0.0.3");
	assert_round_trip(r.c, false);
	run_free(&r);
}

/* `l2tp tunnel auth method`: each value, the last line wins, the default
 * (digest-md5) is not printed, the others print and reparse. */
static void test_auth_method(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 1\n l2tp tunnel auth on k\n l2tp tunnel auth method digest-sha1\n"
		       "tunnel select 2\n l2tp tunnel auth method Challenge\n l2tp tunnel auth on k\n"
		       "tunnel select 3\n l2tp tunnel auth method challenge\n"
		       " l2tp tunnel auth method digest-md5\n l2tp tunnel auth on method\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(cfg_tunnel_find(r.c, 1)->auth_style, CFG_AUTH_DIGEST_SHA1);
	assert_int_equal(cfg_tunnel_find(r.c, 2)->auth_style, CFG_AUTH_CHALLENGE);
	assert_true(cfg_tunnel_find(r.c, 2)->auth);
	assert_int_equal(cfg_tunnel_find(r.c, 3)->auth_style, CFG_AUTH_DIGEST);
	assert_string_equal(cfg_tunnel_find(r.c, 3)->secret, "method");
	assert_round_trip(r.c, false);
	run_free(&r);
}

static void test_hub(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 1\n l2tp hub on\ntunnel select 2\n l2tp hub on 20\n"
		       "tunnel select 3\n l2tp hub on 5\n l2tp hub off\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(cfg_tunnel_find(r.c, 1)->hub_max, CFG_HUB_DEFAULT);
	assert_int_equal(cfg_tunnel_find(r.c, 2)->hub_max, 20);
	assert_int_equal(cfg_tunnel_find(r.c, 3)->hub_max, 0);
	assert_round_trip(r.c, false);
	run_free(&r);

	parse_only(&r, "tunnel select 1\n l2tp hub on 1000\ntunnel select 4096\n l2tp hub on 9999\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(cfg_tunnel_find(r.c, 1)->hub_max, 1000);
	assert_int_equal(cfg_tunnel_find(r.c, 4096)->hub_max, 9999);
	run_free(&r);
	/* a Linux bridge has 1023 ports at most */
	parse_verify(&r, "bridge member bridge1 tunnel1\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " l2tp tunnel auth on k\n l2tp local router-id 10.0.0.1\n l2tp hub on 2000\n"
			 " tunnel enable 1\nl2tp service on\n");
	assert_only_diag(&r.d, "t.conf:2: warning: tunnel 1: 'l2tp hub on 2000': bridge1 takes at most 1023 ports "
			       "(a Linux bridge): the peers beyond are refused; use several hub tunnels in several bridges");
	run_free(&r);
	parse_only(&r, "tunnel select 1\n l2tp hub on 10000\n");
	assert_only_diag(&r.d, "t.conf:2: error: 'l2tp hub on 10000': expected on [MAX-PEERS 1..9999] or off");
	run_free(&r);

	/* a hub is a responder that takes any Router ID */
	parse_verify(&r, "bridge member bridge1 tunnel1\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " l2tp tunnel auth on k\n l2tp local router-id 10.0.0.1\n"
			 " l2tp remote router-id 10.0.0.2\n l2tp hub on\n tunnel enable 1\nl2tp service on\n");
	assert_only_diag(&r.d, "t.conf:2: error: tunnel 1: 'l2tp hub on' is for a responder that takes any "
			       "Router ID: remove 'tunnel endpoint address' and 'l2tp remote router-id'");
	run_free(&r);
}

#define PW_BASE "l2tp service on\nbridge member bridge1 lan1 tunnel1\nbridge member bridge2 lan2 tunnel1-3\n" \
		"tunnel select 1\n tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 192.0.2.2\n" \
		" l2tp local router-id 10.0.0.1\n l2tp remote router-id 10.0.0.2\n"

/* `l2tp pseudowire Q remote end-id NAME`: several sessions of one tunnel */
static void test_pseudowires(void **state)
{
	const struct cfg_tunnel *t;
	struct cfg *c2;
	struct run r;

	(void)state;
	parse_verify(&r, PW_BASE " l2tp remote end-id lan\n l2tp pseudowire 3 remote end-id voice\n"
			 " l2tp pseudowire 2 remote end-id old\n l2tp pseudowire 2 remote end-id cams\n"
			 " tunnel enable 1\n");
	assert_int_equal(r.verify_r, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_int_equal(t->n_pws, 2);
	assert_int_equal(t->pws[0].num, 2); /* sorted, the later line replaced the earlier */
	assert_string_equal(t->pws[0].end_id, "cams");
	assert_string_equal(t->pws[0].ifname, "tunnel1-2");
	assert_string_equal(t->pws[0].bridge, "");
	assert_int_equal(t->pws[1].num, 3);
	assert_string_equal(t->pws[1].end_id, "voice");
	assert_string_equal(t->pws[1].ifname, "tunnel1-3");
	assert_string_equal(t->pws[1].bridge, "bridge2");
	assert_string_equal(t->bridge, "bridge1");
	/* the one without a bridge is warned about */
	assert_diags_have(&r.d, "warning: tunnel 1: pseudowire 2's port tunnel1-2 is in no 'bridge member' line");
	assert_round_trip(r.c, true);
	/* equal as a reload sees it, until a pseudowire changes */
	c2 = r.c;
	r.c = NULL;
	run_free(&r);
	parse_verify(&r, PW_BASE " l2tp remote end-id lan\n l2tp pseudowire 2 remote end-id cams\n"
			 " l2tp pseudowire 3 remote end-id voice\n tunnel enable 1\n");
	assert_true(cfg_tunnel_equal(cfg_tunnel_find(c2, 1), cfg_tunnel_find(r.c, 1)));
	run_free(&r);
	parse_verify(&r, PW_BASE " l2tp remote end-id lan\n l2tp pseudowire 2 remote end-id cams\n"
			 " l2tp pseudowire 3 remote end-id video\n tunnel enable 1\n");
	assert_false(cfg_tunnel_equal(cfg_tunnel_find(c2, 1), cfg_tunnel_find(r.c, 1)));
	run_free(&r);
	cfg_free(c2);

	/* VLANs: pseudowire 1's and 3's (in any order with its end-id); none clears */
	parse_verify(&r, PW_BASE " l2tp pseudowire 3 vlan 200\n l2tp pseudowire 3 remote end-id voice\n"
			 " l2tp pseudowire 1 vlan 100\n l2tp pseudowire 2 vlan 5\n l2tp pseudowire 2 vlan none\n"
			 " l2tp pseudowire 2 remote end-id cams\n tunnel enable 1\nbridge member bridge3 tunnel1-2\n");
	assert_int_equal(r.verify_r, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_int_equal(t->vlan, 100);
	assert_int_equal(t->n_pws, 2);
	assert_int_equal(t->pws[0].vlan, 0);
	assert_int_equal(t->pws[1].vlan, 200);
	assert_string_equal(t->pws[1].end_id, "voice");
	assert_round_trip(r.c, true);
	c2 = r.c;
	r.c = NULL;
	run_free(&r);
	parse_verify(&r, PW_BASE " l2tp pseudowire 3 vlan 201\n l2tp pseudowire 3 remote end-id voice\n"
			 " l2tp pseudowire 1 vlan 100\n l2tp pseudowire 2 remote end-id cams\n tunnel enable 1\n"
			 "bridge member bridge3 tunnel1-2\n");
	assert_false(cfg_tunnel_equal(cfg_tunnel_find(c2, 1), cfg_tunnel_find(r.c, 1)));
	run_free(&r);
	cfg_free(c2);
	/* a VLAN needs the pseudowire's end-id and a bridge */
	expect_verify_error(PW_BASE " l2tp pseudowire 3 vlan 200\n tunnel enable 1\n",
			    "t.conf:9: error: tunnel 1: pseudowire 3 has a VLAN but no 'l2tp pseudowire 3 "
				    "remote end-id NAME' line");
	expect_verify_error(PW_BASE " l2tp pseudowire 2 remote end-id cams\n l2tp pseudowire 2 vlan 7\n"
			 " l2tp pseudowire 3 remote end-id voice\n tunnel enable 1\n",
			    "t.conf:9: error: tunnel 1: pseudowire 2 has VLAN 7 but its port tunnel1-2 is "
				    "in no bridge ('bridge member')");

	/* two tunnels calling one peer: one notice, at the second */
	parse_verify(&r, PW_BASE " tunnel enable 1\ntunnel select 2\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 192.0.2.2\n tunnel enable 2\n"
			 "tunnel select 3\n tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 192.0.2.2\n"
			 " tunnel enable 3\nbridge member bridge3 tunnel2 tunnel3\n");
	{
		char *x = diags_text(&r.d);

		assert_non_null(strstr(x, "t.conf:10: notice: tunnel 2 and others call the peer of tunnel 1: one "
					  "control connection each; 'l2tp pseudowire' lines in one tunnel share one"));
		assert_null(strstr(x, "tunnel 3 call"));
		free(x);
	}
	run_free(&r);

	/* end-ids tell the sessions apart */
	expect_verify_error(PW_BASE " l2tp remote end-id lan\n l2tp pseudowire 3 remote end-id lan\n"
			 " tunnel enable 1\n",
			    "t.conf:10: error: tunnel 1: pseudowire 3 has the end-id 'lan' of pseudowire 1");
	expect_verify_error(PW_BASE " l2tp pseudowire 2 remote end-id a\n l2tp pseudowire 3 remote end-id a\n"
			 " tunnel enable 1\n",
			    "t.conf:10: error: tunnel 1: pseudowire 3 has the end-id 'a' of pseudowire 2 (line 9)");
	/* a bridge member naming a pseudowire the tunnel does not have */
	expect_verify_error(PW_BASE " tunnel enable 1\n",
			    "error: bridge bridge2: member 'tunnel1-3' names pseudowire 3 of tunnel 1, "
				    "which has no 'l2tp pseudowire 3 remote end-id' line");
	/* not for a static session; a hub's peer ports must fit IFNAMSIZ */
	expect_verify_error("l2tp service on\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 192.0.2.2\n l2tp static session 10 20\n"
			 " l2tp pseudowire 2 remote end-id x\n tunnel enable 1\n",
			    "t.conf:6: error: tunnel 1: 'l2tp pseudowire' needs a control connection");
	expect_verify_error("l2tp service on\ntunnel select 1234\n tunnel encapsulation l2tpv3-raw\n"
			 " l2tp tunnel auth on k\n l2tp local router-id 10.0.0.1\n l2tp hub on 999\n"
			 " l2tp pseudowire 2 remote end-id x\n tunnel enable 1234\n",
			    "port names such as tunnel1234.999-2 are longer than 15 bytes");
	parse_verify(&r, "l2tp service on\nbridge member bridge1 tunnel12-2\ntunnel select 12\n"
			 " tunnel encapsulation l2tpv3-raw\n l2tp tunnel auth on k\n l2tp local router-id 10.0.0.1\n"
			 " l2tp hub on 999\n l2tp pseudowire 2 remote end-id x\n tunnel enable 12\n");
	assert_int_equal(r.verify_r, 0);
	run_free(&r);
}

/* `tunnel encapsulation l2tpv3-ip`: IP protocol 115, endpoints with port 0 */
static void test_encap_ip(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;
	struct cfg_tunnel u;

	(void)state;
	parse_verify(&r, "bridge member br0 tunnel1 tunnel2\ntunnel select 1\n tunnel encapsulation l2tpv3-ip\n"
			 " tunnel endpoint address 192.0.2.1 203.0.113.2\n tunnel enable 1\n"
			 "tunnel select 2\n tunnel encapsulation L2TPv3-RAW\n tunnel endpoint address 203.0.113.3\n"
			 " tunnel enable 2\nl2tp service on\n");
	assert_int_equal(r.verify_r, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_int_equal(t->encap, CFG_ENCAP_IP);
	assert_int_equal(((const struct sockaddr_in *)&t->remote)->sin_port, 0);
	assert_int_equal(((const struct sockaddr_in *)&t->local)->sin_port, 0);
	assert_int_equal(cfg_tunnel_find(r.c, 2)->encap, CFG_ENCAP_UDP);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&cfg_tunnel_find(r.c, 2)->remote)->sin_port), 1701);
	assert_round_trip(r.c, true);
	/* a change of encapsulation restarts the tunnel on reload */
	u = *t;
	assert_true(cfg_tunnel_equal(t, &u));
	u.encap = CFG_ENCAP_UDP;
	assert_false(cfg_tunnel_equal(t, &u));
	run_free(&r);

	/* IP has no ports */
	parse_verify(&r, "bridge member br0 tunnel1\ntunnel select 1\n tunnel encapsulation l2tpv3-ip\n"
			 " tunnel endpoint address 203.0.113.2\n l2tp local router-id 192.0.2.1\n l2tp remote port 1702\n"
			 " tunnel enable 1\n"
			 "l2tp service on\n");
	assert_only_diag(&r.d, "t.conf:2: error: tunnel 1: 'l2tp remote port' with 'tunnel encapsulation "
			       "l2tpv3-ip': IP protocol 115 has no ports");
	run_free(&r);

	/* l2tpv3 (L2TPv3/IPsec) is UDP; its IPsec lines are tested in test_ipsec_cfg */
	parse_only(&r, "tunnel select 1\n tunnel encapsulation l2tpv3\n");
	assert_int_equal(r.d.n, 0);
	assert_int_equal(cfg_tunnel_find(r.c, 1)->encap, CFG_ENCAP_UDP);
	assert_true(cfg_tunnel_find(r.c, 1)->ipsec.on);
	run_free(&r);
}

static void test_ipv6_endpoint_with_local(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;

	(void)state;
	parse_only(&r, "tunnel select 1\n tunnel endpoint address 2001:db8::1 2001:db8::2\n");
	assert_int_equal(r.d.n, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_true(t->has_local_address);
	assert_sockaddr(&t->local, "2001:db8::1");
	assert_sockaddr(&t->remote, "2001:db8::2");
	assert_round_trip(r.c, false);
	run_free(&r);
}

/* `dataplane realtime on [PRIORITY]|off`, default on 10 */
static void test_dataplane_realtime(void **state)
{
	static const struct {
		const char *text;
		unsigned prio;
	} ok[] = {
		{ "l2tp service on\n", CFG_DP_RT_DEFAULT },
		{ "dataplane realtime on\n", 10 },
		{ "dataplane realtime on 50\n", 50 },
		{ "dataplane realtime off\n", 0 },
		{ "dataplane realtime on 7\ndataplane realtime off\n", 0 },
	};
	struct run r;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		parse_only(&r, ok[i].text);
		assert_int_equal(r.d.n, 0);
		assert_int_equal(r.c->dp_realtime, ok[i].prio);
		assert_round_trip(r.c, false);
		run_free(&r);
	}
	parse_only(&r, "dataplane realtime on 100\n");
	assert_only_diag(&r.d, "t.conf:1: error: 'dataplane realtime on 100': bad priority '100': expected 1..99");
	run_free(&r);
	parse_only(&r, "dataplane realtime off 5\n");
	assert_only_diag(&r.d, "t.conf:1: error: 'dataplane realtime off 5': expected on [PRIORITY 1..99] or off");
	run_free(&r);
	parse_only(&r, "dataplane realtime maybe\n");
	assert_only_diag(&r.d, "t.conf:1: error: 'dataplane realtime maybe': expected on [PRIORITY 1..99] or off");
	run_free(&r);
}

/* `dataplane busy-poll USEC`, 0..10000, off by default */
static void test_dataplane_busy_poll(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "l2tp service on\n");
	assert_int_equal(r.c->dp_busy_poll, 0);
	run_free(&r);
	parse_only(&r, "dataplane busy-poll 50\n");
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->dp_busy_poll, 50);
	assert_round_trip(r.c, false);
	run_free(&r);
	parse_only(&r, "dataplane busy-poll 0\n");
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->dp_busy_poll, 0);
	run_free(&r);
	parse_only(&r, "dataplane busy-poll 10001\n");
	assert_only_diag(&r.d, "t.conf:1: error: 'dataplane busy-poll 10001': bad time '10001': expected 0..10000 "
			       "microseconds");
	run_free(&r);
	parse_only(&r, "dataplane busy-poll soon\n");
	assert_only_diag(&r.d, "t.conf:1: error: 'dataplane busy-poll soon': bad time 'soon': expected 0..10000 "
			       "microseconds");
	run_free(&r);
}

/* `dataplane fastpath on|off`, off by default, printed only when on; a
 * global line, also when written inside a tunnel's block */
static void test_dataplane_fastpath(void **state)
{
	static const struct {
		const char *text;
		bool on;
	} ok[] = {
		{ "l2tp service on\n", false },
		{ "dataplane fastpath on\n", true },
		{ "dataplane fastpath on\ndataplane fastpath off\n", false },
		{ "tunnel select 1\n dataplane fastpath on\n", true },
	};
	static const struct {
		const char *text;
		const char *diag; /* NULL: one error, its text not pinned */
	} bad[] = {
		{ "l2tp service on\ndataplane fastpath maybe\n",
		  "t.conf:2: error: 'dataplane fastpath maybe': expected on or off, not 'maybe'" },
		{ "dataplane fastpath\n", NULL },
		{ "dataplane fastpath on off\n", NULL },
	};
	struct run r;
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		parse_only(&r, ok[i].text);
		assert_int_equal(r.d.n, 0);
		assert_int_equal(r.c->dp_fastpath, ok[i].on);
		assert_round_trip(r.c, false);
		text = print_text(r.c);
		if (ok[i].on)
			assert_non_null(strstr(text, "dataplane fastpath on\n"));
		else
			assert_null(strstr(text, "fastpath"));
		free(text);
		run_free(&r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_only(&r, bad[i].text);
		if (bad[i].diag) {
			assert_only_diag(&r.d, bad[i].diag);
		} else {
			assert_int_equal(r.d.n, 1);
			assert_int_equal(r.d.v[0].level, CFG_DIAG_ERROR);
		}
		assert_false(r.c->dp_fastpath);
		run_free(&r);
	}
}

/* `dataplane threads N`, 1..16, not set by default */
static void test_dataplane_threads(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "l2tp service on\n");
	assert_int_equal(r.c->dp_threads, 0);
	run_free(&r);
	parse_only(&r, "dataplane threads 2\n");
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->dp_threads, 2);
	assert_round_trip(r.c, false);
	run_free(&r);
	parse_only(&r, "dataplane threads 0\n");
	assert_only_diag(&r.d, "t.conf:1: error: 'dataplane threads 0': bad thread count '0': expected 1..16");
	run_free(&r);
	parse_only(&r, "dataplane threads 17\n");
	assert_only_diag(&r.d, "t.conf:1: error: 'dataplane threads 17': bad thread count '17': expected 1..16");
	run_free(&r);
}

static void test_metrics_listen(void **state)
{
	struct run r;
	const struct sockaddr_in *sin;

	(void)state;
	parse_only(&r, "l2tp service on\n");
	assert_false(r.c->has_metrics); /* off by default */
	run_free(&r);

	parse_only(&r, "metrics listen 127.0.0.1:9101\n");
	assert_int_equal(r.d.n, 0);
	assert_true(r.c->has_metrics);
	sin = (const struct sockaddr_in *)&r.c->metrics;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 9101);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_round_trip(r.c, false);
	run_free(&r);

	parse_only(&r, "metrics listen [::1]:9101\n");
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->metrics.ss_family, AF_INET6);
	assert_round_trip(r.c, false);
	run_free(&r);

	static const char *const bad[] = {
		"metrics listen 127.0.0.1\n", "metrics listen 127.0.0.1:0\n", "metrics listen 127.0.0.1:65536\n",
		"metrics listen host:80\n", "metrics listen ::1:80\n", "metrics listen [::1]80\n",
		"metrics listen :80\n", "metrics listen 1.2.3.4:80 extra\n", "metrics listen\n",
		"metrics listen [1.2.3.4]:80\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_only(&r, bad[i]);
		if (r.d.n_errors != 1 || r.c->has_metrics)
			fail_msg("'%s' accepted", bad[i]);
		run_free(&r);
	}
}

/* ---- data-plane lines and `l2tp compatibility` presets ---- */

static void test_dataplane_defaults(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;

	(void)state;
	parse_only(&r, "tunnel select 1\n");
	t = cfg_tunnel_find(r.c, 1);
	assert_int_equal(t->dp.compat, CFG_COMPAT_NONE);
	assert_int_equal(t->dp.local_port, 1701);
	assert_int_equal(t->dp.remote_port, 1701);
	assert_int_equal(t->dp.cookie_len, 0);
	assert_false(t->dp.has_cookie_value);
	assert_false(t->dp.l2ss);
	assert_false(t->dp.data_seq);
	assert_int_equal(t->dp.pw_type, CFG_PW_ETHERNET);
	run_free(&r);
}

static void test_static_session(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;
	char *printed;

	(void)state;
	parse_verify(&r, "bridge member br0 tunnel1 tunnel2\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 203.0.113.1 203.0.113.2\n l2tp static session 0xAAAA 48059\n"
			 " l2tp static cookie receive 11223344\n l2tp static cookie send 0x1122334455667788\n"
			 " l2tp remote port 1702\n tunnel enable 1\n"
			 "tunnel select 2\n tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 203.0.113.3\n"
			 " l2tp static session 4294967295 1\n l2tp static cookie receive 11223344\n"
			 " l2tp static cookie receive none\n l2tp l2-specific-sublayer default\n"
			 " l2tp data sequencing on\n tunnel enable 2\nl2tp service on\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(r.d.n, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_true(t->is_static);
	assert_int_equal(t->static_local_sid, 0xAAAA);
	assert_int_equal(t->static_remote_sid, 0xBBBB);
	assert_int_equal(t->static_rx_cookie_len, 4);
	assert_memory_equal(t->static_rx_cookie, "\x11\x22\x33\x44", 4);
	assert_int_equal(t->static_tx_cookie_len, 8);
	assert_memory_equal(t->static_tx_cookie, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&t->remote)->sin_port), 1702);
	t = cfg_tunnel_find(r.c, 2);
	assert_int_equal(t->static_local_sid, 0xffffffffu);
	assert_int_equal(t->static_rx_cookie_len, 0);
	assert_true(t->dp.l2ss);
	assert_true(t->dp.data_seq);
	assert_false(cfg_tunnel_find(r.c, 1)->dp.data_seq);
	printed = print_text(r.c);
	assert_non_null(strstr(printed, " l2tp static session 43690 48059\n l2tp static cookie receive 11223344\n"
				 " l2tp static cookie send 1122334455667788\n"));
	assert_non_null(strstr(printed, " l2tp l2-specific-sublayer default\n l2tp data sequencing on\n"));
	free(printed);
	assert_round_trip(r.c, true);
	assert_true(cfg_tunnel_equal(cfg_tunnel_find(r.c, 1), cfg_tunnel_find(r.c, 1)));
	run_free(&r);
	/* a static session's sequence numbers need the sublayer too */
	parse_verify(&r, "bridge member br0 tunnel1\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 203.0.113.2\n l2tp static session 1 2\n"
			 " l2tp data sequencing on\n tunnel enable 1\nl2tp service on\n");
	assert_only_diag(&r.d, "t.conf:2: error: tunnel 1: 'l2tp data sequencing on' needs 'l2tp "
			       "l2-specific-sublayer default' (the sequence number travels in the sublayer)");
	assert_int_equal(r.verify_r, -EINVAL);
	run_free(&r);

	/* bad values: session ID 0 or too big, cookies of other lengths */
	parse_only(&r, "tunnel select 1\n l2tp static session 0 5\n");
	assert_only_diag(&r.d, "t.conf:2: error: 'l2tp static session 0 5': expected two Session IDs "
			       "1..4294967295 (decimal or 0x hex), the local one (we accept) then the remote one "
			       "(we send)");
	run_free(&r);
	parse_only(&r, "tunnel select 1\n l2tp static session 1 4294967296\n");
	assert_int_equal(r.d.n_errors, 1);
	run_free(&r);
	parse_only(&r, "tunnel select 1\n l2tp static session 0x 5\n");
	assert_int_equal(r.d.n_errors, 1);
	run_free(&r);
	parse_only(&r, "tunnel select 1\n l2tp static cookie send 112233\n");
	assert_only_diag(&r.d, "t.conf:2: error: 'l2tp static cookie send 112233': expected none or a cookie "
			       "of 8 or 16 hex digits (4 or 8 bytes)");
	run_free(&r);
	parse_only(&r, "tunnel select 1\n l2tp static cookie both 11223344\n");
	assert_int_equal(r.d.n_errors, 1);
	run_free(&r);

	/* static needs an endpoint; excludes a hub; auth and cookie lines ignored */
	parse_verify(&r, "bridge member br0 tunnel1\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " l2tp static session 1 2\n l2tp hub on\n tunnel enable 1\nl2tp service on\n");
	assert_only_diag(&r.d, "t.conf:2: error: tunnel 1: 'l2tp static session' needs 'tunnel endpoint address' "
			       "(there is no control connection to learn the peer from)\n"
			       "t.conf:2: error: tunnel 1: 'l2tp hub on' and 'l2tp static session' exclude each other");
	assert_int_equal(r.verify_r, -EINVAL);
	run_free(&r);
	parse_verify(&r, "bridge member br0 tunnel1\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 203.0.113.2\n l2tp static session 1 2\n l2tp tunnel auth on k\n"
			 " l2tp cookie length 4\n tunnel enable 1\nl2tp service on\n");
	assert_only_diag(&r.d, "t.conf:2: warning: tunnel 1: 'l2tp tunnel auth' is ignored by a static session "
			       "(no control connection)\n"
			       "t.conf:2: warning: tunnel 1: 'l2tp cookie length|value' is ignored by a static "
			       "session: use 'l2tp static cookie receive|send'");
	assert_int_equal(r.verify_r, 0);
	run_free(&r);

	/* two static sessions with the same local Session ID */
	parse_verify(&r, "bridge member br0 tunnel1 tunnel2\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 203.0.113.2\n l2tp static session 7 2\n tunnel enable 1\n"
			 "tunnel select 2\n tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 203.0.113.3\n"
			 " l2tp static session 0x7 3\n tunnel enable 2\nl2tp service on\n");
	assert_only_diag(&r.d, "t.conf:7: error: tunnel 2: static local Session ID 7 is also tunnel 1's");
	run_free(&r);
}

/* `l2tp static probe A.B.C.D|none`: one unicast IPv4 host, printed back */
static void test_static_probe(void **state)
{
	static const char *bad[] = { "0.0.0.0", "255.255.255.255", "127.0.0.1", "224.0.0.1", "240.0.0.1",
				     "192.168.30", "2001:db8::1", "host" };
	struct run r;
	const struct cfg_tunnel *t;
	struct cfg_tunnel copy;
	char *printed, line[96];

	(void)state;
	parse_verify(&r, "bridge member br0 tunnel1 tunnel2\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 203.0.113.2\n l2tp static session 1 2\n"
			 " l2tp static probe 192.168.30.2\n tunnel enable 1\n"
			 "tunnel select 2\n tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 203.0.113.3\n"
			 " l2tp static session 3 4\n l2tp static probe 192.168.30.3\n l2tp static probe none\n"
			 " tunnel enable 2\nl2tp service on\n");
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(r.d.n, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_int_equal(ntohl(t->static_probe), 0xc0a81e02);
	assert_int_equal(cfg_tunnel_find(r.c, 2)->static_probe, 0);
	printed = print_text(r.c);
	assert_non_null(strstr(printed, " l2tp static session 1 2\n l2tp static probe 192.168.30.2\n"));
	assert_null(strstr(printed, "192.168.30.3"));
	free(printed);
	assert_round_trip(r.c, true);
	/* a changed target is a changed tunnel (a reload restarts it) */
	copy = *t;
	assert_true(cfg_tunnel_equal(t, &copy));
	copy.static_probe = htonl(0xc0a81e09);
	assert_false(cfg_tunnel_equal(t, &copy));
	run_free(&r);

	/* without a static session: ignored, with a warning */
	parse_verify(&r, "bridge member br0 tunnel1\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
			 " tunnel endpoint address 203.0.113.2\n l2tp static probe 192.168.30.2\n"
			 " l2tp local router-id 192.0.2.1\n tunnel enable 1\nl2tp service on\n");
	assert_only_diag(&r.d, "t.conf:2: warning: tunnel 1: 'l2tp static probe' without 'l2tp static session' "
			       "is ignored (a control connection has its keepalive)");
	assert_int_equal(r.verify_r, 0);
	run_free(&r);

	/* not one host's IPv4 address */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "tunnel select 1\n l2tp static probe %s\n", bad[i]);
		parse_only(&r, line);
		assert_int_equal(r.d.n_errors, 1);
		run_free(&r);
	}
	parse_only(&r, "tunnel select 1\n l2tp static probe 224.0.0.1\n");
	assert_only_diag(&r.d, "t.conf:2: error: 'l2tp static probe 224.0.0.1': expected the address of one host, "
			       "not an unspecified, loopback, multicast or broadcast address");
	run_free(&r);
	parse_only(&r, "tunnel select 1\n l2tp static probe host\n");
	assert_only_diag(&r.d, "t.conf:2: error: 'l2tp static probe host': expected none or the IPv4 address "
			       "A.B.C.D of a host across the static session");
	run_free(&r);
}

static void test_dataplane_lines(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;
	char *printed;

	(void)state;
	parse_only(&r, "tunnel select 1\n l2tp local port 1701\n l2tp remote port 1702\n"
		       " l2tp cookie length 8\n l2tp l2-specific-sublayer default\n l2tp data sequencing off\n"
		       " l2tp pseudowire type ethernet-vlan\n"
		       "tunnel select 2\n l2tp cookie value 0x11223344\n l2tp L2-Specific-Sublayer None\n"
		       "tunnel select 3\n l2tp cookie value 0102030405060708\n l2tp cookie length 8\n"
		       " l2tp pseudowire type Ethernet\n");
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.d.n, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_int_equal(t->dp.remote_port, 1702);
	assert_int_equal(t->dp.cookie_len, 8);
	assert_false(t->dp.has_cookie_value);
	assert_true(t->dp.l2ss);
	assert_int_equal(t->dp.pw_type, CFG_PW_ETHERNET_VLAN);
	t = cfg_tunnel_find(r.c, 2);
	assert_int_equal(t->dp.cookie_len, 4); /* from the value */
	assert_true(t->dp.has_cookie_value);
	assert_memory_equal(t->dp.cookie, "\x11\x22\x33\x44", 4);
	assert_false(t->dp.l2ss);
	assert_true(t->dp.has_l2ss);
	t = cfg_tunnel_find(r.c, 3);
	assert_int_equal(t->dp.cookie_len, 8);
	assert_memory_equal(t->dp.cookie, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	printed = print_text(r.c);
	assert_non_null(strstr(printed, " l2tp remote port 1702\n l2tp cookie length 8\n"
				 " l2tp l2-specific-sublayer default\n l2tp data sequencing off\n"
				 " l2tp pseudowire type ethernet-vlan\n"));
	assert_non_null(strstr(printed, " l2tp cookie value 11223344\n l2tp l2-specific-sublayer none\n"));
	assert_non_null(strstr(printed, " l2tp cookie length 8\n l2tp cookie value 0102030405060708\n"));
	free(printed);
	assert_round_trip(r.c, false);
	run_free(&r);
}

static void test_compatibility_presets(void **state)
{
	struct run r;
	const struct cfg_tunnel *t;

	(void)state;
	parse_only(&r, "tunnel select 1\n l2tp compatibility cisco\n"
		       "tunnel select 2\n l2tp compatibility linux\n"
		       "tunnel select 3\n l2tp compatibility MikroTik\n"
		       "tunnel select 4\n l2tp compatibility yamaha\n"
		       "tunnel select 5\n l2tp compatibility cisco\n l2tp compatibility none\n");
	assert_int_equal(r.d.n, 0);
	t = cfg_tunnel_find(r.c, 1);
	assert_int_equal(t->dp.compat, CFG_COMPAT_CISCO);
	assert_int_equal(t->dp.cookie_len, 4);
	assert_false(t->dp.l2ss);
	t = cfg_tunnel_find(r.c, 2);
	assert_int_equal(t->dp.compat, CFG_COMPAT_LINUX);
	assert_int_equal(t->dp.cookie_len, 0);
	assert_true(t->dp.l2ss);
	t = cfg_tunnel_find(r.c, 3);
	assert_int_equal(t->dp.compat, CFG_COMPAT_MIKROTIK);
	assert_int_equal(t->dp.cookie_len, 0);
	assert_false(t->dp.l2ss);
	t = cfg_tunnel_find(r.c, 4);
	assert_int_equal(t->dp.compat, CFG_COMPAT_YAMAHA);
	assert_int_equal(t->dp.cookie_len, 0);
	t = cfg_tunnel_find(r.c, 5); /* the later preset replaces the earlier one */
	assert_int_equal(t->dp.compat, CFG_COMPAT_NONE);
	assert_int_equal(t->dp.cookie_len, 0);
	assert_string_equal(cfg_compat_name(CFG_COMPAT_LINUX), "linux");
	assert_round_trip(r.c, false);
	run_free(&r);
}

/* An explicit line wins over the preset whether it comes before or after. */
static void test_compatibility_override_order(void **state)
{
	static const char *const texts[] = {
		"tunnel select 1\n l2tp compatibility cisco\n l2tp cookie length 8\n"
		" l2tp l2-specific-sublayer default\n",
		"tunnel select 1\n l2tp cookie length 8\n l2tp l2-specific-sublayer default\n"
		" l2tp compatibility cisco\n",
	};
	struct run r;
	const struct cfg_tunnel *t;
	char *printed;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		parse_only(&r, texts[i]);
		assert_int_equal(r.d.n, 0);
		t = cfg_tunnel_find(r.c, 1);
		assert_int_equal(t->dp.compat, CFG_COMPAT_CISCO);
		assert_int_equal(t->dp.cookie_len, 8);
		assert_true(t->dp.l2ss);
		printed = print_text(r.c);
		assert_non_null(strstr(printed, " l2tp compatibility cisco\n l2tp cookie length 8\n"
					 " l2tp l2-specific-sublayer default\n"));
		free(printed);
		assert_round_trip(r.c, false);
		run_free(&r);
	}
	/* linux then an explicit none: none stays, also after printing */
	parse_only(&r, "tunnel select 1\n l2tp l2-specific-sublayer none\n l2tp compatibility linux\n");
	assert_false(cfg_tunnel_find(r.c, 1)->dp.l2ss);
	assert_round_trip(r.c, false);
	run_free(&r);
	/* a configured cookie value keeps its length under cisco's preset */
	parse_only(&r, "tunnel select 1\n l2tp cookie value 0102030405060708\n l2tp compatibility cisco\n");
	assert_int_equal(cfg_tunnel_find(r.c, 1)->dp.cookie_len, 8);
	run_free(&r);
	/* back to random: the preset's length again */
	parse_only(&r, "tunnel select 1\n l2tp compatibility cisco\n l2tp cookie value 0102030405060708\n"
		       " l2tp cookie value random\n");
	assert_int_equal(cfg_tunnel_find(r.c, 1)->dp.cookie_len, 4);
	assert_false(cfg_tunnel_find(r.c, 1)->dp.has_cookie_value);
	run_free(&r);
}

static void test_dataplane_line_errors(void **state)
{
	static const struct {
		const char *line, *diag;
	} cases[] = {
		{ "l2tp compatibility juniper",
		  "expected yamaha, cisco, mikrotik, linux or none, not 'juniper'" },
		{ "l2tp local port 0", "expected a UDP port 1..65535, not '0'" },
		{ "l2tp remote port 65536", "expected a UDP port 1..65535, not '65536'" },
		{ "l2tp cookie length 2", "cookie length must be 0, 4 or 8 bytes, not '2'" },
		{ "l2tp cookie length 16", "cookie length must be 0, 4 or 8 bytes, not '16'" },
		{ "l2tp cookie value 123", "expected random or a cookie of 8 or 16 hex digits (4 or 8 bytes)" },
		{ "l2tp cookie value 1122334g", "expected random or a cookie of 8 or 16 hex digits (4 or 8 bytes)" },
		{ "l2tp l2-specific-sublayer atm", "expected none or default, not 'atm'" },
		{ "l2tp data sequencing maybe", "expected on or off, not 'maybe'" },
		{ "l2tp pseudowire type ppp", "expected ethernet or ethernet-vlan, not 'ppp'" },
	};
	struct run r;
	char text[256], want[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "tunnel select 1\n%s\n", cases[i].line);
		parse_only(&r, text);
		assert_int_equal(r.parse_r, -EINVAL);
		snprintf(want, sizeof(want), "t.conf:2: error: '%s': %s", cases[i].line, cases[i].diag);
		assert_only_diag(&r.d, want);
		run_free(&r);
	}
}

static void test_dataplane_verify(void **state)
{
	static const char head[] = "bridge member br0 eth0 tunnel1\nl2tp service on\n"
				   "tunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
				   " tunnel endpoint address 192.0.2.1 192.0.2.2\n l2tp local router-id 192.0.2.1\n"
				   " tunnel enable 1\n";
	static const struct {
		const char *lines, *diag;
	} cases[] = {
		{ " l2tp cookie length 8\n l2tp cookie value 11223344\n",
		  "t.conf:3: error: tunnel 1: 'l2tp cookie value' has 4 bytes but the cookie length is 8" },
		{ " l2tp data sequencing on\n",
		  "t.conf:3: error: tunnel 1: 'l2tp data sequencing on' needs 'l2tp l2-specific-sublayer default' "
		  "(the sequence number travels in the sublayer)" },
	};
	struct run r;
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, cases[i].lines);
		parse_verify(&r, text);
		assert_int_equal(r.parse_r, 0);
		assert_int_equal(r.verify_r, -EINVAL);
		assert_only_diag(&r.d, cases[i].diag);
		run_free(&r);
	}
	/* sequencing with its sublayer is accepted and printed */
	snprintf(text, sizeof(text), "%s l2tp data sequencing on\n l2tp l2-specific-sublayer default\n", head);
	parse_verify(&r, text);
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_true(cfg_tunnel_find(r.c, 1)->dp.data_seq);
	assert_round_trip(r.c, true);
	run_free(&r);
	/* the remote port goes into the endpoint address */
	snprintf(text, sizeof(text), "%s l2tp remote port 1702\n l2tp compatibility cisco\n", head);
	parse_verify(&r, text);
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&cfg_tunnel_find(r.c, 1)->remote)->sin_port), 1702);
	assert_round_trip(r.c, true);
	run_free(&r);
	/* and the local port into the local address */
	snprintf(text, sizeof(text), "%s l2tp local port 1702\n", head);
	parse_verify(&r, text);
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(cfg_tunnel_find(r.c, 1)->dp.local_port, 1702);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&cfg_tunnel_find(r.c, 1)->local)->sin_port), 1702);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&cfg_tunnel_find(r.c, 1)->remote)->sin_port), 1701);
	assert_round_trip(r.c, true);
	run_free(&r);
}

static void test_tunnel_equal(void **state)
{
	static const char base[] = "bridge member br0 eth0 tunnel1\n"
				   "tunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
				   " tunnel endpoint address 192.0.2.1 192.0.2.2\n l2tp hostname A\n"
				   " l2tp tunnel auth on s\n tunnel enable 1\n";
	static const char *const changes[] = {
		" l2tp hostname B\n", " l2tp tunnel auth on t\n", " l2tp tunnel auth off\n",
		" tunnel endpoint address 192.0.2.1 192.0.2.3\n", " l2tp keepalive use on 5 3\n",
		" l2tp keepalive log on\n", " l2tp syslog on\n", " l2tp remote router-id 1.2.3.4\n",
		" l2tp local router-id 1.2.3.4\n", " l2tp remote end-id x\n", " l2tp always-on on\n",
		" l2tp tunnel disconnect time 60\n", " ip tunnel tcp mss limit 1300\n",
		"tunnel disable 1\n", "bridge member br1 eth1 tunnel1\nbridge member br0 eth0\n",
		" l2tp compatibility cisco\n", " l2tp compatibility yamaha\n", " l2tp remote port 1702\n",
		" l2tp cookie length 4\n", " l2tp cookie value 01020304\n", " l2tp l2-specific-sublayer default\n",
		" l2tp pseudowire type ethernet-vlan\n",
	};
	struct run a, b;
	char text[1024];

	(void)state;
	parse_verify(&a, base);
	/* the same settings on other lines are equal */
	snprintf(text, sizeof(text), "# moved down\n\n%s", base);
	parse_verify(&b, text);
	assert_true(cfg_tunnel_equal(cfg_tunnel_find(a.c, 1), cfg_tunnel_find(b.c, 1)));
	run_free(&b);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base, changes[i]);
		parse_verify(&b, text);
		if (cfg_tunnel_equal(cfg_tunnel_find(a.c, 1), cfg_tunnel_find(b.c, 1)))
			fail_msg("change '%s' not seen", changes[i]);
		run_free(&b);
	}
	run_free(&a);
}

static void test_later_lines_replace(void **state)
{
	struct run r;
	const struct cfg_bridge *b;

	(void)state;
	parse_only(&r, "bridge member br0 eth0 tunnel1\n"
		       "bridge member br0 eth1\n"
		       "ip br0 address 10.0.0.1/24\n"
		       "ip br0 address 10.0.1.1/16\n"
		       "tunnel select 1\n l2tp hostname A\n"
		       "tunnel select 2\n"
		       "tunnel select 1\n l2tp hostname B\n"
		       "l2tp service on\nl2tp service off\n");
	assert_int_equal(r.d.n, 0);
	b = cfg_bridge_find(r.c, "br0");
	assert_int_equal(b->n_members, 1);
	assert_string_equal(b->members[0], "eth1");
	assert_int_equal(r.c->n_addresses, 1);
	assert_address(r.c, 0, "br0", "10.0.1.1", 16);
	assert_int_equal(r.c->n_tunnels, 2);
	assert_string_equal(cfg_tunnel_find(r.c, 1)->hostname, "B");
	assert_int_equal(cfg_tunnel_find(r.c, 1)->line, 5); /* the first select */
	assert_false(r.c->service_on);
	run_free(&r);
}

static void test_tunnels_sorted_by_id(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 30\ntunnel select 4\ntunnel enable 17\ntunnel select 17\n"
		       "bridge member b2 x\nbridge member b1 y\n");
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->n_tunnels, 3);
	assert_int_equal(r.c->tunnels[0].id, 4);
	assert_int_equal(r.c->tunnels[1].id, 17);
	assert_int_equal(r.c->tunnels[2].id, 30);
	assert_true(r.c->tunnels[1].enabled);
	assert_int_equal(r.c->tunnels[1].line, 4);
	assert_int_equal(r.c->tunnels[1].enable_line, 3);
	assert_string_equal(r.c->bridges[0].name, "b1");
	assert_non_null(cfg_tunnel_find(r.c, 30));
	assert_null(cfg_tunnel_find(r.c, 5));
	run_free(&r);
}

static void test_tunnel_select_none_closes_block(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 1\ntunnel select none\nl2tp hostname X\n");
	assert_int_equal(r.parse_r, -EINVAL);
	assert_only_diag(&r.d, "t.conf:3: error: 'l2tp hostname X': only valid after "
			 "'tunnel select N': ignored");
	run_free(&r);
}

static void test_global_lines_inside_tunnel_block(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 1\n bridge member bridge1 tunnel1\n ip bridge1 address "
		       "10.1.1.1/24\n l2tp service on l2tpv3\n l2tp hostname still-1\n");
	assert_int_equal(r.d.n, 0);
	assert_int_equal(r.c->n_bridges, 1);
	assert_true(r.c->service_on);
	assert_string_equal(r.c->tunnels[0].hostname, "still-1");
	run_free(&r);
}

static void test_router_only_lines_one_notice_each(void **state)
{
	static const char *const lines[] = {
		"ip lan2 address dhcp", "ip lan2 nat descriptor 1", "nat descriptor type 1 masquerade",
		"ip route default gateway 203.0.113.1", "dns server 198.51.100.53",
		"dns domain example.com", "telnetd host lan", "administrator password *",
		"login password *", "login user admin *", "ip lan2 secure filter in 100",
		"ip filter 100 pass * * * * *", "console character ascii", "timezone +09:00",
		"description lan1 office", "ntpdate ntp.example.net", "syslog host 192.0.2.1",
		"httpd host lan", "sshd service on", "syslog notice on",
		"ip tunnel secure filter in 1",
	};
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct run r;

		snprintf(text, sizeof(text), "%s # with a comment\n", lines[i]);
		parse_only(&r, text);
		assert_int_equal(r.parse_r, 0);
		assert_int_equal(r.d.n, 1);
		assert_int_equal(r.d.v[0].level, CFG_DIAG_NOTICE);
		assert_int_equal(r.d.v[0].line, 1);
		assert_true(strncmp(r.d.v[0].msg + 1, lines[i], strlen(lines[i])) == 0);
		assert_non_null(strstr(r.d.v[0].msg, "not l2tpv3d's job, ignored: "));
		run_free(&r);
	}
}

static void test_diag_format(void **state)
{
	struct cfg_diag dg = { .level = CFG_DIAG_WARNING, .file = "x.conf", .line = 12,
			       .msg = "hello" };
	char buf[64];

	(void)state;
	cfg_diag_format(&dg, buf, sizeof(buf));
	assert_string_equal(buf, "x.conf:12: warning: hello");
	dg.line = 0;
	dg.level = CFG_DIAG_NOTICE;
	cfg_diag_format(&dg, buf, sizeof(buf));
	assert_string_equal(buf, "x.conf: notice: hello");
	cfg_diag_format(&dg, buf, 4);
	assert_string_equal(buf, "x.c");
	cfg_diags_free(NULL);
	cfg_free(NULL);
}

static void test_errors_do_not_stop_parsing(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "frobnicate\ntunnel select 1\n l2tp keepalive use on 0 3\n"
		       " l2tp hostname RT1\n l2tp syslog maybe\n l2tp always-on on\n");
	assert_int_equal(r.parse_r, -EINVAL);
	assert_int_equal(r.d.n_errors, 3);
	assert_int_equal(r.d.v[0].line, 1);
	assert_int_equal(r.d.v[1].line, 3);
	assert_int_equal(r.d.v[2].line, 5);
	assert_string_equal(r.c->tunnels[0].hostname, "RT1");
	assert_true(r.c->tunnels[0].always_on);
	assert_int_equal(r.c->tunnels[0].keepalive_interval, 60); /* bad line ignored */
	run_free(&r);
}

static void test_diagnostics_capped_errors_counted(void **state)
{
	size_t n = CFG_DIAGS_MAX + 500;
	char *text = malloc(n * 4);
	struct run r;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + 4 * i, "bad\n", 4);
	run_text(&r, text, n * 4, false);
	assert_int_equal(r.parse_r, -EINVAL);
	assert_int_equal(r.d.n, CFG_DIAGS_MAX);
	assert_int_equal(r.d.n_errors, n);
	assert_int_equal(r.d.v[CFG_DIAGS_MAX - 1].level, CFG_DIAG_NOTICE);
	assert_non_null(strstr(r.d.v[CFG_DIAGS_MAX - 1].msg, "not shown"));
	run_free(&r);
	free(text);
}

/* ------------------------------------------------------------------ */
/* One test per error: the input and the one diagnostic it gives        */
/* ------------------------------------------------------------------ */

static void check_error(const char *text, const char *expect)
{
	struct run r;

	parse_only(&r, text);
	assert_int_equal(r.parse_r, -EINVAL);
	assert_int_equal(r.d.n_errors, 1);
	assert_only_diag(&r.d, expect);
	run_free(&r);
}

#define T1 "tunnel select 1\n"
#define ERROR_TEST(name, text, expect)                  \
	static void test_error_##name(void **state)     \
	{                                               \
		(void)state;                            \
		check_error(text, expect);              \
	}

ERROR_TEST(unknown_command, "tunnel select 1\n frobnicate the  widget  # c\n",
	   "t.conf:2: error: 'frobnicate the widget': unknown command")
ERROR_TEST(unknown_l2tp_command, T1 " l2tp tunnel disconnect 5\n",
	   "t.conf:2: error: 'l2tp tunnel disconnect 5': unknown command")
ERROR_TEST(control_character, "tunnel\x01 select 1\n",
	   "t.conf:1: error: 'tunnel\\x01 select 1': control character 0x01: line ignored")
ERROR_TEST(non_ascii_outside_comment, T1 " l2tp hostname RT1 ホスト名\n",
	   "t.conf:2: error: 'l2tp hostname RT1 ホスト名': non-ASCII text outside a comment "
	   "(a comment starts with '#' after a space): line ignored")
ERROR_TEST(pseudowire_one, T1 " l2tp pseudowire 1 remote end-id x\n",
	   "t.conf:2: error: 'l2tp pseudowire 1 remote end-id x': pseudowire 1 is the tunnel's own: set its "
	   "end-id with 'l2tp remote end-id NAME'")
ERROR_TEST(pseudowire_number, T1 " l2tp pseudowire 9 remote end-id x\n",
	   "t.conf:2: error: 'l2tp pseudowire 9 remote end-id x': bad pseudowire number '9': expected 2..8")
ERROR_TEST(pseudowire_words, T1 " l2tp pseudowire 2 end-id x\n",
	   "t.conf:2: error: 'l2tp pseudowire 2 end-id x': expected 'l2tp pseudowire 2..8 remote end-id NAME' or "
	   "'l2tp pseudowire 1..8 vlan VID|none'")
ERROR_TEST(pseudowire_vlan, T1 " l2tp pseudowire 2 vlan 4095\n",
	   "t.conf:2: error: 'l2tp pseudowire 2 vlan 4095': bad VLAN ID '4095': expected 1..4094 or none")
ERROR_TEST(pseudowire_port, "bridge member bridge1 tunnel1-1\n",
	   "t.conf:1: error: 'bridge member bridge1 tunnel1-1': 'tunnel1-1' is not a tunnel port: after "
	   "tunnel1- comes a pseudowire number 2..8 (pseudowire 1 is tunnel1)")
ERROR_TEST(wrong_argument_count, T1 " l2tp hostname\n",
	   "t.conf:2: error: 'l2tp hostname': expected 'l2tp hostname NAME'")
ERROR_TEST(too_many_arguments, T1 " l2tp hostname RT 1\n",
	   "t.conf:2: error: 'l2tp hostname RT 1': expected 'l2tp hostname NAME'")
ERROR_TEST(tunnel_line_without_select, "l2tp always-on on\n",
	   "t.conf:1: error: 'l2tp always-on on': only valid after 'tunnel select N': ignored")
ERROR_TEST(tunnel_select_zero, "tunnel select 0\n l2tp hostname skipped\n",
	   "t.conf:1: error: 'tunnel select 0': tunnel number must be 1..4096 or none: the "
	   "lines up to the next 'tunnel select' are skipped")
ERROR_TEST(tunnel_select_not_a_number, "tunnel select one\n",
	   "t.conf:1: error: 'tunnel select one': tunnel number must be 1..4096 or none: the "
	   "lines up to the next 'tunnel select' are skipped")
ERROR_TEST(tunnel_enable_out_of_range, "tunnel enable 4097\n",
	   "t.conf:1: error: 'tunnel enable 4097': tunnel number must be 1..4096")
ERROR_TEST(tunnel_disable_not_a_number, "tunnel disable -1\n",
	   "t.conf:1: error: 'tunnel disable -1': tunnel number must be 1..4096")
ERROR_TEST(encapsulation_over_ipsec, T1 " tunnel encapsulation l2tp\n",
	   "t.conf:2: error: 'tunnel encapsulation l2tp': L2TPv2 over IPsec is not supported: "
	   "l2tpv3d speaks l2tpv3-raw (L2TPv3 over UDP without IPsec), l2tpv3 (L2TPv3/IPsec) and l2tpv3-ip "
	   "(L2TPv3 over IP protocol 115)")
ERROR_TEST(encapsulation_other, T1 " tunnel encapsulation gre\n",
	   "t.conf:2: error: 'tunnel encapsulation gre': this encapsulation is not supported: "
	   "l2tpv3d speaks l2tpv3-raw (L2TPv3 over UDP without IPsec), l2tpv3 (L2TPv3/IPsec) and l2tpv3-ip "
	   "(L2TPv3 over IP protocol 115)")
ERROR_TEST(endpoint_host_name, T1 " tunnel endpoint address vpn.example.com\n",
	   "t.conf:2: error: 'tunnel endpoint address vpn.example.com': remote address "
	   "'vpn.example.com' is not an IPv4 or IPv6 address (host names are not supported)")
ERROR_TEST(endpoint_bad_local, T1 " tunnel endpoint address 192.168.2.300 203.0.113.2\n",
	   "t.conf:2: error: 'tunnel endpoint address 192.168.2.300 203.0.113.2': local "
	   "address '192.168.2.300' is not an IPv4 or IPv6 address")
ERROR_TEST(endpoint_mixed_families, T1 " tunnel endpoint address 192.168.2.10 2001:db8::1\n",
	   "t.conf:2: error: 'tunnel endpoint address 192.168.2.10 2001:db8::1': local "
	   "'192.168.2.10' and remote '2001:db8::1' must both be IPv4 or both IPv6")
ERROR_TEST(endpoint_multicast_remote, T1 " tunnel endpoint address 224.0.0.1\n",
	   "t.conf:2: error: 'tunnel endpoint address 224.0.0.1': remote address '224.0.0.1' "
	   "cannot be a tunnel endpoint")
ERROR_TEST(endpoint_unspecified_local, T1 " tunnel endpoint address :: 2001:db8::1\n",
	   "t.conf:2: error: 'tunnel endpoint address :: 2001:db8::1': local address '::' "
	   "cannot be a tunnel endpoint")
ERROR_TEST(on_off_expected, T1 " l2tp syslog yes\n",
	   "t.conf:2: error: 'l2tp syslog yes': expected on or off, not 'yes'")
ERROR_TEST(always_on_bad, T1 " l2tp always-on 1\n",
	   "t.conf:2: error: 'l2tp always-on 1': expected on or off, not '1'")
ERROR_TEST(keepalive_log_bad, T1 " l2tp keepalive log verbose\n",
	   "t.conf:2: error: 'l2tp keepalive log verbose': expected on or off, not 'verbose'")
ERROR_TEST(auth_on_without_secret, T1 " l2tp tunnel auth on # the secret was lost\n",
	   "t.conf:2: error: 'l2tp tunnel auth on': a secret is required: expected 'l2tp tunnel "
	   "auth on SECRET'")
ERROR_TEST(auth_secret_with_space, T1 " l2tp tunnel auth on two words\n",
	   "t.conf:2: error: 'l2tp tunnel auth on two words': expected 'l2tp tunnel auth on "
	   "SECRET|off'")
ERROR_TEST(auth_off_with_secret, T1 " l2tp tunnel auth off yamaha\n",
	   "t.conf:2: error: 'l2tp tunnel auth off yamaha': expected 'l2tp tunnel auth off' "
	   "with nothing after it")
ERROR_TEST(auth_bad_keyword, T1 " l2tp tunnel auth yes yamaha\n",
	   "t.conf:2: error: 'l2tp tunnel auth yes yamaha': expected 'on SECRET' or 'off', not "
	   "'yes'")
ERROR_TEST(auth_method_unknown, T1 " l2tp tunnel auth method chap\n",
	   "t.conf:2: error: 'l2tp tunnel auth method chap': expected digest-md5, digest-sha1 or "
	   "challenge, not 'chap'")
ERROR_TEST(auth_method_missing, T1 " l2tp tunnel auth method\n",
	   "t.conf:2: error: 'l2tp tunnel auth method': expected 'l2tp tunnel auth method "
	   "digest-md5|digest-sha1|challenge'")
ERROR_TEST(disconnect_time_zero, T1 " l2tp tunnel disconnect time 0\n",
	   "t.conf:2: error: 'l2tp tunnel disconnect time 0': expected off or 1..21474836 "
	   "seconds")
ERROR_TEST(keepalive_interval_zero, T1 " l2tp keepalive use on 0 3\n",
	   "t.conf:2: error: 'l2tp keepalive use on 0 3': interval must be 1..3600 seconds")
ERROR_TEST(keepalive_interval_too_big, T1 " l2tp keepalive use on 3601\n",
	   "t.conf:2: error: 'l2tp keepalive use on 3601': interval must be 1..3600 seconds")
ERROR_TEST(keepalive_count_too_big, T1 " l2tp keepalive use on 60 101\n",
	   "t.conf:2: error: 'l2tp keepalive use on 60 101': count must be 1..100")
ERROR_TEST(keepalive_off_with_values, T1 " l2tp keepalive use off 60\n",
	   "t.conf:2: error: 'l2tp keepalive use off 60': expected 'l2tp keepalive use off' "
	   "with nothing after it")
ERROR_TEST(keepalive_bad_keyword, T1 " l2tp keepalive use 60 3\n",
	   "t.conf:2: error: 'l2tp keepalive use 60 3': expected on [INTERVAL [COUNT]] or off, "
	   "not '60'")
ERROR_TEST(router_id_not_an_address, T1 " l2tp local router-id 3232236042\n",
	   "t.conf:2: error: 'l2tp local router-id 3232236042': expected a router id written as "
	   "an IPv4 address A.B.C.D")
ERROR_TEST(router_id_zero, T1 " l2tp remote router-id 0.0.0.0\n",
	   "t.conf:2: error: 'l2tp remote router-id 0.0.0.0': the router id must not be 0.0.0.0")
ERROR_TEST(mss_out_of_range, T1 " ip tunnel tcp mss limit 1500\n",
	   "t.conf:2: error: 'ip tunnel tcp mss limit 1500': expected auto, off or an MSS of "
	   "536..1460 bytes")
ERROR_TEST(service_bad_keyword, "l2tp service yes\n",
	   "t.conf:1: error: 'l2tp service yes': expected on [l2tpv3] or off, not 'yes'")
ERROR_TEST(service_unknown_protocol, "l2tp service on pptp\n",
	   "t.conf:1: error: 'l2tp service on pptp': unknown protocol 'pptp': expected l2tpv3")
ERROR_TEST(service_l2tpv2_only, "l2tp service on l2tp\n",
	   "t.conf:1: error: 'l2tp service on l2tp': L2TPv2 ('l2tp') is not supported: l2tpv3d "
	   "serves L2TPv3 only")
ERROR_TEST(service_off_with_protocol, "l2tp service off l2tpv3\n",
	   "t.conf:1: error: 'l2tp service off l2tpv3': expected 'l2tp service off' with nothing "
	   "after it")
ERROR_TEST(bridge_without_members, "bridge member bridge1\n",
	   "t.conf:1: error: 'bridge member bridge1': expected 'bridge member BRIDGE "
	   "INTERFACE...'")
ERROR_TEST(bridge_name_too_long, "bridge member bridge_with_a_long_name lan1\n",
	   "t.conf:1: error: 'bridge member bridge_with_a_long_name lan1': "
	   "'bridge_with_a_long_name' is not a valid interface name (1..15 bytes, no '/' or ':')")
ERROR_TEST(bridge_named_like_tunnel, "bridge member tunnel2 lan1\n",
	   "t.conf:1: error: 'bridge member tunnel2 lan1': a bridge cannot be named 'tunnel2' "
	   "like a tunnel port")
ERROR_TEST(bridge_member_bad_name, "bridge member br0 lan1 eth0:1\n",
	   "t.conf:1: error: 'bridge member br0 lan1 eth0:1': 'eth0:1' is not a valid interface "
	   "name (1..15 bytes, no '/' or ':')")
ERROR_TEST(bridge_member_tunnel_zero, "bridge member br0 tunnel01\n",
	   "t.conf:1: error: 'bridge member br0 tunnel01': 'tunnel01' is not a tunnel port: "
	   "tunnel numbers are 1..4096 without leading zeros")
ERROR_TEST(bridge_member_itself, "bridge member br0 lan1 br0\n",
	   "t.conf:1: error: 'bridge member br0 lan1 br0': 'br0' cannot be a member of itself")
ERROR_TEST(bridge_member_twice, "bridge member br0 lan1 tunnel1 lan1\n",
	   "t.conf:1: error: 'bridge member br0 lan1 tunnel1 lan1': 'lan1' is listed twice")
ERROR_TEST(ip_address_no_prefix, "ip bridge1 address 192.168.2.10\n",
	   "t.conf:1: error: 'ip bridge1 address 192.168.2.10': expected A.B.C.D/LEN with LEN "
	   "1..32, not '192.168.2.10'")
ERROR_TEST(ip_address_bad_prefix, "ip bridge1 address 192.168.2.10/33\n",
	   "t.conf:1: error: 'ip bridge1 address 192.168.2.10/33': expected A.B.C.D/LEN with "
	   "LEN 1..32, not '192.168.2.10/33'")
ERROR_TEST(ip_address_bad_address, "ip bridge1 address 192.168.2/24\n",
	   "t.conf:1: error: 'ip bridge1 address 192.168.2/24': '192.168.2' is not an IPv4 "
	   "address")
ERROR_TEST(ip_address_broadcast, "ip bridge1 address 255.255.255.255/32\n",
	   "t.conf:1: error: 'ip bridge1 address 255.255.255.255/32': '255.255.255.255' cannot "
	   "be an interface address")
ERROR_TEST(ip_address_on_tunnel, T1 " ip tunnel address 10.0.0.1/30\n",
	   "t.conf:2: error: 'ip tunnel address 10.0.0.1/30': an address on a tunnel interface "
	   "is not supported: put it on the bridge the tunnel is a member of")
ERROR_TEST(ip_address_bad_ifname, "ip a/b address 10.0.0.1/30\n",
	   "t.conf:1: error: 'ip a/b address 10.0.0.1/30': 'a/b' is not a valid interface name "
	   "(1..15 bytes, no '/' or ':')")

/* A value of len bytes after `words`: the line is quoted cut at 160 bytes */
static void check_too_long(const char *words, size_t len, const char *why)
{
	char *text = malloc(strlen(words) + len + 32);
	char *expect = malloc(strlen(words) + len + 256);
	char quoted[161];
	size_t o;

	assert_non_null(text);
	assert_non_null(expect);
	o = (size_t)sprintf(text, "tunnel select 1\n %s ", words);
	memset(text + o, 'x', len);
	strcpy(text + o + len, "\n");
	snprintf(quoted, sizeof(quoted), "%s", text + strlen("tunnel select 1\n "));
	sprintf(expect, "t.conf:2: error: '%s...': %s", quoted, why);
	check_error(text, expect);
	free(text);
	free(expect);
}

static void test_error_hostname_too_long(void **state)
{
	(void)state;
	check_too_long("l2tp hostname", 256, "the host name is 256 bytes long, more than 255");
}

static void test_error_end_id_too_long(void **state)
{
	(void)state;
	check_too_long("l2tp remote end-id", 300, "the end id is 300 bytes long, more than 255");
}

static void test_error_auth_secret_too_long(void **state)
{
	(void)state;
	check_too_long("l2tp tunnel auth on", 256, "the secret is 256 bytes long, more than 255");
}

static void test_error_line_too_long(void **state)
{
	size_t n = CFG_LINE_MAX + 100;
	char *text = malloc(n + 32);
	struct run r;

	(void)state;
	assert_non_null(text);
	memset(text, 'a', n);
	strcpy(text + n, "\ntunnel select 1\n");
	parse_only(&r, text);
	assert_int_equal(r.parse_r, -EINVAL);
	assert_only_diag(&r.d, "t.conf:1: error: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			 "aaaaaaaaaaaaa...': line is 4196 bytes long, more than 4096: ignored");
	assert_int_equal(r.c->n_tunnels, 1); /* the next line still counts */
	run_free(&r);
	free(text);
}

static void test_error_line_of_exactly_max_is_fine(void **state)
{
	char *text = malloc(CFG_LINE_MAX + 2);
	struct run r;

	(void)state;
	assert_non_null(text);
	memset(text, ' ', CFG_LINE_MAX);
	memcpy(text, "tunnel select 1", 15);
	strcpy(text + CFG_LINE_MAX, "\r"); /* the CR is the line end, not the line */
	parse_only(&r, text);
	assert_int_equal(r.d.n, 0);
	run_free(&r);
	free(text);
}

static void test_error_nul_byte(void **state)
{
	static const char text[] = "tunnel select 1\n l2tp hostname R\0T\n";
	struct run r;

	(void)state;
	run_text(&r, text, sizeof(text) - 1, false);
	assert_int_equal(r.parse_r, -EINVAL);
	assert_only_diag(&r.d, "t.conf:2: error: 'l2tp hostname R\\x00T': control character "
			 "0x00: line ignored");
	assert_string_equal(r.c->tunnels[0].hostname, "");
	run_free(&r);
}

static void test_error_too_many_words(void **state)
{
	char text[600];
	struct run r;

	(void)state;
	strcpy(text, "bridge member br0");
	for (int i = 0; i < 130; i++)
		strcat(text, " x");
	parse_only(&r, text);
	assert_int_equal(r.parse_r, -EINVAL);
	assert_int_equal(r.d.n_errors, 1);
	assert_non_null(strstr(r.d.v[0].msg, "': more than 128 words: line ignored"));
	run_free(&r);
}

static void test_error_too_many_bridge_members(void **state)
{
	char text[600];
	struct run r;

	(void)state;
	strcpy(text, "bridge member br0");
	for (int i = 0; i < CFG_MAX_BRIDGE_MEMBERS + 1; i++)
		sprintf(text + strlen(text), " e%d", i);
	parse_only(&r, text);
	assert_int_equal(r.d.n_errors, 1);
	assert_non_null(strstr(r.d.v[0].msg, "': expected 'bridge member BRIDGE INTERFACE...'"));
	assert_int_equal(r.c->n_bridges, 0);
	run_free(&r);
}

static void test_error_bad_select_skips_block_silently(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "tunnel select 1\ntunnel select 99999\n l2tp hostname X\n l2tp syslog on\n"
		       "tunnel select 1\n l2tp hostname Y\n");
	assert_int_equal(r.d.n_errors, 1);
	assert_int_equal(r.d.v[0].line, 2);
	assert_string_equal(r.c->tunnels[0].hostname, "Y");
	assert_false(r.c->tunnels[0].syslog);
	run_free(&r);
}

static void test_warning_service_l2tpv2_ignored(void **state)
{
	struct run r;

	(void)state;
	parse_only(&r, "l2tp service on l2tpv3 l2tp\n");
	assert_int_equal(r.parse_r, 0);
	assert_true(r.c->service_on);
	assert_only_diag(&r.d, "t.conf:1: warning: 'l2tp service on l2tpv3 l2tp': L2TPv2 ('l2tp') "
			 "is not supported: only L2TPv3 is served");
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* Verify                                                              */
/* ------------------------------------------------------------------ */

#define GOOD_TUNNEL(n)                                  \
	"tunnel select " #n "\n"                        \
	" tunnel encapsulation l2tpv3-raw\n"            \
	" tunnel endpoint address 10.0.0." #n " 192.0.2." #n "\n" \
	" l2tp local router-id 10.0.0." #n "\n"       \
	" tunnel enable " #n "\n"

static void check_verify(const char *text, enum cfg_diag_level level, const char *expect)
{
	struct run r;

	parse_verify(&r, text);
	assert_int_equal(r.parse_r, 0);
	assert_int_equal(r.verify_r, level == CFG_DIAG_ERROR ? -EINVAL : 0);
	assert_only_diag(&r.d, expect);
	run_free(&r);
}

static void test_verify_scenario_tunnel_gets_ifname_and_bridge(void **state)
{
	struct run r;

	(void)state;
	parse_verify(&r, "bridge member br5 eth0 tunnel5\nl2tp service on\n" GOOD_TUNNEL(5)
			 " l2tp local router-id 1.1.1.1\n");
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(r.d.n, 0);
	assert_string_equal(r.c->tunnels[0].ifname, "tunnel5");
	assert_string_equal(r.c->tunnels[0].bridge, "br5");
	run_free(&r);
}

static void test_verify_enable_without_select(void **state)
{
	(void)state;
	check_verify("l2tp service on\ntunnel enable 9\n", CFG_DIAG_ERROR,
		     "t.conf:2: error: 'tunnel enable 9': tunnel 9 has no 'tunnel select 9' block");
}

static void test_verify_disable_without_select(void **state)
{
	struct run r;

	(void)state;
	parse_verify(&r, "tunnel disable 9\n");
	assert_int_equal(r.verify_r, 0);
	assert_only_diag(&r.d, "t.conf:1: warning: 'tunnel disable 9': tunnel 9 has no 'tunnel "
			 "select 9' block: line has no effect");
	assert_int_equal(r.c->n_tunnels, 0); /* dropped */
	run_free(&r);
}

static void test_verify_enabled_without_encapsulation(void **state)
{
	(void)state;
	check_verify("l2tp service on\nbridge member b t1 tunnel1\ntunnel select 1\n"
		     " tunnel endpoint address 10.0.0.1 192.0.2.1\n l2tp local router-id 1.1.1.1\n"
		     " tunnel enable 1\n",
		     CFG_DIAG_ERROR,
		     "t.conf:3: error: tunnel 1: enabled without 'tunnel encapsulation "
		     "l2tpv3-raw'");
}

static void test_verify_disabled_tunnel_notice(void **state)
{
	(void)state;
	check_verify("tunnel select 2\n tunnel enable 2\n tunnel disable 2\n", CFG_DIAG_NOTICE,
		     "t.conf:1: notice: tunnel 2: no 'tunnel enable 2': the tunnel stays down");
}

static void test_verify_bridge_member_unknown_tunnel(void **state)
{
	(void)state;
	check_verify("bridge member bridge1 lan1 tunnel2\n", CFG_DIAG_ERROR,
		     "t.conf:1: error: bridge bridge1: member 'tunnel2' names tunnel 2, which "
		     "has no 'tunnel select 2' block");
}

static void test_verify_tunnel_in_two_bridges(void **state)
{
	(void)state;
	check_verify("l2tp service on\nbridge member b1 lan1 tunnel1\nbridge member b2 lan2 "
		     "tunnel1\n" GOOD_TUNNEL(1),
		     CFG_DIAG_ERROR,
		     "t.conf:3: error: bridge b2: 'tunnel1' is already a member of b1 (line 2): a "
		     "port can be in one bridge only");
}

static void test_verify_interface_in_two_bridges(void **state)
{
	(void)state;
	check_verify("bridge member b9 lan1\nbridge member a1 lan1\n", CFG_DIAG_ERROR,
		     "t.conf:2: error: bridge a1: 'lan1' is already a member of b9 (line 1): a "
		     "port can be in one bridge only");
}

static void test_verify_bridge_member_is_bridge(void **state)
{
	(void)state;
	check_verify("bridge member b1 lan1\nbridge member b2 b1\n", CFG_DIAG_ERROR,
		     "t.conf:2: error: bridge b2: member 'b1' is itself a bridge");
}

static void test_verify_tunnel_in_no_bridge(void **state)
{
	(void)state;
	check_verify("l2tp service on\n" GOOD_TUNNEL(1), CFG_DIAG_WARNING,
		     "t.conf:2: warning: tunnel 1: tunnel1 is in no 'bridge member' line: its "
		     "frames reach only the TAP port");
}

static void test_verify_responder_answers_any_peer(void **state)
{
	(void)state;
	check_verify("l2tp service on\nbridge member b lan1 tunnel1\nip b address "
		     "192.168.2.20/24\ntunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
		     " l2tp local router-id 1.1.1.1\n tunnel enable 1\n",
		     CFG_DIAG_WARNING,
		     "t.conf:4: warning: tunnel 1: no 'tunnel endpoint address', 'l2tp tunnel "
		     "auth on' or 'l2tp remote router-id': answers any peer");
}

static void test_verify_responder_with_auth_is_quiet(void **state)
{
	struct run r;

	(void)state;
	parse_verify(&r, "l2tp service on\nbridge member b lan1 tunnel1\ntunnel select 1\n"
			 " tunnel encapsulation l2tpv3-raw\n l2tp tunnel auth on k\n"
			 " l2tp local router-id 9.9.9.9\n tunnel enable 1\n");
	assert_int_equal(r.verify_r, 0);
	assert_int_equal(r.d.n, 0);
	run_free(&r);
}

static void test_verify_responders_same_remote_router_id(void **state)
{
	(void)state;
	check_verify("l2tp service on\nbridge member b lan1 tunnel1 tunnel2\n"
		     "tunnel select 1\n tunnel encapsulation l2tpv3-raw\n"
		     " l2tp local router-id 1.1.1.1\n l2tp remote router-id 2.2.2.2\n"
		     " tunnel enable 1\n"
		     "tunnel select 2\n tunnel encapsulation l2tpv3-raw\n"
		     " l2tp local router-id 1.1.1.1\n l2tp remote router-id 2.2.2.2\n"
		     " tunnel enable 2\n",
		     CFG_DIAG_ERROR,
		     "t.conf:8: error: tunnel 2: 'l2tp remote router-id 2.2.2.2' is also tunnel 1's "
		     "(line 3): without 'tunnel endpoint address' the two cannot be told apart");
}

static void test_verify_local_router_id_from_endpoint(void **state)
{
	struct run r;

	(void)state;
	parse_verify(&r, "l2tp service on\nbridge member b lan1 tunnel1\ntunnel select 1\n"
			 " tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 10.0.0.1 "
			 "192.0.2.1\n tunnel enable 1\n");
	assert_int_equal(r.verify_r, 0);
	assert_only_diag(&r.d, "t.conf:3: notice: tunnel 1: no 'l2tp local router-id': using "
			 "10.0.0.1, the endpoint's local address");
	assert_true(r.c->tunnels[0].has_local_router_id);
	assert_int_equal(r.c->tunnels[0].local_router_id, rid("10.0.0.1"));
	assert_round_trip(r.c, true);
	run_free(&r);
}

static void test_verify_local_router_id_from_bridge(void **state)
{
	struct run r;

	(void)state;
	parse_verify(&r, "l2tp service on\nbridge member bridge1 lan1 tunnel1\n"
			 "ip bridge1 address 192.168.2.20/24\ntunnel select 1\n"
			 " tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 203.0.113.2\n"
			 " tunnel enable 1\n");
	assert_int_equal(r.verify_r, 0);
	assert_only_diag(&r.d, "t.conf:4: notice: tunnel 1: no 'l2tp local router-id': using "
			 "192.168.2.20, the address of bridge1");
	assert_int_equal(r.c->tunnels[0].local_router_id, 3232236052u);
	run_free(&r);
}

static void test_verify_local_router_id_missing(void **state)
{
	(void)state;
	check_verify("l2tp service on\nbridge member bridge1 lan1 tunnel1\ntunnel select 1\n"
		     " tunnel encapsulation l2tpv3-raw\n"
		     " tunnel endpoint address 2001:db8::1 2001:db8::2\n tunnel enable 1\n",
		     CFG_DIAG_WARNING,
		     "t.conf:3: warning: tunnel 1: no 'l2tp local router-id' and no IPv4 address "
		     "to take it from (endpoint local address, bridge address): Router ID 0 is "
		     "sent");
}

static void test_verify_service_off(void **state)
{
	(void)state;
	check_verify("bridge member b lan1 tunnel1\n" GOOD_TUNNEL(1),
		     CFG_DIAG_WARNING, "t.conf: warning: no 'l2tp service on': no tunnel comes up");
}

static void test_verify_twice_is_stable(void **state)
{
	struct run r;
	size_t n;

	(void)state;
	parse_verify(&r, "l2tp service on\nbridge member b lan1 tunnel1\ntunnel select 1\n"
			 " tunnel encapsulation l2tpv3-raw\n tunnel endpoint address 10.0.0.1 "
			 "192.0.2.1\n tunnel enable 1\ntunnel disable 4\n");
	n = r.d.n;
	assert_int_equal(n, 2);
	assert_int_equal(cfg_verify(r.c, "t.conf", &r.d), 0);
	assert_int_equal(r.d.n, n); /* defaults were filled in, phantom dropped */
	assert_string_equal(r.c->tunnels[0].bridge, "b");
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

static void test_load_missing_file(void **state)
{
	struct cfg_diags d = { 0 };
	struct cfg marker;
	struct cfg *c = &marker;

	(void)state;
	assert_int_equal(cfg_load_file("tests/config/no-such-file.conf", &c, &d), -ENOENT);
	assert_ptr_equal(c, &marker); /* untouched */
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.v[0].msg, "cannot open: No such file or directory");
	assert_int_equal(d.v[0].line, 0);
	cfg_diags_free(&d);
}

static void test_load_file_too_large(void **state)
{
	char path[] = "/tmp/l2tpv3d-test-config-XXXXXX";
	struct cfg_diags d = { 0 };
	struct cfg *c = NULL;
	char *buf = malloc(CFG_FILE_MAX + 1);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(buf);
	memset(buf, '\n', CFG_FILE_MAX + 1);
	assert_int_equal(write(fd, buf, CFG_FILE_MAX + 1), CFG_FILE_MAX + 1);
	close(fd);
	assert_int_equal(cfg_load_file(path, &c, &d), -EFBIG);
	assert_null(c);
	assert_string_equal(d.v[0].msg, "larger than 1048576 bytes: not read");
	cfg_diags_free(&d);

	/* exactly the limit is fine */
	assert_int_equal(truncate(path, CFG_FILE_MAX), 0);
	assert_int_equal(cfg_load_file(path, &c, &d), 0);
	assert_int_equal(d.n, 0);
	cfg_free(c);
	cfg_diags_free(&d);
	unlink(path);
	free(buf);
}

static void test_load_with_errors_returns_einval(void **state)
{
	struct cfg_diags d = { 0 };
	struct cfg *c = NULL;

	(void)state;
	assert_int_equal(cfg_load_file(GOLDEN_DIR "/bad-syntax.conf", &c, &d), -EINVAL);
	assert_null(c);
	assert_true(d.n_errors > 5);
	cfg_diags_free(&d);
}

static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	*ret_len = (size_t)len;
	return buf;
}

static void write_all(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compare (or with UPDATE_GOLDEN=1 rewrite) path's golden file */
static bool golden_check(const char *path, const char *got, bool update)
{
	size_t len;
	char *want;
	bool same;

	if (update) {
		write_all(path, got);
		return true;
	}
	want = read_all(path, &len);
	if (!want) {
		fprintf(stderr, "%s: missing; run with UPDATE_GOLDEN=1\n", path);
		return false;
	}
	same = strcmp(want, got) == 0;
	if (!same)
		fprintf(stderr, "%s differs; got:\n%s", path, got);
	free(want);
	return same;
}

static void test_golden_files(void **state)
{
	const char *env = getenv("UPDATE_GOLDEN");
	bool update = env && !strcmp(env, "1");
	char *names[256];
	size_t n = 0, failures = 0;
	struct dirent *de;
	DIR *dir;

	(void)state;
	dir = opendir(GOLDEN_DIR);
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (len > 5 && !strcmp(de->d_name + len - 5, ".conf") && n < 256)
			names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), name_cmp);
	assert_true(n >= 8);
	for (size_t i = 0; i < n; i++) {
		char path[512], out[512];
		size_t len, stem = strlen(names[i]) - 5;
		char *text, *printed, *diags;
		struct cfg_diags d = { 0 };
		struct cfg *c = cfg_new();

		snprintf(path, sizeof(path), GOLDEN_DIR "/%s", names[i]);
		text = read_all(path, &len);
		assert_non_null(text);
		assert_non_null(c);
		(void)cfg_parse_buffer(c, path, text, len, &d);
		(void)cfg_verify(c, path, &d);
		printed = print_text(c);
		diags = diags_text(&d);
		snprintf(out, sizeof(out), GOLDEN_DIR "/%.*s.ok", (int)stem, names[i]);
		failures += !golden_check(out, printed, update);
		snprintf(out, sizeof(out), GOLDEN_DIR "/%.*s.diag", (int)stem, names[i]);
		failures += !golden_check(out, diags, update);
		/* bad ones or good: what print gives reparses to the same */
		assert_round_trip(c, true);
		free(printed);
		free(diags);
		free(text);
		cfg_free(c);
		cfg_diags_free(&d);
		free(names[i]);
	}
	assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------ */
/* Pseudo-random input                                                 */
/* ------------------------------------------------------------------ */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fuzz_one(const char *buf, size_t len)
{
	struct run r;
	char *printed;

	run_text(&r, buf, len, false);
	assert_true(r.parse_r == 0 || r.parse_r == -EINVAL);
	assert_int_equal(r.parse_r == -EINVAL, r.d.n_errors > 0);
	for (size_t i = 0; i < r.d.n; i++) {
		char line[1024];

		assert_non_null(memchr(r.d.v[i].msg, '\0', sizeof(r.d.v[i].msg)));
		cfg_diag_format(&r.d.v[i], line, sizeof(line));
		for (const char *p = line; *p; p++) /* nothing to upset a terminal or log */
			assert_false((unsigned char)*p < 0x20 || *p == 0x7f);
	}
	/* whatever parsed prints as text that parses back to the same */
	assert_round_trip(r.c, false);
	(void)cfg_verify(r.c, "t.conf", &r.d);
	assert_round_trip(r.c, true);
	printed = print_text(r.c);
	free(printed);
	run_free(&r);
}

static void test_fuzz_random_bytes(void **state)
{
	uint64_t s = 0x5eed1e55c0ffee01ull;
	char buf[2048];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t len = xorshift(&s) % sizeof(buf);

		for (size_t j = 0; j < len; j++) {
			uint64_t v = xorshift(&s);

			/* bias toward line ends, spaces and '#' so lines stay short */
			switch (v % 16) {
			case 0: buf[j] = '\n'; break;
			case 1: buf[j] = ' '; break;
			case 2: buf[j] = '#'; break;
			default: buf[j] = (char)(v >> 8); break;
			}
		}
		fuzz_one(buf, len);
	}
}

static void test_fuzz_keyword_soup(void **state)
{
	static const char *const words[] = {
		"tunnel", "select", "enable", "disable", "none", "1", "2", "3", "4096", "4097", "0",
		"encapsulation", "l2tpv3-raw", "l2tpv3", "endpoint", "address", "192.168.2.10",
		"203.0.113.2", "2001:db8::1", "::", "l2tp", "always-on", "on", "off", "hostname",
		"RT1", "auth", "yamaha", "ab#c", "disconnect", "time", "60", "keepalive", "use",
		"log", "syslog", "local", "remote", "router-id", "end-id", "ip", "tcp", "mss",
		"limit", "auto", "1400", "bridge", "member", "bridge1", "lan1", "tunnel1",
		"tunnel2", "tunnel01", "service", "192.168.2.20/24", "nat", "descriptor", "dhcp",
		"lan2", "#", "# コメント", "\xe3\x80\x80", "\r", "\t", "\n", "\n", "\n", "\n",
		"\ntunnel select 1\n", "\n l2tp tunnel auth on s#1\n", "\ntunnel enable 1\n",
		"\nbridge member bridge1 lan1 tunnel1\n", "\ntunnel select 2\n",
		"\n tunnel encapsulation l2tpv3-raw\n", "\n l2tp keepalive use on 10 5\n",
		"\nip bridge1 address 10.0.0.1/8\n", "\n tunnel endpoint address 10.0.0.2\n",
	};
	uint64_t s = 0x0123456789abcdefull;
	char buf[4096];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t len = 0, n = xorshift(&s) % 200;

		for (size_t j = 0; j < n; j++) {
			const char *w = words[xorshift(&s) % (sizeof(words) / sizeof(words[0]))];
			size_t wl = strlen(w);

			if (len + wl + 1 >= sizeof(buf))
				break;
			memcpy(buf + len, w, wl);
			len += wl;
			buf[len++] = xorshift(&s) % 4 ? ' ' : '\n';
		}
		fuzz_one(buf, len);
	}
}

/* ---- reload equality: from the field lists (cfg_tunnel_fields) ---- */

/* A tunnel whose every guard is on (so every guarded field is compared),
 * with IPv4 addresses and one pseudowire beside the tunnel's own. */
static void equality_base(struct cfg_tunnel *t)
{
	struct sockaddr_in *l = (struct sockaddr_in *)&t->local, *r = (struct sockaddr_in *)&t->remote;

	memset(t, 0, sizeof(*t));
	t->id = 1;
	t->has_endpoint = t->has_local_address = t->auth = t->dp.has_cookie_value = true;
	l->sin_family = r->sin_family = AF_INET;
	l->sin_port = r->sin_port = htons(1701);
	l->sin_addr.s_addr = htonl(0xc0a8020a);
	r->sin_addr.s_addr = htonl(0xc0a80214);
	t->n_pws = 1;
	t->pws[0].num = 2;
	t->ipsec.on = t->ipsec.gw.has_local_address = t->ipsec.gw.has_remote_address = true;
	t->ipsec.gw.local_address.ss_family = t->ipsec.gw.remote_address.ss_family = AF_INET;
}

/* Change field f of the struct at base, as its comparison sees it. */
static void equality_change(void *base, const struct cfg_field *f)
{
	unsigned char *p = (unsigned char *)base + f->offset;

	switch (f->eq) {
	case CFG_EQ_STR:
		p[0] = p[0] == 'x' ? 'y' : 'x';
		break;
	case CFG_EQ_ADDR:
		((struct sockaddr_in *)(void *)p)->sin_port ^= htons(1);
		break;
	default: /* numbers and flags (0 <-> 1), byte arrays, fields not compared */
		p[0] ^= 1;
		break;
	}
}

/* Every listed field of one struct, at offset `at` in a cfg_tunnel: a
 * change is seen by cfg_tunnel_equal unless the list says NONE; a guarded
 * field is not compared while its guard is off.  Returns the count. */
static size_t equality_check(const struct cfg_fields *fs, size_t at)
{
	size_t seen = 0;

	for (size_t i = 0; i < fs->n; i++) {
		const struct cfg_field *f = &fs->v[i];
		struct cfg_tunnel a, b;

		if (f->eq == CFG_EQ_STRUCT) {
			seen += equality_check(f->sub, at + f->offset);
			continue;
		}
		if (f->eq == CFG_EQ_PWS) {
			seen += equality_check(&cfg_pw_fields, at + f->offset);
			continue;
		}
		/* the only fields a reload may ignore: line numbers, the has_*
		 * flags that tell an explicit line from a preset, and hub_hold
		 * (read at each closing, so a reload applies it live) */
		if (f->eq == CFG_EQ_NONE && strcmp(f->name, "line") && strcmp(f->name, "enable_line") &&
		    strcmp(f->name, "has_local_port") && strcmp(f->name, "has_remote_port") &&
		    strcmp(f->name, "has_cookie_len") && strcmp(f->name, "has_l2ss") &&
		    strcmp(f->name, "has_data_seq") && strcmp(f->name, "has_pw_type") &&
		    strcmp(f->name, "hub_hold") && strcmp(f->name, "tunnel_line") && strcmp(f->name, "keepalive_line"))
			fail_msg("field %s is not compared by a reload", f->name);
		equality_base(&a);
		b = a;
		equality_change((unsigned char *)&b + at, f);
		if (cfg_tunnel_equal(&a, &b) != (f->eq == CFG_EQ_NONE))
			fail_msg("field %s (at %zu): a change %s", f->name, at + f->offset,
				 f->eq == CFG_EQ_NONE ? "counts although it is not compared" : "is not detected");
		if (f->guard != CFG_FIELD_ALWAYS) {
			*(bool *)((unsigned char *)&a + at + f->guard) = false;
			*(bool *)((unsigned char *)&b + at + f->guard) = false;
			if (!cfg_tunnel_equal(&a, &b))
				fail_msg("field %s: compared although its guard is off", f->name);
		}
		seen++;
	}
	return seen;
}

static void test_tunnel_equal_every_field(void **state)
{
	struct cfg_tunnel a, b;
	size_t n;

	(void)state;
	equality_base(&a);
	b = a;
	assert_true(cfg_tunnel_equal(&a, &b));
	n = equality_check(&cfg_tunnel_fields, 0);
	/* 46 fields of cfg_tunnel (three of them structs), 16 of cfg_dataplane, 6 of cfg_pw,
	 * 13 of cfg_ipsec (one a struct), 26 of cfg_ipsec_gw */
	assert_int_equal(n, 43 + 16 + 6 + 12 + 26);
	/* only the pseudowires in use count */
	b.pws[1].vlan = 7;
	assert_true(cfg_tunnel_equal(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_router1_as_pasted),
		cmocka_unit_test(test_seed_router2_as_pasted),
		cmocka_unit_test(test_scenario_router1_english),
		cmocka_unit_test(test_scenario_router2_english),
		cmocka_unit_test(test_seed_notice_texts),

		cmocka_unit_test(test_hash_inside_secret_is_kept),
		cmocka_unit_test(test_hash_at_line_start_after_space_and_tab),
		cmocka_unit_test(test_utf8_comments_and_wide_spaces),
		cmocka_unit_test(test_crlf_line_ends),
		cmocka_unit_test(test_indent_and_blank_lines_insignificant),
		cmocka_unit_test(test_byte_order_mark_skipped),
		cmocka_unit_test(test_keywords_case_insensitive),
		cmocka_unit_test(test_empty_buffer),
		cmocka_unit_test(test_buffer_not_nul_terminated),
		cmocka_unit_test(test_tunnel_defaults),
		cmocka_unit_test(test_values_of_every_form),
		cmocka_unit_test(test_auth_method),
		cmocka_unit_test(test_hub),
		cmocka_unit_test(test_pseudowires),
		cmocka_unit_test(test_error_pseudowire_one),
		cmocka_unit_test(test_error_pseudowire_number),
		cmocka_unit_test(test_error_pseudowire_words),
		cmocka_unit_test(test_error_pseudowire_vlan),
		cmocka_unit_test(test_error_pseudowire_port),
		cmocka_unit_test(test_ipv6_endpoint_with_local),
		cmocka_unit_test(test_encap_ip),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_dataplane_realtime),
		cmocka_unit_test(test_dataplane_threads),
		cmocka_unit_test(test_dataplane_busy_poll),
		cmocka_unit_test(test_dataplane_fastpath),
		cmocka_unit_test(test_tunnel_equal),
		cmocka_unit_test(test_dataplane_defaults),
		cmocka_unit_test(test_dataplane_lines),
		cmocka_unit_test(test_compatibility_presets),
		cmocka_unit_test(test_compatibility_override_order),
		cmocka_unit_test(test_dataplane_line_errors),
		cmocka_unit_test(test_dataplane_verify),
		cmocka_unit_test(test_later_lines_replace),
		cmocka_unit_test(test_tunnels_sorted_by_id),
		cmocka_unit_test(test_tunnel_select_none_closes_block),
		cmocka_unit_test(test_global_lines_inside_tunnel_block),
		cmocka_unit_test(test_router_only_lines_one_notice_each),
		cmocka_unit_test(test_diag_format),
		cmocka_unit_test(test_errors_do_not_stop_parsing),
		cmocka_unit_test(test_diagnostics_capped_errors_counted),

		cmocka_unit_test(test_error_unknown_command),
		cmocka_unit_test(test_error_unknown_l2tp_command),
		cmocka_unit_test(test_error_control_character),
		cmocka_unit_test(test_error_nul_byte),
		cmocka_unit_test(test_error_non_ascii_outside_comment),
		cmocka_unit_test(test_error_line_too_long),
		cmocka_unit_test(test_error_line_of_exactly_max_is_fine),
		cmocka_unit_test(test_error_too_many_words),
		cmocka_unit_test(test_error_wrong_argument_count),
		cmocka_unit_test(test_error_too_many_arguments),
		cmocka_unit_test(test_error_tunnel_line_without_select),
		cmocka_unit_test(test_error_tunnel_select_zero),
		cmocka_unit_test(test_error_tunnel_select_not_a_number),
		cmocka_unit_test(test_error_bad_select_skips_block_silently),
		cmocka_unit_test(test_error_tunnel_enable_out_of_range),
		cmocka_unit_test(test_error_tunnel_disable_not_a_number),
		cmocka_unit_test(test_error_encapsulation_over_ipsec),
		cmocka_unit_test(test_error_encapsulation_other),
		cmocka_unit_test(test_error_endpoint_host_name),
		cmocka_unit_test(test_error_endpoint_bad_local),
		cmocka_unit_test(test_error_endpoint_mixed_families),
		cmocka_unit_test(test_error_endpoint_multicast_remote),
		cmocka_unit_test(test_error_endpoint_unspecified_local),
		cmocka_unit_test(test_error_on_off_expected),
		cmocka_unit_test(test_error_always_on_bad),
		cmocka_unit_test(test_error_keepalive_log_bad),
		cmocka_unit_test(test_error_hostname_too_long),
		cmocka_unit_test(test_error_end_id_too_long),
		cmocka_unit_test(test_error_auth_on_without_secret),
		cmocka_unit_test(test_error_auth_secret_with_space),
		cmocka_unit_test(test_error_auth_off_with_secret),
		cmocka_unit_test(test_error_auth_bad_keyword),
		cmocka_unit_test(test_error_auth_method_unknown),
		cmocka_unit_test(test_error_auth_method_missing),
		cmocka_unit_test(test_error_auth_secret_too_long),
		cmocka_unit_test(test_error_disconnect_time_zero),
		cmocka_unit_test(test_error_keepalive_interval_zero),
		cmocka_unit_test(test_error_keepalive_interval_too_big),
		cmocka_unit_test(test_error_keepalive_count_too_big),
		cmocka_unit_test(test_error_keepalive_off_with_values),
		cmocka_unit_test(test_error_keepalive_bad_keyword),
		cmocka_unit_test(test_error_router_id_not_an_address),
		cmocka_unit_test(test_error_router_id_zero),
		cmocka_unit_test(test_error_mss_out_of_range),
		cmocka_unit_test(test_error_service_bad_keyword),
		cmocka_unit_test(test_error_service_unknown_protocol),
		cmocka_unit_test(test_error_service_l2tpv2_only),
		cmocka_unit_test(test_error_service_off_with_protocol),
		cmocka_unit_test(test_warning_service_l2tpv2_ignored),
		cmocka_unit_test(test_error_bridge_without_members),
		cmocka_unit_test(test_error_bridge_name_too_long),
		cmocka_unit_test(test_error_bridge_named_like_tunnel),
		cmocka_unit_test(test_error_bridge_member_bad_name),
		cmocka_unit_test(test_error_bridge_member_tunnel_zero),
		cmocka_unit_test(test_error_bridge_member_itself),
		cmocka_unit_test(test_error_bridge_member_twice),
		cmocka_unit_test(test_error_too_many_bridge_members),
		cmocka_unit_test(test_error_ip_address_no_prefix),
		cmocka_unit_test(test_error_ip_address_bad_prefix),
		cmocka_unit_test(test_error_ip_address_bad_address),
		cmocka_unit_test(test_error_ip_address_broadcast),
		cmocka_unit_test(test_error_ip_address_on_tunnel),
		cmocka_unit_test(test_error_ip_address_bad_ifname),

		cmocka_unit_test(test_verify_scenario_tunnel_gets_ifname_and_bridge),
		cmocka_unit_test(test_verify_enable_without_select),
		cmocka_unit_test(test_verify_disable_without_select),
		cmocka_unit_test(test_verify_enabled_without_encapsulation),
		cmocka_unit_test(test_verify_disabled_tunnel_notice),
		cmocka_unit_test(test_verify_bridge_member_unknown_tunnel),
		cmocka_unit_test(test_verify_tunnel_in_two_bridges),
		cmocka_unit_test(test_verify_interface_in_two_bridges),
		cmocka_unit_test(test_verify_bridge_member_is_bridge),
		cmocka_unit_test(test_verify_tunnel_in_no_bridge),
		cmocka_unit_test(test_verify_responder_answers_any_peer),
		cmocka_unit_test(test_verify_responder_with_auth_is_quiet),
		cmocka_unit_test(test_verify_responders_same_remote_router_id),
		cmocka_unit_test(test_verify_local_router_id_from_endpoint),
		cmocka_unit_test(test_verify_local_router_id_from_bridge),
		cmocka_unit_test(test_verify_local_router_id_missing),
		cmocka_unit_test(test_verify_service_off),
		cmocka_unit_test(test_verify_twice_is_stable),

		cmocka_unit_test(test_tunnel_equal_every_field),

		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_load_file_too_large),
		cmocka_unit_test(test_load_with_errors_returns_einval),
		cmocka_unit_test(test_static_session),
		cmocka_unit_test(test_static_probe),
		cmocka_unit_test(test_golden_files),

		cmocka_unit_test(test_fuzz_random_bytes),
		cmocka_unit_test(test_fuzz_keyword_soup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
