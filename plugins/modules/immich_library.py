#!/usr/bin/python
# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: immich_library
short_description: Create, update or delete an Immich external library and scan it
description:
  - Keeps one Immich external library (folders of existing photos that Immich indexes without copying
    them) as described, with its owner, its import paths and its exclusion patterns.
  - The library is found by its O(name); two libraries with that name make the module fail.
  - A new library is created without import paths first, then given them with C(PUT /api/libraries/{id}),
    where the server checks each path (it must exist inside the immich-server container, be a readable
    directory and lie outside Immich's own media folder). When the server refuses a path, the new library
    is deleted again and the module fails with the server's reason.
  - After a library is created, or its import paths change, the module queues a scan
    (C(POST /api/libraries/{id}/scan)) unless O(scan=false). The scan runs in Immich's microservices worker
    (on a job worker when the server excludes it), which imports the files it finds as assets.
  - The owner of a library cannot be changed through the API; a library whose owner differs from O(owner)
    makes the module fail (delete it with O(state=absent) and create it again).
version_added: 0.2.0
author:
  - homelab.immich contributors (@homelab-immich)
extends_documentation_fragment:
  - homelab.immich.immich
  - ansible.builtin.action_common_attributes
options:
  api_key:
    description:
      - API key of an admin with the permissions C(library.read), C(library.create), C(library.update),
        C(library.delete) and C(adminUser.read) (to find the owner by email).
    type: str
    required: true
  name:
    description: Name of the library (what Immich shows under Administration, External libraries).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the library, V(absent) deletes it (Immich then removes its assets from
        the timeline; the files in the import paths are never touched).
    type: str
    default: present
    choices: [present, absent]
  owner:
    description:
      - Email address of the Immich user who owns the library (its assets appear in that user's timeline).
      - Required to create a library; checked against an existing one.
    type: str
  import_paths:
    description:
      - Absolute paths as the immich-server container sees them. The collection mounts each library's host
        folder at the same path, read-only.
      - Compared without regard to order. Omitted, an existing library keeps its paths.
    type: list
    elements: str
  exclusion_patterns:
    description:
      - Glob patterns of files and folders the scan skips, for example C(**/@eaDir/**).
      - Compared without regard to order. Omitted, a new library gets Immich's defaults (Synology, Syncthing
        and recycle-bin folders) and an existing one keeps its patterns.
    type: list
    elements: str
  scan:
    description:
      - Queue a scan after the library was created or its import paths changed.
    type: bool
    default: true
attributes:
  platform:
    support: full
    platforms: posix
  check_mode:
    support: full
    details: Reads the libraries and users and reports what would change; sends no C(POST), C(PUT) or C(DELETE).
  diff_mode:
    support: full
    details: The library's name, owner, import paths and exclusion patterns before and after.
"""

EXAMPLES = r"""
- name: An external library of the family's old photos, owned by the admin
  homelab.immich.immich_library:
    url: http://127.0.0.1:2283
    api_key: "{{ immich_api_key }}"
    name: Family archive
    owner: admin@example.com
    import_paths: [/srv/photos/archive]
    exclusion_patterns: ["**/@eaDir/**", "**/*.tmp"]

- name: Remove a library (its assets leave the timeline; the files stay)
  homelab.immich.immich_library:
    url: http://127.0.0.1:2283
    api_key: "{{ immich_api_key }}"
    name: Old scans
    state: absent
"""

RETURN = r"""
library:
  description: The library after the change (as it would be, in check mode); absent after O(state=absent).
  returned: when the library exists or is created
  type: dict
  contains:
    id:
      description: Library ID (empty in check mode for a library not created yet).
      type: str
    name:
      description: Library name.
      type: str
    ownerId:
      description: ID of the owner.
      type: str
    importPaths:
      description: Import paths.
      type: list
      elements: str
    exclusionPatterns:
      description: Exclusion patterns.
      type: list
      elements: str
    assetCount:
      description: Number of assets (as the server reported it before any scan this run queued).
      type: int
  sample:
    id: 9a0c1c36-92a1-4b5c-a0c1-2b0f8f3e7d11
    name: Family archive
    ownerId: 2f1d0e0a-3b8c-4c55-9b86-5f0a2b6e1c77
    importPaths: [/srv/photos/archive]
    exclusionPatterns: ["**/@eaDir/**"]
    assetCount: 0
scanned:
  description: Whether a scan was queued (or would be, in check mode).
  returned: success
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.immich.plugins.module_utils.immich_api import (
    ImmichAPIError,
    client_from_module,
    immich_argument_spec,
    segment,
)


class LibraryError(Exception):
    pass


def find_library(client, name):
    found = [lib for lib in client.get("/libraries") or [] if lib.get("name") == name]
    if len(found) > 1:
        raise LibraryError(
            "%d Immich libraries are named %r (ids %s): rename or delete all but one in Administration, "
            "External libraries" % (len(found), name, ", ".join(lib["id"] for lib in found))
        )
    return found[0] if found else None


def users_by_id(client):
    return {u["id"]: u for u in client.get("/admin/users") or []}


def find_owner(users, email):
    for user in users.values():
        if str(user.get("email", "")).lower() == email.lower():
            return user
    raise LibraryError(
        "no Immich user has the email %s (users: %s): create the user first, or name an existing owner"
        % (email, ", ".join(sorted(u.get("email", "?") for u in users.values())) or "none")
    )


def view(library, users):
    """What the diff shows of a library."""
    if not library:
        return {}
    owner = users.get(library.get("ownerId"), {})
    return {
        "name": library.get("name"),
        "owner": owner.get("email", library.get("ownerId")),
        "importPaths": sorted(library.get("importPaths") or []),
        "exclusionPatterns": sorted(library.get("exclusionPatterns") or []),
    }


def differs(current, wanted):
    return wanted is not None and sorted(current or []) != sorted(wanted)


def present(module, client, library):
    params = module.params
    users = users_by_id(client)
    owner = find_owner(users, params["owner"]) if params["owner"] else None
    paths, patterns = params["import_paths"], params["exclusion_patterns"]
    result = {"changed": False, "scanned": False}
    before = view(library, users)

    if library is None:
        if owner is None:
            raise LibraryError("library %r does not exist yet: set owner (an email) to create it" % params["name"])
        after = {
            "id": "",
            "name": params["name"],
            "ownerId": owner["id"],
            "importPaths": list(paths or []),
            "exclusionPatterns": list(patterns) if patterns is not None else [],
            "assetCount": 0,
        }
        result.update(changed=True, scanned=bool(params["scan"] and paths))
        if not module.check_mode:
            body = {"ownerId": owner["id"], "name": params["name"], "importPaths": []}
            if patterns is not None:
                body["exclusionPatterns"] = list(patterns)
            created = client.post("/libraries", body)
            after = created
            if paths:
                try:
                    after = client.put("/libraries/%s" % segment(created["id"]), {"importPaths": list(paths)})
                except ImmichAPIError as exc:
                    # the server checks import paths on update only: leave no half-made library behind
                    try:
                        client.delete("/libraries/%s" % segment(created["id"]))
                    except ImmichAPIError:
                        pass
                    exc.msg = "%s; library %r was not created (is every import path mounted into immich-server?)" % (
                        exc.msg,
                        params["name"],
                    )
                    raise
            if result["scanned"]:
                client.post("/libraries/%s/scan" % segment(after["id"]))
        result["library"] = after
        result["diff"] = {"before": before, "after": view(after, users)}
        return result

    if owner is not None and library.get("ownerId") != owner["id"]:
        current = users.get(library.get("ownerId"), {}).get("email", library.get("ownerId"))
        raise LibraryError(
            "library %r belongs to %s, not %s, and Immich cannot change a library's owner: set owner to %s, "
            "or delete the library (state: absent) and create it again"
            % (params["name"], current, owner["email"], current)
        )
    update = {}
    if differs(library.get("importPaths"), paths):
        update["importPaths"] = list(paths)
    if differs(library.get("exclusionPatterns"), patterns):
        update["exclusionPatterns"] = list(patterns)
    after = dict(library, **update)
    if update:
        result["changed"] = True
        result["scanned"] = bool(params["scan"] and "importPaths" in update and paths)
        if not module.check_mode:
            after = client.put("/libraries/%s" % segment(library["id"]), update)
            if result["scanned"]:
                client.post("/libraries/%s/scan" % segment(library["id"]))
    result["library"] = after
    result["diff"] = {"before": before, "after": view(after, users)}
    return result


def run(module, client):
    client.wait_for_ping()
    library = find_library(client, module.params["name"])
    if module.params["state"] == "absent":
        result = {"changed": library is not None, "scanned": False}
        if library is not None:
            result["diff"] = {"before": view(library, users_by_id(client)), "after": {}}
            if not module.check_mode:
                client.delete("/libraries/%s" % segment(library["id"]))
        return result
    return present(module, client, library)


def main():
    argument_spec = immich_argument_spec(
        api_key={"type": "str", "required": True, "no_log": True},
        name={"type": "str", "required": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        owner={"type": "str"},
        import_paths={"type": "list", "elements": "str"},
        exclusion_patterns={"type": "list", "elements": "str"},
        scan={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    for path in module.params["import_paths"] or []:
        if not path.startswith("/"):
            module.fail_json(msg="import_paths: %r is not an absolute path (as immich-server sees it)" % path)
    client = client_from_module(module)
    try:
        result = run(module, client)
    except ImmichAPIError as exc:
        module.fail_json(**exc.to_result())
    except LibraryError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
