#!/usr/bin/python
# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: validate_inventory
short_description: Check the whole Immich inventory on the controller before any host changes
version_added: 0.1.0
description:
  - An action plugin that runs on the controller only (C(playbooks/validate.yml) runs it first in every playbook of
    the collection). It reads the inventory through C(hostvars) and C(groups) and reports B(every) problem at once,
    each naming the host, the variable and the fix, then fails; nothing on any host changes.
  - "Argument specs: for every entry of O(plan), the role's C(meta/argument_specs.yml) (entry point C(main) unless
    given) against each value the inventory sets on each host of the entry's groups (types, choices, elements).
    Values that depend on facts a role sets during the run are left to the role (a warning says so)."
  - "Across hosts: exactly one host in C(immich_server); no host in C(immich_server) and C(ml_workers), or
    C(immich_server) and C(job_workers); C(immich_version) a pinned C(vX.Y.Z) tag within O(version_min) and
    O(version_below), the same on every host, and no C(immich_server_version), C(immich_ml_version) or
    C(upgrade_version) that differs from it; no two services on one port of a host, and the firewall's ports equal
    the services' ports; variables with a role's prefix that no role has (typos, with the closest name)."
  - "Values: addresses and CIDRs (no wildcard peers), URLs with a scheme and a host, absolute paths, database and
    Valkey passwords without whitespace, line breaks, quotes, backslashes or C($), the admin email and password,
    Tailscale keys in C(tailscale) mode, the NFS export of job workers (non-root library owner, no separate
    thumbnails, the export's client group, the mount options)."
  - "Against the facts gathered before (C(setup) and C(homelab.immich.gpu_facts), both read-only): a forced ML
    backend or transcoding mode without the hardware for it, a CPU without x86-64-v2, C(lan) mode on a host with
    neither C(mesh_lan_address) nor a default route, an OS family the collection does not install on. Hosts without
    facts skip these checks."
author:
  - homelab.immich contributors (@homelab-immich)
options:
  plan:
    description:
      - Which roles run on which groups, as C(site.yml) gives them; each entry is
        C({role, groups, entry_point (main), vars}), where C(vars) are the values the play sets for the role
        (they are not taken from the inventory).
    type: list
    elements: dict
    required: true
  groups:
    description: The inventory groups (default the C(groups) magic variable).
    type: dict
  scope:
    description:
      - The playbook that runs next. C(site) also requires what only a full run needs (the admin email, a non-root
        library owner with job workers); C(day2) (backup, restore, upgrade, verify) and C(job_workers) do not.
    type: str
    choices: [site, day2, job_workers]
    default: site
  version_min:
    description: Lowest Immich release tag the collection supports.
    type: str
    default: v3.0.0
  version_below:
    description: First Immich release tag the collection does not support yet.
    type: str
    default: v4.0.0
  roles_dir:
    description: Directory of the roles whose specs and defaults are read (default the collection's C(roles)).
    type: path
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Returns no diff.
  action:
    support: full
    description: Runs on the controller.
notes:
  - The role preflights stay for direct role users; this plugin moves their checks, and more, before the first change.
seealso:
  - name: playbooks/validate.yml
    description: Gathers the read-only facts and runs this plugin once for the whole inventory.
    link: https://github.com/homelab/immich/blob/main/playbooks/validate.yml
"""

EXAMPLES = r"""
- name: Check the inventory
  homelab.immich.validate_inventory:
    plan:
      - {role: mesh, groups: [immich_server, ml_workers, job_workers]}
      - {role: immich_ml, groups: [immich_server], vars: {immich_ml_role: fallback}}
"""

RETURN = r"""
problems:
  description: Every problem found, in the order of the checks.
  returned: always
  type: list
  elements: dict
  sample:
    - {host: photos, variable: immich_version, msg: '"3.1.0" is not a pinned release tag', fix: set a tag like v3.1.0}
checked_hosts:
  description: The hosts whose variables were checked.
  returned: always
  type: list
  elements: str
msg:
  description: All problems, one per line, or that the inventory passed.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={
            "plan": {"type": "list", "elements": "dict", "required": True},
            "groups": {"type": "dict"},
            "scope": {"type": "str", "default": "site", "choices": ["site", "day2", "job_workers"]},
            "version_min": {"type": "str", "default": "v3.0.0"},
            "version_below": {"type": "str", "default": "v4.0.0"},
            "roles_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    module.fail_json(msg="homelab.immich.validate_inventory runs on the controller only (an action plugin).")


if __name__ == "__main__":
    main()
