"""The ML fleet's decisions (issue 13): the HAProxy agent on recorded sysfs trees
(tests/fixtures/fleet), the sleep inhibitor's arithmetic, and the server's watcher (away policy,
re-queue on return, Wake-on-LAN rate limit) as pure functions; then the agent and the watcher as
processes: the agent's TCP answers, the watcher against a tiny fake of the two Immich queue
endpoints and a UDP listener for the magic packet."""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rolerender import RoleVars

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fleet"
AGENT = ROOT / "roles" / "immich_ml" / "files" / "fleet_agent.py"
INHIBIT = ROOT / "roles" / "immich_ml" / "files" / "fleet_inhibit.py"
WATCHER = ROOT / "roles" / "ml_fleet" / "files" / "fleet_watcher.py"


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


agent = load(AGENT)
inhibit = load(INHIBIT)
watcher = load(WATCHER)

CONF = dict(agent.DEFAULTS)


def answer_for(tree, **overrides):
    conf = dict(CONF, **overrides)
    root = str(FIXTURES / tree)
    temps = agent.read_temperatures(root, conf["ignore_sensors"])
    power = agent.read_power(root)
    return agent.answer(*agent.decide(temps, power, conf))


# --- the agent on recorded trees ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ("server_cool", "ready up 100%\n"),
        ("server_hot", "drain\n"),
        ("laptop_ac", "ready up 100%\n"),
        ("laptop_battery", "drain\n"),
        ("laptop_warm", "ready up 52%\n"),
        ("laptop_usbc", "ready up 100%\n"),
        ("desktop_amdgpu_hot", "drain\n"),
    ],
)
def test_agent_answers_per_recorded_tree(tree, expected):
    assert answer_for(tree) == expected


def test_hot_reason_names_the_sensor_and_threshold():
    root = str(FIXTURES / "server_hot")
    state, weight, reason = agent.decide(agent.read_temperatures(root), agent.read_power(root), CONF)
    assert (state, weight) == ("drain", 0)
    assert "91C >= 85C" in reason and "x86_pkg_temp" in reason


def test_broken_sensors_are_ignored():
    temps = dict(agent.read_temperatures(str(FIXTURES / "desktop_amdgpu_hot")))
    assert max(temps.values()) == 96.0  # amdgpu junction; not the 255 C SYSTIN, not the -273 C wifi zone
    assert all(v > 0 for v in temps.values())


def test_thresholds_are_per_host_variables():
    # a GPU box whose junction runs at 96 C by design: its owner raises the drain threshold
    assert answer_for("desktop_amdgpu_hot", temp_warm=90, temp_drain=100, temp_resume=95) == "ready up 46%\n"
    # or leaves the junction sensor out
    assert answer_for("desktop_amdgpu_hot", ignore_sensors=["hwmon:amdgpu:junction"]) == "ready up 16%\n"
    # a laptop that may work on battery
    assert answer_for("laptop_battery", drain_on_battery=False) == "ready up 100%\n"


def test_battery_reason_and_power_readings():
    power = agent.read_power(str(FIXTURES / "laptop_battery"))
    assert power == {"ac": False, "battery": "Discharging", "capacity": 64}
    assert agent.decide([], power, CONF) == ("drain", 0, "on battery (64%)")
    assert agent.read_power(str(FIXTURES / "server_cool")) == {"ac": None, "battery": None, "capacity": None}
    assert agent.on_battery(agent.read_power(str(FIXTURES / "laptop_usbc"))) is False


def test_hysteresis_between_resume_and_drain():
    temps = [("thermal:x86_pkg_temp (thermal_zone1)", 82.0)]
    assert agent.decide(temps, {}, CONF, previous="ready")[0] == "ready"
    assert agent.decide(temps, {}, CONF, previous="drain")[0] == "drain"
    assert agent.decide([("t", 79.0)], {}, CONF, previous="drain")[:2] == ("ready", 46)


