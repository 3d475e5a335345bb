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
    assert {
        "code": "invalid_type",
        "expected": "object",
        "path": ["backup"],
        "message": "Invalid input: expected object, received undefined",
    } in body["errors"]
    assert fake_immich.call("GET", "/server/version")[1] == {"major": 3, "minor": 1, "patch": 0, "prerelease": None}


# --- the real v3.1.0 server's contract (../shared/immich/source.md, "The fake server against the real one")


def put_config(fake, key, change):
    """PUT the current config with ``change`` applied by a function; return (status, headers, body)."""
    headers = {"x-api-key": key}
    config = fake.call("GET", "/system-config", headers=headers)[1]
    change(config)
    return fake.call_with_headers("PUT", "/system-config", config, headers)


def test_error_body_is_message_and_zod_issues_with_correlation_id_header(fake_immich):
    key = fake_immich.bootstrap()

    def bad_concurrency(config):
        config["job"]["smartSearch"]["concurrency"] = "4"

    status, headers, body = put_config(fake_immich, key, bad_concurrency)
    assert status == 400
    assert body == {
        "message": "Validation failed",
        "errors": [
            {
                "code": "invalid_type",
                "expected": "number",
                "path": ["job", "smartSearch", "concurrency"],
                "message": "Invalid input: expected number, received string",
            }
        ],
    }
    assert headers["X-Correlation-ID"]
    # other errors: the message alone; the client's correlation id comes back
    status, headers, body = fake_immich.call_with_headers("GET", "/system-config", headers={"X-Correlation-ID": "c1"})
    assert (status, body, headers["X-Correlation-ID"]) == (401, {"message": "Authentication required"}, "c1")
    status, _headers, body = fake_immich.call_with_headers("GET", "/nothing-here")
    assert (status, body) == (404, {"message": "Cannot GET /api/nothing-here"})


@pytest.mark.parametrize(
    ("path", "value", "issue"),
    [
        (("ffmpeg", "accel"), "cuda", {"code": "invalid_value", "message": 'Invalid option: expected one of "nvenc"'}),
        (("ffmpeg", "crf"), 99, {"code": "too_big", "maximum": 51, "message": "Too big: expected number to be <=51"}),
        (("job", "ocr", "concurrency"), 0, {"code": "too_small", "message": "Too small: expected number to be >=1"}),
        (("trash", "days"), 1.5, {"code": "invalid_type", "expected": "int", "message": "Invalid input: expected int"}),
        (
            ("machineLearning", "urls"),
            [],
            {"code": "too_small", "message": "Too small: expected array to have >=1 items"},
        ),
        (("map", "lightStyle"), "not a url", {"code": "invalid_format", "format": "url", "message": "Invalid URL"}),
        (("nightlyTasks", "startTime"), "7:00", {"message": "Invalid input: expected string in HH:MM format"}),
        (("oauth", "issuerUrl"), "auth.example", {"message": "Issuer URL must be an empty string or a valid URL"}),
        (("server", "externalDomain"), "photos", {"message": "External domain must be an empty string or a valid URL"}),
        (
            ("backup", "database", "cronExpression"),
            "0 25 * * *",
            {"code": "custom", "message": "Invalid cron expression. Field value (25) is out of range"},
        ),
        (("library", "scan", "cronExpression"), "daily", {"message": "Invalid cron expression. Unknown alias: dai"}),
        (
            ("integrityChecks", "missingFiles", "enabled"),
            "false",
            {"code": "invalid_type", "message": "Invalid input: expected boolean, received string"},
        ),
        (("server", "publicUsers"), "False", {"message": "Invalid input: expected boolean, received string"}),
    ],
)
def test_config_rejected_like_the_real_server(fake_immich, path, value, issue):
    key = fake_immich.bootstrap()

    def change(config):
        node = config
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    status, _headers, body = put_config(fake_immich, key, change)
    assert status == 400 and body["message"] == "Validation failed", body
    (got,) = body["errors"]
    assert got["path"] == list(path)
    for field, expected in issue.items():
        assert got[field].startswith(expected) if field == "message" else got[field] == expected, got


