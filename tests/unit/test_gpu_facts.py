"""Unit tests for homelab.immich.gpu_facts and its parsers (module_utils/gpu.py).

Fixture trees under tests/fixtures/gpu/ are reconstructed from documentation (see their _source.txt).
"""

import copy
import json
import time
from pathlib import Path

import pytest

from ansible_collections.homelab.immich.plugins.module_utils import gpu as g

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gpu"


def run_fixture(name):
    return g.analyze(g.gather(str(FIXTURES / name)))


# case -> expected backend, transcode, devices, cdi, groups, environment, driver_needed, selected, warning substrings
CASES = {
    "no_gpu": ("cpu", "disabled", [], [], [], {}, None, None, []),
    "nvidia_optimus_laptop": ("cuda", "nvenc", [], ["nvidia.com/gpu=0"], [], {}, None, 1, []),
    "two_nvidia": ("cuda", "nvenc", [], ["nvidia.com/gpu=1"], [], {}, None, 1, ["GTX 1080", "Pascal"]),
    "amd_dgpu": ("rocm", "vaapi", ["/dev/kfd", "/dev/dri/renderD128"], [], ["video", "render"], {}, None, 0, []),
    "amd_apu": (
        "rocm",
        "vaapi",
        ["/dev/kfd", "/dev/dri/renderD128"],
        [],
        ["video", "render"],
        {"HSA_OVERRIDE_GFX_VERSION": "10.3.0"},
        None,
        0,
        ["integrated GPU (APU)"],
    ),
    "intel_arc": ("openvino", "qsv", ["/dev/dri/renderD128"], [], ["video", "render"], {}, None, 0, []),
    "raspberry_pi5": ("cpu", "disabled", [], [], [], {}, None, None, ["VideoCore", "Mali"]),
    "mali_sbc": ("armnn", "disabled", ["/dev/mali0"], [], ["video"], {}, None, 0, []),
    "rockchip_rk3588": ("rknn", "rkmpp", ["/dev/dri"], [], ["video", "render"], {}, None, 0, []),
    "nvidia_unbound": ("cpu", "disabled", [], [], [], {}, "nvidia", None, ["no driver bound", "install"]),
    "nvidia_smi_missing": ("cpu", "disabled", [], [], [], {}, "nvidia", None, ["nvidia-smi is missing"]),
    "nvidia_smi_failing": ("cpu", "disabled", [], [], [], {}, None, None, ["rc 18", "version mismatch"]),
    "nvidia_rtx4090": ("cuda", "nvenc", [], ["nvidia.com/gpu=0"], [], {}, None, 0, []),
}


def test_every_fixture_has_a_case_and_a_source_note():
    dirs = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
    assert dirs == sorted(CASES)
    for d in dirs:
        assert "not recorded from a machine" in (FIXTURES / d / "_source.txt").read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_recommendation(name):
    backend, transcode, devices, cdi, groups, env, needed, selected, warn = CASES[name]
    facts = run_fixture(name)
    rec = facts["recommendation"]
    assert rec["ml_backend"] == backend
    assert rec["ml_image_suffix"] == ("" if backend == "cpu" else "-" + backend)
    assert rec["transcode_accel"] == transcode
    assert rec["devices"] == devices
    assert rec["cdi_devices"] == cdi
    assert rec["groups"] == groups
    assert rec["environment"] == env
    assert rec["driver_needed"] == needed
    assert rec["selected_gpu"] == selected
    assert rec["reason"]
    assert isinstance(rec["capacity"], int)
    assert rec["capacity"] >= 1
    text = " ".join(rec["warnings"])
    if warn:
        for fragment in warn:
            assert fragment in text, (fragment, rec["warnings"])
    else:
        assert rec["warnings"] == []
    json.dumps(facts)  # facts must be serialisable


def test_interface_keys():
    facts = run_fixture("nvidia_optimus_laptop")
    gpu_keys = {
        "vendor",
        "vendor_id",
        "device_id",
        "pci_slot",
        "model",
        "vram_mb",
        "driver",
        "driver_version",
        "compute_cap",
        "render_node",
        "card_node",
    }
    for gpu in facts["gpus"]:
        assert gpu_keys <= set(gpu)
    assert {"arch", "cores", "memory_mb", "x86_64_v2"} <= set(facts["cpu"])
    rec_keys = {
        "ml_backend",
        "ml_image_suffix",
        "reason",
        "transcode_accel",
        "devices",
        "cdi_devices",
        "groups",
        "environment",
        "driver_needed",
        "capacity",
        "selected_gpu",
        "warnings",
    }
    assert rec_keys <= set(facts["recommendation"])


