#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check the Message Digest of an L2TPv3 control message sent in answer to an
SCCRQ, independently of the daemon's code (RFC 3931 section 4.3, 5.4.1):

    key    = HMAC-MD5(secret, 0x02)
    digest = HMAC-H(key, sender's nonce || receiver's nonce || message)

with the digest bytes zero while hashing; the receiver's nonce is that of the
SCCRQ, the sender's the answer's own Nonce AVP (an SCCRP), or empty when it
has none (a StopCCN refusing the SCCRQ: the refuser never sent a nonce).
tshark cannot check such a refusal: its l2tp dissector hashes nonces only once
it has seen both the SCCRQ's and an SCCRP's.

usage: l2tp_digest.py SECRET SCCRQ_HEX ANSWER_HEX   (UDP payloads, as tshark's
udp.payload prints them).  Prints the answer's result code and error message;
exit status 0 if the digest verifies, 1 if not, 2 if something is missing.
"""
import hashlib
import hmac
import struct
import sys

AVP_RESULT_CODE, AVP_MESSAGE_DIGEST, AVP_NONCE = 1, 59, 73


def avps(msg):
    """(type, value offset, value) of each IETF AVP of a control message."""
    flags, length = struct.unpack_from("!HH", msg, 0)
    if not flags & 0x8000 or not flags & 0x4000:
        raise ValueError("not a control message with a length")
    off, out = 12, []
    while off + 6 <= length:
        hdr, vendor, typ = struct.unpack_from("!HHH", msg, off)
        alen = hdr & 0x3FF
        if alen < 6 or off + alen > length:
            raise ValueError("bad AVP length at offset %d" % off)
        if vendor == 0:
            out.append((typ, off + 6, msg[off + 6:off + alen]))
        off += alen
    return out


def first(items, typ):
    for t, o, v in items:
        if t == typ:
            return o, v
    return None, None


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    secret = sys.argv[1].encode()
    req = bytes.fromhex(sys.argv[2].replace(":", ""))
    ans = bytes.fromhex(sys.argv[3].replace(":", ""))
    _, req_nonce = first(avps(req), AVP_NONCE)
    items = avps(ans)
    _, ans_nonce = first(items, AVP_NONCE)
    doff, dval = first(items, AVP_MESSAGE_DIGEST)
    _, result = first(items, AVP_RESULT_CODE)
    if result is not None:
        code = struct.unpack_from("!H", result, 0)[0]
        text = result[4:].decode(errors="replace") if len(result) > 4 else ""
        print("result %d: %s" % (code, text))
    if req_nonce is None or dval is None:
        print("missing: %s" % ", ".join(n for n, v in (("SCCRQ nonce", req_nonce), ("message digest", dval))
                                        if v is None))
        return 2
    if ans_nonce is None:
        ans_nonce = b""
    hashf = hashlib.md5 if dval[0] == 0 else hashlib.sha1
    key = hmac.new(secret, b"\x02", hashlib.md5).digest()
    plain = bytearray(ans)
    plain[doff + 1:doff + len(dval)] = bytes(len(dval) - 1)
    want = hmac.new(key, ans_nonce + req_nonce + bytes(plain), hashf).digest()
    ok = hmac.compare_digest(want, dval[1:])
    print("digest %s (%s)" % ("verifies" if ok else "does NOT verify", hashf().name))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
