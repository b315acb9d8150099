/* SPDX-License-Identifier: MIT */
/*
 * Configuration: the Yamaha RTX command language of the reference scenario
 * (see shared/scenario.md), parsed into plain structs.
 *
 * The parser is lenient per line and never logs: every problem becomes a
 * diagnostic with file:line that the caller prints.  Lines that are a
 * router's job (NAT descriptors, DHCP, DNS, telnetd, passwords, routes) are
 * accepted with a notice; unknown or malformed lines are errors.  After
 * parsing, cfg_verify checks cross-line rules.  Parsing does no I/O except
 * cfg_load_file, which reads the file into memory and calls
 * cfg_parse_buffer, so a fuzzer can feed the same code.
 */
#ifndef L2TP_CONFIG_H
#define L2TP_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config/ipsec_cfg.h"

#define CFG_NAME_MAX 255
#define CFG_SECRET_MAX 255
#define CFG_MAX_TUNNELS 4096
#define CFG_MAX_BRIDGE_MEMBERS 64
#define CFG_HUB_MAX 9999 /* peers of one hub tunnel: TAP tunnelN.P fits IFNAMSIZ (tunnel.c) */
#define CFG_HUB_DEFAULT 100
#define CFG_HUB_HOLD_DEFAULT 60 /* `l2tp hub hold`: seconds a departed peer's TAP port is kept */
#define CFG_HUB_HOLD_MAX 86400
#define CFG_BRIDGE_PORTS_MAX 1023 /* a Linux bridge's ports (BR_MAX_PORTS - 1): bounds a hub per bridge */
#define CFG_MAX_BRIDGES 1024
#define CFG_MAX_PW 8 /* pseudowires (sessions) per tunnel, the tunnel's own included */
#define CFG_MAX_ADDRESSES 1024
#define CFG_LINE_MAX 4096 /* bytes per line, without the line end */
#define CFG_FILE_MAX (1024 * 1024) /* cfg_load_file refuses larger files */
#define CFG_DIAGS_MAX 1000 /* further diagnostics are only counted */

enum cfg_diag_level {
	CFG_DIAG_NOTICE, /* accepted; not our job or ignored on purpose */
	CFG_DIAG_WARNING,
	CFG_DIAG_ERROR, /* the daemon refuses to start with one of these */
};

struct cfg_diag {
	enum cfg_diag_level level;
	char file[256];
	unsigned line; /* 0 = not tied to one line (verify pass) */
	char msg[512];
};

struct cfg_diags {
	struct cfg_diag *v;
	size_t n, cap;
	size_t n_errors;
};

void cfg_diags_free(struct cfg_diags *d);
/* "FILE:LINE: error: MESSAGE" (or notice/warning) into buf */
void cfg_diag_format(const struct cfg_diag *dg, char *buf, size_t len);

enum cfg_mss_mode {
	CFG_MSS_OFF,
	CFG_MSS_AUTO,
	CFG_MSS_FIXED,
};

enum cfg_auth_style {
	CFG_AUTH_DIGEST, /* RFC 3931 Message Digest (HMAC-MD5) + Nonce (default) */
	CFG_AUTH_CHALLENGE, /* L2TPv2-style Challenge / Challenge Response */
	CFG_AUTH_DIGEST_SHA1, /* RFC 3931 Message Digest (HMAC-SHA-1) + Nonce */
};

/* `l2tp compatibility NAME`: the defaults of one kind of peer */
enum cfg_compat {
	CFG_COMPAT_NONE, /* our own defaults (those of a Yamaha RTX) */
	CFG_COMPAT_YAMAHA,
	CFG_COMPAT_CISCO,
	CFG_COMPAT_MIKROTIK,
	CFG_COMPAT_LINUX,
};

enum cfg_pw_type {
	CFG_PW_ETHERNET, /* PW type 5 (default) */
	CFG_PW_ETHERNET_VLAN, /* PW type 4 */
};

/*
 * Data-plane settings of a tunnel's session.  The preset of `l2tp
 * compatibility` fills the fields whose explicit line was not given
 * (`has_*` false), so explicit lines win whatever their order.
 */