def test_optimus_details():
    facts = run_fixture("nvidia_optimus_laptop")
    intel, nvidia = facts["gpus"]
    assert intel["vendor"] == "intel"
    assert intel["kind"] == "integrated"
    assert intel["model"] == "Raptor Lake-P [Iris Xe Graphics]"
    assert intel["render_node"] == "/dev/dri/renderD129"
    assert nvidia["vendor_id"] == "0x10de"
    assert nvidia["device_id"] == "0x28e0"
    assert nvidia["pci_slot"] == "0000:01:00.0"
    assert nvidia["model"] == "NVIDIA GeForce RTX 4060 Laptop GPU"
    assert nvidia["vram_mb"] == 8188
    assert nvidia["driver"] == "nvidia"
    assert nvidia["driver_version"] == "550.120"
    assert nvidia["compute_cap"] == "8.9"
    assert nvidia["card_node"] == "/dev/dri/card0"
    assert "strongest" in facts["recommendation"]["reason"]
    assert "Iris Xe" in facts["recommendation"]["reason"]


def test_two_nvidia_picks_4090_by_cdi_index():
    facts = run_fixture("two_nvidia")
    assert [gpu["cuda_index"] for gpu in facts["gpus"]] == [0, 1]
    assert facts["gpus"][1]["model"] == "NVIDIA GeForce RTX 4090"
    assert facts["recommendation"]["capacity"] > facts["gpus"][0]["capacity"]
    assert "GTX 1080" in facts["recommendation"]["reason"]


def test_amd_details():
    dgpu = run_fixture("amd_dgpu")["gpus"][0]
    assert dgpu["gfx"] == "gfx1100"
    assert dgpu["vram_mb"] == 24560
    assert dgpu["kind"] == "discrete"
    apu = run_fixture("amd_apu")["gpus"][0]
    assert apu["gfx"] == "gfx1035"
    assert apu["kind"] == "integrated"


def test_rockchip_and_pi_details():
    rk = run_fixture("rockchip_rk3588")
    assert [x["vendor"] for x in rk["gpus"]] == ["rockchip", "arm"]
    assert rk["gpus"][0]["model"] == "Rockchip RK3588 NPU"
    assert rk["recommendation"]["transcode_devices"] == ["/dev/rga", "/dev/dri", "/dev/dma_heap", "/dev/mpp_service"]
    assert rk["recommendation"]["security_opt"] == ["systempaths=unconfined", "apparmor=unconfined"]
    assert rk["cpu"]["arch"] == "aarch64"
    assert rk["cpu"]["x86_64_v2"] is None
    pi = run_fixture("raspberry_pi5")
    assert len(pi["gpus"]) == 1  # vc4-drm is the display engine of the same VideoCore
    assert pi["recommendation"]["capacity"] == 2


def test_mali_mounts_libmali():
    rec = run_fixture("mali_sbc")["recommendation"]
    assert rec["mounts"] == ["/usr/lib/libmali.so:/usr/lib/libmali.so:ro"]


def test_cpu_facts_no_gpu():
    facts = run_fixture("no_gpu")
    assert facts["gpus"] == []
    assert facts["cpu"] == {
        "arch": "x86_64",
        "cores": 4,
        "memory_mb": 15746,
        "x86_64_v2": True,
        "x86_64_v2_missing": [],
    }
    assert "no GPU" in facts["recommendation"]["reason"]


# ---- rules exercised by editing a snapshot -----------------------------------------------------


def snap_of(name):
    return g.gather(str(FIXTURES / name))


def with_smi(name, line):
    snap = snap_of(name)
    snap["nvidia_smi"] = {"rc": 0, "stdout": line + "\n", "stderr": ""}
    return g.analyze(snap)["recommendation"]


def test_blackwell_warns_but_uses_cuda():
    rec = with_smi("nvidia_rtx4090", "NVIDIA GeForce RTX 5090, 32607, 570.133.07, 12.0")
    assert rec["ml_backend"] == "cuda"
    assert any("sm_120" in w and "Blackwell" in w for w in rec["warnings"])


def test_old_driver_is_not_usable():
    rec = with_smi("nvidia_rtx4090", "NVIDIA GeForce RTX 4090, 24564, 535.183.01, 8.9")
    assert rec["ml_backend"] == "cpu"
    assert rec["driver_needed"] == "nvidia"
    assert any("older than 545" in w for w in rec["warnings"])


def test_compute_cap_below_52_is_not_usable():
    rec = with_smi("nvidia_rtx4090", "NVIDIA GeForce GTX 750 Ti, 2048, 550.54.14, 5.0")
    assert rec["ml_backend"] == "cpu"
    assert any("below 5.2" in w for w in rec["warnings"])


def test_maxwell_52_warns():
    rec = with_smi("nvidia_rtx4090", "NVIDIA GeForce GTX 980, 4096, 550.54.14, 5.2")
    assert rec["ml_backend"] == "cuda"
    assert any("Maxwell" in w for w in rec["warnings"])


def test_optimus_without_nvidia_driver_falls_back_to_openvino():
    snap = snap_of("nvidia_optimus_laptop")
    for dev in snap["pci"]:
        if dev["vendor"] == "0x10de":
            dev["driver"] = "nouveau"
    rec = g.analyze(snap)["recommendation"]
    assert rec["ml_backend"] == "openvino"
    assert rec["transcode_accel"] == "qsv"
    assert rec["devices"] == ["/dev/dri/renderD129"]
    assert rec["driver_needed"] == "nvidia"
    assert any("nouveau" in w for w in rec["warnings"])


