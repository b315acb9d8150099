/* SPDX-License-Identifier: MIT */
/*
 * The IPsec lines of the RTX language (see ipsec_cfg.h, shared/ipsec.md).
 *
 * A RTX keeps IKE settings per gateway number (`ipsec ike ... GW ...`),
 * ESP settings per SA policy (`ipsec sa policy ID GW esp ENC AUTH`), binds
 * a policy to a tunnel with `ipsec tunnel ID` and the L2TP traffic to it
 * with `ipsec transport N ID udp 1701`.  These lines are global on a RTX
 * (they are shown indented under the tunnel by `show config`), so they are
 * accepted anywhere; cfg_ipsec_verify resolves each IPsec tunnel's chain
 * tunnel -> policy -> gateway + transport into its struct cfg_ipsec.
 *
 * Yamaha's defaults: IKEv1, 3des-cbc / sha / modp1024, PFS off, NAT-T off,
 * lifetimes 28800 s, keepalive off unless `keepalive use GW on` (whose
 * default kind is Yamaha's heartbeat, 10 s x 6).
 */
#include "config/ipsec_cfg.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_LIFETIME 28800
#define HEARTBEAT_INTERVAL_DEFAULT 10
#define HEARTBEAT_COUNT_DEFAULT 6
#define DPD_INTERVAL_DEFAULT 30
#define DPD_COUNT_DEFAULT 5

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static const char *const ike_enc_names[] = {
	[CFG_IKE_ENC_3DES] = "3des-cbc",
	[CFG_IKE_ENC_AES128] = "aes-cbc",
	[CFG_IKE_ENC_AES256] = "aes256-cbc",
};
static const char *const ike_hash_names[] = {
	[CFG_IKE_HASH_SHA1] = "sha",
	[CFG_IKE_HASH_MD5] = "md5",
	[CFG_IKE_HASH_SHA256] = "sha256",
	[CFG_IKE_HASH_SHA384] = "sha384",
	[CFG_IKE_HASH_SHA512] = "sha512",
};
static const char *const ike_group_names[] = {
	[CFG_IKE_GROUP_MODP768] = "modp768",
	[CFG_IKE_GROUP_MODP1024] = "modp1024",
	[CFG_IKE_GROUP_MODP1536] = "modp1536",
	[CFG_IKE_GROUP_MODP2048] = "modp2048",
	[CFG_IKE_GROUP_MODP3072] = "modp3072",
	[CFG_IKE_GROUP_MODP4096] = "modp4096",
	[CFG_IKE_GROUP_ECP256] = "ecp256",
	[CFG_IKE_GROUP_ECP384] = "ecp384",
	[CFG_IKE_GROUP_ECP521] = "ecp521",
};
static const char *const esp_enc_names[] = {
	[CFG_ESP_ENC_AES128] = "aes-cbc",
	[CFG_ESP_ENC_AES256] = "aes256-cbc",
	[CFG_ESP_ENC_3DES] = "3des-cbc",
	[CFG_ESP_ENC_AES128GCM] = "aes-gcm",
	[CFG_ESP_ENC_AES256GCM] = "aes256-gcm",
};
static const char *const esp_auth_names[] = {
	[CFG_ESP_AUTH_SHA1] = "sha-hmac",
	[CFG_ESP_AUTH_MD5] = "md5-hmac",
	[CFG_ESP_AUTH_SHA256] = "sha256-hmac",
	[CFG_ESP_AUTH_NONE] = "",
};
static const char *const id_type_names[] = {
	[CFG_IKE_ID_NONE] = "",
	[CFG_IKE_ID_FQDN] = "fqdn",
	[CFG_IKE_ID_USER_FQDN] = "user-fqdn",
	[CFG_IKE_ID_KEY_ID] = "key-id",
	[CFG_IKE_ID_IPV4] = "ipv4-addr",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int name_lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (names[i][0] && !strcasecmp(names[i], s))
			return (int)i;
	return -1;
}

const char *cfg_ike_enc_name(enum cfg_ike_enc e)
{
	return (size_t)e < N_OF(ike_enc_names) ? ike_enc_names[e] : "?";
}

const char *cfg_ike_hash_name(enum cfg_ike_hash h)
{
	return (size_t)h < N_OF(ike_hash_names) ? ike_hash_names[h] : "?";
}

const char *cfg_ike_group_name(enum cfg_ike_group g)
{
	return (size_t)g < N_OF(ike_group_names) ? ike_group_names[g] : "?";
}

const char *cfg_esp_enc_name(enum cfg_esp_enc e)
{
	return (size_t)e < N_OF(esp_enc_names) ? esp_enc_names[e] : "?";
}

const char *cfg_esp_auth_name(enum cfg_esp_auth a)
{
	return (size_t)a < N_OF(esp_auth_names) ? esp_auth_names[a] : "?";
}

const char *cfg_ike_id_type_name(enum cfg_ike_id_type t)
{
	return (size_t)t < N_OF(id_type_names) ? id_type_names[t] : "?";
}

