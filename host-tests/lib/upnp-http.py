# Raw HTTP for the UPnP tests, run inside a bench namespace with Debian's
# python3: sends requests byte for byte as the test wrote them (so malformed
# ones stay malformed) and reports what came back, one JSON object per line.
#
#   upnp-http.py send HOST PORT TIMEOUT [SOURCE]   stdin: a JSON list of requests,
#       each {"raw": text} or {"raw_b64": base64}, optionally "split": bytes to
#       send first and "pause": seconds to wait for an answer before sending
#       the rest (none is sent if one came); one connection each, from
#       address SOURCE if given (another host on the LAN).
#       Prints {"status", "reason", "headers", "body", "closed", "error"}.
#   upnp-http.py flood HOST PORT COUNT HOLD  starts COUNT connections at once
#       without sending, holds them HOLD seconds, then prints how many
#       connected, how many the server closed by itself (EOF or reset) and
#       how many stayed open.
#   upnp-http.py load HOST PORT CLIENTS SECONDS   stdin: one JSON request
#       {"raw": text}; CLIENTS threads send it again and again for SECONDS,
#       each on a new connection; prints counts and requests per second.
#   upnp-http.py parallel HOST PORT TIMEOUT   stdin: a JSON list of requests
#       ({"raw": text}, optionally "source": the LAN address to send from);
#       opens every connection first, then sends every request, then reads
#       every answer: all of them in flight at once. Prints one line per
#       request as send does, then {"connected", "sent", "answered_early"}:
#       answered_early counts connections the server had already answered
#       or closed when the last request had been sent.
#   upnp-http.py clients HOST PORT CLIENTS COUNT TIMEOUT   stdin: one JSON request
#       {"raw": text}; CLIENTS threads, released together, each send it COUNT
#       times with Python's http.client, one connection per request.
#       Prints {"results": [[status or null, milliseconds from connect to the
#       whole answer, error or null], ...]}.
# Every socket has a timeout: nothing here waits without bound.
import base64
import http.client
import json
import select
import socket
import sys
import threading
import time


def parse(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    status, reason = None, ""
    parts = lines[0].split(" ", 2) if lines and lines[0] else []
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return status, reason, headers, body.decode("utf-8", errors="replace")


def exchange(host, port, timeout, request, source=None):
    raw = base64.b64decode(request["raw_b64"]) if "raw_b64" in request else request["raw"].encode("utf-8")
    result = {"status": None, "reason": "", "headers": {}, "body": "", "closed": False, "error": None}
    data = b""
    try:
        s = socket.create_connection((host, port), timeout=timeout, source_address=(source, 0) if source else None)
        s.settimeout(timeout)
        try:
            split = request.get("split")
            if split is not None:
                # Send the first part, and the rest only if no answer came
                # within `pause` s (a server that refuses on the headers
                # alone answers before the body is sent).
                s.sendall(raw[:split])
                raw = raw[split:]
                ready, _, _ = select.select([s], [], [], request.get("pause", 1))
                if ready:
                    raw = b""
            if raw:
                s.sendall(raw)
        except OSError as e:
            # The server may answer (413, 431) and close before taking all of it.
            result["error"] = f"send: {type(e).__name__} {e}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                result["error"] = (result["error"] or "") + " recv: timeout"
                break
            except OSError as e:
                result["error"] = (result["error"] or "") + f" recv: {type(e).__name__} {e}"
                break
            if not chunk:
                result["closed"] = True
                break
            data += chunk
        s.close()
    except OSError as e:
        result["error"] = f"connect: {type(e).__name__} {e}"
    if data:
        result["status"], result["reason"], result["headers"], result["body"] = parse(data)
        result["bytes"] = len(data)
    return result


def send(host, port, timeout, source):
    for request in json.load(sys.stdin):
        print(json.dumps(exchange(host, port, timeout, request, source)), flush=True)


def flood(host, port, count, hold):
    # Non-blocking connects, all at once: a SYN the server drops (no PCB
    # left) must not hold up the others.
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
    deadline = time.monotonic() + hold
    connected, closed = set(), set()
    while time.monotonic() < deadline:
        pending = [s for i, s in enumerate(socks) if i not in connected]
        _, writable, _ = select.select([], pending, [], 0.05)
        for s in writable:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected.add(socks.index(s))
        for i in connected - closed:
            try:
                if socks[i].recv(4096) == b"":
                    closed.add(i)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
        time.sleep(0.05)
    for s in socks:
        s.close()
    print(json.dumps({"attempted": count, "connected": len(connected), "closed_by_server": len(closed),
                      "open": len(connected) - len(closed)}), flush=True)


def load(host, port, clients, seconds):
    request = json.load(sys.stdin)
    counts = {"ok": 0, "failed": 0, "statuses": {}}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker():
        while time.monotonic() < stop:
            r = exchange(host, port, 5, request)
            with lock:
                key = str(r["status"])
                counts["statuses"][key] = counts["statuses"].get(key, 0) + 1
                if r["status"] == 200:
                    counts["ok"] += 1
                else:
                    counts["failed"] += 1
                    counts["last_error"] = r["error"]

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 15)
    elapsed = time.monotonic() - started
    counts["seconds"] = elapsed
    counts["per_second"] = counts["ok"] / elapsed if elapsed else 0
    print(json.dumps(counts), flush=True)


