"""Rootless mode (container_engine_rootless) in the quadlets: the user's quadlet directory, the containers' root is
the rootless user (the library's owner, no chown), host groups kept (GroupAdd=keep-groups: AMD /dev/kfd and /dev/dri,
the Valkey socket), NVIDIA through CDI, and no cgroup options podman cannot apply rootless on cgroup v1."""

from rolerender import RoleVars

ENGINE = {
    "rootless": True,
    "user": "immich",
    "uid": 2283,
    "home": "/var/lib/immich-podman",
    "quadlet_dir": "/var/lib/immich-podman/.config/containers/systemd",
    "podman": "/usr/local/sbin/podman-immich",
    "systemctl": "systemctl --user --machine=immich@",
    "rootless_cgroup_v1": False,
}
AMD = {
    "ml_backend": "rocm",
    "ml_image_suffix": "-rocm",
    "devices": ["/dev/kfd", "/dev/dri"],
    "groups": ["render", "video"],
}
NVIDIA = {"ml_backend": "cuda", "ml_image_suffix": "-cuda", "cdi_devices": ["nvidia.com/gpu=0"], "groups": ["video"]}


def ml(engine, rec, gids):
    extra = {
        "container_engine_facts": engine,
        "gpu_recommendation": rec,
        "mesh_address": "192.168.1.30",
        "__immich_ml_gids": gids,
    }
    role = RoleVars("immich_ml", extra=extra)
    return role, role.render("immich-ml.container.j2").splitlines()


def server(engine, socket_gids=()):
    extra = {
        "container_engine_facts": engine,
        "mesh_address": "192.168.1.30",
        "library_paths": {"uid": 2283, "gid": 2283},
        "__immich_server_socket_gids": list(socket_gids),
        "postgres_endpoint": {"unit": "postgresql@17-main.service"},
        "valkey_endpoint": {"unit": "valkey-server.service", "socket": "/run/valkey/valkey.sock"},
    }
    role = RoleVars("immich_server", extra=extra)
    return role, role.render("immich-server.container.j2").splitlines()


def test_rootless_ml_quadlet_goes_to_the_users_systemd():
    role = ml(ENGINE, {}, [])[0]
    assert role.value("__immich_ml_quadlet_dir") == "/var/lib/immich-podman/.config/containers/systemd"
    assert role.value("__immich_ml_owner") == "immich"
    role = ml({}, {}, [])[0]
    assert role.value("__immich_ml_quadlet_dir") == "/etc/containers/systemd"
    assert role.value("__immich_ml_owner") == "root"


def test_rootless_amd_keeps_the_users_device_groups():
    _role, lines = ml(ENGINE, AMD, ["992", "44"])
    assert "AddDevice=/dev/kfd" in lines and "AddDevice=/dev/dri" in lines
    assert [line for line in lines if line.startswith("GroupAdd=")] == ["GroupAdd=keep-groups"]
    _role, rootful = ml({}, AMD, ["992", "44"])
    assert [line for line in rootful if line.startswith("GroupAdd=")] == ["GroupAdd=992", "GroupAdd=44"]


def test_rootless_nvidia_uses_cdi():
    _role, lines = ml(ENGINE, NVIDIA, ["44"])
    assert "AddDevice=nvidia.com/gpu=0" in lines
    assert any(line.endswith("-cuda") for line in lines if line.startswith("Image="))


def test_cgroup_v1_rootless_disables_cgroups_and_limits():
    _role, lines = ml(dict(ENGINE, rootless_cgroup_v1=True), {}, [])
    assert "PodmanArgs=--cgroups=disabled" in lines
    assert not [line for line in lines if line.startswith("PodmanArgs=--memory")]
    _role, lines = ml(ENGINE, {}, [])
    assert any(line.startswith("PodmanArgs=--memory=") for line in lines)
    assert "PodmanArgs=--cgroups=disabled" not in lines


def test_rootless_server_maps_the_library_owner_onto_the_user():
    role, lines = server(ENGINE, socket_gids=[995])
    assert role.value("__immich_server_quadlet_dir") == "/var/lib/immich-podman/.config/containers/systemd"
    assert "User=0" in lines and "Group=0" in lines, "the container's root is the rootless user (uid 2283 on the host)"
    assert not [line for line in lines if line.startswith("UserNS=")], "keep-id copies the image"
    assert [line for line in lines if line.startswith("GroupAdd=")] == ["GroupAdd=keep-groups"]
    assert not [line for line in lines if line.startswith("Requires=")], (
        "the user's systemd cannot require system units"
    )
    assert not [line for line in lines if line.endswith(":U") or ":U," in line]


def test_rootful_server_is_unchanged():
    _role, lines = server({}, socket_gids=[995])
    assert "User=2283" in lines
    assert "GroupAdd=995" in lines
    assert "Requires=postgresql@17-main.service" in lines
