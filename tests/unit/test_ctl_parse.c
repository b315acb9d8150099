/* SPDX-License-Identifier: MIT */
/*
 * l2tpctl's token-table parser: every command, prefixes, numbers, and the
 * error messages that list the valid words.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/parse.h"

static int parse(const char *line, struct ctl_cmd *cmd, char *err, size_t errlen)
{
	char buf[256], *words[16], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok_r(buf, " ", &save); w && n < 16; w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	return ctl_parse(n, words, cmd, err, errlen);
}

static void ok(const char *line, enum ctl_action a, unsigned tunnel)
{
	struct ctl_cmd cmd;
	char err[512];

	if (parse(line, &cmd, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", line, err);
	assert_int_equal(cmd.action, a);
	if (a == CTL_ACT_TUNNEL_UP || a == CTL_ACT_TUNNEL_DOWN)
		assert_int_equal(cmd.tunnel, tunnel);
}

static void bad(const char *line, const char *want1, const char *want2)
{
	struct ctl_cmd cmd = { CTL_ACT_RELOAD, 77 };
	char err[512];

	assert_int_equal(parse(line, &cmd, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("'%s': message '%s' lacks '%s' / '%s'", line, err, want1, want2 ? want2 : "");
	/* untouched on failure */
	assert_int_equal(cmd.action, CTL_ACT_RELOAD);
	assert_int_equal(cmd.tunnel, 77);
}

static void test_commands(void **state)
{
	(void)state;
	ok("show status l2tp", CTL_ACT_SHOW_STATUS_L2TP, 0);
	ok("sh st l2", CTL_ACT_SHOW_STATUS_L2TP, 0);
	ok("show ipsec sa", CTL_ACT_SHOW_IPSEC_SA, 0);
	ok("show config", CTL_ACT_SHOW_CONFIG, 0);
	ok("show c", CTL_ACT_SHOW_CONFIG, 0);
	ok("tunnel up 1", CTL_ACT_TUNNEL_UP, 1);
	ok("tunnel down 4294967295", CTL_ACT_TUNNEL_DOWN, 4294967295u);
	ok("tun d 12", CTL_ACT_TUNNEL_DOWN, 12);
	ok("clear counters", CTL_ACT_CLEAR_COUNTERS, 0);
	ok("monitor", CTL_ACT_MONITOR, 0);
	ok("reload", CTL_ACT_RELOAD, 0);
	ok("r", CTL_ACT_RELOAD, 0);
	ok("help", CTL_ACT_HELP, 0);
	ok("h", CTL_ACT_HELP, 0);
}

static void test_errors(void **state)
{
	struct ctl_cmd cmd;
	char err[512];

	(void)state;
	bad("frobnicate", "unknown argument 'frobnicate'", "valid words: clear help monitor reload show tunnel");
	bad("show", "incomplete command", "valid words: config ipsec status");
	bad("show status", "incomplete command", "valid words: l2tp");
	bad("show status l2tp extra", "unexpected argument 'extra'", NULL);
	bad("tunnel", "incomplete command", "valid words: down up");
	bad("tunnel up", "incomplete command", "<tunnel number>");
	bad("tunnel up 0", "unknown argument '0'", "<tunnel number>");
	bad("tunnel up -1", "unknown argument '-1'", NULL);
	bad("tunnel up 4294967296", "unknown argument", NULL);
	bad("tunnel up 1x", "unknown argument '1x'", NULL);
	bad("show s l2tp x", "unexpected argument 'x'", NULL);
	assert_int_equal(ctl_parse(0, NULL, &cmd, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "missing command"));
	/* a tiny buffer truncates, never overflows */
	{
		char *w[] = { "nope" };
		char small[8];

		assert_int_equal(ctl_parse(1, w, &cmd, small, sizeof(small)), -EINVAL);
		assert_true(strlen(small) < sizeof(small));
	}
}

static void test_prefix_needs_rest(void **state)
{
	(void)state;
	bad("show status l2tp l", "unexpected", NULL);
	bad("tunnel u", "incomplete command", NULL);
	bad("clear", "incomplete command", "valid words: counters");
}

static void test_action_cmd(void **state)
{
	(void)state;
	assert_string_equal(ctl_action_cmd(CTL_ACT_SHOW_STATUS_L2TP), "show-status");
	assert_string_equal(ctl_action_cmd(CTL_ACT_SHOW_IPSEC_SA), "show-status");
	assert_string_equal(ctl_action_cmd(CTL_ACT_SHOW_CONFIG), "show-config");
	assert_string_equal(ctl_action_cmd(CTL_ACT_TUNNEL_UP), "tunnel-up");
	assert_string_equal(ctl_action_cmd(CTL_ACT_TUNNEL_DOWN), "tunnel-down");
	assert_string_equal(ctl_action_cmd(CTL_ACT_CLEAR_COUNTERS), "clear-counters");
	assert_string_equal(ctl_action_cmd(CTL_ACT_MONITOR), "monitor");
	assert_string_equal(ctl_action_cmd(CTL_ACT_RELOAD), "reload");
	assert_null(ctl_action_cmd(CTL_ACT_NONE));
	assert_null(ctl_action_cmd(CTL_ACT_HELP));
}

/* `l2tpctl help` lists every command once, and each of its lines parses. */
static void test_usage(void **state)
{
	bool seen[CTL_ACT_HELP + 1] = { false };
	size_t n = 0;

	(void)state;
	for (const struct ctl_usage *u = ctl_usage; u->words; u++, n++) {
		struct ctl_cmd cmd;
		char line[128], err[512];

		assert_non_null(u->what);
		assert_true(strlen(u->words) <= 20); /* the column usage() leaves */
		snprintf(line, sizeof(line), "%s", u->words);
		if (strstr(line, " N"))
			strstr(line, " N")[1] = '7';
		if (parse(line, &cmd, err, sizeof(err)) != 0)
			fail_msg("help line '%s': %s", u->words, err);
		assert_false(seen[cmd.action]);
		seen[cmd.action] = true;
	}
	for (int a = CTL_ACT_NONE + 1; a <= CTL_ACT_HELP; a++)
		if (!seen[a])
			fail_msg("action %d has no line in ctl_usage", a);
	assert_int_equal(n, CTL_ACT_HELP);
}

static void test_is_command(void **state)
{
	(void)state;
	assert_true(ctl_parse_is_command("show"));
	assert_true(ctl_parse_is_command("sh"));
	assert_true(ctl_parse_is_command("help"));
	assert_true(ctl_parse_is_command("t"));
	assert_false(ctl_parse_is_command("bogus"));
	assert_false(ctl_parse_is_command(""));
	assert_false(ctl_parse_is_command("1"));
	assert_false(ctl_parse_is_command("showx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_prefix_needs_rest),
		cmocka_unit_test(test_action_cmd),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_is_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
