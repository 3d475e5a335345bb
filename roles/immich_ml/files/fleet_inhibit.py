# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sleep inhibitor of an Immich ML worker (role homelab.immich.immich_ml): a laptop does not suspend mid-batch.

Every `poll` seconds it reads the CPU time of the ML container's processes (/proc/<pid>/stat of every
process in its PID namespace; without the container name, the unit's cgroup v2 cpu.stat) and the
bytes the container received (/proc/<pid>/net/dev in its network namespace). A poll where it used
more than `busy_percent` of one CPU, or received more than `busy_bytes` per second, counts as ML work:
a /predict carries a photo (tens of kB to MBs) and runs a model; HAProxy's /ping health checks cost a
few hundred bytes and almost no CPU. While the last busy poll is less than `idle` seconds old it holds
`systemd-inhibit --what=sleep:idle --mode=block`, shown by `systemd-inhibit --list`; then it releases it.

Python standard library only; run as root by immich-ml-inhibit.service (logind lets root block sleep
without polkit). Usage: python3 fleet_inhibit.py CONFIG.json
"""

import json
import os
import signal
import subprocess
import sys
import time

DEFAULTS = {
    "unit": "immich-ml.service",
    # read the container's own processes (the unit's main process is conmon; any cgroup layout, v1
    # included); false = the unit's cgroup v2 only
    "container": True,
    "cgroup_root": "/sys/fs/cgroup",
    "busy_percent": 20,
    "busy_bytes": 2048,
    "idle": 300,
    "poll": 5,
    "who": "homelab.immich ML worker",
    "why": "Immich machine learning work in flight or served recently",
}


def busy(prev_usec, usec, seconds, busy_percent):
    """Whether the unit used more than busy_percent of one CPU between two readings."""
    if prev_usec is None or usec is None or seconds <= 0 or usec < prev_usec:
        return False
    return (usec - prev_usec) / (seconds * 1e6) * 100.0 > busy_percent


def busy_net(prev_bytes, rx_bytes, seconds, busy_bytes):
    """Whether the container received more than busy_bytes per second between two readings."""
    if prev_bytes is None or rx_bytes is None or seconds <= 0 or rx_bytes < prev_bytes:
        return False
    return (rx_bytes - prev_bytes) / seconds > busy_bytes


def parse_net_dev(text):
    """Bytes received on every interface but lo, from /proc/net/dev."""
    total = 0
    for line in text.splitlines()[2:]:
        name, _sep, fields = line.partition(":")
        if name.strip() != "lo" and fields.split():
            total += int(fields.split()[0])
    return total


def read_rx(cgroup_root, cgroup):
    """Bytes received by the unit's container (a process of the unit in another network namespace), or None."""
    base = cgroup_dir(cgroup_root, cgroup)
    if not base:
        return None
    own = os.readlink("/proc/self/ns/net")
    for dirpath, _dirs, files in os.walk(base):
        if "cgroup.procs" not in files:
            continue
        try:
            with open(os.path.join(dirpath, "cgroup.procs"), encoding="ascii") as handle:
                pids = handle.read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                if os.readlink(f"/proc/{pid}/ns/net") == own:
                    continue
                with open(f"/proc/{pid}/net/dev", encoding="ascii") as handle:
                    return parse_net_dev(handle.read())
            except (OSError, ValueError):
                continue
    return None


