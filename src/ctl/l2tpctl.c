/* SPDX-License-Identifier: MIT */
/*
 * l2tpctl: talks to l2tpv3d over its control socket.
 *
 * Commands are parsed with token tables (bgpctl style): each word must
 * match one entry (a unique prefix is enough); on error the valid words
 * are listed.  Output goes through a renderer table: Yamaha text, or JSON
 * with -j.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlproto.h"
#include "ctl/render.h"

enum action {
	ACT_NONE,
	ACT_SHOW_STATUS_L2TP,
};

struct token {
	const char *word;
	enum action action; /* when the command ends here */
	const struct token *next;
};

static const struct token t_show_status[] = {
	{ "l2tp", ACT_SHOW_STATUS_L2TP, NULL },
	{ NULL, ACT_NONE, NULL },
};

static const struct token t_show[] = {
	{ "status", ACT_NONE, t_show_status },
	{ NULL, ACT_NONE, NULL },
};

static const struct token t_main[] = {
	{ "show", ACT_NONE, t_show },
	{ NULL, ACT_NONE, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: l2tpctl [-S|--socket PATH] [-j|--json] COMMAND\n"
		   "commands:\n"
		   "  show status l2tp     tunnels and sessions, Yamaha layout (-j: JSON)\n"
		   "default socket: %s\n",
		CTL_DEFAULT_SOCKET);
}

static void list_words(const struct token *table)
{
	fprintf(stderr, "valid words:");
	for (const struct token *t = table; t->word; t++)
		fprintf(stderr, " %s", t->word);
	fputc('\n', stderr);
}

/* Walk the words through the tables; ACT_NONE with a message on error. */
static enum action parse(int argc, char **argv)
{
	const struct token *table = t_main, *match = NULL;

	if (argc == 0) {
		fprintf(stderr, "l2tpctl: missing command\n");
		list_words(table);
		return ACT_NONE;
	}
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]);
		int hits = 0;

		if (!table) {
			fprintf(stderr, "l2tpctl: unexpected argument '%s'\n", argv[i]);
			return ACT_NONE;
		}
		match = NULL;
		for (const struct token *t = table; t->word; t++) {
			if (!strcmp(t->word, argv[i])) {
				match = t;
				hits = 1;
				break;
			}
			if (len && !strncmp(t->word, argv[i], len)) {
				match = t;
				hits++;
			}
		}
		if (hits != 1) {
			fprintf(stderr, "l2tpctl: %s argument '%s'\n", hits ? "ambiguous" : "unknown", argv[i]);
			list_words(table);
			return ACT_NONE;
		}
		table = match->next;
	}
	if (match->action == ACT_NONE) {
		fprintf(stderr, "l2tpctl: incomplete command\n");
		if (match->next)
			list_words(match->next);
	}
	return match->action;
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
	char err[512];
	enum action act;
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
	act = parse(argc - optind, argv + optind);
	if (act == ACT_NONE)
		return 2;

	req = json_pack("{s:s}", "cmd", "show-status");
	r = ctl_request(sock, req, &reply, err, sizeof(err));
	json_decref(req);
	if (r < 0) {
		fprintf(stderr, "l2tpctl: %s\n", err);
		return 1;
	}
	if (json_integer_value(json_object_get(reply, "errno")) != 0) {
		fprintf(stderr, "l2tpctl: l2tpv3d: %s\n", json_string_value(json_object_get(reply, "error")));
		json_decref(reply);
		return 1;
	}
	switch (act) {
	case ACT_SHOW_STATUS_L2TP:
		out->status_l2tp(stdout, reply, locale_is_japanese());
		break;
	case ACT_NONE:
		break;
	}
	json_decref(reply);
	return 0;
}
