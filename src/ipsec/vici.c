/* SPDX-License-Identifier: MIT */
/*
 * VICI codec (see vici.h).  Written from the protocol description in
 * strongSwan's src/libcharon/plugins/vici/README.md; no strongSwan code.
 */
#include "ipsec/vici.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void vici_msg_init(struct vici_msg *m)
{
	memset(m, 0, sizeof(*m));
}

void vici_msg_free(struct vici_msg *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].value);
	}
	free(m->v);
	vici_msg_init(m);
}

/* Append an element (copies name and value).  0 or -ENOMEM. */
static int push(struct vici_msg *m, enum vici_elem_type type, const char *name, size_t name_len,
		const void *value, size_t len)
{
	struct vici_elem *e;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct vici_elem *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	e = &m->v[m->n];
	memset(e, 0, sizeof(*e));
	e->type = type;
	if (name) {
		e->name = malloc(name_len + 1);
		if (!e->name)
			return -ENOMEM;
		memcpy(e->name, name, name_len);
		e->name[name_len] = '\0';
	}
	if (type == VICI_KEY_VALUE || type == VICI_LIST_ITEM) {
		e->value = malloc(len + 1);
		if (!e->value) {
			free(e->name);
			return -ENOMEM;
		}
		if (len)
			memcpy(e->value, value, len);
		e->value[len] = '\0';
		e->len = len;
	}
	m->n++;
	return 0;
}

static bool name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	return len > 0 && len <= VICI_NAME_MAX;
}

void vici_section(struct vici_msg *m, const char *name)
{
	if (m->bad || m->in_list || !name_ok(name) || push(m, VICI_SECTION_START, name, strlen(name), NULL, 0)) {
		m->bad = true;
		return;
	}
	m->depth++;
}

void vici_end(struct vici_msg *m)
{
	if (m->bad || m->in_list || m->depth == 0 || push(m, VICI_SECTION_END, NULL, 0, NULL, 0)) {
		m->bad = true;
		return;
	}
	m->depth--;
}

void vici_kv_blob(struct vici_msg *m, const char *key, const void *value, size_t len)
{
	if (m->bad || m->in_list || !name_ok(key) || len > VICI_VALUE_MAX ||
	    push(m, VICI_KEY_VALUE, key, strlen(key), value, len))
		m->bad = true;
}

void vici_kv(struct vici_msg *m, const char *key, const char *value)
{
	vici_kv_blob(m, key, value, strlen(value));
}

void vici_kvf(struct vici_msg *m, const char *key, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		m->bad = true;
		return;
	}
	vici_kv_blob(m, key, buf, (size_t)n);
}

void vici_list(struct vici_msg *m, const char *name)
{
	if (m->bad || m->in_list || !name_ok(name) || push(m, VICI_LIST_START, name, strlen(name), NULL, 0)) {
		m->bad = true;
		return;
	}
	m->in_list = true;
}

void vici_item(struct vici_msg *m, const char *value)
{
	size_t len = strlen(value);

	if (m->bad || !m->in_list || len > VICI_VALUE_MAX || push(m, VICI_LIST_ITEM, NULL, 0, value, len))
		m->bad = true;
}

void vici_list_end(struct vici_msg *m)
{
	if (m->bad || !m->in_list || push(m, VICI_LIST_END, NULL, 0, NULL, 0)) {
		m->bad = true;
		return;
	}
	m->in_list = false;
}

/* ------------------------------------------------------------------ */
/* Encode                                                              */
/* ------------------------------------------------------------------ */

static size_t elem_size(const struct vici_elem *e)
{
	switch (e->type) {
	case VICI_SECTION_START:
	case VICI_LIST_START:
		return 2 + strlen(e->name);
	case VICI_KEY_VALUE:
		return 2 + strlen(e->name) + 2 + e->len;
	case VICI_LIST_ITEM:
		return 1 + 2 + e->len;
	default:
		return 1;
	}
}

static bool has_name(enum vici_packet_type t)
{
	return t == VICI_CMD_REQUEST || t == VICI_EVENT_REGISTER || t == VICI_EVENT_UNREGISTER || t == VICI_EVENT;
}

static bool has_msg(enum vici_packet_type t)
{
	return t == VICI_CMD_REQUEST || t == VICI_CMD_RESPONSE || t == VICI_EVENT;
}

