#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Behavioural emulator of freeRtr's L2TPv3 peer (IP protocol 115).

freeRtr (Java, not packaged by Debian) is the independent RFC 3931 peer of
tests/captures/freertr-*.pcap.  This program behaves as it does on the
wire, after shared/protocol.md section 8.5, those captures and freeRtr's
own logic (clntL2tp3 for the initiator, servL2tp3conn for the responder);
see tests/peers/README for what it reproduces and what it does not.

  - IP/115 only.  Control: 4 zero bytes + the L2TPv3 control header.  Data:
    4-byte Session ID + Ethernet frame, never a cookie or a sublayer; the
    Assigned Cookie / L2-Specific Sublayer AVPs it receives are ignored.
  - SCCRQ/SCCRP carry Protocol Version (2) and Framing Capabilities (3) with
    M=1, Bearer Capabilities (4), the constant Tie Breaker
    0xfffffffffffffff0, Receive Window 1024, its RFC 3931 AVPs with M=0,
    Router ID = its IPv4 address, no Vendor Name; AVPs in the captured order.
  - Stop-and-wait: one queue, only its head is ever sent (again at every
    tick or wake-up while unacknowledged); an acknowledgement counts only if
    Nr is exactly Ns(head) + 1; a message is taken only if its Ns is exactly
    the next one, else it is dropped and only a duplicate HELLO is re-acked;
    acknowledgements are ZLBs; any message with an AVP, an ACK (type 20)
    included, consumes an Ns.  After 8 transmissions of one message it gives
    up silently; it never sends StopCCN (not even when authentication fails).
  - Authentication: the L2TPv2-style Challenge (11) / Challenge Response
    (13) only, response = MD5(message type || secret || challenge).
  - Initiator: SCCRQ, waits for the SCCRP in 5 s ticks, SCCCN + ICRQ queued
    together (so the ICRQ leaves at the next tick unless a message wakes
    it), ICCN with the v2 connect-speed AVPs, then an SLI; HELLO after 5
    idle 1-s ticks; after giving up it starts over 1 s later with new IDs.
  - Responder: one connection per peer address, 5 s ticks; an ICRQ queues
    the ICRP and the SLI together (--sli-timing changes that on purpose);
    HELLO after 5 idle ticks; dropped after 8 transmissions of one message.

Every message sent and received is logged to stdout, one line each.
Problems in what the peer sends are logged as "PROTOCOL ERROR: ..." (what
freeRtr would do with it follows on the same line); the exit status is 2
if there was any (--strict: exit at the first), 1 on a set-up error, 0
otherwise (after SIGTERM/SIGINT).  --selftest rebuilds every control message
of the given captures with this program's encoder and compares the bytes.

