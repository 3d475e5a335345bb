"""roles/firewall: in LAN mesh mode (the example inventory's) phones and browsers on the LAN reach Immich (2283)."""

import re

from rolerender import DEBIAN_FACTS, RoleVars

from ansible_collections.homelab.immich.plugins.filter.network import lan_networks

FACTS = dict(
    DEBIAN_FACTS,
    interfaces=["lo", "eth0", "podman0"],
    eth0={
        "device": "eth0",
        "ipv4": {"address": "192.168.1.10", "netmask": "255.255.255.0", "network": "192.168.1.0", "prefix": "24"},
        "ipv6": [
            {"address": "2001:db8:1:2::10", "prefix": "64", "scope": "global"},
            {"address": "fe80::1", "prefix": "64", "scope": "link"},
        ],
    },
    podman0={"device": "podman0", "ipv4": {"address": "10.88.0.1", "netmask": "255.255.0.0"}},
    lo={"device": "lo", "ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
)


def immich_sets(text):
    found = re.finditer(r"set tcp_2283_(v4|v6) \{.*?elements = \{ (.*?) \}", text, re.S)
    return {m.group(1): m.group(2) for m in found}


def render(mode, facts=None, **extra):
    base = {"mesh_mode": mode, "mesh_address": "192.168.1.10", "groups": {"immich_server": ["srv"]}}
    base.update(extra)
    facts = FACTS if facts is None else facts
    role = RoleVars("firewall", facts=facts, extra=base, inventory_hostname="srv", hostvars={"srv": base})
    return role.render("homelab-immich.nft.j2")


def test_lan_mode_admits_the_lan_to_immich():
    sets = immich_sets(render("lan"))
    assert sets["v4"] == "192.168.1.0/24"
    assert sets["v6"] == "2001:db8:1:2::/64"
    assert "100.64.0.0/10" not in render("lan")


def test_tailscale_mode_admits_the_tailnet_only():
    sets = immich_sets(render("tailscale", mesh_address="100.101.102.103"))
    assert sets == {"v4": "100.64.0.0/10", "v6": "fd7a:115c:a1e0::/48"}


def test_lan_networks_follow_the_mesh_address_interface():
    facts = dict(FACTS, default_ipv4={"address": "10.88.0.1", "interface": "podman0", "netmask": "255.255.0.0"})
    assert lan_networks(facts, "192.168.1.10") == ["192.168.1.0/24", "2001:db8:1:2::/64"]


def test_lan_networks_without_default_route_is_empty():
    assert lan_networks({"interfaces": ["lo"], "lo": {}}, "") == []
    assert lan_networks({}, None) == []


def test_lan_networks_from_default_ipv4_alone():
    assert lan_networks({"default_ipv4": dict(DEBIAN_FACTS["default_ipv4"])}) == ["192.168.1.0/24"]
