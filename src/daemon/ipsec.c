/* SPDX-License-Identifier: MIT */
/*
 * L2TPv3/IPsec glue (see ipsec.h): one VICI connection to charon over its
 * UNIX socket, a queue of commands (VICI allows one at a time on a
 * connection), the event streams ike-updown, child-updown, ike-rekey,
 * child-rekey, log and list-sa.  The SA state of every IPsec tunnel comes
 * from list-sas, run after every up/down/rekey event and every
 * IPSEC_POLL_S seconds; a change of its CHILD SA starts or stops the
 * tunnel's L2TP control connection.
 *
 * If the kernel has no ESP (probed once with an XFRM_MSG_NEWSA of a
 * throw-away SA), or charon cannot be reached, one error is logged and
 * kept for status; the IPsec tunnels stay down, the others run.  Without
 * ESP the connections are still loaded: IKE needs no ESP, so its state and
 * its failures (wrong key, proposals, identities) are still shown, but no
 * CHILD SA can be installed and L2TP never starts.  The daemon retries
 * charon every IPSEC_RETRY_S seconds, so starting or restarting strongSwan
 * later just works.
 */
#include "daemon/ipsec.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/reresolve.h"
#include "daemon/resolve.h"
#include "daemon/xfrmblock.h"
#include "ipsec/conn.h"
#include "ipsec/vici.h"

#define IPSEC_RETRY_S 5 /* charon unreachable: try again */
/* A CHILD SA gone while an IKE SA of the connection is still there
 * (ESTABLISHED; or DELETING, the old one of an IKEv2 IKE rekey, while
 * the new one that adopted the children is not listed yet) is a rekey
 * or an IKEv1 reauthentication in progress (charon adopts the children
 * into the new IKE SA a moment later): looked at again every
 * IPSEC_RECHECK_MS, declared down only after IPSEC_DOWN_GRACE_MS. */
#define IPSEC_RECHECK_MS 500
#define IPSEC_DOWN_GRACE_MS 3000
#define IPSEC_POLL_S 10 /* list-sas for counters and missed events */
#define REFUSE_LOG_MS 10000 /* one line per tunnel per 10 s about clear text */

enum fail_reason {
	FAIL_PSK,
	FAIL_PROPOSAL,
	FAIL_UNREACHABLE,
	FAIL_IDENTITY,
	FAIL_AGGRESSIVE,
	FAIL_OTHER,
	FAIL_N,
};

static const char *const fail_names[FAIL_N] = {
	[FAIL_PSK] = "authentication_failed",
	[FAIL_PROPOSAL] = "no_proposal_chosen",
	[FAIL_UNREACHABLE] = "peer_unreachable",
	[FAIL_IDENTITY] = "identity_mismatch",
	[FAIL_AGGRESSIVE] = "aggressive_mode_psk_refused",
	[FAIL_OTHER] = "other",
};

struct sa_info {
	bool ike_up; /* an IKE SA in state ESTABLISHED */
	unsigned long long ike_uid; /* charon's uniqueid of that IKE SA */
	char ike_state[24];
	bool child_up; /* a CHILD SA of ours INSTALLED */
	char child_state[24], child_name[24];
	struct sockaddr_storage remote; /* remote-host, port 0 */
	unsigned remote_port; /* IKE's, 500 or the NAT'd 4500 */
	bool nat_local, nat_remote, encap;
	char ike_algs[96], esp_algs[96];
	char spi_in[12], spi_out[12];
	char local_ts[64], remote_ts[64];
	unsigned long long bytes_in, bytes_out, packets_in, packets_out;
	long ike_rekey_s, child_rekey_s, child_life_s;
	uint64_t gone_ms; /* a hub's branch: its CHILD SA missing since (IPSEC_DOWN_GRACE_MS) */
};

/* One IPsec tunnel as charon knows it */
struct its {
	unsigned id;
	bool want; /* in the running configuration as an IPsec tunnel */
	bool loaded; /* load-conn accepted */
	char error[256]; /* charon's answer to load-conn, "" = none */
	struct sa_info cur, next;
	uint64_t child_ups, ike_rekeys, child_rekeys;
	uint64_t fails[FAIL_N];
	char last_failure[256];
	uint64_t refused; /* packets not from the SA */
	uint64_t refuse_log_ms;
	uint64_t fail_log_ms;
	uint64_t initiate_ms; /* last initiate sent */
	uint64_t no_ike_ms; /* first listed without any IKE SA since, 0 = it has one */
	uint64_t gone_ms; /* its CHILD SA was last seen missing since, under an IKE SA (IPSEC_DOWN_GRACE_MS) */
	/* `ipsec ike remote address GW HOST`: the daemon resolves HOST every
	 * `ipsec resolve interval` and re-targets the connection when the
	 * address changes (resolve_tick, resolved) */
	char host[CFG_IPSEC_NAME_MAX + 1]; /* the name rr is about, "" = none */
	struct rr_state rr;
	bool resolving; /* a lookup in flight */
	struct sockaddr_storage target; /* the address charon was given before the name (AF_UNSPEC: none) */
	/* `l2tp hub on`: one connection, one SA per branch (by its public
	 * address); cur is then the first branch's, child_up = any is up */
	bool hub;
	struct sa_info *br, *br_next;
	size_t n_br, n_br_next, cap_br, cap_br_next;
};

struct cmd;
typedef void cmd_done_fn(struct daemon *d, struct cmd *c, const struct vici_packet *p);

struct cmd {
	struct cmd *next;
	enum vici_packet_type type;
	char name[32];
	unsigned tunnel;
	cmd_done_fn *done;
	uint8_t *buf;
	size_t len;
};

struct ipsec_mgr {
	struct daemon *d;
	char path[CFG_IPSEC_VICI_MAX + 1];
	struct bufferevent *bev;
	bool connected;
	struct event *retry, *poll;
	struct event *recheck; /* list-sas again soon: a CHILD SA in its grace (IPSEC_DOWN_GRACE_MS) */
	char error[320]; /* charon unreachable..., "" = fine */
	char esp_error[256]; /* the kernel has no ESP, "" = fine */
	int esp; /* 1 = ESP works, 0 = absent, -1 = unknown */
	struct cmd *head, *tail;
	bool in_flight;
	bool listing; /* a list-sas is in flight */
	bool list_queued;
	struct its *ts;
	size_t n_ts;
	uint64_t connects, disconnects, refused_total;
	struct resolver *res; /* host name lookups off the loop (resolve.h) */
	struct event *resolve_tick; /* every second: names due for a lookup */
	/* the peers whose L2TP the kernel blocks below charon's policies
	 * (xfrmblock.h): one per tunnel, one per branch of a hub */
	struct blocked {
		unsigned id;
		struct sockaddr_storage addr;
		unsigned port;
	} *blk;
	size_t n_blk, cap_blk;
	uint64_t block_errors;
};

static struct ipsec_mgr *mgr_of(const struct daemon *d)
{
	return d->ipsec;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct its *its_find(struct ipsec_mgr *m, unsigned id)
{
	for (size_t i = 0; i < m->n_ts; i++)
		if (m->ts[i].id == id)
			return &m->ts[i];
	return NULL;
}

static struct its *its_get(struct ipsec_mgr *m, unsigned id)
{
	struct its *s = its_find(m, id), *v;