Standard library only (Debian's /usr/bin/python3); needs CAP_NET_RAW and,
with --tap, CAP_NET_ADMIN.
"""
import argparse
import fcntl
import hashlib
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

PROTO_L2TP = 115

# Message types (RFC 3931 section 3.1)
SCCRQ, SCCRP, SCCCN, STOPCCN, HELLO = 1, 2, 3, 4, 6
OCRQ, OCRP, OCCN, ICRQ, ICRP, ICCN, CDN, WEN, SLI, ACK = 7, 8, 9, 10, 11, 12, 14, 15, 16, 20
ZLB = -1  # no AVP at all
MSG_NAMES = {
    ZLB: "ZLB", SCCRQ: "SCCRQ", SCCRP: "SCCRP", SCCCN: "SCCCN", STOPCCN: "StopCCN", HELLO: "HELLO",
    OCRQ: "OCRQ", OCRP: "OCRP", OCCN: "OCCN", ICRQ: "ICRQ", ICRP: "ICRP", ICCN: "ICCN", CDN: "CDN",
    WEN: "WEN", SLI: "SLI", ACK: "ACK",
}

# AVP types (IETF vendor 0)
A_MSGTYPE, A_RESULT, A_PROTVER, A_FRAMING, A_BEARER, A_TIEBREAK = 0, 1, 2, 3, 4, 5
A_HOSTNAME, A_VENDOR, A_RWS, A_CHALLENGE, A_RESPONSE, A_SERIAL = 7, 8, 10, 11, 13, 15
A_TXSPEED_V2, A_RXSPEED_V2, A_DIGEST, A_ROUTERID, A_CCID, A_PWCAPS = 24, 38, 59, 60, 61, 62
A_LSID, A_RSID, A_COOKIE, A_ENDID, A_PWTYPE, A_L2SS, A_DATASEQ, A_CIRCUIT, A_NONCE = (
    63, 64, 65, 66, 68, 69, 70, 71, 73)

TIE_BREAKER = 0xFFFFFFFFFFFFFFF0  # freeRtr's constant (packL2tp.maxTieBreak)
RECV_WINDOW = 1024
PW_CAPS = [5, 4, 6, 7]  # Ethernet, Ethernet VLAN, HDLC, PPP, in this order
CONNECT_SPEED = 64000  # ICCN Tx/Rx Connect Speed (v2 AVPs 24 and 38)

# freeRtr puts the AVPs of a message in this fixed order, with these M
# bits (seen in every captured message; AVPs it never sends are left out).
# Value kinds: H u16, I u32, Q u64, S text, A IPv4 address, L u16 list, B bytes,
# R Result Code (u16 result, then optional u16 error and text; freeRtr sends
# and reads only the result).
AVP_ORDER = [
    (A_MSGTYPE, True, "H"), (A_RESULT, False, "R"), (A_PROTVER, True, "H"), (A_FRAMING, True, "I"),
    (A_BEARER, False, "I"), (A_TIEBREAK, False, "Q"), (A_HOSTNAME, True, "S"), (A_RWS, True, "H"),
    (A_SERIAL, True, "I"), (A_TXSPEED_V2, False, "I"), (A_RXSPEED_V2, False, "I"),
    (A_ROUTERID, False, "A"), (A_CCID, False, "I"), (A_PWCAPS, False, "L"), (A_LSID, False, "I"),
    (A_RSID, False, "I"), (A_ENDID, False, "S"), (A_PWTYPE, False, "H"), (A_CIRCUIT, False, "H"),
    (A_CHALLENGE, False, "B"), (A_RESPONSE, False, "B"),
]
AVP_KIND = {t: k for t, _, k in AVP_ORDER}
AVP_KIND.update({A_COOKIE: "B", A_L2SS: "H", A_DATASEQ: "H", A_VENDOR: "S", A_NONCE: "B", A_DIGEST: "B"})
# Exact value sizes for the AVPs whose size is fixed.
AVP_SIZE = {"H": 2, "I": 4, "Q": 8, "A": 4}

# What RFC 3931 section 6 makes mandatory in each message (checked in what
# the peer sends; freeRtr itself checks none of it).
MUST = {
    SCCRQ: [A_HOSTNAME, A_ROUTERID, A_CCID, A_PWCAPS],
    SCCRP: [A_HOSTNAME, A_ROUTERID, A_CCID, A_PWCAPS],
    STOPCCN: [A_RESULT],
    ICRQ: [A_LSID, A_RSID, A_SERIAL, A_PWTYPE, A_ENDID, A_CIRCUIT],
    ICRP: [A_LSID, A_RSID, A_CIRCUIT],
    ICCN: [A_LSID, A_RSID],
    CDN: [A_RESULT, A_LSID, A_RSID],
    SLI: [A_LSID, A_RSID],
}


class ProtocolError(Exception):
    pass


# ------------------------------------------------------------------ codec

def chap(msg_type, secret, challenge):
    """L2TPv2-style Challenge Response (RFC 2661 4.4.3, CHAP ID = message type)."""
    return hashlib.md5(bytes([msg_type]) + secret + challenge).digest()


def encode_value(kind, v):
    if kind in ("H", "R"):
        return struct.pack(">H", v)
    if kind == "I":
        return struct.pack(">I", v & 0xFFFFFFFF)
    if kind == "Q":
        return struct.pack(">Q", v)
    if kind == "S":
        return v if isinstance(v, bytes) else v.encode()
    if kind == "A":
        return socket.inet_aton(v)
    if kind == "L":
        return b"".join(struct.pack(">H", x) for x in v)
    return bytes(v)


def decode_value(kind, b):
    if kind in AVP_SIZE and len(b) != AVP_SIZE[kind]:
        raise ProtocolError("%d-byte value, expected %d" % (len(b), AVP_SIZE[kind]))
    if kind == "H":
        return struct.unpack(">H", b)[0]
    if kind == "R":
        if len(b) < 2 or len(b) == 3:
            raise ProtocolError("%d-byte Result Code" % len(b))
        return struct.unpack(">H", b[:2])[0]
    if kind == "I":
        return struct.unpack(">I", b)[0]
    if kind == "Q":
        return struct.unpack(">Q", b)[0]
    if kind == "S":
        return b.decode("ascii", "replace")
    if kind == "A":
        return socket.inet_ntoa(b)
    if kind == "L":
        if len(b) % 2:
            raise ProtocolError("odd-length list")
        return [struct.unpack(">H", b[i:i + 2])[0] for i in range(0, len(b), 2)]
    return b


def encode_avps(fields):
    """fields: {AVP type: value}; freeRtr's order and M bits."""
    out = b""
    for t, m, kind in AVP_ORDER:
        if t not in fields or fields[t] is None:
            continue
        v = encode_value(kind, fields[t])
        out += struct.pack(">HHH", (0x8000 if m else 0) | (6 + len(v)), 0, t) + v
    unknown = set(fields) - set(AVP_KIND)
    assert not unknown, unknown
    return out


def encode_ctrl(ccid, ns, nr, avps):
    """A control message over IP: Session ID 0, then the v3 control header."""
    return struct.pack(">IHHIHH", 0, 0xC803, 12 + len(avps), ccid, ns, nr) + avps


class Msg:
    """A decoded control message (from the flags word on)."""

    def __init__(self, raw):
        self.raw = raw
        self.problems = []  # what is wrong with it (by RFC 3931)
        if len(raw) < 12:
            raise ProtocolError("control message of %d bytes, shorter than its header" % len(raw))
        self.flags, self.length, self.ccid, self.ns, self.nr = struct.unpack(">HHIHH", raw[:12])
        if self.flags & 0xF != 3:
            raise ProtocolError("control header Ver %d, not 3" % (self.flags & 0xF))
        if self.flags & 0xC800 != 0xC800:
            raise ProtocolError("control header flags 0x%04x lack T, L or S" % self.flags)
        if self.flags != 0xC803:
            self.problems.append("reserved bits set in flags 0x%04x" % self.flags)
        if self.length != len(raw):
            if self.length < 12 or self.length > len(raw):
                raise ProtocolError("Length %d, message has %d bytes" % (self.length, len(raw)))
            self.problems.append("Length %d, but %d bytes arrived" % (self.length, len(raw)))
        self.avps = []  # (vendor, type, M, H, value bytes)
        off, end = 12, self.length
        while off < end:
            if end - off < 6:
                raise ProtocolError("%d stray bytes after the last AVP" % (end - off))
            f, vendor, t = struct.unpack(">HHH", raw[off:off + 6])
            n = f & 0x3FF
            if n < 6 or off + n > end:
                raise ProtocolError("AVP %d at offset %d has length %d (%d bytes left)" % (t, off, n, end - off))
            self.avps.append((vendor, t, bool(f & 0x8000), bool(f & 0x4000), raw[off + 6:off + n]))
            if f & 0x3C00:
                self.problems.append("AVP %d has reserved bits set" % t)
            off += n
        self.type = ZLB
        self.values = {}
        if not self.avps:
            return
        vendor, t, m, h, v = self.avps[0]
        if vendor or t != A_MSGTYPE or len(v) != 2 or h:
            raise ProtocolError("first AVP is not a Message Type AVP")
        self.type = struct.unpack(">H", v)[0]
        if not m:
            self.problems.append("Message Type AVP without the M bit")
        for vendor, t, m, h, v in self.avps[1:]:
            if vendor:
                if m:
                    self.problems.append("vendor %d AVP %d with the M bit" % (vendor, t))
                continue
            if h:
                self.problems.append("hidden AVP %d (freeRtr cannot read it)" % t)
                continue
            if t in AVP_KIND:
                try:
                    self.values.setdefault(t, decode_value(AVP_KIND[t], v))
                except ProtocolError as e:
                    self.problems.append("AVP %d: %s" % (t, e))
        for t in MUST.get(self.type, []):
            if t not in self.values:
                self.problems.append("%s lacks mandatory AVP %d" % (self.name, t))

    @property
    def name(self):
        return MSG_NAMES.get(self.type, "type-%d" % self.type)

    def get(self, t, default=None):
        return self.values.get(t, default)

    def avp_summary(self):
        return ",".join("%s%d%s" % ("v%d:" % vd if vd else "", t, "M" if m else "") for vd, t, m, _, _ in self.avps)

    def describe(self):
        s = "%s ccid=0x%08x ns=%d nr=%d" % (self.name, self.ccid, self.ns, self.nr)
        if self.avps:
            s += " avps=" + self.avp_summary()
        details = []
        for t, label in ((A_HOSTNAME, "host"), (A_ROUTERID, "rid"), (A_CCID, "assigned-ccid"),
                         (A_LSID, "lsid"), (A_RSID, "rsid"), (A_ENDID, "end-id"), (A_PWTYPE, "pw"),
                         (A_CIRCUIT, "circuit"), (A_RESULT, "result"), (A_COOKIE, "cookie"), (A_L2SS, "l2ss")):
            if t in self.values:
                v = self.values[t]
                details.append("%s=%s" % (label, v.hex() if isinstance(v, bytes) else v))
        for t, label in ((A_CHALLENGE, "challenge"), (A_RESPONSE, "response")):
            if t in self.values:
                details.append("%s=%s" % (label, self.values[t].hex()))
        if A_VENDOR in self.values:
            details.append("vendor=%r" % self.values[A_VENDOR])
        return s + (" " + " ".join(details) if details else "")


# Builders of what freeRtr sends (packL2tp3.create*).
def m_sccrq(ccid, rid, host, challenge):
    return {A_MSGTYPE: SCCRQ, A_PROTVER: 0x0100, A_FRAMING: 3, A_BEARER: 3, A_TIEBREAK: TIE_BREAKER,
            A_HOSTNAME: host, A_RWS: RECV_WINDOW, A_ROUTERID: rid, A_CCID: ccid, A_PWCAPS: PW_CAPS,
            A_CHALLENGE: challenge}


def m_sccrp(ccid, rid, host, challenge, response):
    return {A_MSGTYPE: SCCRP, A_PROTVER: 0x0100, A_FRAMING: 3, A_BEARER: 3, A_HOSTNAME: host,
            A_RWS: RECV_WINDOW, A_ROUTERID: rid, A_CCID: ccid, A_PWCAPS: PW_CAPS, A_CHALLENGE: challenge,
            A_RESPONSE: response}


def m_scccn(response):
    return {A_MSGTYPE: SCCCN, A_RESPONSE: response}


def m_hello():
    return {A_MSGTYPE: HELLO}


def m_icrq(lsid, vcid, pw_type):
    return {A_MSGTYPE: ICRQ, A_TIEBREAK: TIE_BREAKER, A_SERIAL: 1, A_LSID: lsid, A_RSID: 0, A_ENDID: vcid,
            A_PWTYPE: pw_type, A_CIRCUIT: 1}


def m_icrp(rsid, lsid, vcid, pw_type):
    return {A_MSGTYPE: ICRP, A_SERIAL: 1, A_LSID: lsid, A_RSID: rsid, A_ENDID: vcid, A_PWTYPE: pw_type,
            A_CIRCUIT: 1}


def m_iccn(rsid, lsid):
    return {A_MSGTYPE: ICCN, A_TXSPEED_V2: CONNECT_SPEED, A_RXSPEED_V2: CONNECT_SPEED, A_LSID: lsid,
            A_RSID: rsid, A_CIRCUIT: 1}


def m_sli(rsid, lsid):
    return {A_MSGTYPE: SLI, A_LSID: lsid, A_RSID: rsid, A_CIRCUIT: 1}


def m_cdn(rsid, lsid):
    return {A_MSGTYPE: CDN, A_RESULT: 1, A_LSID: lsid, A_RSID: rsid}


def rand32():
    """freeRtr's random IDs (bits.randomD): any non-zero 32-bit value."""
    return random.randrange(1, 1 << 32)


# ---------------------------------------------------------------- logging

class Log:
    def __init__(self, tag, strict):
        self.t0 = time.monotonic()
        self.tag = tag
        self.strict = strict
        self.errors = 0

    def __call__(self, text):
        print("%8.3f %s %s" % (time.monotonic() - self.t0, self.tag, text), flush=True)

    def error(self, text):
        self.errors += 1
        self("PROTOCOL ERROR: " + text)
        if self.strict:
            self("exiting (--strict)")
            sys.exit(2)


# -------------------------------------------------------------- transport

class RawIP:
    """IP protocol 115 through a raw socket: the kernel writes the IP header."""

    IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0

    def __init__(self, local):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO_L2TP)
        self.sock.bind((local, 0))
        # as in the captures: TTL 255, DF clear
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        self.sock.setsockopt(socket.IPPROTO_IP, self.IP_MTU_DISCOVER, self.IP_PMTUDISC_DONT)
        self.sock.setblocking(False)

    def fileno(self):
        return self.sock.fileno()

    def send(self, dst, payload):
        self.sock.sendto(payload, (dst, 0))

    def recv(self):
        data, (src, _) = self.sock.recvfrom(65535)
        ihl = (data[0] & 0x0F) * 4
        return src, data[ihl:]


