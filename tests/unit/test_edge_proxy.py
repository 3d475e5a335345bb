"""The HTTPS front door (roles/edge_proxy): Caddyfile per mode, checked by `caddy validate` when Caddy is here,
the server's published port and trusted proxies, the firewall's HTTPS rules."""

import os
import shutil
import subprocess

import pytest
from rolerender import RoleVars

# `caddy validate` runs when a caddy binary is here (PATH, or CADDY=/path/to/caddy); the Molecule scenario
# all_in_one validates the live one on the host
CADDY = os.environ.get("CADDY") or shutil.which("caddy")


def caddyfile(mode, names, **extra):
    return RoleVars("edge_proxy", extra=dict(edge_proxy_mode=mode, __edge_proxy_names=names, **extra)).render(
        "Caddyfile.j2"
    )


def validate(text, tmp_path):
    if not CADDY:
        return
    path = tmp_path / "Caddyfile"
    path.write_text(text)
    env = {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    res = subprocess.run(
        [CADDY, "validate", "--adapter", "caddyfile", "--config", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "Valid configuration" in res.stdout + res.stderr


def test_internal_ca_for_name_and_address(tmp_path):
    text = caddyfile("internal", ["immich.lan", "192.168.1.10"])
    assert "https://immich.lan:443, https://192.168.1.10:443 {" in text
    assert "\ttls internal" in text
    assert "skip_install_trust" in text
    assert "reverse_proxy 127.0.0.1:2283" in text
    assert "max_size" not in text  # no upload limit by default
    assert "read_body 0s" in text
    validate(text, tmp_path)


def test_acme_with_email_and_body_limit(tmp_path):
    text = caddyfile(
        "acme",
        ["photos.example.org"],
        edge_proxy_acme_email="me@example.org",
        edge_proxy_acme_ca="https://acme-staging-v02.api.letsencrypt.org/directory",
        edge_proxy_max_body_size="50GB",
    )
    assert "email me@example.org" in text
    assert "tls internal" not in text
    assert "max_size 50GB" in text
    validate(text, tmp_path)


def test_tailscale_uses_the_files_of_tailscale_cert():
    text = caddyfile("tailscale", ["host.tail-fake.ts.net"])
    assert "\ttls /etc/caddy/tailscale/cert.pem /etc/caddy/tailscale/key.pem" in text
    unit = RoleVars(
        "edge_proxy", extra={"edge_proxy_mode": "tailscale", "__edge_proxy_names": ["host.tail-fake.ts.net"]}
    )
    service = unit.render("tailscale-cert.service.j2")
    assert (
        "ExecStart=/usr/bin/tailscale cert --cert-file /etc/caddy/tailscale/cert.pem "
        "--key-file /etc/caddy/tailscale/key.pem host.tail-fake.ts.net" in service
    )


@pytest.mark.parametrize(
    ("endpoint", "published", "trusted"),
    [
        ({}, ["127.0.0.1", "192.168.1.10"], None),
        ({"local_only": True, "trusted_proxies": ["10.88.0.1"]}, ["127.0.0.1"], "10.88.0.1"),
        (
            {"local_only": False, "trusted_proxies": ["192.168.1.2", "10.0.0.0/8"]},
            ["127.0.0.1", "192.168.1.10"],
            "192.168.1.2,10.0.0.0/8",
        ),
    ],
)
def test_server_port_and_trusted_proxies_follow_the_proxy(endpoint, published, trusted):
    extra = {"mesh_address": "192.168.1.10"}
    if endpoint:
        extra["edge_proxy_endpoint"] = endpoint
    lines = RoleVars("immich_server", extra=extra).render("immich-server.container.j2").splitlines()
    assert [line for line in lines if line.startswith("PublishPort=")] == [
        f"PublishPort={a}:2283:2283" for a in published
    ]
    env = [line for line in lines if line.startswith("Environment=IMMICH_TRUSTED_PROXIES=")]
    assert env == ([f"Environment=IMMICH_TRUSTED_PROXIES={trusted}"] if trusted else [])


@pytest.mark.parametrize(
    ("mode", "ports"), [("none", []), ("external", []), ("internal", [443, 80]), ("acme", [443, 80])]
)
def test_firewall_admits_https_from_the_lan_when_caddy_runs(mode, ports):
    fw = RoleVars(
        "firewall",
        extra={"edge_proxy_mode": mode, "mesh_address": "192.168.1.10", "groups": {"immich_server": ["host1"]}},
    )
    rules = {int(r["port"]): r for r in fw.value("__firewall_rules")}
    for port in ports:
        assert rules[port]["v4"] == ["192.168.1.0/24"]
    assert 443 not in rules or ports
