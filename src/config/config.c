/* SPDX-License-Identifier: MIT */
/*
 * Configuration parser: the Yamaha RTX command language of the reference
 * scenario (shared/scenario.md) into struct cfg, then a verify pass over
 * cross-line rules, and a printer of the normalized text.
 *
 * A buffer is split into lines; on each line `#` at the start or after
 * white space opens a comment, the rest is split into words, and the words
 * are looked up in commands[], a table of {keywords, argument counts,
 * scope, handler} in which the more specific entries come first.  Entries
 * without a handler are a router's job (NAT, DHCP, DNS, accounts...): the
 * line is accepted with one notice saying what to use instead.  A line that
 * matches nothing is an error; so is a bad argument.  Every problem becomes
 * a diagnostic and parsing goes on with the next line, so the user sees
 * all of them at once.
 *
 * Tunnel-scope lines apply to the tunnel of the last `tunnel select N`;
 * global lines are valid anywhere, as on a RTX.
 *
 * The module never logs and keeps no state outside the structs it is
 * given; only cfg_load_file does I/O.
 */
#include "config/config.h"
#include "common/addr.h"
#include "common/text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define L2TP_PORT 1701
#define MAX_WORDS 128 /* per line; `bridge member` needs 2 + 1 + 64 */
#define QUOTE_MAX 160 /* bytes of a line quoted in a diagnostic */
#define KEEPALIVE_INTERVAL_DEFAULT 60
#define KEEPALIVE_COUNT_DEFAULT 3
#define KEEPALIVE_INTERVAL_MAX 3600
#define KEEPALIVE_COUNT_MAX 100
#define DISCONNECT_TIME_MAX 21474836 /* seconds, as on a RTX */
#define MSS_MIN 536
#define MSS_MAX 1460

/* ------------------------------------------------------------------ */
/* Diagnostics                                                         */
/* ------------------------------------------------------------------ */

static const char *const diag_level_names[] = {
	[CFG_DIAG_NOTICE] = "notice",
	[CFG_DIAG_WARNING] = "warning",
	[CFG_DIAG_ERROR] = "error",
};

void cfg_diags_free(struct cfg_diags *d)
{
	if (!d)
		return;
	free(d->v);
	d->v = NULL;
	d->n = d->cap = d->n_errors = 0;
}

void cfg_diag_format(const struct cfg_diag *dg, char *buf, size_t len)
{
	const char *level = "error";

	if (!buf || len == 0)
		return;
	if ((unsigned)dg->level < sizeof(diag_level_names) / sizeof(diag_level_names[0]))
		level = diag_level_names[dg->level];
	if (dg->line)
		snprintf(buf, len, "%s:%u: %s: %s", dg->file, dg->line, level, dg->msg);
	else
		snprintf(buf, len, "%s: %s: %s", dg->file, level, dg->msg);
}

/*
 * Append one diagnostic.  Errors are counted even past CFG_DIAGS_MAX, where
 * the last slot says that the rest is not shown.  0 or -ENOMEM.
 */
static int diag_vadd(struct cfg_diags *d, const char *file, unsigned line,
		     enum cfg_diag_level level, const char *fmt, va_list ap)
{
	struct cfg_diag *dg;

	if (level == CFG_DIAG_ERROR)
		d->n_errors++;
	if (d->n >= CFG_DIAGS_MAX)
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct cfg_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	dg = &d->v[d->n++];
	memset(dg, 0, sizeof(*dg));
	snprintf(dg->file, sizeof(dg->file), "%s", file ? file : "");
	if (d->n == CFG_DIAGS_MAX) {
		dg->level = CFG_DIAG_NOTICE;
		dg->line = 0;
		snprintf(dg->msg, sizeof(dg->msg),
			 "more than %d diagnostics: the rest are not shown", CFG_DIAGS_MAX);
		return 0;
	}
	dg->level = level;
	dg->line = line;
	vsnprintf(dg->msg, sizeof(dg->msg), fmt, ap);
	return 0;
}

__attribute__((format(printf, 5, 6)))
static int diag_add(struct cfg_diags *d, const char *file, unsigned line,
		    enum cfg_diag_level level, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diag_vadd(d, file, line, level, fmt, ap);
	va_end(ap);
	return r;
}

int cfg_diag_add(struct cfg_diags *d, const char *file, unsigned line, enum cfg_diag_level level,
		 const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diag_vadd(d, file, line, level, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * Copy len bytes of s into dst (size dsz > 4) for quoting: printable ASCII
 * and well-formed UTF-8 (a Japanese comment missing its '#') as they are,
 * any other byte as \xNN, cut at a character boundary with "...".
 */
static void quote_bytes(char *dst, size_t dsz, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len) {
		char esc[5];
		const char *piece = s + i;
		size_t n = 1, plen;

		if (u[i] < 0x20 || u[i] >= 0x7f) {
			n = utf8_seq_len(u + i, len - i);
			if (n == 0) {
				n = 1;
				snprintf(esc, sizeof(esc), "\\x%02x", u[i]);
				piece = esc;
			}
		}
		plen = piece == esc ? 4 : n;
		if (o + plen + 4 > dsz) { /* keep room for "..." and the NUL */
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(dst + o, piece, plen);
		o += plen;
		i += n;
	}
	dst[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* Objects                                                             */
/* ------------------------------------------------------------------ */

struct cfg *cfg_new(void)
{
	struct cfg *c = calloc(1, sizeof(struct cfg));

	if (c)
		c->dp_realtime = CFG_DP_RT_DEFAULT;
	return c;
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	free(c->tunnels);
	free(c->bridges);
	free(c->addresses);
	cfg_ipsec_global_free(&c->ipsec);
	free(c);
}

/*
 * Make room for element n of *v; capacity is implicit: arrays grow to the
 * next power of two when n is one.  0 or -ENOMEM.
 */
static int array_grow(void **v, size_t n, size_t size)
{
	void *nv;

	if (n != 0 && (n & (n - 1)) != 0)
		return 0;
	nv = realloc(*v, (n ? 2 * n : 1) * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	return 0;
}

static void tunnel_init(struct cfg_tunnel *t, unsigned id)
{
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->auth_style = CFG_AUTH_DIGEST;
	t->keepalive = true;
	t->keepalive_interval = KEEPALIVE_INTERVAL_DEFAULT;
	t->keepalive_count = KEEPALIVE_COUNT_DEFAULT;
	t->mss_mode = CFG_MSS_OFF;
	t->hub_hold = CFG_HUB_HOLD_DEFAULT;
	t->dp.local_port = L2TP_PORT;
	t->dp.remote_port = L2TP_PORT;
	snprintf(t->ifname, sizeof(t->ifname), "tunnel%u", id % 100000u);
}

/* Linear: the array is only sorted once a parse has finished. */
static struct cfg_tunnel *tunnel_lookup(struct cfg *c, unsigned id)
{
	for (size_t i = 0; i < c->n_tunnels; i++)
		if (c->tunnels[i].id == id)
			return &c->tunnels[i];
	return NULL;
}

static int tunnel_get(struct cfg *c, unsigned id, struct cfg_tunnel **ret)
{
	struct cfg_tunnel *t = tunnel_lookup(c, id);

	if (!t) {
		if (array_grow((void **)&c->tunnels, c->n_tunnels, sizeof(*c->tunnels)) < 0)
			return -ENOMEM;
		t = &c->tunnels[c->n_tunnels++];
		tunnel_init(t, id);
	}
	*ret = t;
	return 0;
}

static int tunnel_cmp(const void *a, const void *b)
{
	const struct cfg_tunnel *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int bridge_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_bridge *)a)->name, ((const struct cfg_bridge *)b)->name);
}

static int address_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_address *)a)->ifname,
		      ((const struct cfg_address *)b)->ifname);
}

static void cfg_sort(struct cfg *c)
{
	if (c->n_tunnels > 1)
		qsort(c->tunnels, c->n_tunnels, sizeof(*c->tunnels), tunnel_cmp);
	if (c->n_bridges > 1)
		qsort(c->bridges, c->n_bridges, sizeof(*c->bridges), bridge_cmp);
	if (c->n_addresses > 1)
		qsort(c->addresses, c->n_addresses, sizeof(*c->addresses), address_cmp);
}

const struct cfg_tunnel *cfg_tunnel_find(const struct cfg *c, unsigned id)
{
	struct cfg_tunnel key = { .id = id };

	if (!c || !c->n_tunnels)
		return NULL;
	return bsearch(&key, c->tunnels, c->n_tunnels, sizeof(key), tunnel_cmp);
}

const struct cfg_bridge *cfg_bridge_find(const struct cfg *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_bridges; i++)
		if (!strcmp(c->bridges[i].name, name))
			return &c->bridges[i];
	return NULL;
}

static const struct cfg_address *address_find(const struct cfg *c, const char *ifname)
{
	for (size_t i = 0; i < c->n_addresses; i++)
		if (!strcmp(c->addresses[i].ifname, ifname))
			return &c->addresses[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Value parsers: true if s is well-formed, *ret set only then          */
/* ------------------------------------------------------------------ */

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > hi)
			return false;
	}
	if (v < lo)
		return false;
	*ret = (unsigned)v;
	return true;
}

static bool parse_onoff(const char *s, bool *ret)
{
	if (!strcasecmp(s, "on"))
		*ret = true;
	else if (!strcasecmp(s, "off"))
		*ret = false;
	else
		return false;
	return true;
}

/* A.B.C.D to a host-order number (Router IDs) */
static bool parse_router_id(const char *s, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ret = ntohl(a.s_addr);
	return true;
}

/* An IPv4 or IPv6 literal with port 1701 */
static bool parse_sockaddr(const char *s, struct sockaddr_storage *ret)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(L2TP_PORT);
	} else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(L2TP_PORT);
	} else {
		return false;
	}
	*ret = ss;
	return true;
}

/* Unspecified, multicast or broadcast: no place for a tunnel end */
static bool sockaddr_is_special(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);

		return a == 0 || a == 0xffffffffu || (a >> 28) == 0xe;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	return IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_MULTICAST(a6);
}

/* Linux accepts a name of 1..15 bytes other than "." and "..", without '/' or ':' */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return !strpbrk(s, "/:");
}

/*
 * True if s is "tunnel" and digits: a tunnel's TAP port.  *ret_id is its
 * number, or 0 if the number is out of range or has a leading zero.
 */
/*
 * A tunnel's TAP port: "tunnelN", or "tunnelN-Q" for its pseudowire Q.
 * *ret_id is 0 if N is not a tunnel number, *ret_pw (1 without "-Q") is
 * 0 if Q is not a pseudowire number 2..CFG_MAX_PW.
 */
static bool tunnel_pw_port(const char *s, unsigned *ret_id, unsigned *ret_pw)
{
	char digits[16];
	const char *dash;
	size_t len;
	unsigned id, q = 1;

	if (strncmp(s, "tunnel", 6) != 0)
		return false;
	s += 6;
	dash = strchr(s, '-');
	len = dash ? (size_t)(dash - s) : strlen(s);
	if (!len || len >= sizeof(digits) || strspn(s, "0123456789") != len)
		return false;
	if (dash && (!dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1)))
		return false;
	memcpy(digits, s, len);
	digits[len] = '\0';
	if (digits[0] == '0' || !parse_uint(digits, 1, CFG_MAX_TUNNELS, &id))
		id = 0;
	if (dash && (dash[1] == '0' || !parse_uint(dash + 1, 2, CFG_MAX_PW, &q)))
		q = 0;
	*ret_id = id;
	*ret_pw = q;
	return true;
}

static bool tunnel_port(const char *s, unsigned *ret_id)
{
	unsigned q;

	return tunnel_pw_port(s, ret_id, &q);
}

/* ------------------------------------------------------------------ */
/* Line handlers                                                       */
/* ------------------------------------------------------------------ */

struct parser {
	struct cfg *c;
	struct cfg_diags *d;
	const char *name;
	unsigned lineno;
	unsigned cur; /* tunnel of the last `tunnel select`, 0 = none */
	size_t cur_index; /* its index in c->tunnels (stable while parsing) */
	bool cur_bad; /* the last `tunnel select` was an error: skip its block */
	char *w[MAX_WORDS]; /* words of the current line */
	size_t nw;
	char quoted[QUOTE_MAX + 4]; /* the words joined by one space */
	/* for the handler: */
	struct cfg_tunnel *t; /* the selected tunnel, for SCOPE_TUNNEL */
	char *const *a; /* the words after the keywords */
	size_t n;
};

