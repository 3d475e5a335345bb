# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""External libraries (inventory ``immich_external_libraries``) in the shape the roles use."""


def _clean(path):
    text = str(path or "").strip()
    return text.rstrip("/") or text


def external_libraries(entries, default_owner=""):
    """Each entry with its defaults: owner (the admin), import_paths ([host_path]), state (present).

    ``exclusion_patterns`` stays None when the entry has none, so a new library gets Immich's defaults.
    """
    out = []
    for entry in entries or []:
        entry = dict(entry or {})
        host_path = _clean(entry.get("host_path"))
        paths = entry.get("import_paths") or [host_path]
        out.append(
            {
                "name": str(entry.get("name", "")),
                "host_path": host_path,
                "owner": entry.get("owner") or default_owner,
                "import_paths": [_clean(p) for p in paths],
                "exclusion_patterns": entry.get("exclusion_patterns"),
                "state": entry.get("state") or "present",
            }
        )
    return out


def external_library_paths(entries):
    """Host paths of the libraries that are present, once each: what is mounted (read-only) and exported."""
    out = []
    for entry in external_libraries(entries):
        if entry["state"] != "absent" and entry["host_path"] and entry["host_path"] not in out:
            out.append(entry["host_path"])
    return out


class FilterModule:
    def filters(self):
        return {
            "external_libraries": external_libraries,
            "external_library_paths": external_library_paths,
        }