def open_tap(name):
    TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


# ------------------------------------------------------ control connection

class Conn:
    """One control connection and its one session: freeRtr's stop-and-wait
    queue and sequence numbers (seq_tx = Ns of the queue head, seq_rx = the
    only Ns it takes next)."""

    def __init__(self, peer_app, peer):
        self.app = peer_app
        self.log = peer_app.log
        self.peer = peer
        self.queue = []  # message field dicts; only [0] is ever sent
        self.seq_tx = self.seq_rx = 0
        self.txed = 0  # transmissions of the head so far
        self.keep = 0  # idle ticks
        self.con_loc = rand32()
        peer_app.old_ccids.add(self.con_loc)
        self.con_rem = 0
        self.ses_loc = 0
        self.ses_rem = 0
        self.tunnel_up = False
        self.session_up = False
        self.task = None
        self.wake_at = None
        self.last = None  # last message taken (freeRtr's pckRx)

    # -- sending
    def send_ctrl(self, fields, what=""):
        avps = encode_avps(fields) if fields else b""
        pkt = encode_ctrl(self.con_rem, self.seq_tx, self.seq_rx, avps)
        self.app.net.send(self.peer, pkt)
        self.log("tx %s%s" % (Msg(pkt[4:]).describe(), what))

    def send_ack(self):
        self.send_ctrl(None)

    def enqueue(self, fields):
        self.queue.append(fields)

    def tx_head(self):
        self.txed += 1
        self.send_ctrl(self.queue[0], " (transmission %d)" % self.txed if self.txed > 1 else "")

    def send_data(self, frame):
        pkt = struct.pack(">I", self.ses_rem) + frame
        if 20 + len(pkt) > self.app.args.mtu:
            # freeRtr does not fragment: the packet never reaches the wire
            self.app.stats["tx_too_big"] += 1
            return
        self.app.net.send(self.peer, pkt)
        self.app.stats["tx_data"] += 1

    # -- receiving: common part of clntL2tp3.recvPack / servL2tp3conn.doRecv
    def check(self, m):
        """Judge what the peer sent (freeRtr checks none of this)."""
        for p in m.problems:
            self.log.error("%s from %s: %s" % (m.name, self.peer, p))
        if m.type == SCCRQ:
            if m.ccid != 0:
                self.log.error("SCCRQ with header CCID 0x%08x, not 0" % m.ccid)
        elif m.ccid != self.con_loc:
            if m.ccid in self.app.old_ccids:
                # e.g. the peer still retransmitting to an attempt we dropped
                self.log("note: %s to CCID 0x%08x of an earlier attempt (freeRtr does not check the CCID)"
                         % (m.name, m.ccid))
            else:
                self.log.error("%s to CCID 0x%08x, ours is 0x%08x (freeRtr does not check)"
                               % (m.name, m.ccid, self.con_loc))
        if m.type == SCCRQ:
            pass  # a new attempt (Nr 0), e.g. reaching a connection freeRtr still keys by this address
        elif self.queue and m.nr not in (self.seq_tx, (self.seq_tx + 1) & 0xFFFF):
            self.log.error("%s has Nr %d: we sent Ns %d last" % (m.name, m.nr, self.seq_tx))
        elif not self.queue and m.nr != self.seq_tx:
            self.log.error("%s has Nr %d, expected %d (nothing of ours outstanding)" % (m.name, m.nr, self.seq_tx))
        if m.get(A_COOKIE):
            self.log("note: peer asks for a %d-byte cookie: ignored, freeRtr sends none" % len(m.get(A_COOKIE)))
        if m.get(A_L2SS):
            self.log("note: peer asks for L2-Specific Sublayer %d: ignored, freeRtr sends none" % m.get(A_L2SS))
        if m.get(A_DATASEQ):
            self.log("note: peer asks for data sequencing %d: ignored" % m.get(A_DATASEQ))
        if A_NONCE in m.values or any(t == A_DIGEST for _, t, _, _, _ in m.avps):
            self.log("note: peer uses RFC 3931 digest authentication: ignored, freeRtr has only the challenge")

    def take(self, m):
        """Sequence numbers; True if m is taken (in order, not a ZLB)."""
        acked = ""
        if self.queue and m.nr == (self.seq_tx + 1) & 0xFFFF:
            done = self.queue.pop(0)
            self.seq_tx = (self.seq_tx + 1) & 0xFFFF
            self.txed = 0
            acked = " acks our %s" % MSG_NAMES.get(done[A_MSGTYPE], "?")
            self.on_acked(done)
        if m.ns != self.seq_rx:
            if m.type == HELLO:
                self.log("rx %s: Ns %d, expected %d: duplicate HELLO, re-acked%s" % (m.describe(), m.ns, self.seq_rx, acked))
                self.send_ack()
            elif m.type != ZLB:
                self.log("rx %s: Ns %d, expected %d: dropped (freeRtr re-acks only HELLO)%s"
                         % (m.describe(), m.ns, self.seq_rx, acked))
                self.app.stats["rx_dropped_ns"] += 1
            else:
                self.log("rx %s%s (Ns %d, expected %d)" % (m.describe(), acked, m.ns, self.seq_rx))
            return False
        self.log("rx %s%s" % (m.describe(), acked))
        if m.type == ZLB:
            return False
        if m.type == ACK:
            self.app.stats["rx_ack_taken"] += 1
            self.log("note: explicit ACK taken as a sequenced message, as freeRtr does: the next Ns it takes "
                     "is %d, the peer will send %d" % ((self.seq_rx + 1) & 0xFFFF, self.seq_rx))
        self.seq_rx = (self.seq_rx + 1) & 0xFFFF
        self.last = m
        return True

    def on_acked(self, fields):
        pass

    def recv_data(self, sid, frame):
        if sid != self.ses_loc or not self.ses_loc:
            self.app.stats["rx_data_unknown"] += 1
            return
        self.app.stats["rx_data"] += 1
        self.app.to_tap(frame, getattr(self, "tap", None))

    # -- the task (freeRtr's thread): a generator yielding sleep times
    def start(self, gen):
        self.task = gen
        self.resume()

    def resume(self):
        try:
            delay = next(self.task)
        except StopIteration:
            self.task = None
            self.wake_at = None
            self.finished()
            return
        self.wake_at = time.monotonic() + delay

    def wakeup(self):
        if self.task is not None:
            self.resume()

    def finished(self):
        pass

    def set_state(self, tunnel=None, session=None):
        changed = False
        if tunnel is not None and tunnel != self.tunnel_up:
            self.tunnel_up = tunnel
            self.log("tunnel %s (local CCID 0x%08x, peer CCID 0x%08x)" % ("up" if tunnel else "down", self.con_loc, self.con_rem))
            changed = True
        if session is not None and session != self.session_up:
            self.session_up = session
            self.log("session %s (local Session ID %d, peer Session ID %d)" % ("up" if session else "down", self.ses_loc, self.ses_rem))
            changed = True
        if changed:
            self.app.write_status()


