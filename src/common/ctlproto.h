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

#endif