	if (s)
		return s;
	v = realloc(m->ts, (m->n_ts + 1) * sizeof(*v));
	if (!v)
		return NULL;
	m->ts = v;
	s = &m->ts[m->n_ts++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	return s;
}

static bool cfg_wants(const struct cfg *c, const struct cfg_tunnel *t)
{
	return c->service_on && t->enabled && t->line && t->ipsec.on && t->ipsec.resolved;
}

/* ------------------------------------------------------------------ */
/* ESP probe                                                           */
/* ------------------------------------------------------------------ */

struct nlreq {
	struct nlmsghdr n;
	union {
		struct xfrm_usersa_info sa;
		struct xfrm_usersa_id id;
	} u;
	char attrs[512];
};

static void add_alg(struct nlreq *r, size_t *off, unsigned short type, const char *name, unsigned bits)
{
	struct nlattr *a = (struct nlattr *)((char *)r + *off);
	struct xfrm_algo *alg = (struct xfrm_algo *)((char *)a + NLA_HDRLEN);
	size_t len = NLA_HDRLEN + sizeof(*alg) + bits / 8;

	memset(a, 0, NLA_ALIGN(len));
	a->nla_type = type;
	a->nla_len = (unsigned short)len;
	snprintf(alg->alg_name, sizeof(alg->alg_name), "%s", name);
	alg->alg_key_len = bits;
	memset(alg->alg_key, 0x5a, bits / 8);
	*off += NLA_ALIGN(len);
}

/* 0 = acknowledged, else -errno */
static int nl_xfrm(int fd, struct nlreq *r)
{
	char buf[4096];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	if (send(fd, r, r->n.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < NLMSG_HDRLEN + sizeof(struct nlmsgerr) || h->nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

/*
 * Can the kernel do ESP?  Adds a transport-mode ESP SA with AES-CBC and
 * HMAC-SHA1 between two TEST-NET-1 addresses (no policy: it carries
 * nothing) and deletes it.  1 yes, 0 no (err says why), -1 unknown.
 */
static int esp_probe(char *err, size_t errlen)
{
	struct nlreq r;
	size_t off;
	uint32_t spi;
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);
	if (fd < 0) {
		snprintf(err, errlen, "the kernel has no XFRM (netlink XFRM: %s)", strerror(errno));
		return errno == EPROTONOSUPPORT ? 0 : -1;
	}
	spi = 0xc0000000u | ((uint32_t)getpid() << 8) | (uint32_t)(mono_ms() & 0xff);
	memset(&r, 0, sizeof(r));
	r.n.nlmsg_type = XFRM_MSG_NEWSA;
	r.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	r.u.sa.family = AF_INET;
	r.u.sa.sel.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.254", &r.u.sa.saddr.a4);
	inet_pton(AF_INET, "192.0.2.253", &r.u.sa.id.daddr.a4);
	r.u.sa.id.spi = htonl(spi);
	r.u.sa.id.proto = IPPROTO_ESP;
	r.u.sa.mode = XFRM_MODE_TRANSPORT;
	r.u.sa.lft.soft_byte_limit = XFRM_INF;
	r.u.sa.lft.hard_byte_limit = XFRM_INF;
	r.u.sa.lft.soft_packet_limit = XFRM_INF;
	r.u.sa.lft.hard_packet_limit = XFRM_INF;
	off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(r.u.sa));
	add_alg(&r, &off, XFRMA_ALG_CRYPT, "cbc(aes)", 128);
	add_alg(&r, &off, XFRMA_ALG_AUTH, "hmac(sha1)", 160);
	r.n.nlmsg_len = (unsigned)off;
	rc = nl_xfrm(fd, &r);
	if (rc == 0) {
		memset(&r, 0, sizeof(r));
		r.n.nlmsg_type = XFRM_MSG_DELSA;
		r.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		inet_pton(AF_INET, "192.0.2.253", &r.u.id.daddr.a4);
		r.u.id.spi = htonl(spi);
		r.u.id.family = AF_INET;
		r.u.id.proto = IPPROTO_ESP;
		r.n.nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(r.u.id));
		(void)nl_xfrm(fd, &r);
		close(fd);
		return 1;
	}
	close(fd);
	if (rc == -EPROTONOSUPPORT) {
		snprintf(err, errlen, "the kernel has no ESP (CONFIG_INET_ESP unset and no esp4 module): "
			 "the kernel refused an ESP SA (%s)", strerror(-rc));
		return 0;
	}
	if (rc == -ENOSYS || rc == -ENOENT) {
		snprintf(err, errlen, "the kernel lacks AES-CBC or HMAC-SHA1 for ESP (%s)", strerror(-rc));
		return 0;
	}
	snprintf(err, errlen, "could not check the kernel's ESP: %s", strerror(-rc));
	return -1;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static void send_next(struct ipsec_mgr *m);
static void disconnect(struct ipsec_mgr *m, const char *why);
static void list_begin(struct ipsec_mgr *m);

static void cmd_free(struct cmd *c)
{
	free(c->buf);
	free(c);
}

static void queue(struct ipsec_mgr *m, enum vici_packet_type type, const char *name, const struct vici_msg *msg,
		  unsigned tunnel, cmd_done_fn *done)
{
	struct cmd *c = calloc(1, sizeof(*c));

	if (!c || vici_packet_encode(type, name, msg, &c->buf, &c->len) < 0) {
		log_warnx("ipsec: cannot encode VICI %s (tunnel %u)", name, tunnel);
		free(c);
		return;
	}
	c->type = type;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->tunnel = tunnel;
	c->done = done;
	if (m->tail)
		m->tail->next = c;
	else
		m->head = c;
	m->tail = c;
	send_next(m);
}

static void send_next(struct ipsec_mgr *m)
{
	struct cmd *c = m->head;

	if (!m->connected || m->in_flight || !c)
		return;
	m->in_flight = true;
	if (!strcmp(c->name, "list-sas"))
		list_begin(m);
	bufferevent_write(m->bev, c->buf, c->len);
}

static void drop_queue(struct ipsec_mgr *m)
{
	while (m->head) {
		struct cmd *c = m->head;

		m->head = c->next;
		cmd_free(c);
	}
	m->tail = NULL;
	m->in_flight = false;
	m->listing = false;
	m->list_queued = false;
}

/* success = yes, or errmsg */
static const char *reply_error(const struct vici_packet *p)
{
	const char *ok, *msg;

	if (p->type == VICI_CMD_UNKNOWN)
		return "charon does not know this command";
	ok = vici_get(&p->msg, "", "success");
	if (ok && !strcmp(ok, "yes"))
		return NULL;
	msg = vici_get(&p->msg, "", "errmsg");
	return msg ? msg : "failed";
}

static void done_register(struct daemon *d, struct cmd *c, const struct vici_packet *p)
{
	(void)d;
	if (p->type != VICI_EVENT_CONFIRM)
		log_warnx("ipsec: charon refused the %s event registration", c->name);
}

static void done_generic(struct daemon *d, struct cmd *c, const struct vici_packet *p)
{
	const char *e = reply_error(p);

	(void)d;
	if (e)
		log_warnx("ipsec: tunnel %u: %s: %s", c->tunnel, c->name, e);
}

static void done_load_conn(struct daemon *d, struct cmd *c, const struct vici_packet *p)
{
	struct its *s = its_find(mgr_of(d), c->tunnel);
	const char *e = reply_error(p);

	if (!s)
		return;
	if (e) {
		s->loaded = false;
		snprintf(s->error, sizeof(s->error), "charon refused the connection: %s", e);
		log_warnx("ipsec: tunnel %u: %s", c->tunnel, s->error);
		return;
	}
	s->loaded = true;
	s->error[0] = '\0';
	log_info("ipsec: tunnel %u: connection " IPSEC_CONN_PREFIX "%u loaded into charon", c->tunnel, c->tunnel);
}

static void tunnel_msg(struct vici_msg *msg, const char *key, unsigned id, bool shared)
{
	char name[IPSEC_CONN_NAME_MAX + 8];

	if (shared)
		ipsec_shared_id(id, name, sizeof(name));
	else
		ipsec_conn_name(id, name, sizeof(name));
	vici_kv(msg, key, name);
}

static void load_tunnel(struct ipsec_mgr *m, const struct cfg_tunnel *t)
{
	struct vici_msg msg;

	vici_msg_init(&msg);
	if (ipsec_shared_build(t, &msg) == 0)
		queue(m, VICI_CMD_REQUEST, "load-shared", &msg, t->id, done_generic);
	vici_msg_free(&msg);
	vici_msg_init(&msg);
	{
		struct its *s = its_find(m, t->id);
		const struct sockaddr_storage *to = NULL;

		if (s && s->rr.have && t->ipsec.gw.remote_host[0] && !strcmp(s->host, t->ipsec.gw.remote_host))
			to = &s->rr.addr;
		if (s)
			memset(&s->target, 0, sizeof(s->target));
		if (s && to)
			s->target = *to;
		if (ipsec_conn_build_to(t, to, &msg) == 0)
			queue(m, VICI_CMD_REQUEST, "load-conn", &msg, t->id, done_load_conn);
	}
	vici_msg_free(&msg);
}

static void sa_changed(struct ipsec_mgr *m, struct its *s, bool was_up);

/* s's connection is no longer loaded and none of its SAs can be trusted
 * to exist (a hub's branches included): its tunnel, if still wanted,
 * stops now (sa_changed) */
static void its_forget_sas(struct ipsec_mgr *m, struct its *s)
{
	bool was = s->cur.child_up;

	memset(&s->cur, 0, sizeof(s->cur));
	s->n_br = 0; /* a hub's instances: all lost with the hub (tunnel_ipsec_lost) */
	s->loaded = false;
	if (s->want)
		sa_changed(m, s, was);
}

/* Unload a tunnel's connection and close its SAs.  Its SA counts as down
 * from here, not from the next listing: charon removes the kernel's
 * policies with the connection, and an L2TP message sent before the
 * listing would leave in clear text (fsm_send_cb sends only while
 * ipsec_tunnel_ready). */
static void unload_tunnel(struct ipsec_mgr *m, unsigned id)
{
	struct vici_msg msg;
	struct its *s = its_find(m, id);

	if (s)
		its_forget_sas(m, s);
	vici_msg_init(&msg);
	tunnel_msg(&msg, "name", id, false);
	queue(m, VICI_CMD_REQUEST, "unload-conn", &msg, id, done_generic);
	vici_msg_free(&msg);
	vici_msg_init(&msg);
	tunnel_msg(&msg, "ike", id, false);
	vici_kv(&msg, "timeout", "-1");
	queue(m, VICI_CMD_REQUEST, "terminate", &msg, id, NULL);
	vici_msg_free(&msg);
	vici_msg_init(&msg);
	tunnel_msg(&msg, "id", id, true);
	queue(m, VICI_CMD_REQUEST, "unload-shared", &msg, id, NULL);
	vici_msg_free(&msg);
}

static void done_list(struct daemon *d, struct cmd *c, const struct vici_packet *p);

static void list_sas(struct ipsec_mgr *m)
{
	struct vici_msg msg;

	if (m->list_queued || !m->connected)
		return;
	m->list_queued = true;
	vici_msg_init(&msg);
	queue(m, VICI_CMD_REQUEST, "list-sas", &msg, 0, done_list);
	vici_msg_free(&msg);
}

/* ------------------------------------------------------------------ */
/* SA state                                                            */
/* ------------------------------------------------------------------ */

static void list_begin(struct ipsec_mgr *m)
{
	m->listing = true;
	m->list_queued = false;
	for (size_t i = 0; i < m->n_ts; i++) {
		memset(&m->ts[i].next, 0, sizeof(m->ts[i].next));
		m->ts[i].n_br_next = 0;
	}
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static bool yes(const char *v)
{
	return v && !strcmp(v, "yes");
}

static unsigned long long num(const char *v)
{
	return v ? strtoull(v, NULL, 10) : 0;
}

static void algs(char *dst, size_t len, const struct vici_msg *msg, long sec)
{
	const char *e = vici_get_in(msg, sec, "encr-alg"), *k = vici_get_in(msg, sec, "encr-keysize");
	const char *i = vici_get_in(msg, sec, "integ-alg"), *g = vici_get_in(msg, sec, "dh-group");

	snprintf(dst, len, "%s%s%s%s%s%s%s", e ? e : "", k ? "-" : "", k ? k : "", i ? "/" : "", i ? i : "",
		 g ? "/" : "", g ? g : "");
}

/* The first list item of list `name` in section sec */
static void first_item(char *dst, size_t len, const struct vici_msg *msg, long sec, const char *name)
{
	long pos = sec + 1;

	dst[0] = '\0';
	while ((size_t)pos < msg->n && msg->v[pos].type != VICI_SECTION_END) {
		const struct vici_elem *e = &msg->v[pos];

		if (e->type == VICI_LIST_START && !strcmp(e->name, name)) {
			if ((size_t)pos + 1 < msg->n && msg->v[pos + 1].type == VICI_LIST_ITEM)
				copy(dst, len, (const char *)msg->v[pos + 1].value);
			return;
		}
		if (e->type == VICI_SECTION_START || e->type == VICI_LIST_START) {
			int depth = 0;

			do {
				if (msg->v[pos].type == VICI_SECTION_START || msg->v[pos].type == VICI_LIST_START)
					depth++;
				else if (msg->v[pos].type == VICI_SECTION_END || msg->v[pos].type == VICI_LIST_END)
					depth--;
				pos++;
			} while ((size_t)pos < msg->n && depth > 0);
		} else {
			pos++;
		}
	}
}

static void hub_take(struct its *s, const struct vici_msg *msg, long sec);

/* One IKE SA of a list-sa event into s->next */
static void take_ike_sa(struct its *s, const struct vici_msg *msg, long sec)
{
	struct sa_info *n = &s->next;
	const char *state = vici_get_in(msg, sec, "state"), *host = vici_get_in(msg, sec, "remote-host");
	bool up = state && !strcmp(state, "ESTABLISHED");
	long kids, pos, c;

	if (s->hub) {
		hub_take(s, msg, sec);
		return;
	}
	if (n->child_up)
		return; /* already have one with a CHILD SA up */
	if (n->ike_up && !up)
		return;
	memset(n, 0, sizeof(*n));
	n->ike_up = up;
	n->ike_uid = num(vici_get_in(msg, sec, "uniqueid"));
	copy(n->ike_state, sizeof(n->ike_state), state);
	if (host) {
		struct sockaddr_in *a = (struct sockaddr_in *)&n->remote;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&n->remote;

		if (inet_pton(AF_INET, host, &a->sin_addr) == 1)
			a->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1)
			a6->sin6_family = AF_INET6;
	}
	n->remote_port = (unsigned)num(vici_get_in(msg, sec, "remote-port"));
	n->nat_local = yes(vici_get_in(msg, sec, "nat-local"));
	n->nat_remote = yes(vici_get_in(msg, sec, "nat-remote"));
	algs(n->ike_algs, sizeof(n->ike_algs), msg, sec);
	n->ike_rekey_s = (long)num(vici_get_in(msg, sec, "rekey-time"));
	kids = -2;
	pos = sec + 1;
	while ((c = vici_next_child(msg, sec, &pos)) >= 0)
		if (!strcmp(msg->v[c].name, "child-sas"))
			kids = c;
	if (kids < 0)
		return;
	pos = kids + 1;
	while ((c = vici_next_child(msg, kids, &pos)) >= 0) {
		const char *cs = vici_get_in(msg, c, "state"), *cn = vici_get_in(msg, c, "name");

		if (!cn || (strcmp(cn, IPSEC_CHILD_UDP) && strcmp(cn, IPSEC_CHILD_HOST)))
			continue;
		if (n->child_up)
			continue;
		copy(n->child_state, sizeof(n->child_state), cs);
		copy(n->child_name, sizeof(n->child_name), cn);
		n->child_up = cs && !strcmp(cs, "INSTALLED");
		n->encap = yes(vici_get_in(msg, c, "encap"));
		copy(n->spi_in, sizeof(n->spi_in), vici_get_in(msg, c, "spi-in"));
		copy(n->spi_out, sizeof(n->spi_out), vici_get_in(msg, c, "spi-out"));
		algs(n->esp_algs, sizeof(n->esp_algs), msg, c);
		n->bytes_in = num(vici_get_in(msg, c, "bytes-in"));
		n->bytes_out = num(vici_get_in(msg, c, "bytes-out"));
		n->packets_in = num(vici_get_in(msg, c, "packets-in"));
		n->packets_out = num(vici_get_in(msg, c, "packets-out"));
		n->child_rekey_s = (long)num(vici_get_in(msg, c, "rekey-time"));
		n->child_life_s = (long)num(vici_get_in(msg, c, "life-time"));
		first_item(n->local_ts, sizeof(n->local_ts), msg, c, "local-ts");
		first_item(n->remote_ts, sizeof(n->remote_ts), msg, c, "remote-ts");
	}
}

static void on_list_sa(struct ipsec_mgr *m, const struct vici_msg *msg)
{
	long pos = 0, c;

	while ((c = vici_next_child(msg, -1, &pos)) >= 0) {
		struct its *s = its_find(m, ipsec_conn_tunnel(msg->v[c].name));

		if (s && m->listing)
			take_ike_sa(s, msg, c);
	}
}

void tunnel_ipsec_lost(struct tunnel *t); /* tunnel.c */

static void host_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (!sockaddr_ntop(ss, buf, len))
		buf[0] = '\0';
}

static bool blk_addr_used(const struct ipsec_mgr *m, const struct sockaddr_storage *a, unsigned port)
{
	for (size_t i = 0; i < m->n_blk; i++)
		if (m->blk[i].port == port && sockaddr_same_host(&m->blk[i].addr, a))
			return true;
	return false;
}

/* Entry i goes; its policies too unless another tunnel blocks that peer */
static void blk_remove(struct ipsec_mgr *m, size_t i)
{
	struct blocked b = m->blk[i];
	int r;

	m->blk[i] = m->blk[--m->n_blk];
	if (blk_addr_used(m, &b.addr, b.port))
		return;
	r = xfrmblock_del(&b.addr, b.port);
	if (r < 0 && r != -ENOENT) {
		char a[64];

		host_str(&b.addr, a, sizeof(a));
		log_warnx("ipsec: tunnel %u: cannot remove the kernel's block policies for L2TP with %s: %s", b.id, a,
			  strerror(-r));
	}
}

/* From the first SA up with a peer on, the kernel drops L2TP to and from
 * that peer whenever charon's policies are missing (xfrmblock.h): a
 * tunnel has one such peer (a new one replaces it), a hub one per branch */
static void block_peer(struct ipsec_mgr *m, const struct its *s, const struct sockaddr_storage *peer)
{
	const struct cfg_tunnel *ct = cfg_tunnel_find(m->d->cfg, s->id);
	unsigned port = ct && ct->ipsec.port ? ct->ipsec.port : 1701;
	struct blocked *b;
	char a[64];
	int r;

	if (peer->ss_family != AF_INET && peer->ss_family != AF_INET6)
		return;
	for (size_t i = 0; i < m->n_blk; i++) {
		if (m->blk[i].id != s->id)
			continue;
		if (m->blk[i].port == port && sockaddr_same_host(&m->blk[i].addr, peer))
			return;
		if (!s->hub) {
			blk_remove(m, i);
			break;
		}
	}
	if (m->n_blk == m->cap_blk) {
		size_t cap = m->cap_blk ? 2 * m->cap_blk : 8;
		struct blocked *nb = realloc(m->blk, cap * sizeof(*nb));

		if (!nb)
			fatalx("out of memory");
		m->blk = nb;
		m->cap_blk = cap;
	}
	b = &m->blk[m->n_blk++];
	*b = (struct blocked){ .id = s->id, .addr = *peer, .port = port };
	host_str(peer, a, sizeof(a));
	r = xfrmblock_add(peer, port);
	if (r < 0) {
		m->block_errors++;
		log_warnx("tunnel %u: cannot install the kernel's block policies for L2TP with %s (%s): if charon's "
			  "policies go before the daemon notices, L2TP may leave in clear text",
			  s->id, a, strerror(-r));
	} else {
		log_info("tunnel %u: L2TP with %s port %u blocked by the kernel whenever charon's policies are missing",
			 s->id, a, port);
	}
}

/* s's tunnel is gone or no longer IPsec: its peers' blocks go */
static void unblock_tunnel(struct ipsec_mgr *m, unsigned id)
{
	for (size_t i = m->n_blk; i-- > 0;)
		if (m->blk[i].id == id)
			blk_remove(m, i);
}

static void sa_changed(struct ipsec_mgr *m, struct its *s, bool was_up)
{
	struct tunnel *t = daemon_tunnel_find(m->d, s->id);
	char peer[64];

	if (!was_up && s->cur.child_up) {
		s->child_ups++;
		host_str(&s->cur.remote, peer, sizeof(peer));
		log_notice("tunnel %u: IPsec SA up with %s (IKE %s; ESP %s, SPIs in %s out %s, selectors %s; NAT %s%s)",
			   s->id, peer, s->cur.ike_algs, s->cur.esp_algs, s->cur.spi_in, s->cur.spi_out,
			   s->cur.local_ts, s->cur.nat_local ? "here" : s->cur.nat_remote ? "at the peer" : "none",
			   s->cur.encap ? ", ESP in UDP" : "");
		control_event(m->d, &(struct ctl_event){ .event = "ipsec-up", .tunnel = s->id, .peer = peer });
		block_peer(m, s, &s->cur.remote);
		if (t && !t->peer_index && tunnel_is_idle(t))
			tunnel_start(t);
	} else if (was_up && !s->cur.child_up) {
		log_warnx("tunnel %u: IPsec SA down (%s): its L2TP connection stops", s->id,
			  s->cur.ike_state[0] ? s->cur.ike_state : "no IKE SA");
		s->rr.next_ms = 0; /* the peer's name may have moved: look now */
		control_event(m->d, &(struct ctl_event){ .event = "ipsec-down", .tunnel = s->id });
		if (t)
			tunnel_ipsec_lost(t);
	}
}

static void initiate(struct ipsec_mgr *m, unsigned id)
{
	struct vici_msg msg;

	vici_msg_init(&msg);
	vici_kv(&msg, "child", IPSEC_CHILD_UDP);
	tunnel_msg(&msg, "ike", id, false);
	vici_kv(&msg, "timeout", "-1"); /* answer at once; events tell the outcome */
	queue(m, VICI_CMD_REQUEST, "initiate", &msg, id, NULL);
	vici_msg_free(&msg);
}

/* ------------------------------------------------------------------ */
/* A hub's branches                                                    */
/* ------------------------------------------------------------------ */

/*
 * `l2tp hub on` over IPsec: one connection (remote_addrs %any) under
 * which charon keeps one IKE SA per branch.  Branches are told apart by
 * their SA's public address (the source of what comes out of its ESP):
 * each branch's SA is tracked on its own, and a change of one touches
 * only the hub instance whose peer is that address.
 */

static struct sa_info *branch_find(struct sa_info *v, size_t n, const struct sockaddr_storage *host)
{
	for (size_t i = 0; i < n; i++)
		if (sockaddr_same_host(&v[i].remote, host))
			return &v[i];
	return NULL;
}

/* a hub's connection with one branch (an instance, or a connection beside
 * one: a restarted branch's) whose peer is known: it is that branch's */
static bool branch_conn(const struct tunnel *t)
{
	return (t->peer_index || t->owner) && t->peer_known;
}

/* the branch SA (CHILD SA up) of host, or NULL */
static const struct sa_info *branch_up(const struct its *s, const struct sockaddr_storage *host)
{
	const struct sa_info *b = branch_find(s->br, s->n_br, host);

	return b && b->child_up ? b : NULL;
}

static struct sa_info *branch_add(struct sa_info **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct sa_info *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return NULL;
		*v = nv;
		*cap = c;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

/* One IKE SA of the hub's connection: per remote host, the one with a
 * CHILD SA up wins, then the newest (a branch that restarted has a new
 * IKE SA beside its old one until that one is deleted) */
static void hub_take(struct its *s, const struct vici_msg *msg, long sec)
{
	struct its one;
	struct sa_info *b;

	memset(&one, 0, sizeof(one));
	take_ike_sa(&one, msg, sec);
	if (one.next.remote.ss_family == AF_UNSPEC)
		return;
	b = branch_find(s->br_next, s->n_br_next, &one.next.remote);
	if (b) {
		if (b->child_up && !one.next.child_up)
			return;
		if (b->child_up == one.next.child_up && b->ike_up == one.next.ike_up && b->ike_uid > one.next.ike_uid)
			return;
		if (!one.next.ike_up && b->ike_up)
			return;
	} else if (!(b = branch_add(&s->br_next, &s->n_br_next, &s->cap_br_next))) {
		return;
	}
	*b = one.next;
}

static void hub_lost(struct ipsec_mgr *m, struct its *s, const struct sa_info *o)
{
	struct tunnel *hub = daemon_tunnel_find(m->d, s->id);
	char peer[64];

	host_str(&o->remote, peer, sizeof(peer));
	log_warnx("tunnel %u: IPsec SA of branch %s down (%s): its L2TP connection stops, the other branches' stay",
		  s->id, peer, o->ike_state[0] ? o->ike_state : "no IKE SA");
	control_event(m->d, &(struct ctl_event){ .event = "ipsec-down", .tunnel = s->id, .peer = peer });
	for (size_t i = 0; hub && i < m->d->n_tunnels; i++) {
		struct tunnel *x = m->d->tunnels[i];

		if (x->hub == hub && x->peer_known && sockaddr_same_host(&x->peer, &o->remote))
			tunnel_ipsec_lost(x);
	}
}

/*
 * A branch gone for good no longer needs its block: no IKE SA at its
 * address any more, and no entry or connection of the hub with that peer
 * (its entry's `l2tp hub hold` ran out, or it moved to another address).
 * Else the kernel would keep its policies (xfrmblock.h) for every
 * address a branch ever called from.  Should it call again from there, its SA's coming up puts
 * the block back (block_peer), before any L2TP of its can pass.
 */
static void hub_unblock_gone(struct ipsec_mgr *m, const struct its *s)
{
	const struct tunnel *hub = daemon_tunnel_find(m->d, s->id);
	char a[64];

	if (!hub)
		return;
	for (size_t i = m->n_blk; i-- > 0;) {
		const struct blocked *b = &m->blk[i];
		bool used = false;

		if (b->id != s->id || branch_find(s->br, s->n_br, &b->addr))
			continue;
		for (size_t k = 0; k < m->d->n_tunnels && !used; k++) {
			const struct tunnel *x = m->d->tunnels[k];

			used = (x->hub == hub || (x->owner && x->owner->hub == hub)) && x->peer_known &&
			       sockaddr_same_host(&x->peer, &b->addr);
		}
		if (used)
			continue;
		host_str(&b->addr, a, sizeof(a));
		log_info("tunnel %u: branch %s gone (no IPsec SA, no entry of the hub with it): its L2TP block "
			 "removed",
			 s->id, a);
		blk_remove(m, i);
	}
}

static void hub_done(struct ipsec_mgr *m, struct its *s, uint64_t now)
{
	bool was = s->cur.child_up;
	size_t up = 0;
	char peer[64];

	for (size_t k = 0; k < s->n_br; k++) {
		const struct sa_info *o = &s->br[k];
		struct sa_info *n;

		if (!o->child_up)
			continue;
		n = branch_find(s->br_next, s->n_br_next, &o->remote);
		if (n && n->child_up) {
			if (o->ike_uid && n->ike_uid && n->ike_uid != o->ike_uid) {
				s->ike_rekeys++;
				host_str(&n->remote, peer, sizeof(peer));
				log_info("tunnel %u: branch %s: IPsec IKE SA %llu replaces %llu", s->id, peer,
					 n->ike_uid, o->ike_uid);
			}
			continue;
		}
		if (s->want && n && n->ike_up && (!o->gone_ms || now - o->gone_ms < IPSEC_DOWN_GRACE_MS)) {
			/* a rekey in progress (done_list): keep it, look again */
			struct timeval tv = { 0, IPSEC_RECHECK_MS * 1000 };

			*n = *o;
			if (!n->gone_ms)
				n->gone_ms = now;
			evtimer_add(m->recheck, &tv);
			continue;
		}
		if (s->want)
			hub_lost(m, s, o);
	}
	for (size_t k = 0; k < s->n_br_next; k++) {
		struct sa_info *n = &s->br_next[k];
		const struct sa_info *o = branch_find(s->br, s->n_br, &n->remote);

		if (!n->child_up)
			continue;
		if (!up++)
			s->cur = *n;
		if (o && o->child_up)
			continue;
		n->gone_ms = 0;
		s->child_ups++;
		host_str(&n->remote, peer, sizeof(peer));
		if (s->want) {
			log_notice("tunnel %u: IPsec SA up with branch %s (IKE SA %llu, %s; ESP %s, SPIs in %s out %s, "
				   "selectors %s; NAT %s%s)", s->id, peer, n->ike_uid, n->ike_algs, n->esp_algs,
				   n->spi_in, n->spi_out, n->local_ts,
				   n->nat_local ? "here" : n->nat_remote ? "at the peer" : "none",
				   n->encap ? ", ESP in UDP" : "");
			control_event(m->d, &(struct ctl_event){ .event = "ipsec-up", .tunnel = s->id, .peer = peer });
			block_peer(m, s, &n->remote);
		}
	}
	if (!up) {
		s->cur = s->n_br_next ? s->br_next[0] : (struct sa_info){ 0 };
		s->cur.child_up = false;
	}
	{
		struct sa_info *v = s->br;
		size_t c = s->cap_br;

		s->br = s->br_next;
		s->n_br = s->n_br_next;
		s->cap_br = s->cap_br_next;
		s->br_next = v;
		s->cap_br_next = c;
		s->n_br_next = 0;
	}
	if (s->want && !was && up) {
		struct tunnel *t = daemon_tunnel_find(m->d, s->id);

		if (t && tunnel_is_idle(t))
			tunnel_start(t); /* a responder: waits for its branches */
	}
	if (s->want)
		hub_unblock_gone(m, s);
}

static void done_list(struct daemon *d, struct cmd *c, const struct vici_packet *p)
{
	struct ipsec_mgr *m = mgr_of(d);
	uint64_t now = mono_ms();

	(void)c;
	(void)p;
	m->listing = false;
	for (size_t i = 0; i < m->n_ts; i++) {
		struct its *s = &m->ts[i];
		const struct cfg_tunnel *t = cfg_tunnel_find(d->cfg, s->id);
		bool was = s->cur.child_up;

		if (s->hub) {
			hub_done(m, s, now);
			continue;
		}
		if (s->want && was && !s->next.child_up && s->next.ike_state[0] &&
		    (!s->gone_ms || now - s->gone_ms < IPSEC_DOWN_GRACE_MS)) {
			/* a rekey or reauthentication in progress: keep what we
			 * had and look again (the kernel keeps the old SA until
			 * the new one is in) */
			struct timeval tv = { 0, IPSEC_RECHECK_MS * 1000 };

			if (!s->gone_ms)
				s->gone_ms = now;
			evtimer_add(m->recheck, &tv);
			continue;
		}
		s->gone_ms = 0;
		/* an IKE SA replaced under a CHILD SA that stayed up: a rekey
		 * (IKEv2's ike-rekey event, or an IKEv1 reauthentication, which
		 * has no event) */
		if (was && s->next.child_up && s->cur.ike_uid && s->next.ike_uid &&
		    s->next.ike_uid != s->cur.ike_uid) {
			s->ike_rekeys++;
			log_info("tunnel %u: IPsec IKE SA rekeyed (IKE SA %llu replaces %llu)", s->id,
				 s->next.ike_uid, s->cur.ike_uid);
		}
		s->cur = s->next;
		if (!s->want)
			continue;
		sa_changed(m, s, was);
		/*
		 * `ipsec auto refresh on`: an initiator keeps an SA.  charon runs
		 * start_action only when a connection is new, and gives up after
		 * an authentication failure: start it again whenever there has
		 * been no IKE SA at all for IPSEC_RETRY_S seconds, at most every
		 * IPSEC_RETRY_S seconds.  Not at once: after the peer deleted the
		 * SA, charon starts it again itself (close_action), and an
		 * initiate racing that adds a second Quick Mode to its new IKE
		 * SA: two CHILD SAs, the older left REKEYED until it expires
		 * (seen in t_ipsec_faults).
		 */
		if (s->cur.ike_state[0])
			s->no_ike_ms = 0;
		else if (!s->no_ike_ms)
			s->no_ike_ms = now;
		if (t && s->loaded && t->ipsec.initiator && t->ipsec.auto_refresh && !s->cur.ike_state[0] &&
		    now - s->no_ike_ms >= IPSEC_RETRY_S * 1000 &&
		    (!s->initiate_ms || now - s->initiate_ms >= IPSEC_RETRY_S * 1000)) {
			s->initiate_ms = now;
			log_info("tunnel %u: no IKE SA: initiating " IPSEC_CONN_PREFIX "%u", s->id, s->id);
			initiate(m, s->id);
		}
	}
	daemon_ipsec_listed(d);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static const struct {
	const char *text;
	enum fail_reason why;
} patterns[] = {
	{ "Aggressive Mode PSK disabled", FAIL_AGGRESSIVE },
	{ "calculated HASH does not match", FAIL_PSK },
	{ "no proposal found", FAIL_PROPOSAL },
	{ "NO_PROPOSAL_CHOSEN", FAIL_PROPOSAL },
	{ "no proposal chosen", FAIL_PROPOSAL },
	{ "no acceptable proposal", FAIL_PROPOSAL },
	{ "giving up after", FAIL_UNREACHABLE },
	{ "AUTHENTICATION_FAILED", FAIL_PSK },
	{ "INVALID_HASH_INFORMATION", FAIL_PSK },
	{ "integrity check failed", FAIL_PSK },
	{ "decryption failed", FAIL_PSK },
	{ "invalid HASH", FAIL_PSK },
	{ "no shared key found", FAIL_IDENTITY },
	{ "no matching peer config", FAIL_IDENTITY },
	{ "INVALID_ID_INFORMATION", FAIL_IDENTITY },
	{ "no peer config found", FAIL_IDENTITY },
	{ "' does not match to '", FAIL_IDENTITY },
};

static void log_failure(struct its *s, enum fail_reason why, const char *text)
{
	uint64_t now = mono_ms();

	s->fails[why]++;
	snprintf(s->last_failure, sizeof(s->last_failure), "%s: %s", fail_names[why], text);
	if (s->fail_log_ms && now - s->fail_log_ms < REFUSE_LOG_MS)
		return;
	s->fail_log_ms = now;
	if (why == FAIL_AGGRESSIVE)
		log_warnx("tunnel %u: IKE failed: charon refuses aggressive mode with a pre-shared key as "
			  "responder; set charon.i_dont_care_about_security_and_use_aggressive_mode_psk = yes "
			  "in strongswan.conf (aggressive mode exposes a hash of the key to offline guessing: "
			  "use a long random key) (%s)", s->id, text);
	else
		log_warnx("tunnel %u: IKE failed: %s (%s)", s->id,
			  why == FAIL_PSK ? (strstr(text, "received") ?
					     "the peer refused our authentication: wrong pre-shared key? (a "
					     "strongSwan peer also refuses aggressive mode by default)" :
					     "authentication failed: wrong pre-shared key?") :
			  why == FAIL_PROPOSAL ? "no proposal chosen: algorithms differ "
						 "(ipsec ike encryption/hash/group, ipsec sa policy)" :
			  why == FAIL_UNREACHABLE ? "peer unreachable (no answer to IKE)" :
			  "identity mismatch (ipsec ike local name / remote name)",
			  text);
}

static void on_log(struct ipsec_mgr *m, const struct vici_msg *msg)
{
	const char *text = vici_get(msg, "", "msg"), *name = vici_get(msg, "", "ikesa-name");
	struct its *s;

	if (!text)
		return;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (!strstr(text, patterns[i].text))
			continue;
		s = name ? its_find(m, ipsec_conn_tunnel(name)) : NULL;
		if (s) {
			log_failure(s, patterns[i].why, text);
			return;
		}
		/*
		 * Before charon picked a connection (a responder's first
		 * messages): a refused aggressive mode can only be an
		 * aggressive responder's, blame those; another failure is
		 * blamed on the responder tunnel when there is only one.
		 */
		{
			struct its *only = NULL;
			size_t n = 0;

			for (size_t k = 0; k < m->d->cfg->n_tunnels; k++) {
				const struct cfg_tunnel *t = &m->d->cfg->tunnels[k];
				struct its *c;

				if (!cfg_wants(m->d->cfg, t) || t->ipsec.initiator || !(c = its_find(m, t->id)))
					continue;
				if (patterns[i].why == FAIL_AGGRESSIVE) {
					if (t->ipsec.aggressive) {
						log_failure(c, FAIL_AGGRESSIVE, text);
						s = c;
					}
					continue;
				}
				only = c;
				n++;
			}
			if (patterns[i].why != FAIL_AGGRESSIVE && n == 1) {
				log_failure(only, patterns[i].why, text);
				s = only;
			}
		}
		if (!s)
			log_info("ipsec: charon: %s", text);
		return;
	}
}

static void on_event(struct ipsec_mgr *m, const struct vici_packet *p)
{
	if (!strcmp(p->name, "list-sa")) {
		on_list_sa(m, &p->msg);
		return;
	}
	if (!strcmp(p->name, "log")) {
		on_log(m, &p->msg);
		return;
	}
	if (!strcmp(p->name, "child-rekey")) {
		long pos = 0, c;

		while ((c = vici_next_child(&p->msg, -1, &pos)) >= 0) {
			struct its *s = its_find(m, ipsec_conn_tunnel(p->msg.v[c].name));

			if (!s)
				continue;
			s->child_rekeys++;
			log_info("tunnel %u: IPsec CHILD SA rekeyed", s->id);
		}
	}
	/* ike-updown, child-updown, rekeys: read the state again (an IKE SA
	 * rekey is counted there, by its new uniqueid: done_list) */
	list_sas(m);
}

static void handle(struct ipsec_mgr *m, const struct vici_packet *p)
{
	struct cmd *c;

	if (p->type == VICI_EVENT) {
		on_event(m, p);
		return;
	}
	c = m->head;
	if (!c || !m->in_flight) {
		log_warnx("ipsec: unexpected VICI packet type %d from charon", p->type);
		return;
	}
	m->head = c->next;
	if (!m->head)
		m->tail = NULL;
	m->in_flight = false;
	if (c->done)
		c->done(m->d, c, p);
	cmd_free(c);
	send_next(m);
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */
/* ------------------------------------------------------------------ */

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct ipsec_mgr *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t avail = evbuffer_get_length(in);
		uint8_t *b;
		long n;
		struct vici_packet p;

		if (avail < 4)
			return;
		b = evbuffer_pullup(in, 4);
		n = vici_frame_len(b, avail);
		if (n < 0) {
			disconnect(m, "charon sent an oversized VICI packet");
			return;
		}
		if (n == 0)
			return;
		b = evbuffer_pullup(in, n);
		if (vici_packet_decode(b + 4, (size_t)n - 4, &p) < 0) {
			vici_packet_free(&p);
			disconnect(m, "charon sent a malformed VICI packet");
			return;
		}
		evbuffer_drain(in, (size_t)n);
		handle(m, &p);
		vici_packet_free(&p);
		if (!m->connected)
			return;
	}
}

static void try_connect(struct ipsec_mgr *m);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	try_connect(arg);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipsec_mgr *m = arg;
	struct timeval tv = { IPSEC_POLL_S, 0 };