class Initiator(Conn):
    """freeRtr's pseudowire client (clntL2tp3, direction outgoing)."""

    def __init__(self, app, peer, vcid=None, tap=None):
        super().__init__(app, peer)
        self.vcid = vcid if vcid is not None else app.args.vcid
        self.tap = tap  # this vpdn's TAP (None: the app's)
        self.ses_loc = rand32()
        self.hello_ticks = app.args.hello_ticks or 5
        self.retry_ticks = app.args.retry_ticks or 8

    def tx_doer(self):
        """Send the head (again); True: give up."""
        if not self.queue:
            self.keep += 1
            if self.keep < self.hello_ticks:
                return False
            self.keep = 0
            if self.con_rem:
                self.enqueue(m_hello())
            return False
        self.tx_head()
        if self.txed < self.retry_ticks:
            return False
        self.log("giving up: %d transmissions of %s unacknowledged (silently, no StopCCN)"
                 % (self.txed, MSG_NAMES[self.queue[0][A_MSGTYPE]]))
        return True

    def wait4msg(self, typ):
        self.last_type = None
        for _ in range(11):
            if self.tx_doer():
                return False
            yield 5.0
            if self.last_type == typ:
                return True
        self.log("giving up: no %s after 11 rounds" % MSG_NAMES[typ])
        return False

    def run(self):
        a = self.app.args
        secret = a.secret.encode() if a.secret is not None else None
        chlng = os.urandom(16) if secret is not None else None
        self.enqueue(m_sccrq(self.con_loc, a.local, a.hostname, chlng))
        if not (yield from self.wait4msg(SCCRP)):
            return
        self.con_rem = self.last.get(A_CCID, 0)
        res = None
        if secret is not None:
            want = chap(SCCRP, secret, chlng)
            got = self.last.get(A_RESPONSE)
            if got != want:
                self.app.stats["auth_failures"] += 1
                self.log("AUTH FAILURE: SCCRP from %s has %s: dropping the connection silently (no StopCCN)"
                         % (self.peer, "a wrong Challenge Response" if got else "no Challenge Response"))
                return
            if self.last.get(A_CHALLENGE) is None:
                self.log("AUTH FAILURE: SCCRP from %s has no Challenge: freeRtr cannot answer it" % self.peer)
                return
            res = chap(SCCCN, secret, self.last.get(A_CHALLENGE))
        self.enqueue(m_scccn(res))
        self.enqueue(m_icrq(self.ses_loc, self.vcid, a.pw_type))
        self.set_state(tunnel=True)
        if not (yield from self.wait4msg(ICRP)):
            return
        self.ses_rem = self.last.get(A_LSID, 0)
        self.enqueue(m_iccn(self.ses_rem, self.ses_loc))
        self.send_ack()
        self.enqueue(m_sli(self.ses_rem, self.ses_loc))
        self.set_state(session=True)
        while True:
            if self.tx_doer():
                return
            self.last_type = None
            yield 1.0
            t = self.last_type
            if t in (HELLO, ICCN, SLI):
                self.send_ack()
            elif t in (ICRQ, OCRQ):
                self.enqueue(m_cdn(self.last.get(A_LSID, 0), random.randrange(1 << 16)))
            elif t in (CDN, STOPCCN):
                self.send_ack()
                self.log("peer sent %s: starting over" % MSG_NAMES[t])
                return

    def on_rx(self, m):
        self.check(m)
        if self.take(m):
            self.last_type = m.type
            self.wakeup()

    def finished(self):
        self.set_state(tunnel=False, session=False)