int vici_packet_encode(enum vici_packet_type type, const char *name, const struct vici_msg *m,
		       uint8_t **ret, size_t *ret_len)
{
	size_t size = 1, o = 0;
	uint8_t *b;

	if ((unsigned)type > VICI_EVENT)
		return -EINVAL;
	if (has_name(type)) {
		if (!name_ok(name))
			return -EINVAL;
		size += 1 + strlen(name);
	}
	if (m && has_msg(type)) {
		if (m->bad || m->depth || m->in_list)
			return -EINVAL;
		for (size_t i = 0; i < m->n; i++)
			size += elem_size(&m->v[i]);
	}
	if (size > VICI_FRAME_MAX)
		return -EINVAL;
	b = malloc(4 + size);
	if (!b)
		return -ENOMEM;
	b[o++] = (uint8_t)(size >> 24);
	b[o++] = (uint8_t)(size >> 16);
	b[o++] = (uint8_t)(size >> 8);
	b[o++] = (uint8_t)size;
	b[o++] = (uint8_t)type;
	if (has_name(type)) {
		size_t len = strlen(name);

		b[o++] = (uint8_t)len;
		memcpy(b + o, name, len);
		o += len;
	}
	if (m && has_msg(type)) {
		for (size_t i = 0; i < m->n; i++) {
			const struct vici_elem *e = &m->v[i];

			b[o++] = (uint8_t)e->type;
			if (e->type == VICI_SECTION_START || e->type == VICI_LIST_START || e->type == VICI_KEY_VALUE) {
				size_t len = strlen(e->name);

				b[o++] = (uint8_t)len;
				memcpy(b + o, e->name, len);
				o += len;
			}
			if (e->type == VICI_KEY_VALUE || e->type == VICI_LIST_ITEM) {
				b[o++] = (uint8_t)(e->len >> 8);
				b[o++] = (uint8_t)e->len;
				if (e->len)
					memcpy(b + o, e->value, e->len);
				o += e->len;
			}
		}
	}
	*ret = b;
	*ret_len = o;
	return 0;
}

long vici_frame_len(const uint8_t *buf, size_t len)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	if (n > VICI_FRAME_MAX)
		return -EMSGSIZE;
	if (len < 4 + (size_t)n)
		return 0;
	return 4 + (long)n;
}

/* ------------------------------------------------------------------ */
/* Decode                                                              */
/* ------------------------------------------------------------------ */

static int decode_msg(const uint8_t *b, size_t len, struct vici_msg *m)
{
	size_t o = 0;
	int depth = 0, r;
	bool in_list = false;

	while (o < len) {
		enum vici_elem_type t = b[o++];
		const char *name = NULL;
		size_t name_len = 0, vlen = 0;
		const uint8_t *val = NULL;

		if (t == VICI_SECTION_START || t == VICI_LIST_START || t == VICI_KEY_VALUE) {
			if (o >= len)
				return -EBADMSG;
			name_len = b[o++];
			if (name_len == 0 || o + name_len > len)
				return -EBADMSG;
			name = (const char *)b + o;
			if (memchr(name, '\0', name_len))
				return -EBADMSG;
			o += name_len;
		}
		if (t == VICI_KEY_VALUE || t == VICI_LIST_ITEM) {
			if (o + 2 > len)
				return -EBADMSG;
			vlen = (size_t)b[o] << 8 | b[o + 1];
			o += 2;
			if (o + vlen > len)
				return -EBADMSG;
			val = b + o;
			o += vlen;
		}
		switch (t) {
		case VICI_SECTION_START:
			if (in_list || ++depth > VICI_DEPTH_MAX)
				return -EBADMSG;
			break;
		case VICI_SECTION_END:
			if (in_list || depth-- == 0)
				return -EBADMSG;
			break;
		case VICI_KEY_VALUE:
			if (in_list)
				return -EBADMSG;
			break;
		case VICI_LIST_START:
			if (in_list)
				return -EBADMSG;
			in_list = true;
			break;
		case VICI_LIST_ITEM:
			if (!in_list)
				return -EBADMSG;
			break;
		case VICI_LIST_END:
			if (!in_list)
				return -EBADMSG;
			in_list = false;
			break;
		default:
			return -EBADMSG;
		}
		if ((r = push(m, t, name, name_len, val, vlen)) < 0)
			return r;
	}
	if (depth || in_list)
		return -EBADMSG;
	return 0;
}

int vici_packet_decode(const uint8_t *buf, size_t len, struct vici_packet *p)
{
	size_t o = 0;
	int r;

	memset(p, 0, sizeof(*p));
	vici_msg_init(&p->msg);
	if (len < 1 || buf[0] > VICI_EVENT)
		return -EBADMSG;
	p->type = buf[o++];
	if (has_name(p->type)) {
		size_t n;

		if (o >= len)
			return -EBADMSG;
		n = buf[o++];
		if (n == 0 || o + n > len || memchr(buf + o, '\0', n))
			return -EBADMSG;
		memcpy(p->name, buf + o, n);
		p->name[n] = '\0';
		o += n;
	}
	if (!has_msg(p->type))
		return o == len ? 0 : -EBADMSG;
	r = decode_msg(buf + o, len - o, &p->msg);
	if (r < 0)
		vici_msg_free(&p->msg);
	return r;
}