/* A diagnostic on the current line: "'LINE': MESSAGE" */
__attribute__((format(printf, 3, 4)))
static int pdiag(struct parser *p, enum cfg_diag_level level, const char *fmt, ...)
{
	char msg[sizeof(((struct cfg_diag *)NULL)->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return diag_add(p->d, p->name, p->lineno, level, "'%s': %.*s", p->quoted,
			(int)(sizeof(msg) - sizeof(p->quoted) - 8), msg);
}

#define perr(p, ...) pdiag((p), CFG_DIAG_ERROR, __VA_ARGS__)

enum scope {
	SCOPE_GLOBAL, /* valid in and out of a `tunnel select` block */
	SCOPE_TUNNEL, /* needs a selected tunnel */
};

typedef int handler_fn(struct parser *p);

struct command {
	const char *words[6]; /* keywords; "*" matches any one word */
	unsigned min_args, max_args; /* words after the keywords */
	enum scope scope;
	handler_fn *handler; /* NULL: a router's job, accepted with `notice` */
	const char *usage_or_notice;
};

static int h_tunnel_select(struct parser *p)
{
	char *const *a = p->a;
	struct cfg_tunnel *t;
	unsigned id;

	p->cur = 0;
	p->cur_bad = false;
	if (!strcasecmp(a[0], "none"))
		return 0;
	if (!parse_uint(a[0], 1, CFG_MAX_TUNNELS, &id)) {
		p->cur_bad = true;
		return perr(p, "tunnel number must be 1..%d or none: the lines up to the next "
			    "'tunnel select' are skipped", CFG_MAX_TUNNELS);
	}
	if (tunnel_get(p->c, id, &t) < 0)
		return -ENOMEM;
	if (!t->line)
		t->line = p->lineno;
	p->cur = id;
	p->cur_index = (size_t)(t - p->c->tunnels);
	return 0;
}

static int tunnel_enable(struct parser *p, const char *arg, bool enable)
{
	struct cfg_tunnel *t;
	unsigned id;

	if (!parse_uint(arg, 1, CFG_MAX_TUNNELS, &id))
		return perr(p, "tunnel number must be 1..%d", CFG_MAX_TUNNELS);
	if (tunnel_get(p->c, id, &t) < 0)
		return -ENOMEM;
	t->enabled = enable;
	t->enable_line = p->lineno;
	return 0;
}

static int h_tunnel_enable(struct parser *p)
{
	return tunnel_enable(p, p->a[0], true);
}

static int h_tunnel_disable(struct parser *p)
{
	return tunnel_enable(p, p->a[0], false);
}

static int h_encapsulation(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;
	static const struct {
		const char *name, *what;
	} others[] = {
		{ "l2tp", "L2TPv2 over IPsec" },
		{ "ipsec", "IPsec" },
		{ "pptp", "PPTP" },
		{ "ipip", "IP over IP" },
	};
	const char *what = "this encapsulation";

	if (!strcasecmp(a[0], "l2tpv3-raw") || !strcasecmp(a[0], "l2tpv3-ip") || !strcasecmp(a[0], "l2tpv3")) {
		t->has_encapsulation = true;
		t->encap = !strcasecmp(a[0], "l2tpv3-ip") ? CFG_ENCAP_IP : CFG_ENCAP_UDP;
		t->ipsec.on = !strcasecmp(a[0], "l2tpv3"); /* L2TPv3/IPsec: ipsec_cfg.c */
		return 0;
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (!strcasecmp(a[0], others[i].name))
			what = others[i].what;
	return perr(p, "%s is not supported: l2tpv3d speaks l2tpv3-raw (L2TPv3 over UDP "
		    "without IPsec), l2tpv3 (L2TPv3/IPsec) and l2tpv3-ip (L2TPv3 over IP protocol 115)", what);
}

static int h_endpoint(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;
	size_t n = p->n;
	struct sockaddr_storage local, remote;
	const char *ls = n == 2 ? a[0] : NULL, *rs = a[n - 1];

	memset(&local, 0, sizeof(local));
	if (ls && !parse_sockaddr(ls, &local))
		return perr(p, "local address '%s' is not an IPv4 or IPv6 address", ls);
	if (!parse_sockaddr(rs, &remote))
		return perr(p, "remote address '%s' is not an IPv4 or IPv6 address "
			    "(host names are not supported)", rs);
	if (ls && local.ss_family != remote.ss_family)
		return perr(p, "local '%s' and remote '%s' must both be IPv4 or both IPv6", ls, rs);
	if (ls && sockaddr_is_special(&local))
		return perr(p, "local address '%s' cannot be a tunnel endpoint", ls);
	if (sockaddr_is_special(&remote))
		return perr(p, "remote address '%s' cannot be a tunnel endpoint", rs);
	t->has_endpoint = true;
	t->has_local_address = ls != NULL;
	t->local = local;
	t->remote = remote;
	return 0;
}

static int set_onoff(struct parser *p, const char *arg, bool *field)
{
	if (!parse_onoff(arg, field))
		return perr(p, "expected on or off, not '%s'", arg);
	return 0;
}

static int h_always_on(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;

	return set_onoff(p, a[0], &t->always_on);
}

static int h_keepalive_log(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;

	return set_onoff(p, a[0], &t->keepalive_log);
}

static int h_syslog(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;

	return set_onoff(p, a[0], &t->syslog);
}

/* Copy a one-word name of at most max bytes into dst[max + 1]. */
static int set_name(struct parser *p, const char *what, const char *s, char *dst, size_t max)
{
	size_t len = strlen(s);

	if (len > max)
		return perr(p, "%s is %zu bytes long, more than %zu", what, len, max);
	memcpy(dst, s, len + 1);
	return 0;
}

static int h_hostname(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;

	return set_name(p, "the host name", a[0], t->hostname, CFG_NAME_MAX);
}

static int h_end_id(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;

	if (strlen(a[0]) > CFG_NAME_MAX)
		return set_name(p, "the end id", a[0], t->remote_end_id, CFG_NAME_MAX);
	t->has_remote_end_id = true;
	return set_name(p, "the end id", a[0], t->remote_end_id, CFG_NAME_MAX);
}

static int h_auth(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;
	size_t n = p->n;
	size_t len;

	if (!strcasecmp(a[0], "off")) {
		if (n != 1)
			return perr(p, "expected 'l2tp tunnel auth off' with nothing after it");
		t->auth = false;
		memset(t->secret, 0, sizeof(t->secret));
		return 0;
	}
	if (strcasecmp(a[0], "on") != 0)
		return perr(p, "expected 'on SECRET' or 'off', not '%s'", a[0]);
	if (n != 2)
		return perr(p, "a secret is required: expected 'l2tp tunnel auth on SECRET'");
	len = strlen(a[1]);
	if (len > CFG_SECRET_MAX)
		return perr(p, "the secret is %zu bytes long, more than %d", len, CFG_SECRET_MAX);
	t->auth = true;
	memset(t->secret, 0, sizeof(t->secret));
	memcpy(t->secret, a[1], len);
	return 0;
}

/* `l2tp tunnel auth method digest-md5|digest-sha1|challenge`: how we
 * authenticate as initiator (a responder follows its peer's SCCRQ). */
static int h_auth_method(struct parser *p)
{
	static const char *const names[] = { [CFG_AUTH_DIGEST] = "digest-md5",
					     [CFG_AUTH_CHALLENGE] = "challenge",
					     [CFG_AUTH_DIGEST_SHA1] = "digest-sha1" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(p->a[0], names[i])) {
			p->t->auth_style = (enum cfg_auth_style)i;
			return 0;
		}
	}
	return perr(p, "expected digest-md5, digest-sha1 or challenge, not '%s'", p->a[0]);
}

static int h_disconnect(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;
	unsigned v;

	if (!strcasecmp(a[0], "off")) {
		t->disconnect_time = 0;
		return 0;
	}
	if (!parse_uint(a[0], 1, DISCONNECT_TIME_MAX, &v))
		return perr(p, "expected off or 1..%d seconds", DISCONNECT_TIME_MAX);
	t->disconnect_time = v;
	return 0;
}

static int h_keepalive_use(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;
	size_t n = p->n;
	unsigned interval = KEEPALIVE_INTERVAL_DEFAULT, count = KEEPALIVE_COUNT_DEFAULT;

	if (!strcasecmp(a[0], "off")) {
		if (n != 1)
			return perr(p, "expected 'l2tp keepalive use off' with nothing after it");
		t->keepalive = false;
		t->keepalive_interval = KEEPALIVE_INTERVAL_DEFAULT;
		t->keepalive_count = KEEPALIVE_COUNT_DEFAULT;
		return 0;
	}
	if (strcasecmp(a[0], "on") != 0)
		return perr(p, "expected on [INTERVAL [COUNT]] or off, not '%s'", a[0]);
	if (n >= 2 && !parse_uint(a[1], 1, KEEPALIVE_INTERVAL_MAX, &interval))
		return perr(p, "interval must be 1..%d seconds", KEEPALIVE_INTERVAL_MAX);
	if (n >= 3 && !parse_uint(a[2], 1, KEEPALIVE_COUNT_MAX, &count))
		return perr(p, "count must be 1..%d", KEEPALIVE_COUNT_MAX);
	t->keepalive = true;
	t->keepalive_interval = interval;
	t->keepalive_count = count;
	return 0;
}

static int set_router_id(struct parser *p, const char *arg, bool *has, uint32_t *id)
{
	uint32_t v;

	if (!parse_router_id(arg, &v))
		return perr(p, "expected a router id written as an IPv4 address A.B.C.D");
	if (v == 0)
		return perr(p, "the router id must not be 0.0.0.0");
	*has = true;
	*id = v;
	return 0;
}

static int h_local_router_id(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;

	return set_router_id(p, a[0], &t->has_local_router_id, &t->local_router_id);
}

static int h_remote_router_id(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;

	return set_router_id(p, a[0], &t->has_remote_router_id, &t->remote_router_id);
}

static int h_hub(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;
	unsigned v = CFG_HUB_DEFAULT;

	if (!strcasecmp(a[0], "off") && p->n == 1) {
		t->hub_max = 0;
		return 0;
	}
	if (strcasecmp(a[0], "on") || (p->n == 2 && !parse_uint(a[1], 1, CFG_HUB_MAX, &v)))
		return perr(p, "expected on [MAX-PEERS 1..%d] or off", CFG_HUB_MAX);
	t->hub_max = v;
	return 0;
}

static int h_hub_hold(struct parser *p)
{
	unsigned v;

	if (!parse_uint(p->a[0], 0, CFG_HUB_HOLD_MAX, &v))
		return perr(p, "expected 0..%d seconds", CFG_HUB_HOLD_MAX);
	p->t->hub_hold = v;
	return 0;
}

static int h_mss(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	char *const *a = p->a;
	unsigned v;

	if (!strcasecmp(a[0], "auto")) {
		t->mss_mode = CFG_MSS_AUTO;
		t->mss_value = 0;
	} else if (!strcasecmp(a[0], "off")) {
		t->mss_mode = CFG_MSS_OFF;
		t->mss_value = 0;
	} else if (parse_uint(a[0], MSS_MIN, MSS_MAX, &v)) {
		t->mss_mode = CFG_MSS_FIXED;
		t->mss_value = v;
	} else {
		return perr(p, "expected auto, off or an MSS of %d..%d bytes", MSS_MIN, MSS_MAX);
	}
	return 0;
}

static int h_service(struct parser *p)
{
	char *const *a = p->a;
	size_t n = p->n;
	bool v2 = false, v3 = false;

	if (!strcasecmp(a[0], "off")) {
		if (n != 1)
			return perr(p, "expected 'l2tp service off' with nothing after it");
		p->c->service_on = false;
		return 0;
	}
	if (strcasecmp(a[0], "on") != 0)
		return perr(p, "expected on [l2tpv3] or off, not '%s'", a[0]);
	for (size_t i = 1; i < n; i++) {
		if (!strcasecmp(a[i], "l2tpv3"))
			v3 = true;
		else if (!strcasecmp(a[i], "l2tp"))
			v2 = true;
		else
			return perr(p, "unknown protocol '%s': expected l2tpv3", a[i]);
	}
	if (v2 && !v3)
		return perr(p, "L2TPv2 ('l2tp') is not supported: l2tpv3d serves L2TPv3 only");
	p->c->service_on = true;
	if (v2)
		return pdiag(p, CFG_DIAG_WARNING,
			     "L2TPv2 ('l2tp') is not supported: only L2TPv3 is served");
	return 0;
}

/* `metrics listen A.B.C.D:PORT` or `metrics listen [V6]:PORT` */
static int h_metrics_listen(struct parser *p)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *s = p->a[0], *colon;
	struct sockaddr_storage ss;
	unsigned port;
	size_t hl;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return perr(p, "expected [IPV6]:PORT, not '%s'", s);
		hl = (size_t)(end - s - 1);
		colon = end + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return perr(p, "expected ADDRESS:PORT, not '%s'", s);
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return perr(p, "bad address in '%s'", p->a[0]);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (!parse_uint(colon + 1, 1, 65535, &port))
		return perr(p, "bad port '%s': expected 1-65535", colon + 1);
	if (!parse_sockaddr(host, &ss) || (ss.ss_family == AF_INET6) != (p->a[0][0] == '['))
		return perr(p, "bad address '%s': expected an IPv4 address or [IPv6]", host);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	p->c->metrics = ss;
	p->c->has_metrics = true;
	return 0;
}

/* `dataplane realtime on [PRIORITY]` / `dataplane realtime off` */
static int h_dp_realtime(struct parser *p)
{
	bool on;
	unsigned prio = CFG_DP_RT_DEFAULT;

	if (!parse_onoff(p->a[0], &on) || (!on && p->n > 1))
		return perr(p, "expected on [PRIORITY 1..99] or off");
	if (p->n > 1 && !parse_uint(p->a[1], 1, 99, &prio))
		return perr(p, "bad priority '%s': expected 1..99", p->a[1]);
	p->c->has_dp_realtime = true;
	p->c->dp_realtime = on ? prio : 0;
	return 0;
}

/* `dataplane threads N` */
static int h_dp_threads(struct parser *p)
{
	unsigned n;

	if (!parse_uint(p->a[0], 1, CFG_DP_THREADS_MAX, &n))
		return perr(p, "bad thread count '%s': expected 1..%u", p->a[0], CFG_DP_THREADS_MAX);
	p->c->dp_threads = n;
	return 0;
}

/* `dataplane busy-poll USEC` */
static int h_dp_busy_poll(struct parser *p)
{
	unsigned n;

	if (!parse_uint(p->a[0], 0, CFG_DP_BUSY_POLL_MAX, &n))
		return perr(p, "bad time '%s': expected 0..%u microseconds", p->a[0], CFG_DP_BUSY_POLL_MAX);
	p->c->dp_busy_poll = n;
	return 0;
}

/* `dataplane fastpath on|off` */
static int h_dp_fastpath(struct parser *p)
{
	return set_onoff(p, p->a[0], &p->c->dp_fastpath);
}

static int h_bridge_member(struct parser *p)
{
	char *const *a = p->a;
	size_t n = p->n;
	struct cfg_bridge *b = NULL;
	const char *name = a[0];
	unsigned id, q;

	if (!valid_ifname(name))
		return perr(p, "'%s' is not a valid interface name (1..%d bytes, no '/' or ':')",
			    name, IFNAMSIZ - 1);
	if (tunnel_port(name, &id))
		return perr(p, "a bridge cannot be named '%s' like a tunnel port", name);
	for (size_t i = 1; i < n; i++) {
		if (!valid_ifname(a[i]))
			return perr(p, "'%s' is not a valid interface name (1..%d bytes, no '/' "
				    "or ':')", a[i], IFNAMSIZ - 1);
		if (tunnel_pw_port(a[i], &id, &q) && id == 0)
			return perr(p, "'%s' is not a tunnel port: tunnel numbers are 1..%d "
				    "without leading zeros", a[i], CFG_MAX_TUNNELS);
		if (tunnel_pw_port(a[i], &id, &q) && q == 0)
			return perr(p, "'%s' is not a tunnel port: after tunnel%u- comes a pseudowire "
				    "number 2..%d (pseudowire 1 is tunnel%u)", a[i], id, CFG_MAX_PW, id);
		if (!strcmp(a[i], name))
			return perr(p, "'%s' cannot be a member of itself", name);
		for (size_t j = 1; j < i; j++)
			if (!strcmp(a[i], a[j]))
				return perr(p, "'%s' is listed twice", a[i]);
	}
	for (size_t i = 0; i < p->c->n_bridges; i++)
		if (!strcmp(p->c->bridges[i].name, name))
			b = &p->c->bridges[i];
	if (!b) {
		if (p->c->n_bridges >= CFG_MAX_BRIDGES)
			return perr(p, "more than %d bridges", CFG_MAX_BRIDGES);
		if (array_grow((void **)&p->c->bridges, p->c->n_bridges, sizeof(*b)) < 0)
			return -ENOMEM;
		b = &p->c->bridges[p->c->n_bridges++];
	}
	/* like a RTX, a later line replaces the member list */
	memset(b, 0, sizeof(*b));
	memcpy(b->name, name, strlen(name) + 1);
	b->line = p->lineno;
	for (size_t i = 1; i < n; i++)
		memcpy(b->members[i - 1], a[i], strlen(a[i]) + 1);
	b->n_members = n - 1;
	return 0;
}

static int h_ip_address(struct parser *p)
{
	char *const *a = p->a;
	const char *ifname = p->w[1];
	const char *slash = strchr(a[0], '/');
	char addr[INET_ADDRSTRLEN];
	struct cfg_address *ca = NULL;
	struct in_addr v4;
	unsigned len;
	uint32_t h;

	if (!strcasecmp(ifname, "tunnel"))
		return perr(p, "an address on a tunnel interface is not supported: put it on "
			    "the bridge the tunnel is a member of");
	if (!valid_ifname(ifname))
		return perr(p, "'%s' is not a valid interface name (1..%d bytes, no '/' or ':')",
			    ifname, IFNAMSIZ - 1);
	if (!slash || (size_t)(slash - a[0]) >= sizeof(addr) ||
	    !parse_uint(slash + 1, 1, 32, &len))
		return perr(p, "expected A.B.C.D/LEN with LEN 1..32, not '%s'", a[0]);
	memcpy(addr, a[0], (size_t)(slash - a[0]));
	addr[slash - a[0]] = '\0';
	if (inet_pton(AF_INET, addr, &v4) != 1)
		return perr(p, "'%s' is not an IPv4 address", addr);
	h = ntohl(v4.s_addr);
	if (h == 0 || h == 0xffffffffu || (h >> 28) == 0xe)
		return perr(p, "'%s' cannot be an interface address", addr);
	for (size_t i = 0; i < p->c->n_addresses; i++)
		if (!strcmp(p->c->addresses[i].ifname, ifname))
			ca = &p->c->addresses[i];
	if (!ca) {
		if (p->c->n_addresses >= CFG_MAX_ADDRESSES)
			return perr(p, "more than %d interface addresses", CFG_MAX_ADDRESSES);
		if (array_grow((void **)&p->c->addresses, p->c->n_addresses, sizeof(*ca)) < 0)
			return -ENOMEM;
		ca = &p->c->addresses[p->c->n_addresses++];
	}
	/* like a RTX, a later line replaces the address */
	memset(ca, 0, sizeof(*ca));
	memcpy(ca->ifname, ifname, strlen(ifname) + 1);
	ca->line = p->lineno;
	ca->family = AF_INET;
	ca->addr.v4 = v4;
	ca->prefixlen = len;
	return 0;
}

/* ---- data-plane settings (struct cfg_dataplane) ---- */

static const char *const compat_names[] = {
	[CFG_COMPAT_NONE] = "none",
	[CFG_COMPAT_YAMAHA] = "yamaha",
	[CFG_COMPAT_CISCO] = "cisco",
	[CFG_COMPAT_MIKROTIK] = "mikrotik",
	[CFG_COMPAT_LINUX] = "linux",
};

const char *cfg_compat_name(enum cfg_compat c)
{
	if ((unsigned)c < sizeof(compat_names) / sizeof(compat_names[0]))
		return compat_names[c];
	return "none";
}

/*
 * Fill the settings without an explicit line from the preset of
 * dp->compat (see l2tpv3d.conf(5), from shared/protocol.md §8):
 * yamaha and mikrotik: no cookie, no sublayer; cisco: cookie 4, no
 * sublayer; linux: no cookie, Default L2-Specific Sublayer (the kernel's
 * default).  All: Ethernet pseudowire, no data sequencing.
 */
static void dataplane_apply_preset(struct cfg_dataplane *dp)
{
	unsigned cookie_len = dp->compat == CFG_COMPAT_CISCO ? 4 : 0;
	bool l2ss = dp->compat == CFG_COMPAT_LINUX;

	if (!dp->has_cookie_len && !dp->has_cookie_value)
		dp->cookie_len = cookie_len;
	if (!dp->has_l2ss)
		dp->l2ss = l2ss;
	if (!dp->has_data_seq)
		dp->data_seq = false;
	if (!dp->has_pw_type)
		dp->pw_type = CFG_PW_ETHERNET;
}

static int h_compat(struct parser *p)
{
	for (size_t i = 0; i < sizeof(compat_names) / sizeof(compat_names[0]); i++) {
		if (!strcasecmp(p->a[0], compat_names[i])) {
			p->t->dp.compat = (enum cfg_compat)i;
			dataplane_apply_preset(&p->t->dp);
			return 0;
		}
	}
	return perr(p, "expected yamaha, cisco, mikrotik, linux or none, not '%s'", p->a[0]);
}

static int set_port(struct parser *p, bool *has, uint16_t *port)
{
	unsigned v;

	if (!parse_uint(p->a[0], 1, 65535, &v))
		return perr(p, "expected a UDP port 1..65535, not '%s'", p->a[0]);
	*has = true;
	*port = (uint16_t)v;
	return 0;
}

static int h_local_port(struct parser *p)
{
	return set_port(p, &p->t->dp.has_local_port, &p->t->dp.local_port);
}

static int h_remote_port(struct parser *p)
{
	return set_port(p, &p->t->dp.has_remote_port, &p->t->dp.remote_port);
}

static int h_cookie_length(struct parser *p)
{
	struct cfg_dataplane *dp = &p->t->dp;
	unsigned v;

	if (!parse_uint(p->a[0], 0, 8, &v) || (v != 0 && v != 4 && v != 8))
		return perr(p, "cookie length must be 0, 4 or 8 bytes, not '%s'", p->a[0]);
	dp->has_cookie_len = true;
	dp->cookie_len = v;
	return 0;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* `l2tp cookie value HEX` (8 or 16 hex digits, optional 0x) or `random` */
static int h_cookie_value(struct parser *p)
{
	struct cfg_dataplane *dp = &p->t->dp;
	const char *s = p->a[0];
	uint8_t v[8];
	size_t len;

	if (!strcasecmp(s, "random")) {
		dp->has_cookie_value = false;
		dp->cookie_value_len = 0;
		memset(dp->cookie, 0, sizeof(dp->cookie));
		if (!dp->has_cookie_len)
			dataplane_apply_preset(dp);
		return 0;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	len = strlen(s);
	if (len != 8 && len != 16)
		return perr(p, "expected random or a cookie of 8 or 16 hex digits (4 or 8 bytes)");
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return perr(p, "expected random or a cookie of 8 or 16 hex digits (4 or 8 bytes)");
		v[i] = (uint8_t)(hi << 4 | lo);
	}
	dp->has_cookie_value = true;
	memset(dp->cookie, 0, sizeof(dp->cookie));
	memcpy(dp->cookie, v, len / 2);
	dp->cookie_value_len = (unsigned)len / 2;
	if (!dp->has_cookie_len)
		dp->cookie_len = (unsigned)len / 2;
	return 0;
}

static int h_l2ss(struct parser *p)
{
	struct cfg_dataplane *dp = &p->t->dp;

	if (!strcasecmp(p->a[0], "none"))
		dp->l2ss = false;
	else if (!strcasecmp(p->a[0], "default"))
		dp->l2ss = true;
	else
		return perr(p, "expected none or default, not '%s'", p->a[0]);
	dp->has_l2ss = true;
	return 0;
}

static int h_data_sequencing(struct parser *p)
{
	if (set_onoff(p, p->a[0], &p->t->dp.data_seq) < 0)
		return -EINVAL;
	p->t->dp.has_data_seq = true;
	return 0;
}

static int h_pw_type(struct parser *p)
{
	struct cfg_dataplane *dp = &p->t->dp;

	if (!strcasecmp(p->a[0], "ethernet"))
		dp->pw_type = CFG_PW_ETHERNET;
	else if (!strcasecmp(p->a[0], "ethernet-vlan"))
		dp->pw_type = CFG_PW_ETHERNET_VLAN;
	else
		return perr(p, "expected ethernet or ethernet-vlan, not '%s'", p->a[0]);
	dp->has_pw_type = true;
	return 0;
}

/* `l2tp pseudowire Q remote end-id NAME` (Q 2..): a further session of the
 * tunnel; `l2tp pseudowire Q vlan VID|none` (Q 1..): its VLAN */
static int h_pseudowire(struct parser *p)
{
	struct cfg_tunnel *t = p->t;
	struct cfg_pw *pw = NULL;
	bool vlan = p->n == 3 && !strcasecmp(p->a[1], "vlan");
	unsigned q, vid = 0;

	if (!vlan && (p->n != 4 || strcasecmp(p->a[1], "remote") || strcasecmp(p->a[2], "end-id")))
		return perr(p, "expected 'l2tp pseudowire 2..%d remote end-id NAME' or 'l2tp pseudowire 1..%d "
			    "vlan VID|none'", CFG_MAX_PW, CFG_MAX_PW);
	if (!parse_uint(p->a[0], 1, CFG_MAX_PW, &q))
		return perr(p, "bad pseudowire number '%s': expected %d..%d", p->a[0], vlan ? 1 : 2, CFG_MAX_PW);
	if (q == 1 && !vlan)
		return perr(p, "pseudowire 1 is the tunnel's own: set its end-id with 'l2tp remote end-id NAME'");
	if (vlan && strcasecmp(p->a[2], "none") && !parse_uint(p->a[2], 1, 4094, &vid))
		return perr(p, "bad VLAN ID '%s': expected 1..4094 or none", p->a[2]);
	if (vlan && q == 1) {
		t->vlan = vid;
		return 0;
	}
	for (size_t i = 0; i < t->n_pws; i++)
		if (t->pws[i].num == q)
			pw = &t->pws[i]; /* a later line replaces what an earlier one set */
	if (!pw) {
		size_t i = t->n_pws++;

		while (i > 0 && t->pws[i - 1].num > q) {
			t->pws[i] = t->pws[i - 1];
			i--;
		}
		pw = &t->pws[i];
		memset(pw, 0, sizeof(*pw));
		pw->num = q;
	}
	if (vlan) {
		pw->vlan = vid;
		if (!pw->line)
			pw->line = p->lineno;
		return 0;
	}
	pw->line = p->lineno;
	return set_name(p, "the end id", p->a[3], pw->end_id, CFG_NAME_MAX);
}

/* A Session ID: 1..2^32-1, decimal or 0x hex */
static bool parse_sid(const char *s, uint32_t *ret)
{
	unsigned long long v = 0;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		int n = base == 16 ? hex_nibble(*s) : (*s >= '0' && *s <= '9' ? *s - '0' : -1);

		if (n < 0)
			return false;
		v = v * (unsigned)base + (unsigned)n;
		if (v > 0xffffffffull)
			return false;
	}
	if (v == 0)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* `l2tp static session LOCAL-ID REMOTE-ID` */
static int h_static_session(struct parser *p)
{
	uint32_t l, r;

	if (!parse_sid(p->a[0], &l) || !parse_sid(p->a[1], &r))
		return perr(p, "expected two Session IDs 1..4294967295 (decimal or 0x hex), "
			    "the local one (we accept) then the remote one (we send)");
	p->t->is_static = true;
	p->t->static_local_sid = l;
	p->t->static_remote_sid = r;
	return 0;
}

/* `l2tp static cookie receive|send HEX|none` */
static int h_static_cookie(struct parser *p)
{
	const char *s = p->a[1];
	uint8_t v[8], *dst;
	unsigned *dlen;
	size_t len;

	if (!strcasecmp(p->a[0], "receive")) {
		dst = p->t->static_rx_cookie;
		dlen = &p->t->static_rx_cookie_len;
	} else if (!strcasecmp(p->a[0], "send")) {
		dst = p->t->static_tx_cookie;
		dlen = &p->t->static_tx_cookie_len;
	} else {
		return perr(p, "expected receive or send, not '%s'", p->a[0]);
	}
	if (!strcasecmp(s, "none")) {
		memset(dst, 0, 8);
		*dlen = 0;
		return 0;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	len = strlen(s);
	if (len != 8 && len != 16)
		return perr(p, "expected none or a cookie of 8 or 16 hex digits (4 or 8 bytes)");
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return perr(p, "expected none or a cookie of 8 or 16 hex digits (4 or 8 bytes)");
		v[i] = (uint8_t)(hi << 4 | lo);
	}
	memset(dst, 0, 8);
	memcpy(dst, v, len / 2);
	*dlen = (unsigned)len / 2;
	return 0;
}

/* `l2tp static probe A.B.C.D|none`: one unicast IPv4 host */
static int h_static_probe(struct parser *p)
{
	struct in_addr a;
	uint32_t h;

	if (!strcasecmp(p->a[0], "none")) {
		p->t->static_probe = 0;
		return 0;
	}
	if (inet_pton(AF_INET, p->a[0], &a) != 1)
		return perr(p, "expected none or the IPv4 address A.B.C.D of a host across the static session");
	h = ntohl(a.s_addr);
	if (h == 0 || h >> 24 == 127 || h >> 28 >= 14 || h == 0xffffffffu)
		return perr(p, "expected the address of one host, not an unspecified, loopback, "
			    "multicast or broadcast address");
	p->t->static_probe = a.s_addr;
	return 0;
}

#define NOT_OURS "not l2tpv3d's job, ignored: "

/*
 * Every command we know.  The first entry whose keywords all match wins,
 * so specific entries come before general ones (`ip IF address dhcp`
 * before `ip IF address`).
 */
/* `ipsec ...` and `tunnel endpoint name`: ipsec_cfg.c */
static int h_ipsec(struct parser *p)
{
	struct cfg_tunnel *t = p->cur && !p->cur_bad ? &p->c->tunnels[p->cur_index] : NULL;
	char msg[sizeof(((struct cfg_diag *)NULL)->msg) - QUOTE_MAX - 16];
	int level, r;

	if (p->cur_bad && !strcasecmp(p->w[0], "tunnel"))
		return 0; /* reported at its `tunnel select` */
	r = cfg_ipsec_line(&p->c->ipsec, t, p->w, p->nw, p->lineno, &level, msg, sizeof(msg));
	if (r < 0)
		return r;
	if (r > 0)
		return perr(p, "%s", msg);
	if (level > 0)
		return pdiag(p, (enum cfg_diag_level)(level - 1), "%s", msg);
	return 0;
}

static const struct command commands[] = {
	{ { "tunnel", "select" }, 1, 1, SCOPE_GLOBAL, h_tunnel_select, "tunnel select N|none" },
	{ { "tunnel", "enable" }, 1, 1, SCOPE_GLOBAL, h_tunnel_enable, "tunnel enable N" },
	{ { "tunnel", "disable" }, 1, 1, SCOPE_GLOBAL, h_tunnel_disable, "tunnel disable N" },
	{ { "tunnel", "encapsulation" }, 1, 1, SCOPE_TUNNEL, h_encapsulation,
	  "tunnel encapsulation l2tpv3-raw|l2tpv3-ip" },
	{ { "tunnel", "endpoint", "address" }, 1, 2, SCOPE_TUNNEL, h_endpoint,
	  "tunnel endpoint address [LOCAL] REMOTE" },
	{ { "tunnel", "endpoint", "name" }, 0, MAX_WORDS, SCOPE_GLOBAL, h_ipsec,
	  "tunnel endpoint name HOST fqdn" },
	{ { "ipsec" }, 0, MAX_WORDS, SCOPE_GLOBAL, h_ipsec, "ipsec ..." },
	{ { "l2tp", "always-on" }, 1, 1, SCOPE_TUNNEL, h_always_on, "l2tp always-on on|off" },
	{ { "l2tp", "hostname" }, 1, 1, SCOPE_TUNNEL, h_hostname, "l2tp hostname NAME" },
	{ { "l2tp", "tunnel", "auth", "method" }, 1, 1, SCOPE_TUNNEL, h_auth_method,
	  "l2tp tunnel auth method digest-md5|digest-sha1|challenge" },
	{ { "l2tp", "tunnel", "auth" }, 1, 2, SCOPE_TUNNEL, h_auth,
	  "l2tp tunnel auth on SECRET|off" },
	{ { "l2tp", "tunnel", "disconnect", "time" }, 1, 1, SCOPE_TUNNEL, h_disconnect,
	  "l2tp tunnel disconnect time SECONDS|off" },
	{ { "l2tp", "keepalive", "use" }, 1, 3, SCOPE_TUNNEL, h_keepalive_use,
	  "l2tp keepalive use on [INTERVAL [COUNT]]|off" },
	{ { "l2tp", "keepalive", "log" }, 1, 1, SCOPE_TUNNEL, h_keepalive_log,
	  "l2tp keepalive log on|off" },
	{ { "l2tp", "syslog" }, 1, 1, SCOPE_TUNNEL, h_syslog, "l2tp syslog on|off" },
	{ { "l2tp", "local", "router-id" }, 1, 1, SCOPE_TUNNEL, h_local_router_id,
	  "l2tp local router-id A.B.C.D" },
	{ { "l2tp", "remote", "router-id" }, 1, 1, SCOPE_TUNNEL, h_remote_router_id,
	  "l2tp remote router-id A.B.C.D" },
	{ { "l2tp", "remote", "end-id" }, 1, 1, SCOPE_TUNNEL, h_end_id, "l2tp remote end-id NAME" },
	{ { "l2tp", "hub", "hold" }, 1, 1, SCOPE_TUNNEL, h_hub_hold, "l2tp hub hold SECONDS" },
	{ { "l2tp", "hub" }, 1, 2, SCOPE_TUNNEL, h_hub, "l2tp hub on [MAX-PEERS]|off" },
	{ { "l2tp", "compatibility" }, 1, 1, SCOPE_TUNNEL, h_compat,
	  "l2tp compatibility yamaha|cisco|mikrotik|linux|none" },
	{ { "l2tp", "local", "port" }, 1, 1, SCOPE_TUNNEL, h_local_port, "l2tp local port PORT" },
	{ { "l2tp", "remote", "port" }, 1, 1, SCOPE_TUNNEL, h_remote_port, "l2tp remote port PORT" },
	{ { "l2tp", "cookie", "length" }, 1, 1, SCOPE_TUNNEL, h_cookie_length, "l2tp cookie length 0|4|8" },
	{ { "l2tp", "cookie", "value" }, 1, 1, SCOPE_TUNNEL, h_cookie_value, "l2tp cookie value HEX|random" },
	{ { "l2tp", "l2-specific-sublayer" }, 1, 1, SCOPE_TUNNEL, h_l2ss,
	  "l2tp l2-specific-sublayer none|default" },
	{ { "l2tp", "data", "sequencing" }, 1, 1, SCOPE_TUNNEL, h_data_sequencing,
	  "l2tp data sequencing on|off" },
	{ { "l2tp", "pseudowire", "type" }, 1, 1, SCOPE_TUNNEL, h_pw_type,
	  "l2tp pseudowire type ethernet|ethernet-vlan" },
	{ { "l2tp", "pseudowire" }, 3, 4, SCOPE_TUNNEL, h_pseudowire,
	  "l2tp pseudowire Q remote end-id NAME|vlan VID" },
	{ { "l2tp", "static", "session" }, 2, 2, SCOPE_TUNNEL, h_static_session,
	  "l2tp static session LOCAL-ID REMOTE-ID" },
	{ { "l2tp", "static", "cookie" }, 2, 2, SCOPE_TUNNEL, h_static_cookie,
	  "l2tp static cookie receive|send HEX|none" },
	{ { "l2tp", "static", "probe" }, 1, 1, SCOPE_TUNNEL, h_static_probe, "l2tp static probe A.B.C.D|none" },
	{ { "l2tp", "service" }, 1, 3, SCOPE_GLOBAL, h_service, "l2tp service on [l2tpv3]|off" },
	{ { "ip", "tunnel", "tcp", "mss", "limit" }, 1, 1, SCOPE_TUNNEL, h_mss,
	  "ip tunnel tcp mss limit auto|off|BYTES" },
	{ { "metrics", "listen" }, 1, 1, SCOPE_GLOBAL, h_metrics_listen,
	  "metrics listen ADDRESS:PORT" },
	{ { "dataplane", "realtime" }, 1, 2, SCOPE_GLOBAL, h_dp_realtime,
	  "dataplane realtime on [PRIORITY]|off" },
	{ { "dataplane", "threads" }, 1, 1, SCOPE_GLOBAL, h_dp_threads, "dataplane threads N" },
	{ { "dataplane", "busy-poll" }, 1, 1, SCOPE_GLOBAL, h_dp_busy_poll, "dataplane busy-poll USEC" },
	{ { "dataplane", "fastpath" }, 1, 1, SCOPE_GLOBAL, h_dp_fastpath, "dataplane fastpath on|off" },
	{ { "bridge", "member" }, 2, 1 + CFG_MAX_BRIDGE_MEMBERS, SCOPE_GLOBAL, h_bridge_member,
	  "bridge member BRIDGE INTERFACE..." },

	/* a router's job: one notice each */
	{ { "ip", "*", "address", "dhcp" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "run the host's DHCP client on the interface" },
	{ { "ip", "*", "nat", "descriptor" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "configure NAT with nftables" },
	{ { "ip", "*", "secure", "filter" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "filter packets with nftables" },
	{ { "ip", "filter" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "filter packets with nftables" },
	{ { "ip", "route" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "configure routes on the host (ip route, systemd-networkd)" },

	{ { "ip", "*", "address" }, 1, 1, SCOPE_GLOBAL, h_ip_address,
	  "ip INTERFACE address A.B.C.D/LEN" },

	{ { "nat", "descriptor", "masquerade", "static" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "forward the port with an nftables dnat rule" },
	{ { "nat", "descriptor" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "configure NAT with nftables" },
	{ { "dns" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "configure the host's resolver" },
	{ { "telnetd" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL, NOT_OURS "l2tpv3d runs no telnet server" },
	{ { "sshd" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL, NOT_OURS "configure the host's sshd" },
	{ { "httpd" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL, NOT_OURS "l2tpv3d runs no web server" },
	{ { "administrator", "password" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "the host's accounts control who manages l2tpv3d" },
	{ { "login", "password" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "the host's accounts control who manages l2tpv3d" },
	{ { "login", "user" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "the host's accounts control who manages l2tpv3d" },
	{ { "console" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "console settings belong to the host" },
	{ { "timezone" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "set the host's time zone (timedatectl)" },
	{ { "description" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "l2tpv3d keeps no descriptions" },
	{ { "ntpdate" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "keep time with the host's NTP client" },
	{ { "syslog" }, 0, MAX_WORDS, SCOPE_GLOBAL, NULL,
	  NOT_OURS "l2tpv3d logs to the host's syslog or journal; forward from there" },
};

static const struct command *command_find(char *const *w, size_t nw, size_t *ret_nkw)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *cmd = &commands[i];
		size_t k;

		for (k = 0; k < 6 && cmd->words[k]; k++)
			if (k >= nw || (strcmp(cmd->words[k], "*") != 0 &&
					strcasecmp(cmd->words[k], w[k]) != 0))
				break;
		if (k == 6 || !cmd->words[k]) {
			*ret_nkw = k;
			return cmd;
		}
	}
	return NULL;
}

static int dispatch(struct parser *p)
{
	const struct command *cmd;
	struct cfg_tunnel *t = NULL;
	size_t nkw, nargs;

	cmd = command_find(p->w, p->nw, &nkw);
	if (!cmd)
		return perr(p, "unknown command");
	if (!cmd->handler)
		return pdiag(p, CFG_DIAG_NOTICE, "%s", cmd->usage_or_notice);
	nargs = p->nw - nkw;
	if (nargs < cmd->min_args || nargs > cmd->max_args)
		return perr(p, "expected '%s'", cmd->usage_or_notice);
	if (cmd->scope == SCOPE_TUNNEL) {
		if (p->cur_bad)
			return 0; /* reported at its `tunnel select` */
		if (!p->cur)
			return perr(p, "only valid after 'tunnel select N': ignored");
		t = &p->c->tunnels[p->cur_index];
	}
	p->t = t;
	p->a = p->w + nkw;
	p->n = nargs;
	return cmd->handler(p);
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The words joined by one space, cut at QUOTE_MAX with "..." */
static void join_words(struct parser *p)
{
	size_t o = 0;

	for (size_t i = 0; i < p->nw; i++) {
		size_t len = strlen(p->w[i]), room;

		if (o + (i > 0) + len <= QUOTE_MAX) {
			if (i > 0)
				p->quoted[o++] = ' ';
			memcpy(p->quoted + o, p->w[i], len);
			o += len;
			continue;
		}
		room = QUOTE_MAX - o;
		if (i > 0 && room > 0) {
			p->quoted[o++] = ' ';
			room--;
		}
		memcpy(p->quoted + o, p->w[i], room);
		o += room;
		memcpy(p->quoted + o, "...", 4);
		return;
	}
	p->quoted[o] = '\0';
}

/* Quote the raw bytes of a line that cannot be split into words. */
static void quote_raw(struct parser *p, const char *s, size_t len, size_t max)
{
	while (len > 0 && is_blank(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	quote_bytes(p->quoted, max, s, len);
}

/* One line without its '\n'. */
static int parse_line(struct parser *p, const char *raw, size_t len)
{
	char buf[CFG_LINE_MAX + 1];
	const unsigned char *u = (const unsigned char *)raw;
	size_t i, o = 0;

	if (len > 0 && raw[len - 1] == '\r')
		len--;
	if (p->lineno == 1 && len >= 3 && !memcmp(raw, "\xef\xbb\xbf", 3)) {
		raw += 3; /* a byte order mark from a Windows editor */
		u += 3;
		len -= 3;
	}
	if (len > CFG_LINE_MAX) {
		quote_raw(p, raw, len, 64);
		return perr(p, "line is %zu bytes long, more than %d: ignored", len, CFG_LINE_MAX);
	}

	/*
	 * Copy up to the comment.  A no-break space or an ideographic space
	 * (U+00A0, U+3000, common in Japanese text) counts as white space, so
	 * that it may precede the '#' of a comment.
	 */
	for (i = 0; i < len; i++) {
		if (raw[i] == '#' && (o == 0 || is_blank(buf[o - 1])))
			break;
		if (i + 1 < len && u[i] == 0xc2 && u[i + 1] == 0xa0) {
			buf[o++] = ' ';
			buf[o++] = ' ';
			i += 1;
		} else if (i + 2 < len && u[i] == 0xe3 && u[i + 1] == 0x80 && u[i + 2] == 0x80) {
			buf[o++] = ' ';
			buf[o++] = ' ';
			buf[o++] = ' ';
			i += 2;
		} else {
			buf[o++] = raw[i];
		}
	}
	buf[o] = '\0';

	for (i = 0; i < o; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (is_blank(buf[i]) || (ch > 0x20 && ch < 0x7f))
			continue;
		quote_raw(p, buf, o, sizeof(p->quoted));
		if (ch < 0x80)
			return perr(p, "control character 0x%02x: line ignored", ch);
		return perr(p, "non-ASCII text outside a comment (a comment starts with '#' "
			    "after a space): line ignored");
	}

	p->nw = 0;
	for (i = 0; i < o;) {
		while (i < o && is_blank(buf[i]))
			buf[i++] = '\0';
		if (i == o)
			break;
		if (p->nw == MAX_WORDS) {
			quote_raw(p, raw, len, 64);
			return perr(p, "more than %d words: line ignored", MAX_WORDS);
		}
		p->w[p->nw++] = buf + i;
		while (i < o && !is_blank(buf[i]))
			i++;
	}
	if (p->nw == 0)
		return 0;
	join_words(p);
	return dispatch(p);
}

int cfg_parse_buffer(struct cfg *c, const char *name, const char *buf, size_t len,
		     struct cfg_diags *d)
{
	struct parser p = { .c = c, .d = d, .name = name ? name : "" };
	size_t errors = d->n_errors, pos = 0;
	int r = 0;

	while (pos < len && r == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;

		p.lineno++;
		r = parse_line(&p, buf + pos, end - pos);
		pos = end + 1;
	}
	cfg_sort(c);
	if (r < 0)
		return r;
	return d->n_errors > errors ? -EINVAL : 0;
}

/* ------------------------------------------------------------------ */
/* Verify                                                              */
/* ------------------------------------------------------------------ */

struct port_ref {
	const char *member;
	const struct cfg_bridge *bridge;
};

static int port_ref_cmp(const void *a, const void *b)
{
	const struct port_ref *x = a, *y = b;
	int r = strcmp(x->member, y->member);

	if (r)
		return r;
	return (x->bridge->line > y->bridge->line) - (x->bridge->line < y->bridge->line);
}

/* Bridge membership: tunnel ports exist, nobody is in two bridges. */
static int verify_bridges(struct cfg *c, const char *name, struct cfg_diags *d)
{
	struct port_ref *refs;
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < c->n_bridges; i++)
		n += c->bridges[i].n_members;
	refs = calloc(n ? n : 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < c->n_bridges && r == 0; i++) {
		const struct cfg_bridge *b = &c->bridges[i];

		for (size_t j = 0; j < b->n_members && r == 0; j++) {
			const char *m = b->members[j];
			struct cfg_tunnel *t;
			struct cfg_pw *pw = NULL;
			unsigned id, q;

			refs[n++] = (struct port_ref){ .member = m, .bridge = b };
			if (cfg_bridge_find(c, m)) {
				r = diag_add(d, name, b->line, CFG_DIAG_ERROR,
					     "bridge %s: member '%s' is itself a bridge", b->name, m);
				continue;
			}
			if (!tunnel_pw_port(m, &id, &q))
				continue;
			t = (struct cfg_tunnel *)cfg_tunnel_find(c, id);
			for (size_t k = 0; t && q > 1 && k < t->n_pws; k++)
				if (t->pws[k].num == q)
					pw = &t->pws[k];
			if (!t || !t->line)
				r = diag_add(d, name, b->line, CFG_DIAG_ERROR,
					     "bridge %s: member '%s' names tunnel %u, which has no "
					     "'tunnel select %u' block", b->name, m, id, id);
			else if (q > 1 && !pw)
				r = diag_add(d, name, b->line, CFG_DIAG_ERROR,
					     "bridge %s: member '%s' names pseudowire %u of tunnel %u, which "
					     "has no 'l2tp pseudowire %u remote end-id' line", b->name, m, q,
					     id, q);
			else if (pw && !pw->bridge[0])
				memcpy(pw->bridge, b->name, sizeof(pw->bridge));
			else if (!pw && !t->bridge[0])
				memcpy(t->bridge, b->name, sizeof(t->bridge));
		}
	}
	if (r == 0 && n > 1)
		qsort(refs, n, sizeof(*refs), port_ref_cmp);
	for (size_t i = 1; i < n && r == 0; i++)
		if (!strcmp(refs[i].member, refs[i - 1].member))
			r = diag_add(d, name, refs[i].bridge->line, CFG_DIAG_ERROR,
				     "bridge %s: '%s' is already a member of %s (line %u): a port "
				     "can be in one bridge only", refs[i].bridge->name,
				     refs[i].member, refs[i - 1].bridge->name,
				     refs[i - 1].bridge->line);
	free(refs);
	return r;
}

/* `l2tp local router-id` from the endpoint's or the bridge's IPv4 address */
static int verify_local_router_id(struct cfg *c, struct cfg_tunnel *t, const char *name,
				  struct cfg_diags *d)
{
	const struct cfg_address *a;

	if (t->has_local_router_id)
		return 0;
	if (t->has_local_address && t->local.ss_family == AF_INET) {
		t->local_router_id = ntohl(((struct sockaddr_in *)&t->local)->sin_addr.s_addr);
		t->has_local_router_id = true;
		return diag_add(d, name, t->line, CFG_DIAG_NOTICE,
				"tunnel %u: no 'l2tp local router-id': using %s, the endpoint's "
				"local address", t->id, router_id_str(t->local_router_id).s);
	}
	if (t->bridge[0] && (a = address_find(c, t->bridge)) && a->family == AF_INET) {
		t->local_router_id = ntohl(a->addr.v4.s_addr);
		t->has_local_router_id = true;
		return diag_add(d, name, t->line, CFG_DIAG_NOTICE,
				"tunnel %u: no 'l2tp local router-id': using %s, the address of "
				"%s", t->id, router_id_str(t->local_router_id).s, t->bridge);
	}
	return diag_add(d, name, t->line, CFG_DIAG_WARNING,
			"tunnel %u: no 'l2tp local router-id' and no IPv4 address to take it "
			"from (endpoint local address, bridge address): Router ID 0 is sent",
			t->id);
}

/* Cookie, sublayer, sequencing and ports of an enabled tunnel; the
 * remote port goes into t->remote. */
static int verify_dataplane(struct cfg_tunnel *t, const char *name, struct cfg_diags *d)
{
	const struct cfg_dataplane *dp = &t->dp;
	int r = 0;

	if (dp->has_cookie_value && dp->cookie_value_len != dp->cookie_len)
		r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
			     "tunnel %u: 'l2tp cookie value' has %u bytes but the cookie length is %u",
			     t->id, dp->cookie_value_len, dp->cookie_len);
	if (r >= 0 && dp->data_seq && !dp->l2ss)
		r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
			     "tunnel %u: 'l2tp data sequencing on' needs 'l2tp l2-specific-sublayer default' "
			     "(the sequence number travels in the sublayer)", t->id);
	if (r >= 0 && t->encap == CFG_ENCAP_IP && (dp->has_local_port || dp->has_remote_port))
		r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
			     "tunnel %u: 'l2tp %s port' with 'tunnel encapsulation l2tpv3-ip': IP protocol 115 "
			     "has no ports", t->id, dp->has_local_port ? "local" : "remote");
	if (r >= 0 && dp->has_remote_port && !t->has_endpoint)
		r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
			     "tunnel %u: 'l2tp remote port' without 'tunnel endpoint address' has no effect: "
			     "a responder answers the port its peer calls from", t->id);
	/* an IP/115 endpoint has port 0 (no UDP endpoint can) */
	if (t->has_endpoint && t->remote.ss_family == AF_INET)
		((struct sockaddr_in *)&t->remote)->sin_port =
			t->encap == CFG_ENCAP_IP ? 0 : htons(dp->remote_port);
	else if (t->has_endpoint && t->remote.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&t->remote)->sin6_port =
			t->encap == CFG_ENCAP_IP ? 0 : htons(dp->remote_port);
	if (t->has_local_address) {
		uint16_t lp = t->encap == CFG_ENCAP_IP ? 0 : htons(dp->local_port);

		if (t->local.ss_family == AF_INET)
			((struct sockaddr_in *)&t->local)->sin_port = lp;
		else if (t->local.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&t->local)->sin6_port = lp;
	}
	return r;
}

/* A static session runs no control connection: what needs one is ignored */
static int verify_static(struct cfg_tunnel *t, const char *name, struct cfg_diags *d)
{
	int r = 0;

	if (!t->is_static) {
		if (t->static_rx_cookie_len || t->static_tx_cookie_len)
			r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
				     "tunnel %u: 'l2tp static cookie' without 'l2tp static session' is ignored",
				     t->id);
		if (r >= 0 && t->static_probe)
			r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
				     "tunnel %u: 'l2tp static probe' without 'l2tp static session' is ignored "
				     "(a control connection has its keepalive)", t->id);
		return r;
	}
	if (!t->has_endpoint)
		r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
			     "tunnel %u: 'l2tp static session' needs 'tunnel endpoint address' "
			     "(there is no control connection to learn the peer from)", t->id);
	if (r >= 0 && t->hub_max)
		r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
			     "tunnel %u: 'l2tp hub on' and 'l2tp static session' exclude each other", t->id);
	if (r >= 0 && t->auth)
		r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
			     "tunnel %u: 'l2tp tunnel auth' is ignored by a static session "
			     "(no control connection)", t->id);
	if (r >= 0 && (t->dp.has_cookie_len || t->dp.has_cookie_value))
		r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
			     "tunnel %u: 'l2tp cookie length|value' is ignored by a static session: "
			     "use 'l2tp static cookie receive|send'", t->id);
	return r;
}

/* `l2tp pseudowire Q`: end-ids tell the sessions apart; each its own TAP port */
static int verify_pws(const struct cfg_tunnel *t, const char *name, struct cfg_diags *d)
{
	char s[IFNAMSIZ + 16];
	int r = 0;

	if (t->vlan && (t->is_static || !t->bridge[0]))
		return diag_add(d, name, t->line, CFG_DIAG_ERROR,
				"tunnel %u: 'l2tp pseudowire 1 vlan' needs %s", t->id,
				t->is_static ? "a control connection, a static session has none"
					     : "the tunnel's port in a bridge ('bridge member')");
	if (!t->n_pws)
		return 0;
	if (t->is_static)
		return diag_add(d, name, t->pws[0].line, CFG_DIAG_ERROR,
				"tunnel %u: 'l2tp pseudowire' needs a control connection, a static session has none",
				t->id);
	for (size_t i = 0; i < t->n_pws && r >= 0; i++) {
		const struct cfg_pw *pw = &t->pws[i];

		if (!pw->end_id[0]) {
			r = diag_add(d, name, pw->line, CFG_DIAG_ERROR,
				     "tunnel %u: pseudowire %u has a VLAN but no 'l2tp pseudowire %u remote end-id "
				     "NAME' line", t->id, pw->num, pw->num);
			continue;
		}
		if (pw->vlan && !pw->bridge[0]) {
			r = diag_add(d, name, pw->line, CFG_DIAG_ERROR,
				     "tunnel %u: pseudowire %u has VLAN %u but its port %s is in no bridge "
				     "('bridge member')", t->id, pw->num, pw->vlan, pw->ifname);
			continue;
		}
		if (t->has_remote_end_id && !strcmp(pw->end_id, t->remote_end_id)) {
			r = diag_add(d, name, pw->line, CFG_DIAG_ERROR,
				     "tunnel %u: pseudowire %u has the end-id '%s' of pseudowire 1 "
				     "('l2tp remote end-id'): the peer's sessions could not be told apart",
				     t->id, pw->num, pw->end_id);
			continue;
		}
		for (size_t j = 0; j < i && r >= 0; j++)
			if (!strcmp(pw->end_id, t->pws[j].end_id))
				r = diag_add(d, name, pw->line, CFG_DIAG_ERROR,
					     "tunnel %u: pseudowire %u has the end-id '%s' of pseudowire %u "
					     "(line %u): the peer's sessions could not be told apart", t->id,
					     pw->num, pw->end_id, t->pws[j].num, t->pws[j].line);
		if (r >= 0 && !pw->bridge[0])
			r = diag_add(d, name, pw->line, CFG_DIAG_WARNING,
				     "tunnel %u: pseudowire %u's port %s is in no 'bridge member' line: its "
				     "frames reach only the TAP port", t->id, pw->num, pw->ifname);
	}
	if (r >= 0 && t->hub_max) {
		/* a hub's peer P gets tunnelN.P-Q */
		int len = snprintf(s, sizeof(s), "%s.%u-%u", t->ifname, t->hub_max, t->pws[t->n_pws - 1].num);

		if (len >= IFNAMSIZ)
			r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
				     "tunnel %u: with 'l2tp hub on %u' and pseudowires, port names such as "
				     "%s are longer than %d bytes: lower the hub's MAX-PEERS or the tunnel number",
				     t->id, t->hub_max, s, IFNAMSIZ - 1);
	}
	return r;
}

static int verify_tunnel(struct cfg *c, struct cfg_tunnel *t, const char *name,
			 struct cfg_diags *d)
{
	int r;

	if (!t->enabled)
		return diag_add(d, name, t->line, CFG_DIAG_NOTICE,
				"tunnel %u: no 'tunnel enable %u': the tunnel stays down",
				t->id, t->id);
	if (!t->has_encapsulation &&
	    (r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
			  "tunnel %u: enabled without 'tunnel encapsulation l2tpv3-raw'",
			  t->id)) < 0)
		return r;
	if (!t->bridge[0] &&
	    (r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
			  "tunnel %u: %s is in no 'bridge member' line: its frames reach only "
			  "the TAP port", t->id, t->ifname)) < 0)
		return r;
	if (!t->has_endpoint && !t->auth && !t->has_remote_router_id && !t->is_static &&
	    (r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
			  "tunnel %u: no 'tunnel endpoint address', 'l2tp tunnel auth on' or "
			  "'l2tp remote router-id': answers any peer", t->id)) < 0)
		return r;
	if (t->hub_max && (t->has_endpoint || t->has_remote_router_id) &&
	    (r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
			  "tunnel %u: 'l2tp hub on' is for a responder that takes any Router ID: "
			  "remove 'tunnel endpoint address' and 'l2tp remote router-id'", t->id)) < 0)
		return r;
	if (t->hub_max > CFG_BRIDGE_PORTS_MAX && t->bridge[0] &&
	    (r = diag_add(d, name, t->line, CFG_DIAG_WARNING,
			  "tunnel %u: 'l2tp hub on %u': %s takes at most %d ports (a Linux bridge): the peers "
			  "beyond are refused; use several hub tunnels in several bridges", t->id, t->hub_max,
			  t->bridge, CFG_BRIDGE_PORTS_MAX)) < 0)
		return r;
	if ((r = verify_static(t, name, d)) < 0)
		return r;
	if ((r = verify_pws(t, name, d)) < 0)
		return r;
	if ((r = verify_dataplane(t, name, d)) < 0)
		return r;
	if (t->is_static) /* no control connection: no Router ID sent */
		return 0;
	return verify_local_router_id(c, t, name, d);
}

/* Data is told apart by its Session ID alone: static ones must differ. */
static int verify_static_sids(struct cfg *c, const char *name, struct cfg_diags *d)
{
	for (size_t i = 0; i < c->n_tunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];

		if (!t->line || !t->enabled || !t->is_static)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct cfg_tunnel *u = &c->tunnels[j];
			int r;

			if (!u->line || !u->enabled || !u->is_static || u->static_local_sid != t->static_local_sid)
				continue;
			r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
				     "tunnel %u: static local Session ID %u is also tunnel %u's", t->id,
				     t->static_local_sid, u->id);
			if (r < 0)
				return r;
			break;
		}
	}
	return 0;
}

/* Responders are told apart by the Router ID their peer sends. */
static int verify_responders(struct cfg *c, const char *name, struct cfg_diags *d)
{
	for (size_t i = 0; i < c->n_tunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];

		if (!t->line || !t->enabled || t->has_endpoint || !t->has_remote_router_id)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct cfg_tunnel *o = &c->tunnels[j];
			int r;

			if (!o->line || !o->enabled || o->has_endpoint || !o->has_remote_router_id ||
			    o->remote_router_id != t->remote_router_id)
				continue;
			r = diag_add(d, name, t->line, CFG_DIAG_ERROR,
				     "tunnel %u: 'l2tp remote router-id %s' is also tunnel %u's "
				     "(line %u): without 'tunnel endpoint address' the two cannot "
				     "be told apart", t->id, router_id_str(t->remote_router_id).s,
				     o->id, o->line);
			if (r < 0)
				return r;
			break;
		}
	}
	return 0;
}

