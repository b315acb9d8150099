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
/* Take port out of its bridge (if any) and set it down: a hub's departed
 * peer keeps its TAP for a while, but no longer in the flood domain. */
int nl_port_release(struct nl_ctx *n, const char *port);
/* Delete the links named names[0..count) (missing ones are skipped) in one
 * kernel operation: each is moved to a link group no other link uses, then
 * the group is deleted (RTM_DELLINK with IFLA_GROUP: one unregister batch,
 * one RCU grace period for all, where closing each TAP's fd costs one each,
 * about 18 ms per port on a 2-vCPU VM).  Returns the number deleted or
 * negative errno (an error moving one to the group: the others are still
 * deleted and the error returned; the caller closes the fds in any case).
 * times (NULL-safe) gets the monotonic clock (ms) when the links were in
 * the group and when they were deleted. */
struct nl_delete_times {
	uint64_t group_ms, delete_ms;
};
int nl_links_delete(struct nl_ctx *n, const char *const *names, size_t count, struct nl_delete_times *times);
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