	(void)fd;
	(void)what;
	list_sas(m);
	evtimer_add(m->poll, &tv);
}

static void recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	list_sas(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		disconnect(arg, what & BEV_EVENT_EOF ? "charon closed the VICI connection" : "VICI connection error");
}

static void disconnect(struct ipsec_mgr *m, const char *why)
{
	struct timeval tv = { IPSEC_RETRY_S, 0 };

	if (m->bev) {
		bufferevent_free(m->bev);
		m->bev = NULL;
	}
	if (m->connected) {
		m->disconnects++;
		log_warnx("ipsec: %s (%s); IPsec tunnels stop until it is back, retrying every %d s", why, m->path,
			  IPSEC_RETRY_S);
	}
	m->connected = false;
	snprintf(m->error, sizeof(m->error), "strongSwan: %s (%s)", why, m->path);
	drop_queue(m);
	evtimer_del(m->poll);
	evtimer_del(m->recheck);
	/* without charon no SA can be trusted to exist */
	for (size_t i = 0; i < m->n_ts; i++)
		its_forget_sas(m, &m->ts[i]);
	evtimer_add(m->retry, &tv);
}

static bool any_wanted(const struct ipsec_mgr *m)
{
	for (size_t i = 0; i < m->n_ts; i++)
		if (m->ts[i].want)
			return true;
	return false;
}

static void try_connect(struct ipsec_mgr *m)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { IPSEC_RETRY_S, 0 };
	static const char *const events[] = { "ike-updown", "child-updown", "ike-rekey", "child-rekey", "log",
					      "list-sa" };
	bool first = m->error[0] == '\0';
	int fd;

