"""The platform table (README: "Platforms"), rendered per family against recorded facts.

Ubuntu's and Fedora's archives are not reachable from CI, so those rows are "rendered, not converged": for each
fixture of tests/fixtures/platforms/ every role's tasks/set_vars.yml picks its vars files (its own first_found or
loop, templated with the facts), the install tasks' conditions are evaluated to see which package module runs
with which package names and repository URLs, and the templates (quadlets, haproxy.cfg, nftables, units) are
rendered. Validation's platform table (validate_inventory) refuses the rows outside it, with the reason and the fix.
"""

import json
import re

import pytest
from rolerender import ROOT, RoleVars, set_vars_files, tasks

from ansible_collections.homelab.immich.plugins.action.validate_inventory import (
    SUPPORTED_PLATFORMS,
    native_mode_refusal,
    platform_refusal,
)

FIXTURES = ROOT / "tests" / "fixtures" / "platforms"
PLATFORMS = ["debian-13", "ubuntu-24.04", "fedora-42"]
INSTALLING_ROLES = [
    "backup",
    "container_engine",
    "firewall",
    "gpu",
    "mesh",
    "ml_balancer",
    "nfs_client",
    "nfs_server",
    "postgres",
    "valkey",
]
PACKAGE_MODULES = ("ansible.builtin.apt", "ansible.builtin.package", "ansible.builtin.dnf")


def facts(name, **changes):
    data = json.loads((FIXTURES / (name + ".json")).read_text())
    data = {k.removeprefix("ansible_"): v for k, v in data.items()}
    data.update(changes)
    return data


def role(name, platform, extra=None, **kwargs):
    base = {"mesh_address": "192.168.1.10"}
    base.update(extra or {})
    return RoleVars(name, facts=facts(platform), extra=base, **kwargs)


def _true(r, conditions):
    conditions = conditions if isinstance(conditions, list) else [conditions]
    return all(r.value("(" + str(c).strip() + ") | bool") is True for c in conditions)


def _module(task):
    return next((k for k in task if k.startswith(("ansible.", "community.", "containers.", "homelab."))), None)


def active(r, items, modules, conditions=()):
    """The tasks of a task list that use one of these modules and whose own and enclosing blocks' `when` hold."""
    for item in items or []:
        own = item.get("when", [])
        when = list(conditions) + (own if isinstance(own, list) else [own])
        if "block" in item:
            yield from active(r, item["block"], modules, when)
        elif _module(item) in modules and _repository_copy(item) and _true(r, when):
            yield item


def _repository_copy(task):
    """copy tasks count when they write a package source (the others install the roles' own files)."""
    return _module(task) != "ansible.builtin.copy" or "/etc/apt/" in str(task["ansible.builtin.copy"].get("dest"))


INSTALL_MODULES = (
    *PACKAGE_MODULES,
    "ansible.builtin.yum_repository",
    "ansible.builtin.get_url",
    "ansible.builtin.copy",
    "ansible.posix.seboolean",
)


def plan(name, platform, extra=None, files=("install",), modules=INSTALL_MODULES):
    """What the role's task files do on this platform: [(module, arguments templated, task)] of the tasks that run."""
    r = role(name, platform, extra)
    out = []
    for f in files:
        for t in active(r, tasks(f"roles/{name}/tasks/{f}.yml"), modules):
            module = _module(t)
            args = t[module] if isinstance(t[module], dict) else {"_raw": t[module]}
            for item in r.templar.template(t["loop"]) if "loop" in t else [None]:
                if item is not None:
                    r.templar.available_variables = dict(r.templar.available_variables, item=item)
                out.append((module, {k: r.templar.template(v) for k, v in args.items() if k != "content"}, t))
    return out


def packages(steps, modules=PACKAGE_MODULES):
    names = []
    for module, args, _task in steps:
        if module in modules:
            names += args["name"] if isinstance(args["name"], list) else [args["name"]]
    return names


# --- the recorded facts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_fixtures_are_facts_of_the_table(platform):
    f = facts(platform)
    for key in (
        "distribution",
        "distribution_major_version",
        "distribution_version",
        "os_family",
        "pkg_mgr",
        "selinux",
    ):
        assert key in f, key
    assert platform_refusal(f) is None
    assert int(f["distribution_major_version"]) >= SUPPORTED_PLATFORMS[f["distribution"]]


