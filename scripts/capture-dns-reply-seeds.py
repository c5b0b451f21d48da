#!/usr/bin/python3
"""Captures the seed corpus of the DNS reply fuzz target
(sieve-tests/fuzz/dns-reply/): real replies of dnsmasq, authoritative for
"example" as in the tests, to TXT queries without EDNS, byte for byte.

    /usr/bin/python3 scripts/capture-dns-reply-seeds.py [DIR]

Run as root (dnsmasq drops privileges to nobody)."""

import os
import socket
import struct
import sys
import tempfile

import dns.message

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sieve-tests", "integration"))
import vsmstack  # noqa: E402

BIG = "x" * 200

# seed file name -> (query name, over TCP)
CASES = {
    "split-strings": ("_dmarc.split.example", False),
    "two-rrs": ("_dmarc.two.example", False),
    "cname": ("_dmarc.alias.example", False),
    "nxdomain-soa": ("_dmarc.none.example", False),
    "nodata-soa": ("host.example", False),
    "truncated": ("big.example", False),
    "big-over-tcp": ("big.example", True),
}


def ask(port, name, tcp):
    wire = dns.message.make_query(name, "TXT").to_wire()
    if not tcp:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(wire, ("127.0.0.1", port))
            return s.recv(65535)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                raise RuntimeError("TCP reply cut short")
            data += chunk
        return data[2:]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "sieve-tests", "fuzz", "dns-reply")
    os.makedirs(out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="vsmlist-seeds-")
    os.chmod(workdir, 0o755)
    server = vsmstack.DnsServer(workdir, extra_conf=vsmstack.AUTH_ZONE_EXAMPLE + [
        "cname=_dmarc.alias.example,_dmarc.split.example",
        "host-record=host.example,192.0.2.1",
    ])
    server.add_txt("_dmarc.split.example", ["v=DMARC1; ", "p=reject"])
    server.add_txt("_dmarc.two.example", "v=DMARC1; p=none")
    server.add_txt("_dmarc.two.example", "v=DMARC1; p=quarantine")
    for i in range(4):
        server.add_txt("big.example", f"{i}{BIG}")
    with server:
        for seed, (name, tcp) in CASES.items():
            with open(os.path.join(out, seed), "wb") as f:
                f.write(ask(server.port, name, tcp))


if __name__ == "__main__":
    main()
