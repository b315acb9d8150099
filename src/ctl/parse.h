/* SPDX-License-Identifier: MIT */
/*
 * l2tpctl's command parser: words walked through token tables (bgpctl
 * style), a unique prefix is enough, errors list the valid words.  No
 * I/O, so the unit test drives it directly.
 */
#ifndef L2TP_CTL_PARSE_H
#define L2TP_CTL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

enum ctl_action {
	CTL_ACT_NONE,
	CTL_ACT_SHOW_STATUS_L2TP,
	CTL_ACT_SHOW_CONFIG,
	CTL_ACT_SHOW_IPSEC_SA, /* the status, rendered like a RTX's `show ipsec sa` */
	CTL_ACT_TUNNEL_UP,
	CTL_ACT_TUNNEL_DOWN,
	CTL_ACT_CLEAR_COUNTERS,
	CTL_ACT_MONITOR,
	CTL_ACT_RELOAD,
	CTL_ACT_HELP, /* answered by l2tpctl itself */
};

struct ctl_cmd {
	enum ctl_action action;
	unsigned tunnel; /* N of `tunnel up|down N` */
};

/*
 * Parse argv (the words after the options).  Returns 0 and *ret, or
 * -EINVAL with a message naming the bad word and listing the valid ones
 * in err (several lines, no trailing newline).
 */
int ctl_parse(int argc, char *const *argv, struct ctl_cmd *ret, char *err, size_t errlen);

/*
 * The JSON "cmd" of an action ("show-status", ...), NULL for CTL_ACT_NONE
 * and CTL_ACT_HELP (not sent to the daemon).
 */
const char *ctl_action_cmd(enum ctl_action a);

/* One line of `l2tpctl help`: a command's words ("N": a tunnel number). */
struct ctl_usage {
	const char *words;
	const char *what;
};

/* Every command in the order `l2tpctl help` lists them; ends with NULLs. */
extern const struct ctl_usage ctl_usage[];

/* Whether WORD, or a unique prefix of it, is a first word of a command. */
bool ctl_parse_is_command(const char *word);

#endif
