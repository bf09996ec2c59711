#!/usr/bin/env python3
"""corpus.py — turns pcaps of simulated traffic into seed inputs of the fuzz targets
(docs/fuzzing.md).  fuzz/gen-corpus.sh runs the simulator on the test scenarios with a capture
and calls this; the output is what fuzz/corpus/ holds.

    corpus.py OUT_DIR TARGET PCAP...     TARGET: wire | topology | sip
    corpus.py OUT_DIR cert PEM...

Every UDP payload of the pcap (LINKTYPE_RAW IPv4, as sim/pcap.c writes) is read; port 6084
carries RELOAD FramedMessages (RFC 6940 §6.6.2), other ports SIP.  Payloads are grouped by
message code (RELOAD) or method/status (SIP), and a few of each group are kept — the smallest,
the largest and one between — so that the corpus stays small.  Each seed starts with the
selector byte(s) the target reads (see the comment at the top of fuzz/fuzz_<target>.c).
"""
import hashlib
import os
import struct
import sys

RELOAD_PORT = 6084
PER_GROUP = 3

# fuzz_wire.c's codec table, in order: message code -> index.
CODECS = [
    (0x0F,), (0x10,), (0x11,), (0x15,), (0x16,), (0x01,), (0x02,), (0x13,), (0x03, 0x04),
    (0x1D, 0x1E), (0x17,), (0x18,), (0xFFFF,), (0x0D,), (0x0E,), (0x07,), (0x08,),
    (0x09, 0x19), (0x0A,), (0x1A,),
]
# The request a peer should have pending for an answer to match (fuzz_env.h mode bits 3-4).
PENDING = {0x18: 0, 0x08: 1, 0x0A: 2, 0x1E: 3}
ATTACH_ANS = 0x04


def payloads(path):
    with open(path, 'rb') as f:
        data = f.read()
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from('<I', data, off + 8)[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 28 or pkt[0] >> 4 != 4:
            continue
        ihl = (pkt[0] & 15) * 4
        sport, dport = struct.unpack_from('!HH', pkt, ihl)
        yield sport, dport, pkt[ihl + 8:]


def reload_parts(frame):
    """(code, body) of a data frame, or None."""
    if len(frame) < 8 or frame[0] != 128:
        return None
    msg = frame[8:]
    if len(msg) < 38:
        return None
    via_len, dest_len, opt_len = struct.unpack_from('!HHH', msg, 32)
    at = 38 + via_len + dest_len + opt_len
    if at + 6 > len(msg):
        return None
    code, blen = struct.unpack_from('!HI', msg, at)
    return code, msg[at + 6:at + 6 + blen]


def pick(groups):
    for key in sorted(groups):
        items = sorted(set(groups[key]), key=lambda b: (len(b), b))
        if len(items) > PER_GROUP:
            items = [items[0], items[len(items) // 2], items[-1]]
        for it in items:
            yield key, it


def write(out, seed):
    name = hashlib.sha1(seed).hexdigest()
    with open(os.path.join(out, name), 'wb') as f:
        f.write(seed)


def certs(out, pems):
    """fuzz_cert.c's seeds: each certificate (selector 0), and SignerIdentity + bucket inputs
    (selector 1) naming each user certificate by cert_hash (one Node-ID) or by
    cert_hash_node_id (its first Node-ID, found as the reload:// URI in the DER)."""
    import base64
    import re
    ders = []
    for p in sorted(pems):
        text = open(p).read()
        body = text.split('-----BEGIN CERTIFICATE-----')[1].split('-----END CERTIFICATE-----')[0]
        ders.append(base64.b64decode(''.join(body.split())))
    for der in ders:
        write(out, b'\x00' + der)
    entries = b''.join(b'\x00' + struct.pack('!H', len(d)) + d for d in ders)
    for der in ders:
        nodes = re.findall(rb'reload://0110([0-9a-f]{32})@', der)
        if not nodes:
            continue  # the CA
        if len(nodes) == 1:
            kind, digest = 1, hashlib.sha256(der).digest()
        else:
            kind, digest = 2, hashlib.sha256(bytes.fromhex(nodes[0].decode()) + der).digest()
        ident = bytes([4, len(digest)]) + digest
        write(out, bytes([1, kind, len(ident)]) + ident + entries)


def main():
    out, target, pcaps = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    reload_groups, body_groups, sip_groups = {}, {}, {}
    for p in pcaps:
        topo = 1 if 'superpeer' in os.path.basename(p) else 0
        for sport, dport, pl in payloads(p):
            if RELOAD_PORT in (sport, dport):
                parts = reload_parts(pl)
                if parts:
                    reload_groups.setdefault((parts[0], topo), []).append(pl)
                    body_groups.setdefault((parts[0], topo), []).append(parts[1])
            else:
                first = pl.split(b'\r\n', 1)[0].split(b' ')
                key = first[1] if first[0].startswith(b'SIP/') and len(first) > 1 else first[0]
                sip_groups.setdefault(key, []).append(pl)
    if target in ('wire', 'topology'):
        for (code, topo), dg in pick(reload_groups):
            role = 2 if code == ATTACH_ANS else 0
            modes = [0x04 | role | (PENDING.get(code, 0) << 3), 0x00]
            if target == 'topology':
                modes.append(0x24)  # the node is a super-peer
            for mode in modes:
                prefix = bytes([mode]) + (bytes([topo]) if target == 'topology' else b'')
                write(out, prefix + dg)
        for (code, topo), body in pick(body_groups):
            if target == 'wire':
                for i, codes in enumerate(CODECS):
                    if code in codes:
                        write(out, bytes([0x80 | i]) + body)
            elif code in (0x13, 0x14) and topo == 0:  # Bamboo's Update bodies
                write(out, b'\x80' + body)
    elif target == 'sip':
        chosen = [dg for _, dg in pick(sip_groups)]
        for dg in chosen:
            write(out, b'\x00' + dg)
        # A few datagrams in a row (REGISTER first), as the adapter sees a phone's traffic.
        regs = [d for d in chosen if d.startswith(b'REGISTER')]
        rest = [d for d in chosen if not d.startswith(b'REGISTER')]
        for i in range(0, len(rest), 3):
            write(out, b'\x00' + b'\x00'.join(regs[:1] + rest[i:i + 3]))
        # URIs for sip_usage_aor.
        for dg in chosen:
            for line in dg.split(b'\r\n'):
                if line.lower().startswith((b'to:', b'contact:')):
                    write(out, b'\x02' + line.split(b':', 1)[1].strip().strip(b'<>'))
    elif target == 'cert':
        certs(out, pcaps)
    else:
        sys.exit('corpus.py: unknown target ' + target)


if __name__ == '__main__':
    main()
