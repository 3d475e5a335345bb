"""The immich-server quadlet rendered from the role's defaults (roles/immich_server)."""

from rolerender import RoleVars, tasks

LIBRARY = {"media_root": "/srv/immich/library", "thumbs": "/srv/immich/library/thumbs", "uid": 1000, "gid": 1001}


def quadlet(**extra):
    return RoleVars("immich_server", extra=extra).render("immich-server.container.j2").splitlines()


def test_server_runs_as_the_library_owner():
    lines = quadlet(library_paths=LIBRARY, mesh_address="192.168.1.10")
    assert "User=1000" in lines
    assert "Group=1001" in lines


def test_job_worker_runs_as_the_servers_library_owner():
    plays = tasks("playbooks/job_workers.yml")
    play = next(p for p in plays if p.get("hosts") == "job_workers")
    role = next(r for r in play["roles"] if r["role"] == "homelab.immich.immich_server")
    hostvars = {"server": {"library_paths": LIBRARY, "mesh_address": "192.168.1.10"}}
    extra = dict(play["vars"])
    extra.update(role["vars"])
    extra.update(
        groups={"immich_server": ["server"], "job_workers": ["worker"]},
        nfs_client_mount={"mount_point": "/srv/immich/library", "mount_unit": "srv-immich-library.mount"},
    )
    role_vars = RoleVars("immich_server", extra=extra, hostvars=hostvars, inventory_hostname="worker")
    lines = role_vars.render("immich-server.container.j2").splitlines()
    assert "User=1000" in lines
    assert "Group=1001" in lines


def test_non_root_server_joins_the_valkey_socket_group():
    lines = quadlet(library_paths=LIBRARY, __immich_server_socket_gids=[997])
    assert "GroupAdd=997" in lines


def test_default_install_runs_immich_server_as_a_non_root_user():
    library = RoleVars("library")
    assert int(library.value("library_uid")) != 0 and int(library.value("library_gid")) != 0
    lines = quadlet()
    user = next(line for line in lines if line.startswith("User="))
    assert user != "User=0"
