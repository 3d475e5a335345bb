#!/bin/bash
# Prepares this machine (Debian, root) to run the Molecule scenarios: podman + runc + mmdebstrap,
# chromium and its chromedriver for the browser test (tests/demo/immich_demo.py),
# and podman defaults that work on a cgroup-v1 hybrid host whose PID 1 is not systemd.
# Idempotent: installs only what is missing, rewrites containers.conf only when it differs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for p in podman runc mmdebstrap rsync chromium chromium-driver; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
conf=$(cat <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
)
if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$conf" ]; then
  install -d /etc/containers
  printf '%s\n' "$conf" > /etc/containers/containers.conf
fi