struct cfg_dataplane {
	enum cfg_compat compat;
	bool has_local_port, has_remote_port;
	uint16_t local_port, remote_port; /* `l2tp local|remote port N`, default 1701 */
	bool has_cookie_len;
	unsigned cookie_len; /* `l2tp cookie length 0|4|8`: our cookie; default 0 */
	bool has_cookie_value; /* `l2tp cookie value HEX`; else random per session */
	uint8_t cookie[8];
	unsigned cookie_value_len; /* 4 or 8 bytes of cookie[] given */
	bool has_l2ss;
	bool l2ss; /* `l2tp l2-specific-sublayer none|default`: what we ask the peer to send */
	bool has_data_seq;
	bool data_seq; /* `l2tp data sequencing on|off` */
	bool has_pw_type;
	enum cfg_pw_type pw_type; /* `l2tp pseudowire type ethernet|ethernet-vlan` */
};

/* How L2TPv3 travels (RFC 3931 §4.1.2) */
enum cfg_encap {
	CFG_ENCAP_UDP = 0, /* `tunnel encapsulation l2tpv3-raw` (UDP, port 1701) */
	CFG_ENCAP_IP, /* `tunnel encapsulation l2tpv3-ip` (IP protocol 115) */
};

/*
 * `l2tp pseudowire Q remote end-id NAME`: pseudowire Q (2..CFG_MAX_PW) of
 * a tunnel, a session of its own over the tunnel's control connection,
 * with its own TAP port tunnelN-Q (a hub's peer P: tunnelN.P-Q).
 * Pseudowire 1 is the tunnel's own (`l2tp remote end-id`, tunnelN).
 */
struct cfg_pw {
	unsigned num; /* Q */
	unsigned line;
	char end_id[CFG_NAME_MAX + 1]; /* its Remote End ID, never empty */
	char ifname[IFNAMSIZ]; /* "tunnelN-Q" (cfg_verify) */
	char bridge[IFNAMSIZ]; /* bridge whose members include ifname, "" = none (cfg_verify) */
	unsigned vlan; /* `l2tp pseudowire Q vlan VID`: 1..4094, 0 = none */
};

/* One `tunnel select N` block.  `has_*` say which lines were given. */
struct cfg_tunnel {
	unsigned id; /* N of `tunnel select N`, 1.. */
	unsigned line; /* line of `tunnel select`; 0 = only named by `tunnel enable|disable` */
	unsigned enable_line; /* line of the last `tunnel enable|disable N`, 0 = none */
	bool enabled; /* `tunnel enable N` seen (and no later disable) */
	bool has_encapsulation; /* `tunnel encapsulation l2tpv3-raw|l2tpv3-ip` */
	enum cfg_encap encap; /* l2tpv3-raw: over UDP; l2tpv3-ip: over IP protocol 115 */

	/* `tunnel endpoint address [LOCAL] REMOTE`; absent on a responder */
	bool has_endpoint;
	bool has_local_address;
	struct sockaddr_storage local; /* port 1701 */
	struct sockaddr_storage remote; /* port 1701 */

	bool always_on; /* `l2tp always-on on|off` */
	char hostname[CFG_NAME_MAX + 1]; /* `l2tp hostname NAME`; "" = system hostname */

	bool auth; /* `l2tp tunnel auth on SECRET` / `off` */
	char secret[CFG_SECRET_MAX + 1];
	enum cfg_auth_style auth_style; /* `l2tp tunnel auth method`, default CFG_AUTH_DIGEST */

	struct cfg_dataplane dp; /* compatibility, ports, cookie, sublayer, PW type */

	unsigned disconnect_time; /* seconds, 0 = off (default) */

	bool keepalive; /* `l2tp keepalive use on INTERVAL COUNT` / off; default on */
	unsigned keepalive_interval; /* seconds, default 60 */
	unsigned keepalive_count; /* default 3 */
	bool keepalive_log; /* `l2tp keepalive log on|off` */
	bool syslog; /* `l2tp syslog on|off` */

	bool has_local_router_id;
	uint32_t local_router_id; /* host byte order: 192.168.2.10 = 3232236042 */
	bool has_remote_router_id;
	uint32_t remote_router_id;

	bool has_remote_end_id;
	char remote_end_id[CFG_NAME_MAX + 1];

