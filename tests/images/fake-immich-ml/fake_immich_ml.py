"""fake_immich_ml: a test double of the Immich machine-learning service (Python stdlib only).

What the Immich server uses of the real service, and nothing more:
  GET  /ping     -> "pong" (text/plain)
  POST /predict  multipart/form-data with `entries` (JSON: which tasks and models) and `image` (file) or
                 `text` (str); answers the JSON shape the server reads (clip embedding as a JSON string,
                 facial-recognition faces, ocr), after a fixed latency FAKE_ML_LATENCY_MS.
Fake-only: every response carries the header X-Fake-ML-Instance (FAKE_ML_INSTANCE, default the
hostname) so a test can tell which worker answered; GET /_fake/stats returns request counters.
At startup it logs the execution-provider line the real service logs when it loads a model,
derived from the devices it can see (/dev/nvidia* or a CDI/NVIDIA env -> CUDA, /dev/kfd -> ROCm).
"""

import email.parser
import email.policy
import glob
import json
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("fake_immich_ml")
CLIP_DIM = 512
FACE_DIM = 512


def providers(env=None, dev_glob=glob.glob):
    env = os.environ if env is None else env
    found = []
    visible = env.get("NVIDIA_VISIBLE_DEVICES", "")
    if dev_glob("/dev/nvidia[0-9]*") or (visible and visible not in ("void", "none")):
        found.append("CUDAExecutionProvider")
    if dev_glob("/dev/kfd"):
        found.append("ROCMExecutionProvider")
    found.append("CPUExecutionProvider")
    return found


def embedding(seed, dim):
    return json.dumps([round(((seed * 31 + i * 17) % 1000) / 1000.0 - 0.5, 3) for i in range(dim)])


def parse_multipart(content_type, body):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    if not msg.is_multipart():
        raise ValueError("expected multipart/form-data")
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True) or b""
    return fields


def predict(fields):
    if "entries" not in fields:
        raise ValueError("missing form field 'entries'")
    entries = json.loads(fields["entries"].decode())
    if not isinstance(entries, dict) or not entries:
        raise ValueError("'entries' must be a non-empty JSON object")
    if ("image" in fields) == ("text" in fields):
        raise ValueError("send exactly one of 'image' and 'text'")
    seed = len(fields.get("image", fields.get("text", b"")))
    out = {}
    for task, models in entries.items():
        if not isinstance(models, dict):
            raise ValueError(f"entries.{task} must be an object")
        for model_type, cfg in models.items():
            if not isinstance(cfg, dict) or not cfg.get("modelName"):
                raise ValueError(f"entries.{task}.{model_type}.modelName is required")
        if task == "clip":
            out["clip"] = embedding(seed, CLIP_DIM)
        elif task == "facial-recognition":
            out["facial-recognition"] = [
                {
                    "boundingBox": {"x1": 10, "y1": 10, "x2": 110, "y2": 130},
                    "embedding": embedding(seed + 1, FACE_DIM),
                    "score": 0.93,
                }
            ]
        elif task == "ocr":
            out["ocr"] = {"text": [], "box": [], "boxScore": [], "textScore": []}
        else:
            raise ValueError(f"unknown task {task!r}")
    if "image" in fields:
        out["imageHeight"] = 480
        out["imageWidth"] = 640
    return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"ping": 0, "predict": 0, "errors": 0}

    def bump(self, key):
        with self.lock:
            self.counts[key] += 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-immich-ml"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log.info("%s - %s", self.address_string(), fmt % args)

    def send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Fake-ML-Instance", self.server.instance)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ping":
            self.server.stats.bump("ping")
            self.send(200, "pong", "text/plain; charset=utf-8")
        elif self.path == "/_fake/stats":
            payload = {"instance": self.server.instance, "providers": self.server.providers}
            payload.update(self.server.stats.snapshot())
            self.send(200, json.dumps(payload))
        elif self.path == "/":
            self.send(200, json.dumps({"message": "Immich ML"}))
        else:
            self.send(404, json.dumps({"detail": "Not Found"}))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/predict":
            self.send(404, json.dumps({"detail": "Not Found"}))
            return
        try:
            result = predict(parse_multipart(self.headers.get("Content-Type", ""), body))
        except (ValueError, UnicodeDecodeError) as e:
            self.server.stats.bump("errors")
            self.send(422, json.dumps({"detail": str(e)}))
            return
        time.sleep(self.server.latency)
        self.server.stats.bump("predict")
        self.send(200, json.dumps(result))


def make_server(host="0.0.0.0", port=3003, latency_ms=0, instance=None):
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.latency = latency_ms / 1000.0
    server.instance = instance or socket.gethostname()
    server.stats = Stats()
    server.providers = providers()
    return server


def main():
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s] %(levelname)-8s %(message)s", datefmt="%m/%d/%y %H:%M:%S"
    )
    host = os.environ.get("MACHINE_LEARNING_HOST", "0.0.0.0")
    port = int(os.environ.get("MACHINE_LEARNING_PORT", "3003"))
    server = make_server(
        host, port, int(os.environ.get("FAKE_ML_LATENCY_MS", "50")), os.environ.get("FAKE_ML_INSTANCE")
    )
    log.info("fake immich-machine-learning (test double) listening on %s:%d as %s", host, port, server.instance)
    for key in sorted(os.environ):
        if key.startswith("MACHINE_LEARNING_"):
            log.info("%s=%s", key, os.environ[key])
    log.info("Setting execution providers to %s, in descending order of preference", server.providers)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def _stop(*_):
    raise SystemExit(0)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, _stop)
    main()
