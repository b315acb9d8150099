/* SPDX-License-Identifier: MIT */
/*
 * Test tool (not installed): load the IPsec tunnels of a configuration
 * into a running charon over VICI, as the daemon would (load-shared,
 * load-conn), then list-conns; prints charon's answer per tunnel and exits
 * 0 only if charon accepted every connection.  So the translation is
 * judged by charon itself, without the kernel's ESP.
 *   vici-load SOCKET CONFIG [unload]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "ipsec/conn.h"
#include "ipsec/vici.h"

static int fd = -1;

static int xfer(enum vici_packet_type type, const char *name, const struct vici_msg *m, struct vici_packet *p)
{
	uint8_t *b, hdr[4], *body;
	size_t len, got = 0;
	long n;

	if (vici_packet_encode(type, name, m, &b, &len) < 0)
		return -EINVAL;
	if (write(fd, b, len) != (ssize_t)len) {
		free(b);
		return -EIO;
	}
	free(b);
	for (;;) { /* skip events (none registered: none expected) */
		got = 0;
		while (got < 4) {
			ssize_t r = read(fd, hdr + got, 4 - got);

			if (r <= 0)
				return -EIO;
			got += (size_t)r;
		}
		n = (long)((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3]);
		if (n > VICI_FRAME_MAX)
			return -EMSGSIZE;
		body = malloc((size_t)n + 1);
		for (got = 0; got < (size_t)n;) {
			ssize_t r = read(fd, body + got, (size_t)n - got);

			if (r <= 0) {
				free(body);
				return -EIO;
			}
			got += (size_t)r;
		}
		if (vici_packet_decode(body, (size_t)n, p) < 0) {
			free(body);
			return -EBADMSG;
		}
		free(body);
		if (p->type != VICI_EVENT)
			return 0;
		vici_packet_free(p);
	}
}

static int cmd(const char *name, const struct vici_msg *m, unsigned id)
{
	struct vici_packet p;
	const char *ok, *err;
	int r = xfer(VICI_CMD_REQUEST, name, m, &p);

	if (r < 0) {
		printf("tunnel %u: %s: transport error %s\n", id, name, strerror(-r));
		return 1;
	}
	ok = vici_get(&p.msg, "", "success");
	err = vici_get(&p.msg, "", "errmsg");
	printf("tunnel %u: %s: %s%s%s\n", id, name, ok && !strcmp(ok, "yes") ? "accepted" : "REFUSED",
	       err ? ": " : "", err ? err : "");
	r = !(ok && !strcmp(ok, "yes"));
	vici_packet_free(&p);
	return r;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cfg_diags d = { 0 };
	struct cfg *c = NULL;
	int bad = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: vici-load SOCKET CONFIG [unload]\n");
		return 2;
	}
	if (cfg_load_file(argv[2], &c, &d) < 0) {
		fprintf(stderr, "%s: configuration has errors\n", argv[2]);
		return 2;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror(argv[1]);
		return 2;
	}
	for (size_t i = 0; i < c->n_tunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];
		struct vici_msg m;
		char name[IPSEC_CONN_NAME_MAX];

		if (!t->ipsec.on || !t->ipsec.resolved)
			continue;
		ipsec_conn_name(t->id, name, sizeof(name));
		vici_msg_init(&m);
		if (argc > 3 && !strcmp(argv[3], "unload")) {
			vici_kv(&m, "name", name);
			bad |= cmd("unload-conn", &m, t->id);
			vici_msg_free(&m);
			continue;
		}
		ipsec_shared_build(t, &m);
		bad |= cmd("load-shared", &m, t->id);
		vici_msg_free(&m);
		vici_msg_init(&m);
		ipsec_conn_build(t, &m);
		bad |= cmd("load-conn", &m, t->id);
		vici_msg_free(&m);
	}
	close(fd);
	cfg_free(c);
	cfg_diags_free(&d);
	return bad;
}
