#!/usr/bin/python
# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: immich_config
short_description: Set Immich system settings through the API, idempotently
description:
  - Reads the complete system configuration with C(GET /api/system-config), deep-merges O(settings)
    into it (mappings are merged, lists and scalars replaced), compares, and sends the complete
    document with C(PUT /api/system-config) only when something differs. The server refuses a
    partial document, so the module always sends the whole one.
  - The admin UI stays writable (unlike a configuration file named by C(IMMICH_CONFIG_FILE)).
  - Setting paths that the server's configuration does not have are refused before anything is
    sent, so a typo fails instead of being silently dropped by the server.
version_added: 0.1.0
author:
  - homelab.immich contributors (@homelab-immich)
extends_documentation_fragment:
  - homelab.immich.immich
  - ansible.builtin.action_common_attributes
options:
  api_key:
    description:
      - API key with the permissions C(systemConfig.read) and C(systemConfig.update).
    type: str
    required: true
  settings:
    description:
      - Partial system configuration, in the shape of the server's C(SystemConfigDto), for example
        a mapping with C(machineLearning.urls) and C(job.smartSearch.concurrency) (see the examples).
      - Values are compared with their types (C(true) is not C(1)). Scalars are first converted to
        the type the server keeps at that path, as the server itself would store them (C("false")
        becomes C(false), C("5") becomes C(5)), so that an inventory string compares equal to what is
        read back; a value that cannot be converted is refused with its path before anything is sent.
    type: dict
    required: true
attributes:
  platform:
    support: full
    platforms: posix
  check_mode:
    support: full
    details: Reads the configuration and reports what would change; sends no C(PUT).
  diff_mode:
    support: full
    details: The diff holds only the changed paths, with secrets (passwords, client secrets) masked.
notes:
  - With C(IMMICH_CONFIG_FILE) set on the server the configuration is read-only; the module then
    fails with the server's message when a change is needed, and succeeds when none is.
"""

EXAMPLES = r"""
- name: Point Immich at the ML load balancer, then the local CPU fallback
  homelab.immich.immich_config:
    url: http://127.0.0.1:2283
    api_key: "{{ immich_api_key }}"
    settings:
      machineLearning:
        urls:
          - http://127.0.0.1:3004
          - http://127.0.0.1:3003
      job:
        smartSearch:
          concurrency: 4
        faceDetection:
          concurrency: 4
      storageTemplate:
        enabled: true
        template: "{{ '{{y}}/{{MM}}/{{filename}}' }}"
  no_log: true

- name: Show what would change
  homelab.immich.immich_config:
    url: http://127.0.0.1:2283
    api_key: "{{ immich_api_key }}"
    settings:
      trash:
        days: 60
  check_mode: true
  diff: true
"""

RETURN = r"""
changes:
  description: Every changed setting, with its value before and after (secrets masked).
  returned: always
  type: list
  elements: dict
  sample:
    - path: machineLearning.urls
      before: ["http://immich-machine-learning:3003"]
      after: ["http://127.0.0.1:3004", "http://127.0.0.1:3003"]
config:
  description: The complete configuration after the run (as it would be in check mode), secrets masked.
  returned: success
  type: dict
diff:
  description: Only the changed paths, before and after (secrets masked).
  returned: when changed and diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.immich.plugins.module_utils.immich_api import (
    ImmichAPIError,
    changed_paths,
    client_from_module,
    coerce_types,
    deep_merge,
    immich_argument_spec,
    mask_secrets,
    nest,
    unknown_paths,
)


def run(module, client):
    settings = module.params["settings"]
    client.wait_for_ping()
    current = client.get("/system-config")
    unknown = unknown_paths(current, settings)
    if unknown:
        module.fail_json(msg="Settings the Immich server does not have: %s" % ", ".join(sorted(unknown)))
    try:
        settings = coerce_types(current, settings)
    except ValueError as exc:
        module.fail_json(msg="Setting with the wrong type: %s" % exc)
    wanted = deep_merge(current, settings)
    changes = changed_paths(current, wanted)
    masked = [
        {
            "path": ".".join(str(p) for p in path),
            "before": mask_secrets({path[-1]: old})[path[-1]],
            "after": mask_secrets({path[-1]: new})[path[-1]],
        }
        for path, old, new in changes
    ]
    result = {"changed": bool(changes), "changes": masked}
    if changes:
        if module._diff:
            result["diff"] = {
                "before": mask_secrets(nest(changes, 1)),
                "after": mask_secrets(nest(changes, 2)),
            }
        if not module.check_mode:
            wanted = client.put("/system-config", wanted)
    result["config"] = mask_secrets(wanted)
    return result


def main():
    argument_spec = immich_argument_spec(
        api_key={"type": "str", "required": True, "no_log": True},
        settings={"type": "dict", "required": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = client_from_module(module)
    try:
        result = run(module, client)
    except ImmichAPIError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