/* Initiators calling one peer make one control connection each: say that
 * pseudowires share one (some peers, SEIL, accept one per address pair). */
static int verify_shared_endpoints(struct cfg *c, const char *name, struct cfg_diags *d)
{
	for (size_t i = 0; i < c->n_tunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i], *first = NULL;
		size_t more = 0;
		bool seen = false;

		if (!t->line || !t->enabled || !t->has_endpoint || t->is_static)
			continue;
		for (size_t j = 0; j < c->n_tunnels && !seen; j++) {
			const struct cfg_tunnel *o = &c->tunnels[j];

			if (j == i || !o->line || !o->enabled || !o->has_endpoint || o->is_static ||
			    o->encap != t->encap || !sockaddr_equal(&o->remote, &t->remote))
				continue;
			if (j < i)
				seen = true; /* told at the first tunnel with this peer */
			else if (!first)
				first = o;
			else
				more++;
		}
		if (seen || !first)
			continue;
		if (diag_add(d, name, first->line, CFG_DIAG_NOTICE,
			     "tunnel %u%s call%s the peer of tunnel %u: one control connection each; "
			     "'l2tp pseudowire' lines in one tunnel share one (some peers, SEIL among them, "
			     "accept only one per address pair)", first->id, more ? " and others" : "",
			     more ? "" : "s", t->id) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Order diagnostics [from, n) by line, stably; file-wide ones (line 0) last. */
static void diags_sort_by_line(struct cfg_diags *d, size_t from)
{
	size_t n = d->n == CFG_DIAGS_MAX ? d->n - 1 : d->n; /* keep "not shown" last */

	for (size_t i = from + 1; i < n; i++) {
		struct cfg_diag x = d->v[i];
		unsigned key = x.line ? x.line : UINT_MAX;
		size_t j = i;

		for (; j > from && (d->v[j - 1].line ? d->v[j - 1].line : UINT_MAX) > key; j--)
			d->v[j] = d->v[j - 1];
		d->v[j] = x;
	}
}

static int verify(struct cfg *c, const char *name, struct cfg_diags *d);

int cfg_verify(struct cfg *c, const char *name, struct cfg_diags *d)
{
	size_t from = d->n;
	int r = verify(c, name ? name : "", d);

	diags_sort_by_line(d, from);
	return r;
}

static int verify(struct cfg *c, const char *name, struct cfg_diags *d)
{
	size_t errors = d->n_errors, keep = 0;
	bool any_enabled = false;
	int r;

	cfg_sort(c);

	/* tunnels only named by `tunnel enable|disable N` */
	for (size_t i = 0; i < c->n_tunnels; i++) {
		struct cfg_tunnel *t = &c->tunnels[i];

		if (!t->line && t->enabled)
			r = diag_add(d, name, t->enable_line, CFG_DIAG_ERROR,
				     "'tunnel enable %u': tunnel %u has no 'tunnel select %u' block",
				     t->id, t->id, t->id);
		else if (!t->line)
			r = diag_add(d, name, t->enable_line, CFG_DIAG_WARNING,
				     "'tunnel disable %u': tunnel %u has no 'tunnel select %u' "
				     "block: line has no effect", t->id, t->id, t->id);
		else
			r = 0;
		if (r < 0)
			return r;
		if (t->line || t->enabled)
			c->tunnels[keep++] = *t;
	}
	c->n_tunnels = keep;

	for (size_t i = 0; i < c->n_tunnels; i++) {
		struct cfg_tunnel *t = &c->tunnels[i];

		snprintf(t->ifname, sizeof(t->ifname), "tunnel%u", t->id % 100000u);
		t->bridge[0] = '\0';
		for (size_t k = 0; k < t->n_pws; k++) {
			snprintf(t->pws[k].ifname, sizeof(t->pws[k].ifname), "tunnel%u-%u", t->id % 100000u,
				 t->pws[k].num % 100u);
			t->pws[k].bridge[0] = '\0';
		}
	}
	if ((r = verify_bridges(c, name, d)) < 0)
		return r;
	for (size_t i = 0; i < c->n_tunnels; i++) {
		if (!c->tunnels[i].line)
			continue;
		any_enabled |= c->tunnels[i].enabled;
		if ((r = verify_tunnel(c, &c->tunnels[i], name, d)) < 0)
			return r;
	}
	if ((r = cfg_ipsec_verify(c, name, d)) < 0)
		return r;
	if ((r = verify_responders(c, name, d)) < 0)
		return r;
	if ((r = verify_static_sids(c, name, d)) < 0)
		return r;
	if ((r = verify_shared_endpoints(c, name, d)) < 0)
		return r;
	if (any_enabled && !c->service_on &&
	    (r = diag_add(d, name, 0, CFG_DIAG_WARNING,
			  "no 'l2tp service on': no tunnel comes up")) < 0)
		return r;
	return d->n_errors > errors ? -EINVAL : 0;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

static int read_file(const char *path, char **ret_buf, size_t *ret_len, struct cfg_diags *d)
{
	char *buf = NULL, err[128];
	size_t len = 0, cap = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		diag_add(d, path, 0, CFG_DIAG_ERROR, "cannot open: %s",
			 strerror_r(-r, err, sizeof(err)));
		return r;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf;

			if (ncap > CFG_FILE_MAX + 1)
				ncap = CFG_FILE_MAX + 1;
			if (ncap == cap) {
				r = -EFBIG;
				diag_add(d, path, 0, CFG_DIAG_ERROR,
					 "larger than %d bytes: not read", CFG_FILE_MAX);
				goto out_free_buf;
			}
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				r = -ENOMEM;
				goto out_free_buf;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			diag_add(d, path, 0, CFG_DIAG_ERROR, "cannot read: %s",
				 strerror_r(-r, err, sizeof(err)));
			goto out_free_buf;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*ret_buf = buf;
	*ret_len = len;
	return 0;

out_free_buf:
	free(buf);
	close(fd);
	return r;
}

int cfg_load_file(const char *path, struct cfg **ret, struct cfg_diags *d)
{
	struct cfg *c;
	char *buf = NULL;
	size_t len = 0;
	int r, rv;

	r = read_file(path, &buf, &len, d);
	if (r < 0)
		return r;
	c = cfg_new();
	if (!c) {
		r = -ENOMEM;
		goto out_free_buf;
	}
	r = cfg_parse_buffer(c, path, buf, len, d);
	if (r == -ENOMEM)
		goto out_free_cfg;
	rv = cfg_verify(c, path, d);
	if (r == 0)
		r = rv;
	if (r < 0)
		goto out_free_cfg;
	*ret = c;
	free(buf);
	return 0;

out_free_cfg:
	cfg_free(c);
out_free_buf:
	free(buf);
	return r;
}

/* ------------------------------------------------------------------ */
/* Print                                                               */
/* ------------------------------------------------------------------ */

/* The compatibility line, then only the explicit lines: the preset fills
 * the rest again when the output is parsed. */
static void print_dataplane(const struct cfg_dataplane *dp, FILE *out)
{
	if (dp->compat != CFG_COMPAT_NONE)
		fprintf(out, " l2tp compatibility %s\n", cfg_compat_name(dp->compat));
	if (dp->has_local_port)
		fprintf(out, " l2tp local port %u\n", dp->local_port);
	if (dp->has_remote_port)
		fprintf(out, " l2tp remote port %u\n", dp->remote_port);
	if (dp->has_cookie_len)
		fprintf(out, " l2tp cookie length %u\n", dp->cookie_len);
	if (dp->has_cookie_value) {
		fprintf(out, " l2tp cookie value ");
		for (unsigned i = 0; i < dp->cookie_value_len && i < 8; i++)
			fprintf(out, "%02x", dp->cookie[i]);
		fputc('\n', out);
	}
	if (dp->has_l2ss)
		fprintf(out, " l2tp l2-specific-sublayer %s\n", dp->l2ss ? "default" : "none");
	if (dp->has_data_seq)
		fprintf(out, " l2tp data sequencing %s\n", dp->data_seq ? "on" : "off");
	if (dp->has_pw_type)
		fprintf(out, " l2tp pseudowire type %s\n",
			dp->pw_type == CFG_PW_ETHERNET_VLAN ? "ethernet-vlan" : "ethernet");
}

static void print_cookie(const char *what, const uint8_t *c, unsigned len, FILE *out)
{
	fprintf(out, " l2tp static cookie %s ", what);
	if (!len)
		fprintf(out, "none");
	for (unsigned i = 0; i < len && i < 8; i++)
		fprintf(out, "%02x", c[i]);
	fputc('\n', out);
}

static void print_static(const struct cfg_tunnel *t, FILE *out)
{
	if (t->is_static)
		fprintf(out, " l2tp static session %u %u\n", t->static_local_sid, t->static_remote_sid);
	if (t->static_rx_cookie_len)
		print_cookie("receive", t->static_rx_cookie, t->static_rx_cookie_len, out);
	if (t->static_tx_cookie_len)
		print_cookie("send", t->static_tx_cookie, t->static_tx_cookie_len, out);
	if (t->static_probe) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &t->static_probe, a, sizeof(a));
		fprintf(out, " l2tp static probe %s\n", a);
	}
}

static void print_tunnel(const struct cfg_tunnel *t, FILE *out)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	fprintf(out, "tunnel select %u\n", t->id);
	if (t->has_encapsulation)
		fprintf(out, " tunnel encapsulation %s\n",
			t->ipsec.on ? "l2tpv3" : t->encap == CFG_ENCAP_IP ? "l2tpv3-ip" : "l2tpv3-raw");
	if (t->has_endpoint && t->has_local_address)
		fprintf(out, " tunnel endpoint address %s %s\n",
			sockaddr_ntop(&t->local, a, sizeof(a)),
			sockaddr_ntop(&t->remote, b, sizeof(b)));
	else if (t->has_endpoint)
		fprintf(out, " tunnel endpoint address %s\n",
			sockaddr_ntop(&t->remote, b, sizeof(b)));
	cfg_ipsec_print_tunnel(t, out);
	fprintf(out, " l2tp always-on %s\n", t->always_on ? "on" : "off");
	if (t->hostname[0])
		fprintf(out, " l2tp hostname %s\n", t->hostname);
	if (t->auth)
		fprintf(out, " l2tp tunnel auth on %s\n", t->secret);
	else
		fprintf(out, " l2tp tunnel auth off\n");
	if (t->auth_style == CFG_AUTH_DIGEST_SHA1)
		fprintf(out, " l2tp tunnel auth method digest-sha1\n");
	else if (t->auth_style == CFG_AUTH_CHALLENGE)
		fprintf(out, " l2tp tunnel auth method challenge\n");
	if (t->disconnect_time)
		fprintf(out, " l2tp tunnel disconnect time %u\n", t->disconnect_time);
	else
		fprintf(out, " l2tp tunnel disconnect time off\n");
	if (t->keepalive)
		fprintf(out, " l2tp keepalive use on %u %u\n", t->keepalive_interval,
			t->keepalive_count);
	else
		fprintf(out, " l2tp keepalive use off\n");
	fprintf(out, " l2tp keepalive log %s\n", t->keepalive_log ? "on" : "off");
	fprintf(out, " l2tp syslog %s\n", t->syslog ? "on" : "off");
	if (t->has_local_router_id)
		fprintf(out, " l2tp local router-id %s\n", router_id_str(t->local_router_id).s);
	if (t->has_remote_router_id)
		fprintf(out, " l2tp remote router-id %s\n",
			router_id_str(t->remote_router_id).s);
	if (t->has_remote_end_id)
		fprintf(out, " l2tp remote end-id %s\n", t->remote_end_id);
	if (t->vlan)
		fprintf(out, " l2tp pseudowire 1 vlan %u\n", t->vlan);
	for (size_t i = 0; i < t->n_pws; i++) {
		if (t->pws[i].end_id[0])
			fprintf(out, " l2tp pseudowire %u remote end-id %s\n", t->pws[i].num, t->pws[i].end_id);
		if (t->pws[i].vlan)
			fprintf(out, " l2tp pseudowire %u vlan %u\n", t->pws[i].num, t->pws[i].vlan);
	}
	if (t->hub_max)
		fprintf(out, " l2tp hub on %u\n", t->hub_max);
	if (t->hub_max && t->hub_hold != CFG_HUB_HOLD_DEFAULT)
		fprintf(out, " l2tp hub hold %u\n", t->hub_hold);
	print_dataplane(&t->dp, out);
	print_static(t, out);
	switch (t->mss_mode) {
	case CFG_MSS_AUTO:
		fprintf(out, " ip tunnel tcp mss limit auto\n");
		break;
	case CFG_MSS_FIXED:
		fprintf(out, " ip tunnel tcp mss limit %u\n", t->mss_value);
		break;
	case CFG_MSS_OFF:
	default:
		fprintf(out, " ip tunnel tcp mss limit off\n");
		break;
	}
	if (t->enabled)
		fprintf(out, " tunnel enable %u\n", t->id);
}

