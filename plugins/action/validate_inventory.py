# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the whole inventory on the controller before any host changes (playbooks/validate.yml).

One pass over every host that a play of site.yml gives a role to: the role's argument spec (entry
point ``main`` unless the plan says otherwise) against the values the inventory sets, then checks
across hosts and against the facts gathered read-only just before (``setup``, ``gpu_facts``).
Every problem names the host, the variable and the fix; all of them are reported at once.
"""

import difflib
import os
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleError, AnsibleUndefinedVariable
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.homelab.immich.plugins.filter.network import is_ip, is_network

display = Display()
ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "roles"))

# variables the collection reads that belong to no role (group_vars/all of the example inventory)
GLOBALS = {
    "immich_version",
    "immich_admin_email",
    "immich_admin_password",
    "immich_api_key",
    "immich_db_name",
    "immich_db_user",
    "immich_db_password",
    "immich_valkey_password",
    "immich_db_peers",
    "immich_valkey_peers",
    "immich_secrets_dir",
    "immich_validate_hosts",
    "immich_validate_scope",
    "immich_system_config",
    # single sign-on (role immich_config reads them; playbooks/validate.yml fetches the issuer's discovery document)
    "immich_oidc_issuer",
    "immich_oidc_client_id",
    "immich_oidc_client_secret",
    # metrics: Immich's telemetry, HAProxy's exporter, node exporter, the firewall's rules (README "Metrics")
    "immich_metrics_enabled",
    # ML fleet (role ml_fleet reads them; README "Laptops that sleep")
    "immich_ml_away_policy",
    "immich_ml_wol_mac",
    "immich_ml_wol_broadcast",
    # external libraries (roles immich_config, immich_server, nfs_server, nfs_client read it)
    "immich_external_libraries",
    # playbook variables (restore.yml, upgrade.yml)
    "restore_confirm",
    "restore_file",
}
# facts the roles set (present in hostvars only with a fact cache)
FACTS = {
    "backup_newest",
    "container_engine_facts",
    "edge_proxy_endpoint",
    "gpu_recommendation",
    "immich_config_ml_registration",
    "immich_gpu",
    "immich_ml_endpoint",
    "immich_server_endpoint",
    "library_mount_points",
    "library_mount_units",
    "library_paths",
    "mesh_address",
    "mesh_trusted_proxies",
    "metrics_endpoint",
    "ml_balancer_metrics_target",
    "ml_balancer_url",
    "nfs_client_mount",
    "nfs_server_endpoint",
    "postgres_endpoint",
    "upgrade_plan",
    "upgrade_result",
    "valkey_endpoint",
    "verify_health",
    "verify_table",
}
SECRET_WORDS = ("password", "authkey", "api_key", "secret")
SUPPORTED_GROUPS = ("immich_server", "ml_workers", "job_workers")
# a host may not be in both groups of a pair (the same container names and ports on one host)
CONFLICTS = (
    (
        "immich_server",
        "ml_workers",
        "the server already runs immich-ml (its CPU fallback) under the same container name",
    ),
    ("immich_server", "job_workers", "the server already runs immich-server; a job worker is a second host"),
)
# forced hardware -> the GPU vendors (gpu_facts) that can serve it
ML_BACKEND_VENDORS = {
    "cuda": ["nvidia"],
    "rocm": ["amd"],
    "openvino": ["intel"],
    "armnn": ["arm"],
    "rknn": ["rockchip"],
}
TRANSCODE_VENDORS = {"nvenc": ["nvidia"], "qsv": ["intel"], "vaapi": ["intel", "amd"], "rkmpp": ["rockchip"]}
URL_VARS = (
    "immich_config_url",
    "immich_config_ml_balancer_url",
    "immich_config_ml_fallback_url",
    "backup_immich_url",
    "upgrade_immich_url",
    "upgrade_ml_ping_url",
    "verify_immich_url",
    "verify_ml_urls",
    "mesh_tailscale_serve_target",
    "mesh_tailscale_login_server",
    "mesh_tailscale_repo_url",
    "gpu_nvidia_toolkit_repo_url",
    "gpu_nvidia_toolkit_repo_key_url",
    "postgres_vectorchord_url",
)
# address lists: IPs or CIDRs; a wildcard would open the service to everybody
NETWORK_LIST_VARS = {
    "firewall_immich_allowed": False,
    "immich_db_peers": True,
    "immich_valkey_peers": True,
    "postgres_peers": True,
    "valkey_peers": True,
    "nfs_server_extra_clients": True,
    "immich_server_trusted_proxies": False,
    "mesh_trusted_proxies_extra": False,
}
IP_VARS = ("mesh_lan_address", "postgres_listen_address", "valkey_listen_address")
IP_LIST_VARS = ("ml_balancer_bind_addresses", "immich_ml_publish_addresses", "immich_server_publish_addresses")
WILDCARDS = ("*", "0.0.0.0/0", "::/0", "0.0.0.0", "::")
# str options that hold absolute paths (type: path options are checked too)
PATH_VARS = (
    "library_media_root",
    "library_thumbs_path",
    "immich_ml_cache_dir",
    "nfs_client_mount_point",
    "nfs_client_export_path",
)
# host paths of external libraries are mounted at the same path inside immich-server: never over these
LIBRARY_PATH_DENY = (
    "/",
    "/bin",
    "/boot",
    "/build",
    "/data",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/var/run",
    "/var/lib",
    "/srv",
    "/home",
    "/mnt",
    "/media",
)
LIBRARY_PATH_DENY_TREES = (
    "/bin/",
    "/build/",
    "/data/",
    "/dev/",
    "/etc/",
    "/lib/",
    "/lib64/",
    "/proc/",
    "/run/",
    "/sbin/",
    "/sys/",
    "/tmp/",
    "/usr/",
    "/var/run/",
    "/cache/",
)
LIBRARY_KEYS = ("name", "host_path", "owner", "import_paths", "exclusion_patterns", "state")
VERSION_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
UNKNOWN = object()


def _within(path, folder):
    """Whether path is folder or below it (both without a trailing slash)."""
    return path == folder or path.startswith(folder + "/")


def _version(text):
    m = VERSION_RE.match(str(text))
    return tuple(int(x) for x in m.groups()) if m else None


def _is_secret(name, spec=None):
    return bool((spec or {}).get("no_log")) or any(w in name for w in SECRET_WORDS)


def _shown(name, value, spec=None):
    if _is_secret(name, spec):
        return "(secret, not shown)"
    text = repr(value) if not isinstance(value, str) else '"%s"' % value
    return text if len(text) <= 80 else text[:77] + "..."


def _type_text(spec):
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = "list of %s" % spec["elements"]
    if spec.get("choices"):
        return "one of %s" % ", ".join(str(c) for c in spec["choices"])
    return ("an %s" if kind[0] in "aeiou" else "a %s") % kind


def _plain(text):
    """The first sentence of an argument spec description, without C()/V()/O() markup."""
    text = " ".join(text) if isinstance(text, list) else str(text or "")
    text = re.sub(r"\b[CVOIB]\(([^)]*)\)", r"\1", text)
    return text.split(". ")[0].rstrip(".")[:120]


# The platforms the collection supports (README: "Platforms"): distribution -> oldest major version.
# Debian 13 is what every Molecule scenario converges; Ubuntu 24.04 and Fedora 42 have per-family package
# names and repositories, rendered in tests/unit/test_platforms.py against recorded facts but not converged here.
SUPPORTED_PLATFORMS = {"Debian": 13, "Ubuntu": 24, "Fedora": 42}
PLATFORM_REASONS = {
    ("Debian", 12): "Debian 12's podman (4.3) has no quadlets, which every service of this collection is",
    ("Debian", 11): "Debian 11's podman (3.0) has no quadlets, which every service of this collection is",
    ("Ubuntu", 22): "Ubuntu 22.04's podman (3.4) has no quadlets, which every service of this collection is",
    (
        "Ubuntu",
        20,
    ): "Ubuntu 20.04's podman (from Kubic, 3.x at most) has no quadlets, which every service of this collection is",
}
# EL has no quadlet-capable podman with netavark in every minor release and no akmod-nvidia without
# EPEL + RPM Fusion; it is refused by name rather than sent down Fedora's paths
PLATFORM_OTHERS = {
    "RedHat": "Red Hat Enterprise Linux is not in the table (its package names and repositories differ from Fedora's)",
    "CentOS": "CentOS Stream is not in the table (its package names and repositories differ from Fedora's)",
    "Rocky": "Rocky Linux is not in the table (its package names and repositories differ from Fedora's)",
    "AlmaLinux": "AlmaLinux is not in the table (its package names and repositories differ from Fedora's)",
}
# roles whose native mode installs a distribution's server package: the distributions it is written for
NATIVE_MODES = {
    "postgres_mode": (
        "postgres",
        ("Debian", "Ubuntu"),
        "the native mode uses Debian's cluster layout (pg_createcluster, /etc/postgresql)",
    ),
}


def platform_refusal(facts):
    """(problem, fix) when the host's distribution is outside the supported table, else None."""
    name = facts.get("distribution")
    if not name:
        return None
    try:
        major = int(str(facts.get("distribution_major_version", "0")).split(".", maxsplit=1)[0])
    except ValueError:
        major = 0
    oldest = SUPPORTED_PLATFORMS.get(name)
    if oldest is not None and major >= oldest:
        return None
    supported = ", ".join("%s %s or newer" % (d, v) for d, v in SUPPORTED_PLATFORMS.items())
    if oldest is not None:
        reason = PLATFORM_REASONS.get((name, major), "%s %s is older than this collection supports" % (name, major))
        return (
            "is %s %s: %s" % (name, major, reason),
            "upgrade the host to %s %s (supported: %s)" % (name, oldest, supported),
        )
    reason = PLATFORM_OTHERS.get(name, "%s is not in the table of supported platforms" % name)
    return (
        "is %s %s: %s, so this collection does not install on it" % (name, major or "", reason),
        "use a supported host: %s" % supported,
    )


