/* SPDX-License-Identifier: MIT */
/* RTX IPsec settings -> strongSwan connection (see conn.h). */
#include "ipsec/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ipsec_conn_name(unsigned tunnel_id, char *buf, size_t len)
{
	snprintf(buf, len, IPSEC_CONN_PREFIX "%u", tunnel_id);
}

unsigned ipsec_conn_tunnel(const char *name)
{
	size_t n = strlen(IPSEC_CONN_PREFIX);
	char *end;
	unsigned long v;

	if (strncmp(name, IPSEC_CONN_PREFIX, n) || name[n] < '1' || name[n] > '9')
		return 0;
	v = strtoul(name + n, &end, 10);
	if (*end || v > CFG_MAX_TUNNELS)
		return 0;
	return (unsigned)v;
}

void ipsec_shared_id(unsigned tunnel_id, char *buf, size_t len)
{
	snprintf(buf, len, IPSEC_CONN_PREFIX "%u-psk", tunnel_id);
}

static const char *ike_enc(enum cfg_ike_enc e)
{
	switch (e) {
	case CFG_IKE_ENC_AES128:
		return "aes128";
	case CFG_IKE_ENC_AES256:
		return "aes256";
	case CFG_IKE_ENC_3DES:
	default:
		return "3des";
	}
}

static const char *hash(enum cfg_ike_hash h)
{
	switch (h) {
	case CFG_IKE_HASH_MD5:
		return "md5";
	case CFG_IKE_HASH_SHA256:
		return "sha256";
	case CFG_IKE_HASH_SHA384:
		return "sha384";
	case CFG_IKE_HASH_SHA512:
		return "sha512";
	case CFG_IKE_HASH_SHA1:
	default:
		return "sha1";
	}
}

void ipsec_ike_proposal(const struct cfg_ipsec_gw *gw, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s-%s", ike_enc(gw->ike_enc), hash(gw->ike_hash), cfg_ike_group_name(gw->ike_group));
}

void ipsec_esp_proposal(const struct cfg_ipsec *s, char *buf, size_t len)
{
	const char *enc, *auth = NULL;
	char pfs[32] = "";

	switch (s->esp_enc) {
	case CFG_ESP_ENC_AES256:
		enc = "aes256";
		break;
	case CFG_ESP_ENC_3DES:
		enc = "3des";
		break;
	case CFG_ESP_ENC_AES128GCM:
		enc = "aes128gcm16";
		break;
	case CFG_ESP_ENC_AES256GCM:
		enc = "aes256gcm16";
		break;
	case CFG_ESP_ENC_AES128:
	default:
		enc = "aes128";
		break;
	}
	switch (s->esp_auth) {
	case CFG_ESP_AUTH_SHA1:
		auth = "sha1";
		break;
	case CFG_ESP_AUTH_MD5:
		auth = "md5";
		break;
	case CFG_ESP_AUTH_SHA256:
		auth = "sha256";
		break;
	case CFG_ESP_AUTH_NONE:
	default:
		break;
	}
	if (s->gw.pfs)
		snprintf(pfs, sizeof(pfs), "-%s", cfg_ike_group_name(s->gw.ike_group));
	snprintf(buf, len, "%s%s%s%s", enc, auth ? "-" : "", auth ? auth : "", pfs);
}

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)len);
}

static void id_str(enum cfg_ike_id_type type, const char *name, char *buf, size_t len)
{
	switch (type) {
	case CFG_IKE_ID_KEY_ID:
		snprintf(buf, len, "keyid:%s", name);
		break;
	case CFG_IKE_ID_USER_FQDN:
		snprintf(buf, len, "userfqdn:%s", name);
		break;
	case CFG_IKE_ID_IPV4:
		snprintf(buf, len, "ipv4:%s", name);
		break;
	case CFG_IKE_ID_FQDN:
		snprintf(buf, len, "fqdn:%s", name);
		break;
	case CFG_IKE_ID_NONE:
	default:
		buf[0] = '\0';
		break;
	}
}

void ipsec_local_id(const struct cfg_ipsec *s, char *buf, size_t len)
{
	id_str(s->gw.local_id_type, s->gw.local_name, buf, len);
	if (!buf[0] && s->gw.has_local_address)
		addr_str(&s->gw.local_address, buf, len);
}

void ipsec_remote_id(const struct cfg_ipsec *s, char *buf, size_t len)
{
	id_str(s->gw.remote_id_type, s->gw.remote_name, buf, len);
	if (!buf[0] && s->gw.has_remote_address)
		addr_str(&s->gw.remote_address, buf, len);
}

static void child(struct vici_msg *m, const struct cfg_ipsec *s, const char *name, const char *ts,
		  const char *start_action)
{
	const struct cfg_ipsec_gw *gw = &s->gw;
	char esp[64];

	ipsec_esp_proposal(s, esp, sizeof(esp));
	vici_section(m, name);
	vici_kv(m, "mode", "transport");
	vici_list(m, "local_ts");
	vici_item(m, ts);
	vici_list_end(m);
	vici_list(m, "remote_ts");
	vici_item(m, ts);
	vici_list_end(m);
	vici_list(m, "esp_proposals");
	vici_item(m, esp);
	vici_list_end(m);
	/* Yamaha renews at 75 % of the lifetime; the SA dies at 100 % */
	vici_kvf(m, "rekey_time", "%us", gw->sa_lifetime / 4 * 3);
	vici_kvf(m, "life_time", "%us", gw->sa_lifetime);
	vici_kv(m, "start_action", start_action);
	/* a dead peer: an initiator with auto refresh starts again; one
	 * without keeps its trap policy; a responder waits */
	vici_kv(m, "dpd_action", s->initiator && s->auto_refresh ? "restart" : "clear");
	vici_kv(m, "close_action", s->initiator && s->auto_refresh ? "start" : "none");
	vici_end(m);
}