def test_config_accepted_and_converted_like_the_real_server(fake_immich):
    key = fake_immich.bootstrap()

    def change(config):
        config["machineLearning"]["urls"] = ["not a url", "immich-ml:3003"]  # no URL check
        config["server"]["publicUsers"] = "false"  # configBool: stored as a boolean
        config["storageTemplate"]["enabled"] = "true"
        config["ffmpeg"]["crf"] = "30"  # z.coerce.number()
        config["oauth"]["issuerUrl"] = "https://auth.example/realms/home"
        config["server"]["externalDomain"] = ""
        config["backup"]["database"]["cronExpression"] = "@weekly"
        config["storageTemplate"]["template"] = "{{y}}/{{#if album}}{{album}}{{else}}other{{/if}}/{{filename}}"

    status, _headers, body = put_config(fake_immich, key, change)
    assert status == 200, body
    stored = fake_immich.call("GET", "/system-config", headers={"x-api-key": key})[1]
    assert stored == body
    assert stored["machineLearning"]["urls"] == ["not a url", "immich-ml:3003"]
    assert stored["server"]["publicUsers"] is False and stored["storageTemplate"]["enabled"] is True
    assert stored["ffmpeg"]["crf"] == 30


@pytest.mark.parametrize("template", ["{{y}}/{{nope}}/{{filename}}", "{{y}/{{filename}}", "{{#if album}}x"])
def test_bad_storage_template_is_refused_without_errors_list(fake_immich, template):
    key = fake_immich.bootstrap()
    status, _headers, body = put_config(
        fake_immich, key, lambda config: config["storageTemplate"].update(template=template)
    )
    assert (status, body) == (400, {"message": "Invalid storage template"})


def test_real_defaults(fake_immich):
    key = fake_immich.bootstrap()
    for path in ("/system-config", "/system-config/defaults"):
        ffmpeg = fake_immich.call("GET", path, headers={"x-api-key": key})[1]["ffmpeg"]
        assert ffmpeg["accelDecode"] is True
        assert ffmpeg["realtime"]["resolutions"] == [480, 720, 1080]
        assert ffmpeg["realtime"]["videoCodecs"] == ["h264", "hevc"]
        assert ffmpeg["acceptedAudioCodecs"] == ["aac", "mp3", "opus"]


def test_users_me_needs_user_read(fake_immich):
    key = fake_immich.bootstrap(["systemConfig.read"])
    status, body = fake_immich.call("GET", "/users/me", headers={"x-api-key": key})
    assert (status, body) == (403, {"message": "Missing required permission: user.read"})
    status, body = fake_immich.call("GET", "/users/me", headers={"x-api-key": fake_immich.bootstrap()})
    assert status == 200 and body["email"] == EXAMPLE_ADMIN["email"]
    assert OpenAPI().errors("UserAdminResponseDto", body) == []


def test_job_start_runs_at_once(fake_immich):
    headers = {"x-api-key": fake_immich.bootstrap()}
    status, body = fake_immich.call("PUT", "/jobs/smartSearch", {"command": "start", "force": True}, headers)
    assert status == 200 and body["jobCounts"]["waiting"] == 0 and body["queueStatus"]["isActive"] is False
    assert fake_immich.call("PUT", "/queues/ocr", {"isPaused": True}, headers)[0] == 200
    status, body = fake_immich.call("PUT", "/jobs/ocr", {"command": "start"}, headers)
    assert status == 200 and body["jobCounts"]["waiting"] == 1  # a paused queue keeps it
    status, body = fake_immich.call("PUT", "/jobs/backgroundTask", {"command": "start"}, headers)
    assert (status, body) == (400, {"message": "Invalid job name: backgroundTask"})
    status, body = fake_immich.call("PUT", "/queues/backgroundTask", {"isPaused": True}, headers)
    assert (status, body) == (400, {"message": "The BackgroundTask queue cannot be paused"})
    status, body = fake_immich.call("PUT", "/jobs/nope", {"command": "start"}, headers)
    assert status == 400 and body["errors"][0]["code"] == "invalid_value" and body["errors"][0]["path"] == ["name"]


def test_ml_health_is_not_in_any_api(fake_immich):
    assert "ml" not in fake_immich.call("GET", "/_fake/state")[1]


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

    def wait_for(text):
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline and text not in line:
            line = proc.stdout.readline()
        return line

    try:
        line = wait_for("became healthy")
        assert (
            f"LOG [Microservices:MachineLearningRepository] Machine learning server became healthy ({ml_url})." in line
        )
        ml.shutdown()
        ml.server_close()
        line = wait_for("became unhealthy")  # at LOG level too, as the real server; nowhere else
        assert (
            f"LOG [Microservices:MachineLearningRepository] Machine learning server became unhealthy ({ml_url})."
            in line
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        ml.shutdown()
    assert proc.returncode == 0  # SIGTERM handled like the real container's stop
