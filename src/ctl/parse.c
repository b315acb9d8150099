/* SPDX-License-Identifier: MIT */
/*
 * Token tables for l2tpctl (see parse.h).  Each table lists the words
 * valid at one position; a token either ends the command (action) or
 * leads to the next table.  A token whose word is "N" takes a tunnel
 * number.
 */
#include "ctl/parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct token {
	const char *word; /* "N": a number */
	enum ctl_action action; /* when the command ends here */
	const struct token *next;
};

static const struct token t_show_status[] = {
	{ "l2tp", CTL_ACT_SHOW_STATUS_L2TP, NULL },
	{ NULL, CTL_ACT_NONE, NULL },
};

static const struct token t_show[] = {
	{ "config", CTL_ACT_SHOW_CONFIG, NULL },
	{ "status", CTL_ACT_NONE, t_show_status },
	{ NULL, CTL_ACT_NONE, NULL },
};

static const struct token t_up_n[] = {
	{ "N", CTL_ACT_TUNNEL_UP, NULL },
	{ NULL, CTL_ACT_NONE, NULL },
};

static const struct token t_down_n[] = {
	{ "N", CTL_ACT_TUNNEL_DOWN, NULL },
	{ NULL, CTL_ACT_NONE, NULL },
};

static const struct token t_tunnel[] = {
	{ "down", CTL_ACT_NONE, t_down_n },
	{ "up", CTL_ACT_NONE, t_up_n },
	{ NULL, CTL_ACT_NONE, NULL },
};

static const struct token t_clear[] = {
	{ "counters", CTL_ACT_CLEAR_COUNTERS, NULL },
	{ NULL, CTL_ACT_NONE, NULL },
};

static const struct token t_main[] = {
	{ "clear", CTL_ACT_NONE, t_clear },
	{ "monitor", CTL_ACT_MONITOR, NULL },
	{ "reload", CTL_ACT_RELOAD, NULL },
	{ "show", CTL_ACT_NONE, t_show },
	{ "tunnel", CTL_ACT_NONE, t_tunnel },
	{ NULL, CTL_ACT_NONE, NULL },
};

static void list_words(const struct token *table, char *err, size_t errlen)
{
	size_t used = strlen(err);

	used += (size_t)snprintf(err + used, used < errlen ? errlen - used : 0, "\nvalid words:");
	for (const struct token *t = table; t->word && used < errlen; t++)
		used += (size_t)snprintf(err + used, errlen - used, " %s",
					 strcmp(t->word, "N") ? t->word : "<tunnel number>");
}

static bool parse_number(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 0xffffffffUL)
		return false;
	*ret = (unsigned)v;
	return true;
}

int ctl_parse(int argc, char *const *argv, struct ctl_cmd *ret, char *err, size_t errlen)
{
	const struct token *table = t_main, *match = NULL;
	struct ctl_cmd cmd = { CTL_ACT_NONE, 0 };

	err[0] = '\0';
	if (argc <= 0) {
		snprintf(err, errlen, "missing command");
		list_words(table, err, errlen);
		return -EINVAL;
	}
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]);
		int hits = 0;

		if (!table) {
			snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
			return -EINVAL;
		}
		match = NULL;
		for (const struct token *t = table; t->word; t++) {
			if (!strcmp(t->word, "N")) {
				if (parse_number(argv[i], &cmd.tunnel)) {
					match = t;
					hits = 1;
					break;
				}
				continue;
			}
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
			snprintf(err, errlen, "%s argument '%s'", hits ? "ambiguous" : "unknown", argv[i]);
			list_words(table, err, errlen);
			return -EINVAL;
		}
		table = match->next;
	}
	if (match->action == CTL_ACT_NONE) {
		snprintf(err, errlen, "incomplete command");
		if (match->next)
			list_words(match->next, err, errlen);
		return -EINVAL;
	}
	cmd.action = match->action;
	*ret = cmd;
	return 0;
}

const char *ctl_action_cmd(enum ctl_action a)
{
	switch (a) {
	case CTL_ACT_SHOW_STATUS_L2TP:
		return "show-status";
	case CTL_ACT_SHOW_CONFIG:
		return "show-config";
	case CTL_ACT_TUNNEL_UP:
		return "tunnel-up";
	case CTL_ACT_TUNNEL_DOWN:
		return "tunnel-down";
	case CTL_ACT_CLEAR_COUNTERS:
		return "clear-counters";
	case CTL_ACT_MONITOR:
		return "monitor";
	case CTL_ACT_RELOAD:
		return "reload";
	case CTL_ACT_NONE:
		break;
	}
	return NULL;
}
