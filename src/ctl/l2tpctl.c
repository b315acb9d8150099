/* SPDX-License-Identifier: MIT */
/*
 * l2tpctl: talks to l2tpv3d over its control socket.
 *
 * Commands are parsed with token tables (parse.c, bgpctl style): each word
 * must match one entry (a unique prefix is enough); on error the valid
 * words are listed, and an unknown command gets the list of commands
 * (ctl_usage, as `l2tpctl help` prints it).  Output goes through a renderer table: Yamaha text,
 * or JSON with -j.  Exit status: 0 done, 1 the daemon refused or could
 * not be reached, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlproto.h"
#include "ctl/parse.h"
#include "ctl/render.h"

/* The commands, one line each (`l2tpctl help`, -h, a usage error). */
static void usage(FILE *f)
{
	fprintf(f, "Usage: l2tpctl [-S|--socket PATH] [-j|--json] COMMAND\n"
		   "Commands:\n");
	for (const struct ctl_usage *u = ctl_usage; u->words; u++)
		fprintf(f, "  %-20s %s\n", u->words, u->what);
	fprintf(f, "Options:\n"
		   "  -S, --socket PATH    the daemon's control socket (default %s)\n"
		   "  -j, --json           print replies and events as JSON\n"
		   "  -h, --help           this list\n"
		   "Words may be shortened to a unique prefix; see l2tpctl(8).\n",
		CTL_DEFAULT_SOCKET);
}

static bool locale_is_japanese(void)
{
	const char *vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			return !strncmp(v, "ja", 2);
	}
	return false;
}

struct monitor_state {
	const struct output *out;
	bool first;
};

static int monitor_cb(json_t *msg, void *arg)
{
	struct monitor_state *st = arg;

	if (st->first) {
		st->first = false;
		if (json_integer_value(json_object_get(msg, "errno")) != 0) {
			fprintf(stderr, "l2tpctl: l2tpv3d: %s\n", json_string_value(json_object_get(msg, "error")));
			return -EPROTO;
		}
		return 0;
	}
	st->out->event(stdout, msg);
	return 0;
}

/* The reply's own message and report lines on stderr. */
static void print_error(const json_t *reply)
{
	const json_t *lines = json_object_get(reply, "report"), *l;
	size_t i;

	json_array_foreach(lines, i, l)
		fprintf(stderr, "%s\n", json_string_value(l));
	fprintf(stderr, "l2tpctl: l2tpv3d: %s\n", json_string_value(json_object_get(reply, "error")));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = CTL_DEFAULT_SOCKET;
	const struct output *out = &output_text;
	json_t *req, *reply = NULL;
	struct ctl_cmd cmd;
	char err[1024];
	int c, r;

	while ((c = getopt_long(argc, argv, "+S:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'j':
			out = &output_json;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (ctl_parse(argc - optind, argv + optind, &cmd, err, sizeof(err)) < 0) {
		/* an unknown first word gets the whole list, a later one the
		 * words valid at its place (in err) */
		if (optind >= argc || !ctl_parse_is_command(argv[optind])) {
			err[strcspn(err, "\n")] = '\0';
			fprintf(stderr, "l2tpctl: %s\n", err);
			usage(stderr);
		} else {
			fprintf(stderr, "l2tpctl: %s\n", err);
		}
		return 2;
	}
	if (cmd.action == CTL_ACT_HELP) {
		usage(stdout);
		return 0;
	}

	req = json_pack("{s:s}", "cmd", ctl_action_cmd(cmd.action));
	if (!req)
		return 1;
	if (cmd.action == CTL_ACT_TUNNEL_UP || cmd.action == CTL_ACT_TUNNEL_DOWN)
		json_object_set_new(req, "tunnel", json_integer(cmd.tunnel));
	if (cmd.action == CTL_ACT_MONITOR) {
		struct monitor_state st = { out, true };

		signal(SIGPIPE, SIG_IGN);
		/* Ctrl-C ends it, even when started in the background by a shell
		 * that ignores SIGINT for its asynchronous commands */
		signal(SIGINT, SIG_DFL);
		setvbuf(stdout, NULL, _IOLBF, 0);
		r = ctl_stream(sock, req, monitor_cb, &st, err, sizeof(err));
		json_decref(req);
		if (r < 0 && r != -EPROTO) {
			fprintf(stderr, "l2tpctl: %s\n", err);
			return 1;
		}
		return r < 0;
	}
	r = ctl_request(sock, req, &reply, err, sizeof(err));
	json_decref(req);
	if (r < 0) {
		fprintf(stderr, "l2tpctl: %s\n", err);
		return 1;
	}
	if (json_integer_value(json_object_get(reply, "errno")) != 0) {
		if (out == &output_json)
			out->result(stdout, "", reply);
		print_error(reply);
		json_decref(reply);
		return 1;
	}
	switch (cmd.action) {
	case CTL_ACT_SHOW_STATUS_L2TP:
		out->status_l2tp(stdout, reply, locale_is_japanese());
		break;
	case CTL_ACT_SHOW_CONFIG:
		out->config(stdout, reply);
		break;
	case CTL_ACT_SHOW_IPSEC_SA:
		out->ipsec_sa(stdout, reply);
		break;
	case CTL_ACT_TUNNEL_UP:
	case CTL_ACT_TUNNEL_DOWN:
		snprintf(err, sizeof(err), "tunnel %u %s", cmd.tunnel, cmd.action == CTL_ACT_TUNNEL_UP ? "up" : "down");
		out->result(stdout, err, reply);
		break;
	case CTL_ACT_CLEAR_COUNTERS:
		out->result(stdout, "clear counters", reply);
		break;
	case CTL_ACT_RELOAD:
		out->result(stdout, "reload", reply);
		break;
	case CTL_ACT_MONITOR:
	case CTL_ACT_HELP:
	case CTL_ACT_NONE:
		break;
	}
	json_decref(reply);
	return 0;
}
