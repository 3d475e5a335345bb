"""ML throughput: HAProxy (the ml_balancer role's configuration) vs Immich's failover URL list.

Starts N = 1, 2, 3 simulated ML workers on loopback (equal fixed latency, one request at a
time each, like a worker busy on its GPU), and for each N offers the same load (a fixed number
of concurrent keep-alive clients, for a bounded time and number of requests):

  * through HAProxy, configured by rendering roles/ml_balancer/templates/haproxy.cfg.j2;
  * through a failover client that behaves like Immich's machineLearning.urls: the first URL
    whose /ping answers gets every request.

Prints requests per second and throughput(N)/throughput(1) for both. Loopback only; stops by
itself. Needs `haproxy` on PATH (Debian/Ubuntu: apt-get install haproxy) and, to render the
role's template, jinja2 (in the project's .venv); without jinja2 it uses an equivalent built-in
configuration and says so.

    python3 bench/ml_throughput.py   # or .venv/bin/python (jinja2) [--latency 0.04] [--clients 8] [--duration 4]
"""

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "roles" / "ml_balancer" / "templates" / "haproxy.cfg.j2"


class Worker:
    """A simulated ML worker: /ping -> pong, /predict -> latency seconds, one at a time."""

    def __init__(self, name, latency):
        slot = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, body):
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send("pong")

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with slot:
                    time.sleep(latency)
                self._send(json.dumps({"worker": name}))

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def haproxy_config(workers, port):
    backends = [
        {"name": f"worker{i}", "host": "127.0.0.1", "port": w.port, "capacity": 1} for i, w in enumerate(workers)
    ]
    params = {
        "ansible_managed": "rendered by bench/ml_throughput.py",
        "ml_balancer_maxconn": 256,
        "ml_balancer_timeout_connect": "5s",
        "ml_balancer_timeout_server": "10m",
        "ml_balancer_timeout_queue": "10m",
        "ml_balancer_retries": 2,
        "ml_balancer_check_interval": "1s",
        "ml_balancer_check_fall": 2,
        "ml_balancer_check_rise": 1,
        "ml_balancer_port": port,
        "ml_balancer_maxconn_per_capacity": 0,
        "__ml_balancer_binds": ["127.0.0.1"],
        "__ml_balancer_backends": backends,
        "__ml_balancer_weights": [1] * len(backends),
    }
    try:
        import jinja2
    except ImportError:
        jinja2 = None
    if jinja2 is not None and TEMPLATE.exists():
        env = jinja2.Environment(keep_trailing_newline=True)
        env.filters["regex_replace"] = lambda s, pat, rep: re.sub(pat, rep, str(s))
        text = env.from_string(TEMPLATE.read_text()).render(**params)
        source = "roles/ml_balancer/templates/haproxy.cfg.j2"
    else:
        lines = [
            "global",
            "    maxconn 256",
            "defaults",
            "    mode http",
            "    timeout connect 5s",
            "    timeout client 10m",
            "    timeout server 10m",
            "    timeout queue 10m",
            "    option http-server-close",
            "    retries 2",
            "    option redispatch 1",
            "    default-server inter 1s fall 2 rise 1",
            "frontend immich_ml",
            f"    bind 127.0.0.1:{port}",
            "    default_backend immich_ml_workers",
            "backend immich_ml_workers",
            "    balance leastconn",
            "    option httpchk GET /ping",
            "    http-check expect string pong",
        ] + [f"    server {b['name']} 127.0.0.1:{b['port']} check weight 1" for b in backends]
        text = "\n".join(lines) + "\n"
        source = "built-in equivalent (jinja2 not found)"
    if os.geteuid() != 0:  # `user haproxy` needs root
        text = re.sub(r"^\s+(user|group) haproxy\n", "", text, flags=re.M)
    return text, source


