"""New TCP connections one after another, each timed from connect() to the
server's first line (the handshake through the router and a round trip of
data), for the flood tests and bench.

  connect-timer.py <host> <port> <source or -> <count> <limit s> [<gap s>] [<max failures>]

Each attempt is given <limit> seconds (the kernel's own SYN retransmissions,
1 s then 2 s more, happen inside it); after <max failures> failures it
stops early (a broken router fails a test in seconds, not minutes); prints "conn <i> ok <ms>" or
"conn <i> fail <ms> <reason>" per attempt and a last line "done".
"""
import socket, sys, time

host, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, limit = int(sys.argv[4]), float(sys.argv[5])
gap = float(sys.argv[6]) if len(sys.argv) > 6 else 0.05
max_failures = int(sys.argv[7]) if len(sys.argv) > 7 else count
failures = 0
for i in range(count):
    if failures >= max_failures:
        break
    start = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=limit,
                                     source_address=(source, 0) if source != "-" else None)
        s.settimeout(max(0.1, limit - (time.monotonic() - start)))
        line = s.makefile("rb").readline()
        s.close()
        ms = (time.monotonic() - start) * 1000
        if line:
            print(f"conn {i} ok {ms:.1f}", flush=True)
        else:
            print(f"conn {i} fail {ms:.1f} closed-without-data", flush=True)
            failures += 1
    except Exception as e:
        ms = (time.monotonic() - start) * 1000
        print(f"conn {i} fail {ms:.1f} {type(e).__name__}", flush=True)
        failures += 1
    time.sleep(gap)
print("done", flush=True)
