"""Unit tests for homelab.immich.path_state: it confirms only what it can, never changes anything."""

import hashlib
import os

from ansible_collections.homelab.immich.plugins.modules.path_state import path_ok

UID, GID = os.getuid(), os.getgid()


def _file(tmp_path, content=b"x=1\n", mode=0o640):
    p = tmp_path / "f.conf"
    p.write_bytes(content)
    p.chmod(mode)
    return p


def test_file_as_wanted(tmp_path):
    p = _file(tmp_path)
    spec = {
        "path": str(p),
        "owner": str(UID),
        "group": str(GID),
        "mode": "0640",
        "checksum": hashlib.sha1(b"x=1\n").hexdigest(),
    }
    assert path_ok(spec)


def test_file_content_mode_owner_differ(tmp_path):
    p = _file(tmp_path)
    assert not path_ok({"path": str(p), "checksum": hashlib.sha1(b"x=2\n").hexdigest()})
    assert not path_ok({"path": str(p), "mode": "0644"})
    assert not path_ok({"path": str(p), "owner": str(UID + 1)})
    assert not path_ok({"path": str(p), "group": str(GID + 1)})


def test_conservative_when_unsure(tmp_path):
    p = _file(tmp_path)
    assert not path_ok({"path": str(p), "mode": "u=rw,g=r"})  # symbolic: not confirmed
    assert not path_ok({"path": str(p), "owner": "no-such-user-here"})
    link = tmp_path / "link"
    link.symlink_to(p)
    assert not path_ok({"path": str(link)})  # a link where a file is wanted
    assert not path_ok({"path": str(tmp_path / "missing")})


def test_directory(tmp_path):
    d = tmp_path / "d"
    d.mkdir(mode=0o750)
    d.chmod(0o750)
    assert path_ok({"path": str(d), "state": "directory", "mode": "0750", "owner": str(UID), "group": str(GID)})
    assert not path_ok({"path": str(d), "state": "directory", "mode": "0755"})
    assert not path_ok({"path": str(d), "state": "file"})
    assert not path_ok({"path": str(_file(tmp_path)), "state": "directory"})
    link = tmp_path / "dlink"
    link.symlink_to(d)
    assert path_ok({"path": str(link), "state": "directory", "mode": "0750"})  # followed, like the file module


def test_absent(tmp_path):
    assert path_ok({"path": str(tmp_path / "missing"), "state": "absent"})
    assert not path_ok({"path": str(_file(tmp_path)), "state": "absent"})
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert not path_ok({"path": str(dangling), "state": "absent"})
