"""The demo's pieces that need no running Immich: the status line, the inventory's firewall."""

import importlib.util
import os

import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _demo_module():
    spec = importlib.util.spec_from_file_location("immich_demo", os.path.join(ROOT, "tests", "demo", "immich_demo.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_status_line_shows_each_worker_state_and_requests_served():
    stats = {
        "demo-worker2": {"status": "DOWN", "served": 3, "weight": 1},
        "demo-worker1": {"status": "UP", "served": 17, "weight": 1},
    }
    assert _demo_module().status_line(stats) == "demo-worker1: UP, 17 served | demo-worker2: DOWN, 3 served"


def test_demo_firewall_admits_only_the_machine_that_runs_it():
    with open(os.path.join(ROOT, "tests", "demo", "inventory", "group_vars", "all.yml"), encoding="utf-8") as fh:
        group_vars = yaml.safe_load(fh)
    assert group_vars["firewall_immich_allowed"] == ["{{ demo_host_address }}/32"]
    # secrets are generated like a user's (playbooks/secrets.yml), never set in the shipped inventory
    assert not {"immich_admin_password", "immich_db_password", "immich_valkey_password"} & set(group_vars)
