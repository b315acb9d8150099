/* SPDX-License-Identifier: MIT */
/*
 * VICI, strongSwan's control protocol (src/libcharon/plugins/vici/README.md
 * of strongSwan): a pure codec, no I/O.
 *
 * Transport: each packet is a 32-bit big-endian length followed by that
 * many bytes (at most 512 KiB).  Packet: a type byte; CMD_REQUEST,
 * EVENT_REGISTER, EVENT_UNREGISTER and EVENT carry a name (8-bit length +
 * ASCII); CMD_REQUEST, CMD_RESPONSE and EVENT carry a message.  Message: a
 * sequence of elements (SECTION_START name, SECTION_END, KEY_VALUE name
 * value, LIST_START name, LIST_ITEM value, LIST_END); names have an 8-bit
 * length, values a 16-bit big-endian one.
 *
 * A struct vici_msg is that element sequence, flat, as built or decoded;
 * the lookup helpers walk it by section path.
 */
#ifndef L2TP_VICI_H
#define L2TP_VICI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VICI_FRAME_MAX (512 * 1024) /* payload bytes of one packet */
#define VICI_NAME_MAX 255
#define VICI_VALUE_MAX 65535
#define VICI_DEPTH_MAX 16 /* nested sections we accept when decoding */

enum vici_packet_type {
	VICI_CMD_REQUEST = 0,
	VICI_CMD_RESPONSE = 1,
	VICI_CMD_UNKNOWN = 2,
	VICI_EVENT_REGISTER = 3,
	VICI_EVENT_UNREGISTER = 4,
	VICI_EVENT_CONFIRM = 5,
	VICI_EVENT_UNKNOWN = 6,
	VICI_EVENT = 7,
};

enum vici_elem_type {
	VICI_SECTION_START = 1,
	VICI_SECTION_END = 2,
	VICI_KEY_VALUE = 3,
	VICI_LIST_START = 4,
	VICI_LIST_ITEM = 5,
	VICI_LIST_END = 6,
};

struct vici_elem {
	enum vici_elem_type type;
	char *name; /* NUL-terminated; NULL for END and LIST_ITEM */
	uint8_t *value; /* KEY_VALUE, LIST_ITEM: len bytes, plus a NUL after them */
	size_t len;
};

struct vici_msg {
	struct vici_elem *v;
	size_t n, cap;
	int depth; /* builder: open sections */
	bool in_list; /* builder: a list is open */
	bool bad; /* builder: a misuse or OOM happened; encode refuses */
};

void vici_msg_init(struct vici_msg *m);
void vici_msg_free(struct vici_msg *m);

/* Builder.  Misuse (a key in a list, unbalanced end, too long name or
 * value, OOM) sets m->bad; vici_msg_encode then fails. */
void vici_section(struct vici_msg *m, const char *name);
void vici_end(struct vici_msg *m); /* ends the open section */
void vici_kv(struct vici_msg *m, const char *key, const char *value);
__attribute__((format(printf, 3, 4)))
void vici_kvf(struct vici_msg *m, const char *key, const char *fmt, ...);
void vici_kv_blob(struct vici_msg *m, const char *key, const void *value, size_t len);
void vici_list(struct vici_msg *m, const char *name);
void vici_item(struct vici_msg *m, const char *value);
void vici_list_end(struct vici_msg *m);

/*
 * A whole transport frame: length header, type, name (for named types),
 * message (for types with one; m may be NULL = empty).  Returns a malloc'ed
 * buffer in *ret and its length in *ret_len; -EINVAL on a bad message,
 * name or size, -ENOMEM.
 */
int vici_packet_encode(enum vici_packet_type type, const char *name, const struct vici_msg *m,
		       uint8_t **ret, size_t *ret_len);

/*
 * Framing of a byte stream: 0 = need more bytes, > 0 = the length of the
 * first whole frame (header included), -EMSGSIZE = a length above
 * VICI_FRAME_MAX (the stream cannot be resynchronised: close it).
 */
long vici_frame_len(const uint8_t *buf, size_t len);

struct vici_packet {
	enum vici_packet_type type;
	char name[VICI_NAME_MAX + 1]; /* "" for unnamed types */
	struct vici_msg msg; /* empty for types without a message */
};

/*
 * Decode one packet's payload (after the length header).  0 or -EBADMSG
 * (unknown type, truncated element, unbalanced sections, nested or
 * unclosed list, element outside its place, depth above VICI_DEPTH_MAX),
 * -ENOMEM.  p is always safe to vici_packet_free afterwards.
 */
int vici_packet_decode(const uint8_t *buf, size_t len, struct vici_packet *p);
void vici_packet_free(struct vici_packet *p);

/*
 * Lookup: the value of key `key` in the section reached by path (section
 * names separated by '/', "" = root), e.g. vici_get(m, "conn1/child-sas/x",
 * "state").  Returns the NUL-terminated value or NULL.
 */
const char *vici_get(const struct vici_msg *m, const char *path, const char *key);

/* Index of the element that starts section `path` ("" = -1 = root), or -2. */
long vici_find_section(const struct vici_msg *m, const char *path);

/*
 * Iterate the direct sub-sections of the section at index `sec` (-1 =
 * root): *pos starts at sec + 1 (0 for the root); returns the index of the
 * next SECTION_START child or -1 at the end.
 */
long vici_next_child(const struct vici_msg *m, long sec, long *pos);

/* Value of key in the section starting at index sec (-1 = root), or NULL. */
const char *vici_get_in(const struct vici_msg *m, long sec, const char *key);

/*
 * Print m as indented text (swanctl.conf-like: `key = value`, `name {`,
 * `list = [a, b]`), values with bytes outside printable ASCII as hex; keys
 * listed in `secret_keys` (NULL-terminated, may be NULL) print as "<secret>".
 */
void vici_msg_print(const struct vici_msg *m, FILE *out, const char *const *secret_keys);

#endif