def test_the_table_has_a_fixture_per_distribution():
    assert {facts(p)["distribution"] for p in PLATFORMS} == set(SUPPORTED_PLATFORMS)


# --- validation refuses what is outside the table, with the reason and the fix ----------------------------------------

REFUSED = [
    (
        "debian-13",
        {"distribution_major_version": "12", "distribution_release": "bookworm"},
        "podman (4.3) has no quadlets",
        "Debian 13",
    ),
    (
        "ubuntu-24.04",
        {"distribution_major_version": "22", "distribution_version": "22.04"},
        "podman (3.4) has no quadlets",
        "Ubuntu 24",
    ),
    (
        "fedora-42",
        {"distribution_major_version": "41", "distribution_version": "41"},
        "older than this collection supports",
        "Fedora 42",
    ),
    (
        "fedora-42",
        {"distribution": "Rocky", "distribution_major_version": "9"},
        "Rocky Linux is not in the table",
        "Fedora 42",
    ),
    (
        "fedora-42",
        {"distribution": "RedHat", "distribution_major_version": "9"},
        "Red Hat Enterprise Linux is not",
        "Debian 13",
    ),
    (
        "debian-13",
        {"distribution": "Archlinux", "distribution_major_version": "rolling"},
        "not in the table",
        "Ubuntu 24",
    ),
]


@pytest.mark.parametrize(
    ("platform", "changes", "reason", "fix"),
    REFUSED,
    ids=[f"{c[1].get('distribution', c[0])}-{c[1]['distribution_major_version']}" for c in REFUSED],
)
def test_validation_refuses_hosts_outside_the_table(platform, changes, reason, fix):
    problem, remedy = platform_refusal(facts(platform, **changes))
    assert reason in problem
    assert fix in remedy


def test_native_postgres_is_refused_on_fedora_only():
    problem, fix = native_mode_refusal(facts("fedora-42"), "postgres_mode", "native")
    assert "pg_createcluster" in problem and "postgres_mode: container" in fix
    assert native_mode_refusal(facts("fedora-42"), "postgres_mode", "container") is None
    assert native_mode_refusal(facts("ubuntu-24.04"), "postgres_mode", "native") is None


def test_gpu_preflight_installs_on_the_table_only():
    for platform, family in zip(PLATFORMS, ["apt", "apt", "dnf"]):
        assert role("gpu", platform).value("__gpu_pkg_family") == family
    rocky = dict(facts("fedora-42"), distribution="Rocky", distribution_major_version="9")
    assert RoleVars("gpu", facts=rocky).value("__gpu_pkg_family") == "unsupported"


@pytest.mark.parametrize("name", [r for r in INSTALLING_ROLES if r != "gpu"])
def test_role_preflight_admits_the_table_and_refuses_others(name):
    first = next(
        t for t in tasks(f"roles/{name}/tasks/preflight.yml") if "Refuse operating systems" in t.get("name", "")
    )
    check = first["ansible.builtin.assert"]
    for platform in PLATFORMS:
        assert role(name, platform).value(check["that"]) is True
    rocky = dict(facts("fedora-42"), distribution="Rocky", distribution_major_version="9")
    assert RoleVars(name, facts=rocky, extra={"mesh_address": "192.168.1.10"}).value(check["that"]) is False
    assert "Fedora 42" in check["fail_msg"] and "Ubuntu 24.04" in check["fail_msg"]


def test_postgres_preflight_refuses_native_on_fedora():
    check = next(t for t in tasks("roles/postgres/tasks/preflight.yml") if "native mode" in t.get("name", ""))
    that = check["ansible.builtin.assert"]["that"]
    assert role("postgres", "fedora-42", {"postgres_mode": "native"}).value(that) is False
    assert role("postgres", "fedora-42", {"postgres_mode": "container"}).value(that) is True
    assert role("postgres", "ubuntu-24.04", {"postgres_mode": "native"}).value(that) is True


# --- per-family package names: which package module runs, with what -------------------------------------------------