class ResponderConn(Conn):
    """freeRtr's server connection (servL2tp3conn), one per peer address."""

    def __init__(self, app, peer):
        super().__init__(app, peer)
        self.hello_ticks = app.args.hello_ticks or 5
        self.retry_ticks = app.args.retry_ticks or 8
        self.need2run = True
        self.secret = app.args.secret.encode() if app.args.secret is not None else None
        self.chlng = os.urandom(16) if self.secret is not None else None
        self.sli_pending = False

    def do_work(self):
        if not self.queue:
            self.keep += 1
            if self.keep >= self.hello_ticks:
                self.keep = 0
                self.enqueue(m_hello())
            return
        self.tx_head()
        if self.txed >= self.retry_ticks:
            self.log("giving up: %d transmissions of %s unacknowledged: connection dropped silently (no StopCCN)"
                     % (self.txed, MSG_NAMES[self.queue[0][A_MSGTYPE]]))
            self.need2run = False

    def run(self):
        while True:
            self.do_work()
            if not self.need2run:
                return
            yield 5.0

    def finished(self):
        self.set_state(tunnel=False, session=False)
        self.log("connection with %s closed" % self.peer)
        self.app.conns.pop(self.peer, None)

    def on_acked(self, fields):
        # --sli-timing before-iccn-ack: the SLI leaves as soon as the ICRP is
        # acknowledged, ahead of our ZLB for an ICCN that carried that ack.
        if fields[A_MSGTYPE] == ICRP and self.sli_pending:
            self.sli_pending = False
            self.enqueue(m_sli(self.ses_rem, self.ses_loc))
            self.tx_head()

    def on_rx(self, m):
        self.check(m)
        if not self.take(m):
            return
        t = m.type
        a = self.app.args
        if t == HELLO:
            self.send_ack()
        elif t == SCCRQ:
            self.con_rem = m.get(A_CCID, 0)
            res = None
            if self.secret is not None:
                if m.get(A_CHALLENGE) is None:
                    self.log("AUTH FAILURE: SCCRQ without a Challenge: ignored (no answer)")
                    self.app.stats["auth_failures"] += 1
                    return
                res = chap(SCCRP, self.secret, m.get(A_CHALLENGE))
            self.enqueue(m_sccrp(self.con_loc, a.local, a.hostname, self.chlng, res))
        elif t == SCCCN:
            if self.secret is not None:
                if m.get(A_RESPONSE) != chap(SCCCN, self.secret, self.chlng):
                    self.log("AUTH FAILURE: SCCCN from %s has %s: ignored (no ack, no StopCCN)"
                             % (self.peer, "a wrong Challenge Response" if m.get(A_RESPONSE) else "no Challenge Response"))
                    self.app.stats["auth_failures"] += 1
                    return
            self.send_ack()
            self.set_state(tunnel=True)
        elif t == STOPCCN:
            self.need2run = False
            self.send_ack()
            self.log("peer sent StopCCN (result %s): closing at the next tick" % m.get(A_RESULT))
            return
        elif t == CDN:
            if m.get(A_RSID) == self.ses_loc and self.ses_loc:
                self.ses_loc = self.ses_rem = 0
                self.set_state(session=False)
            self.send_ack()
        elif t == ICCN:
            self.send_ack()
            if a.sli_timing == "after-iccn":
                self.enqueue(m_sli(self.ses_rem, self.ses_loc))
            self.set_state(session=True)
        elif t == ICRQ:
            pw = m.get(A_PWTYPE, -1)
            if pw not in (4, 5) or self.ses_loc:
                self.log("ICRQ refused (%s): CDN" % ("pseudowire type %d" % pw if pw not in (4, 5) else "one session only"))
                self.enqueue(m_cdn(m.get(A_LSID, 0), random.randrange(1 << 16)))
            else:
                if m.get(A_ENDID) != a.vcid:
                    self.log("note: ICRQ Remote End ID %r, our vcid %r (freeRtr's server takes any)"
                             % (m.get(A_ENDID), a.vcid))
                self.ses_rem = m.get(A_LSID, 0)
                self.ses_loc = rand32()
                self.enqueue(m_icrp(self.ses_rem, self.ses_loc, m.get(A_ENDID), pw))
                if a.sli_timing == "queued":
                    self.enqueue(m_sli(self.ses_rem, self.ses_loc))
                elif a.sli_timing == "before-iccn-ack":
                    self.sli_pending = True
        elif t == OCRQ:
            self.enqueue(m_cdn(m.get(A_LSID, 0), random.randrange(1 << 16)))
        elif t == SLI:
            self.send_ack()
        self.wakeup()


