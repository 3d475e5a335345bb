"""Why the scenarios reach their test hosts through extensions/molecule/shared/connection_plugins.

Runs the same playbook (stat, copy, template, command: N rounds) against one systemd test container
(localhost/molecule-trixie), through containers.podman.podman and through the test bed's pipelined
`podman`, alternately, and prints the wall and CPU seconds of each (best of --repeat) and their
ratios. CPU is what a machine that runs three scenarios at once on two cores is short of.

    .venv/bin/python bench/connection.py [--rounds 10] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "extensions/molecule/shared/connection_plugins"
NAME = "bench-connection"
TASKS_PER_ROUND = 4


def playbook(rounds):
    return [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "A round of typical modules",
                    "ansible.builtin.include_tasks": "round.yml",
                    "loop": list(range(rounds)),
                }
            ],
        }
    ]


ROUND = [
    {"ansible.builtin.stat": {"path": "/etc/hostname"}},
    {"ansible.builtin.copy": {"content": "x {{ item }}\n", "dest": "/tmp/bench-copy", "mode": "0644"}},
    {"ansible.builtin.template": {"src": "t.j2", "dest": "/tmp/bench-template", "mode": "0644"}},
    {"ansible.builtin.command": "true", "changed_when": False},
]


def run(tmp, connection, plugins):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_CONFIG=str(tmp / "none.cfg"))
    if plugins:
        env.update(ANSIBLE_CONNECTION_PLUGINS=str(PLUGINS), ANSIBLE_PIPELINING="true")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", NAME + ",", "-c", connection, "play.yml"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of ansible-playbook, its workers and the podman clients they wait for (not of the
    # module's own process in the container, the same for both)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.monotonic() - start, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    subprocess.run(["podman", "rm", "-f", NAME], capture_output=True, check=False)
    subprocess.run(
        ["podman", "run", "-d", "--name", NAME, "--privileged", "localhost/molecule-trixie:latest", "/sbin/init"],
        check=True,
        capture_output=True,
    )
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            (tmp / "none.cfg").write_text("")
            (tmp / "play.yml").write_text(json.dumps(playbook(args.rounds)))
            (tmp / "round.yml").write_text(json.dumps(ROUND))
            (tmp / "t.j2").write_text("{{ item }}\n")
            modules = args.rounds * TASKS_PER_ROUND
            times = {"containers.podman.podman": [], "test bed podman (pipelined)": []}
            for _ in range(args.repeat):
                times["containers.podman.podman"].append(run(tmp, "containers.podman.podman", False))
                times["test bed podman (pipelined)"].append(run(tmp, "podman", True))
    finally:
        subprocess.run(["podman", "rm", "-f", NAME], capture_output=True, check=False)
    print(f"{modules} modules a run ({args.rounds} rounds of stat, copy, template, command), best of {args.repeat}")
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in times.items()}
    for k, (wall, cpu) in best.items():
        print(f"  {k:30} {wall:6.1f} s wall ({wall / modules:4.2f} s a module), {cpu:6.1f} s CPU on this side")
    (wa, ca), (wb, cb) = best.values()
    print(f"  ratio: wall {wa / wb:.2f}x, CPU {ca / cb:.2f}x")


if __name__ == "__main__":
    main()
