"""Render a role's templates and variables the way Ansible does, without a host.

``RoleVars("postgres", facts={...}, extra={...})`` loads the role's defaults/main.yml, vars/main.yml,
the vars files its tasks/set_vars.yml picks for those facts (``set_vars_files``) and ``extra`` (highest
precedence, like play vars), with ``ansible_facts`` set to ``facts``, and
templates strings and files with ansible-core's own templar (collection filters included).
"""

from pathlib import Path

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
_loader = DataLoader()
_initialized = False

DEBIAN_FACTS = {
    "distribution": "Debian",
    "distribution_major_version": "13",
    "os_family": "Debian",
    "architecture": "x86_64",
    "memtotal_mb": 16000,
    "processor_vcpus": 8,
    "selinux": {"status": "disabled"},
    "default_ipv4": {
        "address": "192.168.1.10",
        "interface": "eth0",
        "netmask": "255.255.255.0",
        "network": "192.168.1.0",
        "prefix": "24",
    },
}


def init():
    global _initialized
    if not _initialized:
        init_plugin_loader([str(ROOT / ".collections")])
        _initialized = True


def _load(path):
    if path.is_file():
        return _loader.load_from_file(str(path), trusted_as_template=True) or {}
    return {}


class RoleVars:
    def __init__(self, role, facts=None, extra=None, hostvars=None, groups=None, inventory_hostname="host1"):
        init()
        self.role = ROOT / "roles" / role
        facts = dict(DEBIAN_FACTS if facts is None else facts)
        variables = {}
        variables.update(_load(self.role / "defaults" / "main.yml"))
        variables.update(_load(self.role / "vars" / "main.yml"))
        # include_vars (tasks/set_vars.yml) wins over the role's vars/main.yml, as in a play
        for path in set_vars_files(role, facts):
            variables.update(_load(path))
        variables.update(
            {
                "ansible_facts": facts,
                "ansible_managed": "Ansible managed",
                "ansible_check_mode": False,
                "inventory_hostname": inventory_hostname,
                "inventory_hostname_short": inventory_hostname,
                "role_path": str(self.role),
                "groups": groups or {"all": [inventory_hostname]},
                "hostvars": hostvars or {},
            }
        )
        for key, value in facts.items():
            variables.setdefault("ansible_" + key, value)
        variables.update(extra or {})
        self.templar = Templar(loader=_loader, variables=variables)

    def value(self, expression):
        """The value of a Jinja expression, e.g. ``value("__postgres_unit")``."""
        return self.templar.template(trust_as_template("{{ " + expression + " }}"))

    def render(self, template):
        """The text of roles/<role>/templates/<template>."""
        return self.templar.template(trust_as_template((self.role / "templates" / template).read_text()))


def set_vars_files(role, facts):
    """The vars files roles/<role>/tasks/set_vars.yml loads on a host with these facts, in load order.

    The task's own include_vars argument (ansible.builtin.first_found or a loop over names guarded by
    ``is file``) is templated with the facts, so this is what the role itself picks, not a copy of its rules.
    """
    init()
    role_path = ROOT / "roles" / role
    if not (role_path / "tasks" / "set_vars.yml").is_file():
        return []
    include = next(
        (t for t in walk(tasks(f"roles/{role}/tasks/set_vars.yml")) if "ansible.builtin.include_vars" in t), None
    )
    if include is None:
        return []
    base = {"ansible_facts": facts, "role_path": str(role_path)}
    base.update({"ansible_" + k: v for k, v in facts.items()})
    files = []
    for item in include.get("loop") or [None]:
        variables = dict(base, **(include.get("vars") or {}))
        if item is not None:
            variables["item"] = Templar(loader=_loader, variables=variables).template(item)
        path = Templar(loader=_loader, variables=variables).template(include["ansible.builtin.include_vars"])
        if not path:
            continue
        path = Path(path) if Path(path).is_absolute() else role_path / "vars" / path
        if path.is_file():
            files.append(path)
    return files


def tasks(path):
    """The task list of a YAML file under the collection root (roles/x/tasks/y.yml, playbooks/z.yml)."""
    return _loader.load_from_file(str(ROOT / path), trusted_as_template=True) or []


def walk(items):
    """Every task of a task list, blocks (block/rescue/always) flattened, in file order."""
    for item in items or []:
        yield item
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks"):
            if isinstance(item, dict) and key in item:
                yield from walk(item[key])


def task(path, name):
    """The task called ``name`` in a task file (blocks included)."""
    return next(t for t in walk(tasks(path)) if isinstance(t, dict) and t.get("name") == name)