def native_mode_refusal(facts, name, value):
    """(problem, fix) when a native mode is set on a distribution it is not written for, else None."""
    _role, distributions, why = NATIVE_MODES[name]
    distribution = facts.get("distribution")
    if value != "native" or not distribution or distribution in distributions:
        return None
    return (
        "is native on %s: %s, which %s does not have" % (distribution, why, distribution),
        "set %s: container (the default) on this host, or use %s" % (name, " or ".join(distributions)),
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    # ------------------------------------------------------------------ loading
    def _spec(self, role, entry_point):
        key = (role, entry_point)
        if key not in self._specs:
            path = os.path.join(self._roles_dir, role, "meta", "argument_specs.yml")
            data = self._loader.load_from_file(path) or {}
            entry = (data.get("argument_specs") or {}).get(entry_point) or {}
            self._specs[key] = dict(entry.get("options") or {})
        return self._specs[key]

    def _defaults(self, role):
        if role not in self._role_defaults:
            path = os.path.join(self._roles_dir, role, "defaults", "main.yml")
            data = {}
            if os.path.exists(path):
                data = self._loader.load_from_file(path, trusted_as_template=True) or {}
            self._role_defaults[role] = dict(data)
        return self._role_defaults[role]

    def _all_options(self):
        names = set()
        for role in sorted(os.listdir(self._roles_dir)):
            path = os.path.join(self._roles_dir, role, "meta", "argument_specs.yml")
            if not os.path.exists(path):
                continue
            data = self._loader.load_from_file(path) or {}
            for entry in (data.get("argument_specs") or {}).values():
                names.update((entry or {}).get("options") or {})
            names.update(self._defaults(role))
        return names

    # ------------------------------------------------------------------ values
    def _raw(self, host):
        if host not in self._raw_cache:
            raw = dict(self._hostvars.raw_get(host))
            # play vars (e.g. import_playbook ... vars:) win over the inventory, extra vars over both
            raw.update(self._play_vars)
            raw.update(self._extra_vars)
            self._raw_cache[host] = raw
        return self._raw_cache[host]

    def _user_set(self, host, name):
        return name in self._raw(host)

    def _value(self, host, name, role=None, override=None):
        """The value a role would see on host: override, else the inventory, else the role default.

        UNKNOWN when it cannot be known before the run (it depends on a fact a role sets).
        """
        key = (host, name, role, repr(override))
        if key in self._value_cache:
            return self._value_cache[key]
        raw = self._raw(host)
        vars_ = {}
        roles = [role] if role else [r for r in self._role_names if name.startswith(r + "_")]
        for r in roles:
            vars_.update(self._defaults(r))
        vars_.update(raw)
        vars_.update(override or {})
        if name not in vars_:
            result = UNKNOWN
        else:
            templar = self._templar.copy_with_new_env(available_variables=vars_)
            try:
                result = templar.template(vars_[name])
            except AnsibleUndefinedVariable:
                result = UNKNOWN
            except AnsibleError as exc:
                self._problem(
                    host, name, "cannot be templated: %s" % str(exc).splitlines()[0], "correct the Jinja expression"
                )
                result = UNKNOWN
        self._value_cache[key] = result
        return result

    # ------------------------------------------------------------------ reporting
    def _problem(self, host, variable, msg, fix):
        key = (host, variable, msg)
        if key not in self._seen:
            self._seen.add(key)
            self._problems.append({"host": host, "variable": variable, "msg": msg, "fix": fix})

    def _hosts(self, groups):
        out = []
        for group in groups:
            for host in self._groups.get(group, []):
                if host not in out:
                    out.append(host)
        return out

    # ------------------------------------------------------------------ checks
    def _check_argspecs(self, plan):
        for entry in plan:
            role = entry["role"]
            entry_point = entry.get("entry_point", "main")
            overrides = entry.get("vars") or {}
            spec = self._spec(role, entry_point)
            for host in self._hosts(entry.get("groups", [])):
                for name, opt in sorted(spec.items()):
                    if name in overrides or not self._user_set(host, name):
                        continue
                    value = self._value(host, name, role)
                    if value is UNKNOWN:
                        self._warnings.append(
                            "%s: %s is checked when %s runs (it depends on a value set during the run)"
                            % (host, name, role)
                        )
                        continue
                    result = ArgumentSpecValidator({name: opt}).validate(
                        {name: value}, validate_role_argument_spec=True
                    )
                    if result.error_messages:
                        why = "; ".join(result.error_messages)
                        if _is_secret(name, opt):
                            why = "is not %s" % _type_text(opt)
                        fix = "set it to %s (%s), or remove it to take the role's default" % (
                            _type_text(opt),
                            _plain(opt.get("description")),
                        )
                        self._problem(host, name, "%s (role %s): %s" % (_shown(name, value, opt), role, why), fix)

    def _check_unknown(self, hosts):
        known = self._all_options() | GLOBALS | FACTS
        prefixes = tuple(r + "_" for r in self._role_names) + ("immich_",)
        for host in hosts:
            for name in sorted(self._hostvars.raw_get(host)):
                if name in known or name.startswith("__") or not name.startswith(prefixes):
                    continue
                near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
                owner = [r for r in self._role_names if name.startswith(r + "_")]
                if not near and not owner:
                    continue  # an immich_* variable of the user's own, not a typo of ours
                self._problem(
                    host,
                    name,
                    "is not a variable of this collection%s, so it changes nothing"
                    % (" (prefix of role %s)" % owner[-1] if owner else ""),
                    "rename it to %s" % near[0] if near else "remove it (see the role's README for its variables)",
                )

    def _check_groups(self, hosts):
        servers = self._groups.get("immich_server", [])
        if len(servers) != 1:
            self._problem(
                "all",
                "immich_server (group)",
                "holds %d hosts (%s)" % (len(servers), ", ".join(servers) or "none"),
                "put exactly one host in the group immich_server",
            )
        for first, second, why in CONFLICTS:
            for host in sorted(set(self._groups.get(first, [])) & set(self._groups.get(second, []))):
                self._problem(
                    host,
                    "%s + %s (groups)" % (first, second),
                    "is in both groups: %s" % why,
                    "keep the host in one of them",
                )

    def _check_versions(self, hosts, low, below):
        seen = {}
        for host in hosts:
            # immich_version, else what the server role takes without it
            version = self._value(host, "immich_version")
            if version is UNKNOWN:
                version = self._value(host, "immich_server_version", "immich_server")
            if version is UNKNOWN:
                continue
            parsed = _version(version)
            if parsed is None:
                self._problem(
                    host,
                    "immich_version",
                    '"%s" is not a pinned release tag' % version,
                    "set a tag like %s (with the v; never latest or release)" % low,
                )
                continue
            if not _version(low) <= parsed < _version(below):
                self._problem(
                    host,
                    "immich_version",
                    "%s is outside the range this collection supports (%s <= version < %s)" % (version, low, below),
                    "set a release tag from %s on, below %s, e.g. v3.1.0 (an older installation: move it to v3 with"
                    " Immich's own upgrade notes first, then use playbooks/upgrade.yml)" % (low, below),
                )
                continue
            seen.setdefault(str(version), []).append(host)
            for name, role in (
                ("immich_server_version", "immich_server"),
                ("immich_ml_version", "immich_ml"),
                ("upgrade_version", "upgrade"),
            ):
                if self._user_set(host, name):
                    other = self._value(host, name, role)
                    if other is not UNKNOWN and str(other) != str(version):
                        self._problem(
                            host,
                            name,
                            '"%s" differs from immich_version "%s": server, ML and job workers must run the same tag'
                            % (other, version),
                            "remove %s and set immich_version only" % name,
                        )
        if len(seen) > 1:
            # the server's tag is the reference (else the most common one); the others are named
            server = (self._groups.get("immich_server") or [None])[0]
            ref = next((v for v, h in seen.items() if server in h), None) or max(seen, key=lambda v: len(seen[v]))
            for version, others in sorted(seen.items()):
                if version == ref:
                    continue
                self._problem(
                    ", ".join(others),
                    "immich_version",
                    "is %s here but %s on %s: server, ML and job workers must run the same tag"
                    % (version, ref, ", ".join(seen[ref])),
                    "set immich_version once, in group_vars/all (remove the host or group value)",
                )

    def _ports(self, host, roles):
        """(port, variable) pairs the host listens on or publishes."""
        out = []

        def add(name, role, when=True):
            value = self._value(host, name, role)
            if when and value is not UNKNOWN:
                try:
                    out.append((int(value), name))
                except (TypeError, ValueError):
                    pass  # the argument spec check reports it

        add("firewall_ssh_port", "firewall")
        if "postgres" in roles:
            add("immich_server_port", "immich_server")
            add("postgres_port", "postgres")
            add("valkey_port", "valkey")
            add("ml_balancer_port", "ml_balancer")
            if self._groups.get("job_workers"):
                ganesha = self._value(host, "nfs_server_implementation", "nfs_server") == "ganesha"
                out.append(
                    (int(self._value(host, "nfs_server_port", "nfs_server")) if ganesha else 2049, "nfs_server_port")
                )
        if "immich_ml_worker" in roles:
            add("immich_ml_port", "immich_ml")
        if "immich_server" in roles and self._value(host, "immich_server_telemetry_include", "immich_server"):
            add("immich_server_api_metrics_port", "immich_server")
            add("immich_server_microservices_metrics_port", "immich_server")
        if "metrics" in roles and str(self._value(host, "metrics_enabled", "metrics")).lower() == "true":
            add("metrics_node_exporter_port", "metrics")
            if "postgres" in roles:
                add("ml_balancer_prometheus_port", "ml_balancer")
        if (
            self._value(host, "mesh_mode", "mesh") == "tailscale"
            and self._value(host, "mesh_tailscale_serve", "mesh") is True
        ):
            add("mesh_tailscale_serve_port", "mesh")
        return out

    def _check_ports(self, host_roles):
        pairs = (
            ("firewall_immich_port", "immich_server_port", "immich_server", "postgres"),
            ("firewall_postgres_port", "postgres_port", "postgres", "postgres"),
            ("firewall_valkey_port", "valkey_port", "valkey", "postgres"),
            ("firewall_ml_balancer_port", "ml_balancer_port", "ml_balancer", "postgres"),
            ("firewall_ml_port", "immich_ml_port", "immich_ml", "immich_ml_worker"),
        )
        for host, roles in host_roles.items():
            by_port = {}
            for port, name in self._ports(host, roles):
                if not 0 < port < 65536:
                    self._problem(host, name, "%d is not a TCP port" % port, "use 1-65535")
                by_port.setdefault(port, []).append(name)
            for port, names in sorted(by_port.items()):
                if len(set(names)) > 1:
                    self._problem(
                        host,
                        " and ".join(sorted(set(names))),
                        "use the same port %d on this host" % port,
                        "give each service its own port (change one of %s)" % ", ".join(sorted(set(names))),
                    )
            for fw_name, svc_name, role, needs in pairs:
                if needs not in roles:
                    continue
                fw, svc = self._value(host, fw_name, "firewall"), self._value(host, svc_name, role)
                if UNKNOWN in (fw, svc) or str(fw) == str(svc) or not str(svc).isdigit():
                    continue
                self._problem(
                    host,
                    fw_name,
                    "is %s but %s is %s: the firewall would filter a port nothing listens on and drop the service"
                    % (fw, svc_name, svc),
                    "set %s: %s as well" % (fw_name, svc),
                )

    def _check_addresses(self, hosts):
        for host in hosts:
            for name, no_wildcard in NETWORK_LIST_VARS.items():
                if not self._user_set(host, name):
                    continue
                value = self._value(host, name)
                if value is UNKNOWN:
                    continue
                items = [value] if isinstance(value, str) else list(value or [])
                bad = [str(i) for i in items if not is_network(i)]
                if bad:
                    self._problem(
                        host,
                        name,
                        "holds %s, not IP addresses or CIDRs" % ", ".join(bad),
                        "write e.g. 192.168.1.0/24 or 192.168.1.20",
                    )
                wild = [str(i) for i in items if no_wildcard and str(i).strip() in WILDCARDS]
                if wild:
                    self._problem(
                        host,
                        name,
                        "holds %s, which admits every address" % ", ".join(wild),
                        "list the peers' addresses instead",
                    )
            for name in IP_VARS:
                if self._user_set(host, name):
                    value = self._value(host, name)
                    if value not in (UNKNOWN, "", None) and not is_ip(value):
                        self._problem(
                            host,
                            name,
                            '"%s" is not an IP address' % value,
                            "set one address such as 192.168.1.20 (no prefix, no name)",
                        )
            for name in IP_LIST_VARS:
                if self._user_set(host, name):
                    value = self._value(host, name)
                    if value is UNKNOWN or not isinstance(value, list):
                        continue
                    bad = [str(i) for i in value if not is_ip(i)]
                    if bad:
                        self._problem(
                            host,
                            name,
                            "holds %s, not IP addresses" % ", ".join(bad),
                            "list addresses such as 192.168.1.20",
                        )
            if self._user_set(host, "container_engine_network_subnet"):
                value = self._value(host, "container_engine_network_subnet")
                if value not in (UNKNOWN, "") and ("/" not in str(value) or not is_network(value)):
                    self._problem(
                        host,
                        "container_engine_network_subnet",
                        '"%s" is not a CIDR' % value,
                        'write e.g. 10.89.0.0/24, or "" to let podman choose',
                    )

    def _check_urls(self, hosts):
        for host in hosts:
            for name in URL_VARS:
                if not self._user_set(host, name):
                    continue
                value = self._value(host, name)
                if value is UNKNOWN:
                    continue
                for url in [value] if isinstance(value, str) else list(value or []):
                    if url == "" and name in (
                        "mesh_tailscale_login_server",
                        "immich_config_ml_balancer_url",
                        "immich_config_ml_fallback_url",
                    ):
                        continue
                    parts = urlsplit(str(url))
                    if parts.scheme not in ("http", "https") or not parts.netloc:
                        self._problem(
                            host,
                            name,
                            '"%s" is not a URL with a scheme and a host' % url,
                            "write it as http://HOST:PORT (or https://...)",
                        )

    def _check_paths(self, hosts):
        path_opts = set(PATH_VARS)
        for (_role, _entry), spec in self._specs.items():
            path_opts.update(n for n, o in spec.items() if o.get("type") == "path")
        for host in hosts:
            for name in sorted(path_opts):
                if self._user_set(host, name):
                    value = self._value(host, name)
                    if isinstance(value, str) and value and not value.startswith("/"):
                        self._problem(
                            host, name, '"%s" is not an absolute path' % value, "write the full path, starting with /"
                        )
            if self._user_set(host, "library_media_root"):
                root = str(self._value(host, "library_media_root")).rstrip("/")
                if root in ("", "/srv", "/var", "/home", "/mnt", "/media", "/data"):
                    self._problem(
                        host,
                        "library_media_root",
                        '"%s" is a top-level directory' % (root or "/"),
                        "use a folder of its own, e.g. /srv/immich/library",
                    )

    def _check_secrets(self, hosts, server):
        for host in hosts:
            for name in ("immich_db_password", "postgres_password", "immich_valkey_password", "valkey_password"):
                if not self._user_set(host, name):
                    continue
                value = self._value(host, name)
                if value is UNKNOWN:
                    continue
                value = str(value)
                bad = []
                if not value:
                    continue  # empty: generated by playbooks/secrets.yml
                if re.search(r"\s", value):
                    bad.append("whitespace or a line break (a vault file's trailing newline?)")
                if any(c in value for c in "\"'\\`$"):
                    bad.append("a quote, backslash, backtick or $")
                if any(ord(c) < 32 or ord(c) > 126 for c in value if not c.isspace()):
                    bad.append("characters outside printable ASCII")
                if bad:
                    self._problem(
                        host,
                        name,
                        "holds %s, which breaks the %s"
                        % (" and ".join(bad), "Valkey configuration" if "valkey" in name else "database connection"),
                        "use letters, digits and - _ . only"
                        " (or unset it: playbooks/secrets.yml generates 32 letters and digits)",
                    )
        if server and self._scope == "site":
            email = self._value(server, "immich_admin_email")
            if not self._user_set(server, "immich_admin_email") and not self._user_set(
                server, "immich_config_admin_email"
            ):
                self._problem(
                    server, "immich_admin_email", "is not set", "set the first admin's email address in group_vars/all"
                )
            elif email is not UNKNOWN and self._user_set(server, "immich_admin_email") and "@" not in str(email):
                self._problem(
                    server,
                    "immich_admin_email",
                    '"%s" is not an email address' % email,
                    "set an address like admin@example.com",
                )
            if self._user_set(server, "immich_admin_password"):
                pw = self._value(server, "immich_admin_password")
                if pw is not UNKNOWN and pw and len(str(pw)) < 8:
                    self._problem(
                        server,
                        "immich_admin_password",
                        "is shorter than 8 characters",
                        "use 8 characters or more, or unset it to have one generated",
                    )
            config = self._value(server, "immich_system_config")
            if config is not UNKNOWN and not isinstance(config, dict):
                self._problem(
                    server,
                    "immich_system_config",
                    "is not a mapping",
                    "write it as a mapping shaped like Immich's system config (SystemConfigDto)",
                )

    def _check_mesh(self, hosts):
        for host in hosts:
            mode = self._value(host, "mesh_mode", "mesh")
            state = self._value(host, "mesh_state", "mesh")
            if state != "present":
                continue
            if mode == "tailscale":
                key = self._value(host, "mesh_tailscale_authkey", "mesh")
                if key is not UNKNOWN and not str(key):
                    self._problem(
                        host,
                        "mesh_tailscale_authkey",
                        "is empty while mesh_mode is tailscale",
                        "put a Tailscale auth key (tskey-auth-...) in the vault, or set mesh_mode: lan",
                    )
                elif key is not UNKNOWN and not str(key).startswith("tskey-"):
                    self._problem(
                        host,
                        "mesh_tailscale_authkey",
                        "does not look like a Tailscale key (tskey-...)",
                        "paste the auth key or OAuth client secret as Tailscale shows it",
                    )
                elif (
                    key is not UNKNOWN
                    and str(key).startswith("tskey-client-")
                    and not self._value(host, "mesh_tailscale_tags", "mesh")
                ):
                    self._problem(
                        host,
                        "mesh_tailscale_tags",
                        "is empty but the key is an OAuth client secret",
                        "set mesh_tailscale_tags, e.g. [tag:immich]",
                    )
            elif mode == "lan":
                facts = self._raw(host).get("ansible_facts") or {}
                if "distribution" not in facts and "default_ipv4" not in facts:
                    continue  # facts not gathered (validation without the hosts)
                address = self._value(host, "mesh_lan_address", "mesh")
                if not address and not (facts.get("default_ipv4") or {}).get("address"):
                    self._problem(
                        host,
                        "mesh_lan_address",
                        "is empty and the host has no default IPv4 route,"
                        " so there is no LAN address to use (mesh_mode: lan)",
                        "set mesh_lan_address to the host's LAN address, or give it a default route",
                    )

    def _check_hardware(self, host_roles):
        for host, roles in host_roles.items():
            raw = self._raw(host)
            facts = raw.get("ansible_facts") or {}
            refusal = platform_refusal(facts)
            if refusal:
                self._problem(host, "ansible_distribution (facts)", refusal[0], refusal[1])
            for name, (role, _distributions, _why) in NATIVE_MODES.items():
                if role in roles:
                    native = native_mode_refusal(facts, name, self._value(host, name, role))
                    if native:
                        self._problem(host, name, native[0], native[1])
            gpu = raw.get("immich_gpu") or facts.get("immich_gpu")
            if not isinstance(gpu, dict):
                continue
            vendors = {g.get("vendor") for g in gpu.get("gpus") or []}
            found = ", ".join(sorted(g.get("model", "?") for g in gpu.get("gpus") or [])) or "no GPU or NPU"
            checks = []
            if "gpu" in roles:
                checks.append(("gpu_ml_backend_override", "gpu", ML_BACKEND_VENDORS))
                checks.append(("gpu_transcode_override", "gpu", TRANSCODE_VENDORS))
            if "immich_server" in roles:
                checks.append(("immich_server_transcode_accel", "immich_server", TRANSCODE_VENDORS))
            for name, role, table in checks:
                if not self._user_set(host, name):
                    continue
                value = self._value(host, name, role)
                if value in table and not vendors & set(table[value]):
                    self._problem(
                        host,
                        name,
                        "forces %s but the host has %s (gpu_facts found: %s)"
                        % (value, "/".join(table[value]) + " hardware" if table[value] else "", found),
                        "set %s: auto (or cpu/disabled), or move the setting to the host that has the hardware" % name,
                    )
            cpu = gpu.get("cpu") or {}
            if cpu.get("x86_64_v2") is False:
                groups = [g for g in SUPPORTED_GROUPS if host in self._groups.get(g, [])]
                self._problem(
                    host,
                    "%s (group)" % "/".join(groups),
                    "the CPU lacks x86-64-v2 (missing %s): Immich v3 images do not start on it"
                    % ", ".join(cpu.get("x86_64_v2_missing") or []),
                    "take the host out of %s; use a CPU from 2009 or later" % " and ".join(groups),
                )

    def _check_topology(self, server):
        ml = self._groups.get("ml_workers", [])
        jobs = self._groups.get("job_workers", [])
        if server is None:
            return
        if self._value(server, "ml_balancer_state", "ml_balancer") == "present" and not ml:
            self._problem(
                server,
                "ml_balancer_state",
                "is present but the group ml_workers is empty",
                "set ml_balancer_state: auto, or add ML workers",
            )
        if (
            ml
            and self._value(server, "ml_balancer_state", "ml_balancer") == "absent"
            and self._value(server, "immich_config_ml_away_policy", "immich_config") == "wait"
        ):
            self._problem(
                server,
                "ml_balancer_state",
                "is absent but the away policy is wait: Immich would list only a balancer that does not run",
                "set ml_balancer_state: auto, or immich_ml_away_policy: cpu",
            )
        if not ml and self._value(server, "immich_config_ml_fallback_url", "immich_config") == "":
            self._problem(
                server,
                "immich_config_ml_fallback_url",
                "is empty and there are no ML workers: no ML URL at all",
                "keep the default http://immich-ml:3003, or add ML workers",
            )
        mode = self._value(server, "postgres_mode", "postgres")
        if (
            mode == "native"
            and self._value(server, "postgres_vector_extension", "postgres") == "vectorchord"
            and not self._value(server, "postgres_vectorchord_checksum", "postgres")
        ):
            self._problem(
                server,
                "postgres_vectorchord_checksum",
                "is empty: native PostgreSQL with VectorChord downloads a package",
                "set it (sha256:...) or use postgres_vector_extension: pgvector",
            )
        if not jobs:
            return
        # site.yml runs the library role, whose owner job_workers.yml then exports (library_paths)
        for name in ("library_uid", "library_gid") if self._scope == "site" else ():
            value = self._value(server, name, "library")
            if value is not UNKNOWN and str(value).isdigit() and int(value) == 0:
                self._problem(
                    server,
                    name,
                    "is 0 (root) but job workers write into the library over NFS as its squashed, non-root owner",
                    "set library_uid and library_gid to the user immich-server runs as, e.g. 1000",
                )
        if self._value(server, "library_thumbs_path", "library"):
            self._problem(
                server,
                "library_thumbs_path",
                "is set but job workers mount only the media root",
                "keep the thumbnails under library_media_root when you use job workers",
            )
        client_group = self._value(server, "nfs_server_client_group", "nfs_server")
        if client_group is not UNKNOWN and set(jobs) - set(self._groups.get(str(client_group), [])):
            self._problem(
                server,
                "nfs_server_client_group",
                '"%s" leaves out job workers %s, so their library mount has no export'
                % (client_group, ", ".join(sorted(set(jobs) - set(self._groups.get(str(client_group), []))))),
                "set nfs_server_client_group: job_workers",
            )
        root = self._value(server, "library_media_root", "library")
        for host in jobs:
            if self._user_set(host, "nfs_client_export_path"):
                path = self._value(host, "nfs_client_export_path", "nfs_client")
                if path and root is not UNKNOWN and str(path).rstrip("/") != str(root).rstrip("/"):
                    self._problem(
                        host,
                        "nfs_client_export_path",
                        '"%s" is not what the server exports (%s)' % (path, root),
                        'remove it (empty: the server\'s export) or set it to "%s"' % root,
                    )
            options = self._value(host, "nfs_client_options", "nfs_client")
            if isinstance(options, list) and ("hard" not in options or "_netdev" not in options or "soft" in options):
                self._problem(
                    host,
                    "nfs_client_options",
                    "must hold hard and _netdev and not soft",
                    "add hard and _netdev (a soft mount turns a network hiccup into lost files)",
                )

    def _check_external_libraries(self, server):
        """immich_external_libraries: every entry names its library, a folder that can be mounted read-only at the same
        path inside immich-server (outside the Immich library), and import paths inside that folder."""
        name = "immich_external_libraries"
        if server is None or not self._user_set(server, name):
            return
        entries = self._value(server, name)
        if entries is UNKNOWN:
            return
        example = "[{name: Archive, host_path: /srv/photos}]"
        if not isinstance(entries, list):
            self._problem(server, name, "is not a list", "write it as a list of entries like %s" % example)
            return
        root = self._value(server, "library_media_root", "library")
        root = str(root).rstrip("/") if root is not UNKNOWN else None
        names, paths = set(), set()
        for i, entry in enumerate(entries):
            where = "%s[%d]" % (name, i)
            if not isinstance(entry, dict):
                self._problem(server, where, "is not a mapping", "write each entry like %s" % example)
                continue
            where = "%s[%d] (%s)" % (name, i, entry.get("name", "no name"))
            for key in sorted(set(entry) - set(LIBRARY_KEYS)):
                near = difflib.get_close_matches(str(key), LIBRARY_KEYS, n=1)
                self._problem(
                    server,
                    where,
                    "has the unknown key %s" % key,
                    "rename it to %s" % near[0] if near else "use only %s" % ", ".join(LIBRARY_KEYS),
                )
            label = entry.get("name")
            if not isinstance(label, str) or not label.strip():
                self._problem(server, where, "has no name", "give every library a name (how Immich shows it)")
            elif label in names:
                self._problem(server, where, 'repeats the name "%s"' % label, "give every library its own name")
            names.add(label)
            host_path = entry.get("host_path")
            if not isinstance(host_path, str) or not host_path.startswith("/"):
                self._problem(
                    server,
                    where,
                    "has host_path %r, not an absolute path" % (host_path,),
                    "set host_path to the folder of photos on the server, e.g. /srv/photos",
                )
                continue
            clean = host_path.rstrip("/") or "/"
            if clean in LIBRARY_PATH_DENY or (clean + "/").startswith(LIBRARY_PATH_DENY_TREES):
                self._problem(
                    server,
                    where,
                    'has host_path "%s", a system or top-level folder: it is mounted at the same path inside '
                    "immich-server and would hide the container's own files there" % clean,
                    "use a folder of its own, e.g. /srv/photos or /mnt/nas/photos",
                )
            elif not re.match(r"^/[A-Za-z0-9._/@+-]+$", clean):
                self._problem(
                    server,
                    where,
                    'has host_path "%s" with characters a mount unit or NFS export cannot hold' % clean,
                    "use letters, digits and ._/@+- only (rename the folder or bind-mount it elsewhere)",
                )
            if root and (_within(clean, root) or _within(root, clean)):
                self._problem(
                    server,
                    where,
                    'has host_path "%s", which overlaps Immich\'s own library %s (library_media_root)' % (clean, root),
                    "keep the external folder outside library_media_root (Immich refuses its own media folder)",
                )
            if clean in paths:
                self._problem(server, where, 'repeats host_path "%s"' % clean, "give each library its own folder")
            paths.add(clean)
            imports = entry.get("import_paths")
            if imports is not None:
                if not isinstance(imports, list) or not imports:
                    self._problem(
                        server,
                        where,
                        "has import_paths that are not a list of folders",
                        "remove import_paths (default [host_path]) or list folders under %s" % clean,
                    )
                else:
                    for path in imports:
                        text = str(path).rstrip("/")
                        if not str(path).startswith("/") or not _within(text, clean):
                            self._problem(
                                server,
                                where,
                                'has import path "%s" outside its host_path %s: only host_path is mounted'
                                % (path, clean),
                                "list folders at or under %s, or remove import_paths" % clean,
                            )
            patterns = entry.get("exclusion_patterns")
            if patterns is not None and (
                not isinstance(patterns, list) or not all(isinstance(p, str) and p.strip() for p in patterns)
            ):
                self._problem(
                    server,
                    where,
                    "has exclusion_patterns that are not a list of glob patterns",
                    'write them like ["**/@eaDir/**", "**/*.tmp"], or remove them for Immich\'s defaults',
                )
            owner = entry.get("owner")
            if owner is not None and (not isinstance(owner, str) or "@" not in owner):
                self._problem(
                    server,
                    where,
                    "has owner %r, not an email address" % (owner,),
                    "set owner to the email of an Immich user, or remove it (the admin owns the library)",
                )
            if entry.get("state", "present") not in ("present", "absent"):
                self._problem(server, where, "has state %r" % (entry.get("state"),), "use present or absent")
        watch = self._value(server, "immich_config_library_watch", "immich_config")
        if watch is True and self._groups.get("job_workers"):
            self._warnings.append(
                "%s: immich_config_library_watch is true, but job workers scan the libraries over NFS, where the "
                "watcher sees no changes: it stays off, the scheduled scan finds new files" % server
            )

    def _check_rootless(self, host_roles):
        """Rootless mode (container_engine_rootless): what rootless podman cannot do is refused here."""
        for host, roles in host_roles.items():
            if self._value(host, "container_engine_rootless", "container_engine") is not True:
                continue
            if self._scope == "day2":
                self._problem(
                    host,
                    "container_engine_rootless",
                    "is true, but the day-two playbooks (upgrade.yml, backup.yml, restore.yml, verify.yml) "
                    "manage root's units and containers and do not support rootless hosts yet",
                    "upgrade by setting immich_version and running site.yml; check the rootless user's units with "
                    "systemctl --user -M <user>@ status and its containers with podman-<user> ps",
                )
            if "nfs_client" in roles:
                self._problem(
                    host,
                    "container_engine_rootless",
                    "is true on a job worker: its library comes over NFS squashed to one host uid, which the "
                    "rootless user's namespace does not hold (not supported)",
                    "set container_engine_rootless: false for job_workers",
                )
            if "postgres" in roles:
                for name, role in (("postgres_mode", "postgres"), ("valkey_mode", "valkey")):
                    if self._value(host, name, role) == "container":
                        self._problem(
                            host,
                            name,
                            "is container, but rootless mode moves only the Immich containers (server, ML) to the "
                            "rootless user; PostgreSQL and Valkey containers stay root's",
                            "set %s: native (the daemon then runs as its own system user, not root)" % name,
                        )
                uid = self._value(host, "container_engine_rootless_uid", "container_engine")
                for name in ("library_uid", "library_gid"):
                    value = self._value(host, name, "library")
                    if UNKNOWN in (uid, value):
                        continue
                    if not str(uid).isdigit() or int(uid) == 0 or str(value) != str(uid):
                        self._problem(
                            host,
                            name,
                            "is %s, not the rootless user's id (container_engine_rootless_uid: %s): the server's "
                            "container's root is that user and writes the library as it" % (value, uid),
                            "set container_engine_rootless_uid, library_uid and library_gid to one id, e.g. 2283",
                        )
            for port, name in self._ports(host, roles):
                if (
                    name != "firewall_ssh_port"
                    and 0 < port < 1024
                    and name
                    in (
                        "immich_server_port",
                        "immich_ml_port",
                        "immich_server_api_metrics_port",
                        "immich_server_microservices_metrics_port",
                    )
                ):
                    self._problem(
                        host,
                        name,
                        "is %d: rootless podman cannot publish a port below 1024 "
                        "(net.ipv4.ip_unprivileged_port_start)" % port,
                        "use a port of 1024 or above (put a reverse proxy in front for 80/443)",
                    )

    # ------------------------------------------------------------------ entry
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        plan = args.get("plan") or []
        self._scope = args.get("scope") or "site"
        self._roles_dir = args.get("roles_dir") or ROLES_DIR
        self._role_names = sorted(
            (r for r in os.listdir(self._roles_dir) if os.path.isdir(os.path.join(self._roles_dir, r))), key=len
        )
        self._hostvars = task_vars["hostvars"]
        self._groups = {k: list(v) for k, v in (args.get("groups") or task_vars.get("groups") or {}).items()}
        play = self._task.get_play() if hasattr(self._task, "get_play") else None
        self._play_vars = dict(play.vars) if play is not None and play.vars else {}
        manager = getattr(self._hostvars, "_variable_manager", None)
        self._extra_vars = dict(getattr(manager, "extra_vars", {}) or {})
        self._specs, self._role_defaults, self._raw_cache, self._value_cache = {}, {}, {}, {}
        self._problems, self._warnings, self._seen = [], [], set()

        host_roles = {}
        for entry in plan:
            name = entry["role"]
            if name == "immich_ml" and (entry.get("vars") or {}).get("immich_ml_role", "worker") == "worker":
                name = "immich_ml_worker"
            for host in self._hosts(entry.get("groups", [])):
                host_roles.setdefault(host, set()).add(name)
        hosts = list(host_roles)
        servers = self._groups.get("immich_server", [])
        server = servers[0] if len(servers) == 1 else None

        self._check_groups(hosts)
        self._check_argspecs(plan)
        self._check_unknown(hosts)
        self._check_versions(hosts, args.get("version_min", "v3.0.0"), args.get("version_below", "v4.0.0"))
        self._check_ports(host_roles)
        self._check_addresses(hosts)
        self._check_urls(hosts)
        self._check_paths(hosts)
        self._check_secrets(hosts, server)
        self._check_mesh(hosts)
        self._check_hardware(host_roles)
        self._check_topology(server)
        self._check_rootless(host_roles)
        self._check_external_libraries(server)

        result["changed"] = False
        result["checked_hosts"] = sorted(hosts)
        for warning in sorted(set(self._warnings)):
            display.warning(warning)
        if self._problems:
            # one line per mistake: the same value from group_vars/all names all its hosts at once
            merged = {}
            for p in self._problems:
                merged.setdefault((p["variable"], p["msg"], p["fix"]), []).append(p["host"])
            lines = ["%s: %s %s. Fix: %s." % (", ".join(h), v, m, f) for (v, m, f), h in merged.items()]
            result["failed"] = True
            result["msg"] = "The inventory has %d problem(s); no host was changed.\n- %s" % (
                len(lines),
                "\n- ".join(lines),
            )
        else:
            result["msg"] = "The inventory passed validation (%d hosts)." % len(hosts)
        return result
