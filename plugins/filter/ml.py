# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizing helpers for the Immich machine-learning service.

``ml_tuning`` turns a host's cores, memory and VRAM (and the ML backend chosen by gpu_facts) into
the MACHINE_LEARNING_* environment of the immich-machine-learning container, a capacity (a relative
strength; the balancer weights workers by it, nothing else) and slots (how many requests the host
serves well at once: a handful). ``ml_concurrency`` turns the workers' slots into Immich's ML job
concurrency.
"""

from ansible.errors import AnsibleFilterError

# Resident memory of one gunicorn worker with the default CLIP (ViT-B-32) and face (buffalo_l)
# models loaded, plus headroom for a request: measured ~1.3 GiB on CPU, ~1.6 GiB VRAM on CUDA.
MB_PER_WORKER = 2048
VRAM_MB_PER_WORKER = 2048
MAX_WORKERS = 4
GPU_BACKENDS = ("cuda", "rocm", "openvino", "armnn", "rknn")
# Requests one ML host serves well at once: more only queue up inside it (one GPU, a few gunicorn
# workers), so every host counts for a handful at most, however strong.
MAX_SLOTS_PER_HOST = 4
# Immich's ML job concurrency above this only grows queues inside the ML hosts and holds DB connections.
MAX_CONCURRENCY = 16


def _int(value, name, minimum=0):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("ml_tuning: %s must be an integer, got %r" % (name, value)) from None
    if number < minimum:
        raise AnsibleFilterError("ml_tuning: %s must be >= %d, got %d" % (name, minimum, number))
    return number


def ml_tuning(
    cores,
    memory_mb,
    vram_mb=0,
    backend="cpu",
    role="worker",
    clip_model="ViT-B-32__openai",
    facial_model="buffalo_l",
    preload=True,
    capacity=None,
):
    """Return {environment: {MACHINE_LEARNING_*: str}, capacity: int, workers: int}.

    - CPU: one gunicorn worker (models are loaded once per worker, memory is the limit); requests
      run in parallel threads, each ONNX session gets the cores divided among them.
    - GPU: as many workers as VRAM and memory hold (max 4), few intra-op threads (the GPU does the
      work), models kept loaded (TTL 0) on a dedicated worker.
    - fallback (the CPU ML on the server): small, unloads models after 5 minutes of idleness.
    """
    cores = _int(cores, "cores", 1)
    memory_mb = _int(memory_mb, "memory_mb", 1)
    vram_mb = _int(vram_mb or 0, "vram_mb", 0)
    backend = str(backend or "cpu").lower()
    if role not in ("worker", "fallback"):
        raise AnsibleFilterError("ml_tuning: role must be worker or fallback, got %r" % (role,))
    gpu = backend in GPU_BACKENDS

    by_memory = max(1, memory_mb // MB_PER_WORKER)
    if gpu and role == "worker":
        by_vram = max(1, vram_mb // VRAM_MB_PER_WORKER) if vram_mb else 1
        workers = max(1, min(MAX_WORKERS, by_vram, by_memory, cores))
        request_threads = max(1, min(cores, 2 * workers))
        intra_op = max(1, min(2, cores // (2 * workers)))
        computed_capacity = 2 * workers
        slots = min(MAX_SLOTS_PER_HOST, 2 * workers)
    else:
        workers = 1
        # on the server the fallback shares the CPU with Postgres and immich-server
        usable = cores if role == "worker" else max(1, cores // 2)
        request_threads = max(1, min(4, usable // 2))
        intra_op = max(1, min(8, usable // request_threads))
        computed_capacity = max(1, usable // 4)
        slots = 1 if role == "fallback" else min(MAX_SLOTS_PER_HOST, request_threads)

    if role == "fallback":
        ttl = 300
    elif memory_mb < 4096:
        ttl = 60
    else:
        ttl = 0 if gpu else 600

    env = {
        "MACHINE_LEARNING_WORKERS": workers,
        "MACHINE_LEARNING_REQUEST_THREADS": request_threads,
        "MACHINE_LEARNING_MODEL_INTER_OP_THREADS": 1,
        "MACHINE_LEARNING_MODEL_INTRA_OP_THREADS": intra_op,
        "MACHINE_LEARNING_MODEL_TTL": ttl,
    }
    if preload:
        if clip_model:
            env["MACHINE_LEARNING_PRELOAD__CLIP__TEXTUAL"] = clip_model
            env["MACHINE_LEARNING_PRELOAD__CLIP__VISUAL"] = clip_model
        if facial_model:
            env["MACHINE_LEARNING_PRELOAD__FACIAL_RECOGNITION__DETECTION"] = facial_model
            env["MACHINE_LEARNING_PRELOAD__FACIAL_RECOGNITION__RECOGNITION"] = facial_model
    if capacity not in (None, "", 0, "0"):
        computed_capacity = _int(capacity, "capacity", 1)
    return {
        "environment": {k: str(v) for k, v in env.items()},
        "capacity": computed_capacity,
        "workers": workers,
        "slots": slots,
    }


def ml_concurrency(slots, factors, maximum=MAX_CONCURRENCY, per_host=MAX_SLOTS_PER_HOST):
    """Immich's ML job concurrency ``{job: {concurrency: n}}`` from what the ML hosts can serve.

    ``slots`` is the list of each ML host's slots (``immich_ml_endpoint.slots``); each counts for
    1..``per_host``; a job's concurrency is its factor x the total, at least 1 and at most ``maximum``.
    The balancer weights (capacity) play no part: a strong GPU scores ~100 there, yet serves a handful.
    """
    if isinstance(slots, (int, str)):
        slots = [slots]
    if not isinstance(slots, (list, tuple)):
        raise AnsibleFilterError("ml_concurrency: slots must be a list of integers")
    if not isinstance(factors, dict):
        raise AnsibleFilterError("ml_concurrency: factors must be a dict job -> factor")
    maximum = _int(maximum, "maximum", 1)
    per_host = _int(per_host, "per_host", 1)
    total = sum(min(per_host, _int(s, "slots", 1)) for s in slots) or 1
    return {
        str(name): {"concurrency": max(1, min(maximum, _int(factor, "factor", 0) * total))}
        for name, factor in factors.items()
    }


def ml_worker_slots(workers, hostvars, unknown=2, known=None):
    """What each ML worker serves at once: its ``immich_ml_endpoint.slots`` fact when it ran in this
    play, else its inventory ``immich_ml_slots`` (when above 0), else what it reported on an earlier
    run (``known``: host -> slots, remembered on the server), else ``unknown`` (a worker never seen).
    So a run with --limit computes the same concurrency as a run over every host."""
    known = known if isinstance(known, dict) else {}
    out = []
    for host in workers:
        host_vars = hostvars[host]
        endpoint = host_vars.get("immich_ml_endpoint") or {}
        slots = endpoint.get("slots") if isinstance(endpoint, dict) else None
        if slots in (None, ""):
            slots = host_vars.get("immich_ml_slots")
            if slots not in (None, "") and _int(slots, "immich_ml_slots of %s" % host, 0) == 0:
                slots = None
        if slots in (None, ""):
            slots = known.get(host)
        out.append(_int(unknown if slots in (None, "") else slots, "slots of %s" % host, 1))
    return out


class FilterModule:
    def filters(self):
        return {"ml_tuning": ml_tuning, "ml_concurrency": ml_concurrency, "ml_worker_slots": ml_worker_slots}
