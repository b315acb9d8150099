/* SPDX-License-Identifier: MIT */
/* The queue of messages opening a connection; see ctrlq.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctrlq.h"

void ctrlq_init(struct ctrlq *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
}

bool ctrlq_waits(const uint8_t *raw, size_t len)
{
	/* a control header (T bit) whose CCID (bytes 4-7) is 0; anything
	 * shorter is left to the decoder, which counts it as malformed */
	return len >= 12 && (raw[0] & 0x80) && !raw[4] && !raw[5] && !raw[6] && !raw[7];
}

bool ctrlq_full(const struct ctrlq *q)
{
	return q->n >= q->max;
}

int ctrlq_push(struct ctrlq *q, const uint8_t *raw, size_t len, const struct sockaddr_storage *peer,
	       const struct sockaddr_storage *local)
{
	struct ctrlq_item *it;

	if (ctrlq_full(q))
		return -ENOSPC;
	it = malloc(sizeof(*it) + len);
	if (!it)
		return -ENOMEM;
	it->next = NULL;
	it->peer = *peer;
	it->local = *local;
	it->len = len;
	memcpy(it->raw, raw, len);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n++;
	q->queued_total++;
	return 0;
}

struct ctrlq_item *ctrlq_pop(struct ctrlq *q)
{
	struct ctrlq_item *it = q->head;

	if (!it)
		return NULL;
	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	it->next = NULL;
	return it;
}

void ctrlq_clear(struct ctrlq *q)
{
	struct ctrlq_item *it;

	while ((it = ctrlq_pop(q)))
		free(it);
}
