# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy agent of an Immich ML host (role homelab.immich.immich_ml): heat- and power-aware routing.

HAProxy connects to the agent port every agent-inter; the agent answers one line and closes:
    "ready up 100%"            cool, on mains: full weight
    "ready up 40%"             warming: weight reduced between warm and drain
    "drain"                    hot (or not yet cooled under temp_resume), or on battery
HAProxy keeps a drained server out of new requests until the agent says "ready" again. The reason
goes to the journal when the state changes, and to whoever connects with "why\n" (verify.yml).

Readings come from sysfs under a root that tests point at recorded trees:
  <root>/class/thermal/thermal_zone*/temp (+ type)         millidegrees Celsius
  <root>/class/hwmon/hwmon*/temp*_input (+ name, *_label)   millidegrees Celsius (CPU packages, amdgpu ...)
  <root>/class/power_supply/*/{type,online,status,capacity} AC adapter online, battery status

Python standard library only. Run by systemd (immich-ml-agent.socket passes the listening socket, or
the agent binds itself). Usage: python3 fleet_agent.py serve CONFIG.json | check CONFIG.json
"""

import fnmatch
import glob
import json
import os
import socket
import sys
import time

DEFAULTS = {
    "sysfs_root": "/sys",
    "listen": ["127.0.0.1"],
    "port": 3005,
    # weight starts falling at temp_warm, drained at temp_drain, back once under temp_resume
    "temp_warm": 70,
    "temp_drain": 85,
    "temp_resume": 80,
    "min_weight": 10,
    "drain_on_battery": True,
    # sensors left out, fnmatch patterns on "thermal:<type>" or "hwmon:<name>:<label>"
    "ignore_sensors": [],
}

# readings outside this range are broken sensors (e.g. -273 C, 255 C)
SANE_MIN_C = 1
SANE_MAX_C = 150


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _milli(text):
    try:
        return int(text) / 1000.0
    except (TypeError, ValueError):
        return None


def read_temperatures(root, ignore=()):
    """[(sensor name, degrees C)] of every thermal zone and hwmon temperature input."""
    out = []
    for zone in sorted(glob.glob(os.path.join(root, "class", "thermal", "thermal_zone*"))):
        name = "thermal:%s" % (_read(os.path.join(zone, "type")) or os.path.basename(zone))
        temp = _milli(_read(os.path.join(zone, "temp")))
        if temp is not None:
            out.append((f"{name} ({os.path.basename(zone)})", name, temp))
    for hw in sorted(glob.glob(os.path.join(root, "class", "hwmon", "hwmon*"))):
        chip = _read(os.path.join(hw, "name")) or os.path.basename(hw)
        for inp in sorted(glob.glob(os.path.join(hw, "temp*_input"))):
            label = _read(inp[: -len("_input")] + "_label") or os.path.basename(inp)[: -len("_input")]
            name = f"hwmon:{chip}:{label}"
            temp = _milli(_read(inp))
            if temp is not None:
                out.append((name, name, temp))
    return [
        (shown, temp)
        for shown, name, temp in out
        if SANE_MIN_C <= temp <= SANE_MAX_C and not any(fnmatch.fnmatch(name, pat) for pat in ignore)
    ]


def read_power(root):
    """{"ac": True/False/None, "battery": status or None, "capacity": percent or None}."""
    ac = None
    battery = None
    capacity = None
    for supply in sorted(glob.glob(os.path.join(root, "class", "power_supply", "*"))):
        kind = (_read(os.path.join(supply, "type")) or "").lower()
        if kind in ("mains", "usb", "usb_c", "usb_pd"):
            online = _read(os.path.join(supply, "online"))
            if online is not None:
                ac = bool(ac) or online == "1"
        elif kind == "battery":
            if _read(os.path.join(supply, "present")) == "0":
                continue
            status = _read(os.path.join(supply, "status"))
            if status and battery in (None, "Full", "Unknown", "Not charging"):
                battery = status
            cap = _read(os.path.join(supply, "capacity"))
            if cap and cap.isdigit():
                capacity = int(cap) if capacity is None else min(capacity, int(cap))
    return {"ac": ac, "battery": battery, "capacity": capacity}


def on_battery(power):
    """True when the host runs from its battery: no AC adapter online and a battery discharging."""
    if power.get("ac"):
        return False
    if power.get("ac") is False:
        return power.get("battery") is not None
    return power.get("battery") == "Discharging"


def decide(temps, power, conf, previous="ready"):
    """(state "ready"|"drain", weight percent, reason) from the readings and the thresholds.

    previous: the state of the last answer, for the hysteresis between temp_resume and temp_drain.
    """
    hottest = max(temps, key=lambda t: t[1]) if temps else None
    hot = hottest[1] if hottest else None
    if conf["drain_on_battery"] and on_battery(power):
        cap = power.get("capacity")
        return "drain", 0, "on battery" + ("" if cap is None else f" ({cap}%)")
    if hot is not None:
        if hot >= conf["temp_drain"]:
            return "drain", 0, "temperature {:.0f}C >= {}C ({})".format(hot, conf["temp_drain"], hottest[0])
        if previous == "drain" and hot > conf["temp_resume"]:
            return (
                "drain",
                0,
                "temperature {:.0f}C, not yet under {}C ({})".format(hot, conf["temp_resume"], hottest[0]),
            )
    if hot is None or hot <= conf["temp_warm"]:
        return "ready", 100, "cool" if hot is not None else "no temperature sensor"
    span = max(conf["temp_drain"] - conf["temp_warm"], 1)
    weight = 100 - (hot - conf["temp_warm"]) * (100 - conf["min_weight"]) / span
    weight = int(max(conf["min_weight"], min(100, round(weight))))
    return "ready", weight, f"warm {hot:.0f}C ({hottest[0]})"


def answer(state, weight, reason):
    """The agent-check line HAProxy reads."""
    if state == "drain":
        return "drain\n"
    return f"ready up {weight}%\n"


def load_config(path):
    conf = dict(DEFAULTS)
    if path:
        with open(path, encoding="utf-8") as handle:
            conf.update(json.load(handle))
    return conf


class Agent:
    def __init__(self, conf):
        self.conf = conf
        self.state = "ready"

    def evaluate(self):
        temps = read_temperatures(self.conf["sysfs_root"], self.conf["ignore_sensors"])
        power = read_power(self.conf["sysfs_root"])
        state, weight, reason = decide(temps, power, self.conf, self.state)
        if state != self.state:
            print("{}: {}".format("drained" if state == "drain" else "ready again", reason), flush=True)
        self.state = state
        return state, weight, reason


def _sockets(conf):
    """Listening sockets: from systemd (LISTEN_FDS) or bound here (IP_FREEBIND: the mesh address may come later)."""
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and int(os.environ.get("LISTEN_FDS", "0")) > 0:
        return [socket.socket(fileno=3 + i) for i in range(int(os.environ["LISTEN_FDS"]))]
    out = []
    for addr in conf["listen"]:
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "IP_FREEBIND"):
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_FREEBIND, 1)
        sock.bind((addr, int(conf["port"])))
        sock.listen(16)
        out.append(sock)
    return out


def serve(conf):
    import selectors

    agent = Agent(conf)
    sel = selectors.DefaultSelector()
    for sock in _sockets(conf):
        sel.register(sock, selectors.EVENT_READ)
    print(
        "agent answering on {}".format(", ".join(str(k.fileobj.getsockname()) for k in sel.get_map().values())),
        flush=True,
    )
    while True:
        for key, _events in sel.select():
            try:
                conn, _peer = key.fileobj.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.2)
                try:
                    # HAProxy sends nothing; a client that writes "why" gets the reason as JSON
                    try:
                        asked = conn.recv(16)
                    except (socket.timeout, OSError):
                        asked = b""
                    state, weight, reason = agent.evaluate()
                    if asked.strip() == b"why":
                        reply = json.dumps({"state": state, "weight": weight, "reason": reason}) + "\n"
                    else:
                        reply = answer(state, weight, reason)
                    conn.sendall(reply.encode())
                except OSError:
                    pass


def main(argv):
    if len(argv) == 2 and argv[0] in ("serve", "check"):
        conf = load_config(argv[1])
        if argv[0] == "check":
            temps = read_temperatures(conf["sysfs_root"], conf["ignore_sensors"])
            power = read_power(conf["sysfs_root"])
            state, weight, reason = decide(temps, power, conf)
            print(
                json.dumps({"state": state, "weight": weight, "reason": reason, "temperatures": temps, "power": power})
            )
            return 0
        serve(conf)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    time.tzset()
    sys.exit(main(sys.argv[1:]))
