"""Test double of the Immich server and ML containers for the day_two scenario.

FAKE_MODE=server: GET /api/server/ping, GET /api/server/version (from FAKE_IMMICH_VERSION),
GET/PUT /api/system-config (x-api-key must equal FAKE_API_KEY; the whole document is stored).
FAKE_BROKEN=1 makes the server exit at start, as a release that does not come up would.
FAKE_MODE=ml: GET /ping -> pong; POST /predict logs the execution providers, as the real ML does.
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("FAKE_MODE", "server")
VERSION = os.environ.get("FAKE_IMMICH_VERSION", "v3.1.0")
API_KEY = os.environ.get("FAKE_API_KEY", "")
PROVIDERS = os.environ.get("FAKE_ML_PROVIDERS", "CPUExecutionProvider").split(",")
CONFIG = {
    "backup": {"database": {"enabled": True, "cronExpression": "0 02 * * *", "keepLastAmount": 14}},
    "machineLearning": {"enabled": True, "urls": ["http://immich-ml:3003"]},
}


class Handler(BaseHTTPRequestHandler):
    def _send(self, code, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self):
        if API_KEY and self.headers.get("x-api-key") == API_KEY:
            return True
        self._send(401, {"message": "Invalid API key" if self.headers.get("x-api-key") else "Authentication required"})
        return False

    def do_GET(self):
        if MODE == "ml":
            return self._send(200, "pong") if self.path == "/ping" else self._send(404, {"detail": "Not Found"})
        if self.path == "/api/server/ping":
            return self._send(200, {"res": "pong"})
        if self.path == "/api/server/version":
            major, minor, patch = (int(x) for x in VERSION.lstrip("v").split("."))
            return self._send(200, {"major": major, "minor": minor, "patch": patch, "prerelease": None})
        if self.path == "/api/system-config":
            return self._authorized() and self._send(200, CONFIG)
        return self._send(404, {"message": "Not Found"})

    def do_PUT(self):
        if self.path != "/api/system-config" or MODE != "server":
            return self._send(404, {"message": "Not Found"})
        if not self._authorized():
            return None
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if set(body) != set(CONFIG):
            return self._send(400, {"message": "Validation failed"})
        CONFIG.clear()
        CONFIG.update(body)
        return self._send(200, CONFIG)

    def do_POST(self):
        if MODE == "ml" and self.path == "/predict":
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            print(f"Setting execution providers to {PROVIDERS}, in descending order of preference", flush=True)
            return self._send(200, {})
        return self._send(404, {"message": "Not Found"})

    def log_message(self, fmt, *args):
        print(fmt % args, file=sys.stderr, flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 has no default SIGTERM action
    if os.environ.get("FAKE_BROKEN") == "1":
        print(f"fake immich {VERSION}: broken release, exiting", flush=True)
        sys.exit(1)
    port = 3003 if MODE == "ml" else 2283
    print(f"fake immich {MODE} {VERSION} listening on {port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