	/* pseudowires 2.. (sorted by number); each needs its own end-id,
	 * pseudowire 1 (the tunnel's own) may then leave it unset: it
	 * takes an ICRQ whose Remote End ID no other one has */
	struct cfg_pw pws[CFG_MAX_PW - 1];
	size_t n_pws;
	/* `l2tp pseudowire Q vlan VID`: the pseudowire's TAP port is an
	 * untagged access port of VLAN VID in its (VLAN-filtering) bridge,
	 * whose other ports carry VID tagged; vlan is pseudowire 1's, 0 = none */
	unsigned vlan;

	/* `l2tp hub on [MAX]|off`: a responder serving up to MAX initiators,
	 * each in its own connection and TAP port; 0 = not a hub */
	unsigned hub_max;
	/* `l2tp hub hold SECONDS`: a peer's instance and TAP port are kept this
	 * long after its connection closed (out of the bridge and down), for the
	 * same Router ID to come back to, then deleted.  Taken at each closing,
	 * so a reload changes it without restarting the hub (not compared by
	 * cfg_tunnel_equal). */
	unsigned hub_hold;

	enum cfg_mss_mode mss_mode; /* `ip tunnel tcp mss limit auto|N|off`, default off */
	unsigned mss_value; /* for CFG_MSS_FIXED */

	/* `l2tp static session LOCAL-ID REMOTE-ID`: a static session, no
	 * control connection (as `ip l2tp`, QEMU's l2tpv3, MikroTik unmanaged) */
	bool is_static;
	uint32_t static_local_sid; /* we accept data carrying it */
	uint32_t static_remote_sid; /* we send it */
	/* `l2tp static cookie receive|send HEX|none` */
	uint8_t static_rx_cookie[8]; /* what we check in received data */
	unsigned static_rx_cookie_len; /* 0, 4, 8 */
	uint8_t static_tx_cookie[8]; /* what we put in sent data */
	unsigned static_tx_cookie_len;
	/* `l2tp static probe A.B.C.D|none`: a host across the static session
	 * probed with ARP every keepalive interval; network byte order, 0 = none */
	uint32_t static_probe;

	char ifname[IFNAMSIZ]; /* "tunnelN": the TAP port's name */
	char bridge[IFNAMSIZ]; /* bridge whose members include tunnelN, "" = none */

	/* `tunnel encapsulation l2tpv3`: every IPsec setting (ipsec_cfg.h) */
	struct cfg_ipsec ipsec;
};

struct cfg_bridge {
	char name[IFNAMSIZ];
	unsigned line;
	char members[CFG_MAX_BRIDGE_MEMBERS][IFNAMSIZ];
	size_t n_members;
};

/* `ip IFNAME address A.B.C.D/LEN` */
struct cfg_address {
	char ifname[IFNAMSIZ];
	unsigned line;
	int family; /* AF_INET (AF_INET6 later) */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	unsigned prefixlen;
};

#define CFG_DP_RT_DEFAULT 10
#define CFG_DP_THREADS_MAX 16
#define CFG_DP_BUSY_POLL_MAX 10000 /* microseconds (DP_BUSY_POLL_MAX_US) */

struct cfg {
	bool service_on; /* `l2tp service on [l2tpv3]`; default off like a RTX */
	bool has_metrics; /* `metrics listen ADDRESS:PORT`; default off */
	/* `dataplane realtime on [PRIORITY]|off`: the data thread's SCHED_FIFO
	 * priority, 0 = normal scheduling; default CFG_DP_RT_DEFAULT */
	bool has_dp_realtime;
	unsigned dp_realtime;
	/* `dataplane threads N` (1..CFG_DP_THREADS_MAX): data threads, 0 =
	 * not set (one); read at start only */
	unsigned dp_threads;
	/* `dataplane busy-poll USEC` (0..CFG_DP_BUSY_POLL_MAX): how long a data
	 * thread keeps polling after work before it sleeps; 0 = off (default) */
	unsigned dp_busy_poll;
	/* `dataplane fastpath on|off`: hand the sessions it can carry to the
	 * kernel fast path (eBPF tc programs); default off; read at start only */
	bool dp_fastpath;
	struct sockaddr_storage metrics; /* where the Prometheus endpoint listens */
	struct cfg_tunnel *tunnels; /* sorted by id */
	size_t n_tunnels;
	struct cfg_bridge *bridges;
	size_t n_bridges;
	struct cfg_address *addresses;
	size_t n_addresses;
	struct cfg_ipsec_global ipsec; /* gateways, policies, transports (ipsec_cfg.h) */
};

