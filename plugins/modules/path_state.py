#!/usr/bin/python
# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: path_state
short_description: Tell which files and directories are already as wanted, in one call
description:
  - Looks at several paths at once (type, owner, group, mode, SHA-1 of the content) and reports,
    for each, whether it is already exactly as wanted. It never changes anything.
  - Roles call it once before their M(ansible.builtin.file), M(ansible.builtin.template) and
    M(ansible.builtin.copy) tasks and run those only for the paths that differ, so that a re-run
    with nothing to do costs one module call instead of one (or, for a template, two) per path.
    The tasks that then run still make their own decision, show their diff and notify their
    handlers, so the outcome is the same as without this module.
  - The comparison is conservative; anything it cannot confirm (a symbolic mode, an unknown user,
    a link where a file is wanted, an unreadable file) counts as different.
version_added: 0.1.0
author:
  - homelab.immich contributors (@homelab-immich)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  paths:
    description:
      - What each path should be, keyed by a short name that the result uses.
      - Each value is a dict with the keys C(path) (required, absolute); C(state), which is V(file) (the default, a
        regular file, not followed if it is a link), V(directory) (followed, like
        M(ansible.builtin.file) does) or V(absent) (nothing at that path); C(owner) and C(group)
        (name or numeric id); C(mode) (octal, such as V(0644)); C(checksum) (SHA-1 of the wanted
        content, for example C(lookup('ansible.builtin.template', 'x.j2') | hash('sha1'))).
        Keys that are omitted are not compared.
    type: dict
    required: true
attributes:
  platform:
    support: full
    platforms: posix
  check_mode:
    support: full
    details: Only reads; the same result in check mode.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Look at the files of this role
  homelab.immich.path_state:
    paths:
      conf_dir: {path: /etc/containers/containers.conf.d, state: directory, owner: root, group: root, mode: "0755"}
      conf:
        path: /etc/containers/containers.conf.d/50-homelab-immich.conf
        owner: root
        group: root
        mode: "0644"
        checksum: "{{ lookup('ansible.builtin.template', 'containers.conf.j2') | hash('sha1') }}"
  register: __state

- name: Write the containers.conf drop-in
  ansible.builtin.template:
    src: containers.conf.j2
    dest: /etc/containers/containers.conf.d/50-homelab-immich.conf
    owner: root
    group: root
    mode: "0644"
  when: not __state.ok.conf
"""

RETURN = r"""
ok:
  description: For each name of O(paths), whether that path is already as wanted.
  returned: always
  type: dict
  sample: {conf_dir: true, conf: false}
differ:
  description: The names whose paths differ (or could not be confirmed), sorted.
  returned: always
  type: list
  elements: str
  sample: [conf]
"""

import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule

PATH_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "default": "file", "choices": ["file", "directory", "absent"]},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "str"},
    "checksum": {"type": "str"},
}


def _id(value, lookup):
    """Numeric id of a user/group given by name or number; None when it does not exist."""
    if value.isdigit():
        return int(value)
    try:
        return lookup(value)
    except KeyError:
        return None


def _sha1(path):
    h = hashlib.sha1()  # nosec: content comparison with Ansible's own checksum, not security
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(65536), b""):
            h.update(block)
    return h.hexdigest()


def path_ok(spec):
    """True when the path is exactly as spec wants it (conservative: unknown means False)."""
    path, state = spec["path"], spec.get("state") or "file"
    if state == "absent":
        return not os.path.lexists(path)
    try:
        st = os.stat(path) if state == "directory" else os.lstat(path)
    except OSError:
        return False
    if state == "directory" and not stat.S_ISDIR(st.st_mode):
        return False
    if state == "file" and not stat.S_ISREG(st.st_mode):
        return False
    if spec.get("owner") is not None and _id(spec["owner"], lambda n: pwd.getpwnam(n).pw_uid) != st.st_uid:
        return False
    if spec.get("group") is not None and _id(spec["group"], lambda n: grp.getgrnam(n).gr_gid) != st.st_gid:
        return False
    if spec.get("mode") is not None:
        try:
            if int(spec["mode"], 8) != stat.S_IMODE(st.st_mode):
                return False
        except ValueError:
            return False
    if spec.get("checksum") is not None and state == "file":
        try:
            if _sha1(path) != spec["checksum"].lower():
                return False
        except OSError:
            return False
    return True


def main():
    module = AnsibleModule(
        argument_spec={"paths": {"type": "dict", "required": True}},
        supports_check_mode=True,
    )
    ok = {}
    for name, raw in module.params["paths"].items():
        if not isinstance(raw, dict) or "path" not in raw:
            module.fail_json(msg=f"paths.{name} must be a dict with at least 'path'")
        unknown = set(raw) - set(PATH_SPEC)
        if unknown:
            module.fail_json(msg=f"paths.{name}: unknown keys {sorted(unknown)}")
        spec = {k: (None if v is None else str(v)) for k, v in raw.items()}
        if spec.get("state") not in (None, "file", "directory", "absent"):
            module.fail_json(msg=f"paths.{name}.state must be file, directory or absent")
        ok[name] = path_ok(spec)
    module.exit_json(changed=False, ok=ok, differ=sorted(n for n, v in ok.items() if not v))


if __name__ == "__main__":
    main()
