"""Unit tests of plugins/filter/network.py."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.immich.plugins.filter import network

FALLBACK = "http://immich-ml:3003"
BAL = "http://100.64.0.1:3004"


@pytest.mark.parametrize(
    ("workers", "balancer", "expected"),
    [
        ([], BAL, [FALLBACK]),
        ([], None, [FALLBACK]),
        (["http://w1:3003"], BAL, ["http://w1:3003", FALLBACK]),
        (["http://w1:3003", "http://w2:3003"], BAL, [BAL, FALLBACK]),
        (["http://w1:3003", "http://w2:3003"], None, ["http://w1:3003", "http://w2:3003", FALLBACK]),
        (["http://w1:3003/", "http://w1:3003", ""], None, ["http://w1:3003", FALLBACK]),
    ],
)
def test_ml_urls(workers, balancer, expected):
    assert network.ml_urls(workers, balancer, FALLBACK) == expected


def test_ml_urls_no_fallback_and_string():
    assert network.ml_urls("http://w1:3003", None, None) == ["http://w1:3003"]
    assert network.ml_urls(None, BAL, None) == []


@pytest.mark.parametrize(
    ("workers", "balancer", "expected"),
    [
        # no worker: the fallback alone, as under cpu
        ([], BAL, [FALLBACK]),
        # one or more workers behind the balancer: the balancer alone (it holds jobs, sends searches to the fallback)
        (["http://w1:3003"], BAL, [BAL]),
        (["http://w1:3003", "http://w2:3003"], BAL, [BAL]),
        # no balancer (state absent): as under cpu
        (["http://w1:3003"], None, ["http://w1:3003", FALLBACK]),
    ],
)
def test_ml_urls_wait(workers, balancer, expected):
    assert network.ml_urls(workers, balancer, FALLBACK, "wait") == expected


def test_ml_urls_cpu_is_the_default():
    workers = ["http://w1:3003", "http://w2:3003"]
    assert network.ml_urls(workers, BAL, FALLBACK, "cpu") == network.ml_urls(workers, BAL, FALLBACK) == [BAL, FALLBACK]


def test_ml_urls_rejects_bad_policy():
    with pytest.raises(AnsibleFilterError):
        network.ml_urls(["http://w1:3003"], BAL, FALLBACK, "sleep")


def test_ml_urls_rejects_bad_type():
    with pytest.raises(AnsibleFilterError):
        network.ml_urls(3, None, None)


def test_ml_weights_list_and_dict():
    assert network.ml_weights([1, 2, 0, "4"]) == [1, 2, 1, 4]
    assert network.ml_weights({"a": 3, "b": 1}) == {"a": 3, "b": 1}
    assert network.ml_weights([]) == []


def test_ml_weights_scales_down_keeping_ratios():
    assert network.ml_weights([512, 256, 1]) == [256, 128, 1]


def test_ml_weights_errors():
    with pytest.raises(AnsibleFilterError):
        network.ml_weights(["x"])
    with pytest.raises(AnsibleFilterError):
        network.ml_weights("3")


def test_ip_checks():
    assert network.is_ip("100.64.0.1")
    assert network.is_ip("fd7a:115c:a1e0::1")
    assert not network.is_ip("100.64.0.0/10")
    assert not network.is_ip("server")
    assert network.is_network("100.64.0.0/10")
    assert network.is_network("10.0.0.1")
    assert not network.is_network("10.0.0.0/33")


def test_ip_in_networks():
    assert network.ip_in_networks("100.100.1.2", ["100.64.0.0/10"])
    assert not network.ip_in_networks("10.0.0.1", "100.64.0.0/10")
    assert not network.ip_in_networks("10.0.0.1", [])
    with pytest.raises(AnsibleFilterError):
        network.ip_in_networks("nope", ["10.0.0.0/8"])
    with pytest.raises(AnsibleFilterError):
        network.ip_in_networks("10.0.0.1", ["nope"])


def test_ip_family():
    items = ["100.64.0.0/10", "fd7a:115c:a1e0::/48", "10.0.0.5", "10.0.0.5/32", "192.168.1.7/24"]
    assert network.ip_family(items, 4) == ["100.64.0.0/10", "10.0.0.5", "192.168.1.0/24"]
    assert network.ip_family(items, 6) == ["fd7a:115c:a1e0::/48"]
    assert network.ip_family("::1", "6") == ["::1"]
    with pytest.raises(AnsibleFilterError):
        network.ip_family(["server"], 4)
    with pytest.raises(AnsibleFilterError):
        network.ip_family([], 5)


def test_mesh_addresses():
    hostvars = {
        "a": {"mesh_address": "100.64.0.1", "ansible_default_ipv4": {"address": "10.0.0.1"}},
        "b": {"ansible_default_ipv4": {"address": "10.0.0.2"}},
        "c": {},
        "d": {"mesh_address": "100.64.0.1"},
    }
    assert network.mesh_addresses(["a", "b", "c", "d", "missing"], hostvars) == ["100.64.0.1", "10.0.0.2"]


def test_filter_map():
    names = set(network.FilterModule().filters())
    assert {"ml_urls", "ml_weights", "ip_family", "mesh_addresses", "is_ip"} <= names


def test_merge_port_rules():
    rules = [
        {"name": "ml_fallback", "port": "3003", "sources": ["10.0.0.3"], "containers": True},
        {"name": "ml", "port": 3003, "proto": "tcp", "sources": ["10.0.0.1", "10.0.0.3", "fd00::1"]},
        {"name": "postgres", "port": 5432, "sources": []},
    ]
    assert network.merge_port_rules(rules) == [
        {
            "port": 3003,
            "proto": "tcp",
            "names": ["ml_fallback", "ml"],
            "v4": ["10.0.0.3", "10.0.0.1"],
            "v6": ["fd00::1"],
            "containers": True,
        },
        {"port": 5432, "proto": "tcp", "names": ["postgres"], "v4": [], "v6": [], "containers": False},
    ]
    assert network.merge_port_rules([]) == []


@pytest.mark.parametrize(
    "rule",
    [{"name": "x"}, {"port": 70000}, {"port": 1, "proto": "icmp"}, {"port": 1, "sources": ["bad"]}],
)
def test_merge_port_rules_errors(rule):
    with pytest.raises(AnsibleFilterError):
        network.merge_port_rules([rule])


def test_tailscale_key_expiry():
    from ansible_collections.homelab.immich.plugins.filter.network import tailscale_key_expiry

    untagged = {"Self": {"KeyExpiry": "2027-05-29T01:00:00Z", "Tags": []}}
    assert tailscale_key_expiry(untagged, now="2026-11-30T01:00:00Z") == {
        "expiry": "2027-05-29T01:00:00Z",
        "days_left": 180,
        "tagged": False,
        "warn": True,
    }
    # Go's RFC 3339 with nanoseconds, passed as the command's text
    text = '{"Self": {"KeyExpiry": "2026-12-01T00:00:00.123456789Z"}}'
    assert tailscale_key_expiry(text, now="2026-11-30T00:00:00Z")["days_left"] == 1
    assert tailscale_key_expiry({"Self": {"Tags": ["tag:immich"]}}) == {
        "expiry": None,
        "days_left": None,
        "tagged": True,
        "warn": False,
    }
    assert tailscale_key_expiry("")["warn"] is False
    assert (
        tailscale_key_expiry({"Self": {"KeyExpiry": "2026-01-01T00:00:00Z"}}, now="2026-01-02T00:00:00Z")["days_left"]
        == -1
    )
