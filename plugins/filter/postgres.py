# Copyright: (c) 2026, homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL major-version decisions of homelab.immich (the postgres role and
playbooks/postgres-upgrade.yml).

Pure functions, unit tested in tests/unit/test_filter_postgres.py:

- ``postgres_major_plan``: which major (and, in container mode, which image) the role runs, given
  the ``PG_VERSION`` of the data directory and the inventory; the role never changes a data
  directory's major on its own.
- ``postgres_upgrade_problems``: the preflight of the upgrade playbook (supported majors, no
  downgrade, vector extension range, free disk with the numbers).
"""

import re

from ansible.errors import AnsibleFilterError

# Immich v3.1.0 server/src/constants.ts: POSTGRES_VERSION_RANGE '>=14.0.0',
# VECTORCHORD_VERSION_RANGE '>=0.3 <2', VECTOR_VERSION_RANGE '>=0.5 <1'
IMMICH_MIN_MAJOR = 14
# majors this collection has been tested with (PostgreSQL 18 images move PGDATA; not yet supported)
SUPPORTED_MAJORS = (14, 15, 16, 17)
VECTORCHORD_RANGE = ((0, 3), (2, 0))
PGVECTOR_RANGE = ((0, 5), (1, 0))
UPGRADE_PLAYBOOK = "playbooks/postgres-upgrade.yml"


def _major(value):
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    m = re.match(r"^(\d+)", text)
    if not m:
        raise AnsibleFilterError("not a PostgreSQL major version: %r" % value)
    return int(m.group(1))


def _version_tuple(value):
    parts = re.findall(r"\d+", str(value or ""))
    return tuple(int(p) for p in parts[:3]) + (0,) * (3 - len(parts[:3])) if parts else None


def _in_range(version, rng):
    v = _version_tuple(version)
    if v is None:
        return False
    low = rng[0] + (0,)
    high = rng[1] + (0,)
    return low <= v < high


def postgres_major_plan(data_majors, wanted_major, explicit, mode="container", image="", known_images=None):
    """Decide the major the role runs.

    data_majors: majors found on the host (container: the data directory's PG_VERSION, a list of
    zero or one; native: every /var/lib/postgresql/*/main cluster). wanted_major: the inventory's
    major (postgres_version, the image tag's, or the distribution default). explicit: whether the
    user chose it (postgres_version set, or an image that is not one of the collection's pins).
    known_images: {major: image} the collection pins (container mode).

    Returns {action: ok|keep|refuse, major, image, msg}: ``keep`` runs the data directory's major
    (the collection's own default moved on; a warning is shown), ``refuse`` stops the role.
    """
    explicit = explicit is True or str(explicit).strip().lower() in ("true", "yes", "1")
    known = {int(k): v for k, v in (known_images or {}).items()}
    found = sorted({m for m in (_major(d) for d in (data_majors or [])) if m is not None})
    wanted = _major(wanted_major)
    plan = {"action": "ok", "major": wanted, "image": image, "msg": ""}
    if not found or wanted is None or wanted in found:
        return plan
    old = found[-1]
    where = "the data directory" if mode == "container" else "the existing cluster(s)"
    if wanted < old:
        move = (
            "PostgreSQL cannot go back a major version (%s only moves up): only a backup taken on %d can be "
            "restored there." % (UPGRADE_PLAYBOOK, wanted)
        )
    else:
        move = (
            "To move the database to PostgreSQL %d, run %s -e postgres_upgrade_to=%d (dump, restore, the old "
            "directory kept)." % (wanted, UPGRADE_PLAYBOOK, wanted)
        )
    if explicit or (mode == "container" and old not in known):
        if mode == "container":
            keep = "set postgres_container_image to a PostgreSQL %d image" % old
            if old in known:
                keep += " (e.g. %s, or leave it unset)" % known[old]
        else:
            keep = "set postgres_version: %d (or leave it empty)" % old
        plan.update(
            action="refuse",
            major=old,
            msg=(
                "PostgreSQL %d holds %s (PG_VERSION), but the inventory asks for %d. This role never changes "
                "the major version of existing data: to stay, %s. %s" % (old, where, wanted, keep, move)
            ),
        )
        return plan
    plan.update(
        action="keep",
        major=old,
        image=known.get(old, image) if mode == "container" else image,
        msg=(
            "PostgreSQL %d holds %s (PG_VERSION); the collection's default for new installs is %d. Staying on %d "
            "(the role never changes the major by itself). %s" % (old, where, wanted, old, move)
        ),
    )
    return plan


def postgres_upgrade_problems(
    from_major,
    to_major,
    vector_extension="vectorchord",
    vector_version="",
    free_bytes=None,
    db_bytes=0,
    data_dir_bytes=0,
    immich_running=None,
):
    """The preflight of the upgrade: every problem as a sentence (empty list = go).

    Space needed: the dump (at most the database size; plain SQL dumps are smaller than the
    tables, the indexes are not dumped) plus the new cluster (at most the old data directory),
    plus 10 % slack.
    """
    problems = []
    old = _major(from_major)
    new = _major(to_major)
    if old is None:
        problems.append("the current PostgreSQL major is unknown (no PG_VERSION in the data directory)")
    if new is None:
        problems.append("postgres_upgrade_to is not set: give the target major, e.g. -e postgres_upgrade_to=17")
    if old is not None and new is not None:
        if new < old:
            problems.append(
                "PostgreSQL %d -> %d is a downgrade: PostgreSQL cannot go back a major version; restore a "
                "backup of the %d cluster instead" % (old, new, new)
            )
        elif new == old:
            problems.append("the database is already on PostgreSQL %d: nothing to move" % old)
    if new is not None and (new < IMMICH_MIN_MAJOR or new not in SUPPORTED_MAJORS):
        problems.append(
            "PostgreSQL %d is not supported: Immich needs 14 or newer and this collection supports %s"
            % (new, ", ".join(str(m) for m in SUPPORTED_MAJORS))
        )
    if vector_version:
        rng, name = (
            (VECTORCHORD_RANGE, "VectorChord") if vector_extension == "vectorchord" else (PGVECTOR_RANGE, "pgvector")
        )
        if not _in_range(vector_version, rng):
            problems.append(
                "%s %s in the target is outside what Immich accepts (>=%s <%s)"
                % (name, vector_version, ".".join(map(str, rng[0])), ".".join(map(str, rng[1])))
            )
    if free_bytes is not None:
        need = int((int(db_bytes or 0) + int(data_dir_bytes or 0)) * 1.1)
        if int(free_bytes) < need:
            problems.append(
                "not enough free disk: the dump and the new cluster need about %s (database %s + data directory "
                "%s + 10 %%), %s free" % (_size(need), _size(db_bytes), _size(data_dir_bytes), _size(free_bytes))
            )
    for host in immich_running or []:
        problems.append("Immich is still running on %s: it must be stopped everywhere (server and job workers)" % host)
    return problems


def _size(n):
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024
    return "%d B" % n


class FilterModule:
    def filters(self):
        return {
            "postgres_major_plan": postgres_major_plan,
            "postgres_upgrade_problems": postgres_upgrade_problems,
        }
