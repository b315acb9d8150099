/* SPDX-License-Identifier: MIT */
/*
 * Address helpers shared by the configuration, the state machine and the
 * daemon: comparing and printing socket addresses and Router IDs.  Header
 * only (no I/O, no allocation, no state), so every module and test can use
 * it without linking anything.
 *
 * Endpoints of IP encapsulation (IP protocol 115) carry port 0 in the
 * daemon, which no UDP endpoint can: comparing address and port also tells
 * the transports apart.
 */
#ifndef L2TP_COMMON_ADDR_H
#define L2TP_COMMON_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The port in host order, 0 for a family without one (AF_UNSPEC). */
static inline unsigned sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* The same IPv4 or IPv6 address, ports aside; false for other families. */
static inline bool sockaddr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

/* The same IPv4 or IPv6 address and port; false for other families. */
static inline bool sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return sockaddr_same_host(a, b) && sockaddr_port(a) == sockaddr_port(b);
}

/* The address alone ("192.0.2.1", "2001:db8::1") into buf; NULL for a
 * family without one. */
static inline const char *sockaddr_ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)len);
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)len);
	return NULL;
}

/* "203.0.113.2:1701", "[2001:db8::2]:1701"; an IP/115 endpoint (port 0)
 * as "203.0.113.2 (IP)"; "-" for a family without an address. */
static inline void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!sockaddr_ntop(ss, a, sizeof(a)))
		snprintf(buf, len, "-");
	else if (sockaddr_port(ss) == 0)
		snprintf(buf, len, "%s (IP)", a);
	else if (ss->ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, sockaddr_port(ss));
	else
		snprintf(buf, len, "%s:%u", a, sockaddr_port(ss));
}

/* A Router ID (host byte order) as a dotted quad: router_id_str(rid).s */
struct router_id_str {
	char s[16];
};

static inline struct router_id_str router_id_str(uint32_t rid)
{
	struct router_id_str r;

	snprintf(r.s, sizeof(r.s), "%u.%u.%u.%u", rid >> 24, (rid >> 16) & 0xff, (rid >> 8) & 0xff, rid & 0xff);
	return r;
}

#endif
