"""playbooks/validate.yml with the recorded facts of each platform (tests/fixtures/platforms/): the table's rows
pass, the hosts outside it are refused with the reason and the fix, and nothing changes.

The hosts are local (connection: local) and their facts are the fixtures, loaded with set_fact before validate.yml
runs with immich_validate_hosts=false (so it does not gather this machine's own). A few seconds per run.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "platforms"
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", re.M)

PLAY = """
- name: Load the recorded facts of each host
  hosts: all:!localhost
  gather_facts: false
  tasks:
    - name: Set the facts
      ansible.builtin.set_fact:
        ansible_facts: "{{ lookup('ansible.builtin.file', facts_dir ~ '/' ~ inventory_hostname ~ '.json')
          | from_json }}"

- name: Validate
  ansible.builtin.import_playbook: homelab.immich.validate
"""


def facts(name, **changes):
    data = json.loads((FIXTURES / (name + ".json")).read_text())
    data = {k.removeprefix("ansible_"): v for k, v in data.items()}
    data.update(changes)
    return data


def validate(tmp_path, hosts):
    """hosts: {name: (group, facts, host vars)}. Returns (rc, output)."""
    facts_dir = tmp_path / "facts"
    facts_dir.mkdir()
    groups = {}
    for name, (group, host_facts, host_vars) in hosts.items():
        (facts_dir / (name + ".json")).write_text(json.dumps(host_facts))
        groups.setdefault(group, {"hosts": {}})["hosts"][name] = host_vars
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "immich_admin_email": "admin@example.org",
            },
            "children": groups,
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(tmp_path / "hosts.yml"),
            str(tmp_path / "play.yml"),
            "-e",
            "immich_validate_hosts=false",
            "-e",
            "facts_dir=" + str(facts_dir),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert all(changed == "0" for _host, changed in RECAP.findall(output)), output
    return proc.returncode, output


def test_the_table_passes(tmp_path):
    rc, output = validate(
        tmp_path,
        {
            "fedora": ("immich_server", facts("fedora-42"), {}),
            "ubuntu": ("ml_workers", facts("ubuntu-24.04"), {}),
            "debian": ("ml_workers", facts("debian-13"), {}),
        },
    )
    assert rc == 0, output


@pytest.mark.parametrize(
    ("platform", "changes", "reason", "fix"),
    [
        ("debian-13", {"distribution_major_version": "12"}, "Debian 12's podman (4.3) has no quadlets", "Debian 13"),
        (
            "ubuntu-24.04",
            {"distribution_major_version": "22"},
            "Ubuntu 22.04's podman (3.4) has no quadlets",
            "Ubuntu 24",
        ),
        ("fedora-42", {"distribution_major_version": "41"}, "Fedora 41 is older than", "Fedora 42"),
        (
            "fedora-42",
            {"distribution": "Rocky", "distribution_major_version": "9"},
            "Rocky Linux is not in the table",
            "Fedora 42",
        ),
    ],
    ids=["debian-12", "ubuntu-22.04", "fedora-41", "rocky-9"],
)
def test_hosts_outside_the_table_are_refused(tmp_path, platform, changes, reason, fix):
    rc, output = validate(
        tmp_path,
        {"srv": ("immich_server", facts("debian-13"), {}), "old": ("ml_workers", facts(platform, **changes), {})},
    )
    assert rc != 0
    line = next(line for line in output.splitlines() if line.strip().startswith("- old: ansible_distribution"))
    assert reason in line and "Fix:" in line and fix in line.split("Fix:")[1], line
    assert "- srv:" not in output


def test_native_postgres_is_refused_on_fedora(tmp_path):
    rc, output = validate(
        tmp_path,
        {
            "srv": (
                "immich_server",
                facts("fedora-42"),
                {"postgres_mode": "native", "postgres_vector_extension": "pgvector"},
            )
        },
    )
    assert rc != 0
    assert "- srv: postgres_mode is native on Fedora" in output and "postgres_mode: container" in output


@pytest.mark.parametrize(("policy", "refused"), [("wait", True), ("cpu", False)])
def test_away_policy_wait_needs_the_balancer(tmp_path, policy, refused):
    rc, output = validate(
        tmp_path,
        {
            "srv": (
                "immich_server",
                facts("debian-13"),
                {"ml_balancer_state": "absent", "immich_ml_away_policy": policy},
            ),
            "laptop": ("ml_workers", facts("debian-13"), {}),
        },
    )
    line = next((line for line in output.splitlines() if line.strip().startswith("- srv: ml_balancer_state")), "")
    if refused:
        assert rc != 0, output
        assert "away policy is wait" in line and "Fix:" in line and "immich_ml_away_policy: cpu" in line, output
    else:
        assert rc == 0, output
        assert not line
