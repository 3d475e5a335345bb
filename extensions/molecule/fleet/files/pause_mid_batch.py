"""pause_mid_batch: laptops that fall asleep mid-batch. Runs on the Molecule host, started just before a
batch is uploaded: as soon as an ML worker holds its sleep inhibitor (the batch's ML work has reached the
workers; waiting for every worker's lock let a small batch finish first on a loaded machine), it freezes the
workers' whole test containers (`podman pause`: processes stop, TCP connections stay open, like a
laptop that sleeps). Python stdlib only.

pause_mid_batch.py WORKER[,WORKER...] TIMEOUT
    -> {"locked": {worker: time its lock was seen}, "paused_at": time, "paused": bool, "error": str}
"""

import json
import re
import subprocess
import sys
import time

LOCK = re.compile(r"homelab\.immich ML worker.*sleep:idle")


def locked(worker):
    out = subprocess.run(
        ["podman", "exec", worker, "systemd-inhibit", "--list", "--no-pager", "--no-legend"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return bool(LOCK.search(out))


def main():
    workers = sys.argv[1].split(",")
    deadline = time.time() + float(sys.argv[2])
    seen = {}
    while not seen and time.time() < deadline:
        for worker in workers:
            if worker not in seen and locked(worker):
                seen[worker] = time.time()
        time.sleep(0.1)
    paused_at = time.time()
    run = subprocess.run(["podman", "pause", *workers], capture_output=True, text=True, check=False)
    result = {"locked": seen, "paused_at": paused_at, "paused": run.returncode == 0, "error": run.stderr.strip()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