def unit_main_pid(unit):
    try:
        out = subprocess.run(
            ["systemctl", "show", "--property=MainPID", "--value", unit],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
        return int(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0


def container_pid(main_pid, proc="/proc"):
    """The container's first process: a child of the unit's main process (conmon) in another PID namespace."""
    if not main_pid:
        return None
    try:
        own = os.readlink(os.path.join(proc, str(main_pid), "ns", "pid"))
    except OSError:
        return None
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat"), encoding="ascii", errors="replace") as handle:
                ppid = int(handle.read().rpartition(")")[2].split()[1])
            if ppid == main_pid and os.readlink(os.path.join(proc, entry, "ns", "pid")) != own:
                return int(entry)
        except (OSError, ValueError, IndexError):
            continue
    return None


def parse_stat_times(text):
    """utime + stime + cutime + cstime (clock ticks) from /proc/<pid>/stat."""
    fields = text.rpartition(")")[2].split()
    return sum(int(v) for v in fields[11:15])


def read_container(pid, proc="/proc"):
    """(CPU time in microseconds of every process in the container's PID namespace, bytes it received), or None."""
    try:
        pidns = os.readlink(os.path.join(proc, str(pid), "ns", "pid"))
        with open(os.path.join(proc, str(pid), "net", "dev"), encoding="ascii") as handle:
            rx = parse_net_dev(handle.read())
    except (OSError, ValueError):
        return None
    ticks = 0
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(os.path.join(proc, entry, "ns", "pid")) != pidns:
                continue
            with open(os.path.join(proc, entry, "stat"), encoding="ascii", errors="replace") as handle:
                ticks += parse_stat_times(handle.read())
        except (OSError, ValueError):
            continue
    return ticks * 1_000_000 // os.sysconf("SC_CLK_TCK"), rx


def hold(last_busy, now, idle):
    """Whether the inhibitor is held: the last busy poll is less than idle seconds old."""
    return last_busy is not None and now - last_busy < idle


def cgroup_of(unit):
    try:
        out = subprocess.run(
            ["systemctl", "show", "--property=ControlGroup", "--value", unit],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def cgroup_dir(cgroup_root, cgroup):
    """The unit's cgroup v2 directory: <root>/<path> (unified), else <root>/unified/<path> (hybrid
    hierarchy: v1 controllers, per-unit CPU time only in the v2 tree), else None."""
    if not cgroup:
        return None
    for base in (cgroup_root, os.path.join(cgroup_root, "unified")):
        path = os.path.join(base, cgroup.lstrip("/"))
        if os.path.isfile(os.path.join(path, "cpu.stat")):
            return path
    return None


def read_usage(cgroup_root, cgroup):
    """usage_usec of the unit's cgroup v2 directory, None when it does not exist (unit stopped)."""
    path = cgroup_dir(cgroup_root, cgroup)
    if not path:
        return None
    try:
        with open(os.path.join(path, "cpu.stat"), encoding="ascii") as handle:
            for line in handle:
                key, _sep, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


class Inhibitor:
    def __init__(self, conf):
        self.conf = conf
        self.proc = None

    def held(self):
        return self.proc is not None and self.proc.poll() is None

    def take(self):
        if self.held():
            return
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                "systemd-inhibit",
                "--what=sleep:idle",
                "--mode=block",
                "--who=" + self.conf["who"],
                "--why=" + self.conf["why"],
                "sleep",
                "infinity",
            ]
        )
        print("ML work: holding the sleep inhibitor", flush=True)

    def release(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None
        print("idle for {}s: sleep inhibitor released".format(self.conf["idle"]), flush=True)


def run(conf):
    inhibitor = Inhibitor(conf)

    def stop(_signum, _frame):
        inhibitor.release()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    prev = prev_rx = prev_time = last_busy = None
    cgroup = pid = None
    while True:
        now = time.monotonic()
        reading = None
        if conf["container"]:
            if not pid or not os.path.exists(f"/proc/{pid}"):
                pid = container_pid(unit_main_pid(conf["unit"]))
            reading = read_container(pid) if pid else None
        if reading is not None:
            usec, rx = reading
        else:
            cgroup = cgroup or cgroup_of(conf["unit"])
            usec = read_usage(conf["cgroup_root"], cgroup)
            rx = read_rx(conf["cgroup_root"], cgroup)
        if usec is None:
            cgroup = None
        elif prev_time is not None and (
            busy(prev, usec, now - prev_time, conf["busy_percent"])
            or busy_net(prev_rx, rx, now - prev_time, conf["busy_bytes"])
        ):
            last_busy = now
        prev, prev_rx, prev_time = usec, rx, now
        if hold(last_busy, now, conf["idle"]):
            inhibitor.take()
        else:
            inhibitor.release()
        time.sleep(conf["poll"])


def main(argv):
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    conf = dict(DEFAULTS)
    with open(argv[0], encoding="utf-8") as handle:
        conf.update(json.load(handle))
    run(conf)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