	if (m->connected || !any_wanted(m))
		return;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", m->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (first || !strstr(m->error, "not running"))
			log_warnx("ipsec: strongSwan's charon is not running or not reachable at %s (%s): IPsec tunnels "
				  "stay down, the others run; retrying every %d s (install strongswan-charon or "
				  "charon-systemd and strongswan-swanctl, or set 'ipsec vici socket')",
				  m->path, strerror(e), IPSEC_RETRY_S);
		snprintf(m->error, sizeof(m->error), "strongSwan's charon is not running or not reachable at %s (%s)",
			 m->path, strerror(e));
		evtimer_add(m->retry, &tv);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	m->bev = bufferevent_socket_new(m->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!m->bev) {
		close(fd);
		evtimer_add(m->retry, &tv);
		return;
	}
	bufferevent_setcb(m->bev, read_cb, NULL, event_cb, m);
	bufferevent_enable(m->bev, EV_READ);
	m->connected = true;
	m->connects++;
	m->error[0] = '\0';
	log_notice("ipsec: connected to charon at %s", m->path);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		queue(m, VICI_EVENT_REGISTER, events[i], NULL, 0, done_register);
	for (size_t i = 0; i < m->d->cfg->n_tunnels; i++) {
		const struct cfg_tunnel *t = &m->d->cfg->tunnels[i];

		if (cfg_wants(m->d->cfg, t))
			load_tunnel(m, t);
	}
	list_sas(m);
	tv.tv_sec = IPSEC_POLL_S;
	evtimer_add(m->poll, &tv);
}

