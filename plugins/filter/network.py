# Copyright: (c) 2026, homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network helpers of homelab.immich: ML URL ordering, HAProxy weights, addresses and CIDRs.

Pure functions (stdlib ``ipaddress`` only), so they run on the controller and are unit tested
in tests/unit/test_filter_network.py.
"""

import datetime
import ipaddress
import json
import re

from ansible.errors import AnsibleFilterError

HAPROXY_MAX_WEIGHT = 256


def _dedupe(items):
    seen = set()
    out = []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def ml_urls(worker_urls, balancer_url=None, fallback_url=None, away_policy="cpu"):
    """Ordered ``machineLearning.urls`` for the Immich server.

    Immich uses the first healthy URL of the list (failover, not load balancing), so:
    two or more workers and a balancer -> [balancer, fallback]; otherwise the workers in
    order, then the local CPU fallback last. Empty and duplicate entries are dropped.

    ``away_policy`` ``wait`` with one or more workers and a balancer -> [balancer] alone: Immich
    walks one list for searches and jobs, so a job in flight when the workers vanish would fall
    through to the fallback; the balancer itself sends search queries to the fallback and holds
    image requests until a worker is back (role ml_balancer).
    """
    if away_policy not in ("cpu", "wait"):
        raise AnsibleFilterError("ml_urls: away_policy must be cpu or wait, got %r" % (away_policy,))
    if worker_urls is None:
        worker_urls = []
    if isinstance(worker_urls, str):
        worker_urls = [worker_urls]
    if not isinstance(worker_urls, (list, tuple)):
        raise AnsibleFilterError("ml_urls: worker_urls must be a list of URLs, got %r" % type(worker_urls).__name__)
    workers = _dedupe(str(u).rstrip("/") for u in worker_urls if u)
    balancer = str(balancer_url).rstrip("/") if balancer_url else None
    fallback = str(fallback_url).rstrip("/") if fallback_url else None
    if away_policy == "wait" and workers and balancer:
        return [balancer]
    urls = [balancer] if len(workers) >= 2 and balancer else workers
    return _dedupe([*urls, fallback])


def _capacity(value):
    try:
        cap = int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("ml_weights: capacity must be an integer, got %r" % (value,)) from None
    return max(cap, 1)


def ml_weights(capacities):
    """HAProxy server weights (1..256) from ML worker capacities.

    Accepts a list of capacities or a dict name -> capacity and returns the same shape.
    Capacities below 1 count as 1; when the largest exceeds 256 all are scaled down
    proportionally (rounded, at least 1) so that their ratios are kept.
    """
    if isinstance(capacities, dict):
        keys = list(capacities)
        values = [_capacity(capacities[k]) for k in keys]
    elif isinstance(capacities, (list, tuple)):
        keys = None
        values = [_capacity(v) for v in capacities]
    else:
        raise AnsibleFilterError("ml_weights: expects a list or a dict of capacities")
    top = max(values) if values else 1
    if top > HAPROXY_MAX_WEIGHT:
        values = [max(1, round(v * HAPROXY_MAX_WEIGHT / float(top))) for v in values]
    if keys is None:
        return values
    return dict(zip(keys, values))


def is_ip(value):
    """True when value is an IPv4 or IPv6 address (no prefix)."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def is_network(value):
    """True when value is an address or a CIDR network (host bits may be set)."""
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return True


def ip_in_networks(address, networks):
    """True when address lies inside any of the CIDR networks."""
    try:
        addr = ipaddress.ip_address(str(address))
    except ValueError:
        raise AnsibleFilterError("ip_in_networks: %r is not an IP address" % (address,)) from None
    if isinstance(networks, str):
        networks = [networks]
    for net in networks or []:
        try:
            if addr in ipaddress.ip_network(str(net), strict=False):
                return True
        except ValueError:
            raise AnsibleFilterError("ip_in_networks: %r is not a network" % (net,)) from None
    return False


def ip_family(items, family):
    """The addresses/networks of one family (4 or 6), normalised (``10.0.0.1/8`` -> ``10.0.0.0/8``).

    Raises on anything that is not an address or network, so that a typo in an inventory
    allow list fails the play instead of producing an nftables syntax error.
    """
    family = int(family)
    if family not in (4, 6):
        raise AnsibleFilterError("ip_family: family must be 4 or 6")
    if isinstance(items, str):
        items = [items]
    out = []
    for item in items or []:
        text = str(item).strip()
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise AnsibleFilterError("ip_family: %r is not an IP address or CIDR network" % (item,)) from None
        if net.version != family:
            continue
        out.append(str(net.network_address) if net.num_addresses == 1 else str(net))
    return _dedupe(out)


def mesh_addresses(hosts, hostvars):
    """The mesh address of each host: ``mesh_address``, else ``ansible_default_ipv4.address``.

    Hosts with neither (not reached yet) are skipped.
    """
    out = []
    for host in hosts or []:
        hv = hostvars.get(host) if hasattr(hostvars, "get") else hostvars[host]
        if not hv:
            continue
        addr = hv.get("mesh_address") or (hv.get("ansible_default_ipv4") or {}).get("address")
        if addr:
            out.append(str(addr))
    return _dedupe(out)


