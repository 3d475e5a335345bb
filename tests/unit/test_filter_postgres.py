"""Unit tests of plugins/filter/postgres.py (major-version decisions and the upgrade preflight)."""

from ansible_collections.homelab.immich.plugins.filter import postgres as pg

KNOWN = {"14": "ghcr.io/immich-app/postgres:14-x", "17": "ghcr.io/immich-app/postgres:17-x"}


def test_new_install_runs_the_wanted_major():
    plan = pg.postgres_major_plan([], "17", False, "container", KNOWN["17"], KNOWN)
    assert plan["action"] == "ok" and plan["major"] == 17 and plan["image"] == KNOWN["17"]


def test_same_major_is_ok():
    assert pg.postgres_major_plan(["17"], "17", True, "container", "img", KNOWN)["action"] == "ok"


def test_default_moved_on_keeps_the_old_major_and_its_pinned_image():
    plan = pg.postgres_major_plan(["14"], "17", False, "container", KNOWN["17"], KNOWN)
    assert plan["action"] == "keep"
    assert plan["major"] == 14 and plan["image"] == KNOWN["14"]
    assert "postgres-upgrade.yml" in plan["msg"] and "postgres_upgrade_to=17" in plan["msg"]


def test_explicit_other_major_is_refused():
    plan = pg.postgres_major_plan(["15"], "17", True, "container", "localhost/pg17", KNOWN)
    assert plan["action"] == "refuse"
    assert "PostgreSQL 15 holds the data directory" in plan["msg"] and "postgres-upgrade.yml" in plan["msg"]


def test_unknown_old_major_without_pin_is_refused_in_container_mode():
    plan = pg.postgres_major_plan(["16"], "17", False, "container", KNOWN["17"], KNOWN)
    assert plan["action"] == "refuse"


def test_native_distribution_default_moved_on_keeps_the_cluster():
    # bookworm -> trixie: the 15 cluster stays, the distribution default is 17
    plan = pg.postgres_major_plan(["15"], "17", False, "native")
    assert plan["action"] == "keep" and plan["major"] == 15


def test_native_explicit_version_without_its_cluster_is_refused():
    plan = pg.postgres_major_plan(["17"], "16", True, "native")
    assert plan["action"] == "refuse" and "postgres_version: 17" in plan["msg"]


def test_native_wanted_cluster_exists_next_to_an_old_one():
    assert pg.postgres_major_plan(["15", "17"], "17", True, "native")["action"] == "ok"


def test_unknown_wanted_major_changes_nothing():
    plan = pg.postgres_major_plan(["15"], "", False, "container", "localhost/img", KNOWN)
    assert plan["action"] == "ok" and plan["major"] is None


def test_upgrade_ok():
    assert pg.postgres_upgrade_problems("15", "17", "vectorchord", "0.4.3", 10**10, 10**8, 2 * 10**8) == []


def test_upgrade_refuses_downgrade_and_same():
    assert any("downgrade" in p for p in pg.postgres_upgrade_problems("17", "15"))
    assert any("already on PostgreSQL 17" in p for p in pg.postgres_upgrade_problems("17", "17"))


def test_upgrade_refuses_unsupported_target():
    assert any("not supported" in p for p in pg.postgres_upgrade_problems("14", "13"))
    assert any("not supported" in p for p in pg.postgres_upgrade_problems("17", "18"))


def test_upgrade_refuses_little_disk_with_numbers():
    problems = pg.postgres_upgrade_problems(
        "15", "17", free_bytes=100 * 1024**2, db_bytes=200 * 1024**2, data_dir_bytes=300 * 1024**2
    )
    assert len(problems) == 1
    assert "550.0 MiB" in problems[0] and "100.0 MiB free" in problems[0] and "200.0 MiB" in problems[0]


def test_upgrade_vector_ranges():
    assert pg.postgres_upgrade_problems("15", "17", "vectorchord", "1.1.1") == []
    assert any("VectorChord 2.0.0" in p for p in pg.postgres_upgrade_problems("15", "17", "vectorchord", "2.0.0"))
    assert any("VectorChord 0.2.1" in p for p in pg.postgres_upgrade_problems("15", "17", "vectorchord", "0.2.1"))
    assert pg.postgres_upgrade_problems("15", "17", "pgvector", "0.8.0") == []


def test_upgrade_refuses_running_immich():
    problems = pg.postgres_upgrade_problems("15", "17", immich_running=["worker-1"])
    assert problems == ["Immich is still running on worker-1: it must be stopped everywhere (server and job workers)"]


def test_upgrade_missing_target():
    assert any("postgres_upgrade_to is not set" in p for p in pg.postgres_upgrade_problems("15", ""))


def test_explicit_older_major_is_refused_without_pointing_to_a_downgrade():
    plan = pg.postgres_major_plan(["17"], "15", True, "container", "img15", KNOWN)
    assert plan["action"] == "refuse" and "cannot go back" in plan["msg"] and "postgres_upgrade_to" not in plan["msg"]
