#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# A stand-in for systemd's end of the sd_notify(3) protocol, for
# t_systemd.sh: binds the AF_UNIX datagram socket SOCKET (the daemon gets
# it as $NOTIFY_SOCKET) and appends each message to LOG as one line, its
# assignments joined by '|'.  At READY=1 it checks at once, before the
# daemon can do anything else of note, that the daemon already serves:
# its control socket CTLSOCK answers a show-status request, and UDP port
# 1701 is taken (binding it here fails with EADDRINUSE; run this in the
# daemon's network namespace).  The result is one line
# "CHECK control=ok|FAIL udp=bound|FREE".  Exits after STOPPING=1 or
# after TIMEOUT seconds; "listening" on stdout means the socket is bound.
import errno
import json
import os
import socket
import sys


def control_answers(path):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(5)
            c.connect(path)
            c.sendall(b'{"cmd": "show-status"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data).get("errno") == 0
    except (OSError, ValueError):
        return False


def udp_1701_bound():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        try:
            u.bind(("0.0.0.0", 1701))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def main():
    path, log, ctl, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(timeout)
    print("listening", flush=True)
    with open(log, "a", buffering=1) as out:
        while True:
            try:
                msg = s.recv(4096).decode("utf-8", "replace")
            except socket.timeout:
                out.write("TIMEOUT\n")
                return 1
            fields = msg.strip("\n").split("\n")
            out.write("|".join(fields) + "\n")
            if "READY=1" in fields:
                out.write("CHECK control=%s udp=%s\n" % (
                    "ok" if control_answers(ctl) else "FAIL",
                    "bound" if udp_1701_bound() else "FREE"))
            if "STOPPING=1" in fields:
                return 0


if __name__ == "__main__":
    sys.exit(main())
