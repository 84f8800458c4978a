#!/usr/bin/env python3
"""DNS questions over UDP from one socket, for the heap test's cache and flood.

    dns-flood.py SERVER GAP_MS WAIT_S < '[[id, name, type], ...]'

sends each question (type "A" or "TXT", no EDNS, recursion desired) to
SERVER:53, GAP_MS apart, then collects answers until every question has
one or WAIT_S seconds have passed since the last was sent (at most 30).
Prints one JSON object: {"sent": n, "answers": [{"id", "rcode", "ancount",
"bytes"}, ...]} in the order they came. Every wait is bounded.
"""
import json
import socket
import sys
import time

TYPES = {"A": 1, "TXT": 16}


def question(qid, name, qtype):
    head = qid.to_bytes(2, "big") + bytes([0x01, 0x00]) + (1).to_bytes(2, "big") + bytes(6)
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    return head + labels + TYPES[qtype].to_bytes(2, "big") + (1).to_bytes(2, "big")


def main():
    server, gap, wait = sys.argv[1], float(sys.argv[2]) / 1000, min(float(sys.argv[3]), 30.0)
    questions = json.load(sys.stdin)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    answers = []
    for qid, name, qtype in questions:
        s.sendto(question(qid, name, qtype), (server, 53))
        time.sleep(gap)
    deadline = time.monotonic() + wait
    while len(answers) < len(questions):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data = s.recv(4096)
        except socket.timeout:
            break
        if len(data) < 12:
            continue
        answers.append({"id": int.from_bytes(data[0:2], "big"), "rcode": data[3] & 15,
                        "ancount": int.from_bytes(data[6:8], "big"), "bytes": len(data)})
    print(json.dumps({"sent": len(questions), "answers": answers}))


main()
