/* SPDX-License-Identifier: MIT */
/*
 * New connections wait, existing ones go first (pure: no I/O).
 *
 * An SCCRQ to a hub costs a TAP port (kernel work, about 3 ms on a 2-vCPU
 * VM); a message of an established or starting connection (SCCCN, ICRQ,
 * ICCN, HELLO, an ACK) costs microseconds.  Read in arrival order, 1,000
 * branches calling at once put their second messages behind the other
 * branches' SCCRQs, for longer than the 1 s retransmission timer: both
 * sides retransmitted (bench/scale).  So the control thread reads every
 * message it has, handles those of known connections at once and queues
 * the ones with header CCID 0 (SCCRQs) here, taken in arrival order a
 * time slice at a time.
 */
#ifndef L2TPV3D_DAEMON_CTRLQ_H
#define L2TPV3D_DAEMON_CTRLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ctrlq_item {
	struct ctrlq_item *next;
	struct sockaddr_storage peer, local;
	size_t len;
	uint8_t raw[]; /* the L2TP control message, len bytes */
};

struct ctrlq {
	struct ctrlq_item *head, *tail;
	size_t n, max; /* max: past it the caller leaves messages where they are */
	uint64_t queued_total;
};

void ctrlq_init(struct ctrlq *q, size_t max);
/* a message that opens a connection (header CCID 0): it waits in the queue */
bool ctrlq_waits(const uint8_t *raw, size_t len);
bool ctrlq_full(const struct ctrlq *q);
/* 0, -ENOSPC when full, -ENOMEM */
int ctrlq_push(struct ctrlq *q, const uint8_t *raw, size_t len, const struct sockaddr_storage *peer,
	       const struct sockaddr_storage *local);
/* the oldest message, to be freed by the caller; NULL when empty */
struct ctrlq_item *ctrlq_pop(struct ctrlq *q);
void ctrlq_clear(struct ctrlq *q);

#endif
