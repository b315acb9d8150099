/* SPDX-License-Identifier: MIT */
/*
 * Links, bridges and addresses through libnl-route-3, and the TAP ports
 * the daemon creates.  Every function returns 0 or negative errno and does
 * not log; the caller logs once.
 */
#ifndef L2TP_NL_H
#define L2TP_NL_H

#include <netinet/in.h>
#include <stdbool.h>

struct nl_ctx;

int nl_ctx_open(struct nl_ctx **ret);
void nl_ctx_close(struct nl_ctx *n); /* NULL-safe */

/* Create bridge `name` if it does not exist (ret_created says whether we
 * made it) and set it up. */
int nl_bridge_ensure(struct nl_ctx *n, const char *name, bool *ret_created);
/* Set the link's MAC address to the one it has: the kernel then keeps it
 * (a bridge no longer takes the lowest MAC of its ports as they change). */
int nl_link_pin_address(struct nl_ctx *n, const char *ifname);
/* Enslave port to bridge (no-op if already) and set the port up. */
int nl_bridge_add_port(struct nl_ctx *n, const char *bridge, const char *port);
/* Add addr/prefixlen to ifname unless already present (family AF_INET or AF_INET6). */
int nl_addr_ensure(struct nl_ctx *n, const char *ifname, int family, const void *addr, unsigned prefixlen);
/* Set link up. */
int nl_link_up(struct nl_ctx *n, const char *ifname);
int nl_link_set_mtu(struct nl_ctx *n, const char *ifname, unsigned mtu);
/* ifindex of ifname, or negative errno. */
int nl_link_index(struct nl_ctx *n, const char *ifname);
/* MTU of the link, or negative errno. */
int nl_link_mtu(struct nl_ctx *n, const char *ifname);

/* Create (or attach to) TAP `name` with IFF_TAP|IFF_NO_PI, non-blocking,
 * close-on-exec; ret_created says whether the interface is new. Returns the
 * fd or negative errno.  The link stays down until nl_link_up. */
int tap_open(const char *name, bool *ret_created);
/* Open TAPs multi-queue (IFF_MULTI_QUEUE) from now on: with several data
 * threads, the data path adds a queue per thread. */
void tap_set_multi_queue(bool on);
/* Delete a TAP we created (closing its fd is not enough when it was made
 * persistent; we never make it persistent, so this only closes). */
void tap_close(int fd);

#endif
