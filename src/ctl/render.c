/* SPDX-License-Identifier: MIT */
/*
 * `show status l2tp` renderers.  The text layout is the Yamaha RTX one of
 * shared/scenario.md; labels come from one table with an English and a
 * Japanese column, so both languages print the same fields in the same
 * order.  JSON prints the daemon's reply as it came.
 */
#include "ctl/render.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

enum label {
	L_TABLE,
	L_COUNTS,
	L_TSTATE,
	L_VERSION,
	L_LTID,
	L_RTID,
	L_LADDR,
	L_RADDR,
	L_LPORT,
	L_RPORT,
	L_VENDOR,
	L_HOST,
	L_NS,
	L_NR,
	L_NSESS,
	L_SINFO,
	L_SSTATE,
	L_LSID,
	L_RSID,
	L_CIRCUIT,
	L_CTIME,
	L_RX,
	L_TX,
	L_MAX,
};

struct label_text {
	const char *en, *ja;
};

static const struct label_text labels[L_MAX] = {
	[L_TABLE] = { "L2TP information table", "L2TP情報テーブル" },
	[L_COUNTS] = { "  Number of L2TP tunnels: %zu, Number of L2TP sessions: %zu",
		       "  L2TPトンネル数: %zu, L2TPセッション数: %zu" },
	[L_TSTATE] = { "  Tunnel state: ", "  トンネルの状態: " },
	[L_VERSION] = { "  Version: ", "  バージョン: " },
	[L_LTID] = { "  Local tunnel ID: ", "  自機側トンネルID: " },
	[L_RTID] = { "  Remote tunnel ID: ", "  相手側トンネルID: " },
	[L_LADDR] = { "  Local IP address: ", "  自機側IPアドレス: " },
	[L_RADDR] = { "  Remote IP address: ", "  相手側IPアドレス: " },
	[L_LPORT] = { "  Local source port: ", "  自機側送信元ポート: " },
	[L_RPORT] = { "  Remote source port: ", "  相手側送信元ポート: " },
	[L_VENDOR] = { "  Vendor name: ", "  ベンダ名: " },
	[L_HOST] = { "  Host name: ", "  ホスト名: " },
	[L_NS] = { "  Next Transmit sequence(Ns): ", "  Next Transmit sequence(Ns): " },
	[L_NR] = { "  Next Receive sequence(Nr) : ", "  Next Receive sequence(Nr) : " },
	[L_NSESS] = { "  Sessions in tunnel: ", "  トンネル内のセッション数: " },
	[L_SINFO] = { "  Session information:", "  セッション情報:" },
	[L_SSTATE] = { "    Session state: ", "    セッションの状態: " },
	[L_LSID] = { "    Local session ID: ", "    自機側セッションID: " },
	[L_RSID] = { "    Remote session ID: ", "    相手側セッションID: " },
	[L_CIRCUIT] = { "    Circuit Status Local:%s Remote:%s", "    Circuit Status 自機側:%s 相手側:%s" },
	[L_CTIME] = { "    Connection time: ", "    通信時間: " },
	[L_RX] = { "    Received: %" PRIu64 " packets [%" PRIu64 " octets]",
		   "    受信: %" PRIu64 " パケット [%" PRIu64 " オクテット]" },
	[L_TX] = { "    Transmitted: %" PRIu64 " packets [%" PRIu64 " octets]",
		   "    送信: %" PRIu64 " パケット [%" PRIu64 " オクテット]" },
};

static const char *lbl(enum label l, bool ja)
{
	return ja ? labels[l].ja : labels[l].en;
}

static uint64_t num(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

static const char *str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : dflt;
}

/* 6min16sec / 6分16秒, with hours and days when it has them */
static void print_duration(FILE *out, uint64_t s, bool ja)
{
	uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;

	if (d)
		fprintf(out, ja ? "%" PRIu64 "日" : "%" PRIu64 "day", d);
	if (d || h)
		fprintf(out, ja ? "%" PRIu64 "時間" : "%" PRIu64 "hour", h);
	if (d || h || m)
		fprintf(out, ja ? "%" PRIu64 "分" : "%" PRIu64 "min", m);
	fprintf(out, ja ? "%" PRIu64 "秒\n" : "%" PRIu64 "sec\n", sec);
}

