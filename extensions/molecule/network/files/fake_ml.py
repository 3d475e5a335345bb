#!/usr/bin/env python3
"""fake_ml: stands in for immich-machine-learning in the network scenario.

GET /ping -> "pong"; POST /predict -> sleeps --latency seconds (at most --capacity requests at
a time, like a worker busy on its GPU) and answers {"worker": NAME}.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3003)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--capacity", type=int, default=1)
    ap.add_argument("--name", default="fake-ml")
    args = ap.parse_args()
    slots = threading.BoundedSemaphore(args.capacity)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, code, body, ctype):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/ping":
                self._send(200, "pong", "text/plain")
            else:
                self._send(404, "not found", "text/plain")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path != "/predict":
                self._send(404, "not found", "text/plain")
                return
            with slots:
                time.sleep(args.latency)
            self._send(200, json.dumps({"worker": args.name}), "application/json")

        def log_message(self, *_):
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("0.0.0.0", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