def test_weight_falls_from_warm_to_drain():
    weights = [agent.decide([("t", float(t))], {}, CONF)[1] for t in (60, 70, 75, 80, 84)]
    assert weights == [100, 100, 70, 40, 16]
    assert weights == sorted(weights, reverse=True)


def test_no_sensor_at_all_is_ready():
    assert agent.decide([], {"ac": None, "battery": None, "capacity": None}, CONF) == (
        "ready",
        100,
        "no temperature sensor",
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_agent_process_answers_haproxy_and_why(tmp_path):
    tree = tmp_path / "sys"
    shutil.copytree(FIXTURES / "laptop_ac", tree)
    port = free_port()
    conf = tmp_path / "agent.json"
    conf.write_text(json.dumps({"sysfs_root": str(tree), "listen": ["127.0.0.1"], "port": port}))
    proc = subprocess.Popen([sys.executable, str(AGENT), "serve", str(conf)], stdout=subprocess.PIPE, text=True)
    try:

        def ask(data=b""):
            for _attempt in range(50):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                        if data:
                            s.sendall(data)
                        return s.makefile().read()
                except ConnectionRefusedError:
                    time.sleep(0.1)
            raise AssertionError("agent did not answer")

        assert ask() == "ready up 100%\n"
        (tree / "class/power_supply/AC/online").write_text("0\n")
        (tree / "class/power_supply/BAT0/status").write_text("Discharging\n")
        assert ask() == "drain\n"
        assert json.loads(ask(b"why\n")) == {"state": "drain", "weight": 0, "reason": "on battery (80%)"}
        (tree / "class/power_supply/AC/online").write_text("1\n")
        (tree / "class/thermal/thermal_zone1/temp").write_text("91000\n")
        assert ask() == "drain\n"
        (tree / "class/thermal/thermal_zone1/temp").write_text("52000\n")
        (tree / "class/hwmon/hwmon2/temp1_input").write_text("52000\n")
        assert ask() == "ready up 100%\n"
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=10)
    assert "drained: on battery" in out and "ready again" in out


# --- the sleep inhibitor -----------------------------------------------------------------------


def test_inhibitor_counts_ml_work_not_health_checks():
    # 5 s polls: a /predict burst (2.5 s of CPU) is busy; a few /ping checks (10 ms) are not
    assert inhibit.busy(1_000_000, 3_500_000, 5.0, 20)
    assert not inhibit.busy(1_000_000, 1_010_000, 5.0, 20)
    assert not inhibit.busy(None, 10, 5.0, 20)
    assert not inhibit.busy(5_000_000, 10, 5.0, 20)  # container restarted: counter went back


def test_inhibitor_counts_received_photos_not_pings():
    # 2 s polls: /ping health checks every second (~400 B each) are not busy; a 10 kB photo is
    assert not inhibit.busy_net(1000, 1000 + 2 * 400, 2.0, 2048)
    assert inhibit.busy_net(1000, 1000 + 2 * 400 + 10_000, 2.0, 2048)
    assert not inhibit.busy_net(None, 5, 2.0, 2048)
    dev = (
        "Inter-|   Receive                            |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes\n"
        "    lo:  999999      10    0    0    0     0          0         0 999999\n"
        "  eth0:   12345      40    0    0    0     0          0         0   6789\n"
    )
    assert inhibit.parse_net_dev(dev) == 12345


