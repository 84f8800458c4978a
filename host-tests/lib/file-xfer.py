#!/usr/bin/env python3
"""One file over one TCP connection, for the end-to-end tests.

  file-xfer.py recv <address> <port> <out-file> <seconds>
      Listen; take one connection, read until the sender is done, write what
      came to out-file, answer "ok <bytes> <sha256>\\n" and close. Prints one
      JSON line: {"peer": "h:p", "bytes": n, "sha256": hex}. Gives up
      (exit 3) when nothing has come after `seconds`.

  file-xfer.py send <host> <port> <in-file> <seconds>
      Connect, send the file, end the sending side, read the receiver's
      answer until it closes. Prints one JSON line: {"local": "h:p",
      "bytes": n, "answer": "..."}; exit 2 on any error, within `seconds`.
"""
import hashlib
import json
import socket
import sys


def recv(address, port, out, seconds):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(1)
    server.settimeout(seconds)
    try:
        conn, (host, peer_port) = server.accept()
    except socket.timeout:
        print(json.dumps({"error": f"no connection within {seconds} s"}), flush=True)
        sys.exit(3)
    conn.settimeout(seconds)
    digest = hashlib.sha256()
    size = 0
    with open(out, "wb") as f:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            f.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    conn.sendall(f"ok {size} {digest.hexdigest()}\n".encode())
    conn.close()
    print(json.dumps({"peer": f"{host}:{peer_port}", "bytes": size, "sha256": digest.hexdigest()}), flush=True)


def send(host, port, path, seconds):
    try:
        with open(path, "rb") as f:
            data = f.read()
        conn = socket.create_connection((host, port), timeout=seconds)
        local = "%s:%d" % conn.getsockname()
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
        conn.close()
        print(json.dumps({"local": local, "bytes": len(data), "answer": answer.decode(errors="replace").strip()}), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is the test's answer
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(2)


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("recv", "send"):
        sys.exit(__doc__)
    mode, host, port, path, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
    (recv if mode == "recv" else send)(host, port, path, seconds)


if __name__ == "__main__":
    main()
