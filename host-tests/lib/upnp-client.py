# Debian's python3-miniupnpc driven line by line, for the UPnP tests: run in
# the lan namespace with /usr/bin/python3 (the module is Debian's). Reads
# one JSON call per stdin line, {"id": n, "call": "addportmapping",
# "args": [...]}, makes it on one miniupnpc.UPnP object (so discover and
# selectigd happen once) and prints one JSON line per call:
#   {"id": n, "ok": true, "result": ...} or {"id": n, "ok": false, "error": "..."}
# "ready" is printed first. Exits at the end of stdin.
import json
import sys

import miniupnpc

upnp = miniupnpc.UPnP()
upnp.discoverdelay = 2000


def answer(record):
    print(json.dumps(record), flush=True)


answer("ready")
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    request = json.loads(line)
    try:
        if request["call"] == "lanaddr":
            result = upnp.lanaddr
        else:
            result = getattr(upnp, request["call"])(*request.get("args", []))
        answer({"id": request["id"], "ok": True, "result": result})
    except Exception as e:  # miniupnpc raises plain Exception with the UPnP error text
        answer({"id": request["id"], "ok": False, "error": f"{type(e).__name__}: {e}"})
