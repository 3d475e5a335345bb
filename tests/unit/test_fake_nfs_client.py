"""fake_nfs_client's mount.nfs reads its command line as the real helper does (tests/fake_nfs_client)."""

import importlib.util
import types
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "fake_nfs_client" / "fake_mount_nfs.py"
spec = importlib.util.spec_from_file_location("fake_mount_nfs", SRC)
fake = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake)

# what mount(8) passes for the unit role nfs_client writes (roles/nfs_client/defaults/main.yml)
UNIT_OPTIONS = "rw,hard,_netdev,nfsvers=4.2,proto=tcp,timeo=600,retrans=2,noatime"


def test_the_nfs_client_roles_mount_is_accepted():
    host, export, mountpoint, opts = fake.parse_args(
        ["10.0.0.1:/srv/immich/library", "/srv/immich/library", "-o", UNIT_OPTIONS]
    )
    assert (host, export, mountpoint) == ("10.0.0.1", "/srv/immich/library", "/srv/immich/library")
    assert opts["nfsvers"] == "4.2" and opts["hard"] is True and not opts.get("ro")


def test_ipv6_server_and_read_only_flag():
    host, export, _mountpoint, opts = fake.parse_args(["[fd7a::1]:/lib", "/mnt", "-r", "-o", "nfsvers=4"])
    assert (host, export, opts["ro"]) == ("fd7a::1", "/lib", True)


@pytest.mark.parametrize(
    "argv",
    [
        ["10.0.0.1:/lib", "/mnt", "-o", "hard,nfsvers=3"],  # NFSv3: not this client
        ["10.0.0.1:/lib", "/mnt", "-o", "proto=udp"],
        ["10.0.0.1:/lib", "/mnt", "-o", "hard,no_such_option"],  # unknown: refused like the real helper
        ["10.0.0.1:lib", "/mnt"],  # export must be absolute
        ["10.0.0.1:/lib"],  # no mount point
    ],
)
def test_refused(argv):
    with pytest.raises(ValueError):
        fake.parse_args(argv)


def test_blocks_are_512_byte_units_of_the_space_used():
    """stat(2)'s st_blocks counts 512-byte blocks (the kernel client: space_used / 512), not libnfs' 4096."""
    ops = fake.make_operations(types.SimpleNamespace(Operations=object))
    attrs = ops._attrs(fake.NfsStat64(size=134046, used=135168, blocks=33, blksize=4096))
    assert attrs["st_size"] == 134046
    assert attrs["st_blocks"] == 135168 // 512
    assert attrs["st_blocks"] * 512 >= attrs["st_size"]  # not sparse
