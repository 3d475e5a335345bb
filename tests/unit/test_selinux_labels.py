"""On SELinux hosts (ansible_facts.selinux.status == enabled) every data bind mount carries a label (:z/:Z),
system files are never relabelled; without SELinux the mounts stay as they were."""

import pytest
from rolerender import DEBIAN_FACTS, RoleVars

SELINUX = dict(DEBIAN_FACTS, selinux={"status": "enabled", "mode": "enforcing"})
LIBRARY = {"media_root": "/srv/immich/library", "uid": 1000, "gid": 1000}
SYSTEM = ("/etc/localtime", "/usr/lib/", "/lib/firmware/")

QUADLETS = [
    ("immich_server", "immich-server.container.j2", {"library_paths": LIBRARY, "mesh_address": "192.168.1.10"}),
    ("immich_ml", "immich-ml.container.j2", {"mesh_address": "192.168.1.10", "__immich_ml_gids": []}),
    ("postgres", "immich-postgres.container.j2", {}),
    ("valkey", "immich-valkey.container.j2", {}),
]


def volumes(role, template, facts, extra):
    text = RoleVars(role, facts=facts, extra=extra).render(template)
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("Volume=")]


def labelled(volume):
    opts = volume.split(":")[2].split(",") if volume.count(":") >= 2 else []
    return "z" in opts or "Z" in opts


@pytest.mark.parametrize(("role", "template", "extra"), QUADLETS, ids=[q[0] for q in QUADLETS])
def test_bind_mounts_are_labelled_on_selinux_hosts(role, template, extra):
    found = volumes(role, template, SELINUX, extra)
    assert found
    for volume in found:
        if volume.startswith(SYSTEM):
            assert not labelled(volume), volume
        else:
            assert labelled(volume), volume


def test_no_labels_added_without_selinux():
    found = volumes("immich_server", "immich-server.container.j2", DEBIAN_FACTS, QUADLETS[0][2])
    assert not any(labelled(v) for v in found)


# Fedora's package names, repositories and SELinux booleans, and the platform table: test_platforms.py
