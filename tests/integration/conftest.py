"""Fixtures: fake_immich on a free loopback port, and a runner for the modules through ansible-playbook."""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from fake_immich import EXAMPLE_ADMIN as ADMIN  # noqa: E402
from fake_immich.server import make_server  # noqa: E402


class FakeImmichHandle:
    """A running fake_immich: its base URL, its state, and plain HTTP helpers for test setup."""

    def __init__(self, server):
        self.server = server
        self.fake = server.fake
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def call(self, method, path, body=None, headers=None):
        status, _headers, answer = self.call_with_headers(method, path, body, headers)
        return status, answer

    def call_with_headers(self, method, path, body=None, headers=None):
        """(status, response headers, decoded JSON body or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/api" + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                raw = answer.read()
                return answer.status, answer.headers, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, json.loads(exc.read() or b"null")

    def requests(self):
        return self.call("GET", "/_fake/requests")[1]

    def clear_requests(self):
        self.call("DELETE", "/_fake/requests")

    def bootstrap(self, permissions=("all",)):
        """Create the admin and an API key over HTTP; return the key's secret."""
        self.call("POST", "/auth/admin-sign-up", ADMIN)
        _status, login = self.call("POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
        bearer = {"Authorization": "Bearer " + login["accessToken"]}
        _status, key = self.call("POST", "/api-keys", {"name": "test", "permissions": list(permissions)}, bearer)
        self.clear_requests()
        return key["secret"]


@pytest.fixture
def fake_immich_factory():
    servers = []

    def start(**kwargs):
        server = make_server("127.0.0.1", 0, **kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return FakeImmichHandle(server)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_immich(fake_immich_factory):
    return fake_immich_factory()


@pytest.fixture
def free_port():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def run_tasks(tmp_path):
    """Run tasks against localhost with ansible-playbook; return the list of task results."""

    def run(tasks, check=False, diff=False):
        playbook = tmp_path / "playbook.yml"
        play = {"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": tasks}
        playbook.write_text(json.dumps([play]))
        env = dict(os.environ)
        env.update(
            ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_CONFIG=str(tmp_path / "none.cfg"),
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_NOCOLOR="1",
        )
        cmd = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-e",
            "ansible_python_interpreter=" + sys.executable,
            str(playbook),
        ]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        try:
            output = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError(f"ansible-playbook gave no JSON:\n{proc.stdout}\n{proc.stderr}") from None
        return [task["hosts"]["localhost"] for task in output["plays"][0]["tasks"]]

    return run