static void text_session(FILE *out, const json_t *s, bool several, bool ja)
{
	if (json_is_true(json_object_get(s, "static"))) {
		/* `l2tp static session`: no control connection; data seen and
		 * the answers to `l2tp static probe` are its liveness */
		const json_t *ago = json_object_get(s, "last_rx_ago");

		fprintf(out, "%s%s (", lbl(L_SSTATE, ja), str(s, "state", "-"));
		if (json_object_get(s, "probe_target")) {
			fprintf(out, ja ? "プローブ %s" : "probe %s", str(s, "probe_target", "-"));
			if (*str(s, "probe_error", ""))
				fputs(ja ? " 停止中, " : " not running, ", out);
			else if (!strcmp(str(s, "probe_state", "-"), "up"))
				fprintf(out, ja ? " %" PRIu64 "秒前に応答, " : " answered %" PRIu64 " s ago, ",
					num(s, "probe_last_answer_ago"));
			else
				fprintf(out, ja ? ": %" PRIu64 "回応答なし, " : ": %" PRIu64 " unanswered, ",
					num(s, "probe_unanswered"));
		}
		if (json_is_integer(ago))
			fprintf(out, ja ? "%" PRIu64 "秒前にデータ受信)\n" : "data seen %" PRIu64 " s ago)\n",
				num(s, "last_rx_ago"));
		else
			fputs(ja ? "データ未受信)\n" : "no data seen yet)\n", out);
	} else {
		fprintf(out, "%s%s\n", lbl(L_SSTATE, ja), str(s, "state", "-"));
	}
	if (several || num(s, "vlan")) { /* `l2tp pseudowire Q`: which one, its port and VLAN */
		fprintf(out, ja ? "    疑似回線: %" PRIu64 " (%s, end-id %s" : "    Pseudowire: %" PRIu64 " (%s, end-id %s",
			num(s, "pseudowire"), str(s, "interface", "-"), str(s, "remote_end_id", "-"));
		if (num(s, "vlan"))
			fprintf(out, ", VLAN %" PRIu64, num(s, "vlan"));
		fputs(")\n", out);
	}
	fprintf(out, "%s%" PRIu64 "\n", lbl(L_LSID, ja), num(s, "local_session_id"));
	fprintf(out, "%s%" PRIu64 "\n", lbl(L_RSID, ja), num(s, "remote_session_id"));
	fprintf(out, lbl(L_CIRCUIT, ja), str(s, "circuit_local", "-"), str(s, "circuit_remote", "-"));
	fputc('\n', out);
	fputs(lbl(L_CTIME, ja), out);
	print_duration(out, num(s, "connection_time"), ja);
	fprintf(out, lbl(L_RX, ja), num(s, "rx_packets"), num(s, "rx_octets"));
	fputc('\n', out);
	fprintf(out, lbl(L_TX, ja), num(s, "tx_packets"), num(s, "tx_octets"));
	fputc('\n', out);
}

/* An IPsec tunnel's SAs (`tunnel encapsulation l2tpv3`), in the tunnel's block */
static void text_tunnel_ipsec(FILE *out, const json_t *i)
{
	if (!json_is_object(i))
		return;
	fprintf(out, "  IPsec: %s, IKE SA %s, CHILD SA %s%s%s\n", str(i, "connection", "-"), str(i, "ike_state", "none"),
		str(i, "child_state", "none"), str(i, "error", "")[0] ? ": " : "", str(i, "error", ""));
	if (strcmp(str(i, "ike_state", "none"), "none") != 0)
		fprintf(out, "  IPsec peer: %s, NAT %s%s\n", str(i, "remote_host", "-"),
			json_is_true(json_object_get(i, "nat_local")) ? "here" :
			json_is_true(json_object_get(i, "nat_remote")) ? "at the peer" : "none",
			json_is_true(json_object_get(i, "esp_in_udp")) ? ", ESP in UDP 4500" : "");
	if (str(i, "ike_algorithms", "")[0])
		fprintf(out, "  IKE: %s, rekey in %" PRIu64 " s\n", str(i, "ike_algorithms", ""), num(i, "ike_rekey_in_s"));
	if (str(i, "esp_algorithms", "")[0])
		fprintf(out, "  ESP: %s, SPI in %s out %s, rekey in %" PRIu64 " s, %s\n", str(i, "esp_algorithms", ""),
			str(i, "spi_in", "-"), str(i, "spi_out", "-"), num(i, "child_rekey_in_s"), str(i, "local_ts", ""));
	if (str(i, "last_failure", "")[0])
		fprintf(out, "  IKE last failure: %s\n", str(i, "last_failure", ""));
}