const char *cfg_ipsec_vici_path(const struct cfg_ipsec_global *g)
{
	return g->vici_socket[0] ? g->vici_socket : CFG_IPSEC_VICI_DEFAULT;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

void cfg_ipsec_global_free(struct cfg_ipsec_global *g)
{
	free(g->gws);
	free(g->policies);
	free(g->transports);
	g->gws = NULL;
	g->policies = NULL;
	g->transports = NULL;
	g->n_gws = g->n_policies = g->n_transports = 0;
}

static int grow(void **v, size_t n, size_t size)
{
	void *p;

	if (n & (n - 1) && n > 0)
		return 0; /* not a power of two: room left */
	p = realloc(*v, (n ? n * 2 : 4) * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	return 0;
}

static void gw_init(struct cfg_ipsec_gw *gw, unsigned id, unsigned line)
{
	memset(gw, 0, sizeof(*gw));
	gw->id = id;
	gw->line = line;
	gw->ike_enc = CFG_IKE_ENC_3DES;
	gw->ike_hash = CFG_IKE_HASH_SHA1;
	gw->ike_group = CFG_IKE_GROUP_MODP1024;
	gw->version = 1;
	gw->ike_lifetime = DEFAULT_LIFETIME;
	gw->sa_lifetime = DEFAULT_LIFETIME;
}

static struct cfg_ipsec_gw *gw_find(const struct cfg_ipsec_global *g, unsigned id)
{
	for (size_t i = 0; i < g->n_gws; i++)
		if (g->gws[i].id == id)
			return &g->gws[i];
	return NULL;
}

static int gw_get(struct cfg_ipsec_global *g, unsigned id, unsigned line, struct cfg_ipsec_gw **ret)
{
	struct cfg_ipsec_gw *gw = gw_find(g, id);

	if (!gw) {
		if (grow((void **)&g->gws, g->n_gws, sizeof(*g->gws)) < 0)
			return -ENOMEM;
		gw = &g->gws[g->n_gws++];
		gw_init(gw, id, line);
	}
	*ret = gw;
	return 0;
}

static struct cfg_ipsec_policy *policy_find(const struct cfg_ipsec_global *g, unsigned id)
{
	for (size_t i = 0; i < g->n_policies; i++)
		if (g->policies[i].id == id)
			return &g->policies[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

struct lp {
	struct cfg_ipsec_global *g;
	struct cfg_tunnel *t;
	char *const *a; /* arguments after the keywords */
	size_t n;
	unsigned lineno;
	int *level;
	char *msg;
	size_t msglen;
};

__attribute__((format(printf, 3, 4)))
static int say(struct lp *p, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->msg, p->msglen, fmt, ap);
	va_end(ap);
	if (level == CFG_DIAG_ERROR + 1)
		return 1;
	*p->level = level;
	return 0;
}

#define ERR(p, ...) say((p), CFG_DIAG_ERROR + 1, __VA_ARGS__)
#define WARN(p, ...) say((p), CFG_DIAG_WARNING + 1, __VA_ARGS__)
#define NOTICE(p, ...) say((p), CFG_DIAG_NOTICE + 1, __VA_ARGS__)

static bool parse_num(const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+' || (s[0] == '0' && s[1]))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*ret = (unsigned)v;
	return true;
}

static bool parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

/* A host name as DNS allows: letters, digits, '-', '.', 1..253 bytes */
static bool valid_host(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (!len || len > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* the GW argument a[0] */
static int get_gw(struct lp *p, struct cfg_ipsec_gw **ret)
{
	unsigned id;
	int r;

	if (!parse_num(p->a[0], 1, CFG_IPSEC_ID_MAX, &id))
		return ERR(p, "gateway number must be 1..%d", CFG_IPSEC_ID_MAX);
	if ((r = gw_get(p->g, id, p->lineno, ret)) < 0)
		return r;
	return 0;
}

static int h_ike_local_address(struct lp *p, struct cfg_ipsec_gw *gw)
{
	struct sockaddr_storage ss;

	if (!parse_addr(p->a[1], &ss))
		return ERR(p, "'%s' is not an IPv4 or IPv6 address", p->a[1]);
	gw->has_local_address = true;
	gw->local_address = ss;
	return 0;
}

static int h_ike_remote_address(struct lp *p, struct cfg_ipsec_gw *gw)
{
	struct sockaddr_storage ss;

	gw->remote_any = false;
	gw->has_remote_address = false;
	gw->remote_host[0] = '\0';
	if (!strcasecmp(p->a[1], "any")) {
		gw->remote_any = true;
		return 0;
	}
	if (parse_addr(p->a[1], &ss)) {
		gw->has_remote_address = true;
		gw->remote_address = ss;
		return 0;
	}
	if (!valid_host(p->a[1]))
		return ERR(p, "'%s' is neither an address, 'any' nor a host name", p->a[1]);
	snprintf(gw->remote_host, sizeof(gw->remote_host), "%s", p->a[1]);
	return 0;
}

static int set_name(struct lp *p, enum cfg_ike_id_type *type, char *dst)
{
	const char *name = p->a[1];
	enum cfg_ike_id_type ty = CFG_IKE_ID_FQDN;
	struct sockaddr_storage ss;
	int i;

	if (p->n == 3) {
		i = name_lookup(id_type_names, N_OF(id_type_names), p->a[2]);
		if (i < 0)
			return ERR(p, "name type must be fqdn, user-fqdn, key-id or ipv4-addr, not '%s' "
				   "(ipv6-addr is not supported)", p->a[2]);
		ty = (enum cfg_ike_id_type)i;
	}
	if (strlen(name) > CFG_IPSEC_NAME_MAX)
		return ERR(p, "name is longer than %d bytes", CFG_IPSEC_NAME_MAX);
	if (ty == CFG_IKE_ID_IPV4 && (!parse_addr(name, &ss) || ss.ss_family != AF_INET))
		return ERR(p, "'%s' is not an IPv4 address", name);
	if (ty == CFG_IKE_ID_USER_FQDN && !strchr(name, '@'))
		return ERR(p, "a user-fqdn name is user@domain, not '%s'", name);
	if (strpbrk(name, "\"'\\"))
		return ERR(p, "a name cannot contain quotes or backslashes");
	*type = ty;
	snprintf(dst, CFG_IPSEC_NAME_MAX + 1, "%s", name);
	return 0;
}

static int h_ike_psk(struct lp *p, struct cfg_ipsec_gw *gw)
{
	if (p->n != 3 || strcasecmp(p->a[1], "text"))
		return ERR(p, "only 'text' keys are supported: 'ipsec ike pre-shared-key GW text SECRET'");
	if (p->n != 3)
		return ERR(p, "expected 'ipsec ike pre-shared-key GW text SECRET' (a secret without spaces)");
	if (strlen(p->a[2]) > CFG_IPSEC_PSK_MAX)
		return ERR(p, "the key is longer than %d bytes", CFG_IPSEC_PSK_MAX);
	gw->has_psk = true;
	snprintf(gw->psk, sizeof(gw->psk), "%s", p->a[2]);
	return 0;
}

static int h_ike_keepalive(struct lp *p, struct cfg_ipsec_gw *gw)
{
	bool on;
	unsigned interval, count;

	if (!strcasecmp(p->a[1], "off")) {
		if (p->n != 2)
			return ERR(p, "expected 'ipsec ike keepalive use GW off'");
		gw->keepalive = CFG_IKE_KA_OFF;
		gw->keepalive_line = p->lineno;
		return 0;
	}
	enum cfg_ike_keepalive ka;

	on = !strcasecmp(p->a[1], "on") || !strcasecmp(p->a[1], "auto");
	if (!on)
		return ERR(p, "expected on, auto or off, not '%s'", p->a[1]);
	/* nothing is set until the whole line is valid (a rejected line
	 * must not leave half a setting behind) */
	if (p->n == 2 || !strcasecmp(p->a[2], "heartbeat")) {
		interval = HEARTBEAT_INTERVAL_DEFAULT;
		count = HEARTBEAT_COUNT_DEFAULT;
		ka = CFG_IKE_KA_HEARTBEAT;
	} else if (!strcasecmp(p->a[2], "dpd")) {
		interval = DPD_INTERVAL_DEFAULT;
		count = DPD_COUNT_DEFAULT;
		ka = CFG_IKE_KA_DPD;
	} else if (!strcasecmp(p->a[2], "icmp-echo")) {
		return ERR(p, "icmp-echo keepalive is not supported: use 'dpd INTERVAL COUNT' on both ends");
	} else {
		return ERR(p, "expected heartbeat or dpd, not '%s'", p->a[2]);
	}
	if (p->n >= 4 && !parse_num(p->a[3], 1, 600, &interval))
		return ERR(p, "interval must be 1..600 seconds");
	if (p->n >= 5 && !parse_num(p->a[4], 1, 50, &count))
		return ERR(p, "count must be 1..50");
	if (p->n > 5)
		return ERR(p, "expected 'ipsec ike keepalive use GW on [dpd|heartbeat [INTERVAL [COUNT]]]'");
	gw->keepalive = ka;
	gw->keepalive_line = p->lineno;
	gw->keepalive_interval = interval;
	gw->keepalive_count = count;
	return 0;
}

static int h_ike_duration(struct lp *p)
{
	struct cfg_ipsec_gw *gw;
	unsigned secs;
	int r;

	/* a[0] is ipsec-sa|isakmp-sa, a[1] GW, a[2] SECONDS */
	if (p->n != 3)
		return ERR(p, "expected 'ipsec ike duration ipsec-sa|isakmp-sa GW SECONDS' (kilobytes and "
			   "rekey are not supported)");
	if (strcasecmp(p->a[0], "ipsec-sa") && strcasecmp(p->a[0], "isakmp-sa"))
		return ERR(p, "expected ipsec-sa or isakmp-sa, not '%s'", p->a[0]);
	if (!parse_num(p->a[2], 300, 691200, &secs))
		return ERR(p, "lifetime must be 300..691200 seconds");
	p->a++;
	p->n--;
	if ((r = get_gw(p, &gw)) != 0)
		return r;
	if (!strcasecmp(p->a[-1], "ipsec-sa"))
		gw->sa_lifetime = secs;
	else
		gw->ike_lifetime = secs;
	return 0;
}

/* `ipsec ike WHAT GW ...`: a[0] = WHAT... */
static int h_ike(struct lp *p)
{
	static const struct {
		const char *w1, *w2; /* keywords after `ipsec ike` */
		unsigned min, max; /* arguments after GW */
	} forms[] = {
		{ "local", "address", 1, 1 },  { "local", "name", 1, 2 },    { "remote", "address", 1, 1 },
		{ "remote", "name", 1, 2 },    { "pre-shared-key", NULL, 1, 2 }, { "nat-traversal", NULL, 1, 1 },
		{ "keepalive", "use", 1, 4 },  { "encryption", NULL, 1, 1 }, { "hash", NULL, 1, 1 },
		{ "group", NULL, 1, 2 },       { "pfs", NULL, 1, 1 },         { "version", NULL, 1, 1 },
	};
	struct cfg_ipsec_gw *gw;
	size_t f, kw;
	int r, i;

	if (p->n >= 1 && !strcasecmp(p->a[0], "duration")) {
		p->a++;
		p->n--;
		return h_ike_duration(p);
	}
	for (f = 0; f < N_OF(forms); f++)
		if (p->n >= 1 && !strcasecmp(p->a[0], forms[f].w1) &&
		    (!forms[f].w2 || (p->n >= 2 && !strcasecmp(p->a[1], forms[f].w2))))
			break;
	if (f == N_OF(forms))
		return ERR(p, "unknown 'ipsec ike' setting: l2tpv3d takes local address|local name|remote "
			   "address|remote name|pre-shared-key|nat-traversal|keepalive use|encryption|hash|group|"
			   "pfs|version|duration");
	kw = forms[f].w2 ? 2 : 1;
	if (p->n < kw + 1 + forms[f].min || p->n > kw + 1 + forms[f].max)
		return ERR(p, "wrong number of arguments");
	p->a += kw;
	p->n -= kw;
	if ((r = get_gw(p, &gw)) != 0)
		return r;
	switch (f) {
	case 0:
		return h_ike_local_address(p, gw);
	case 1:
		return set_name(p, &gw->local_id_type, gw->local_name);
	case 2:
		return h_ike_remote_address(p, gw);
	case 3:
		return set_name(p, &gw->remote_id_type, gw->remote_name);
	case 4:
		return h_ike_psk(p, gw);
	case 5:
		if (!strcasecmp(p->a[1], "on") || !strcasecmp(p->a[1], "off")) {
			gw->nat_traversal = !strcasecmp(p->a[1], "on");
			return 0;
		}
		return ERR(p, "expected on or off, not '%s'", p->a[1]);
	case 6:
		return h_ike_keepalive(p, gw);
	case 7:
		if (!strcasecmp(p->a[1], "des-cbc"))
			return ERR(p, "des-cbc (56-bit DES) is not supported: use aes-cbc, aes256-cbc or 3des-cbc "
				   "on both ends");
		if ((i = name_lookup(ike_enc_names, N_OF(ike_enc_names), p->a[1])) < 0)
			return ERR(p, "encryption must be 3des-cbc, aes-cbc or aes256-cbc, not '%s'", p->a[1]);
		gw->ike_enc = (enum cfg_ike_enc)i;
		return 0;
	case 8:
		if ((i = name_lookup(ike_hash_names, N_OF(ike_hash_names), p->a[1])) < 0)
			return ERR(p, "hash must be sha, sha256, sha384, sha512 or md5, not '%s'", p->a[1]);
		gw->ike_hash = (enum cfg_ike_hash)i;
		return 0;
	case 9:
		if (p->n == 3)
			return ERR(p, "a second group is not supported: give one group, the same on both ends");
		if ((i = name_lookup(ike_group_names, N_OF(ike_group_names), p->a[1])) < 0)
			return ERR(p, "group must be modp768|1024|1536|2048|3072|4096 or ecp256|384|521, not '%s'",
				   p->a[1]);
		gw->ike_group = (enum cfg_ike_group)i;
		if (i == CFG_IKE_GROUP_MODP768)
			return WARN(p, "modp768 is broken (Logjam); strongSwan may not offer it");
		return 0;
	case 10:
		if (!strcasecmp(p->a[1], "on") || !strcasecmp(p->a[1], "off")) {
			gw->pfs = !strcasecmp(p->a[1], "on");
			return 0;
		}
		return ERR(p, "expected on or off, not '%s'", p->a[1]);
	case 11: {
		unsigned v;

		if (!parse_num(p->a[1], 1, 2, &v))
			return ERR(p, "version must be 1 or 2");
		gw->version = v;
		return 0;
	}
	}
	return ERR(p, "internal: unhandled form");
}

/* `ipsec sa policy ID GW esp ENC [AUTH] [options]` */
static int h_sa_policy(struct lp *p)
{
	struct cfg_ipsec_policy *pol;
	unsigned id, gw;
	int e, a = CFG_ESP_AUTH_NONE;

	if (p->n < 4)
		return ERR(p, "expected 'ipsec sa policy ID GW esp ENC AUTH'");
	if (!parse_num(p->a[0], 1, CFG_IPSEC_ID_MAX, &id))
		return ERR(p, "policy number must be 1..%d", CFG_IPSEC_ID_MAX);
	if (!parse_num(p->a[1], 1, CFG_IPSEC_ID_MAX, &gw))
		return ERR(p, "gateway number must be 1..%d", CFG_IPSEC_ID_MAX);
	if (!strcasecmp(p->a[2], "ah"))
		return ERR(p, "AH is not supported: L2TPv3/IPsec uses 'esp'");
	if (strcasecmp(p->a[2], "esp"))
		return ERR(p, "expected esp, not '%s'", p->a[2]);
	if (!strcasecmp(p->a[3], "des-cbc"))
		return ERR(p, "des-cbc (56-bit DES) is not supported: use aes-cbc, aes256-cbc or 3des-cbc "
			   "on both ends");
	if ((e = name_lookup(esp_enc_names, N_OF(esp_enc_names), p->a[3])) < 0)
		return ERR(p, "ESP encryption must be aes-cbc, aes256-cbc, 3des-cbc, aes-gcm or aes256-gcm, "
			   "not '%s'", p->a[3]);
	if (p->n >= 5) {
		if (strchr(p->a[4], '='))
			return ERR(p, "SA options ('%s') are not supported", p->a[4]);
		if ((a = name_lookup(esp_auth_names, N_OF(esp_auth_names), p->a[4])) < 0)
			return ERR(p, "ESP authentication must be sha-hmac, sha256-hmac or md5-hmac, not '%s'",
				   p->a[4]);
	}
	if (p->n > 5)
		return ERR(p, "SA options ('%s') are not supported", p->a[5]);
	if (e == CFG_ESP_ENC_AES128GCM || e == CFG_ESP_ENC_AES256GCM) {
		if (a != CFG_ESP_AUTH_NONE)
			return ERR(p, "%s authenticates itself: give no authentication algorithm",
				   esp_enc_names[e]);
	} else if (a == CFG_ESP_AUTH_NONE) {
		return ERR(p, "ESP without authentication is not supported: add sha-hmac or sha256-hmac");
	}
	pol = policy_find(p->g, id);
	if (!pol) {
		if (grow((void **)&p->g->policies, p->g->n_policies, sizeof(*p->g->policies)) < 0)
			return -ENOMEM;
		pol = &p->g->policies[p->g->n_policies++];
	}
	pol->id = id;
	pol->gw = gw;
	pol->line = p->lineno;
	pol->enc = (enum cfg_esp_enc)e;
	pol->auth = (enum cfg_esp_auth)a;
	return 0;
}

/* `ipsec transport ID POLICY [udp PORT]` */
static int h_transport(struct lp *p)
{
	struct cfg_ipsec_transport *tr = NULL;
	unsigned id, pol, port;

	if (p->n != 4)
		return ERR(p, "expected 'ipsec transport ID POLICY udp 1701': only L2TP's UDP port is carried");
	if (!parse_num(p->a[0], 1, CFG_IPSEC_ID_MAX, &id) || !parse_num(p->a[1], 1, CFG_IPSEC_ID_MAX, &pol))
		return ERR(p, "transport and policy numbers must be 1..%d", CFG_IPSEC_ID_MAX);
	if (strcasecmp(p->a[2], "udp"))
		return ERR(p, "only 'udp 1701' is supported, not '%s'", p->a[2]);
	if (!parse_num(p->a[3], 1, 65535, &port) || port != 1701)
		return ERR(p, "only udp port 1701 (L2TP) is supported");
	for (size_t i = 0; i < p->g->n_transports; i++)
		if (p->g->transports[i].id == id)
			tr = &p->g->transports[i];
	if (!tr) {
		if (grow((void **)&p->g->transports, p->g->n_transports, sizeof(*p->g->transports)) < 0)
			return -ENOMEM;
		tr = &p->g->transports[p->g->n_transports++];
	}
	tr->id = id;
	tr->policy = pol;
	tr->line = p->lineno;
	tr->port = (uint16_t)port;
	return 0;
}

int cfg_ipsec_line(struct cfg_ipsec_global *g, struct cfg_tunnel *t, char *const *w, size_t nw,
		   unsigned lineno, int *level, char *msg, size_t msglen)
{
	struct lp p = { .g = g, .t = t, .lineno = lineno, .level = level, .msg = msg, .msglen = msglen };

	*level = 0;
	msg[0] = '\0';
	if (nw >= 3 && !strcasecmp(w[0], "tunnel") && !strcasecmp(w[1], "endpoint") &&
	    !strcasecmp(w[2], "name")) {
		if (!t)
			return ERR(&p, "only valid after 'tunnel select N': ignored");
		if (nw < 4 || nw > 5 || (nw == 5 && strcasecmp(w[4], "fqdn")))
			return ERR(&p, "expected 'tunnel endpoint name HOST fqdn'");
		if (!valid_host(w[3]))
			return ERR(&p, "'%s' is not a host name", w[3]);
		snprintf(t->ipsec.endpoint_name, sizeof(t->ipsec.endpoint_name), "%s", w[3]);
		return 0;
	}
	if (nw < 2)
		return ERR(&p, "unknown command");
	p.a = w + 2;
	p.n = nw - 2;
	if (!strcasecmp(w[1], "tunnel")) {
		unsigned id;

		if (!t)
			return ERR(&p, "only valid after 'tunnel select N': ignored");
		if (p.n != 1 || !parse_num(p.a[0], 1, CFG_IPSEC_ID_MAX, &id))
			return ERR(&p, "expected 'ipsec tunnel POLICY' (1..%d)", CFG_IPSEC_ID_MAX);
		t->ipsec.policy = id;
		t->ipsec.tunnel_line = lineno;
		return 0;
	}
	if (!strcasecmp(w[1], "ike"))
		return h_ike(&p);
	if (!strcasecmp(w[1], "sa") && nw >= 3 && !strcasecmp(w[2], "policy")) {
		p.a++;
		p.n--;
		return h_sa_policy(&p);
	}
	if (!strcasecmp(w[1], "transport"))
		return h_transport(&p);
	if (!strcasecmp(w[1], "auto") && nw == 4 && !strcasecmp(w[2], "refresh")) {
		if (strcasecmp(w[3], "on") && strcasecmp(w[3], "off"))
			return ERR(&p, "expected 'ipsec auto refresh on|off'");
		g->auto_refresh = !strcasecmp(w[3], "on");
		g->has_auto_refresh = true;
		return 0;
	}
	if (!strcasecmp(w[1], "vici") && nw == 4 && !strcasecmp(w[2], "socket")) {
		const char *path = w[3];

		if (!strncmp(path, "unix://", 7))
			path += 7;
		if (path[0] != '/' || strlen(path) > CFG_IPSEC_VICI_MAX)
			return ERR(&p, "expected 'ipsec vici socket /PATH' or unix:///PATH (at most %d bytes)",
				   CFG_IPSEC_VICI_MAX);
		snprintf(g->vici_socket, sizeof(g->vici_socket), "%s", path);
		return 0;
	}
	if (!strcasecmp(w[1], "resolve") && nw == 4 && !strcasecmp(w[2], "interval")) {
		unsigned v;

		if (!parse_num(w[3], 1, CFG_IPSEC_RESOLVE_MAX, &v))
			return ERR(&p, "expected 'ipsec resolve interval SECONDS' (1..%d)", CFG_IPSEC_RESOLVE_MAX);
		g->resolve_interval = v;
		return 0;
	}
	return ERR(&p, "unsupported IPsec line: l2tpv3d takes ipsec tunnel, ipsec sa policy, ipsec ike, "
		   "ipsec transport, ipsec auto refresh, ipsec vici socket and ipsec resolve interval");
}

/* ------------------------------------------------------------------ */
/* Equality                                                            */
/* ------------------------------------------------------------------ */

/* cfg_ipsec_equal: from the field lists in config.c */

/* ------------------------------------------------------------------ */
/* Verify                                                              */
/* ------------------------------------------------------------------ */

static const struct cfg_ipsec_transport *transport_for(const struct cfg_ipsec_global *g, unsigned policy)
{
	for (size_t i = 0; i < g->n_transports; i++)
		if (g->transports[i].policy == policy)
			return &g->transports[i];
	return NULL;
}

#define VDIAG(level, line, ...)                                                   \
	do {                                                                          \
		int r_ = cfg_diag_add(d, name, (line), (level), __VA_ARGS__);         \
		if (r_ < 0)                                                           \
			return r_;                                                    \
	} while (0)

static int verify_one(struct cfg *c, struct cfg_tunnel *t, const char *name, struct cfg_diags *d)
{
	struct cfg_ipsec *s = &t->ipsec;
	const struct cfg_ipsec_global *g = &c->ipsec;
	const struct cfg_ipsec_policy *pol;
	const struct cfg_ipsec_transport *tr;
	const struct cfg_ipsec_gw *gw;
	unsigned at = s->tunnel_line ? s->tunnel_line : t->line;

	s->resolved = false;
	if (!s->on) {
		if (s->tunnel_line)
			VDIAG(CFG_DIAG_ERROR, s->tunnel_line,
			      "tunnel %u: 'ipsec tunnel %u' needs 'tunnel encapsulation l2tpv3' (L2TPv3/IPsec)",
			      t->id, s->policy);
		if (s->endpoint_name[0])
			VDIAG(CFG_DIAG_ERROR, t->line,
			      "tunnel %u: 'tunnel endpoint name' is supported for 'tunnel encapsulation l2tpv3' "
			      "(IPsec) tunnels only; give an address", t->id);
		return 0;
	}
	if (!s->tunnel_line) {
		VDIAG(CFG_DIAG_ERROR, t->line,
		      "tunnel %u: 'tunnel encapsulation l2tpv3' without 'ipsec tunnel POLICY': no SA to "
		      "carry it", t->id);
		return 0;
	}
	pol = policy_find(g, s->policy);
	if (!pol) {
		VDIAG(CFG_DIAG_ERROR, at, "tunnel %u: no 'ipsec sa policy %u GW esp ENC AUTH'", t->id, s->policy);
		return 0;
	}
	gw = gw_find(g, pol->gw);
	if (!gw) {
		VDIAG(CFG_DIAG_ERROR, pol->line, "tunnel %u: policy %u names gateway %u, which has no 'ipsec ike' "
		      "line", t->id, pol->id, pol->gw);
		return 0;
	}
	tr = transport_for(g, s->policy);
	if (!tr) {
		VDIAG(CFG_DIAG_ERROR, at,
		      "tunnel %u: no 'ipsec transport N %u udp 1701': L2TP would not go through the SA",
		      t->id, s->policy);
		return 0;
	}
	if (!gw->has_psk) {
		VDIAG(CFG_DIAG_ERROR, at, "tunnel %u: gateway %u has no 'ipsec ike pre-shared-key %u text "
		      "SECRET' (only pre-shared keys are supported)", t->id, gw->id, gw->id);
		return 0;
	}
	if (!gw->remote_any && !gw->has_remote_address && !gw->remote_host[0]) {
		VDIAG(CFG_DIAG_ERROR, at, "tunnel %u: gateway %u has no 'ipsec ike remote address %u "
		      "ADDRESS|HOST|any'", t->id, gw->id, gw->id);
		return 0;
	}
	s->gw = *gw;
	s->esp_enc = pol->enc;
	s->esp_auth = pol->auth;
	s->port = tr->port;
	s->transport_id = tr->id;
	/* a hub's branches sit behind NATs with addresses nobody knows: over
	 * IKEv1 each one names itself (`ipsec ike local name`) in aggressive
	 * mode, as configuration A's initiator does */
	s->aggressive = gw->version == 1 && (gw->local_id_type != CFG_IKE_ID_NONE ||
					     gw->remote_id_type != CFG_IKE_ID_NONE || (t->hub_max && gw->remote_any));
	s->initiator = !gw->remote_any;
	s->auto_refresh = g->auto_refresh;
	s->resolved = true;

	if (t->hub_max && !gw->remote_any)
		VDIAG(CFG_DIAG_ERROR, at, "tunnel %u: 'l2tp hub on' over IPsec answers many branches: it needs "
		      "'ipsec ike remote address %u any'", t->id, gw->id);
	if (t->hub_max && gw->remote_any && gw->remote_id_type != CFG_IKE_ID_NONE)
		VDIAG(CFG_DIAG_NOTICE, at, "tunnel %u: a hub with 'ipsec ike remote name %u %s': every branch must "
		      "send that name; without the line each branch may name itself ('ipsec ike local name')",
		      t->id, gw->id, gw->remote_name);
	if (t->dp.local_port != 1701 || t->dp.remote_port != 1701)
		VDIAG(CFG_DIAG_ERROR, t->line, "tunnel %u: an IPsec tunnel runs on UDP port 1701 (the "
		      "transport's): remove 'l2tp local|remote port'", t->id);
	if (gw->has_remote_address && t->has_endpoint) {
		const struct sockaddr_storage *ea = &t->remote, *ia = &gw->remote_address;
		bool same = ea->ss_family == ia->ss_family &&
			    (ea->ss_family == AF_INET ?
			     ((const struct sockaddr_in *)ea)->sin_addr.s_addr ==
				     ((const struct sockaddr_in *)ia)->sin_addr.s_addr :
			     !memcmp(&((const struct sockaddr_in6 *)ea)->sin6_addr,
				     &((const struct sockaddr_in6 *)ia)->sin6_addr, 16));

		if (!same)
			VDIAG(CFG_DIAG_ERROR, t->line, "tunnel %u: 'tunnel endpoint address' and 'ipsec ike remote "
			      "address %u' name different peers", t->id, gw->id);
	}
	if (gw->remote_any && (t->has_endpoint || s->endpoint_name[0]))
		VDIAG(CFG_DIAG_ERROR, at, "tunnel %u: gateway %u answers any address ('remote address any') "
		      "but the tunnel has an endpoint: remove one", t->id, gw->id);
	if (gw->remote_host[0] && s->endpoint_name[0] && strcasecmp(gw->remote_host, s->endpoint_name))
		VDIAG(CFG_DIAG_WARNING, at, "tunnel %u: 'tunnel endpoint name %s' and 'ipsec ike remote address "
		      "%u %s' differ: the SA's peer is the latter", t->id, s->endpoint_name, gw->id, gw->remote_host);
	if (gw->has_remote_address && !t->has_endpoint && !s->endpoint_name[0])
		VDIAG(CFG_DIAG_NOTICE, at, "tunnel %u: no 'tunnel endpoint': the L2TP peer is the SA's peer %s",
		      t->id, "(the IKE remote address)");
	if (gw->keepalive == CFG_IKE_KA_HEARTBEAT)
		VDIAG(CFG_DIAG_WARNING, gw->keepalive_line,
		      "gateway %u: heartbeat is Yamaha's own keepalive and strongSwan does not send it, so a RTX "
		      "peer using it drops the SA after %u x %u s; this side uses DPD every %u s instead: set "
		      "'ipsec ike keepalive use %u on dpd %u %u' on the RTX", gw->id, gw->keepalive_interval,
		      gw->keepalive_count, gw->keepalive_interval, gw->id, gw->keepalive_interval,
		      gw->keepalive_count);
	if (s->initiator && !g->auto_refresh)
		VDIAG(CFG_DIAG_NOTICE, at, "tunnel %u: no 'ipsec auto refresh on': the SA is negotiated when "
		      "the first L2TP packet needs it, as on a RTX", t->id);
	if (!s->initiator && s->aggressive)
		VDIAG(CFG_DIAG_WARNING, at,
		      "tunnel %u: answering IKEv1 aggressive mode with a pre-shared key: strongSwan refuses it "
		      "unless strongswan.conf sets charon.i_dont_care_about_security_and_use_aggressive_mode_psk "
		      "= yes (aggressive mode sends a hash of the key that anyone on the path can attack "
		      "offline: use a long random key)", t->id);
	if (gw->version == 2 && (gw->local_id_type == CFG_IKE_ID_KEY_ID || gw->remote_id_type == CFG_IKE_ID_KEY_ID))
		VDIAG(CFG_DIAG_NOTICE, at, "tunnel %u: IKEv2 with a key-id identity", t->id);
	return 0;
}

int cfg_ipsec_verify(struct cfg *c, const char *name, struct cfg_diags *d)
{
	int r;

	for (size_t i = 0; i < c->n_tunnels; i++) {
		if (!c->tunnels[i].line)
			continue;
		if ((r = verify_one(c, &c->tunnels[i], name, d)) < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Print                                                               */
/* ------------------------------------------------------------------ */

static const char *ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)len);
	return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)len);
}

void cfg_ipsec_print_tunnel(const struct cfg_tunnel *t, FILE *out)
{
	const struct cfg_ipsec *s = &t->ipsec;
	const struct cfg_ipsec_gw *gw = &s->gw;
	char a[INET6_ADDRSTRLEN];
	unsigned g = gw->id;

	if (s->endpoint_name[0])
		fprintf(out, " tunnel endpoint name %s fqdn\n", s->endpoint_name);
	if (s->tunnel_line)
		fprintf(out, " ipsec tunnel %u\n", s->policy);
	if (!s->resolved)
		return;
	fprintf(out, "  ipsec sa policy %u %u esp %s%s%s\n", s->policy, g, cfg_esp_enc_name(s->esp_enc),
		s->esp_auth == CFG_ESP_AUTH_NONE ? "" : " ", cfg_esp_auth_name(s->esp_auth));
	if (gw->keepalive == CFG_IKE_KA_OFF)
		fprintf(out, "  ipsec ike keepalive use %u off\n", g);
	else
		fprintf(out, "  ipsec ike keepalive use %u on %s %u %u\n", g,
			gw->keepalive == CFG_IKE_KA_DPD ? "dpd" : "heartbeat", gw->keepalive_interval,
			gw->keepalive_count);
	if (gw->has_local_address)
		fprintf(out, "  ipsec ike local address %u %s\n", g, ntop(&gw->local_address, a, sizeof(a)));
	if (gw->local_id_type != CFG_IKE_ID_NONE)
		fprintf(out, "  ipsec ike local name %u %s %s\n", g, gw->local_name,
			cfg_ike_id_type_name(gw->local_id_type));
	fprintf(out, "  ipsec ike nat-traversal %u %s\n", g, gw->nat_traversal ? "on" : "off");
	fprintf(out, "  ipsec ike pre-shared-key %u text %s\n", g, gw->psk);
	if (gw->remote_any)
		fprintf(out, "  ipsec ike remote address %u any\n", g);
	else if (gw->has_remote_address)
		fprintf(out, "  ipsec ike remote address %u %s\n", g, ntop(&gw->remote_address, a, sizeof(a)));
	else if (gw->remote_host[0])
		fprintf(out, "  ipsec ike remote address %u %s\n", g, gw->remote_host);
	if (gw->remote_id_type != CFG_IKE_ID_NONE)
		fprintf(out, "  ipsec ike remote name %u %s %s\n", g, gw->remote_name,
			cfg_ike_id_type_name(gw->remote_id_type));
	fprintf(out, "  ipsec ike version %u %u\n", g, gw->version);
	fprintf(out, "  ipsec ike encryption %u %s\n", g, cfg_ike_enc_name(gw->ike_enc));
	fprintf(out, "  ipsec ike hash %u %s\n", g, cfg_ike_hash_name(gw->ike_hash));
	fprintf(out, "  ipsec ike group %u %s\n", g, cfg_ike_group_name(gw->ike_group));
	fprintf(out, "  ipsec ike pfs %u %s\n", g, gw->pfs ? "on" : "off");
	fprintf(out, "  ipsec ike duration isakmp-sa %u %u\n", g, gw->ike_lifetime);
	fprintf(out, "  ipsec ike duration ipsec-sa %u %u\n", g, gw->sa_lifetime);
}

void cfg_ipsec_print_global(const struct cfg *c, FILE *out)
{
	const struct cfg_ipsec_global *g = &c->ipsec;

	if (g->has_auto_refresh)
		fprintf(out, "ipsec auto refresh %s\n", g->auto_refresh ? "on" : "off");
	for (size_t i = 0; i < g->n_transports; i++)
		fprintf(out, "ipsec transport %u %u udp %u\n", g->transports[i].id, g->transports[i].policy,
			g->transports[i].port);
	if (g->vici_socket[0])
		fprintf(out, "ipsec vici socket %s\n", g->vici_socket);
	if (g->resolve_interval)
		fprintf(out, "ipsec resolve interval %u\n", g->resolve_interval);
}
