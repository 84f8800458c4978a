# An SSDP M-SEARCH from a bench namespace, for the UPnP tests (Debian's
# python3):
#   ssdp-probe.py TARGET IFADDR WAIT MX ST [ST...]
# sends one M-SEARCH per ST to TARGET:1900 (239.255.255.250 or a unicast
# address) from IFADDR, and collects every answer for WAIT seconds after
# each. A unicast target is connect()ed, so an ICMP error comes back as
# an error rather than going unseen. Prints one JSON object:
#   {"answers": [{"st": ..., "from": "a.b.c.d:port", "status": ..., "headers": {...}}], "errors": [...]}
# MX "-" leaves the MX header out.
import json
import socket
import sys
import time

target, ifaddr, wait, mx = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
sts = sys.argv[5:]
multicast = target.startswith("239.")
answers, errors = [], []
for st in sts:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ifaddr, 0))
    if multicast:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    else:
        s.connect((target, 1900))
    lines = ["M-SEARCH * HTTP/1.1", "HOST: 239.255.255.250:1900", 'MAN: "ssdp:discover"']
    if mx != "-":
        lines.append(f"MX: {mx}")
    lines += [f"ST: {st}", "", ""]
    s.sendto("\r\n".join(lines).encode(), (target, 1900))
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        except OSError as e:
            errors.append(f"{st}: {type(e).__name__} {e}")
            break
        text = data.decode("latin-1").split("\r\n")
        headers = {}
        for line in text[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        answers.append({"st": st, "from": f"{peer[0]}:{peer[1]}", "status": text[0], "headers": headers})
    s.close()
print(json.dumps({"answers": answers, "errors": errors}), flush=True)