def test_rocm_needs_kfd():
    snap = snap_of("amd_dgpu")
    snap["dev"].remove("/dev/kfd")
    rec = g.analyze(snap)["recommendation"]
    assert rec["ml_backend"] == "cpu"
    assert rec["transcode_accel"] == "vaapi"
    assert any("/dev/kfd" in w for w in rec["warnings"])


def test_x86_64_v2_missing_warns():
    snap = snap_of("no_gpu")
    snap["cpuinfo"] = snap["cpuinfo"].replace(" popcnt", "").replace(" sse4_2", "")
    facts = g.analyze(snap)
    assert facts["cpu"]["x86_64_v2"] is False
    assert facts["cpu"]["x86_64_v2_missing"] == ["popcnt", "sse4_2"]
    assert any("x86-64-v2" in w for w in facts["recommendation"]["warnings"])


def test_vfio_passthrough_is_ignored_without_driver_needed():
    snap = snap_of("nvidia_rtx4090")
    snap["pci"][-1]["driver"] = "vfio-pci"
    rec = g.analyze(snap)["recommendation"]
    assert rec["ml_backend"] == "cpu"
    assert rec["driver_needed"] is None


# ---- parsers ------------------------------------------------------------------------------------


def test_parse_nvidia_smi():
    rows = g.parse_nvidia_smi("NVIDIA GeForce RTX 4090, 24564, 550.54.14, 8.9\n\nbad line\nX, [N/A], 1, [N/A]\n")
    assert rows == [
        {"name": "NVIDIA GeForce RTX 4090", "memory_mb": 24564, "driver_version": "550.54.14", "compute_cap": "8.9"},
        {"name": "X", "memory_mb": None, "driver_version": "1", "compute_cap": None},
    ]


def test_parse_lspci_nnmm():
    out = g.parse_lspci_nnmm(
        '01:00.0 "VGA compatible controller [0300]" "NVIDIA Corporation [10de]" "AD102 [GeForce RTX 4090] [2684]" '
        '-ra1 "Micro-Star International Co., Ltd. [MSI] [1462]" "Device [5107]"\n'
        '0001:02:00.0 "3D controller [0302]" "NVIDIA Corporation [10de]" "GA100 [A100 PCIe 40GB] [20f1]"\n'
        'garbage "unterminated\n'
    )
    assert out["0000:01:00.0"] == {
        "class_name": "VGA compatible controller",
        "vendor_name": "NVIDIA Corporation",
        "device_name": "AD102 [GeForce RTX 4090]",
    }
    assert out["0001:02:00.0"]["device_name"] == "GA100 [A100 PCIe 40GB]"


def test_parse_kfd_properties():
    assert g.parse_kfd_properties("gfx_target_version 110000\nlocation_id 768\ndomain 0\n") == {
        "gfx": "gfx1100",
        "slot": "0000:03:00.0",
    }
    assert g.parse_kfd_properties("gfx_target_version 90012\nlocation_id 1024\n")["gfx"] == "gfx90c"
    assert g.parse_kfd_properties("gfx_target_version 0\n") is None


def test_nvidia_arch_and_driver_major():
    assert g.nvidia_arch("8.9") == "Ada Lovelace"
    assert g.nvidia_arch("12.0") == "Blackwell"
    assert g.nvidia_arch("6.1") == "Pascal"
    assert g.nvidia_arch("x") is None
    assert g.driver_major("550.54.14") == 550
    assert g.driver_major(None) is None


# ---- the module -------------------------------------------------------------------------------


def run_module(monkeypatch, capsys, args):
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    from ansible_collections.homelab.immich.plugins.modules import gpu_facts

    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        gpu_facts.main()
    return json.loads(capsys.readouterr().out)


def test_module_on_fixture(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, {"root": str(FIXTURES / "nvidia_unbound"), "_ansible_check_mode": True})
    assert result["changed"] is False
    rec = result["ansible_facts"]["immich_gpu"]["recommendation"]
    assert rec["ml_backend"] == "cpu"
    assert rec["driver_needed"] == "nvidia"
    assert "no driver bound" in json.dumps(result.get("warnings", []))


def test_module_on_this_host_is_fast(monkeypatch, capsys):
    start = time.time()
    result = run_module(monkeypatch, capsys, {})
    assert time.time() - start < 1.0
    rec = result["ansible_facts"]["immich_gpu"]["recommendation"]
    assert rec["ml_backend"] in g.BACKEND_SUFFIX
    assert rec["reason"]


def test_no_gpu_gathers_without_commands():
    calls = []
    snap = g.gather(str(FIXTURES / "no_gpu"), run=lambda *a: calls.append(a))
    assert snap["nvidia_smi"] is None
    assert snap["lspci"] is None
    assert calls == []


def test_snapshot_is_not_mutated_by_analyze():
    snap = snap_of("two_nvidia")
    before = copy.deepcopy(snap)
    g.analyze(snap)
    assert snap == before
