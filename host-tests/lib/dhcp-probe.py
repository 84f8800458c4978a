#!/usr/bin/env python3
"""A scripted DHCP client for the tests, on one interface of a namespace.

    dhcp-probe.py <interface> '<json program>'

The program is a list of steps, each an object with "op":
    discover   {mac, [requested], [params], [client_id], [flags]}      -> replies
    request    {mac, [requested], [server], [ciaddr], [client_id]}     -> replies
    decline    {mac, requested, server}                                -> (nothing awaited)
    release    {mac, ciaddr, server}                                   -> (nothing awaited)
    inform     {mac, ciaddr, [params]}                                 -> replies
    raw        {hex}     a datagram as given (malformed ones)          -> (nothing awaited)
    dora       {mac, ...} discover, then request what was offered      -> two steps' replies
Each step that awaits replies collects those with its xid for "wait"
seconds (default 1.5, at most 5). The result, one JSON list on stdout, has
per step the replies: type, yiaddr, ciaddr, the destination address they
were sent to, and their options as hex. Every wait is bounded. If the
interface goes away (the router's port, in a power cut), the program ends
there: the result has the replies had until then.
"""
import json
import os
import socket
import struct
import sys
import time

IP_PKTINFO = 8
COOKIE = bytes([99, 130, 83, 99])


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def packet(kind, mac, xid, ciaddr="0.0.0.0", options=(), flags=0x8000):
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, flags,
                       socket.inet_aton(ciaddr), bytes(4), bytes(4), bytes(4),
                       mac_bytes(mac), bytes(64), bytes(128))
    body = bytes([53, 1, kind])
    for code, value in options:
        body += bytes([code, len(value)]) + value
    return head + COOKIE + body + bytes([255])


def parse_options(data, start, end, into):
    i = start
    while i < end:
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= end:
            break
        length = data[i + 1]
        into[str(code)] = into.get(str(code), "") + data[i + 2:i + 2 + length].hex()
        i += 2 + length


def parse_reply(data, dest):
    if len(data) < 240 or data[0] != 2 or data[236:240] != COOKIE:
        return {"bad": data.hex()}
    options = {}
    parse_options(data, 240, len(data), options)
    return {
        "type": int(options.get("53", "00"), 16),
        "xid": struct.unpack("!I", data[4:8])[0],
        "flags": struct.unpack("!H", data[10:12])[0],
        "ciaddr": socket.inet_ntoa(data[12:16]),
        "yiaddr": socket.inet_ntoa(data[16:20]),
        "chaddr": ":".join("%02x" % b for b in data[28:34]),
        "dest": dest,
        "length": len(data),
        "options": options,
    }


def expand(program):
    """Steps as given; "dora" is a discover and, once offered, a request (SELECTING) for that address."""
    for step in program:
        if step["op"] != "dora":
            yield step
            continue
        yield dict(step, op="discover", wait=step.get("wait", 0.5), first=True)
        offered = LAST.get("offer")
        if offered:
            yield dict(step, op="request", requested=offered, server=LAST["server"], first=True)


LAST = {}


def main():
    iface = sys.argv[1]
    program = json.loads(sys.argv[2])
    results = []
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.bind(("", 68))
        run(s, program, results)
    except OSError:
        pass   # the interface is gone: what came before stands
    print(json.dumps(results))


def run(s, program, results):
    for step in expand(program):
        op = step["op"]
        xid = int.from_bytes(os.urandom(4), "big")
        options = []
        if "requested" in step:
            options.append((50, socket.inet_aton(step["requested"])))
        if "server" in step:
            options.append((54, socket.inet_aton(step["server"])))
        if "client_id" in step:
            options.append((61, bytes.fromhex(step["client_id"])))
        if "params" in step:
            options.append((55, bytes(step["params"])))
        if "hostname" in step:
            options.append((12, step["hostname"].encode()))
        flags = step.get("flags", 0x8000)
        to = step.get("to", "255.255.255.255")
        kinds = {"discover": 1, "request": 3, "decline": 4, "release": 7, "inform": 8}
        if op == "raw":
            data = bytes.fromhex(step["hex"])
        else:
            data = packet(kinds[op], step["mac"], xid, step.get("ciaddr", "0.0.0.0"), options, flags)
        replies = []
        results.append(replies)
        s.sendto(data, (to, 67))
        if op in ("discover", "request", "inform"):
            deadline = time.monotonic() + min(float(step.get("wait", 1.5)), 5.0)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    data, ancillary, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
                except socket.timeout:
                    break
                dest = "?"
                for level, kind, value in ancillary:
                    if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= 12:
                        dest = socket.inet_ntoa(value[8:12])
                reply = parse_reply(data, dest)
                if reply.get("xid") == xid:
                    replies.append(reply)
                    if step.get("first"):
                        break
        else:
            time.sleep(float(step.get("wait", 0.05)))
        LAST.clear()
        if op == "discover" and replies and replies[0].get("type") == 2:
            LAST["offer"] = replies[0]["yiaddr"]
            LAST["server"] = socket.inet_ntoa(bytes.fromhex(replies[0]["options"].get("54", "00000000")))


main()
