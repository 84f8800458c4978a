#!/usr/bin/env python3
"""NAT-PMP and PCP datagrams for the tests, as hex, through a plain UDP
socket (the messages themselves are built and read by the tests).

  pmp-probe.py send SRC DST TIMEOUT HEX...
      from SRC (any port) to DST:5351, each HEX datagram in turn; after each,
      up to TIMEOUT seconds for the answer. One JSON line per datagram:
      {"sent": HEX, "answer": HEX or null, "from": "A:P" or null}
  pmp-probe.py listen SECONDS
      on 0.0.0.0:5350 joined to 224.0.0.1: "ready", then one JSON line per
      datagram heard within SECONDS: {"from": "A:P", "data": HEX}
  pmp-probe.py rate SRC DST SECONDS HEX...
      closed loop for SECONDS: each HEX in turn from SRC, the next once the
      answer came (or after 0.5 s without one):
      {"sent": N, "answered": M, "seconds": S}
  pmp-probe.py flood SRC DST COUNT HEX
      COUNT copies of HEX from SRC to DST:5351 as fast as they go; the
      answers are counted, not waited for beyond a second: {"sent": N, "answers": M}
"""
import json
import select
import socket
import struct
import sys
import time


def sock(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    return s


def send(src, dst, timeout, datagrams):
    s = sock(src)
    for h in datagrams:
        s.sendto(bytes.fromhex(h), (dst, 5351))
        deadline = time.time() + timeout
        answer, frm = None, None
        while True:
            left = deadline - time.time()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            data, addr = s.recvfrom(2048)
            answer, frm = data.hex(), "%s:%d" % addr
            break
        print(json.dumps({"sent": h, "answer": answer, "from": frm}), flush=True)


def listen(seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5350))
    mreq = struct.pack("4s4s", socket.inet_aton("224.0.0.1"), socket.inet_aton("0.0.0.0"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    print(json.dumps("ready"), flush=True)
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        data, addr = s.recvfrom(2048)
        print(json.dumps({"from": "%s:%d" % addr, "data": data.hex()}), flush=True)


def flood(src, dst, count, h):
    s = sock(src)
    s.setblocking(False)
    data = bytes.fromhex(h)
    answers = 0
    for i in range(count):
        try:
            s.sendto(data, (dst, 5351))
        except BlockingIOError:
            time.sleep(0.001)
        while True:
            try:
                s.recvfrom(2048)
                answers += 1
            except BlockingIOError:
                break
    deadline = time.time() + 1
    while time.time() < deadline:
        r, _, _ = select.select([s], [], [], max(0, deadline - time.time()))
        if not r:
            break
        s.recvfrom(2048)
        answers += 1
    print(json.dumps({"sent": count, "answers": answers}), flush=True)


def rate(src, dst, seconds, datagrams):
    s = sock(src)
    sent = answered = 0
    start = time.time()
    deadline = start + seconds
    while time.time() < deadline:
        s.sendto(datagrams[sent % len(datagrams)], (dst, 5351))
        sent += 1
        r, _, _ = select.select([s], [], [], 0.5)
        if r:
            s.recvfrom(2048)
            answered += 1
    print(json.dumps({"sent": sent, "answered": answered, "seconds": time.time() - start}), flush=True)


def main():
    cmd = sys.argv[1]
    if cmd == "send":
        send(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:])
    elif cmd == "listen":
        listen(float(sys.argv[2]))
    elif cmd == "rate":
        rate(sys.argv[2], sys.argv[3], float(sys.argv[4]), [bytes.fromhex(h) for h in sys.argv[5:]])
    elif cmd == "flood":
        flood(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit("usage: pmp-probe.py send|listen|flood ...")


if __name__ == "__main__":
    main()