def _iface_key(name):
    return str(name).replace("-", "_").replace(".", "_").replace(":", "_")


def _v4_networks(entries):
    out = []
    for entry in entries:
        addr, mask = (entry or {}).get("address"), (entry or {}).get("netmask") or (entry or {}).get("prefix")
        if addr and mask:
            try:
                out.append(str(ipaddress.ip_interface("%s/%s" % (addr, mask)).network))
            except ValueError:
                continue
    return out


def lan_networks(facts, address=None):
    """The networks of the LAN interface from Ansible facts: the interface that holds ``address``
    (the host's mesh address in LAN mode), else the default-route interface. IPv4 networks (primary
    and secondary addresses) and global IPv6 prefixes; [] when the host has no such interface
    (no default route), never an error.
    """
    facts = facts or {}
    if not hasattr(facts, "get"):
        raise AnsibleFilterError("lan_networks: expects ansible_facts (a mapping)")
    default4 = facts.get("default_ipv4") or {}
    names = [str(n) for n in facts.get("interfaces") or []]
    iface = None
    if address:
        for name in names:
            data = facts.get(_iface_key(name)) or {}
            v4 = [data.get("ipv4") or {}] + list(data.get("ipv4_secondaries") or [])
            v6 = list(data.get("ipv6") or [])
            if any(str(e.get("address")) == str(address) for e in v4 + v6 if isinstance(e, dict)):
                iface = name
                break
    iface = iface or default4.get("interface")
    data = facts.get(_iface_key(iface)) or {} if iface else {}
    if data:
        out = _v4_networks([data.get("ipv4") or {}] + list(data.get("ipv4_secondaries") or []))
        for entry in data.get("ipv6") or []:
            if entry.get("scope") == "global" and entry.get("address") and entry.get("prefix"):
                try:
                    out.append(str(ipaddress.ip_interface("%s/%s" % (entry["address"], entry["prefix"])).network))
                except ValueError:
                    continue
    elif iface == default4.get("interface"):
        out = _v4_networks([default4])
    else:
        out = []
    return _dedupe(out)


def merge_port_rules(rules):
    """Merge firewall rules per (port, proto) and split their sources by IP family.

    Input: [{name, port, proto (tcp), sources: [addr|cidr], containers: bool}].
    Output, sorted by port: [{port: int, proto, names: [..], v4: [..], v6: [..], containers: bool}].
    """
    merged = {}
    for rule in rules or []:
        try:
            port = int(rule["port"])
        except (KeyError, TypeError, ValueError):
            raise AnsibleFilterError("merge_port_rules: rule %r has no valid port" % (rule,)) from None
        if not 0 < port < 65536:
            raise AnsibleFilterError("merge_port_rules: port %d out of range" % port)
        proto = str(rule.get("proto") or "tcp")
        if proto not in ("tcp", "udp"):
            raise AnsibleFilterError("merge_port_rules: proto must be tcp or udp, got %r" % proto)
        entry = merged.setdefault((port, proto), {"names": [], "sources": [], "containers": False})
        if rule.get("name"):
            entry["names"].append(str(rule["name"]))
        entry["sources"].extend(rule.get("sources") or [])
        entry["containers"] = entry["containers"] or bool(rule.get("containers"))
    out = []
    for (port, proto), entry in sorted(merged.items()):
        out.append(
            {
                "port": port,
                "proto": proto,
                "names": _dedupe(entry["names"]),
                "v4": ip_family(entry["sources"], 4),
                "v6": ip_family(entry["sources"], 6),
                "containers": entry["containers"],
            }
        )
    return out


def tailscale_key_expiry(status, now=None):
    """What `tailscale status --json` says about this node's key: {"expiry": RFC 3339 text or None,
    "days_left": whole days or None, "tagged": bool, "warn": bool}. A node joined with an untagged
    auth key has a Self.KeyExpiry (180 days by default) and drops off the tailnet when it passes;
    tagged nodes have key expiry disabled (no KeyExpiry)."""
    if isinstance(status, str):
        status = json.loads(status) if status.strip() else {}
    me = (status or {}).get("Self") or {}
    expiry = me.get("KeyExpiry") or None
    tagged = bool(me.get("Tags"))
    days_left = None
    if expiry:
        text = re.sub(r"\.\d+", "", str(expiry)).replace("Z", "+00:00")
        when = datetime.datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        if isinstance(now, str):
            now = datetime.datetime.fromisoformat(now.replace("Z", "+00:00"))
        days_left = int((when - now).total_seconds() // 86400)
    return {"expiry": expiry, "days_left": days_left, "tagged": tagged, "warn": expiry is not None}


class FilterModule:
    def filters(self):
        return {
            "ml_urls": ml_urls,
            "ml_weights": ml_weights,
            "is_ip": is_ip,
            "is_network": is_network,
            "ip_in_networks": ip_in_networks,
            "ip_family": ip_family,
            "mesh_addresses": mesh_addresses,
            "merge_port_rules": merge_port_rules,
            "lan_networks": lan_networks,
            "tailscale_key_expiry": tailscale_key_expiry,
        }