int ipsec_conn_build(const struct cfg_tunnel *t, struct vici_msg *m)
{
	return ipsec_conn_build_to(t, NULL, m);
}

int ipsec_conn_build_to(const struct cfg_tunnel *t, const struct sockaddr_storage *to, struct vici_msg *m)
{
	const struct cfg_ipsec *s = &t->ipsec;
	const struct cfg_ipsec_gw *gw = &s->gw;
	char name[IPSEC_CONN_NAME_MAX], buf[CFG_IPSEC_NAME_MAX + 16];

	if (!s->on || !s->resolved)
		return -EINVAL;
	ipsec_conn_name(t->id, name, sizeof(name));
	vici_section(m, name);
	vici_kvf(m, "version", "%u", gw->version);
	if (gw->version == 1)
		vici_kv(m, "aggressive", s->aggressive ? "yes" : "no");
	if (gw->has_local_address) {
		vici_list(m, "local_addrs");
		addr_str(&gw->local_address, buf, sizeof(buf));
		vici_item(m, buf);
		vici_list_end(m);
	}
	vici_list(m, "remote_addrs");
	if (gw->remote_any)
		vici_item(m, "%any");
	else if (gw->has_remote_address) {
		addr_str(&gw->remote_address, buf, sizeof(buf));
		vici_item(m, buf);
	} else {
		/* the daemon's last good resolution first: charon initiates to
		 * the first entry that resolves, and still accepts the peer at
		 * what the name resolves to when it calls (ipsec.c re-resolves) */
		if (to && to->ss_family != AF_UNSPEC) {
			addr_str(to, buf, sizeof(buf));
			vici_item(m, buf);
		}
		vici_item(m, gw->remote_host);
	}
	vici_list_end(m);
	ipsec_ike_proposal(gw, buf, sizeof(buf));
	vici_list(m, "proposals");
	vici_item(m, buf);
	vici_list_end(m);
	if (gw->keepalive != CFG_IKE_KA_OFF) {
		/* DPD also for `heartbeat`, which strongSwan cannot speak (config warns) */
		vici_kvf(m, "dpd_delay", "%us", gw->keepalive_interval);
		if (gw->version == 1)
			vici_kvf(m, "dpd_timeout", "%us", gw->keepalive_interval * gw->keepalive_count);
	}
	vici_kvf(m, "rekey_time", "%us", gw->ike_lifetime / 4 * 3);
	vici_kvf(m, "over_time", "%us", gw->ike_lifetime - gw->ike_lifetime / 4 * 3);
	vici_kv(m, "keyingtries", "0"); /* an initiator retries for ever */
	if (gw->version == 2)
		vici_kv(m, "mobike", "no");

	/*
	 * Identities: a name is sent and required as configured.  Without one
	 * we send our address (strongSwan's default) and take any identity
	 * from the peer, as a RTX does: a peer behind a static NAT shows its
	 * private address.  The PSK authenticates; in main mode charon finds
	 * it by the peer's address, an owner of the key (load-shared).
	 */
	vici_section(m, "local");
	vici_kv(m, "auth", "psk");
	id_str(gw->local_id_type, gw->local_name, buf, sizeof(buf));
	if (buf[0])
		vici_kv(m, "id", buf);
	vici_end(m);
	vici_section(m, "remote");
	vici_kv(m, "auth", "psk");
	id_str(gw->remote_id_type, gw->remote_name, buf, sizeof(buf));
	vici_kv(m, "id", buf[0] ? buf : "%any");
	vici_end(m);

	vici_section(m, "children");
	if (s->initiator) {
		child(m, s, IPSEC_CHILD_UDP, "dynamic[udp/1701]", s->auto_refresh ? "start" : "trap");
	} else {
		child(m, s, IPSEC_CHILD_UDP, "dynamic[udp/1701]", "none");
		child(m, s, IPSEC_CHILD_HOST, "dynamic", "none");
	}
	vici_end(m);
	vici_end(m);
	return m->bad ? -ENOMEM : 0;
}

int ipsec_shared_build(const struct cfg_tunnel *t, struct vici_msg *m)
{
	const struct cfg_ipsec *s = &t->ipsec;
	char id[IPSEC_CONN_NAME_MAX + 8], buf[CFG_IPSEC_NAME_MAX + 16];

	if (!s->on || !s->resolved)
		return -EINVAL;
	ipsec_shared_id(t->id, id, sizeof(id));
	vici_kv(m, "id", id);
	vici_kv(m, "type", "IKE");
	vici_kv(m, "data", s->gw.psk);
	vici_list(m, "owners");
	ipsec_local_id(s, buf, sizeof(buf));
	if (buf[0])
		vici_item(m, buf);
	ipsec_remote_id(s, buf, sizeof(buf));
	if (buf[0])
		vici_item(m, buf);
	else if (s->gw.remote_any)
		vici_item(m, "%any");
	vici_list_end(m);
	return m->bad ? -ENOMEM : 0;
}
