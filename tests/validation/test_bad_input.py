"""Bad input is refused before any host changes (issue 12, "validation before change").

Each case runs ``ansible-playbook site.yml`` with one class of mistake against fresh test hosts
(systemd containers of the local Debian trixie image, started once for this module) and checks:
a non-zero exit, a refusal that names the variable and the host, zero changed tasks on every host
(PLAY RECAP) and no generated secrets (they come only after validation). A good inventory passes
``playbooks/validate.yml``. The runs go six at a time; the whole module takes about a minute.
"""

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/molecule-trixie:latest"
OLD_IMAGE = "localhost/molecule-bookworm:latest"  # Debian 12, outside the supported platforms
PREFIX = "val-" + uuid.uuid4().hex[:6]  # podman names are global on this machine
HOSTS = {"srv": PREFIX + "-srv", "ml": PREFIX + "-ml", "noroute": PREFIX + "-noroute", "old": PREFIX + "-old"}
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", re.M)
ROOTLESS = {
    "container_engine_rootless": True,
    "container_engine_rootless_uid": 2283,
    "library_uid": 2283,
    "library_gid": 2283,
}
CPU_NO_V2 = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov sse sse2\n"

# class of mistake -> (change to the good inventory, variable named, host named)
# change: {"all": {...}} group_vars/all, {"host:<name>": {...}} host vars, {"groups": {...}} group members,
# "ml": False for mistakes on the server alone (one host less to read keeps the runs cheap);
# "playbook": the playbook to run instead of site.yml; "limit": ansible-playbook --limit
CASES = {
    "two servers": ({"groups": {"immich_server": ["srv", "ml"], "ml_workers": []}}, "immich_server (group)", "all"),
    "server also ML worker": ({"groups": {"ml_workers": ["ml", "srv"]}}, "immich_server + ml_workers", "srv"),
    "version v1": ({"ml": False, "all": {"immich_version": "v1.132.3"}}, "immich_version", "srv"),
    "version without v": ({"ml": False, "all": {"immich_version": "3.1.0"}}, "immich_version", "srv"),
    "version latest": ({"all": {"immich_version": "latest"}}, "immich_version", "ml"),
    "versions differ": ({"host:ml": {"immich_version": "v3.0.2"}}, "immich_version", "ml"),
    "ML tag differs": ({"host:ml": {"immich_ml_version": "v3.0.2"}}, "immich_ml_version", "ml"),
    "wrong choice": ({"ml": False, "all": {"postgres_mode": "docker"}}, "postgres_mode", "srv"),
    "wrong type": ({"host:ml": {"immich_ml_port": "three"}}, "immich_ml_port", "ml"),
    "typo in a name": ({"all": {"immich_ml_prot": 3003}}, "immich_ml_prot", "ml"),
    "port collision": (
        {"ml": False, "all": {"immich_server_port": 5432}},
        "immich_server_port and postgres_port",
        "srv",
    ),
    "firewall port differs": ({"ml": False, "all": {"immich_server_port": 8080}}, "firewall_immich_port", "srv"),
    "bad CIDR": (
        {"ml": False, "all": {"firewall_immich_allowed": ["192.168.1.0/33"]}},
        "firewall_immich_allowed",
        "srv",
    ),
    "bad address": ({"host:ml": {"mesh_lan_address": "10.0.0.300"}}, "mesh_lan_address", "ml"),
    "wildcard peers": ({"ml": False, "all": {"immich_db_peers": ["0.0.0.0/0"]}}, "immich_db_peers", "srv"),
    "URL without scheme": ({"ml": False, "all": {"immich_config_url": "127.0.0.1:2283"}}, "immich_config_url", "srv"),
    "Valkey password with a newline": (
        {"ml": False, "all": {"immich_valkey_password": "s3cret\n"}},
        "immich_valkey_password",
        "srv",
    ),
    "DB password with a quote": ({"ml": False, "all": {"immich_db_password": "it's"}}, "immich_db_password", "srv"),
    "admin email missing": ({"ml": False, "all": {"immich_admin_email": None}}, "immich_admin_email", "srv"),
    "admin password short": ({"ml": False, "all": {"immich_admin_password": "short"}}, "immich_admin_password", "srv"),
    "tailscale without a key": ({"all": {"mesh_mode": "tailscale"}}, "mesh_tailscale_authkey", "ml"),
    "relative path": ({"ml": False, "all": {"postgres_data_dir": "data/postgres"}}, "postgres_data_dir", "srv"),
    "system config not a mapping": (
        {"ml": False, "all": {"immich_system_config": "dark"}},
        "immich_system_config",
        "srv",
    ),
    "forced cuda without NVIDIA": ({"host:ml": {"gpu_ml_backend_override": "cuda"}}, "gpu_ml_backend_override", "ml"),
    "forced nvenc without NVIDIA": (
        {"ml": False, "host:srv": {"immich_server_transcode_accel": "nvenc"}},
        "immich_server_transcode_accel",
        "srv",
    ),
    "CPU without x86-64-v2": ({"host:ml": {"gpu_facts_root": "/opt/val-cpu"}}, "ml_workers (group)", "ml"),
    "job worker without the export": (
        {
            "groups": {"job_workers": ["ml"], "ml_workers": []},
            "all": {"nfs_server_client_group": "nobody", "library_uid": 1000, "library_gid": 1000},
        },
        "nfs_server_client_group",
        "srv",
    ),
    "LAN mode without a default route": ({"groups": {"ml_workers": ["ml", "noroute"]}}, "mesh_lan_address", "noroute"),
    "Debian 12 host": ({"groups": {"ml_workers": ["ml", "old"]}}, "ansible_distribution", "old"),
    # rootless mode (container_engine_rootless): what rootless podman cannot do
    "rootless with container PostgreSQL": (
        {"ml": False, "all": {**ROOTLESS, "valkey_mode": "native"}},
        "postgres_mode",
        "srv",
    ),
    "rootless, library not the user's": (
        {"ml": False, "all": {**ROOTLESS, "postgres_mode": "native", "valkey_mode": "native", "library_uid": 1000}},
        "library_uid",
        "srv",
    ),
    "rootless ML port below 1024": (
        {"host:ml": {"container_engine_rootless": True, "immich_ml_port": 443}},
        "immich_ml_port",
        "ml",
    ),
    "rootless job worker": (
        {
            "groups": {"job_workers": ["ml"], "ml_workers": []},
            "all": {"library_uid": 1000, "library_gid": 1000},
            "host:ml": {"container_engine_rootless": True},
        },
        "container_engine_rootless",
        "ml",
    ),
    # --limit: the whole inventory is still checked (a mistake on a host left out of the run stops it)
    "mistake outside --limit": (
        {"limit": "ml", "host:srv": {"immich_server_port": "three"}},
        "immich_server_port",
        "srv",
    ),
    "rootless host in a day-two playbook": (
        {
            "ml": False,
            "playbook": "playbooks/upgrade.yml",
            "all": {**ROOTLESS, "postgres_mode": "native", "valkey_mode": "native"},
        },
        "container_engine_rootless",
        "srv",
    ),
    "external library inside the Immich library": (
        {
            "ml": False,
            "all": {"immich_external_libraries": [{"name": "Archive", "host_path": "/srv/immich/library/old"}]},
        },
        "immich_external_libraries[0] (Archive)",
        "srv",
    ),
}


