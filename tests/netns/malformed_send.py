#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Send a bounded burst of malformed L2TPv3 datagrams to HOST:PORT.

Usage: malformed_send.py HOST PORT COUNT SECONDS [REPLAY_FILE...]

Kinds (round robin): truncated control headers, bad Length fields, AVP
lengths 0..5, AVPs past the end, Ver 2, huge Length, random bytes, data
for unknown session IDs, oversized datagrams up to 64 KB (the kernel
fragments them), malformed AVP values, and replays of the given files
(control messages captured elsewhere).  Deterministic (seeded), paced to
take about SECONDS, never more than COUNT datagrams.  Prints per-kind
counts.  Standard library only (Debian's /usr/bin/python3).
"""
import random
import socket
import struct
import sys
import time


def ctrl(avps=b"", length=None, flags=0xC803, ccid=0, ns=0, nr=0):
    body = avps
    if length is None:
        length = 12 + len(body)
    return struct.pack(">HHIHH", flags, length & 0xFFFF, ccid, ns, nr) + body


def avp(t, value, m=True, h=False, length=None, vendor=0):
    if length is None:
        length = 6 + len(value)
    f = (0x8000 if m else 0) | (0x4000 if h else 0) | (length & 0x3FF)
    return struct.pack(">HHH", f, vendor, t) + value


HELLO = avp(0, b"\x00\x06")
SCCRQ = avp(0, b"\x00\x01")


def gen(rng, replays):
    kinds = []

    def k(name):
        def deco(fn):
            kinds.append((name, fn))
            return fn
        return deco

    @k("truncated-header")
    def _():
        full = ctrl(HELLO, ccid=rng.getrandbits(32))
        return full[: rng.randrange(0, 12)]

    @k("bad-length")
    def _():
        return ctrl(HELLO, length=rng.choice([0, 1, 11, 13, 19, 21, 4097, 0xFFFF]), ccid=rng.getrandbits(32))

    @k("avp-length-0-5")
    def _():
        return ctrl(HELLO + avp(63, b"\0\0\0\1", length=rng.randrange(0, 6)), ccid=rng.getrandbits(32))

    @k("avp-past-end")
    def _():
        return ctrl(HELLO + avp(63, b"\0\0", length=rng.randrange(9, 1023)), ccid=rng.getrandbits(32))

    @k("ver2")
    def _():
        return ctrl(SCCRQ, flags=0xC802)

    @k("huge-length")
    def _():
        return ctrl(HELLO + bytes(rng.randrange(0, 64)), length=0xFFFF, ccid=rng.getrandbits(32))

    @k("random-bytes")
    def _():
        return rng.randbytes(rng.randrange(1, 1500))

    @k("data-unknown-session")
    def _():
        return struct.pack(">HHI", 0x0003, 0, rng.getrandbits(32)) + rng.randbytes(rng.randrange(0, 200))

    @k("data-bad-version")
    def _():
        return struct.pack(">HHI", 0x0002, 0, rng.getrandbits(32)) + rng.randbytes(20)

    @k("oversized")
    def _():
        n = rng.choice([1473, 9000, 32768, 65000, 65507])
        return ctrl(HELLO, ccid=rng.getrandbits(32)) + bytes(n - 20)

    @k("bad-avp-values")
    def _():
        bad = avp(61, b"\1\2\3") + avp(59, b"\7" + bytes(16)) + avp(65, b"\1\2\3") + avp(1, b"\0\1\2")
        return ctrl(SCCRQ + bad)

    @k("no-message-type")
    def _():
        return ctrl(avp(7, b"host") + HELLO, ccid=rng.getrandbits(32))

    if replays:
        @k("replay")
        def _():
            return rng.choice(replays)

    return kinds


def main():
    host, port, count, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    replays = [open(p, "rb").read() for p in sys.argv[5:]]
    rng = random.Random(3931)
    kinds = gen(rng, replays)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sent = {name: 0 for name, _ in kinds}
    gap = secs / count
    start = time.monotonic()
    for i in range(count):
        name, fn = kinds[i % len(kinds)]
        try:
            s.sendto(fn(), (host, port))
            sent[name] += 1
        except OSError as e:  # EMSGSIZE and the like: count as not sent
            print("send %s: %s" % (name, e), file=sys.stderr)
        delay = start + (i + 1) * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for name, n in sent.items():
        print("%-22s %d" % (name, n))
    print("total %d in %.1f s" % (sum(sent.values()), time.monotonic() - start))


main()
