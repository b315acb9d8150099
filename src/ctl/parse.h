/* SPDX-License-Identifier: MIT */
/*
 * l2tpctl's command parser: words walked through token tables (bgpctl
 * style), a unique prefix is enough, errors list the valid words.  No
 * I/O, so the unit test drives it directly.
 */
#ifndef L2TP_CTL_PARSE_H
#define L2TP_CTL_PARSE_H

#include <stddef.h>

enum ctl_action {
	CTL_ACT_NONE,
	CTL_ACT_SHOW_STATUS_L2TP,
	CTL_ACT_SHOW_CONFIG,
	CTL_ACT_TUNNEL_UP,
	CTL_ACT_TUNNEL_DOWN,
	CTL_ACT_CLEAR_COUNTERS,
	CTL_ACT_MONITOR,
	CTL_ACT_RELOAD,
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

/* The JSON "cmd" of an action ("show-status", ...), NULL for CTL_ACT_NONE. */
const char *ctl_action_cmd(enum ctl_action a);

#endif
