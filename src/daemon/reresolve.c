/* SPDX-License-Identifier: MIT */
/* Re-resolution of a peer's host name: the decisions (see reresolve.h). */
#include "daemon/reresolve.h"

#include "common/addr.h"

#include <netinet/in.h>
#include <string.h>

static void host_only(struct sockaddr_storage *dst, const struct sockaddr_storage *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->ss_family == AF_INET) {
		struct sockaddr_in *d = (struct sockaddr_in *)dst;

		d->sin_family = AF_INET;
		d->sin_addr = ((const struct sockaddr_in *)src)->sin_addr;
	} else if (src->ss_family == AF_INET6) {
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)dst;

		d->sin6_family = AF_INET6;
		d->sin6_addr = ((const struct sockaddr_in6 *)src)->sin6_addr;
	}
}

void rr_result(struct rr_state *s, const struct sockaddr_storage *addrs, size_t n, int family, uint64_t now,
	       uint64_t interval, struct rr_outcome *o)
{
	const struct sockaddr_storage *pick = NULL;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].ss_family != AF_INET && addrs[i].ss_family != AF_INET6)
			continue;
		if (family != AF_UNSPEC && addrs[i].ss_family != family)
			continue;
		if (s->have && sockaddr_same_host(&addrs[i], &s->addr)) {
			pick = &addrs[i];
			break;
		}
		if (!pick)
			pick = &addrs[i];
	}
	if (!pick) {
		uint64_t retry = interval;

		o->verdict = RR_FAILED;
		s->fails++;
		s->fails_unlogged++;
		if (!s->fail_log_ms || now - s->fail_log_ms >= RR_FAIL_LOG_MS) {
			o->log = true;
			o->suppressed = s->fails_unlogged - 1;
			s->fails_unlogged = 0;
			s->fail_log_ms = now ? now : 1;
		}
		if (!s->have) {
			retry = RR_RETRY_MIN_MS;
			for (unsigned k = 1; k < s->fails && retry < interval; k++)
				retry *= 2;
			if (retry > interval)
				retry = interval;
		}
		s->next_ms = now + retry;
		return;
	}
	o->recovered = s->fails > 0;
	s->fails = 0;
	s->fails_unlogged = 0;
	s->fail_log_ms = 0;
	s->next_ms = now + interval;
	if (!s->have)
		o->verdict = RR_FIRST;
	else if (sockaddr_same_host(pick, &s->addr))
		o->verdict = RR_SAME;
	else {
		o->verdict = RR_CHANGED;
		o->old = s->addr;
	}
	s->have = true;
	host_only(&s->addr, pick);
}