/* ------------------------------------------------------------------ */
/* The peer's host name (issue 15)                                     */
/* ------------------------------------------------------------------ */

/*
 * `ipsec ike remote address GW HOST` (with `tunnel endpoint name HOST
 * fqdn`, Yamaha's dynamic-DNS set-up): HOST is looked up off the loop
 * (resolve.h) when the tunnel starts and every `ipsec resolve interval`
 * seconds (CFG_IPSEC_RESOLVE_DEFAULT), and at once when its SA goes down.
 * reresolve.h decides what an answer means.  The connection charon gets
 * names the last good address before HOST, so charon initiates to it
 * (and still takes the peer at what HOST resolves to when it calls); when
 * the address changes, the connection is replaced (unload, load toward the
 * new address: charon initiates again) and the L2TP connection follows the
 * SA (sa_changed).  A failed lookup keeps the last good address.
 */
static uint64_t resolve_interval_ms(const struct ipsec_mgr *m)
{
	unsigned s = m->d->cfg->ipsec.resolve_interval;

	return (uint64_t)(s ? s : CFG_IPSEC_RESOLVE_DEFAULT) * 1000;
}

static void resolved(void *arg, unsigned tag, const char *name, int err, const struct sockaddr_storage *addrs,
		     size_t n)
{
	struct ipsec_mgr *m = arg;
	struct its *s = its_find(m, tag);
	const struct cfg_tunnel *t = cfg_tunnel_find(m->d->cfg, tag);
	struct rr_outcome o;
	char now_s[64], old_s[64];

	if (!s)
		return;
	s->resolving = false;
	if (!s->want || !t || strcmp(s->host, name) || strcmp(t->ipsec.gw.remote_host, name))
		return; /* the configuration changed meanwhile */
	rr_result(&s->rr, addrs, err ? 0 : n, t->ipsec.gw.has_local_address ? t->ipsec.gw.local_address.ss_family :
		  AF_UNSPEC, mono_ms(), resolve_interval_ms(m), &o);
	host_str(&s->rr.addr, now_s, sizeof(now_s));
	switch (o.verdict) {
	case RR_FAILED:
		if (o.log)
			log_warnx("tunnel %u: cannot resolve %s (%s)%s; %s%s, looking again every %llu s", s->id,
				  name, err ? gai_strerror(err) : "no address of the local address's family",
				  o.suppressed ? " (and failed before)" : "",
				  s->rr.have ? "keeping its last address " : "no address yet",
				  s->rr.have ? now_s : "", (unsigned long long)resolve_interval_ms(m) / 1000);
		return;
	case RR_FIRST:
		log_info("tunnel %u: %s resolves to %s", s->id, name, now_s);
		break;
	case RR_SAME:
		if (o.recovered)
			log_info("tunnel %u: %s resolves again, to %s (unchanged)", s->id, name, now_s);
		break;
	case RR_CHANGED:
		host_str(&o.old, old_s, sizeof(old_s));
		log_notice("tunnel %u: %s moved from %s to %s: its IPsec connection now targets %s", s->id, name,
			   old_s, now_s, now_s);
		break;
	}
	/* charon targets the name alone, or an old address: load toward the
	 * address (charon initiates at once with `ipsec auto refresh on`).
	 * At the first answer an SA already up with that address is kept. */
	if (!m->connected || sockaddr_same_host(&s->target, &s->rr.addr))
		return;
	if (o.verdict != RR_CHANGED && s->cur.ike_up && sockaddr_same_host(&s->cur.remote, &s->rr.addr)) {
		s->target = s->rr.addr; /* charon found it by the name: same address */
		return;
	}
	if (s->loaded || s->error[0])
		unload_tunnel(m, s->id);
	load_tunnel(m, t);
	list_sas(m);
}