# ------------------------------------------------------------------- main

class App:
    def __init__(self, args):
        self.args = args
        self.log = Log("freertr-%s" % args.role, args.strict)
        self.stats = {k: 0 for k in ("rx_data", "tx_data", "rx_data_unknown", "tx_too_big", "rx_dropped_ns",
                                     "rx_ack_taken", "auth_failures", "restarts")}
        self.conns = {}
        self.vcids = args.vcid.split(",") if args.vcid else ["1234"]
        self.taps = []  # one TAP per vpdn, or none (self.tap for all)
        self.old_ccids = set()  # every local CCID this process used
        self.net = None
        self.tap = None
        self.stop = False

    def to_tap(self, frame, tap=None):
        tap = tap if tap is not None else self.tap
        if tap is not None:
            try:
                os.write(tap, frame)
            except OSError:
                pass

    def write_status(self):
        if not self.args.status:
            return
        conns = [{"peer": c.peer, "vcid": getattr(c, "vcid", None), "tunnel": "established" if c.tunnel_up else "down",
                  "session": "established" if c.session_up else "down",
                  "local_ccid": c.con_loc, "remote_ccid": c.con_rem,
                  "local_session_id": c.ses_loc, "remote_session_id": c.ses_rem}
                 for c in self.conns.values()]
        tmp = self.args.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"role": self.args.role, "connections": conns, "stats": self.stats,
                       "protocol_errors": self.log.errors}, f)
        os.replace(tmp, self.args.status)

    def start_initiator(self, i=0):
        """vpdn i: its own control connection (freeRtr opens one per vpdn
        entry, from the same address with the same Router ID and its
        constant Tie Breaker)."""
        c = Initiator(self, self.args.peer, self.vcids[i], self.taps[i] if self.taps else None)
        self.conns[i] = c
        self.log("starting: SCCRQ to %s, local CCID 0x%08x, local Session ID %d, vcid %s (epoch %.3f)"
                 % (c.peer, c.con_loc, c.ses_loc, c.vcid, time.time()))
        c.start(c.run())

    def conn_for(self, src, sid, m):
        """The connection a packet from src belongs to, None if none."""
        if self.args.role != "initiator":
            return self.conns.get(src)
        live = [c for c in self.conns.values() if c is not None]
        if len(live) <= 1 and len(self.vcids) == 1:
            return live[0] if live else None
        for c in live:
            if (sid and c.ses_loc == sid) or (not sid and m is not None and m.ccid == c.con_loc):
                return c
        return None

    def on_packet(self, src, payload):
        if len(payload) < 4:
            self.log.error("%d-byte IP/115 packet from %s" % (len(payload), src))
            return
        sid = struct.unpack(">I", payload[:4])[0]
        if self.args.peer and src != self.args.peer:
            self.log("ignored: IP/115 from %s, not our peer" % src)
            return
        c = self.conn_for(src, sid, None) if sid else None
        if sid:
            if c is not None:
                c.keep = 0
                c.recv_data(sid, payload[4:])
            else:
                self.stats["rx_data_unknown"] += 1
            return
        try:
            m = Msg(payload[4:])
        except ProtocolError as e:
            self.log.error("from %s: %s; dropped (freeRtr: bad header)" % (src, e))
            return
        c = self.conn_for(src, 0, m)
        if c is None:
            if self.args.role == "initiator":
                self.log("ignored: %s from %s between attempts" % (m.describe(), src))
                return
            c = ResponderConn(self, src)
            self.conns[src] = c
            self.log("new connection with %s (local CCID 0x%08x)" % (src, c.con_loc))
            c.keep = 0
            c.on_rx(m)
            if c.task is None and self.conns.get(src) is c:
                c.start(c.run())
            return
        c.keep = 0
        c.on_rx(m)

    def run(self):
        a = self.args
        try:
            self.net = RawIP(a.local)
            taps = a.tap.split(",") if a.tap else []
            if len(taps) > 1:  # one per vpdn (--vcid A,B --tap tapA,tapB)
                if len(taps) != len(self.vcids):
                    self.log("cannot start: %d TAPs for %d vcids" % (len(taps), len(self.vcids)))
                    return 1
                self.taps = [open_tap(t) for t in taps]
            elif a.tap:
                self.tap = open_tap(a.tap)
        except OSError as e:
            self.log("cannot start: %s" % e)
            return 1
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stop", True))
        self.log("freeRtr L2TPv3 emulator, %s, local %s%s, hostname %s, vcid %s, auth %s, sli-timing %s"
                 % (a.role, a.local, ", peer " + a.peer if a.peer else "", ascii(a.hostname)[1:], a.vcid,
                    "challenge" if a.secret is not None else "none", a.sli_timing))
        restart_at = {}  # vpdn index -> when it starts over
        if a.role == "initiator":
            for i in range(len(self.vcids)):
                self.start_initiator(i)
        self.write_status()
        while not self.stop:
            now = time.monotonic()
            for c in list(self.conns.values()):
                if c.task is not None and c.wake_at is not None and c.wake_at <= now:
                    c.resume()
            for i in range(len(self.vcids) if a.role == "initiator" else 0):
                c = self.conns.get(i)
                if c is not None and c.task:
                    continue
                if i not in restart_at:
                    restart_at[i] = now + 1.0  # clntL2tp3.run: 1 s between attempts
                    self.conns.pop(i, None)
                    self.write_status()
                elif now >= restart_at[i]:
                    del restart_at[i]
                    self.stats["restarts"] += 1
                    self.start_initiator(i)
            deadlines = [c.wake_at for c in self.conns.values() if c.task is not None and c.wake_at]
            deadlines.extend(restart_at.values())
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else 1.0
            fds = [self.net] + ([self.tap] if self.tap is not None else []) + self.taps
            try:
                ready, _, _ = select.select(fds, [], [], min(timeout, 1.0))
            except InterruptedError:
                continue
            if self.net in ready:
                for _ in range(64):
                    try:
                        src, payload = self.net.recv()
                    except BlockingIOError:
                        break
                    self.on_packet(src, payload)
            for tap in fds[1:]:
                if tap not in ready:
                    continue
                for _ in range(64):
                    try:
                        frame = os.read(tap, 65536)
                    except BlockingIOError:
                        break
                    for c in self.conns.values():
                        if c.ses_rem and getattr(c, "tap", None) in (None, tap):
                            c.send_data(frame)
        self.log("stopping: %s, %d protocol error(s)"
                 % (", ".join("%s %d" % kv for kv in self.stats.items()), self.log.errors))
        self.write_status()
        return 2 if self.log.errors else 0