def read_answer(s, timeout, result):
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            result["error"] = (result["error"] or "") + " recv: timeout"
            break
        except OSError as e:
            result["error"] = (result["error"] or "") + f" recv: {type(e).__name__} {e}"
            break
        if not chunk:
            result["closed"] = True
            break
        data += chunk
    s.close()
    if data:
        result["status"], result["reason"], result["headers"], result["body"] = parse(data)
        result["bytes"] = len(data)


def parallel(host, port, timeout):
    requests = json.load(sys.stdin)
    results = [{"status": None, "reason": "", "headers": {}, "body": "", "closed": False, "error": None} for _ in requests]
    socks = [None] * len(requests)
    for i, request in enumerate(requests):
        source = request.get("source")
        try:
            # A connection that does not come up in 5 s is not coming.
            socks[i] = socket.create_connection((host, port), timeout=min(timeout, 5), source_address=(source, 0) if source else None)
            socks[i].settimeout(timeout)
        except OSError as e:
            results[i]["error"] = f"connect: {type(e).__name__} {e}"
    connected = sum(1 for s in socks if s)
    sent = 0
    for i, request in enumerate(requests):
        if socks[i]:
            try:
                socks[i].sendall(request["raw"].encode("utf-8"))
                sent += 1
            except OSError as e:
                results[i]["error"] = f"send: {type(e).__name__} {e}"
    live = [s for s in socks if s]
    early, _, _ = select.select(live, [], [], 0) if live else ([], [], [])
    threads = [threading.Thread(target=read_answer, args=(s, timeout, results[i]), daemon=True) for i, s in enumerate(socks) if s]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    for result in results:
        print(json.dumps(result), flush=True)
    print(json.dumps({"connected": connected, "sent": sent, "answered_early": len(early)}), flush=True)


def clients(host, port, count, each, timeout):
    raw = json.load(sys.stdin)["raw"].encode("utf-8")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = dict(line.split(": ", 1) for line in lines[1:])
    results = []
    lock = threading.Lock()
    start = threading.Barrier(count, timeout=timeout)

    def worker():
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        for _ in range(each):
            began = time.monotonic()
            status, error = None, None
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            try:
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException) as e:
                error = f"{type(e).__name__} {e}"
            finally:
                conn.close()
            with lock:
                results.append([status, (time.monotonic() - began) * 1000, error])

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(each * (timeout + 1) + 5)
    print(json.dumps({"results": results}), flush=True)


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "send":
        send(host, port, float(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None)
    elif mode == "flood":
        flood(host, port, int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "load":
        load(host, port, int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "clients":
        clients(host, port, int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    elif mode == "parallel":
        parallel(host, port, float(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")


main()
