#!/usr/bin/env python3
"""Hand-made UDP datagrams on a raw IPv4 socket (IP_HDRINCL), and a raw
listener that sees UDP the kernel's own UDP layer would refuse.

  udp-raw.py spray DST DPORT COUNT SRC_FIRST SRC_LAST SPORT_BASE
      COUNT datagrams to DST:DPORT, the source address cycling through
      SRC_FIRST..SRC_LAST (the last octet; spoofed), the source port
      SPORT_BASE + i; paced so the router's TAP queue keeps up
  udp-raw.py probe SRC DST SPORT DPORT IPID ULEN PAYLOAD [HEADER]
      one datagram with IP id IPID, UDP length field ULEN (whatever the
      datagram's real length), PAYLOAD bytes after the 8-byte UDP header;
      HEADER (0..7) sends only that many bytes of the UDP header, nothing after
  udp-raw.py sniff ADDR SECONDS
      print "udp id=IPID src=A:P dst=B:Q ulen=N payload=M" for every UDP
      packet to ADDR seen in SECONDS (raw socket: malformed ones too);
      "ready" once listening
The kernel fills in the IP checksum and total length (raw(7)); the UDP
checksum is 0, "none", which IPv4 allows, so only the length fields matter.
"""
import select
import socket
import struct
import sys
import time


def ip_header(src, dst, ipid):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, ipid, 0x4000, 64, 17, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))


def raw_sender():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return s


def spray(dst, dport, count, first, last, sport_base):
    s = raw_sender()
    span = last - first + 1
    for i in range(count):
        src = "203.0.113.%d" % (first + i % span)
        sport = sport_base + i
        udp = struct.pack("!HHHH", sport, dport, 8 + 5, 0) + b"spray"
        s.sendto(ip_header(src, dst, (i + 1) & 0xFFFF) + udp, (dst, 0))
        if i % 50 == 49:
            time.sleep(0.01)
    print("sent", count, flush=True)


def probe(src, dst, sport, dport, ipid, ulen, payload, header=None):
    s = raw_sender()
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + bytes((i * 7 + 3) & 0xFF for i in range(payload))
    if header is not None:
        udp = udp[:header]
    s.sendto(ip_header(src, dst, ipid) + udp, (dst, 0))
    print("sent id=%d" % ipid, flush=True)


def sniff(addr, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        b = s.recv(65535)
        ihl = (b[0] & 15) * 4
        if len(b) < 20 or socket.inet_ntoa(b[16:20]) != addr:
            continue
        ipid = struct.unpack("!H", b[4:6])[0]
        udp = b[ihl:]
        sport = dport = ulen = -1
        if len(udp) >= 4:
            sport, dport = struct.unpack("!HH", udp[:4])
        if len(udp) >= 6:
            ulen = struct.unpack("!H", udp[4:6])[0]
        print("udp id=%d src=%s:%d dst=%s:%d ulen=%d payload=%d" % (
            ipid, socket.inet_ntoa(b[12:16]), sport, addr, dport, ulen, max(len(udp) - 8, 0)), flush=True)
    print("done", flush=True)


def main(argv):
    if len(argv) == 7 and argv[0] == "spray":
        spray(argv[1], int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6]))
    elif len(argv) in (8, 9) and argv[0] == "probe":
        probe(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6]), int(argv[7]),
              int(argv[8]) if len(argv) == 9 else None)
    elif len(argv) == 3 and argv[0] == "sniff":
        sniff(argv[1], float(argv[2]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
