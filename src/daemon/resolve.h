/* SPDX-License-Identifier: MIT */
/*
 * Host name lookups off the event loop (issue 15: re-resolution of an
 * IPsec peer's name).  Each lookup is getaddrinfo() on its own detached
 * thread; the answer comes back to the loop through a socket pair and the
 * callback runs there.  getaddrinfo, not libevent's evdns: it answers as
 * every other program on the host does (nsswitch.conf, /etc/hosts read
 * again at each lookup, resolv.conf changes, systemd-resolved or nscd),
 * where evdns reads /etc/hosts once and speaks plain DNS only.  A lookup
 * that hangs costs a sleeping thread, never the loop; the caller keeps at
 * most one in flight per name.
 */
#ifndef L2TP_DAEMON_RESOLVE_H
#define L2TP_DAEMON_RESOLVE_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct resolver;

#define RESOLVE_MAX_ADDRS 8

/* err 0: n addresses (port 0); else getaddrinfo's EAI_* code and n = 0 */
typedef void resolve_done_fn(void *arg, unsigned tag, const char *name, int err,
			     const struct sockaddr_storage *addrs, size_t n);

struct resolver *resolver_new(struct event_base *base, resolve_done_fn *done, void *arg);
/* Look name up (family AF_INET, AF_INET6 or AF_UNSPEC); done(tag) later.
 * 0, or -errno (no thread). */
int resolver_lookup(struct resolver *r, const char *name, int family, unsigned tag);
/* Answers still on their way are dropped; their threads end on their own. */
void resolver_free(struct resolver *r);

#endif