void cfg_print(const struct cfg *c, FILE *out)
{
	char a[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < c->n_bridges; i++) {
		const struct cfg_bridge *b = &c->bridges[i];

		fprintf(out, "bridge member %s", b->name);
		for (size_t j = 0; j < b->n_members; j++)
			fprintf(out, " %s", b->members[j]);
		fputc('\n', out);
	}
	for (size_t i = 0; i < c->n_addresses; i++) {
		const struct cfg_address *ca = &c->addresses[i];

		if (ca->family == AF_INET6)
			inet_ntop(AF_INET6, &ca->addr.v6, a, sizeof(a));
		else
			inet_ntop(AF_INET, &ca->addr.v4, a, sizeof(a));
		fprintf(out, "ip %s address %s/%u\n", ca->ifname, a, ca->prefixlen);
	}
	for (size_t i = 0; i < c->n_tunnels; i++)
		if (c->tunnels[i].line)
			print_tunnel(&c->tunnels[i], out);
	if (c->has_metrics) {
		unsigned port = sockaddr_port(&c->metrics);

		sockaddr_ntop(&c->metrics, a, sizeof(a));
		if (c->metrics.ss_family == AF_INET6)
			fprintf(out, "metrics listen [%s]:%u\n", a, port);
		else
			fprintf(out, "metrics listen %s:%u\n", a, port);
	}
	if (c->has_dp_realtime && c->dp_realtime)
		fprintf(out, "dataplane realtime on %u\n", c->dp_realtime);
	else if (c->has_dp_realtime)
		fprintf(out, "dataplane realtime off\n");
	if (c->dp_threads)
		fprintf(out, "dataplane threads %u\n", c->dp_threads);
	if (c->dp_busy_poll)
		fprintf(out, "dataplane busy-poll %u\n", c->dp_busy_poll);
	if (c->dp_fastpath)
		fprintf(out, "dataplane fastpath on\n");
	cfg_ipsec_print_global(c, out);
	fprintf(out, "l2tp service %s\n", c->service_on ? "on l2tpv3" : "off");
}

