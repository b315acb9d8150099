/* SPDX-License-Identifier: MIT */
/*
 * Renderers for l2tpctl: the Yamaha `show status l2tp` layout (English, or
 * Japanese as in the seed when the locale is ja_*) and JSON, for every
 * command's reply.
 */
#ifndef L2TP_RENDER_H
#define L2TP_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct output {
	void (*status_l2tp)(FILE *out, const json_t *status, bool japanese);
	void (*config)(FILE *out, const json_t *reply);
	/* `show ipsec sa`: from the status reply */
	void (*ipsec_sa)(FILE *out, const json_t *status);
	/* replies of tunnel up/down, clear counters, reload */
	void (*result)(FILE *out, const char *what, const json_t *reply);
	/* one `monitor` event per line */
	void (*event)(FILE *out, const json_t *ev);
};

extern const struct output output_text;
extern const struct output output_json;

#endif
