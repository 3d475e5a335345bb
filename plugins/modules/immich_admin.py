#!/usr/bin/python
# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: immich_admin
short_description: Create the first Immich admin and ensure an API key for automation
description:
  - Creates the first admin user with C(POST /api/auth/admin-sign-up) when the server has none
    (C(GET /api/server/config) tells, and a C(400 The server already has an admin) answer counts as
    present and unchanged).
  - Logs in as that admin and ensures one API key named O(api_key_name) with exactly
    O(api_key_permissions). Never creates a second key with the same name.
  - The key's secret is returned (in RV(secret)) only when the key is created or rotated; the
    server shows a secret only once, so store it (for example with C(no_log=true) into a 0600
    file or a vault).
version_added: 0.1.0
author:
  - homelab.immich contributors (@homelab-immich)
extends_documentation_fragment:
  - homelab.immich.immich
  - ansible.builtin.action_common_attributes
options:
  api_key:
    type: str
    description:
      - The secret of the key the caller already holds (for example read from its 0600 file).
      - When given and the server refuses it (401) while a key named O(api_key_name) exists, that
        key is rotated, as with O(rotate=true).
  email:
    description: Email address of the admin (also the login).
    type: str
    required: true
  password:
    description:
      - Password of the admin. Used for the sign-up and to log in; never returned.
    type: str
    required: true
  name:
    description: Display name of the admin, used only when the admin is created.
    type: str
    default: Admin
  api_key_name:
    description: Name of the API key the collection uses.
    type: str
    default: homelab.immich
  api_key_permissions:
    description:
      - Permissions of the API key. The default is the fewest the collection needs
        (system settings, queues and jobs).
      - A key whose permissions differ is updated in place (its secret stays valid).
    type: list
    elements: str
    default:
      - systemConfig.read
      - systemConfig.update
      - queue.read
      - queue.update
      - job.read
      - job.create
  rotate:
    description:
      - Delete the key and create a new one with the same name and a new secret.
      - The old secret stops working at once.
    type: bool
    default: false
attributes:
  platform:
    support: full
    platforms: posix
  check_mode:
    support: full
    details: Reports whether the admin or the key would be created, updated or rotated; changes
      nothing (it logs in to read the keys, and logs out again) and returns no secret.
  diff_mode:
    support: full
notes:
  - The admin password is not changed by this module when the admin exists; a wrong password fails
    with the server's C(401 Incorrect email or password).
"""

EXAMPLES = r"""
- name: Create the admin and the automation API key
  homelab.immich.immich_admin:
    url: http://127.0.0.1:2283
    email: "{{ immich_admin_email }}"
    password: "{{ immich_admin_password }}"
    # the secret stored by an earlier run, if any: a refused one makes the module rotate the key
    api_key: "{{ lookup('ansible.builtin.file', immich_secrets_dir ~ '/api_key', errors='ignore') or omit }}"
  register: immich_admin_result
  no_log: true

- name: Store a new API key secret (only returned when created or rotated)
  ansible.builtin.copy:
    content: "{{ immich_admin_result.secret }}"
    dest: "{{ immich_secrets_dir }}/api_key"
    mode: "0600"
  delegate_to: localhost
  when: immich_admin_result.secret is defined
  no_log: true
"""

RETURN = r"""
admin_created:
  description: Whether the admin user was created by this run.
  returned: always
  type: bool
admin:
  description: The admin user as the login reports it (id, email, name).
  returned: success
  type: dict
  sample: {id: 6d0e3b7a-1d63-4e58-9b6b-0cd2a1c9a1f7, email: admin@example.com, name: Admin}
api_key:
  description: The API key (id, name, permissions, createdAt, updatedAt), never its secret.
  returned: success, except in check mode when the key does not exist yet
  type: dict
api_keys_deleted:
  description:
    - How many keys named O(api_key_name) were deleted, by a rotation or because the name was
      used more than once (the first key is kept).
  returned: when the module could log in (always, except in check mode on a server without admin)
  type: int
  sample: 0
api_key_action:
  description: What happened to the key.
  returned: always
  type: str
  sample: created
  choices: [created, rotated, updated, unchanged]
secret:
  description:
    - The API key's secret. Only when the key was created or rotated (never in check mode); the
      server cannot show it again. Treat as a secret (C(no_log)).
  returned: when api_key_action is created or rotated
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.immich.plugins.module_utils.immich_api import (
    ImmichAPIError,
    client_from_module,
    immich_argument_spec,
    segment,
)

