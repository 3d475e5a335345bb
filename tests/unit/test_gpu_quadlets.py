"""What gpu_facts computes on the recorded fixture trees (tests/fixtures/gpu) reaches the quadlets: ARM NN mounts,
RKNN devices and security options on the ML container, rkmpp's transcode devices on immich-server."""

import importlib.util
import tempfile
from pathlib import Path

from rolerender import RoleVars

from ansible_collections.homelab.immich.plugins.module_utils import gpu as g


def _fixtures():
    script = Path(__file__).resolve().parent.parent / "fixtures" / "gpu" / "build_fixtures.py"
    spec = importlib.util.spec_from_file_location("gpu_build_fixtures_quadlets", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_all(tempfile.mkdtemp(prefix="gpu-fixtures-"), ["mali_sbc", "rockchip_rk3588"])


FIXTURES = _fixtures()


def recommendation(name):
    return g.analyze(g.gather(str(FIXTURES / name)))["recommendation"]


def ml_quadlet(name):
    extra = {"gpu_recommendation": recommendation(name), "mesh_address": "192.168.1.30", "__immich_ml_gids": []}
    return RoleVars("immich_ml", extra=extra).render("immich-ml.container.j2").splitlines()


def test_armnn_gets_the_mali_user_space_mounted():
    lines = ml_quadlet("mali_sbc")
    assert "AddDevice=/dev/mali0" in lines
    assert "Volume=/usr/lib/libmali.so:/usr/lib/libmali.so:ro" in lines
    assert any(line.startswith("Image=") and line.endswith("-armnn") for line in lines)


def test_rknn_gets_devices_and_security_options():
    rec = recommendation("rockchip_rk3588")
    lines = ml_quadlet("rockchip_rk3588")
    assert rec["ml_backend"] == "rknn"
    for opt in rec["security_opt"]:
        assert f"PodmanArgs=--security-opt={opt}" in lines
    assert "PodmanArgs=--security-opt=systempaths=unconfined" in lines
    assert "AddDevice=/dev/dri" in lines
    assert any(line.startswith("Image=") and line.endswith("-rknn") for line in lines)


def test_rkmpp_transcoding_gets_the_transcode_devices():
    rec = recommendation("rockchip_rk3588")
    assert rec["transcode_accel"] == "rkmpp"
    extra = {"gpu_recommendation": rec, "mesh_address": "192.168.1.30"}
    lines = RoleVars("immich_server", extra=extra).render("immich-server.container.j2").splitlines()
    devices = [line.split("=", 1)[1] for line in lines if line.startswith("AddDevice=")]
    assert devices == rec["transcode_devices"]
    assert "/dev/mpp_service" in devices
    assert "/dev/rga" in devices


def test_gpu_role_does_not_reboot_when_secure_boot_blocks_the_module():
    from rolerender import tasks

    handlers = {h["name"]: h for h in tasks("roles/gpu/handlers/main.yml")}
    reboot = handlers["Reboot to load the new NVIDIA kernel module"]
    assert any("driver_blocked_by_secure_boot" in cond and cond.startswith("not") for cond in reboot["when"])
    explain = handlers["Say why a reboot does not help (Secure Boot)"]
    assert "mokutil --import" in explain["ansible.builtin.debug"]["msg"]
