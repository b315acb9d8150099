/* SPDX-License-Identifier: MIT */
/*
 * `l2tp static probe A.B.C.D`: a liveness signal of our own across a
 * static session.  An ARP probe (RFC 5227 §2.1.1: sender IP 0.0.0.0,
 * target hardware address zero) for a host on the far LAN leaves through
 * the tunnel's TAP port, so the data path carries it across like any
 * frame; the host's ARP reply comes back the same way.
 *
 * Pure: frame building, reply matching and the up/down bookkeeping, with
 * time passed in.  The daemon glue (tunnel_probe.c) owns the packet
 * socket, the timer, the log and the events.
 */
#ifndef L2TP_DAEMON_PROBE_H
#define L2TP_DAEMON_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_ETH_ALEN 6
#define PROBE_FRAME_LEN 60 /* Ethernet header + ARP (42), padded to the minimum frame */
#define PROBE_ARP_LEN 42 /* the shortest frame probe_is_answer accepts */

/*
 * Write the ARP probe for target (network byte order) from mac into buf:
 * broadcast, sender mac / 0.0.0.0, target 00:00:00:00:00:00 / target,
 * zero padding.  Returns PROBE_FRAME_LEN, or 0 if len is too short.
 */
size_t probe_build(uint8_t *buf, size_t len, const uint8_t mac[PROBE_ETH_ALEN], uint32_t target);

/*
 * Is frame an answer to our probe: an Ethernet/IPv4 ARP reply whose
 * sender IP is target and whose target hardware address is mac (the
 * reply to a probe names its sender, RFC 826)?  Any other frame, short or
 * malformed ones included, is not.
 */
bool probe_is_answer(const uint8_t *frame, size_t len, const uint8_t mac[PROBE_ETH_ALEN], uint32_t target);

enum probe_verdict {
	PROBE_UNKNOWN, /* no answer yet and fewer than count probes unanswered */
	PROBE_UP, /* answered, and fewer than count probes unanswered since */
	PROBE_DOWN, /* count probes in a row unanswered */
};

struct probe_state {
	enum probe_verdict verdict;
	unsigned count; /* unanswered probes in a row that make it down, >= 1 */
	uint64_t sent, answered; /* probes sent, probes answered (at most one answer per run of probes) */
	unsigned outstanding; /* probes sent since the last answer */
	uint64_t last_answer_ms; /* 0: never */
};

void probe_state_init(struct probe_state *s, unsigned count);

/*
 * Time to send the next probe: first judges the ones already out (count
 * of them unanswered make it down), then counts the new one.  Returns the
 * new verdict if it changed, else the old one; *changed tells.
 */
enum probe_verdict probe_on_send(struct probe_state *s, bool *changed);

/* An answer arrived at now_ms.  Same return convention.  An answer with
 * no probe outstanding (a duplicate) changes nothing. */
enum probe_verdict probe_on_answer(struct probe_state *s, uint64_t now_ms, bool *changed);

const char *probe_verdict_name(enum probe_verdict v); /* "unknown", "up", "down" */

#endif