/*
 * Reload equality, from one list per struct: every field in declaration
 * order, with how a reload compares it (CFG_EQ_*, config.h):
 *   X(S, type, name, dims, eq)           compared always
 *   XG(S, type, name, dims, eq, guard)   compared when a->guard (a bool
 *                                        listed before it) is true
 *   XS(S, type, name, dims, fields)      a struct with a list of its own
 * (S: the struct the list describes, passed through.)  Effective values
 * count, not how they were written: `has_*` flags that only tell a preset
 * from an explicit line, and line numbers, are NONE.  A struct with the
 * same fields is built from each list and must match the real one field
 * for field (the asserts below): a field added to a struct but not to its
 * list stops the build.  A new nested struct: its own list, CFG_LISTED and
 * CFG_FIELDS lines below, and an XS line in its parent's list.
 */
#define CFG_PW_FIELDS(S, X, XG, XS)                                             \
	X(S, unsigned, num, , BYTES)                                            \
	X(S, unsigned, line, , NONE)                                            \
	X(S, char, end_id, [CFG_NAME_MAX + 1], STR)                             \
	X(S, char, ifname, [IFNAMSIZ], STR)                                     \
	X(S, char, bridge, [IFNAMSIZ], STR)                                     \
	X(S, unsigned, vlan, , BYTES)

