"""The image localhost/fake-immich-server, and the modules running on a target Python inside it.

Skipped where podman or the base test image (`make image`) is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1")


def podman(*args, check=True, timeout=120):
    return subprocess.run(["podman", *args], env=ENV, capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def image():
    if (
        shutil.which("podman") is None
        or podman("image", "exists", "localhost/molecule-trixie:latest", check=False).returncode
    ):
        pytest.skip("podman or localhost/molecule-trixie:latest (make image) not available")
    build = subprocess.run(
        [str(ROOT / "tests/images/build.sh"), "fake-immich-server"],
        check=False,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    return build.stdout.strip().splitlines()[-1]


@pytest.fixture
def container(image):
    names = []

    def start(*env):
        name = "api-it-" + uuid.uuid4().hex[:8]
        args = ["run", "-d", "--name", name]
        for item in env:
            args += ["-e", item]
        podman(*args, image)
        names.append(name)
        return name

    yield start
    for name in names:
        podman("rm", "-f", "-t", "0", name, check=False)


def test_image_refuses_to_start_without_database(image):
    proc = podman(
        "run", "--rm", "-e", "DB_HOSTNAME=127.0.0.1", "-e", "FAKE_IMMICH_STARTUP_TIMEOUT=1", image, check=False
    )
    assert proc.returncode == 1
    assert "Cannot connect to the database" in proc.stdout


def test_modules_run_on_the_target_python_in_the_image(container, tmp_path):
    name = container("FAKE_IMMICH_SKIP_DEPENDENCY_CHECKS=1", "FAKE_IMMICH_ML_CHECKS=0")
    url = "http://127.0.0.1:2283"
    tasks = [
        {"homelab.immich.immich_admin": {"url": url, "email": "a@example.com", "password": "pw"}, "register": "a"},
        {
            "homelab.immich.immich_config": {
                "url": url,
                "api_key": "{{ a.secret }}",
                "settings": {"machineLearning": {"urls": ["http://127.0.0.1:3003"]}},
            }
        },
        {"homelab.immich.immich_queue": {"url": url, "api_key": "{{ a.secret }}", "name": "ocr", "command": "pause"}},
        {"ansible.builtin.command": "immich-healthcheck", "changed_when": False},
        {
            "ansible.builtin.command": "python3 -c 'import sys; print(sys.version_info >= (3, 8))'",
            "changed_when": False,
        },
    ]
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": tasks}]))
    env = dict(
        ENV,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_CONFIG=str(tmp_path / "none.cfg"),
    )
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", name + ",", "-c", "containers.podman.podman"]
    proc = subprocess.run(
        [*cmd, str(playbook)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    results = [t["hosts"][name] for t in json.loads(proc.stdout)["plays"][0]["tasks"]]
    assert proc.returncode == 0, results
    assert [r.get("changed") for r in results[:3]] == [True, True, True]
    assert results[0]["api_key_action"] == "created"
    assert results[4]["stdout"] == "True"