void vici_packet_free(struct vici_packet *p)
{
	vici_msg_free(&p->msg);
}

/* ------------------------------------------------------------------ */
/* Lookup                                                              */
/* ------------------------------------------------------------------ */

/* Index after the END of the section/list starting at i */
static size_t skip(const struct vici_msg *m, size_t i)
{
	int depth = 0;

	for (; i < m->n; i++) {
		enum vici_elem_type t = m->v[i].type;

		if (t == VICI_SECTION_START || t == VICI_LIST_START)
			depth++;
		else if (t == VICI_SECTION_END || t == VICI_LIST_END)
			depth--;
		if (depth == 0)
			return i + 1;
	}
	return m->n;
}

long vici_next_child(const struct vici_msg *m, long sec, long *pos)
{
	size_t i = (size_t)*pos;

	(void)sec;
	while (i < m->n) {
		const struct vici_elem *e = &m->v[i];

		if (e->type == VICI_SECTION_END) /* end of the parent */
			break;
		if (e->type == VICI_SECTION_START) {
			*pos = (long)skip(m, i);
			return (long)i;
		}
		if (e->type == VICI_LIST_START)
			i = skip(m, i);
		else
			i++;
	}
	*pos = (long)m->n;
	return -1;
}

const char *vici_get_in(const struct vici_msg *m, long sec, const char *key)
{
	size_t i = (size_t)(sec + 1);

	while (i < m->n) {
		const struct vici_elem *e = &m->v[i];

		if (e->type == VICI_SECTION_END)
			break;
		if (e->type == VICI_KEY_VALUE && !strcmp(e->name, key))
			return (const char *)e->value;
		if (e->type == VICI_SECTION_START || e->type == VICI_LIST_START)
			i = skip(m, i);
		else
			i++;
	}
	return NULL;
}

long vici_find_section(const struct vici_msg *m, const char *path)
{
	long sec = -1;

	while (*path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		long pos = sec + 1, c;

		for (;;) {
			c = vici_next_child(m, sec, &pos);
			if (c < 0)
				return -2;
			if (strlen(m->v[c].name) == len && !memcmp(m->v[c].name, path, len))
				break;
		}
		sec = c;
		path += len;
		if (*path == '/')
			path++;
	}
	return sec;
}

const char *vici_get(const struct vici_msg *m, const char *path, const char *key)
{
	long sec = vici_find_section(m, path);

	if (sec < -1)
		return NULL;
	return vici_get_in(m, sec, key);
}

/* ------------------------------------------------------------------ */
/* Print                                                               */
/* ------------------------------------------------------------------ */

static void print_value(const struct vici_elem *e, FILE *out, bool secret)
{
	bool text = true;

	if (secret) {
		fputs("<secret>", out);
		return;
	}
	for (size_t i = 0; i < e->len; i++)
		if (e->value[i] < 0x20 || e->value[i] > 0x7e)
			text = false;
	if (text) {
		fwrite(e->value, 1, e->len, out);
		return;
	}
	fputs("0x", out);
	for (size_t i = 0; i < e->len; i++)
		fprintf(out, "%02x", e->value[i]);
}

static bool is_secret(const char *name, const char *const *keys)
{
	for (; keys && *keys; keys++)
		if (!strcmp(name, *keys))
			return true;
	return false;
}

void vici_msg_print(const struct vici_msg *m, FILE *out, const char *const *secret_keys)
{
	int depth = 0;
	bool first = true;

	for (size_t i = 0; i < m->n; i++) {
		const struct vici_elem *e = &m->v[i];

		switch (e->type) {
		case VICI_SECTION_START:
			fprintf(out, "%*s%s {\n", depth * 2, "", e->name);
			depth++;
			break;
		case VICI_SECTION_END:
			depth--;
			fprintf(out, "%*s}\n", depth * 2, "");
			break;
		case VICI_KEY_VALUE:
			fprintf(out, "%*s%s = ", depth * 2, "", e->name);
			print_value(e, out, is_secret(e->name, secret_keys));
			fputc('\n', out);
			break;
		case VICI_LIST_START:
			fprintf(out, "%*s%s = [", depth * 2, "", e->name);
			first = true;
			break;
		case VICI_LIST_ITEM:
			fputs(first ? "" : ", ", out);
			print_value(e, out, false);
			first = false;
			break;
		case VICI_LIST_END:
			fputs("]\n", out);
			break;
		}
	}
}
