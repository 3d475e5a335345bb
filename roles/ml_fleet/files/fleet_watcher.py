# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ML fleet watcher of the Immich server (role homelab.immich.ml_fleet): workers that sleep lose no job.

Every `poll` seconds it looks at the ML workers as the balancer sees them (HAProxy's stats socket:
UP, DOWN, DRAIN ...; without a balancer, each worker's /ping) and at the heavy ML queues, then:
  - policy "wait": while no worker is up, pauses the heavy ML queues (smartSearch, faceDetection,
    facialRecognition, ocr) so that the server's CPU fallback only answers search queries; resumes
    them when a worker is up again. Queues a user paused stay paused.
  - policy "cpu": the fallback takes the work (Immich's own behaviour) unless the server's own agent
    says it is hot: then it waits like "wait".
  - when a worker comes back (or joins), once a queue has nothing pending it queues the missing
    jobs of that queue again (PUT /api/jobs/{name} {"command": "start", "force": false}).
  - Wake-on-LAN: while ML work waits and no worker is up, a magic packet to each worker with a MAC,
    at most once per `wol_interval` seconds per worker; each one is logged.

Python standard library only; run by systemd as its own unprivileged system user, the only one besides
root that may read the API key file; the key is never logged.
Usage: python3 fleet_watcher.py CONFIG.json | status CONFIG.json
"""

import csv
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

DEFAULTS = {
    "immich_url": "http://127.0.0.1:2283",
    "api_key_file": "",
    "policy": "wait",
    "queues": ["smartSearch", "faceDetection", "facialRecognition", "ocr"],
    "stats_socket": "",
    "backend": "immich_ml_workers",
    "workers": [],
    "fallback_agent": "",
    "poll": 5,
    "wol": True,
    "wol_interval": 600,
    "wol_port": 9,
    "state_file": "",
}

PENDING = ("waiting", "active", "delayed", "paused")


def new_memory():
    return {"paused": [], "up": None, "requeue": [], "wol": {}}


def worker_up(status):
    """HAProxy's status column -> up (takes new requests) or not (DOWN, DRAIN, MAINT, NOLB ...)."""
    status = (status or "").upper()
    return status.startswith("UP") or status == "NO CHECK"


def pending(queue):
    stats = queue.get("statistics") or {}
    return sum(int(stats.get(k) or 0) for k in PENDING)


def waiting(queue):
    stats = queue.get("statistics") or {}
    return sum(int(stats.get(k) or 0) for k in ("waiting", "delayed", "paused"))


def plan(conf, workers, queues, memory, now, fallback_hot=False):
    """The decisions of one poll, as a pure function.

    workers: {name: {"up": bool, "status": str, "mac": str}} or None when unknown (nothing is done)
    queues:  {name: {"isPaused": bool, "statistics": {...}}} of the heavy ML queues
    memory:  what earlier polls did (new_memory()); a changed copy is returned
    -> (actions, memory, notes): actions are (verb, target) with verb pause|resume|start|wol
    """
    memory = json.loads(json.dumps(memory))
    actions, notes = [], []
    if workers is None:
        return actions, memory, ["worker states unknown: nothing changed"]
    up_now = sorted(name for name, w in workers.items() if w["up"])
    before = memory["up"]
    policy = conf["policy"]
    effective = "wait" if policy == "wait" or (policy == "cpu" and fallback_hot) else "cpu"
    if before is not None:
        back = sorted(set(up_now) - set(before))
        gone = sorted(set(before) - set(up_now))
        for name in gone:
            notes.append("worker {} is away ({})".format(name, workers.get(name, {}).get("status", "gone")))
        for name in back:
            notes.append(f"worker {name} is up")
        if back:
            # jobs skipped or failed while it was away: queued again once each queue is idle
            memory["requeue"] = list(conf["queues"]) + [q for q in memory["requeue"] if q not in conf["queues"]]
    if not up_now and effective == "wait":
        for name in conf["queues"]:
            queue = queues.get(name)
            if queue is not None and not queue["isPaused"] and name not in memory["paused"]:
                actions.append(("pause", name))
                memory["paused"].append(name)
    elif memory["paused"]:
        for name in memory["paused"]:
            actions.append(("resume", name))
        memory["paused"] = []
    if up_now:
        for name in list(memory["requeue"]):
            queue = queues.get(name)
            if queue is None:
                memory["requeue"].remove(name)
            elif not queue["isPaused"] and pending(queue) == 0:
                actions.append(("start", name))
                memory["requeue"].remove(name)
    work_waits = sum(waiting(q) for q in queues.values()) > 0
    if conf["wol"] and work_waits and not up_now:
        for name in sorted(workers):
            mac = workers[name].get("mac")
            last = memory["wol"].get(name)
            if mac and (last is None or now - last >= conf["wol_interval"]):
                actions.append(("wol", name))
                memory["wol"][name] = now
    memory["up"] = up_now
    return actions, memory, notes


def magic_packet(mac):
    digits = "".join(c for c in mac if c in "0123456789abcdefABCDEF")
    if len(digits) != 12:
        raise ValueError(f"not a MAC address: {mac!r}")
    return b"\xff" * 6 + bytes.fromhex(digits) * 16


def parse_stats(text, backend):
    """HAProxy `show stat` CSV -> {server name: status}."""
    rows = csv.DictReader(text.lstrip("# ").splitlines())
    return {
        r["svname"]: r["status"]
        for r in rows
        if r.get("pxname") == backend and r.get("svname") not in ("FRONTEND", "BACKEND")
    }


def read_stats(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode()


def ping(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.read(16).strip() == b"pong"
    except (OSError, ValueError):
        return False


def agent_why(addr):
    """{"state", "weight", "reason"} from the agent at host:port, None when it does not answer."""
    host, _sep, port = addr.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3) as sock:
            sock.sendall(b"why\n")
            return json.loads(sock.makefile().readline())
    except (OSError, ValueError):
        return None


def ask_agent(addr):
    """The agent's state ("ready"/"drain") at host:port, None when it does not answer."""
    return (agent_why(addr) or {}).get("state")


class Immich:
    def __init__(self, url, key):
        self.url = url.rstrip("/")
        self._key = key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/api" + path, data=data, method=method)
        req.add_header("x-api-key", self._key)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            # the message names the method, path and status only (never the key)
            raise RuntimeError(f"{method} {path}: HTTP {exc.code}") from None
        return json.loads(raw) if raw else None

    def queue(self, name):
        return self.call("GET", "/queues/" + name)

    def set_paused(self, name, paused):
        return self.call("PUT", "/queues/" + name, {"isPaused": paused})

    def start_missing(self, name):
        return self.call("PUT", "/jobs/" + name, {"command": "start", "force": False})


def load_config(path):
    conf = dict(DEFAULTS)
    with open(path, encoding="utf-8") as handle:
        conf.update(json.load(handle))
    return conf


def api_key(conf):
    path = conf["api_key_file"]
    if not path and os.environ.get("CREDENTIALS_DIRECTORY"):
        path = os.path.join(os.environ["CREDENTIALS_DIRECTORY"], "api_key")
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def observe(conf):
    """{name: {"up", "status", "mac"}} from HAProxy (or /ping), None when the balancer cannot be read."""
    statuses = None
    if conf["stats_socket"]:
        try:
            statuses = parse_stats(read_stats(conf["stats_socket"]), conf["backend"])
        except OSError as exc:
            print("cannot read HAProxy's stats socket {}: {}".format(conf["stats_socket"], exc), flush=True)
            return None
    out = {}
    for w in conf["workers"]:
        status = statuses.get(w["server"], "ABSENT") if statuses is not None else "UP" if ping(w["ping"]) else "DOWN"
        out[w["name"]] = {"up": worker_up(status), "status": status, "mac": w.get("mac", "")}
    return out


def load_memory(path):
    memory = new_memory()
    if path and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                memory.update(json.load(handle))
        except (OSError, ValueError):
            pass
    return memory


def save_memory(path, memory):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(memory, handle)
    os.replace(tmp, path)


def act(conf, immich, workers, actions):
    by_name = {w["name"]: w for w in conf["workers"]}
    for verb, target in actions:
        try:
            if verb == "pause":
                immich.set_paused(target, True)
                print("no ML worker is up (policy {}): paused the queue {}".format(conf["policy"], target), flush=True)
            elif verb == "resume":
                immich.set_paused(target, False)
                print(f"an ML worker is up: resumed the queue {target}", flush=True)
            elif verb == "start":
                immich.start_missing(target)
                print(f"queued the missing {target} jobs again (force=false)", flush=True)
            elif verb == "wol":
                w = by_name[target]
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                    sock.sendto(
                        magic_packet(w["mac"]), (w.get("broadcast") or "255.255.255.255", int(conf["wol_port"]))
                    )
                print(
                    "ML work waits and no worker is up: sent a Wake-on-LAN magic packet to {} ({}) via {}:{}".format(
                        target, w["mac"], w.get("broadcast") or "255.255.255.255", conf["wol_port"]
                    ),
                    flush=True,
                )
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"{verb} {target} failed: {exc}", flush=True)


def run(conf):
    immich = Immich(conf["immich_url"], api_key(conf))
    memory = load_memory(conf["state_file"])
    print(
        f"watching {len(conf['workers'])} ML worker(s), policy {conf['policy']}, queues {', '.join(conf['queues'])}",
        flush=True,
    )
    was_hot = False
    while True:
        workers = observe(conf)
        queues = {}
        try:
            for name in conf["queues"]:
                queues[name] = immich.queue(name)
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"cannot read the queues: {exc}", flush=True)
            workers = None
        hot = bool(conf["fallback_agent"]) and ask_agent(conf["fallback_agent"]) == "drain"
        if hot != was_hot:
            print(
                "the server's own agent says {}: {}".format(
                    "drain (hot)" if hot else "ready",
                    "its CPU fallback takes no batch work while no worker is up"
                    if hot
                    else "its CPU fallback may take batch work again (policy {})".format(conf["policy"]),
                ),
                flush=True,
            )
            was_hot = hot
        actions, new, notes = plan(conf, workers, queues, memory, time.time(), fallback_hot=hot)
        for note in notes:
            if not note.startswith("worker states unknown"):
                print(note, flush=True)
        act(conf, immich, workers, actions)
        if new != memory:
            memory = new
            save_memory(conf["state_file"], memory)
        time.sleep(conf["poll"])


def status(conf):
    """One look (for verify.yml): the workers as the balancer sees them and the policy in force."""
    workers = observe(conf) or {}
    for w in conf["workers"]:
        if w["name"] in workers and w.get("agent"):
            workers[w["name"]]["agent"] = agent_why(w["agent"])
    memory = load_memory(conf["state_file"])
    return {"policy": conf["policy"], "workers": workers, "paused_by_watcher": memory["paused"], "wol": memory["wol"]}


def main(argv):
    if len(argv) == 1:
        run(load_config(argv[0]))
        return 0
    if len(argv) == 2 and argv[0] == "status":
        print(json.dumps(status(load_config(argv[1]))))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