@pytest.mark.parametrize("name", INSTALLING_ROLES)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_one_package_manager_per_family(name, platform):
    """apt tasks run on the Debian family only; the other families' tasks (package/dnf) never run there."""
    extra = {
        "postgres_mode": "native" if platform != "fedora-42" else "container",
        "valkey_mode": "native",
        "backup_db_mode": "container",
        "nfs_server_extra_clients": ["192.168.1.0/24"],
        "ml_balancer_state": "present",
        "groups": {"ml_workers": ["w1", "w2"], "all": ["host1"]},
        "mesh_mode": "tailscale",
        "immich_gpu": NVIDIA,
        "__firewall_backend": "nftables",
    }
    modules = {m for m, _args, _task in plan(name, platform, extra)}
    if facts(platform)["os_family"] == "Debian":
        assert "ansible.builtin.dnf" not in modules and "ansible.builtin.yum_repository" not in modules
        assert not any(
            m == "ansible.builtin.package" and "other families" in t.get("name", "")
            for m, _args, t in plan(name, platform, extra)
        )
    else:
        assert "ansible.builtin.apt" not in modules


EXPECTED = {
    # role: {platform: packages of the install tasks that run}, with the extra variables of EXTRA
    "container_engine": {
        "debian-13": ["podman", "crun", "netavark", "aardvark-dns", "catatonit"],
        "ubuntu-24.04": ["podman", "crun", "netavark", "aardvark-dns", "catatonit"],
        "fedora-42": ["podman", "crun", "netavark", "aardvark-dns", "catatonit", "container-selinux"],
    },
    "firewall": {p: ["nftables"] for p in PLATFORMS},
    "ml_balancer": {p: ["haproxy"] for p in PLATFORMS},
    "nfs_client": {"debian-13": ["nfs-common"], "ubuntu-24.04": ["nfs-common"], "fedora-42": ["nfs-utils"]},
    "nfs_server": {
        "debian-13": ["nfs-kernel-server"],
        "ubuntu-24.04": ["nfs-kernel-server"],
        "fedora-42": ["nfs-utils"],
    },
    "backup": {p: ["rsync"] for p in PLATFORMS},
    "valkey": {"debian-13": ["valkey-server"], "ubuntu-24.04": ["redis-server"], "fedora-42": ["valkey"]},
    "postgres": {
        "debian-13": ["python3-psycopg", "postgresql-common", "postgresql-17", "postgresql-17-pgvector"],
        "ubuntu-24.04": ["python3-psycopg", "postgresql-common", "postgresql-16", "postgresql-16-pgvector"],
        "fedora-42": ["python3-psycopg3"],
    },
}
EXTRA = {
    "firewall": {"__firewall_backend": "nftables"},
    "ml_balancer": {"ml_balancer_state": "present"},
    "nfs_server": {"nfs_server_extra_clients": ["192.168.1.0/24"]},
    "valkey": {"valkey_mode": "native"},
    # the native mode where the distribution has it; Fedora runs PostgreSQL in a container (refused native)
    "postgres": {"postgres_mode": "native", "postgres_vector_extension": "pgvector"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_package_names_per_family(name, platform):
    extra = dict(EXTRA.get(name, {}))
    if name == "postgres" and platform == "fedora-42":
        extra["postgres_mode"] = "container"
    assert packages(plan(name, platform, extra)) == EXPECTED[name][platform]


def test_service_and_paths_per_family():
    assert role("valkey", "fedora-42").value("__valkey_service") == "valkey.service"
    assert role("valkey", "ubuntu-24.04").value("__valkey_service") == "redis-server.service"
    assert role("valkey", "debian-13").value("__valkey_service") == "valkey-server.service"
    assert (
        role("postgres", "ubuntu-24.04", {"postgres_mode": "native"}).value("__postgres_unit")
        == "postgresql@16-main.service"
    )
    for platform in PLATFORMS:
        assert role("nfs_server", platform).value("__nfs_server_services.kernel") == "nfs-server.service"
        assert (
            role("container_engine", platform)
            .value("__container_engine_quadlet_generator")
            .endswith("podman-system-generator")
        )
    assert role("backup", "fedora-42", {"backup_db_mode": "native"}).value("__backup_packages_native") == [
        "postgresql",
        "rsync",
    ]
    # native PostgreSQL on Ubuntu 24.04 is the distribution's 16 (no PGDG), VectorChord the release's matching package
    url = role("postgres", "ubuntu-24.04", {"postgres_mode": "native"}).value("postgres_vectorchord_url")
    assert url.endswith("/postgresql-16-vchord_0.4.3-1_amd64.deb"), url


# --- repositories: Tailscale, NVIDIA (driver + container toolkit), RPM Fusion -----------------------------------------


def test_tailscale_repositories():
    ubuntu = plan("mesh", "ubuntu-24.04", {"mesh_mode": "tailscale"})
    key = next(a for m, a, _task in ubuntu if m == "ansible.builtin.get_url")
    assert key["url"] == "https://pkgs.tailscale.com/stable/ubuntu/noble.noarmor.gpg"
    r = role("mesh", "ubuntu-24.04", {"mesh_mode": "tailscale"})
    source = next(
        t for t in tasks("roles/mesh/tasks/install.yml")[0]["block"] if t["name"] == "Add the Tailscale repository"
    )
    assert " ".join(r.templar.template(source["ansible.builtin.copy"]["content"]).split()) == (
        "deb [signed-by=/usr/share/keyrings/tailscale-archive-keyring.gpg]"
        " https://pkgs.tailscale.com/stable/ubuntu noble main"
    )
    assert packages(ubuntu) == ["tailscale"]
    fedora = plan("mesh", "fedora-42", {"mesh_mode": "tailscale"})
    repo = next(a for m, a, _task in fedora if m == "ansible.builtin.yum_repository")
    assert repo["baseurl"] == "https://pkgs.tailscale.com/stable/fedora/$basearch"
    assert repo["gpgkey"] == "https://pkgs.tailscale.com/stable/fedora/repo.gpg"
    assert packages(fedora) == ["tailscale"]


def gpu(vendor, driver_needed=None):
    return {"gpus": [{"vendor": vendor, "model": vendor}], "recommendation": {"driver_needed": driver_needed}}


NVIDIA = gpu("nvidia", "nvidia")
TOOLKIT = "https://nvidia.github.io/libnvidia-container/stable"


def test_nvidia_on_ubuntu_uses_the_restricted_driver_and_the_toolkit_apt_repository():
    steps = plan("gpu", "ubuntu-24.04", {"immich_gpu": NVIDIA})
    assert packages(steps) == ["nvidia-driver-570", "nvidia-container-toolkit"]
    copies = {a["dest"]: a for m, a, _task in steps if m == "ansible.builtin.copy"}
    # Ubuntu's driver is in its own archive (restricted, enabled by default): no Debian non-free source
    assert list(copies) == ["/etc/apt/sources.list.d/nvidia-container-toolkit.sources"]
    r = role("gpu", "ubuntu-24.04", {"immich_gpu": NVIDIA})
    assert r.value("__gpu_toolkit_apt_uri") == TOOLKIT + "/deb/amd64"
    assert r.value("__gpu_plan.repositories | map(attribute='name') | list") == ["nvidia-container-toolkit"]
    assert r.value("__gpu_selinux_booleans") == []
    branch = plan("gpu", "ubuntu-24.04", {"immich_gpu": NVIDIA, "gpu_nvidia_driver_branch": "580"})
    assert packages(branch)[0] == "nvidia-driver-580"


def test_nvidia_on_fedora_uses_rpm_fusion_and_the_toolkit_rpm_repository():
    steps = plan("gpu", "fedora-42", {"immich_gpu": NVIDIA})
    fusion = next(a for m, a, _task in steps if m == "ansible.builtin.dnf")
    assert fusion["name"] == [
        "https://mirrors.rpmfusion.org/free/fedora/rpmfusion-free-release-42.noarch.rpm",
        "https://mirrors.rpmfusion.org/nonfree/fedora/rpmfusion-nonfree-release-42.noarch.rpm",
    ]
    repo = next(a for m, a, _task in steps if m == "ansible.builtin.yum_repository")
    assert repo["baseurl"] == TOOLKIT + "/rpm/$basearch"
    assert repo["gpgkey"] == "https://nvidia.github.io/libnvidia-container/gpgkey"
    assert packages(steps, ("ansible.builtin.package",)) == [
        "akmod-nvidia",
        "xorg-x11-drv-nvidia-cuda",
        "nvidia-container-toolkit",
    ]
    # RPM Fusion comes before the driver that needs it
    order = [m for m, _args, _task in steps]
    assert order.index("ansible.builtin.dnf") < order.index("ansible.builtin.package")
    assert not any(m == "ansible.builtin.copy" or m == "ansible.builtin.get_url" for m in order)


def test_nvidia_on_debian_uses_non_free():
    steps = plan("gpu", "debian-13", {"immich_gpu": NVIDIA})
    assert packages(steps) == [
        "nvidia-driver",
        "firmware-misc-nonfree",
        "linux-headers-amd64",
        "nvidia-container-toolkit",
    ]
    assert "/etc/apt/sources.list.d/debian-nonfree.sources" in [a.get("dest") for m, a, _task in steps]


def test_toolkit_only_needs_no_rpm_fusion():
    """A host whose driver is there already (driver_needed: none) gets the toolkit repo, nothing from RPM Fusion."""
    steps = plan("gpu", "fedora-42", {"immich_gpu": gpu("nvidia", None)})
    assert packages(steps) == ["nvidia-container-toolkit"]
    assert "ansible.builtin.dnf" not in [m for m, _args, _task in steps]


def test_amd_needs_no_packages_and_intel_on_fedora_needs_rpm_fusion():
    for platform in PLATFORMS:
        steps = plan("gpu", platform, {"immich_gpu": gpu("amd")})
        assert packages(steps) == [], platform  # amdgpu is in the kernel, ROCm in the -rocm ML image
        assert role("gpu", platform, {"immich_gpu": gpu("amd")}).value("__gpu_groups") == ["video", "render"]
    intel = plan("gpu", "fedora-42", {"immich_gpu": gpu("intel")})
    assert packages(intel) == [
        "https://mirrors.rpmfusion.org/free/fedora/rpmfusion-free-release-42.noarch.rpm",
        "https://mirrors.rpmfusion.org/nonfree/fedora/rpmfusion-nonfree-release-42.noarch.rpm",
        "intel-media-driver",
        "intel-opencl",
    ]
    assert packages(plan("gpu", "ubuntu-24.04", {"immich_gpu": gpu("intel")})) == [
        "intel-media-va-driver-non-free",
        "intel-opencl-icd",
    ]


# --- SELinux (Fedora) ------------------------------------------------------------------------------------------------


def booleans(name, platform, extra, files):
    return [a["name"] for m, a, _task in plan(name, platform, extra, files, ("ansible.posix.seboolean",))]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_selinux_booleans_on_fedora_only(platform):
    selinux = facts(platform)["selinux"].get("status") == "enabled"
    assert selinux == (platform == "fedora-42")
    for vendor in ("nvidia", "amd", "intel"):
        got = booleans("gpu", platform, {"immich_gpu": gpu(vendor)}, ["configure"])
        assert got == (["container_use_devices"] if selinux else []), vendor
    assert booleans("gpu", platform, {"immich_gpu": {"gpus": [], "recommendation": {}}}, ["configure"]) == []
    got = booleans("ml_balancer", platform, {"ml_balancer_state": "present"}, ["configure"])
    assert got == (["haproxy_connect_any"] if selinux else [])
    assert booleans("ml_balancer", platform, {"ml_balancer_state": "absent"}, ["configure"]) == []
    assert booleans("nfs_client", platform, {}, ["install"]) == (["virt_use_nfs"] if selinux else [])


QUADLETS = [
    (
        "immich_server",
        "immich-server.container.j2",
        {"library_paths": {"media_root": "/srv/immich/library", "uid": 1000, "gid": 1000}},
    ),
    ("immich_ml", "immich-ml.container.j2", {"__immich_ml_gids": []}),
    ("postgres", "immich-postgres.container.j2", {}),
    ("valkey", "immich-valkey.container.j2", {}),
]
SYSTEM = ("/etc/localtime", "/usr/lib/", "/lib/firmware/")


@pytest.mark.parametrize(("name", "template", "extra"), QUADLETS, ids=[q[0] for q in QUADLETS])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_quadlet_volumes_are_labelled_on_fedora(platform, name, template, extra):
    text = role(name, platform, extra).render(template)
    volumes = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("Volume=")]
    assert volumes
    for volume in volumes:
        opts = volume.split(":")[2].split(",") if volume.count(":") >= 2 else []
        labelled = "z" in opts or "Z" in opts
        if volume.startswith(SYSTEM):
            assert not labelled, volume  # system files are never relabelled
        elif platform == "fedora-42":
            assert labelled, volume  # container_file_t, or the container cannot read it under enforcing SELinux


# --- the other templates render on every platform ---------------------------------------------------------------------

TEMPLATES = [
    (
        "ml_balancer",
        "haproxy.cfg.j2",
        {
            "__ml_balancer_backends": [{"name": "w1", "host": "192.168.1.21", "port": 3003, "capacity": 1}],
            "__ml_balancer_weights": [1],
        },
    ),
    ("firewall", "homelab-immich.nft.j2", {"groups": {"immich_server": ["host1"]}}),
    ("firewall", "homelab-immich-firewall.service.j2", {"groups": {"immich_server": ["host1"]}}),
    ("container_engine", "containers.conf.j2", {}),
    ("container_engine", "network.j2", {}),
    ("valkey", "valkey.conf.j2", {"valkey_mode": "native", "valkey_password": "x"}),
    ("nfs_server", "immich.exports.j2", {"nfs_server_extra_clients": ["192.168.1.0/24"]}),
]


@pytest.mark.parametrize(("name", "template", "extra"), TEMPLATES, ids=[t[1] for t in TEMPLATES])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_templates_render(platform, name, template, extra):
    text = role(name, platform, extra).render(template)
    assert "{{" not in text and "{%" not in text
    if name == "valkey":
        socket = role(name, platform, extra).value("__valkey_native_socket")
        assert re.search(r"^unixsocket " + re.escape(socket) + "$", text, re.M), text
    if template == "homelab-immich-firewall.service.j2":
        assert "/usr/sbin/nft" in text


def test_vars_files_are_picked_by_the_roles_own_rules():
    """set_vars.yml's first_found/loop, templated with the facts, picks the per-family files."""
    picked = {p: {r: [f.name for f in set_vars_files(r, facts(p))] for r in INSTALLING_ROLES} for p in PLATFORMS}
    assert picked["fedora-42"]["gpu"] == ["Fedora.yml"]
    assert picked["ubuntu-24.04"]["gpu"] == ["Ubuntu.yml"]
    assert picked["fedora-42"]["valkey"] == ["Fedora.yml"] and picked["ubuntu-24.04"]["valkey"] == ["default.yml"]
    assert picked["fedora-42"]["postgres"] == ["Fedora.yml"] and picked["ubuntu-24.04"]["postgres"] == ["Ubuntu_24.yml"]
    assert picked["fedora-42"]["mesh"] == ["default.yml", "RedHat.yml"]
    for name in ("backup", "container_engine", "nfs_client", "nfs_server"):
        assert picked["fedora-42"][name] == ["RedHat.yml"], name


def test_fedora_firewalld_admits_the_peers_of_each_port():
    """Fedora runs firewalld, which firewall_backend: auto keeps: the peers become rich rules in its default zone."""
    extra = {
        "__firewall_backend": "firewalld",
        "groups": {"immich_server": ["host1"], "job_workers": ["job1"], "all": ["host1", "job1"]},
        "firewall_immich_allowed": ["192.168.1.0/24"],
    }
    hostvars = {"host1": {"mesh_address": "192.168.1.10"}, "job1": {"mesh_address": "192.168.1.31"}}
    r = RoleVars(
        "firewall", facts=facts("fedora-42"), extra=dict(extra, mesh_address="192.168.1.10"), hostvars=hostvars
    )
    task = tasks("roles/firewall/tasks/firewalld.yml")[0]
    rules = []
    for item in r.templar.template(task["loop"]):
        r.templar.available_variables = dict(r.templar.available_variables, item=item)
        rules.append(" ".join(r.templar.template(task["ansible.posix.firewalld"]["rich_rule"]).split()))
    assert 'rule family="ipv4" source address="192.168.1.0/24" port port="2283" protocol="tcp" accept' in rules
    assert 'rule family="ipv4" source address="192.168.1.31" port port="5432" protocol="tcp" accept' in rules
