#!/usr/bin/env python3
"""Media endpoints for the SIP end-to-end tests: RTP-like UDP sockets in a
namespace, driven over stdin, reporting every datagram on stdout.

    udp-peer.py HOST:PORT [HOST:PORT ...]

binds each endpoint (socket 0, 1, ... in that order), prints "ready", then:
  stdin  "send <i> <host> <port> <count> <tag>"
         sends <count> (1..50) RTP packets from socket <i> to host:port, 20 ms
         apart (as a phone would): a 12-byte RTP header (version 2, PCMU,
         sequence and timestamp counting up, a fixed SSRC) and the payload
         "<tag> <n>" padded to 160 bytes; prints "sent <i> <count> <tag>"
  stdin  "quit" or end of input: exits
  stdout "recv <local host:port> <source host:port> <length> <payload text>"
         for each datagram that arrives, the payload being what follows the
         RTP header (or the whole datagram when it is not RTP version 2)
Exits by itself after a minute in any case, so a lost test cannot leave it.
"""
import os
import select
import socket
import struct
import sys
import time

LIFETIME = 60.0
SSRC = 0x5eed0001


def rtp(seq, tag, n):
    header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, SSRC)
    body = f"{tag} {n}".encode()
    return header + body + b"\x00" * max(0, 160 - len(body))


def payload_text(data):
    if len(data) >= 12 and data[0] >> 6 == 2:
        data = data[12:]
    return data.rstrip(b"\x00").decode("ascii", errors="replace").replace("\n", " ")


def main():
    socks = []
    for endpoint in sys.argv[1:]:
        host, port = endpoint.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, int(port)))
        socks.append(s)
    print("ready", flush=True)
    seq = 1
    pending = b""
    deadline = time.monotonic() + LIFETIME
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select(socks + [0], [], [], left)
        for r in ready:
            if r == 0:
                chunk = os.read(0, 4096)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    words = line.decode().split()
                    if not words:
                        continue
                    if words[0] == "quit":
                        return
                    if words[0] != "send" or len(words) != 6:
                        print(f"error: {line.decode()!r}", flush=True)
                        continue
                    i, host, port, count, tag = int(words[1]), words[2], int(words[3]), int(words[4]), words[5]
                    count = max(1, min(count, 50))
                    for n in range(count):
                        socks[i].sendto(rtp(seq, tag, n), (host, port))
                        seq += 1
                        time.sleep(0.02)
                    print(f"sent {i} {count} {tag}", flush=True)
            else:
                data, (h, p) = r.recvfrom(65535)
                lh, lp = r.getsockname()
                print(f"recv {lh}:{lp} {h}:{p} {len(data)} {payload_text(data)}", flush=True)


if __name__ == "__main__":
    main()
