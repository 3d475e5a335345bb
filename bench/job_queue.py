"""Smart search through the real Immich job queue: 1, 2, 3 ML workers behind the balancer vs the URL list.

Starts, on one podman network (names prefixed bench-jq-): PostgreSQL + pgvector, Valkey, the real
Immich v3.1.0 server and three real Immich ML services (the test images of tests/images; `make
images` builds them). In front of each ML service, this script runs a latency proxy (asyncio, in
this process, on the network's gateway address) that gives every worker the same capacity: at most
SLOTS /predict requests at once, each holding its slot for max(LATENCY, the real ML's answer time)
-- the real ML answers each request, the proxy only makes the service time fixed and equal. HAProxy
(the host's haproxy binary) runs with the configuration rendered from the ml_balancer role's own
template and defaults.

It uploads K generated JPEGs once, then for each setup writes machineLearning.urls and
job.smartSearch.concurrency with PUT /api/system-config (read-modify-write), starts the smartSearch
queue with force (one CLIP /predict per asset) and times it until the K-th request is answered and
the queue is empty. Sizes come from the collection's filters: each worker is
ml_tuning(WORKER_CORES, WORKER_MEMORY_MB) (its slots, capacity, MACHINE_LEARNING_* environment), the
job concurrency is ml_concurrency(slots of the N workers, the immich_config role's factors), the
HAProxy weights ml_weights(capacities), the URL list ml_urls(...).

Prints assets per second per setup and the ratio to one worker, all from one run. Needs root,
podman, haproxy (apt-get install haproxy) and the project's .venv (ansible, jinja2, PyYAML):

    .venv/bin/python bench/job_queue.py [--assets 80] [--latency 0.5] [--workers 3]
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins" / "filter"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import immich_e2e  # noqa: E402  (Api, make_jpeg, multipart of the end-to-end checks)
import jinja2  # noqa: E402
import yaml  # noqa: E402
from ml import ml_concurrency, ml_tuning  # noqa: E402
from network import ml_urls, ml_weights  # noqa: E402

PREFIX = "bench-jq-"
NET = PREFIX + "net"
IMAGES = {
    "server": "localhost/immich-server:latest",
    "ml": "localhost/immich-machine-learning:latest",
    "postgres": "localhost/test-immich-postgres:latest",
    "valkey": "localhost/test-valkey:latest",
}
TEMPLATE = ROOT / "roles" / "ml_balancer" / "templates" / "haproxy.cfg.j2"
BALANCER_DEFAULTS = ROOT / "roles" / "ml_balancer" / "defaults" / "main.yml"
CONFIG_DEFAULTS = ROOT / "roles" / "immich_config" / "defaults" / "main.yml"
ADMIN = {"email": "bench@example.com", "password": "bench-admin-password-1", "name": "Bench"}
PROXY_PORT = 3100  # + worker index, on the gateway address
BALANCER_PORT = 3004
BUSY = ("active", "waiting", "delayed")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*args, check=True, timeout=120):
    res = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode:
        raise RuntimeError(f"{' '.join(args)}: rc {res.returncode}: {res.stderr.strip()[-500:]}")
    return res.stdout.strip()


def podman(*args, **kw):
    return sh("podman", *args, **kw)


# ---------------------------------------------------------------------------------------------
# latency proxy: one per worker, in an asyncio loop on a thread of this process


class LatencyProxy:
    """HTTP/1.1 proxy to one ML service; /predict holds one of `slots` for max(latency, real time)."""

    def __init__(self, name, listen_host, listen_port, upstream, latency, slots):
        self.name = name
        self.listen = (listen_host, listen_port)
        self.upstream = upstream
        self.latency = latency
        self.slots = slots
        self.sem = None
        self.reset()

    def reset(self):
        self.done = []  # completion times of answered /predict (status 200)
        self.errors = 0
        self.ml_seconds = 0.0  # time the real ML took, summed

    async def start(self):
        self.sem = asyncio.Semaphore(self.slots)
        self.server = await asyncio.start_server(self.handle, *self.listen, limit=1 << 20)

    async def read_request(self, reader):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
        hmap = {k.lower(): v for k, v in headers}
        if "content-length" in hmap:
            body = await reader.readexactly(int(hmap["content-length"]))
        elif hmap.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            body = b""
        drop = {"content-length", "transfer-encoding", "connection", "keep-alive", "host"}
        return method, path, [(k, v) for k, v in headers if k.lower() not in drop], body

    async def forward(self, method, path, headers, body):
        host, port = self.upstream
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        try:
            out = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
            out += [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {len(body)}", "", ""]
            writer.write("\r\n".join(out).encode("latin-1") + body)
            await writer.drain()
            resp = await asyncio.wait_for(reader.read(), 120)
        finally:
            writer.close()
        head, _, rest = resp.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        kept = [x for x in lines[1:] if not x.lower().startswith((b"connection:", b"keep-alive:"))]
        return status, b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""]) + rest

    async def timed_forward(self, *request):
        t0 = time.monotonic()
        result = await self.forward(*request)
        self.ml_seconds += time.monotonic() - t0
        return result

    async def handle(self, reader, writer):
        try:
            method, path, headers, body = await asyncio.wait_for(self.read_request(reader), 60)
            if path.startswith("/predict"):
                async with self.sem:
                    ml = asyncio.ensure_future(self.timed_forward(method, path, headers, body))
                    await asyncio.sleep(self.latency)
                    status, resp = await ml
                if status == 200:
                    self.done.append(time.monotonic())
                else:
                    self.errors += 1
            else:
                status, resp = await self.forward(method, path, headers, body)
            writer.write(resp)
            await writer.drain()
        except Exception:  # a broken request is an error of the run, counted
            self.errors += 1
        finally:
            writer.close()


class ProxyThread:
    def __init__(self, proxies):
        self.proxies = proxies
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            for p in proxies:
                self.loop.run_until_complete(p.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not ready.wait(15):
            raise RuntimeError("latency proxies did not start")

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# ---------------------------------------------------------------------------------------------
# HAProxy from the ml_balancer role's template


def haproxy_config(gateway, backends, weights):
    """Render roles/ml_balancer/templates/haproxy.cfg.j2 with the role's defaults."""
    params = yaml.safe_load(BALANCER_DEFAULTS.read_text())
    params.update(
        {
            "ansible_managed": "rendered by bench/job_queue.py",
            "ml_balancer_port": BALANCER_PORT,
            "ml_balancer_stats_socket": "",
            "__ml_balancer_binds": [gateway],
            "__ml_balancer_backends": backends,
            "__ml_balancer_weights": weights,
        }
    )
    # the template module's Jinja settings (trim_blocks on), so the file is what the role writes
    env = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["regex_replace"] = lambda s, pat, rep: re.sub(pat, rep, str(s))
    return env.from_string(TEMPLATE.read_text()).render(**params)


