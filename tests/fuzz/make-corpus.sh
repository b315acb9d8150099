#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Regenerate the seed corpora of tests/fuzz/corpus/ (crash reproducers,
# crash-*, are kept):
#   fuzz_fsm    real exchanges of our state machines (gen-corpus)
#   fuzz_wire   every message those exchanges sent, plus the control
#               messages of /work/shared/captures/freertr-*.pcap (IP/115,
#               the 4 zero bytes stripped)
#   fuzz_config tests/config/*.conf (every keyword we parse)
# Usage: tests/fuzz/make-corpus.sh [BUILD_DIR] [CAPTURES_DIR]
set -euo pipefail
cd "$(dirname "$0")"
B=${1:-../../build-test}
CAP=${2:-/work/shared/captures}

for t in fuzz_fsm fuzz_wire fuzz_config; do
	mkdir -p "corpus/$t"
	find "corpus/$t" -type f ! -name 'crash-*' -delete
done
"$B/tests/fuzz/gen-corpus" corpus/fuzz_fsm corpus/fuzz_wire
cp ../config/*.conf corpus/fuzz_config/

shopt -s nullglob
for p in "$CAP"/freertr-*.pcap; do
	/usr/bin/python3 - "$p" corpus/fuzz_wire <<'PY'
import os, struct, sys
path, out = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
le = data[:4] == b'\xd4\xc3\xb2\xa1'
e = '<' if le else '>'
link = struct.unpack(e + 'I', data[20:24])[0]
off, n = 24, 0
base = os.path.basename(path)[:-5]
while off + 16 <= len(data):
    incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    n += 1
    l2 = {1: 14, 113: 16, 101: 0}.get(link, 14)
    ip = pkt[l2:]
    if link == 1 and pkt[12:14] == b'\x81\x00':
        ip = pkt[18:]
    if len(ip) < 20 or ip[0] >> 4 != 4:
        continue
    ihl = (ip[0] & 15) * 4
    proto = ip[9]
    body = ip[ihl:]
    if proto == 115 and body[:4] == b'\0\0\0\0':
        msg = body[4:]
    elif proto == 17 and len(body) > 8 and 1701 in struct.unpack('>HH', body[:4]):
        msg = body[8:]
    else:
        continue
    if len(msg) < 12 or not msg[0] & 0x80:
        continue
    open(os.path.join(out, '%s-frame%03d' % (base, n)), 'wb').write(msg)
PY
done
echo "corpus: $(ls corpus/fuzz_fsm | wc -l) fsm, $(ls corpus/fuzz_wire | wc -l) wire, $(ls corpus/fuzz_config | wc -l) config inputs"
