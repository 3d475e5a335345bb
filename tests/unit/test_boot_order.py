"""After a reboot the mesh address (tailscale0, a DHCP lease) may come up after the containers that publish on it:
binding must not fail (ip_nonlocal_bind, set by the mesh role) and no unit may give up at systemd's start limit."""

import pytest
from rolerender import RoleVars, task

LIBRARY = {"media_root": "/srv/immich/library", "uid": 1000, "gid": 1000}


def sections(text):
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = out.setdefault(line[1:-1], [])
        elif current is not None and "=" in line and not line.startswith("#"):
            current.append(line)
    return out


QUADLETS = [
    ("postgres", "immich-postgres.container.j2", {"postgres_peers": ["192.168.1.20"], "mesh_address": "192.168.1.10"}),
    ("valkey", "immich-valkey.container.j2", {"valkey_peers": ["192.168.1.20"], "mesh_address": "192.168.1.10"}),
    ("immich_server", "immich-server.container.j2", {"mesh_address": "192.168.1.10", "library_paths": LIBRARY}),
    ("immich_ml", "immich-ml.container.j2", {"mesh_address": "192.168.1.10", "__immich_ml_gids": []}),
]


@pytest.mark.parametrize(("role", "template", "extra"), QUADLETS, ids=[q[0] for q in QUADLETS])
def test_mesh_bound_units_keep_retrying(role, template, extra):
    unit = sections(RoleVars(role, extra=extra).render(template))
    assert "StartLimitIntervalSec=0" in unit["Unit"]
    assert "Restart=always" in unit["Service"]
    restart_sec = [line for line in unit["Service"] if line.startswith("RestartSec=")]
    assert restart_sec
    assert int(restart_sec[0].split("=")[1]) >= 1


def test_mesh_role_allows_binding_the_address_before_it_exists():
    sysctl = task(
        "roles/mesh/tasks/configure.yml",
        "Let services bind the mesh address before it exists (boot order, new DHCP lease)",
    )
    assert sysctl["ansible.posix.sysctl"]["value"] == "1"
    assert sysctl["ansible.posix.sysctl"]["sysctl_set"] is True
    assert sorted(sysctl["loop"]) == ["net.ipv4.ip_nonlocal_bind", "net.ipv6.ip_nonlocal_bind"]
    role = RoleVars("mesh", extra={"mesh_mode": "tailscale", "__mesh_ipv6_sysctl": {"stat": {"exists": False}}})
    assert role.value(sysctl["when"][0]) is True
    # where IPv6 is disabled its sysctl does not exist: only the IPv4 one is set
    for item, wanted in (("net.ipv4.ip_nonlocal_bind", True), ("net.ipv6.ip_nonlocal_bind", False)):
        with_item = RoleVars("mesh", extra={"item": item, "__mesh_ipv6_sysctl": {"stat": {"exists": False}}})
        assert with_item.value(sysctl["when"][1]) is wanted