class HAProxy:
    def __init__(self, text, tmpdir, n):
        cfg = Path(tmpdir) / f"haproxy-{n}.cfg"
        cfg.write_text(text)
        sh("haproxy", "-c", "-q", "-f", str(cfg))
        self.proc = subprocess.Popen(
            ["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


# ---------------------------------------------------------------------------------------------
# containers


def cleanup():
    names = podman("ps", "-a", "--format", "{{.Names}}", check=False).split()
    for name in names:
        if name.startswith(PREFIX):
            podman("rm", "-f", "-t", "3", name, check=False)
    if subprocess.run(["podman", "network", "exists", NET]).returncode == 0:
        podman("network", "rm", "-f", NET, check=False)


def run_container(name, image, env=None, args=(), entrypoint=None):
    cmd = ["run", "-d", "--name", PREFIX + name, "--network", NET, "--no-healthcheck"]
    for k, v in (env or {}).items():
        cmd += ["-e", f"{k}={v}"]
    if entrypoint:
        cmd += ["--entrypoint", entrypoint]
    podman(*cmd, image, *args)
    return podman("inspect", PREFIX + name, "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")


def wait_http(url, expect, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if expect in resp.read().decode(errors="replace"):
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout} s")


def wait_postgres(timeout=180):
    """Ready over TCP twice in a row (the image's first start runs initdb on a socket-only server)."""
    deadline = time.monotonic() + timeout
    ok = 0
    while time.monotonic() < deadline and ok < 2:
        res = subprocess.run(
            [
                "podman",
                "exec",
                PREFIX + "postgres",
                "pg_isready",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "immich",
            ],
            capture_output=True,
        )
        ok = ok + 1 if res.returncode == 0 else 0
        time.sleep(1)
    if ok < 2:
        raise RuntimeError(f"postgres not ready within {timeout} s")


def make_jpegs(count, outdir):
    """Generate the JPEGs with immich_e2e.make_jpeg inside the ML image (which has Pillow)."""
    code = (
        "import json, sys; sys.path.insert(0, '/e2e'); from immich_e2e import make_jpeg\n"
        f"meta = []\nfor i in range({count}):\n"
        "    data, iso, _ = make_jpeg(i)\n"
        "    open(f'/out/{i:04d}.jpg', 'wb').write(data); meta.append(iso)\n"
        "json.dump(meta, open('/out/meta.json', 'w'))\n"
    )
    podman(
        "run", "--rm", "--network", "none", "--no-healthcheck", "--name", PREFIX + "jpegs",
        "-v", f"{ROOT / 'tests' / 'e2e'}:/e2e:ro", "-v", f"{outdir}:/out",
        "--entrypoint", "python", IMAGES["ml"], "-c", code,
        timeout=300,
    )  # fmt: skip
    return json.loads((Path(outdir) / "meta.json").read_text())


# ---------------------------------------------------------------------------------------------
# the run


def queue(api, name):
    for q in api.call("GET", "/queues"):
        if q["name"] == name:
            return q["statistics"]
    raise RuntimeError(f"no queue {name}")


def wait_idle(api, timeout, names=None):
    deadline = time.monotonic() + timeout
    idle = 0
    while time.monotonic() < deadline:
        stats = {q["name"]: q["statistics"] for q in api.call("GET", "/queues")}
        busy = any(s[b] for n, s in stats.items() if names is None or n in names for b in BUSY)
        idle = 0 if busy else idle + 1
        if idle >= 3:
            return stats
        time.sleep(1)
    raise RuntimeError(f"queues still busy after {timeout} s")


def set_config(api, urls, concurrency):
    """PUT /system-config: read the whole document, change what the setup needs, write it back."""
    cfg = api.call("GET", "/system-config")
    ml = cfg["machineLearning"]
    ml["enabled"] = True
    ml["urls"] = urls
    ml["availabilityChecks"] = dict(yaml.safe_load(CONFIG_DEFAULTS.read_text())["immich_config_ml_availability_checks"])
    ml["clip"]["enabled"] = True
    # only CLIP is measured: no face detection, OCR or duplicate search competing for the server
    ml["facialRecognition"]["enabled"] = False
    ml["ocr"]["enabled"] = False
    ml["duplicateDetection"]["enabled"] = False
    cfg["job"]["smartSearch"]["concurrency"] = concurrency
    api.call("PUT", "/system-config", cfg)


def measure(api, proxies, k, timeout):
    for p in proxies:
        p.reset()
    failed_before = queue(api, "smartSearch")["failed"]
    t0 = time.monotonic()
    api.call("PUT", "/jobs/smartSearch", {"command": "start", "force": True})
    deadline = t0 + timeout
    while sum(len(p.done) for p in proxies) < k:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sum(len(p.done) for p in proxies)} of {k} answered in {timeout} s")
        time.sleep(0.05)
    done = sorted(t for p in proxies for t in p.done)
    t_end = done[k - 1]
    stats = wait_idle(api, 60, names=["smartSearch"])["smartSearch"]
    return {
        "rate": k / (t_end - t0),
        "seconds": t_end - t0,
        "per_worker": [len(p.done) for p in proxies],
        "errors": sum(p.errors for p in proxies) + stats["failed"] - failed_before,
        "ml_share": sum(p.ml_seconds for p in proxies) / max(1, sum(len(p.done) for p in proxies)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets", type=int, default=80, help="K assets uploaded and re-encoded per setup (default 80)")
    ap.add_argument("--latency", type=float, default=0.5, help="seconds each /predict holds a worker slot (0.5)")
    ap.add_argument("--workers", type=int, default=3, help="measure 1..N workers (default 3)")
    ap.add_argument("--worker-cores", type=int, default=4, help="cores of each (modelled) worker for ml_tuning (4)")
    ap.add_argument("--worker-memory-mb", type=int, default=8192, help="memory of each worker for ml_tuning (8192)")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("podman"):
        sys.exit("run as root with podman")
    if not shutil.which("haproxy"):
        sys.exit("haproxy is not installed: apt-get install haproxy")
    missing = [i for i in IMAGES.values() if subprocess.run(["podman", "image", "exists", i]).returncode]
    if missing:
        sys.exit(f"missing images (make images): {missing}")

    tuning = ml_tuning(args.worker_cores, args.worker_memory_mb)
    slots, capacity = tuning["slots"], tuning["capacity"]
    factors = yaml.safe_load(CONFIG_DEFAULTS.read_text())
    conc_max = factors["immich_config_ml_concurrency_max"]
    factors = factors["immich_config_ml_concurrency_factors"]

    cleanup()
    results = {}
    haproxy = proxy_thread = None
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-jq-") as tmp:
            podman("network", "create", NET)
            log("starting postgres, valkey")
            pg = run_container(
                "postgres",
                IMAGES["postgres"],
                {"POSTGRES_PASSWORD": "bench", "POSTGRES_USER": "postgres", "POSTGRES_DB": "immich"},
            )
            # with a password, as the valkey role runs it (without one, protected mode refuses the server)
            vk = run_container("valkey", IMAGES["valkey"], args=("--requirepass", "bench"))
            gateway = podman("network", "inspect", NET, "--format", "{{range .Subnets}}{{.Gateway}}{{end}}")
            log(f"starting {args.workers} ML services ({tuning['environment']})")
            ml_ips = [run_container(f"ml-{i}", IMAGES["ml"], tuning["environment"]) for i in range(args.workers)]
            jpegs = Path(tmp) / "jpegs"
            jpegs.mkdir()
            dates = make_jpegs(args.assets, jpegs)
            wait_postgres()
            log("starting immich-server")
            srv = run_container(
                "server",
                IMAGES["server"],
                {
                    "DB_HOSTNAME": pg,
                    "DB_USERNAME": "postgres",
                    "DB_PASSWORD": "bench",
                    "DB_DATABASE_NAME": "immich",
                    "DB_VECTOR_EXTENSION": "pgvector",
                    "REDIS_HOSTNAME": vk,
                    "REDIS_PASSWORD": "bench",
                    "IMMICH_ALLOW_SETUP": "true",
                },
            )
            for ip in ml_ips:
                wait_http(f"http://{ip}:3003/ping", "pong", 180, "ML")
            proxies = [
                LatencyProxy(f"worker{i}", gateway, PROXY_PORT + i, (ip, 3003), args.latency, slots)
                for i, ip in enumerate(ml_ips)
            ]
            proxy_thread = ProxyThread(proxies)
            worker_urls = [f"http://{gateway}:{PROXY_PORT + i}" for i in range(args.workers)]
            balancer_url = f"http://{gateway}:{BALANCER_PORT}"
            base = f"http://{srv}:2283"
            wait_http(base + "/api/server/ping", "pong", 300, "immich-server")

            api = immich_e2e.Api(base)
            api.call("POST", "/auth/admin-sign-up", ADMIN)
            api.login(ADMIN["email"], ADMIN["password"])
            weights = ml_weights([capacity] * args.workers)
            backends = [
                {"name": f"worker{i}", "host": gateway, "port": PROXY_PORT + i, "capacity": capacity}
                for i in range(args.workers)
            ]
            cfg_text = haproxy_config(gateway, backends, weights)
            haproxy = HAProxy(cfg_text, tmp, args.workers)
            wait_http(balancer_url + "/ping", "pong", 30, "haproxy")
            set_config(
                api,
                [balancer_url],
                ml_concurrency([slots] * args.workers, factors, conc_max)["smartSearch"]["concurrency"],
            )
            log(f"uploading {args.assets} assets")
            for i, iso in enumerate(dates):
                body, ctype = immich_e2e.multipart(
                    {
                        "deviceAssetId": f"bench-{i:04d}",
                        "deviceId": "bench-jq",
                        "fileCreatedAt": iso,
                        "fileModifiedAt": iso,
                    },
                    f"bench-{i:04d}.jpg",
                    (jpegs / f"{i:04d}.jpg").read_bytes(),
                )
                api.call("POST", "/assets", raw=body, content_type=ctype)
            log("waiting for metadata, thumbnails and the first smart search")
            deadline = time.monotonic() + 300
            while sum(len(p.done) for p in proxies) < args.assets and time.monotonic() < deadline:
                time.sleep(1)
            wait_idle(api, 300)
            log(f"first smart search: {sum(len(p.done) for p in proxies)} /predict answered")
            haproxy.stop()
            haproxy = None

            for mode in ("balancer", "list"):
                for n in range(1, args.workers + 1):
                    conc = ml_concurrency([slots] * n, factors, conc_max)["smartSearch"]["concurrency"]
                    if mode == "balancer":
                        text = haproxy_config(gateway, backends[:n], ml_weights([capacity] * n))
                        haproxy = HAProxy(text, tmp, n)
                        wait_http(balancer_url + "/ping", "pong", 30, "haproxy")
                        # what ml_urls gives for 2+ workers; for 1 the collection uses the worker
                        # directly (= the list row), the balancer row shows the balancer's own cost
                        urls = [balancer_url]
                    else:
                        urls = ml_urls(worker_urls[:n], None, None)
                    set_config(api, urls, conc)
                    time.sleep(3)  # the config reaches the microservices worker, the first /ping is done
                    log(f"{mode} {n} worker(s): urls {urls}, smartSearch concurrency {conc}")
                    r = measure(api, proxies, args.assets, timeout=max(120, 4 * args.assets * args.latency / slots))
                    r["concurrency"] = conc
                    results[(mode, n)] = r
                    log(f"  {r['rate']:.2f} assets/s, per worker {r['per_worker']}, errors {r['errors']}")
                    if haproxy:
                        haproxy.stop()
                        haproxy = None
    except Exception:
        logs = subprocess.run(["podman", "logs", "--tail", "40", PREFIX + "server"], capture_output=True, text=True)
        log(f"immich-server's last log lines:\n{logs.stdout[-4000:]}{logs.stderr[-4000:]}")
        raise
    finally:
        if haproxy:
            haproxy.stop()
        if proxy_thread:
            proxy_thread.stop()
        cleanup()

    ceiling = slots / args.latency
    print(
        f"Smart search through the real Immich v3.1.0 job queue: {args.assets} assets per setup, "
        f"each ML worker {slots} slots x {args.latency * 1000:.0f} ms per /predict "
        f"(latency proxy in front of the real ML; ceiling {ceiling:.1f} assets/s per worker)"
    )
    print(
        f"worker sizing ml_tuning({args.worker_cores} cores, {args.worker_memory_mb} MB): "
        f"slots {slots}, capacity {capacity}; smartSearch concurrency = ml_concurrency(slots, {factors})"
    )
    print(f"HAProxy: {TEMPLATE.relative_to(ROOT)} rendered with the role's defaults")
    print(
        f"{'setup':<22} {'workers':>7} {'concurrency':>11} {'seconds':>8} {'assets/s':>9} {'ratio':>6}"
        "  requests per worker  errors"
    )
    for mode, label in (("balancer", "balancer (HAProxy)"), ("list", "URL list (failover)")):
        base_rate = results[(mode, 1)]["rate"]
        for n in range(1, args.workers + 1):
            r = results[(mode, n)]
            print(
                f"{label:<22} {n:>7d} {r['concurrency']:>11d} {r['seconds']:>8.1f} {r['rate']:>9.2f} "
                f"{r['rate'] / base_rate:>5.2f}x  {'/'.join(map(str, r['per_worker'][:n])):<20} {r['errors']:>6d}"
            )
    for n in range(2, args.workers + 1):
        b, f = results[("balancer", n)]["rate"], results[("list", n)]["rate"]
        print(
            f"{n} workers / 1 worker: balancer {b / results[('balancer', 1)]['rate']:.2f}x, "
            f"URL list {f / results[('list', 1)]['rate']:.2f}x (ideal {n}.00x)"
        )
    share = max(r["ml_share"] for r in results.values())
    print(
        f"the real ML's answer time, averaged per setup: at most {share * 1000:.0f} ms "
        f"(runs inside the {args.latency * 1000:.0f} ms slot)"
    )
    print(f"total run time {time.monotonic() - start:.0f} s")
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
