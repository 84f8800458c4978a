#!/usr/bin/env python3
"""Raw ICMP echo probes on one interface (AF_PACKET), for spoofed sources.

  icmp-probe.py send IFACE DST_MAC DST_IP ID SRC[,SRC...] SECONDS
      one echo request per source (the frame from IFACE's own MAC, the IP
      source as given: 127.0.0.1, 0.0.0.0, a LAN address...), then listen
      SECONDS for echo replies with that id on IFACE
  icmp-probe.py listen IFACE ID SECONDS
      only listen
Prints "ready" once listening, then "reply SRC DST SEQ" per echo reply seen.
"""
import select
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def echo_frame(src_mac, dst_mac, src, dst, ident, seq):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"martian probe %d" % seq
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0x1000 + seq, 0, 64, 1, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + icmp


def listen(sock, ident, seconds):
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            return
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        f = sock.recv(2048)
        if len(f) < 14 + 28 or f[12:14] != b"\x08\x00":
            continue
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 1 or len(ip) < ihl + 8:
            continue
        t, _, _, i, seq = struct.unpack("!BBHHH", ip[ihl:ihl + 8])
        if t == 0 and i == ident:
            print("reply", socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), seq, flush=True)


def main():
    mode, iface = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    sock.bind((iface, 0))
    if mode == "listen":
        print("ready", flush=True)
        listen(sock, int(sys.argv[3]), float(sys.argv[4]))
        return
    dst_mac = bytes.fromhex(sys.argv[3].replace(":", ""))
    dst, ident, srcs, seconds = sys.argv[4], int(sys.argv[5]), sys.argv[6].split(","), float(sys.argv[7])
    src_mac = sock.getsockname()[4]
    print("ready", flush=True)
    for seq, src in enumerate(srcs):
        sock.send(echo_frame(src_mac, dst_mac, src, dst, ident, seq))
        time.sleep(0.05)
    listen(sock, ident, seconds)


main()