def test_inhibitor_reads_a_container_from_proc(tmp_path):
    def proc(pid, ns, stat, dev=None):
        d = tmp_path / str(pid)
        (d / "ns").mkdir(parents=True)
        (d / "ns" / "pid").symlink_to(f"pid:[{ns}]")
        (d / "stat").write_text(stat)
        if dev is not None:
            (d / "net").mkdir()
            (d / "net" / "dev").write_text(dev)

    dev = "h1\nh2\n    lo: 5 0 0 0 0 0 0 0 0\n  eth0: 7000 3 0 0 0 0 0 0 0\n"
    # utime stime cutime cstime are fields 14-17; the command name may hold spaces and parentheses
    proc(10, "4026532", "10 (tini) S 9 10 10 0 -1 4194560 0 0 0 0 100 50 0 0 20 0 1 0 1 1 1\n", dev)
    proc(11, "4026532", "11 (python (ml) x) S 10 10 10 0 -1 0 0 0 0 0 200 100 5 5 20 0 9 0 1 1 1\n")
    proc(12, "4026531", "12 (sshd) S 1 12 12 0 -1 0 0 0 0 0 999 999 0 0 20 0 1 0 1 1 1\n")
    usec, rx = inhibit.read_container(10, proc=str(tmp_path))
    assert rx == 7000
    assert usec == (100 + 50 + 200 + 100 + 5 + 5) * 1_000_000 // os.sysconf("SC_CLK_TCK")
    assert inhibit.read_container(99, proc=str(tmp_path)) is None
    # conmon (pid 9, host namespace) started the container's init (pid 10)
    proc(9, "4026531", "9 (conmon) S 1 9 9 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1\n")
    assert inhibit.container_pid(9, proc=str(tmp_path)) == 10
    assert inhibit.container_pid(12, proc=str(tmp_path)) is None


def test_inhibitor_holds_for_the_idle_time():
    assert inhibit.hold(100.0, 150.0, 60)
    assert not inhibit.hold(100.0, 160.0, 60)
    assert not inhibit.hold(None, 160.0, 60)


def test_inhibitor_reads_cgroup_cpu_stat(tmp_path):
    unit = tmp_path / "system.slice" / "immich-ml.service"
    unit.mkdir(parents=True)
    (unit / "cpu.stat").write_text("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n")
    assert inhibit.read_usage(str(tmp_path), "/system.slice/immich-ml.service") == 123456
    assert inhibit.read_usage(str(tmp_path), "/system.slice/gone.service") is None
    # hybrid hierarchy (cgroup v1 controllers): the unit's CPU time is in the unified tree
    hybrid = tmp_path / "unified" / "system.slice" / "immich-ml.service"
    hybrid.mkdir(parents=True)
    (hybrid / "cpu.stat").write_text("usage_usec 42\n")
    (unit / "cpu.stat").unlink()
    assert inhibit.read_usage(str(tmp_path), "/system.slice/immich-ml.service") == 42


# --- the watcher's decisions -------------------------------------------------------------------

QUEUES = ["smartSearch", "faceDetection", "facialRecognition", "ocr"]
WCONF = dict(watcher.DEFAULTS, queues=QUEUES, wol_interval=600)


def queues(paused=False, waiting=0, active=0, user_paused=()):
    return {
        q: {
            "isPaused": paused or q in user_paused,
            "statistics": {"waiting": waiting, "active": active, "delayed": 0, "paused": 0, "failed": 0},
        }
        for q in QUEUES
    }


def workers(*up, mac="aa:bb:cc:dd:ee:01"):
    out = {}
    for i, name in enumerate(["w1", "w2"]):
        out[name] = {
            "up": name in up,
            "status": "UP" if name in up else "DOWN",
            "mac": mac.replace("01", f"0{i + 1}"),
        }
    return out


def test_wait_pauses_when_no_worker_is_up_and_resumes_on_return():
    mem = watcher.new_memory()
    actions, mem, _notes = watcher.plan(WCONF, workers("w1", "w2"), queues(), mem, 0)
    assert actions == []
    actions, mem, notes = watcher.plan(WCONF, workers(), queues(waiting=3), mem, 10)
    assert [a for a in actions if a[0] == "pause"] == [("pause", q) for q in QUEUES]
    assert "worker w1 is away (DOWN)" in notes
    # paused now: nothing new
    actions, mem, _notes = watcher.plan(WCONF, workers(), queues(paused=True, waiting=3), mem, 20)
    assert [a for a in actions if a[0] != "wol"] == []
    # w2 is back: resume, and the missing jobs are queued once the queues are idle again
    actions, mem, notes = watcher.plan(WCONF, workers("w2"), queues(paused=True, waiting=3), mem, 30)
    assert actions == [("resume", q) for q in QUEUES]
    assert "worker w2 is up" in notes
    actions, mem, _notes = watcher.plan(WCONF, workers("w2"), queues(waiting=2, active=1), mem, 35)
    assert actions == []
    actions, mem, _notes = watcher.plan(WCONF, workers("w2"), queues(), mem, 40)
    assert actions == [("start", q) for q in QUEUES]
    actions, mem, _notes = watcher.plan(WCONF, workers("w2"), queues(), mem, 45)
    assert actions == []


