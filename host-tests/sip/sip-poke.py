#!/usr/bin/env python3
"""Tell a sipp caller of the e2e scenarios (uac-call*.xml) to hang up now.

    sip-poke.py udp|tcp HOST PORT CALL-ID

sends it, from its own namespace, an INFO in the call's Call-ID: the
scenario holds the call after the ACK until such an INFO arrives (or 15 s
pass), then sends BYE. No answer is expected; the INFO never leaves the
namespace, so the router and the far end never see it.
"""
import socket
import sys


def main():
    transport, host, port, call_id = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    proto = "TCP" if transport == "tcp" else "UDP"
    message = (
        f"INFO sip:phone@{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{proto} {host}:9;branch=z9hG4bKe2epoke\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:test@invalid>;tag=poke\r\n"
        f"To: <sip:phone@{host}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 99 INFO\r\n"
        "Content-Length: 0\r\n"
        "\r\n"
    ).encode()
    if transport == "tcp":
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(message)
            # sipp reads it before the connection closes
            s.settimeout(0.3)
            try:
                s.recv(1)
            except OSError:
                pass
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(message, (host, port))
    print("poked", flush=True)


if __name__ == "__main__":
    main()