/* Every second: look up the names that are due */
static void resolve_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipsec_mgr *m = arg;
	uint64_t now = mono_ms();

	(void)fd;
	(void)what;
	for (size_t i = 0; i < m->n_ts; i++) {
		struct its *s = &m->ts[i];
		const struct cfg_tunnel *t = cfg_tunnel_find(m->d->cfg, s->id);
		const char *host = t && s->want ? t->ipsec.gw.remote_host : "";

		if (strcmp(s->host, host)) {
			snprintf(s->host, sizeof(s->host), "%s", host);
			memset(&s->rr, 0, sizeof(s->rr));
			memset(&s->target, 0, sizeof(s->target));
			s->resolving = false; /* an answer for the old name is ignored */
		}
		if (!s->host[0] || s->resolving || now < s->rr.next_ms || !m->res)
			continue;
		if (resolver_lookup(m->res, s->host, t->ipsec.gw.has_local_address ?
				    t->ipsec.gw.local_address.ss_family : AF_UNSPEC, s->id) == 0)
			s->resolving = true;
		else
			s->rr.next_ms = now + 1000;
	}
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static void mark_wanted(struct ipsec_mgr *m, const struct cfg *c)
{
	for (size_t i = 0; i < m->n_ts; i++)
		m->ts[i].want = false;
	for (size_t i = 0; i < c->n_tunnels; i++) {
		struct its *s;

		if (!cfg_wants(c, &c->tunnels[i]))
			continue;
		s = its_get(m, c->tunnels[i].id);
		if (s) {
			s->want = true;
			s->hub = c->tunnels[i].hub_max != 0;
		}
	}
	for (size_t i = 0; i < m->n_ts; i++)
		if (!m->ts[i].want)
			unblock_tunnel(m, m->ts[i].id);
}