/* IPsec (ipsec_cfg.h): a raw tunnel's is all zero, so it compares equal */
#define CFG_IPSEC_GW_FIELDS(S, X, XG, XS)                                                    \
	X(S, unsigned, id, , BYTES)                                                          \
	X(S, unsigned, line, , NONE)                                                         \
	X(S, bool, has_local_address, , BYTES)                                               \
	XG(S, struct sockaddr_storage, local_address, , ADDR, has_local_address)             \
	X(S, enum cfg_ike_id_type, local_id_type, , BYTES)                                   \
	X(S, char, local_name, [CFG_IPSEC_NAME_MAX + 1], STR)                                \
	X(S, bool, remote_any, , BYTES)                                                      \
	X(S, bool, has_remote_address, , BYTES)                                              \
	XG(S, struct sockaddr_storage, remote_address, , ADDR, has_remote_address)           \
	X(S, char, remote_host, [CFG_IPSEC_NAME_MAX + 1], STR)                               \
	X(S, enum cfg_ike_id_type, remote_id_type, , BYTES)                                  \
	X(S, char, remote_name, [CFG_IPSEC_NAME_MAX + 1], STR)                               \
	X(S, bool, has_psk, , BYTES)                                                         \
	X(S, char, psk, [CFG_IPSEC_PSK_MAX + 1], STR)                                        \
	X(S, bool, nat_traversal, , BYTES)                                                   \
	X(S, enum cfg_ike_keepalive, keepalive, , BYTES)                                     \
	X(S, unsigned, keepalive_line, , NONE)                                               \
	X(S, unsigned, keepalive_interval, , BYTES)                                          \
	X(S, unsigned, keepalive_count, , BYTES)                                             \
	X(S, enum cfg_ike_enc, ike_enc, , BYTES)                                             \
	X(S, enum cfg_ike_hash, ike_hash, , BYTES)                                           \
	X(S, enum cfg_ike_group, ike_group, , BYTES)                                         \
	X(S, bool, pfs, , BYTES)                                                             \
	X(S, unsigned, version, , BYTES)                                                     \
	X(S, unsigned, ike_lifetime, , BYTES)                                                \
	X(S, unsigned, sa_lifetime, , BYTES)

