# Holds TCP connections open to a router port, for the fairness tests (Debian's python3):
#   tcp-hold.py HOST PORT SOURCE COUNT SECONDS [DRIP]
# opens COUNT connections from address SOURCE, prints "held N", then keeps
# them SECONDS: silent, or with DRIP sending its bytes one a second on
# each connection (a slow sender). Every wait is bounded.
import socket
import sys
import time

host, port, source, count, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
drip = sys.argv[6].encode() if len(sys.argv) > 6 else b""
held = []
for i in range(count):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(2)
    try:
        s.connect((host, port))
        held.append(s)
    except OSError:
        pass
print("held", len(held), flush=True)
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    if i < len(drip):
        for s in held:
            try:
                s.send(drip[i:i + 1])
            except OSError:
                pass
        i += 1
    time.sleep(1)
