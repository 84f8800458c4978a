# A GENA event listener for the UPnP tests, run in the lan namespace with
# Debian's python3: accepts the router's NOTIFY requests on HOST:PORT,
# answers each 200 OK and prints one JSON line per request:
#   {"method", "path", "sid", "seq", "nt", "nts", "props": {name: value},
#    "error": null or why the request or its body did not parse}
# "ready" is printed once it listens. Every socket has a timeout.
import json
import socket
import sys
import threading
import xml.etree.ElementTree as ET

EVENT_NS = "{urn:schemas-upnp-org:event-1-0}"
lock = threading.Lock()


def emit(record):
    with lock:
        print(json.dumps(record), flush=True)


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ValueError(f"closed before the headers ended ({len(data)} bytes)")
        data += chunk
        if len(data) > 65536:
            raise ValueError("headers over 64 KB")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            raise ValueError(f"closed after {len(body)} of {length} body bytes")
        body += chunk
    return method, path, headers, body[:length]


def properties(body):
    root = ET.fromstring(body)
    if root.tag != EVENT_NS + "propertyset":
        raise ValueError(f"root element {root.tag}")
    props = {}
    for prop in root:
        if prop.tag != EVENT_NS + "property":
            raise ValueError(f"child {prop.tag} of propertyset")
        for var in prop:
            props[var.tag] = var.text or ""
    return props


def handle(conn, peer):
    record = {"peer": peer[0], "error": None}
    try:
        conn.settimeout(5)
        method, path, headers, body = read_request(conn)
        record.update(method=method, path=path, sid=headers.get("sid"), seq=headers.get("seq"),
                      nt=headers.get("nt"), nts=headers.get("nts"),
                      content_type=headers.get("content-type"), props={})
        try:
            record["props"] = properties(body)
        except (ET.ParseError, ValueError) as e:
            record["error"] = f"body: {e}: {body[:200]!r}"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except (OSError, ValueError) as e:
        record["error"] = f"{type(e).__name__} {e}"
    finally:
        conn.close()
    emit(record)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(16)
    emit("ready")
    while True:
        conn, peer = server.accept()
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()


main()