#define CFG_IPSEC_FIELDS(S, X, XG, XS)                                                       \
	X(S, bool, on, , BYTES)                                                              \
	X(S, unsigned, tunnel_line, , NONE)                                                  \
	X(S, unsigned, policy, , BYTES)                                                      \
	X(S, char, endpoint_name, [CFG_IPSEC_NAME_MAX + 1], STR)                             \
	X(S, bool, resolved, , BYTES)                                                        \
	XS(S, struct cfg_ipsec_gw, gw, , cfg_ipsec_gw_fields)                                \
	X(S, enum cfg_esp_enc, esp_enc, , BYTES)                                             \
	X(S, enum cfg_esp_auth, esp_auth, , BYTES)                                           \
	X(S, uint16_t, port, , BYTES)                                                        \
	X(S, unsigned, transport_id, , BYTES)                                                \
	X(S, bool, aggressive, , BYTES)                                                      \
	X(S, bool, initiator, , BYTES)                                                       \
	X(S, bool, auto_refresh, , BYTES)

#define CFG_DATAPLANE_FIELDS(S, X, XG, XS)                                      \
	X(S, enum cfg_compat, compat, , BYTES)                                  \
	X(S, bool, has_local_port, , NONE)                                      \
	X(S, bool, has_remote_port, , NONE)                                     \
	X(S, uint16_t, local_port, , BYTES)                                     \
	X(S, uint16_t, remote_port, , BYTES)                                    \
	X(S, bool, has_cookie_len, , NONE)                                      \
	X(S, unsigned, cookie_len, , BYTES)                                     \
	X(S, bool, has_cookie_value, , BYTES)                                   \
	XG(S, uint8_t, cookie, [8], BYTES, has_cookie_value)                    \
	XG(S, unsigned, cookie_value_len, , BYTES, has_cookie_value)            \
	X(S, bool, has_l2ss, , NONE)                                            \
	X(S, bool, l2ss, , BYTES)                                               \
	X(S, bool, has_data_seq, , NONE)                                        \
	X(S, bool, data_seq, , BYTES)                                           \
	X(S, bool, has_pw_type, , NONE)                                         \
	X(S, enum cfg_pw_type, pw_type, , BYTES)

