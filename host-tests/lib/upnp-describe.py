# Reads the router's UPnP descriptions as a control point would, for the
# UPnP tests (Debian's python3, in lan): the device description at URL,
# then each service's SCPD, all parsed with a real XML parser (a document
# that is not well-formed fails here). Prints one JSON object:
#   {"root": {"deviceType", "udn", "friendlyName", "manufacturer", "modelName",
#             "presentationURL", "services": [...], "devices": [...]},
#    "scpd": {serviceType: {"actions": {name: {"in": [[arg, var]], "out": [[arg, var]]}},
#                           "variables": {name: {"sendEvents", "dataType", "allowed", "range"}}}},
#    "problems": [...]}
import json
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

DEV = "{urn:schemas-upnp-org:device-1-0}"
SVC = "{urn:schemas-upnp-org:service-1-0}"
url = sys.argv[1]
problems = []


def fetch(u):
    with urllib.request.urlopen(u, timeout=5) as r:
        if not r.headers.get("Content-Type", "").startswith("text/xml"):
            problems.append(f"{u}: Content-Type {r.headers.get('Content-Type')}")
        return ET.fromstring(r.read())


def text(element, name, ns=DEV):
    found = element.find(ns + name)
    return found.text.strip() if found is not None and found.text else None


def device(element):
    d = {name: text(element, name) for name in ["deviceType", "friendlyName", "manufacturer", "modelName", "modelNumber", "presentationURL"]}
    d["udn"] = text(element, "UDN")
    d["services"] = [{name: text(s, name) for name in ["serviceType", "serviceId", "SCPDURL", "controlURL", "eventSubURL"]}
                     for s in element.findall(f"{DEV}serviceList/{DEV}service")]
    d["devices"] = [device(child) for child in element.findall(f"{DEV}deviceList/{DEV}device")]
    return d


def scpd(root):
    actions, variables = {}, {}
    for v in root.findall(f"{SVC}serviceStateTable/{SVC}stateVariable"):
        allowed = [a.text for a in v.findall(f"{SVC}allowedValueList/{SVC}allowedValue")]
        rng = v.find(f"{SVC}allowedValueRange")
        variables[text(v, "name", SVC)] = {
            "sendEvents": v.get("sendEvents"), "dataType": text(v, "dataType", SVC), "allowed": allowed or None,
            "range": [text(rng, "minimum", SVC), text(rng, "maximum", SVC)] if rng is not None else None,
        }
    for a in root.findall(f"{SVC}actionList/{SVC}action"):
        entry = {"in": [], "out": []}
        for arg in a.findall(f"{SVC}argumentList/{SVC}argument"):
            direction = text(arg, "direction", SVC)
            related = text(arg, "relatedStateVariable", SVC)
            if related not in variables:
                problems.append(f"{text(a, 'name', SVC)}: argument {text(arg, 'name', SVC)} names {related}, not a state variable")
            entry[direction].append([text(arg, "name", SVC), related])
        actions[text(a, "name", SVC)] = entry
    return {"actions": actions, "variables": variables}


root_element = fetch(url)
if root_element.tag != DEV + "root":
    problems.append(f"root element {root_element.tag}")
spec = root_element.find(DEV + "specVersion")
if spec is None or text(spec, "major") != "1":
    problems.append("specVersion major is not 1")
top = device(root_element.find(DEV + "device"))
result = {"root": top, "scpd": {}, "problems": problems}


def walk(d):
    for s in d["services"]:
        result["scpd"][s["serviceType"]] = scpd(fetch(urllib.parse.urljoin(url, s["SCPDURL"])))
    for child in d["devices"]:
        walk(child)


walk(top)
print(json.dumps(result), flush=True)
