#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Send ARP requests with an 802.1Q tag from an interface (t_pw_vlan).

    vlan_arp.py IFNAME VID SENDER-IP TARGET-IP [COUNT]

VID 0 sends them untagged.  Standard library only: a raw AF_PACKET socket,
so no VLAN interface (and no 8021q module) is needed on the sender.
"""
import socket
import struct
import sys
import time


def main() -> int:
    ifname, vid, sender, target = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    with open(f"/sys/class/net/{ifname}/address", encoding="ascii") as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(sender),
                      b"\0" * 6, socket.inet_aton(target))
    tag = struct.pack("!HH", 0x8100, vid) if vid else b""
    frame = b"\xff" * 6 + mac + tag + struct.pack("!H", 0x0806) + arp
    frame += b"\0" * max(0, 60 + len(tag) - len(frame))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for i in range(count):
        s.send(frame)
        if i + 1 < count:
            time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