# --------------------------------------------------------------- selftest

def read_pcap(path):
    """(src, dst, IP payload) of each IPv4 protocol-115 packet of an Ethernet pcap."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise ValueError("%s: not a pcap file" % path)
    if struct.unpack(e + "I", data[20:24])[0] != 1:
        raise ValueError("%s: not Ethernet" % path)
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00" or pkt[23] != PROTO_L2TP:
            continue
        ihl = (pkt[14] & 0x0F) * 4
        total = struct.unpack(">H", pkt[16:18])[0]
        out.append((socket.inet_ntoa(pkt[26:30]), socket.inet_ntoa(pkt[30:34]), pkt[14 + ihl:14 + total]))
    return out


def selftest(specs, default_secret):
    """Rebuild each captured freeRtr control message with our builders.
    specs: PCAP or PCAP=SECRET (the secret that side's Challenge Responses
    were made with)."""
    ok = True
    # the test vector of tests/captures/README.md
    ch1 = bytes.fromhex("261d3350236d444b6f161360696f7266")
    ch2 = bytes.fromhex("6a7919662f06414e1f580d770b55156b")
    for typ, ch, want in ((SCCRP, ch1, "eb94610d20eada7e6af3c7272bdaab58"),
                          (SCCCN, ch2, "08243871d191a2e50f176bfb717469f8")):
        got = chap(typ, b"yamaha", ch).hex()
        print("selftest: MD5(0x%02x || \"yamaha\" || %s) = %s %s"
              % (typ, ch.hex(), got, "ok" if got == want else "WRONG, want " + want))
        ok &= got == want
    for spec in specs:
        path, _, secret = spec.partition("=")
        secret = secret.encode() if secret else default_secret
        n = bad = 0
        challenges = {}  # Assigned CCID of an SCCRQ/SCCRP -> its Challenge
        for src, dst, payload in read_pcap(path):
            if payload[:4] != b"\0\0\0\0":
                continue
            m = Msg(payload[4:])
            v = m.values
            # a Response answers the Challenge of the message that assigned
            # the CCID this one is addressed to
            resp = chap(m.type, secret, challenges[m.ccid]) if A_RESPONSE in v and m.ccid in challenges else None
            if m.type == ZLB:
                fields = None
            elif m.type == SCCRQ:
                fields = m_sccrq(v[A_CCID], v[A_ROUTERID], v[A_HOSTNAME], v.get(A_CHALLENGE))
            elif m.type == SCCRP:
                fields = m_sccrp(v[A_CCID], v[A_ROUTERID], v[A_HOSTNAME], v.get(A_CHALLENGE), resp)
            elif m.type == SCCCN:
                fields = m_scccn(resp)
            elif m.type == HELLO:
                fields = m_hello()
            elif m.type == ICRQ:
                fields = m_icrq(v[A_LSID], v[A_ENDID], v[A_PWTYPE])
            elif m.type == ICRP:
                fields = m_icrp(v[A_RSID], v[A_LSID], v[A_ENDID], v[A_PWTYPE])
            elif m.type == ICCN:
                fields = m_iccn(v[A_RSID], v[A_LSID])
            elif m.type == SLI:
                fields = m_sli(v[A_RSID], v[A_LSID])
            else:
                print("selftest: %s: %s not rebuilt" % (path, m.name))
                bad += 1
                continue
            if A_CHALLENGE in v:
                challenges[v[A_CCID]] = v[A_CHALLENGE]
            built = encode_ctrl(m.ccid, m.ns, m.nr, encode_avps(fields) if fields else b"")
            n += 1
            if built != payload:
                bad += 1
                print("selftest: %s: %s from %s differs:\n  captured %s\n  built    %s"
                      % (path, m.name, src, payload.hex(), built.hex()))
        print("selftest: %s: %d of %d control messages rebuilt byte for byte" % (path, n - bad, n))
        ok &= n > 0 and bad == 0
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--role", choices=("initiator", "responder"))
    p.add_argument("--local", help="our IPv4 address (also our Router ID)")
    p.add_argument("--peer", help="the peer's IPv4 address (initiator: required; responder: only this one)")
    p.add_argument("--secret", help="challenge-style authentication with this secret (default: none)")
    p.add_argument("--vcid", default="1234", help="Remote End ID sent in the ICRQ (default 1234); initiator: "
                   "A,B,... opens one control connection per vcid, as freeRtr does for several vpdn entries")
    p.add_argument("--hostname", default=b"freertr", type=os.fsencode,
                   help="Host Name AVP, its bytes as given (default freertr)")
    p.add_argument("--pw-type", type=int, default=5, help="pseudowire type of the ICRQ (default 5, Ethernet)")
    p.add_argument("--tap", help="TAP interface to bridge the pseudowire to (created if missing); "
                   "TAPA,TAPB,...: one per vcid")
    p.add_argument("--sli-timing", choices=("queued", "before-iccn-ack", "after-iccn"), default="queued",
                   help="responder: SLI queued behind the ICRP as freeRtr's server does (default); "
                        "sent the moment the ICRP is acknowledged, before the ICCN carrying that "
                        "acknowledgement is acked; or only after the ICCN (freeRtr's incoming client)")
    p.add_argument("--hello-ticks", type=int, default=0, help="idle ticks before a HELLO (default 5)")
    p.add_argument("--retry-ticks", type=int, default=0, help="transmissions before giving up (default 8)")
    p.add_argument("--mtu", type=int, default=1500, help="larger outer packets are not sent (default 1500)")
    p.add_argument("--status", help="keep a JSON status in this file")
    p.add_argument("--strict", action="store_true", help="exit 2 at the first protocol error")
    p.add_argument("--selftest", nargs="+", metavar="PCAP[=SECRET]",
                   help="check the encoder and the challenge test vector against captures (Challenge "
                        "Responses made with SECRET, default --secret or yamaha), then exit")
    args = p.parse_args()
    if args.selftest:
        return selftest(args.selftest, (args.secret or "yamaha").encode())
    if not args.role or not args.local:
        p.error("--role and --local are required")
    if args.role == "initiator" and not args.peer:
        p.error("an initiator needs --peer")
    return App(args).run()


if __name__ == "__main__":
    sys.exit(main())