static void text_tunnel(FILE *out, const json_t *t, bool ja)
{
	const json_t *sessions = json_object_get(t, "sessions");
	size_t n = json_array_size(sessions), i;
	const json_t *s;

	if (str(t, "connection", "")[0]) /* one more connection of the tunnel (issue 16) */
		fprintf(out, "TUNNEL[%" PRIu64 "] connection %s:\n", num(t, "id"), str(t, "connection", "-"));
	else if (num(t, "peer_index")) /* a hub's instance (`l2tp hub on`) */
		fprintf(out, "TUNNEL[%" PRIu64 "] peer %" PRIu64 " (%s):\n", num(t, "id"), num(t, "peer_index"),
			str(t, "interface", "-"));
	else
		fprintf(out, "TUNNEL[%" PRIu64 "]:\n", num(t, "id"));
	fprintf(out, "%s%s\n", lbl(L_TSTATE, ja), str(t, "state", "-"));
	fprintf(out, "%s%s\n", lbl(L_VERSION, ja), str(t, "version", "L2TPv3"));
	fprintf(out, "%s%" PRIu64 "\n", lbl(L_LTID, ja), num(t, "local_tunnel_id"));
	fprintf(out, "%s%" PRIu64 "\n", lbl(L_RTID, ja), num(t, "remote_tunnel_id"));
	fprintf(out, "%s%s\n", lbl(L_LADDR, ja), str(t, "local_address", "-"));
	fprintf(out, "%s%s\n", lbl(L_RADDR, ja), str(t, "remote_address", "-"));
	if (!strcmp(str(t, "encapsulation", "udp"), "ip")) {
		/* no ports: L2TPv3 directly over IP */
		fprintf(out, "  Encapsulation: IP protocol 115\n");
	} else {
		fprintf(out, "%s%" PRIu64 "\n", lbl(L_LPORT, ja), num(t, "local_port"));
		fprintf(out, "%s%" PRIu64 "\n", lbl(L_RPORT, ja), num(t, "remote_port"));
	}
	text_tunnel_ipsec(out, json_object_get(t, "ipsec"));
	fprintf(out, "%s%s\n", lbl(L_VENDOR, ja), str(t, "peer_vendor_name", "-"));
	fprintf(out, "%s%s\n", lbl(L_HOST, ja), str(t, "peer_host_name", "-"));
	fprintf(out, "%s%" PRIu64 "\n", lbl(L_NS, ja), num(t, "ns"));
	fprintf(out, "%s%" PRIu64 "\n", lbl(L_NR, ja), num(t, "nr"));
	if (str(t, "mismatch", "")[0])
		fprintf(out, "  Mismatch: %s\n", str(t, "mismatch", ""));
	fprintf(out, "%s%zu %s\n", lbl(L_NSESS, ja), n, n == 1 ? "session" : "sessions");
	if (!n)
		return;
	fprintf(out, "%s\n", lbl(L_SINFO, ja));
	json_array_foreach(sessions, i, s)
		text_session(out, s, num(t, "pseudowires") > 1, ja);
}

static void text_status(FILE *out, const json_t *status, bool ja)
{
	const json_t *tunnels = json_object_get(status, "tunnels"), *t;
	size_t nt = 0, ns = 0, i;

	json_array_foreach(tunnels, i, t) {
		if (strcmp(str(t, "state", "idle"), "idle") != 0)
			nt++;
		ns += json_array_size(json_object_get(t, "sessions"));
	}
	fprintf(out, "------------------- L2TP INFORMATION -------------------\n");
	fprintf(out, "%s\n", lbl(L_TABLE, ja));
	fprintf(out, lbl(L_COUNTS, ja), nt, ns);
	fputc('\n', out);
	json_array_foreach(tunnels, i, t)
		text_tunnel(out, t, ja);
}

/* Like a RTX's `show ipsec sa`: one isakmp line and one line per ESP
 * direction per IPsec tunnel */
