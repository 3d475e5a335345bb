"""roles/immich_config: ML job concurrency from what the workers serve (immich_ml_endpoint.slots), not from the
balancer weight (capacity), which gpu_facts puts at ~108 for an RTX 4090."""

from rolerender import RoleVars

RTX4090_WORKER = {
    "mesh_address": "192.168.1.20",
    "gpu_recommendation": {"capacity": 108, "ml_backend": "cuda"},
    "immich_ml_endpoint": {"url": "http://192.168.1.20:3003", "capacity": 108, "slots": 4},
}


def job(hostvars, workers, **extra):
    base = {"immich_config_ml_workers": workers, "mesh_address": "192.168.1.10"}
    base.update(extra)
    return RoleVars("immich_config", extra=base, hostvars=hostvars).value("__immich_config_computed.job")


def test_one_rtx4090_worker_gets_a_handful():
    got = job({"gpu1": RTX4090_WORKER}, ["gpu1"])
    assert got == {"smartSearch": {"concurrency": 8}, "faceDetection": {"concurrency": 8}, "ocr": {"concurrency": 4}}


def test_worker_not_in_this_run_counts_a_default_handful():
    got = job({"gpu1": {"mesh_address": "192.168.1.20", "gpu_recommendation": {"capacity": 108}}}, ["gpu1"])
    assert got["smartSearch"]["concurrency"] == 4


def test_many_workers_are_capped():
    hv = {f"gpu{i}": RTX4090_WORKER for i in range(6)}
    got = job(hv, list(hv))
    assert max(v["concurrency"] for v in got.values()) <= 16


def test_fallback_only():
    got = job({}, [], immich_ml_endpoint={"capacity": 2, "slots": 1})
    assert got == {"smartSearch": {"concurrency": 2}, "faceDetection": {"concurrency": 2}, "ocr": {"concurrency": 1}}
