#!/usr/bin/env python3
"""How much a no-op re-run of site.yml costs compared with the first converge.

Brings a Molecule scenario up from scratch (destroy, create, prepare), converges it once
(the first converge, from bare hosts), converges it again with nothing to do (the run users
repeat most), and prints both wall times, their ratio, the changed count of the re-run and
its slowest tasks (from the ansible.posix.profile_tasks callback that
extensions/molecule/config.yml enables). The scenario is destroyed at the end unless --keep.

    .venv/bin/python bench/rerun.py [--scenario all_in_one] [--top 15] [--keep]

Run it from anywhere; it runs in the checkout that holds it, with its .venv (make venv) and the
test images (make image). Logs: build/bench/<scenario>-{first,rerun}.log. Exit status: 0 when the
re-run reported changed=0 and failed=0 on every host, 1 otherwise.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
# profile_tasks summary line: "role : Task name ------------------ 12.34s"
PROFILE = re.compile(r"^(.*?)\s-{3,}\s+(\d+\.\d+)s\s*$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{ROOT / '.venv' / 'bin'}:{e.get('PATH', '')}"
    e["ANSIBLE_COLLECTIONS_PATH"] = str(ROOT / ".collections")
    e.update(
        PODMAN_IGNORE_CGROUPSV1_WARNING="1",
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
        PY_COLORS="0",
        # every task in the profile summary, not only the 20 slowest
        PROFILE_TASKS_TASK_OUTPUT_LIMIT="all",
    )
    return e


def molecule(step: str, scenario: str, log: Path | None = None) -> tuple[int, float]:
    """Run one Molecule step; return its exit status and wall time in seconds."""
    cmd = ["molecule", step, "-s", scenario]
    start = time.monotonic()
    if log is None:
        rc = subprocess.run(cmd, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT).returncode
    else:
        with log.open("w", encoding="utf-8") as f:
            rc = subprocess.run(cmd, cwd=ROOT, env=env(), stdout=f, stderr=subprocess.STDOUT).returncode
    return rc, time.monotonic() - start


def recap(text: str) -> list[tuple[str, int, int, int]]:
    """(host, changed, unreachable, failed) of every PLAY RECAP line."""
    out = []
    for line in text.splitlines():
        m = RECAP.match(line.strip())
        if m:
            out.append((m[1], int(m[3]), int(m[4]), int(m[5])))
    return out


def slowest(text: str, top: int) -> list[tuple[str, float]]:
    tasks = []
    for line in text.splitlines():
        m = PROFILE.match(line)
        if m and not line.startswith(("PLAY", "TASK")):
            tasks.append((m[1].strip(), float(m[2])))
    return sorted(tasks, key=lambda t: -t[1])[:top]


def changed_tasks(text: str) -> list[str]:
    """Names of the tasks that reported changed (the TASK header before each 'changed:' line)."""
    names, task = [], None
    for line in text.splitlines():
        if line.startswith("TASK ["):
            task = line[6 : line.rfind("]")]
        elif line.startswith("changed:") and task and task not in names:
            names.append(task)
    return names


def fmt(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="all_in_one", help="Molecule scenario (default: all_in_one)")
    p.add_argument("--top", type=int, default=15, help="slowest re-run tasks to list (default: 15)")
    p.add_argument("--keep", action="store_true", help="leave the scenario's hosts up afterwards")
    a = p.parse_args()
    logs = ROOT / "build" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    first_log, rerun_log = logs / f"{a.scenario}-first.log", logs / f"{a.scenario}-rerun.log"

    molecule("destroy", a.scenario)
    try:
        for step in ("create", "prepare"):
            rc, _ = molecule(step, a.scenario, logs / f"{a.scenario}-{step}.log")
            if rc:
                print(f"molecule {step} -s {a.scenario} failed (rc={rc}); see build/bench/{a.scenario}-{step}.log")
                return 1
        rc, first = molecule("converge", a.scenario, first_log)
        if rc:
            print(f"first converge failed (rc={rc}); see {first_log.relative_to(ROOT)}")
            return 1
        rc, rerun = molecule("converge", a.scenario, rerun_log)
    finally:
        if not a.keep:
            molecule("destroy", a.scenario)

    text = ANSI.sub("", rerun_log.read_text(encoding="utf-8", errors="replace"))
    hosts = recap(text)
    changed = sum(h[1] for h in hosts)
    failed = sum(h[2] + h[3] for h in hosts)
    print(f"scenario {a.scenario}: site.yml converged from bare hosts, then again with nothing to do")
    print(f"first converge   {fmt(first):>14}")
    print(f"no-op re-run     {fmt(rerun):>14}")
    print(f"ratio            {rerun / first:>13.0%}")
    print(f"re-run changed   {changed:>14}   (failed/unreachable: {failed}, rc={rc})")
    for name in changed_tasks(text):
        print(f"  changed: {name}")
    print(f"slowest re-run tasks (profile_tasks; logs in {logs.relative_to(ROOT)}):")
    for name, secs in slowest(text, a.top):
        print(f"  {secs:7.2f} s  {name}")
    return 0 if rc == 0 and changed == 0 and failed == 0 and hosts else 1


if __name__ == "__main__":
    sys.exit(main())
