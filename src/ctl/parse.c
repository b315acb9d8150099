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

static const struct token t_show_ipsec[] = {
	{ "sa", CTL_ACT_SHOW_IPSEC_SA, NULL },
	{ NULL, CTL_ACT_NONE, NULL },
};

static const struct token t_show[] = {
	{ "config", CTL_ACT_SHOW_CONFIG, NULL },
	{ "ipsec", CTL_ACT_NONE, t_show_ipsec },
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
	{ "help", CTL_ACT_HELP, NULL },
	{ "monitor", CTL_ACT_MONITOR, NULL },
	{ "reload", CTL_ACT_RELOAD, NULL },
	{ "show", CTL_ACT_NONE, t_show },
	{ "tunnel", CTL_ACT_NONE, t_tunnel },
	{ NULL, CTL_ACT_NONE, NULL },
};

const struct ctl_usage ctl_usage[] = {
	{ "show status l2tp", "tunnels and sessions in the Yamaha RTX layout" },
	{ "show config", "the running configuration, normalized" },
	{ "show ipsec sa", "IKE and IPsec SAs of the IPsec tunnels, as a RTX shows them" },
	{ "tunnel down N", "close tunnel N with a StopCCN and keep it down" },
	{ "tunnel up N", "let tunnel N connect (or take calls) again" },
	{ "clear counters", "zero the packet, octet and drop counters" },
	{ "monitor", "print tunnel and session events as they happen" },
	{ "reload", "re-read the configuration file and apply the changes" },
	{ "help", "this list" },
	{ NULL, NULL },
};

/* The entry of TABLE that WORD names, or uniquely prefixes; NULL if none. */
static const struct token *find_word(const struct token *table, const char *word, int *ret_hits)
{
	const struct token *match = NULL;
	size_t len = strlen(word);
	int hits = 0;

	for (const struct token *t = table; t->word; t++) {
		if (!strcmp(t->word, "N"))
			continue;
		if (!strcmp(t->word, word)) {
			*ret_hits = 1;
			return t;
		}
		if (len && !strncmp(t->word, word, len)) {
			match = t;
			hits++;
		}
	}
	*ret_hits = hits;
	return hits == 1 ? match : NULL;
}

bool ctl_parse_is_command(const char *word)
{
	int hits;

	return find_word(t_main, word, &hits) != NULL;
}

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
		int hits = 0;

		if (!table) {
			snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
			return -EINVAL;
		}
		match = NULL;
		for (const struct token *t = table; t->word; t++) {
			if (!strcmp(t->word, "N") && parse_number(argv[i], &cmd.tunnel)) {
				match = t;
				hits = 1;
				break;
			}
		}
		if (!match)
			match = find_word(table, argv[i], &hits);
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
	case CTL_ACT_SHOW_IPSEC_SA:
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
	case CTL_ACT_HELP:
	case CTL_ACT_NONE:
		break;
	}
	return NULL;
}