ADMIN_EXISTS = "The server already has an admin"


def ensure_admin(module, client):
    """Return True when the admin was (or would be) created."""
    initialized = client.get("/server/config").get("isInitialized")
    if initialized:
        return False
    if module.check_mode:
        return True
    body = {"email": module.params["email"], "name": module.params["name"], "password": module.params["password"]}
    try:
        client.post("/auth/admin-sign-up", body)
    except ImmichAPIError as exc:
        if exc.status == 400 and ADMIN_EXISTS in exc.message:
            return False
        raise
    return True


def caller_key_valid(module):
    """None when no api_key was given, else whether the server accepts it."""
    if not module.params["api_key"]:
        return None
    probe = client_from_module(module)
    try:
        probe.get("/api-keys/me")
    except ImmichAPIError as exc:
        if exc.status == 401:
            return False
        raise
    return True


def run(module, client):
    params = module.params
    result = {"changed": False, "admin_created": False, "api_key_action": "unchanged"}
    before = {"admin": True, "api_key": None}
    client.wait_for_ping()

    result["admin_created"] = ensure_admin(module, client)
    if result["admin_created"]:
        result["changed"] = True
        before["admin"] = False
        if module.check_mode:  # no admin yet: nothing to log in to
            result["api_key_action"] = "created"
            result["diff"] = {
                "before": {"admin": False, "api_key": None},
                "after": {"admin": params["email"], "api_key": {"name": params["api_key_name"]}},
            }
            return result

    login = client.login(params["email"], params["password"])
    result["admin"] = {"id": login["userId"], "email": login["userEmail"], "name": login["name"]}
    try:
        keys = [k for k in client.get("/api-keys") if k.get("name") == params["api_key_name"]]
        key = keys[0] if keys else None
        wanted = sorted(set(params["api_key_permissions"]))
        before["api_key"] = {"name": key["name"], "permissions": sorted(key["permissions"])} if key else None
        valid = caller_key_valid(module) if key else None
        if key is None:
            action = "created"
        elif params["rotate"] or valid is False:
            action = "rotated"
        elif sorted(key["permissions"]) != wanted:
            action = "updated"
        else:
            action = "unchanged"
        result["api_key_action"] = action
        # one key per name: duplicates made outside the collection go (the first one is kept)
        duplicates = keys[1:] if action in ("updated", "unchanged") else []
        result["api_keys_deleted"] = len(keys) if action == "rotated" else len(duplicates)
        if action != "unchanged" or duplicates:
            result["changed"] = True
        if not module.check_mode:
            for extra in duplicates:
                client.delete("/api-keys/%s" % segment(extra["id"]))
        if module.check_mode or action == "unchanged":
            result["api_key"] = key
        elif action == "updated":
            result["api_key"] = client.put("/api-keys/%s" % segment(key["id"]), {"permissions": wanted})
        else:
            for old in keys:  # delete first: never two keys with one name
                client.delete("/api-keys/%s" % segment(old["id"]))
            created = client.post("/api-keys", {"name": params["api_key_name"], "permissions": wanted})
            result["api_key"] = created["apiKey"]
            result["secret"] = created["secret"]
        if before["api_key"] is not None:
            before["api_key"]["secret_rotated"] = False
        after_key = {
            "name": params["api_key_name"],
            "permissions": wanted,
            "secret_rotated": action in ("created", "rotated"),
        }
        result["diff"] = {"before": before, "after": {"admin": True, "api_key": after_key}}
    finally:
        client.logout()
    return result


def main():
    argument_spec = immich_argument_spec(
        email={"type": "str", "required": True},
        password={"type": "str", "required": True, "no_log": True},
        name={"type": "str", "default": "Admin"},
        api_key_name={"type": "str", "default": "homelab.immich", "no_log": False},
        api_key_permissions={
            "type": "list",
            "elements": "str",
            "no_log": False,
            "default": [
                "systemConfig.read",
                "systemConfig.update",
                "queue.read",
                "queue.update",
                "job.read",
                "job.create",
            ],
        },
        rotate={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = client_from_module(module, use_api_key=False)
    try:
        result = run(module, client)
    except ImmichAPIError as exc:
        module.fail_json(admin_created=False, **exc.to_result())
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