void ipsec_start(struct daemon *d)
{
	struct ipsec_mgr *m = calloc(1, sizeof(*m));
	char err[256] = "";
	int n = 0;

	if (!m)
		fatalx("out of memory");
	d->ipsec = m;
	m->d = d;
	m->esp = -1;
	snprintf(m->path, sizeof(m->path), "%s", cfg_ipsec_vici_path(&d->cfg->ipsec));
	m->retry = evtimer_new(d->base, retry_cb, m);
	m->poll = evtimer_new(d->base, poll_cb, m);
	m->recheck = evtimer_new(d->base, recheck_cb, m);
	m->resolve_tick = event_new(d->base, -1, EV_PERSIST, resolve_tick_cb, m);
	m->res = resolver_new(d->base, resolved, m);
	if (!m->retry || !m->poll || !m->recheck || !m->resolve_tick || !m->res)
		fatalx("out of memory");
	event_add(m->resolve_tick, &(struct timeval){ 1, 0 });
	mark_wanted(m, d->cfg);
	for (size_t i = 0; i < m->n_ts; i++)
		n += m->ts[i].want;
	if (!n)
		return;
	resolve_tick_cb(-1, 0, m); /* names: looked up at once */
	m->esp = esp_probe(err, sizeof(err));
	if (m->esp == 0) {
		snprintf(m->esp_error, sizeof(m->esp_error), "%s", err);
		log_warnx("ipsec: %s: the %d IPsec tunnel(s) (tunnel encapsulation l2tpv3) stay down, the others run "
			  "(IKE is still tried, for its diagnostics)", err, n);
	}
	if (m->esp < 0)
		log_info("ipsec: %s (going on)", err);
	try_connect(m);
}

void ipsec_reload(struct daemon *d, const struct cfg *old)
{
	struct ipsec_mgr *m = mgr_of(d);
	char path[CFG_IPSEC_VICI_MAX + 1];

	if (!m)
		return;
	snprintf(path, sizeof(path), "%s", cfg_ipsec_vici_path(&d->cfg->ipsec));
	mark_wanted(m, d->cfg);
	resolve_tick_cb(-1, 0, m);
	if (strcmp(path, m->path)) {
		snprintf(m->path, sizeof(m->path), "%s", path);
		if (m->connected)
			disconnect(m, "the VICI socket changed");
	}
	if (m->esp == -1 && any_wanted(m)) {
		char err[256] = "";

		m->esp = esp_probe(err, sizeof(err));
		if (m->esp == 0) {
			snprintf(m->esp_error, sizeof(m->esp_error), "%s", err);
			log_warnx("ipsec: %s: IPsec tunnels stay down", err);
		}
	}
	if (!m->connected) {
		try_connect(m);
		return;
	}
	/* removed or changed: unload; changed or new: load */
	for (size_t i = 0; i < old->n_tunnels; i++) {
		const struct cfg_tunnel *ot = &old->tunnels[i], *nt;

		if (!cfg_wants(old, ot))
			continue;
		nt = cfg_tunnel_find(d->cfg, ot->id);
		if (nt && cfg_wants(d->cfg, nt) && cfg_ipsec_equal(&ot->ipsec, &nt->ipsec))
			continue;
		log_notice("ipsec: tunnel %u: unloading its connection (%s)", ot->id,
			   nt && cfg_wants(d->cfg, nt) ? "IPsec settings changed" : "removed");
		unload_tunnel(m, ot->id);
	}
	for (size_t i = 0; i < d->cfg->n_tunnels; i++) {
		const struct cfg_tunnel *nt = &d->cfg->tunnels[i], *ot;

		if (!cfg_wants(d->cfg, nt))
			continue;
		ot = cfg_tunnel_find(old, nt->id);
		if (ot && cfg_wants(old, ot) && cfg_ipsec_equal(&ot->ipsec, &nt->ipsec))
			continue; /* unchanged: its SA is not touched */
		load_tunnel(m, nt);
	}
	list_sas(m);
}

/* One command on a blocking socket with a 1 s timeout (shutdown only) */
static void sync_cmd(int fd, const char *name, const char *key, const char *value)
{
	struct vici_msg msg;
	uint8_t *b, hdr[4];
	size_t len;

	vici_msg_init(&msg);
	vici_kv(&msg, key, value);
	if (vici_packet_encode(VICI_CMD_REQUEST, name, &msg, &b, &len) == 0) {
		if (write(fd, b, len) == (ssize_t)len) {
			/* read until the response (events are not registered here) */
			if (recv(fd, hdr, 4, MSG_WAITALL) == 4) {
				size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
				uint8_t skip[512];

				while (n > 0) {
					ssize_t r = recv(fd, skip, n < sizeof(skip) ? n : sizeof(skip), 0);

					if (r <= 0)
						break;
					n -= (size_t)r;
				}
			}
		}
		free(b);
	}
	vici_msg_free(&msg);
}

void ipsec_stop(struct daemon *d)
{
	struct ipsec_mgr *m = mgr_of(d);

	if (!m)
		return;
	if (m->connected) {
		/* our connections go with us: a fresh blocking connection, since
		 * the loop is ending (charon closes their SAs on unload) */
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		struct timeval tv = { 1, 0 };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", m->path);
		if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			for (size_t i = 0; i < m->n_ts; i++) {
				char name[IPSEC_CONN_NAME_MAX + 8];

				if (!m->ts[i].want)
					continue;
				ipsec_conn_name(m->ts[i].id, name, sizeof(name));
				sync_cmd(fd, "unload-conn", "name", name);
				ipsec_shared_id(m->ts[i].id, name, sizeof(name));
				sync_cmd(fd, "unload-shared", "id", name);
			}
			log_info("ipsec: connections unloaded from charon");
		}
		if (fd >= 0)
			close(fd);
	}
	drop_queue(m);
	/* charon's policies went with the unloads above: ours go too, so that
	 * nothing of this daemon's stays in the kernel */
	while (m->n_blk)
		blk_remove(m, m->n_blk - 1);
	free(m->blk);
	if (m->bev)
		bufferevent_free(m->bev);
	event_free(m->retry);
	event_free(m->poll);
	event_free(m->recheck);
	event_free(m->resolve_tick);
	resolver_free(m->res);
	for (size_t i = 0; i < m->n_ts; i++) {
		free(m->ts[i].br);
		free(m->ts[i].br_next);
	}
	free(m->ts);
	free(m);
	d->ipsec = NULL;
}

/* ------------------------------------------------------------------ */
/* Gate                                                                */
/* ------------------------------------------------------------------ */

bool ipsec_tunnel_ready(const struct tunnel *t)
{
	struct ipsec_mgr *m = mgr_of(t->d);
	struct its *s;

	if (!t->cfg->ipsec.on)
		return true;
	s = m ? its_find(m, t->cfg->id) : NULL;
	if (s && s->hub && branch_conn(t)) /* a hub's instance: its branch's SA */
		return s->want && branch_up(s, &t->peer);
	return s && s->want && s->cur.child_up;
}

bool ipsec_tunnel_sa_pending(const struct tunnel *t)
{
	struct ipsec_mgr *m = mgr_of(t->d);
	struct its *s;

	if (!t->cfg->ipsec.on || !m || !m->connected || !(s = its_find(m, t->cfg->id)))
		return false;
	return s->want && s->loaded && !s->cur.child_up;
}

bool ipsec_tunnel_peer(const struct tunnel *t, struct sockaddr_storage *ret)
{
	struct ipsec_mgr *m = mgr_of(t->d);
	struct its *s;

	if (!t->cfg->ipsec.on || !m || !(s = its_find(m, t->cfg->id)) || !s->cur.child_up)
		return false;
	if (s->hub) { /* a branch's instance: the SA of the address it was accepted from */
		const struct sa_info *b = branch_conn(t) ? branch_up(s, &t->peer) : NULL;

		if (!b)
			return false;
		*ret = b->remote;
	} else {
		*ret = s->cur.remote;
	}
	if (ret->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ret)->sin6_port = htons(t->cfg->ipsec.port);
	else
		((struct sockaddr_in *)ret)->sin_port = htons(t->cfg->ipsec.port);
	return true;
}