def test_drained_workers_count_as_away():
    ws = workers()
    ws["w1"].update(status="DRAIN")
    actions, _mem, _notes = watcher.plan(WCONF, ws, queues(), dict(watcher.new_memory(), up=["w1"]), 0)
    assert ("pause", "ocr") in actions
    assert watcher.worker_up("UP 1/2") and watcher.worker_up("no check")
    assert not any(watcher.worker_up(s) for s in ("DOWN", "DRAIN", "MAINT", "NOLB", "DOWN 1/2", "ABSENT"))


def test_cpu_policy_never_pauses_but_still_requeues_on_return():
    conf = dict(WCONF, policy="cpu")
    mem = dict(watcher.new_memory(), up=["w1"])
    actions, mem, _notes = watcher.plan(conf, workers(), queues(waiting=0), mem, 0)
    assert actions == []
    actions, mem, _notes = watcher.plan(conf, workers("w1"), queues(), mem, 10)
    assert actions == [("start", q) for q in QUEUES]


def test_cpu_policy_waits_when_the_server_itself_is_hot():
    conf = dict(WCONF, policy="cpu")
    actions, _mem, _notes = watcher.plan(
        conf, workers(), queues(), dict(watcher.new_memory(), up=[]), 0, fallback_hot=True
    )
    assert [a[0] for a in actions] == ["pause"] * 4


def test_user_paused_queues_stay_paused():
    mem = dict(watcher.new_memory(), up=["w1"])
    actions, mem, _notes = watcher.plan(WCONF, workers(), queues(user_paused=["ocr"]), mem, 0)
    assert ("pause", "ocr") not in actions and mem["paused"] == QUEUES[:3]
    actions, mem, _notes = watcher.plan(WCONF, workers("w1"), queues(paused=True), mem, 10)
    assert actions == [("resume", q) for q in QUEUES[:3]]


def test_switching_policy_to_cpu_resumes_what_the_watcher_paused():
    mem = dict(watcher.new_memory(), up=[], paused=["smartSearch"])
    actions, mem, _notes = watcher.plan(dict(WCONF, policy="cpu"), workers(), queues(), mem, 0)
    assert actions == [("resume", "smartSearch")] and mem["paused"] == []


def test_unknown_worker_states_change_nothing():
    mem = dict(watcher.new_memory(), up=["w1"], paused=[])
    actions, new, _notes = watcher.plan(WCONF, None, queues(), mem, 0)
    assert actions == [] and new == mem


def test_a_new_worker_joining_requeues():
    mem = dict(watcher.new_memory(), up=["w1"])
    ws = workers("w1", "w2")
    actions, mem, notes = watcher.plan(WCONF, ws, queues(), mem, 0)
    assert "worker w2 is up" in notes and actions == [("start", q) for q in QUEUES]