class HAProxy:
    def __init__(self, workers, tmpdir):
        self.port = free_port()
        text, self.source = haproxy_config(workers, self.port)
        cfg = Path(tmpdir) / f"haproxy-{len(workers)}.cfg"
        cfg.write_text(text)
        subprocess.run(["haproxy", "-c", "-q", "-f", str(cfg)], check=True)
        self.proc = subprocess.Popen(
            ["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if post(http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"haproxy did not come up: {self.proc.stderr.read(2000)!r}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def post(conn):
    conn.request("POST", "/predict", body=b"{}", headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status == 200 and b"worker" in body


class FailoverList:
    """Immich's behaviour: the first URL whose /ping answers gets the request (checks cached)."""

    def __init__(self, urls, interval=1.0):
        self.urls = urls
        self.healthy = list(urls)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.interval = interval
        threading.Thread(target=self._check, daemon=True).start()

    def _check(self):
        while not self.stop_event.wait(self.interval):
            ok = []
            for url in self.urls:
                host, port = url[7:].split(":")
                try:
                    c = http.client.HTTPConnection(host, int(port), timeout=2)
                    c.request("GET", "/ping")
                    if c.getresponse().read() == b"pong":
                        ok.append(url)
                    c.close()
                except OSError:
                    pass
            with self.lock:
                self.healthy = ok

    def pick(self):
        with self.lock:
            return self.healthy[0] if self.healthy else self.urls[-1]

    def stop(self):
        self.stop_event.set()


def offer_load(pick_url, clients, duration, max_requests):
    """Closed loop: `clients` threads with keep-alive connections until time or requests run out."""
    done = [0]
    errors = [0]
    lock = threading.Lock()
    deadline = time.time() + duration

    def client():
        conns = {}
        while time.time() < deadline:
            with lock:
                if done[0] + errors[0] >= max_requests:
                    return
            url = pick_url()
            if url not in conns:
                host, port = url[7:].split(":")
                conns[url] = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                ok = post(conns[url])
            except (OSError, http.client.HTTPException):
                conns.pop(url).close()
                ok = False
            with lock:
                if ok:
                    done[0] += 1
                else:
                    errors[0] += 1

    start = time.time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    return done[0] / elapsed, errors[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=float, default=0.04, help="seconds per request on a worker (default 0.04)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients = offered load (default 8)")
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per measurement (default 4)")
    ap.add_argument("--max-requests", type=int, default=5000, help="requests per measurement at most")
    ap.add_argument("--workers", type=int, default=3, help="measure 1..N workers (default 3)")
    args = ap.parse_args()
    if not shutil.which("haproxy"):
        sys.exit("haproxy is not installed: apt-get install haproxy (Debian/Ubuntu) or dnf install haproxy")

    results = {}
    source = None
    with tempfile.TemporaryDirectory(prefix="ml-bench-") as tmp:
        for n in range(1, args.workers + 1):
            workers = [Worker(f"worker{i}", args.latency) for i in range(n)]
            proxy = HAProxy(workers, tmp)
            source = proxy.source
            failover = FailoverList([w.url for w in workers])
            try:
                bal, bal_err = offer_load(lambda p=proxy: p.url, args.clients, args.duration, args.max_requests)
                fo, fo_err = offer_load(failover.pick, args.clients, args.duration, args.max_requests)
            finally:
                failover.stop()
                proxy.stop()
                for w in workers:
                    w.stop()
            results[n] = (bal, fo, bal_err + fo_err)

    print(
        f"ML throughput: {args.clients} concurrent clients, {args.latency * 1000:.0f} ms per request per worker, "
        f"{args.duration:.0f} s per measurement"
    )
    print(f"HAProxy configuration: {source}")
    print(f"{'workers':<8} {'balancer req/s':>16} {'failover req/s':>16} {'errors':>8}")
    for n, (bal, fo, err) in results.items():
        print(f"{n:<8d} {bal:16.1f} {fo:16.1f} {err:8d}")
    base_bal, base_fo = results[1][0], results[1][1]
    for n in list(results)[1:]:
        print(
            f"throughput({n} workers)/throughput(1 worker): balancer {results[n][0] / base_bal:.2f}x, "
            f"failover list {results[n][1] / base_fo:.2f}x"
        )
    return 1 if any(r[2] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