/* An empty configuration; NULL on OOM. */
struct cfg *cfg_new(void);
/* NULL-safe. */
void cfg_free(struct cfg *c);

/*
 * Parse buf (UTF-8 text, need not be NUL-terminated) into c, adding
 * diagnostics to d with `name` as the file name.  `#` at the start of a line
 * or after white space starts a comment.  Returns 0, or -EINVAL if any
 * error diagnostic was added (c then holds whatever parsed), -ENOMEM.
 */
int cfg_parse_buffer(struct cfg *c, const char *name, const char *buf, size_t len, struct cfg_diags *d);

/*
 * Cross-line checks after parsing: fills cfg_tunnel.bridge and ifname,
 * checks each enabled tunnel has encapsulation, hostname or defaults,
 * router ids, that a tunnel without endpoint has auth or remote router-id
 * (warning otherwise), unique bridge membership...  Returns 0 or -EINVAL.
 */
int cfg_verify(struct cfg *c, const char *name, struct cfg_diags *d);

/* Read, parse and verify a file; *ret only set on success (0). */
int cfg_load_file(const char *path, struct cfg **ret, struct cfg_diags *d);

/* Print c as normalized configuration text that parses back to the same c. */
void cfg_print(const struct cfg *c, FILE *out);

/*
 * Same tunnel settings: everything the running tunnel depends on (not the
 * line numbers).  A reload keeps a tunnel whose settings are equal.  It
 * compares the fields listed in cfg_tunnel_fields, each as it says.
 */
bool cfg_tunnel_equal(const struct cfg_tunnel *a, const struct cfg_tunnel *b);

/* How a reload compares one field (cfg_tunnel_equal). */
enum cfg_eq {
	CFG_EQ_NONE, /* not compared: line numbers, `has_*` flags of preset values */
	CFG_EQ_BYTES, /* the same bytes (numbers, flags, byte arrays) */
	CFG_EQ_STR, /* the same NUL-terminated string */
	CFG_EQ_ADDR, /* the same address and port (struct sockaddr_storage) */
	CFG_EQ_STRUCT, /* a nested struct, by its own list (cfg_field.sub) */
	CFG_EQ_PWS, /* cfg_tunnel.pws: the n_pws in use, by cfg_pw_fields */
};

#define CFG_FIELD_ALWAYS ((size_t)-1)

struct cfg_fields;

/* One field of a configuration struct, as the reload compares it. */
struct cfg_field {
	const char *name;
	size_t offset, size;
	enum cfg_eq eq;
	size_t guard; /* offset of a bool: compared only when it is true in a; CFG_FIELD_ALWAYS */
	const struct cfg_fields *sub; /* CFG_EQ_STRUCT: its fields */
};

/* Every field of a struct, in declaration order (config.c lists them and
 * checks at build time that none is missing). */
struct cfg_fields {
	const struct cfg_field *v;
	size_t n;
};

extern const struct cfg_fields cfg_tunnel_fields, cfg_dataplane_fields, cfg_pw_fields, cfg_ipsec_fields,
	cfg_ipsec_gw_fields;

/* "yamaha", "cisco"...; "none" for CFG_COMPAT_NONE. */
const char *cfg_compat_name(enum cfg_compat c);

/* For ipsec_cfg.c: add a diagnostic (0 or -ENOMEM). */
__attribute__((format(printf, 5, 6)))
int cfg_diag_add(struct cfg_diags *d, const char *file, unsigned line, enum cfg_diag_level level,
		 const char *fmt, ...);
/* ipsec_cfg.c: resolve each IPsec tunnel's struct cfg_ipsec; print its lines */
int cfg_ipsec_verify(struct cfg *c, const char *name, struct cfg_diags *d);
void cfg_ipsec_print_tunnel(const struct cfg_tunnel *t, FILE *out);
void cfg_ipsec_print_global(const struct cfg *c, FILE *out);

/* Lookups; NULL if absent. */
const struct cfg_tunnel *cfg_tunnel_find(const struct cfg *c, unsigned id);
const struct cfg_bridge *cfg_bridge_find(const struct cfg *c, const char *name);

#endif
