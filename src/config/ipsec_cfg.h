/* SPDX-License-Identifier: MIT */
/*
 * The IPsec lines of a Yamaha RTX configuration (`tunnel encapsulation
 * l2tpv3` = L2TPv3/IPsec, shared/ipsec.md): parsed into global tables
 * (IKE gateways, SA policies, transports, as a RTX keeps them), then
 * resolved by the verify pass into one struct cfg_ipsec per tunnel that
 * holds every IPsec setting the tunnel runs with.
 *
 * Pure: no I/O.  config.c calls cfg_ipsec_line() for every line starting
 * with `ipsec` or `tunnel endpoint name`, and cfg_ipsec_verify() /
 * cfg_ipsec_print_*() from its verify and print passes.
 */
#ifndef L2TP_IPSEC_CFG_H
#define L2TP_IPSEC_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CFG_IPSEC_NAME_MAX 255
#define CFG_IPSEC_PSK_MAX 255
#define CFG_IPSEC_ID_MAX 65535 /* gateway, policy and transport numbers */
#define CFG_IPSEC_VICI_DEFAULT "/var/run/charon.vici"
#define CFG_IPSEC_VICI_MAX 107 /* sun_path */
#define CFG_IPSEC_RESOLVE_DEFAULT 60 /* s between resolutions of an IKE remote host name */
#define CFG_IPSEC_RESOLVE_MAX 86400

enum cfg_ike_enc { CFG_IKE_ENC_3DES, CFG_IKE_ENC_AES128, CFG_IKE_ENC_AES256 };
enum cfg_ike_hash { CFG_IKE_HASH_SHA1, CFG_IKE_HASH_MD5, CFG_IKE_HASH_SHA256, CFG_IKE_HASH_SHA384, CFG_IKE_HASH_SHA512 };
enum cfg_ike_group {
	CFG_IKE_GROUP_MODP768,
	CFG_IKE_GROUP_MODP1024,
	CFG_IKE_GROUP_MODP1536,
	CFG_IKE_GROUP_MODP2048,
	CFG_IKE_GROUP_MODP3072,
	CFG_IKE_GROUP_MODP4096,
	CFG_IKE_GROUP_ECP256,
	CFG_IKE_GROUP_ECP384,
	CFG_IKE_GROUP_ECP521,
};
enum cfg_esp_enc { CFG_ESP_ENC_AES128, CFG_ESP_ENC_AES256, CFG_ESP_ENC_3DES, CFG_ESP_ENC_AES128GCM, CFG_ESP_ENC_AES256GCM };
enum cfg_esp_auth { CFG_ESP_AUTH_SHA1, CFG_ESP_AUTH_MD5, CFG_ESP_AUTH_SHA256, CFG_ESP_AUTH_NONE };

/* `ipsec ike local|remote name GW NAME [TYPE]` */
enum cfg_ike_id_type {
	CFG_IKE_ID_NONE, /* no name: the address is the identity (main mode) */
	CFG_IKE_ID_FQDN, /* TYPE fqdn, or TYPE omitted */
	CFG_IKE_ID_USER_FQDN, /* TYPE user-fqdn (user@domain) */
	CFG_IKE_ID_KEY_ID, /* TYPE key-id */
	CFG_IKE_ID_IPV4, /* TYPE ipv4-addr */
};

enum cfg_ike_keepalive { CFG_IKE_KA_OFF, CFG_IKE_KA_HEARTBEAT, CFG_IKE_KA_DPD };

/* One `ipsec ike ... GW ...` gateway: Yamaha's defaults filled at creation */
struct cfg_ipsec_gw {
	unsigned id;
	unsigned line; /* first line naming it */
	bool has_local_address;
	struct sockaddr_storage local_address; /* `ipsec ike local address GW A` */
	enum cfg_ike_id_type local_id_type;
	char local_name[CFG_IPSEC_NAME_MAX + 1];
	bool remote_any; /* `ipsec ike remote address GW any`: answers only */
	bool has_remote_address;
	struct sockaddr_storage remote_address; /* an address, or ... */
	char remote_host[CFG_IPSEC_NAME_MAX + 1]; /* ... a host name, re-resolved */
	enum cfg_ike_id_type remote_id_type;
	char remote_name[CFG_IPSEC_NAME_MAX + 1];
	bool has_psk;
	char psk[CFG_IPSEC_PSK_MAX + 1]; /* `ipsec ike pre-shared-key GW text S` */
	bool nat_traversal; /* default off */
	enum cfg_ike_keepalive keepalive; /* `keepalive use GW on` = heartbeat 10 6 */
	unsigned keepalive_line;
	unsigned keepalive_interval, keepalive_count;
	enum cfg_ike_enc ike_enc; /* default 3des-cbc */
	enum cfg_ike_hash ike_hash; /* default sha */
	enum cfg_ike_group ike_group; /* default modp1024 */
	bool pfs; /* default off; on: the IKE group in Quick Mode */
	unsigned version; /* 1 (default) or 2 */
	unsigned ike_lifetime; /* `ipsec ike duration isakmp-sa GW S`, default 28800 */
	unsigned sa_lifetime; /* `ipsec ike duration ipsec-sa GW S`, default 28800 */
};