def _podman(*args, check=True):
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=300)


@pytest.fixture(scope="module")
def fresh_hosts():
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: the bad-input tests need local test containers (make host)")
    if any(_podman("image", "exists", image, check=False).returncode != 0 for image in (IMAGE, OLD_IMAGE)):
        subprocess.run(["make", "-C", str(ROOT), "image"], check=True, timeout=900)
    try:
        for name, container in HOSTS.items():
            network = ["--network", "none"] if name == "noroute" else []
            _podman("run", "-d", "--name", container, "--privileged", *network, OLD_IMAGE if name == "old" else IMAGE)
        # a CPU tree without the x86-64-v2 flags, read by gpu_facts through gpu_facts_root (test setup, not Ansible)
        _podman(
            "exec",
            HOSTS["ml"],
            "sh",
            "-c",
            "mkdir -p /opt/val-cpu/proc /opt/val-cpu/commands && printf '%s' \"$1\" > /opt/val-cpu/proc/cpuinfo"
            " && echo x86_64 > /opt/val-cpu/commands/uname-m.txt",
            "sh",
            CPU_NO_V2,
        )
        yield HOSTS
    finally:
        for container in HOSTS.values():
            _podman("rm", "-f", "-t", "0", container, check=False)


def _inventory(change, secrets_dir):
    groups = {"immich_server": ["srv"], "ml_workers": ["ml"] if change.get("ml", True) else [], "job_workers": []}
    groups.update(change.get("groups", {}))
    everyone = {"immich_admin_email": "admin@example.com", "immich_secrets_dir": str(secrets_dir), "mesh_mode": "lan"}
    for key, value in change.get("all", {}).items():
        if value is None:
            everyone.pop(key, None)
        else:
            everyone[key] = value
    host_vars = {
        name: {
            "ansible_connection": "containers.podman.podman",
            "ansible_host": container,
            "ansible_python_interpreter": "/usr/bin/python3",
            **change.get("host:" + name, {}),
        }
        for name, container in HOSTS.items()
    }
    children = {group: {"hosts": {h: host_vars[h] for h in members}} for group, members in groups.items()}
    return {"all": {"vars": everyone, "children": children}}