def test_wake_on_lan_only_when_work_waits_and_no_worker_is_up_rate_limited():
    mem = dict(watcher.new_memory(), up=[])
    # no work waiting: no packet
    actions, mem, _notes = watcher.plan(WCONF, workers(), queues(), mem, 0)
    assert not [a for a in actions if a[0] == "wol"]
    # work waits, nobody up: one packet per worker
    actions, mem, _notes = watcher.plan(WCONF, workers(), queues(paused=True, waiting=5), mem, 100)
    assert [a for a in actions if a[0] == "wol"] == [("wol", "w1"), ("wol", "w2")]
    # within the interval: none
    for t in (150, 400, 699):
        actions, mem, _notes = watcher.plan(WCONF, workers(), queues(paused=True, waiting=5), mem, t)
        assert not [a for a in actions if a[0] == "wol"]
    actions, mem, _notes = watcher.plan(WCONF, workers(), queues(paused=True, waiting=5), mem, 700)
    assert len([a for a in actions if a[0] == "wol"]) == 2
    # a worker is up: none, whatever waits
    actions, mem, _notes = watcher.plan(WCONF, workers("w1"), queues(waiting=5), mem, 5000)
    assert not [a for a in actions if a[0] == "wol"]
    # no MAC: none
    actions, _mem, _notes = watcher.plan(WCONF, workers(mac=""), queues(paused=True, waiting=5), dict(mem, up=[]), 9000)
    assert not [a for a in actions if a[0] == "wol"]


def test_magic_packet_and_stats_parsing():
    pkt = watcher.magic_packet("AA:bb:cc:dd:ee:0f")
    assert len(pkt) == 102 and pkt[:6] == b"\xff" * 6 and pkt[6:12] == bytes.fromhex("aabbccddee0f")
    with pytest.raises(ValueError):
        watcher.magic_packet("aa:bb")
    csv = (
        "# pxname,svname,status,weight\n"
        "immich_ml,FRONTEND,OPEN,\n"
        "immich_ml_workers,w1,DRAIN,0\n"
        "immich_ml_workers,w2,UP,100\n"
        "immich_ml_workers,BACKEND,UP,100\n"
    )
    assert watcher.parse_stats(csv, "immich_ml_workers") == {"w1": "DRAIN", "w2": "UP"}


# --- the watcher as a process, against a fake of the two queue endpoints ----------------------


class FakeImmich(BaseHTTPRequestHandler):
    state = {}
    calls = []
    key = "secret-key-123"

    def log_message(self, *args):
        pass

    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def do_GET(self):
        if self.headers.get("x-api-key") != self.key:
            return self._reply(401, {"message": "Invalid API key"})
        name = self.path.rsplit("/", 1)[-1]
        return self._reply(200, {"name": name, **self.state[name]})

    def do_PUT(self):
        if self.headers.get("x-api-key") != self.key:
            return self._reply(401, {"message": "Invalid API key"})
        body = self._body()
        name = self.path.rsplit("/", 1)[-1]
        FakeImmich.calls.append((self.path, body))
        if self.path.startswith("/api/queues/"):
            self.state[name]["isPaused"] = body["isPaused"]
            return self._reply(200, {"name": name, **self.state[name]})
        return self._reply(200, {})