/* `ipsec sa policy ID GW esp ENC [AUTH]` */
struct cfg_ipsec_policy {
	unsigned id, gw, line;
	enum cfg_esp_enc enc;
	enum cfg_esp_auth auth;
};

/* `ipsec transport ID POLICY udp PORT` */
struct cfg_ipsec_transport {
	unsigned id, policy, line;
	uint16_t port;
};

/* Global IPsec state of a configuration (struct cfg.ipsec) */
struct cfg_ipsec_global {
	bool auto_refresh; /* `ipsec auto refresh on|off`, default off */
	bool has_auto_refresh;
	char vici_socket[CFG_IPSEC_VICI_MAX + 1]; /* `ipsec vici socket PATH`, "" = default */
	unsigned resolve_interval; /* `ipsec resolve interval SECONDS`, 0 = default (CFG_IPSEC_RESOLVE_DEFAULT) */
	struct cfg_ipsec_gw *gws;
	size_t n_gws;
	struct cfg_ipsec_policy *policies;
	size_t n_policies;
	struct cfg_ipsec_transport *transports;
	size_t n_transports;
};

/*
 * Every IPsec setting one tunnel runs with, resolved by cfg_ipsec_verify
 * from `ipsec tunnel POLICY` and the global tables.  on == false: a raw
 * tunnel, the rest is zero.
 */
struct cfg_ipsec {
	bool on; /* `tunnel encapsulation l2tpv3` */
	unsigned tunnel_line; /* line of `ipsec tunnel N`, 0 = none */
	unsigned policy; /* N of `ipsec tunnel N` */
	char endpoint_name[CFG_IPSEC_NAME_MAX + 1]; /* `tunnel endpoint name HOST fqdn` */
	/* resolved: */
	bool resolved; /* policy, gateway and transport found */
	struct cfg_ipsec_gw gw;
	enum cfg_esp_enc esp_enc;
	enum cfg_esp_auth esp_auth;
	uint16_t port; /* transport's UDP port (1701) */
	unsigned transport_id;
	bool aggressive; /* a name on either side (IKEv1) */
	bool initiator; /* the remote is not `any`: this side may initiate */
	bool auto_refresh; /* `ipsec auto refresh on`: initiate at once, else on first packet */
};

/* Free the tables (not g itself). */
void cfg_ipsec_global_free(struct cfg_ipsec_global *g);

struct cfg_tunnel;

/*
 * One line whose words start with `ipsec`, or `tunnel endpoint name`.  t
 * is the selected tunnel or NULL.  Returns 0 (accepted, maybe with a
 * message of level *level in msg), 1 (error in msg), -ENOMEM.
 * *level: 0 none, 1 notice, 2 warning, as enum cfg_diag_level + 1.
 */
int cfg_ipsec_line(struct cfg_ipsec_global *g, struct cfg_tunnel *t, char *const *w, size_t nw,
		   unsigned lineno, int *level, char *msg, size_t msglen);

/* Same settings (what the SA depends on, not line numbers). */
bool cfg_ipsec_equal(const struct cfg_ipsec *a, const struct cfg_ipsec *b);

/* Names as written in RTX lines ("aes-cbc", "sha-hmac", "modp1024"...) */
const char *cfg_ike_enc_name(enum cfg_ike_enc e);
const char *cfg_ike_hash_name(enum cfg_ike_hash h);
const char *cfg_ike_group_name(enum cfg_ike_group g);
const char *cfg_esp_enc_name(enum cfg_esp_enc e);
const char *cfg_esp_auth_name(enum cfg_esp_auth a);
const char *cfg_ike_id_type_name(enum cfg_ike_id_type t);

/* The VICI socket path the daemon uses (the line's, or the default). */
const char *cfg_ipsec_vici_path(const struct cfg_ipsec_global *g);

#endif
