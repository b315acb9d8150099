/* SPDX-License-Identifier: MIT */
/*
 * Client side of the control socket protocol (doc/control.md): one JSON
 * object per line each way.
 */
#ifndef L2TP_CTLPROTO_H
#define L2TP_CTLPROTO_H

#include <jansson.h>
#include <stddef.h>

#define CTL_DEFAULT_SOCKET "/run/l2tpv3d/control.sock"

/*
 * Send req to the daemon at path and read its reply.  Returns 0 and
 * *ret_reply (caller decrefs), or negative errno with a message in err
 * ("daemon not running (no socket at PATH)", "permission denied...").
 */
int ctl_request(const char *path, json_t *req, json_t **ret_reply, char *err, size_t errlen);

/*
 * Send req, then call cb with every JSON object line the daemon sends
 * (the reply first) until cb returns nonzero (negative: an error) or the
 * connection ends.  No time limit: for `monitor`.  Returns 0 when cb
 * stopped without an error, else negative errno with a message in err.
 */
int ctl_stream(const char *path, json_t *req, int (*cb)(json_t *msg, void *arg), void *arg, char *err,
	       size_t errlen);

#endif
