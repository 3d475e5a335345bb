"""Unit tests for the ML sizing filter (plugins/filter/ml.py)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.immich.plugins.filter.ml import FilterModule, ml_concurrency, ml_tuning


def env(result):
    return result["environment"]


def test_filter_is_registered():
    assert FilterModule().filters()["ml_tuning"] is ml_tuning


def test_cpu_worker_four_cores():
    r = ml_tuning(4, 8192)
    assert env(r)["MACHINE_LEARNING_WORKERS"] == "1"
    assert env(r)["MACHINE_LEARNING_REQUEST_THREADS"] == "2"
    assert env(r)["MACHINE_LEARNING_MODEL_INTER_OP_THREADS"] == "1"
    assert env(r)["MACHINE_LEARNING_MODEL_INTRA_OP_THREADS"] == "2"
    assert env(r)["MACHINE_LEARNING_MODEL_TTL"] == "600"
    assert r["capacity"] == 1


def test_cpu_worker_many_cores_caps_threads():
    r = ml_tuning(32, 65536)
    assert env(r)["MACHINE_LEARNING_REQUEST_THREADS"] == "4"
    assert env(r)["MACHINE_LEARNING_MODEL_INTRA_OP_THREADS"] == "8"
    assert r["capacity"] == 8


def test_single_core_small_memory():
    r = ml_tuning(1, 1024)
    assert env(r)["MACHINE_LEARNING_REQUEST_THREADS"] == "1"
    assert env(r)["MACHINE_LEARNING_MODEL_INTRA_OP_THREADS"] == "1"
    assert env(r)["MACHINE_LEARNING_MODEL_TTL"] == "60"
    assert r["capacity"] == 1


def test_fallback_uses_half_the_cores_and_unloads():
    r = ml_tuning(8, 16384, role="fallback")
    assert env(r)["MACHINE_LEARNING_REQUEST_THREADS"] == "2"
    assert env(r)["MACHINE_LEARNING_MODEL_INTRA_OP_THREADS"] == "2"
    assert env(r)["MACHINE_LEARNING_MODEL_TTL"] == "300"
    assert r["capacity"] == 1


def test_fallback_on_gpu_host_stays_cpu_sized():
    r = ml_tuning(8, 16384, vram_mb=24576, backend="cuda", role="fallback")
    assert r["workers"] == 1


@pytest.mark.parametrize(
    ("vram", "memory", "cores", "workers"),
    [(8192, 32768, 16, 4), (4096, 32768, 16, 2), (24576, 4096, 16, 2), (24576, 32768, 2, 2), (0, 32768, 16, 1)],
)
def test_gpu_workers_bounded_by_vram_memory_cores(vram, memory, cores, workers):
    r = ml_tuning(cores, memory, vram_mb=vram, backend="cuda")
    assert r["workers"] == workers
    assert env(r)["MACHINE_LEARNING_WORKERS"] == str(workers)
    assert r["capacity"] == 2 * workers
    assert env(r)["MACHINE_LEARNING_MODEL_TTL"] == "0"


def test_preload_models():
    e = env(ml_tuning(4, 8192, clip_model="ViT-B-16-SigLIP__webli", facial_model="antelopev2"))
    assert e["MACHINE_LEARNING_PRELOAD__CLIP__TEXTUAL"] == "ViT-B-16-SigLIP__webli"
    assert e["MACHINE_LEARNING_PRELOAD__CLIP__VISUAL"] == "ViT-B-16-SigLIP__webli"
    assert e["MACHINE_LEARNING_PRELOAD__FACIAL_RECOGNITION__DETECTION"] == "antelopev2"
    assert e["MACHINE_LEARNING_PRELOAD__FACIAL_RECOGNITION__RECOGNITION"] == "antelopev2"


def test_no_preload():
    e = env(ml_tuning(4, 8192, preload=False))
    assert not any(k.startswith("MACHINE_LEARNING_PRELOAD") for k in e)


def test_capacity_override_from_gpu_recommendation():
    assert ml_tuning(4, 8192, capacity=3)["capacity"] == 3
    assert ml_tuning(4, 8192, capacity="")["capacity"] == 1


def test_values_are_strings_for_environment():
    assert all(isinstance(v, str) for v in env(ml_tuning("4", "8192", "0", None)).values())


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((0, 1024), {}), (("x", 1024), {}), ((4, 1024), {"role": "server"}), ((4, 1024), {"vram_mb": -1})],
)
def test_bad_input(args, kwargs):
    with pytest.raises(AnsibleFilterError):
        ml_tuning(*args, **kwargs)


# --- ML job concurrency: from what the workers serve, never from the balancer weights ---------------------------------

FACTORS = {"smartSearch": 2, "faceDetection": 2, "ocr": 1}


def test_gpu_worker_serves_a_handful():
    r = ml_tuning(16, 65536, vram_mb=24576, backend="cuda", capacity=108)
    assert r["capacity"] == 108  # the balancer weight stays as given
    assert 1 <= r["slots"] <= 4


def test_cpu_worker_and_fallback_slots():
    assert ml_tuning(4, 8192)["slots"] == 2
    assert ml_tuning(32, 65536)["slots"] == 4
    assert ml_tuning(8, 16384, role="fallback")["slots"] == 1


def test_concurrency_from_slots_not_capacity():
    rtx4090 = ml_tuning(16, 65536, vram_mb=24576, backend="cuda", capacity=108)
    c = ml_concurrency([rtx4090["slots"]], FACTORS)
    assert c == {"smartSearch": {"concurrency": 8}, "faceDetection": {"concurrency": 8}, "ocr": {"concurrency": 4}}


def test_concurrency_counts_a_handful_per_worker_and_is_capped():
    assert ml_concurrency([100], FACTORS)["smartSearch"]["concurrency"] == 8
    assert ml_concurrency([4] * 10, FACTORS, maximum=16)["smartSearch"]["concurrency"] == 16
    assert ml_concurrency([1], FACTORS)["ocr"]["concurrency"] == 1
    assert ml_concurrency([], FACTORS)["ocr"]["concurrency"] == 1


def test_concurrency_rejects_bad_input():
    with pytest.raises(AnsibleFilterError):
        ml_concurrency("x", FACTORS)
    with pytest.raises(AnsibleFilterError):
        ml_concurrency([2], ["smartSearch"])


def test_worker_slots_from_the_fact_then_the_inventory_then_unknown():
    from ansible_collections.homelab.immich.plugins.filter.ml import ml_worker_slots

    hostvars = {
        "ran": {"immich_ml_endpoint": {"slots": 3}, "immich_ml_slots": 1},
        "limited_out": {"immich_ml_slots": 1},
        "unknown": {},
    }
    assert ml_worker_slots(["ran", "limited_out", "unknown"], hostvars, 2) == [3, 1, 2]


def test_worker_slots_left_out_by_limit_come_from_the_earlier_run():
    """A run with --limit counts what a worker reported before, so the concurrency does not change."""
    from ansible_collections.homelab.immich.plugins.filter.ml import ml_worker_slots

    hostvars = {
        "ran": {"immich_ml_endpoint": {"slots": 3}},
        "limited_out": {},
        "inventory_zero": {"immich_ml_slots": 0},
        "new": {},
    }
    known = {"ran": 5, "limited_out": 4, "inventory_zero": 1}
    assert ml_worker_slots(["ran", "limited_out", "inventory_zero", "new"], hostvars, 2, known) == [3, 4, 1, 2]
    # nothing remembered yet (first run, or the file could not be read)
    assert ml_worker_slots(["limited_out"], hostvars, 2, None) == [2]
