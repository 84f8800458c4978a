#!/usr/bin/env python3
# A DNS server for the forwarder's tests, answering what dnsmasq will not:
#   neg.example.test    NXDOMAIN with an SOA (TTL 60, MINIMUM 2): a negative answer to keep 2 s
#   spoof.example.test  first five answers the forwarder must ignore (wrong id, another
#                       question, a record running off the end, a compression loop, from
#                       another port), then the real one: 203.0.113.90
#   anything else       NXDOMAIN without an SOA
# Prints "ready" once it listens, then "query <name>" for each query.
#   dns-upstream.py <address>
import socket
import struct
import sys

address = sys.argv[1]
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((address, 53))
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind((address, 5353))
print("ready", flush=True)


def wire(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def message(ident, rcode, question, answers=b"", ancount=0, authority=b"", nscount=0):
    return struct.pack("!HHHHHH", ident, 0x8580 | rcode, 1, ancount, nscount, 0) + question + answers + authority


def a_record(owner, address, ttl=300):
    return owner + struct.pack("!HHIH", 1, 1, ttl, 4) + socket.inet_aton(address)


# Bounded: a test sends a few dozen queries at most.
for _ in range(1000):
    data, peer = server.recvfrom(4096)
    if len(data) < 12:
        continue
    ident = struct.unpack("!H", data[:2])[0]
    at, labels = 12, []
    while at < len(data) and data[at] and data[at] < 64:
        labels.append(data[at + 1:at + 1 + data[at]].decode("ascii", "replace"))
        at += 1 + data[at]
    question = data[12:at + 5]
    name = ".".join(labels).lower()
    print("query", name, flush=True)
    pointer = b"\xc0\x0c"   # the question's name
    if name == "neg.example.test":
        rdata = wire("ns.example.test") + wire("hostmaster.example.test") + struct.pack("!IIIII", 1, 60, 60, 60, 2)
        soa = wire("example.test") + struct.pack("!HHIH", 6, 1, 60, len(rdata)) + rdata
        server.sendto(message(ident, 3, question, authority=soa, nscount=1), peer)
    elif name == "spoof.example.test":
        bad = a_record(pointer, "203.0.113.66")
        server.sendto(message(ident ^ 0x5555, 0, question, bad, 1), peer)
        server.sendto(message(ident, 0, wire("other.example.test") + b"\0\1\0\1", bad, 1), peer)
        server.sendto(message(ident, 0, question, pointer + struct.pack("!HHIH", 1, 1, 300, 40) + b"\1\2\3\4", 1), peer)
        # an answer record whose name points at itself
        loop_at = 12 + len(question)
        server.sendto(message(ident, 0, question, bytes([0xc0, loop_at]) + struct.pack("!HHIH", 1, 1, 300, 4) + b"\1\2\3\4", 1), peer)
        other.sendto(message(ident, 0, question, bad, 1), peer)
        server.sendto(message(ident, 0, question, a_record(pointer, "203.0.113.90"), 1), peer)
    else:
        server.sendto(message(ident, 3, question), peer)
