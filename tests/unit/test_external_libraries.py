"""External libraries (immich_external_libraries): the filter, and what the roles render from one inventory entry."""

import subprocess
import sys
from pathlib import Path

from rolerender import RoleVars, task

from ansible_collections.homelab.immich.plugins.filter.library import external_libraries, external_library_paths

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "roles" / "nfs_server" / "files" / "immich-nfs-check"
ENTRIES = [
    {"name": "Archive", "host_path": "/srv/photos/", "exclusion_patterns": ["**/skip/**"]},
    {"name": "Scans", "host_path": "/mnt/nas/scans", "owner": "anna@example.com", "import_paths": ["/mnt/nas/scans/a"]},
    {"name": "Gone", "host_path": "/mnt/old", "state": "absent"},
]


def test_defaults_of_an_entry():
    first, second, third = external_libraries(ENTRIES, "admin@example.com")
    assert first == {
        "name": "Archive",
        "host_path": "/srv/photos",
        "owner": "admin@example.com",
        "import_paths": ["/srv/photos"],
        "exclusion_patterns": ["**/skip/**"],
        "state": "present",
    }
    assert second["owner"] == "anna@example.com" and second["import_paths"] == ["/mnt/nas/scans/a"]
    assert second["exclusion_patterns"] is None  # Immich's defaults for a new library
    assert third["state"] == "absent"


def test_only_present_libraries_are_mounted():
    assert external_library_paths(ENTRIES) == ["/srv/photos", "/mnt/nas/scans"]
    assert external_library_paths(None) == []


def test_server_quadlet_mounts_each_folder_read_only_and_requires_it():
    lines = (
        RoleVars("immich_server", extra={"immich_external_libraries": ENTRIES})
        .render("immich-server.container.j2")
        .splitlines()
    )
    assert "Volume=/srv/photos:/srv/photos:ro" in lines
    assert "Volume=/mnt/nas/scans:/mnt/nas/scans:ro" in lines
    assert "RequiresMountsFor=/srv/photos /mnt/nas/scans" in lines
    assert not any("/mnt/old" in line for line in lines)


def test_no_library_no_mount():
    text = RoleVars("immich_server").render("immich-server.container.j2")
    assert ":ro\n" not in text.replace("/etc/localtime:/etc/localtime:ro\n", "")


def nfs_server(implementation, tmp_path):
    role = RoleVars(
        "nfs_server",
        extra={
            "immich_external_libraries": ENTRIES,
            "nfs_server_implementation": implementation,
            "groups": {"job_workers": ["w1"]},
            "hostvars": {"w1": {"mesh_address": "10.0.0.2"}},
        },
    )
    text = role.render("immich.exports.j2" if implementation == "kernel" else "ganesha.conf.j2")
    path = tmp_path / implementation
    path.write_text(text)
    check = subprocess.run(
        [
            sys.executable,
            str(CHECKER),
            "exports" if implementation == "kernel" else "ganesha",
            str(path),
            "--no-path-check",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return text, check


def test_kernel_exports_the_folders_read_only(tmp_path):
    text, check = nfs_server("kernel", tmp_path)
    assert "/srv/photos 10.0.0.2(ro,sync,no_subtree_check,root_squash,anonuid=1000,anongid=1000,sec=sys)" in text
    assert "/srv/immich/library 10.0.0.2(rw," in text
    assert check.returncode == 0, check.stderr
    assert "3 export(s) valid" in check.stdout


def test_ganesha_exports_the_folders_read_only(tmp_path):
    text, check = nfs_server("ganesha", tmp_path)
    assert 'Path = "/srv/photos";' in text and 'Path = "/mnt/nas/scans";' in text
    assert text.count("Access_Type = RO;") == 2 and text.count("Access_Type = RW;") == 1
    assert check.returncode == 0, check.stderr
    assert "3 export(s) valid" in check.stdout


def test_job_worker_mounts_each_folder_read_only():
    role = RoleVars(
        "nfs_client",
        extra={
            "groups": {"immich_server": ["srv"]},
            "hostvars": {
                "srv": {"mesh_address": "10.0.0.1", "nfs_server_endpoint": {"readonly_paths": ["/srv/photos"]}}
            },
            "item": ["/srv/photos", "srv-photos"],
            # the task's own vars: the one mount template serves the library and these folders
            **task(
                "roles/nfs_client/tasks/configure.yml",
                "Write the mount units of the read-only folders (external libraries)",
            )["vars"],
        },
    )
    assert role.value("nfs_client_readonly_mounts") == ["/srv/photos"]
    text = role.render("nfs.mount.j2")
    assert "What=10.0.0.1:/srv/photos\n" in text
    assert "Where=/srv/photos\n" in text
    options = next(line for line in text.splitlines() if line.startswith("Options=")).split("=", 1)[1].split(",")
    assert "ro" in options and "hard" in options
