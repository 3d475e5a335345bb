"""Metrics (README "Metrics"): off by default; with immich_metrics_enabled the exporters are published on the mesh
address only and the firewall admits the scraping host (the server) alone to their ports."""

import re

from rolerender import RoleVars
from test_firewall_lan import FACTS

GROUPS = {"immich_server": ["srv"], "ml_workers": ["ml1"], "job_workers": ["job1"]}
HOSTVARS = {
    "srv": {"mesh_address": "192.168.1.10"},
    "ml1": {"mesh_address": "192.168.1.11"},
    "job1": {"mesh_address": "192.168.1.12"},
}


def nft(host, **extra):
    base = {"mesh_mode": "lan", "mesh_address": HOSTVARS[host]["mesh_address"], "groups": GROUPS}
    base.update(extra)
    role = RoleVars("firewall", facts=FACTS, extra=base, inventory_hostname=host, hostvars=HOSTVARS, groups=GROUPS)
    return role.render("homelab-immich.nft.j2")


def admitted(text, port):
    m = re.search(rf"set tcp_{port}_v4 \{{.*?elements = \{{ (.*?) \}}", text, re.S)
    return m.group(1) if m else None


def quadlet(**extra):
    base = {"mesh_address": "192.168.1.10"}
    base.update(extra)
    return RoleVars("immich_server", extra=base).render("immich-server.container.j2").splitlines()


def test_off_by_default():
    assert admitted(nft("srv"), 9100) is None
    assert not [line for line in quadlet() if "TELEMETRY" in line or ":8081" in line]


def test_metrics_ports_admit_the_server_only():
    for host, ports in {"srv": [9100, 8081, 8082, 8405], "ml1": [9100], "job1": [9100, 8081, 8082]}.items():
        text = nft(host, immich_metrics_enabled=True)
        for port in ports:
            assert admitted(text, port) == "192.168.1.10", (host, port)
        assert f"dport {ports[0]} counter drop" in text
    assert admitted(nft("ml1", immich_metrics_enabled=True), 8082) is None


def test_other_scraper_sources():
    text = nft("ml1", immich_metrics_enabled=True, firewall_metrics_sources=["192.168.1.5"])
    assert admitted(text, 9100) == "192.168.1.5"


def test_telemetry_published_on_the_mesh_address_for_the_workers_it_runs():
    lines = quadlet(immich_metrics_enabled=True)
    assert "Environment=IMMICH_TELEMETRY_INCLUDE=all" in lines
    assert [line for line in lines if line.startswith("PublishPort=") and ":808" in line] == [
        "PublishPort=192.168.1.10:8081:8081",
        "PublishPort=192.168.1.10:8082:8082",
    ]
    worker = quadlet(immich_metrics_enabled=True, immich_server_workers_exclude="api")
    assert [line for line in worker if line.startswith("PublishPort=")] == ["PublishPort=192.168.1.10:8082:8082"]
