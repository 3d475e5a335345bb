"""Health check of the fake ML image, as in the real image: exit 0 when GET /ping answers pong."""

import os
import sys
import urllib.request

port = os.environ.get("MACHINE_LEARNING_PORT", "3003")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
        sys.exit(0 if r.read().decode().strip() == "pong" else 1)
except Exception:
    sys.exit(1)