def _run(playbook, change, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    secrets_dir = workdir / "secrets"
    inventory = workdir / "hosts.yml"
    inventory.write_text(yaml.safe_dump(_inventory(change, secrets_dir)))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    env.pop("ANSIBLE_CONFIG", None)
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), playbook]
    if change.get("limit"):
        cmd += ["--limit", change["limit"]]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    return {"rc": proc.returncode, "out": out, "recap": dict(RECAP.findall(out)), "secrets": secrets_dir.exists()}


@pytest.fixture(scope="module")
def results(fresh_hosts, tmp_path_factory):
    base = tmp_path_factory.mktemp("bad-input")
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = {
            name: pool.submit(_run, change.get("playbook", "site.yml"), change, base / re.sub(r"\W+", "-", name))
            for name, (change, _var, _host) in CASES.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_before_any_change(results, case):
    _change, variable, host = CASES[case]
    res = results[case]
    out = res["out"]
    assert res["rc"] != 0, out
    refusal = [line for line in out.splitlines() if line.startswith("- ") and variable in line]
    assert refusal, f"the refusal does not name {variable}:\n{out}"
    named = re.compile(r"- ([\w.-]+, )*" + re.escape(host) + "[,:]")
    assert any(named.match(line) for line in refusal), f"the refusal does not name the host {host}:\n{refusal}"
    assert all("Fix: " in line for line in refusal), refusal
    assert res["recap"], out
    assert all(changed == "0" for changed in res["recap"].values()), res["recap"]
    assert not res["secrets"], "secrets were generated before the inventory passed"


def test_good_inventory_passes(fresh_hosts, tmp_path):
    res = _run("playbooks/validate.yml", {}, tmp_path)
    assert res["rc"] == 0, res["out"]
    assert re.search(r"TASK \[Check every host's variables[^\n]*\n(ok|changed): \[\w+ -> localhost\]", res["out"]), res[
        "out"
    ]
    assert set(res["recap"]) >= {"srv", "ml"}
    assert all(changed == "0" for changed in res["recap"].values()), res["recap"]


def test_bad_oidc_issuer_is_refused_before_any_change(fresh_hosts, tmp_path):
    """immich_oidc_issuer whose discovery document is not there: validation names the variable, the
    host, the URL and the HTTP error, and nothing changes (issue 14). The 'provider' is a plain HTTP
    server on the server host that answers 404 for every path."""
    _podman(
        "exec", "-d", HOSTS["srv"], "python3", "-m", "http.server", "8099", "--bind", "127.0.0.1", "--directory", "/tmp"
    )
    issuer = "http://127.0.0.1:8099/realms/home"
    change = {
        "ml": False,
        "all": {
            "immich_oidc_issuer": issuer,
            "immich_oidc_client_id": "immich",
            "immich_oidc_client_secret": "s3cret-s3cret",
        },
    }
    for _attempt in range(30):  # until the HTTP server listens
        probe = ["exec", HOSTS["srv"], "python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 8099))"]
        if _podman(*probe, check=False).returncode == 0:
            break
        time.sleep(0.5)
    res = _run("site.yml", change, tmp_path)
    out = res["out"]
    assert res["rc"] != 0, out
    flat = " ".join(out.split())  # the callback folds long messages
    assert f"immich_oidc_issuer on srv: {issuer}/.well-known/openid-configuration answered HTTP 404" in flat, out
    assert "Set immich_oidc_issuer to the issuer URL of your provider" in flat, out
    assert res["recap"], out
    assert all(changed == "0" for changed in res["recap"].values()), res["recap"]
    assert not res["secrets"], "secrets were generated before the inventory passed"
