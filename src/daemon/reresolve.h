/* SPDX-License-Identifier: MIT */
/*
 * Re-resolution of a peer's host name (issue 15: `tunnel endpoint name
 * HOST fqdn` / `ipsec ike remote address GW HOST`, dynamic DNS at both
 * ends): what one lookup's answer means for the address in use, when to
 * look again, and when a failure is worth a log line.
 *
 * Pure: no I/O, no clock (the caller passes the time), no logging.
 *
 * The rules:
 *  - the first answer gives the address (RR_FIRST);
 *  - an answer that still contains the address in use keeps it (RR_SAME:
 *    a name with several addresses, served in rotation, does not flap);
 *    otherwise its first address of the wanted family replaces it
 *    (RR_CHANGED, with the old one);
 *  - a failure, or an answer without an address of that family, keeps the
 *    last good address (RR_FAILED); it is worth a log line the first time
 *    and then at most every RR_FAIL_LOG_MS, with the count in between;
 *    the first success after failures says so (recovered);
 *  - the next lookup is `interval` ms later; while no address was ever
 *    found, failures retry sooner: RR_RETRY_MIN_MS doubled per failure,
 *    up to the interval.
 */
#ifndef L2TP_DAEMON_RERESOLVE_H
#define L2TP_DAEMON_RERESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RR_FAIL_LOG_MS 600000u /* one line about failures per 10 minutes */
#define RR_RETRY_MIN_MS 2000u /* first retry while no address is known */

struct rr_state {
	bool have; /* addr is a good resolution */
	struct sockaddr_storage addr; /* port 0 */
	unsigned fails; /* failures in a row */
	uint64_t fails_unlogged; /* failures since the last log line */
	uint64_t fail_log_ms; /* time of that line, 0 = none yet */
	uint64_t next_ms; /* time of the next lookup */
};

enum rr_verdict { RR_FIRST, RR_SAME, RR_CHANGED, RR_FAILED };

struct rr_outcome {
	enum rr_verdict verdict;
	struct sockaddr_storage old; /* RR_CHANGED: the address it had */
	bool log; /* RR_FAILED: log it now (suppressed: the failures before) */
	uint64_t suppressed;
	bool recovered; /* a success after failures */
};

/*
 * One lookup's answer: addrs[0..n) (n = 0: the lookup failed), family the
 * wanted one (AF_INET, AF_INET6, AF_UNSPEC = any), now and interval in ms.
 */
void rr_result(struct rr_state *s, const struct sockaddr_storage *addrs, size_t n, int family, uint64_t now,
	       uint64_t interval, struct rr_outcome *o);


#endif