static void text_ipsec_sa(FILE *out, const json_t *status)
{
	const json_t *tunnels = json_object_get(status, "tunnels"), *t;
	size_t i, n_isakmp = 0, n_esp = 0, sa = 0;

	json_array_foreach(tunnels, i, t) {
		const json_t *s = json_object_get(t, "ipsec");

		if (!json_is_object(s))
			continue;
		n_isakmp += !strcmp(str(s, "ike_state", ""), "ESTABLISHED");
		n_esp += str(s, "spi_in", "")[0] ? 1 : 0;
	}
	fprintf(out, "Total: isakmp:%zu send:%zu recv:%zu\n\n", n_isakmp, n_esp, n_esp);
	fprintf(out, "sa  tunnel connection    dir  spi       life[s]  remote-id\n");
	fprintf(out, "---------------------------------------------------------------------\n");
	json_array_foreach(tunnels, i, t) {
		const json_t *s = json_object_get(t, "ipsec");

		if (!json_is_object(s))
			continue;
		if (strcmp(str(s, "ike_state", "none"), "none") != 0)
			fprintf(out, "%-3zu %-6" PRIu64 " isakmp        -    -         %-8" PRIu64 " %s (%s)\n", ++sa,
				num(t, "id"), num(s, "ike_rekey_in_s"), str(s, "remote_host", "-"), str(s, "ike_state", ""));
		if (str(s, "spi_in", "")[0]) {
			fprintf(out, "%-3zu %-6" PRIu64 " transport[%s] send %-9s %-8" PRIu64 " %s\n", ++sa, num(t, "id"),
				str(s, "child", "-"), str(s, "spi_out", "-"), num(s, "child_rekey_in_s"),
				str(s, "remote_host", "-"));
			fprintf(out, "%-3zu %-6" PRIu64 " transport[%s] recv %-9s %-8" PRIu64 " %s\n", ++sa, num(t, "id"),
				str(s, "child", "-"), str(s, "spi_in", "-"), num(s, "child_rekey_in_s"),
				str(s, "remote_host", "-"));
		}
		if (strcmp(str(s, "ike_state", "none"), "none") == 0 && str(s, "error", "")[0])
			fprintf(out, "-   %-6" PRIu64 " %s\n", num(t, "id"), str(s, "error", ""));
	}
}

static void json_ipsec_sa(FILE *out, const json_t *status)
{
	const json_t *tunnels = json_object_get(status, "tunnels"), *t;
	json_t *a = json_array();
	size_t i;

	json_array_foreach(tunnels, i, t) {
		json_t *s = json_object_get(t, "ipsec");

		if (json_is_object(s))
			json_array_append_new(a, json_pack("{s:I, s:O}", "tunnel", (json_int_t)num(t, "id"), "ipsec", s));
	}
	json_dumpf(a, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(a);
}

static void json_status(FILE *out, const json_t *status, bool ja)
{
	(void)ja;
	json_dumpf(status, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
}

static void text_config(FILE *out, const json_t *reply)
{
	fputs(str(reply, "text", ""), out);
}

static void text_result(FILE *out, const char *what, const json_t *reply)
{
	const json_t *lines = json_object_get(reply, "report"), *l;
	size_t i;

	json_array_foreach(lines, i, l)
		fprintf(out, "%s\n", json_string_value(l));
	if (json_integer_value(json_object_get(reply, "errno")) == 0)
		fprintf(out, "%s: ok\n", what);
}

/* "12:00:01 tunnel 1: tunnel-up (wait-ctl-reply -> established), peer 203.0.113.2:1701: reason" */
static void text_event(FILE *out, const json_t *ev)
{
	double t = json_number_value(json_object_get(ev, "time"));
	time_t sec = (time_t)t;
	struct tm tm;
	char stamp[16];

	localtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(out, "%s.%03d ", stamp, (int)((t - (double)sec) * 1000) % 1000);
	if (num(ev, "tunnel"))
		fprintf(out, "tunnel %" PRIu64 ": ", num(ev, "tunnel"));
	fputs(str(ev, "event", "?"), out);
	if (num(ev, "local_session_id"))
		fprintf(out, " session %" PRIu64 "/%" PRIu64, num(ev, "local_session_id"), num(ev, "remote_session_id"));
	if (json_object_get(ev, "from") && json_object_get(ev, "to"))
		fprintf(out, " (%s -> %s)", str(ev, "from", "-"), str(ev, "to", "-"));
	if (json_object_get(ev, "peer"))
		fprintf(out, ", peer %s", str(ev, "peer", "-"));
	if (json_object_get(ev, "reason"))
		fprintf(out, ": %s", str(ev, "reason", "-"));
	fputc('\n', out);
	fflush(out);
}

static void json_config(FILE *out, const json_t *reply)
{
	json_status(out, reply, false);
}

static void json_result(FILE *out, const char *what, const json_t *reply)
{
	(void)what;
	json_status(out, reply, false);
}

static void json_event(FILE *out, const json_t *ev)
{
	json_dumpf(ev, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	fflush(out);
}

const struct output output_text = {
	.status_l2tp = text_status,
	.ipsec_sa = text_ipsec_sa,
	.config = text_config,
	.result = text_result,
	.event = text_event,
};
const struct output output_json = {
	.status_l2tp = json_status,
	.ipsec_sa = json_ipsec_sa,
	.config = json_config,
	.result = json_result,
	.event = json_event,
};