def test_watcher_process_pauses_wakes_resumes_requeues(tmp_path):
    FakeImmich.state = {q: {"isPaused": False, "statistics": {"waiting": 2, "active": 0}} for q in QUEUES}
    FakeImmich.calls = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeImmich)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    # a "worker": /ping answers pong while up
    up = {"on": False}

    class Worker(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not up["on"]:
                self.send_response(503)
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"pong")

    worker = ThreadingHTTPServer(("127.0.0.1", 0), Worker)
    threading.Thread(target=worker.serve_forever, daemon=True).start()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(10)
    (tmp_path / "key").write_text(FakeImmich.key + "\n")
    conf = {
        "immich_url": f"http://127.0.0.1:{httpd.server_port}",
        "api_key_file": str(tmp_path / "key"),
        "policy": "wait",
        "queues": QUEUES,
        "workers": [
            {
                "name": "w1",
                "server": "w1",
                "ping": f"http://127.0.0.1:{worker.server_port}/ping",
                "mac": "52:54:00:12:34:56",
                "broadcast": "127.0.0.1",
            }
        ],
        "poll": 0.2,
        "wol_interval": 3600,
        "wol_port": listener.getsockname()[1],
        "state_file": str(tmp_path / "state.json"),
    }
    (tmp_path / "conf.json").write_text(json.dumps(conf))
    proc = subprocess.Popen(
        [sys.executable, str(WATCHER), str(tmp_path / "conf.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:

        def until(pred, what, timeout=15):
            end = time.time() + timeout
            while time.time() < end:
                if pred():
                    return
                time.sleep(0.1)
            raise AssertionError(what)

        until(lambda: all(FakeImmich.state[q]["isPaused"] for q in QUEUES), "queues paused")
        pkt, _peer = listener.recvfrom(200)
        assert pkt == watcher.magic_packet("52:54:00:12:34:56")
        # rate limited: no second packet within the interval
        listener.settimeout(1.5)
        with pytest.raises(socket.timeout):
            listener.recvfrom(200)
        up["on"] = True
        until(lambda: not any(FakeImmich.state[q]["isPaused"] for q in QUEUES), "queues resumed")
        for q in QUEUES:
            FakeImmich.state[q]["statistics"] = {"waiting": 0, "active": 0}
        until(
            lambda: (
                sorted(p for p, b in FakeImmich.calls if p.startswith("/api/jobs/"))
                == sorted("/api/jobs/" + q for q in QUEUES)
            ),
            "missing jobs queued",
        )
        assert all(b == {"command": "start", "force": False} for p, b in FakeImmich.calls if p.startswith("/api/jobs/"))
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=10)
        httpd.shutdown()
        worker.shutdown()
        listener.close()
    assert "paused the queue smartSearch" in out
    assert "sent a Wake-on-LAN magic packet to w1 (52:54:00:12:34:56)" in out
    assert "resumed the queue ocr" in out
    assert "queued the missing faceDetection jobs again" in out
    assert FakeImmich.key not in out
    assert json.loads((tmp_path / "state.json").read_text())["paused"] == []


@pytest.mark.parametrize(
    ("role", "policy", "workers", "agent", "fallback_agent"),
    [
        ("worker", "wait", ["w1"], True, ""),
        ("worker", "cpu", ["w1"], True, "127.0.0.1:3005"),
        # under wait the fallback takes no batch work: no agent on the server
        ("fallback", "wait", ["w1"], False, ""),
        # under cpu the server's fallback reports its heat, and the watcher asks it (a hot server waits)
        ("fallback", "cpu", ["w1"], True, "127.0.0.1:3005"),
        # no workers: nothing to wait for
        ("fallback", "cpu", [], False, "127.0.0.1:3005"),
    ],
)
def test_the_servers_own_agent_runs_under_cpu_with_workers(role, policy, workers, agent, fallback_agent):
    groups = {"all": ["host1", *workers], "ml_workers": workers}
    extra = {"immich_ml_role": role, "immich_ml_away_policy": policy}
    assert RoleVars("immich_ml", extra=extra, groups=groups).value("immich_ml_agent | bool") is agent
    fleet = RoleVars("ml_fleet", extra={"immich_ml_away_policy": policy}, groups=groups)
    assert fleet.value("ml_fleet_fallback_agent") == fallback_agent


@pytest.mark.parametrize(
    ("policy", "workers", "rootless", "published"),
    [
        ("wait", ["w1"], False, ["127.0.0.1"]),
        ("cpu", ["w1"], False, []),
        ("wait", [], False, []),
        # a rootless server's balancer holds nothing and sends nothing to the fallback (role ml_balancer)
        ("wait", ["w1"], True, []),
    ],
)
def test_the_fallback_is_published_on_loopback_only_for_the_balancers_hold(policy, workers, rootless, published):
    groups = {"all": ["host1", *workers], "ml_workers": workers}
    extra = {"immich_ml_role": "fallback", "immich_ml_away_policy": policy, "container_engine_rootless": rootless}
    assert RoleVars("immich_ml", extra=extra, groups=groups).value("immich_ml_publish_addresses") == published
    balancer = RoleVars("ml_balancer", extra={"immich_ml_away_policy": policy, "container_engine_rootless": rootless})
    assert balancer.value("__ml_balancer_hold | bool") is (policy == "wait" and not rootless)