#define CFG_TUNNEL_FIELDS(S, X, XG, XS)                                         \
	X(S, unsigned, id, , BYTES)                                             \
	X(S, unsigned, line, , NONE)                                            \
	X(S, unsigned, enable_line, , NONE)                                     \
	X(S, bool, enabled, , BYTES)                                            \
	X(S, bool, has_encapsulation, , BYTES)                                  \
	X(S, enum cfg_encap, encap, , BYTES)                                    \
	X(S, bool, has_endpoint, , BYTES)                                       \
	X(S, bool, has_local_address, , BYTES)                                  \
	XG(S, struct sockaddr_storage, local, , ADDR, has_local_address)        \
	XG(S, struct sockaddr_storage, remote, , ADDR, has_endpoint)            \
	X(S, bool, always_on, , BYTES)                                          \
	X(S, char, hostname, [CFG_NAME_MAX + 1], STR)                           \
	X(S, bool, auth, , BYTES)                                               \
	XG(S, char, secret, [CFG_SECRET_MAX + 1], STR, auth)                    \
	X(S, enum cfg_auth_style, auth_style, , BYTES)                          \
	XS(S, struct cfg_dataplane, dp, , cfg_dataplane_fields)                 \
	X(S, unsigned, disconnect_time, , BYTES)                                \
	X(S, bool, keepalive, , BYTES)                                          \
	X(S, unsigned, keepalive_interval, , BYTES)                             \
	X(S, unsigned, keepalive_count, , BYTES)                                \
	X(S, bool, keepalive_log, , BYTES)                                      \
	X(S, bool, syslog, , BYTES)                                             \
	X(S, bool, has_local_router_id, , BYTES)                                \
	X(S, uint32_t, local_router_id, , BYTES)                                \
	X(S, bool, has_remote_router_id, , BYTES)                               \
	X(S, uint32_t, remote_router_id, , BYTES)                               \
	X(S, bool, has_remote_end_id, , BYTES)                                  \
	X(S, char, remote_end_id, [CFG_NAME_MAX + 1], STR)                      \
	X(S, struct cfg_pw, pws, [CFG_MAX_PW - 1], PWS)                         \
	X(S, size_t, n_pws, , BYTES)                                            \
	X(S, unsigned, vlan, , BYTES)                                           \
	X(S, unsigned, hub_max, , BYTES)                                        \
	X(S, unsigned, hub_hold, , NONE) /* applied live by a reload */        \
	X(S, enum cfg_mss_mode, mss_mode, , BYTES)                              \
	X(S, unsigned, mss_value, , BYTES)                                      \
	X(S, bool, is_static, , BYTES)                                          \
	X(S, uint32_t, static_local_sid, , BYTES)                               \
	X(S, uint32_t, static_remote_sid, , BYTES)                              \
	X(S, uint8_t, static_rx_cookie, [8], BYTES)                             \
	X(S, unsigned, static_rx_cookie_len, , BYTES)                           \
	X(S, uint8_t, static_tx_cookie, [8], BYTES)                             \
	X(S, unsigned, static_tx_cookie_len, , BYTES)                           \
	X(S, uint32_t, static_probe, , BYTES)                                   \
	X(S, char, ifname, [IFNAMSIZ], STR)                                     \
	X(S, char, bridge, [IFNAMSIZ], STR)                                     \
	XS(S, struct cfg_ipsec, ipsec, , cfg_ipsec_fields)

/* The structs built from the lists, and the asserts that they are the real ones. */
#define CFG_MEMBER(S, type, name, dims, ...) type name dims;
#define CFG_SAME_OFFSET(S, type, name, ...)                                                         \
	_Static_assert(offsetof(struct listed_##S, name) == offsetof(struct S, name) &&             \
			       sizeof(((struct listed_##S *)0)->name) == sizeof(((struct S *)0)->name),   \
		       "struct " #S ": field " #name " is not where its list in config.c says");
#define CFG_LISTED(S, list)                                                                         \
	struct listed_##S {                                                                         \
		list(S, CFG_MEMBER, CFG_MEMBER, CFG_MEMBER)                                         \
	};                                                                                          \
	_Static_assert(sizeof(struct listed_##S) == sizeof(struct S),                               \
		       "struct " #S " has a field that is missing from its list in config.c");      \
	list(S, CFG_SAME_OFFSET, CFG_SAME_OFFSET, CFG_SAME_OFFSET)
CFG_LISTED(cfg_pw, CFG_PW_FIELDS)
CFG_LISTED(cfg_dataplane, CFG_DATAPLANE_FIELDS)
CFG_LISTED(cfg_ipsec_gw, CFG_IPSEC_GW_FIELDS)
CFG_LISTED(cfg_ipsec, CFG_IPSEC_FIELDS)
CFG_LISTED(cfg_tunnel, CFG_TUNNEL_FIELDS)

/* The lists as descriptor tables (config.h), for cfg_tunnel_equal and the tests. */
#define CFG_FIELD(S, name, eq, guard_off, sub) \
	{ #name, offsetof(struct S, name), sizeof(((struct S *)0)->name), eq, guard_off, sub },
#define CFG_DESC(S, type, name, dims, eq) CFG_FIELD(S, name, CFG_EQ_##eq, CFG_FIELD_ALWAYS, NULL)
#define CFG_DESC_G(S, type, name, dims, eq, guard) CFG_FIELD(S, name, CFG_EQ_##eq, offsetof(struct S, guard), NULL)
#define CFG_DESC_S(S, type, name, dims, fields) CFG_FIELD(S, name, CFG_EQ_STRUCT, CFG_FIELD_ALWAYS, &fields)
#define CFG_FIELDS(S, list)                                                              \
	static const struct cfg_field S##_v[] = { list(S, CFG_DESC, CFG_DESC_G, CFG_DESC_S) }; \
	const struct cfg_fields S##_fields = { S##_v, sizeof(S##_v) / sizeof(S##_v[0]) };
CFG_FIELDS(cfg_pw, CFG_PW_FIELDS)
CFG_FIELDS(cfg_dataplane, CFG_DATAPLANE_FIELDS)
CFG_FIELDS(cfg_ipsec_gw, CFG_IPSEC_GW_FIELDS)
CFG_FIELDS(cfg_ipsec, CFG_IPSEC_FIELDS)
CFG_FIELDS(cfg_tunnel, CFG_TUNNEL_FIELDS)

static bool fields_equal(const struct cfg_fields *fs, const void *a, const void *b)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < fs->n; i++) {
		const struct cfg_field *f = &fs->v[i];
		const void *fa = x + f->offset, *fb = y + f->offset;
		bool same = true;

		if (f->guard != CFG_FIELD_ALWAYS && !*(const bool *)(x + f->guard))
			continue;
		switch (f->eq) {
		case CFG_EQ_NONE:
			break;
		case CFG_EQ_BYTES:
			same = !memcmp(fa, fb, f->size);
			break;
		case CFG_EQ_STR:
			same = !strcmp(fa, fb);
			break;
		case CFG_EQ_ADDR:
			same = sockaddr_equal(fa, fb);
			break;
		case CFG_EQ_STRUCT:
			same = fields_equal(f->sub, fa, fb);
			break;
		case CFG_EQ_PWS: { /* the n_pws in use, n_pws itself is a field of its own */
			const struct cfg_tunnel *ta = a, *tb = b;

			same = ta->n_pws == tb->n_pws;
			for (size_t k = 0; same && k < ta->n_pws; k++)
				same = fields_equal(&cfg_pw_fields, &ta->pws[k], &tb->pws[k]);
			break;
		}
		}
		if (!same)
			return false;
	}
	return true;
}

bool cfg_tunnel_equal(const struct cfg_tunnel *a, const struct cfg_tunnel *b)
{
	return fields_equal(&cfg_tunnel_fields, a, b);
}

/* ipsec.c replaces a tunnel's SA only when these differ */
bool cfg_ipsec_equal(const struct cfg_ipsec *a, const struct cfg_ipsec *b)
{
	return fields_equal(&cfg_ipsec_fields, a, b);
}
