"""The test double itself: held to the OpenAPI contract, and its container-like startup behaviour."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_immich import EXAMPLE_ADMIN
from fake_immich.__main__ import check_redis
from fake_immich.schema import OpenAPI
from fake_immich.server import load_defaults

TESTS = Path(__file__).resolve().parents[1]


def test_default_config_is_a_complete_system_config_dto():
    assert OpenAPI().errors("SystemConfigDto", load_defaults()) == []


def test_openapi_nullable_and_enums_are_enforced():
    api = OpenAPI()
    config = load_defaults()
    config["oauth"]["defaultStorageQuota"] = None  # nullable integer
    assert api.errors("SystemConfigDto", config) == []
    config["ffmpeg"]["accel"] = "cuda"
    config["image"]["preview"]["quality"] = 0
    paths = [e["path"] for e in api.errors("SystemConfigDto", config)]
    assert paths == [["ffmpeg", "accel"], ["image", "preview", "quality"]]


def test_every_answer_of_the_fake_matches_its_response_schema(fake_immich):
    """The double's answers are held to the same document as the modules' requests."""
    api = OpenAPI()
    status, user = fake_immich.call("POST", "/auth/admin-sign-up", EXAMPLE_ADMIN)
    assert status == 201 and api.errors("UserAdminResponseDto", user) == []
    credentials = {k: EXAMPLE_ADMIN[k] for k in ("email", "password")}
    status, login = fake_immich.call("POST", "/auth/login", credentials)
    assert status == 201 and api.errors("LoginResponseDto", login) == []
    bearer = {"Authorization": "Bearer " + login["accessToken"]}
    status, created = fake_immich.call("POST", "/api-keys", {"name": "k", "permissions": ["all"]}, bearer)
    assert status == 201 and api.errors("ApiKeyCreateResponseDto", created) == []
    status, queues = fake_immich.call("GET", "/queues", headers=bearer)
    assert status == 200 and all(api.errors("QueueResponseDto", q) == [] for q in queues)
    status, legacy = fake_immich.call("PUT", "/jobs/ocr", {"command": "start", "force": False}, bearer)
    assert status == 200 and api.errors("QueueResponseLegacyDto", legacy) == []
    status, logout = fake_immich.call("POST", "/auth/logout", headers=bearer)
    assert status == 200 and api.errors("LogoutResponseDto", logout) == []
    key = fake_immich.bootstrap()
    headers = {"x-api-key": key}
    for path, schema in [
        ("/server/ping", "ServerPingResponse"),
        ("/server/version", "ServerVersionResponseDto"),
        ("/server/config", "ServerConfigDto"),
        ("/system-config", "SystemConfigDto"),
        ("/system-config/defaults", "SystemConfigDto"),
        ("/queues/smartSearch", "QueueResponseDto"),
        ("/jobs", "QueuesResponseLegacyDto"),
    ]:
        status, body = fake_immich.call("GET", path, headers=headers)
        assert status == 200, path
        assert api.errors(schema, body) == [], path
    status, keys = fake_immich.call("GET", "/api-keys", headers=headers)
    assert status == 200 and all(api.errors("ApiKeyResponseDto", k) == [] for k in keys)
    status, user = fake_immich.call("GET", "/server/config")
    assert user["isInitialized"] is True


def test_real_server_answers(fake_immich):
    status, body = fake_immich.call("GET", "/system-config")
    assert (status, body["message"]) == (401, "Authentication required")
    status, body = fake_immich.call("GET", "/system-config", headers={"x-api-key": "nope"})
    assert (status, body["message"]) == (401, "Invalid API key")
    assert fake_immich.call("POST", "/auth/admin-sign-up", EXAMPLE_ADMIN)[0] == 201
    status, body = fake_immich.call("POST", "/auth/admin-sign-up", EXAMPLE_ADMIN)
    assert (status, body["message"]) == (400, "The server already has an admin")
    status, body = fake_immich.call("POST", "/auth/admin-sign-up", {"email": "not-an-email", "name": "x"})
    assert status == 400 and body["message"] == "Validation failed"
    assert {tuple(e["path"]) for e in body["errors"]} >= {("email",), ("password",)}
    key = fake_immich.bootstrap()
    status, body = fake_immich.call("PUT", "/system-config", {"trash": {"days": 1}}, headers={"x-api-key": key})
    assert (status, body["message"]) == (400, "Validation failed")
    assert ["backup"] in [e["path"] for e in body["errors"]]
    assert fake_immich.call("GET", "/server/version")[1] == {"major": 3, "minor": 1, "patch": 0, "prerelease": None}


def run_main(env, timeout=15):
    full = dict(os.environ, PYTHONPATH=str(TESTS), FAKE_IMMICH_ML_CHECKS="0", **env)
    return subprocess.run(
        [sys.executable, "-m", "fake_immich"], env=full, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_startup_fails_clearly_without_database(free_port):
    proc = run_main({"DB_HOSTNAME": "127.0.0.1", "DB_PORT": str(free_port), "FAKE_IMMICH_STARTUP_TIMEOUT": "1"})
    assert proc.returncode == 1
    assert "ERROR [Fake:Bootstrap] Cannot connect to the database" in proc.stdout


class RespServer(threading.Thread):
    """A minimal Redis protocol server that wants AUTH with one password, then answers PING."""

    def __init__(self, password):
        super().__init__(daemon=True)
        self.password = password
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]

    def run(self):
        while True:
            conn, _addr = self.sock.accept()
            authed = False
            data = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
                parts = [p for p in data.split(b"\r\n") if p and p[:1] not in b"*$"]
                if not parts or not data.endswith(b"\r\n") or (parts[0] == b"AUTH" and len(parts) < 2):
                    continue
                data = b""
                if parts[0] == b"AUTH":
                    authed = parts[-1].decode() == self.password
                    conn.sendall(b"+OK\r\n" if authed else b"-WRONGPASS invalid username-password pair\r\n")
                elif parts[0] == b"PING":
                    conn.sendall(b"+PONG\r\n" if authed else b"-NOAUTH Authentication required.\r\n")
            conn.close()


def test_redis_check_does_auth_and_ping(monkeypatch):
    server = RespServer("valkey-pw")
    server.start()
    monkeypatch.setenv("REDIS_HOSTNAME", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(server.port))
    monkeypatch.setenv("REDIS_PASSWORD", "valkey-pw")
    assert check_redis() == f"Redis/Valkey at 127.0.0.1:{server.port} (AUTH+PING)"
    monkeypatch.setenv("REDIS_PASSWORD", "wrong")
    with pytest.raises(ConnectionError, match="WRONGPASS"):
        check_redis()


def test_worker_mode_serves_no_api(free_port):
    env = {"FAKE_IMMICH_SKIP_DEPENDENCY_CHECKS": "1", "IMMICH_WORKERS_EXCLUDE": "api", "IMMICH_PORT": str(free_port)}
    with pytest.raises(subprocess.TimeoutExpired) as info:
        run_main(env, timeout=3)
    assert b"api excluded, no HTTP API" in info.value.stdout
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", free_port), timeout=1)


class MLHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ping" else 404)
        self.end_headers()
        self.wfile.write(b"pong")

    def log_message(self, *args):
        pass


def test_ml_urls_are_pinged_and_logged(tmp_path, free_port):
    ml = ThreadingHTTPServer(("127.0.0.1", 0), MLHandler)
    threading.Thread(target=ml.serve_forever, daemon=True).start()
    ml_url = f"http://127.0.0.1:{ml.server_address[1]}"
    config = tmp_path / "immich.json"
    config.write_text(json.dumps({"machineLearning": {"urls": [ml_url]}}))
    env = {
        "FAKE_IMMICH_SKIP_DEPENDENCY_CHECKS": "1",
        "IMMICH_PORT": str(free_port),
        "IMMICH_HOST": "127.0.0.1",
        "IMMICH_CONFIG_FILE": str(config),
        "FAKE_IMMICH_ML_CHECKS": "1",
        "FAKE_IMMICH_ML_INTERVAL": "0.5",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_immich"],
        env=dict(os.environ, PYTHONPATH=str(TESTS), **env),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline and "became healthy" not in line:
            line = proc.stdout.readline()
        assert f"Machine learning server became healthy ({ml_url})." in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        ml.shutdown()
    assert proc.returncode == 0  # SIGTERM handled like the real container's stop