bool ipsec_tunnel_accepts(const struct tunnel *t, const struct sockaddr_storage *src, const char *what)
{
	struct ipsec_mgr *m = mgr_of(t->d);
	struct its *s;
	bool ok;
	char from[64];
	uint64_t now;

	if (!t->cfg->ipsec.on)
		return true;
	s = m ? its_find(m, t->cfg->id) : NULL;
	if (!s)
		return false;
	if (s->hub) {
		/* a hub: the SA of the branch at src; an instance takes only
		 * its own branch's (the address it was accepted from) */
		const struct sa_info *b = branch_up(s, src);

		ok = b && (!strcmp(b->child_name, IPSEC_CHILD_HOST) || sockaddr_port(src) == t->cfg->ipsec.port) &&
		     (!branch_conn(t) || sockaddr_same_host(src, &t->peer));
	} else {
		ok = s->cur.child_up && sockaddr_same_host(src, &s->cur.remote) &&
		     (!strcmp(s->cur.child_name, IPSEC_CHILD_HOST) || sockaddr_port(src) == t->cfg->ipsec.port);
	}
	if (ok)
		return true;
	if ((s->hub ? !branch_up(s, src) : !s->cur.child_up) && s->want && m->connected)
		list_sas(m); /* an SA event may be on its way: look again now */
	if (!what)
		return false; /* asked for another tunnel's sake: not counted */
	s->refused++;
	m->refused_total++;
	now = mono_ms();
	if (!s->refuse_log_ms || now - s->refuse_log_ms >= REFUSE_LOG_MS) {
		s->refuse_log_ms = now;
		sockaddr_format(src, from, sizeof(from));
		log_warnx("tunnel %u: %s from %s refused: not through the tunnel's IPsec SA (%s; %llu refused so far)",
			  t->cfg->id, what, from, s->cur.child_up ? "another host or port" : "no SA up",
			  (unsigned long long)s->refused);
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Status                                                              */
/* ------------------------------------------------------------------ */

const char *ipsec_error(const struct daemon *d)
{
	const struct ipsec_mgr *m = mgr_of(d);

	if (!m)
		return "";
	return m->esp_error[0] ? m->esp_error : m->error;
}

json_t *ipsec_tunnel_json(const struct tunnel *t)
{
	struct ipsec_mgr *m = mgr_of(t->d);
	const struct its *s;
	const struct sa_info *i;
	char peer[64] = "";
	json_t *o, *f;

	if (!t->cfg->ipsec.on)
		return NULL;
	s = m ? its_find(m, t->cfg->id) : NULL;
	if (!s)
		return json_pack("{s:s}", "error", m && ipsec_error(m->d)[0] ? ipsec_error(m->d) : "not loaded");
	i = &s->cur;
	if (s->hub) { /* a hub's instance: its branch's SA; the hub itself has none (branches_up) */
		static const struct sa_info none;
		const struct sa_info *b = branch_conn(t) ? branch_find(s->br, s->n_br, &t->peer) : NULL;

		i = b ? b : &none;
	}
	host_str(&i->remote, peer, sizeof(peer));
	f = json_object();
	for (int r = 0; r < FAIL_N; r++)
		json_object_set_new(f, fail_names[r], json_integer((json_int_t)s->fails[r]));
	o = json_pack("{s:s, s:b, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I,"
		      " s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s, s:s}",
		      "connection", "",
		      "loaded", s->loaded,
		      "ike_state", i->ike_state[0] ? i->ike_state : "none",
		      "child_state", i->child_state[0] ? i->child_state : "none",
		      "child", i->child_name,
		      "remote_host", peer,
		      "nat_local", i->nat_local,
		      "nat_remote", i->nat_remote,
		      "esp_in_udp", i->encap,
		      "ike_algorithms", i->ike_algs,
		      "esp_algorithms", i->esp_algs,
		      "spi_in", i->spi_in,
		      "spi_out", i->spi_out,
		      "local_ts", i->local_ts,
		      "remote_ts", i->remote_ts,
		      "bytes_in", (json_int_t)i->bytes_in,
		      "bytes_out", (json_int_t)i->bytes_out,
		      "packets_in", (json_int_t)i->packets_in,
		      "packets_out", (json_int_t)i->packets_out,
		      "ike_rekey_in_s", (json_int_t)i->ike_rekey_s,
		      "child_rekey_in_s", (json_int_t)i->child_rekey_s,
		      "ike_rekeys", (json_int_t)s->ike_rekeys,
		      "child_rekeys", (json_int_t)s->child_rekeys,
		      "child_ups", (json_int_t)s->child_ups,
		      "refused_packets", (json_int_t)s->refused,
		      "ike_failures", f,
		      "last_failure", s->last_failure,
		      "error", s->error[0] ? s->error : ipsec_error(m->d));
	if (o) {
		char name[IPSEC_CONN_NAME_MAX];
		uint64_t data_refused = 0;

		ipsec_conn_name(t->cfg->id, name, sizeof(name));
		json_object_set_new(o, "connection", json_string(name));
		for (size_t k = 0; k < t->fsm.n_sessions; k++) {
			struct dp_counters dc;

			tunnel_session_counters(t, &t->fsm.sessions[k], &dc);
			data_refused += dc.rx_peer_drops;
		}
		json_object_set_new(o, "refused_data_packets", json_integer((json_int_t)data_refused));
		if (s->host[0]) {
			char a[64] = "";

			if (s->rr.have)
				host_str(&s->rr.addr, a, sizeof(a));
			json_object_set_new(o, "remote_name", json_string(s->host));
			json_object_set_new(o, "remote_name_address", json_string(a));
		}
		json_object_set_new(o, "ike_uniqueid", json_integer((json_int_t)i->ike_uid));
		if (s->hub) {
			json_int_t up = 0;

			for (size_t k = 0; k < s->n_br; k++)
				up += s->br[k].child_up;
			json_object_set_new(o, "branches_up", json_integer(up));
		}
	}
	return o;
}

/* XfrmInTmplMismatch of /proc/net/xfrm_stat: clear text the kernel's
 * policy dropped (this namespace's), -1 if unreadable */
static long long xfrm_tmpl_mismatch(void)
{
	FILE *f = fopen("/proc/net/xfrm_stat", "re");
	char name[64];
	long long v, r = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2)
		if (!strcmp(name, "XfrmInTmplMismatch"))
			r = v;
	fclose(f);
	return r;
}

void ipsec_metrics(const struct daemon *d, struct evbuffer *b)
{
	const struct ipsec_mgr *m = mgr_of(d);
	long long mism;
	bool any = false;
	unsigned hubs = 0;

	if (!m)
		return;
	for (size_t i = 0; i < m->n_ts; i++)
		any |= m->ts[i].want;
	if (!any)
		return;
#define IHEAD(name, type, help) \
	evbuffer_add_printf(b, "# HELP l2tpv3d_%s %s\n# TYPE l2tpv3d_%s %s\n", name, help, name, type)
#define ILOOP for (size_t i = 0; i < m->n_ts; i++) if (m->ts[i].want)
	IHEAD("ipsec_available", "gauge", "1 if charon is connected and the kernel has ESP.");
	evbuffer_add_printf(b, "l2tpv3d_ipsec_available %d\n", m->connected && m->esp != 0);
	IHEAD("ipsec_ike_sa_up", "gauge", "1 if the tunnel's IKE SA is established.");
	ILOOP evbuffer_add_printf(b, "l2tpv3d_ipsec_ike_sa_up{tunnel=\"%u\"} %d\n", m->ts[i].id, m->ts[i].cur.ike_up);
	IHEAD("ipsec_sa_up", "gauge", "1 if the tunnel's CHILD SA (ESP) is installed.");
	ILOOP evbuffer_add_printf(b, "l2tpv3d_ipsec_sa_up{tunnel=\"%u\"} %d\n", m->ts[i].id, m->ts[i].cur.child_up);
	for (size_t i = 0; i < m->n_ts; i++) {
		const struct its *s = &m->ts[i];

		if (!s->want || !s->hub)
			continue;
		if (!hubs++)
			IHEAD("ipsec_branch_sa_up", "gauge",
			      "A hub's branches (l2tp hub on): 1 if the CHILD SA of the branch at that address is "
			      "installed.");
		for (size_t k = 0; k < s->n_br; k++) {
			char peer[64];

			host_str(&s->br[k].remote, peer, sizeof(peer));
			evbuffer_add_printf(b, "l2tpv3d_ipsec_branch_sa_up{tunnel=\"%u\",peer=\"%s\"} %d\n", s->id,
					    peer, s->br[k].child_up);
		}
	}
	IHEAD("ipsec_sa_bytes_total", "counter", "Bytes of the current CHILD SA, per direction.");
	ILOOP {
		evbuffer_add_printf(b, "l2tpv3d_ipsec_sa_bytes_total{tunnel=\"%u\",dir=\"in\"} %llu\n", m->ts[i].id,
				    m->ts[i].cur.bytes_in);
		evbuffer_add_printf(b, "l2tpv3d_ipsec_sa_bytes_total{tunnel=\"%u\",dir=\"out\"} %llu\n", m->ts[i].id,
				    m->ts[i].cur.bytes_out);
	}
	IHEAD("ipsec_rekeys_total", "counter", "Rekeyings seen, by SA kind.");
	ILOOP {
		evbuffer_add_printf(b, "l2tpv3d_ipsec_rekeys_total{tunnel=\"%u\",sa=\"ike\"} %llu\n", m->ts[i].id,
				    (unsigned long long)m->ts[i].ike_rekeys);
		evbuffer_add_printf(b, "l2tpv3d_ipsec_rekeys_total{tunnel=\"%u\",sa=\"child\"} %llu\n", m->ts[i].id,
				    (unsigned long long)m->ts[i].child_rekeys);
	}
	IHEAD("ipsec_ike_failures_total", "counter", "IKE failures charon logged, by reason.");
	ILOOP for (int r = 0; r < FAIL_N; r++)
		evbuffer_add_printf(b, "l2tpv3d_ipsec_ike_failures_total{tunnel=\"%u\",reason=\"%s\"} %llu\n",
				    m->ts[i].id, fail_names[r], (unsigned long long)m->ts[i].fails[r]);
	IHEAD("ipsec_refused_packets_total", "counter",
	      "Control packets of an IPsec tunnel refused: not from its SA's peer and port.");
	ILOOP evbuffer_add_printf(b, "l2tpv3d_ipsec_refused_packets_total{tunnel=\"%u\"} %llu\n", m->ts[i].id,
				  (unsigned long long)m->ts[i].refused);
	mism = xfrm_tmpl_mismatch();
	if (mism >= 0) {
		IHEAD("xfrm_in_tmpl_mismatch_total", "counter",
		      "Kernel: packets dropped by an IPsec policy (clear text where ESP was required), "
		      "/proc/net/xfrm_stat XfrmInTmplMismatch.");
		evbuffer_add_printf(b, "l2tpv3d_xfrm_in_tmpl_mismatch_total %lld\n", mism);
	}
#undef IHEAD
#undef ILOOP
}
