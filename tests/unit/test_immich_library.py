"""immich_library with the transport mocked: which requests, in which order, with which bodies."""

import pytest
from test_immich_api import Transport
from test_immich_modules import PING, Failed, FakeModule, api, calls

from ansible_collections.homelab.immich.plugins.modules import immich_library

ADMIN = {"id": "u-admin", "email": "admin@example.com"}
ANNA = {"id": "u-anna", "email": "anna@example.com"}
USERS = (200, [ADMIN, ANNA])
LIB = {
    "id": "lib-1",
    "name": "Archive",
    "ownerId": "u-admin",
    "importPaths": ["/srv/photos"],
    "exclusionPatterns": ["**/@eaDir/**"],
    "assetCount": 3,
}


def module(check_mode=False, diff=True, **params):
    base = {
        "name": "Archive",
        "state": "present",
        "owner": "admin@example.com",
        "import_paths": ["/srv/photos"],
        "exclusion_patterns": ["**/@eaDir/**"],
        "scan": True,
    }
    base.update(params)
    return FakeModule(base, check_mode=check_mode, diff=diff)


def test_creates_then_sets_paths_then_scans():
    created = dict(LIB, importPaths=[], assetCount=0)
    transport = Transport(
        PING, (200, []), USERS, (201, created), (200, dict(created, importPaths=["/srv/photos"])), (204, None)
    )
    result = immich_library.run(module(), api(transport))
    assert calls(transport) == [
        ("GET", "/api/server/ping", None),
        ("GET", "/api/libraries", None),
        ("GET", "/api/admin/users", None),
        (
            "POST",
            "/api/libraries",
            {"ownerId": "u-admin", "name": "Archive", "importPaths": [], "exclusionPatterns": ["**/@eaDir/**"]},
        ),
        ("PUT", "/api/libraries/lib-1", {"importPaths": ["/srv/photos"]}),
        ("POST", "/api/libraries/lib-1/scan", None),
    ]
    assert result["changed"] is True and result["scanned"] is True
    assert result["library"]["importPaths"] == ["/srv/photos"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["owner"] == "admin@example.com"


def test_refused_import_path_deletes_the_new_library_and_fails():
    created = dict(LIB, importPaths=[], assetCount=0)
    refused = (400, {"message": "Invalid import path: Path does not exist (ENOENT)"})
    transport = Transport(PING, (200, []), USERS, (201, created), refused, (204, None))
    with pytest.raises(Failed) as info:
        try:
            immich_library.run(module(), api(transport))
        except immich_library.ImmichAPIError as exc:
            raise Failed(exc.to_result()) from None
    assert "ENOENT" in info.value.args[0]["msg"] and "was not created" in info.value.args[0]["msg"]
    assert calls(transport)[-1] == ("DELETE", "/api/libraries/lib-1", None)


def test_unchanged_library_sends_only_reads():
    transport = Transport(PING, (200, [LIB]), USERS)
    result = immich_library.run(
        module(import_paths=["/srv/photos"], exclusion_patterns=["**/@eaDir/**"]), api(transport)
    )
    assert result["changed"] is False and result["scanned"] is False
    assert [c[0] for c in calls(transport)] == ["GET", "GET", "GET"]


def test_order_of_paths_does_not_matter():
    lib = dict(LIB, importPaths=["/a", "/b"])
    transport = Transport(PING, (200, [lib]), USERS)
    assert immich_library.run(module(import_paths=["/b", "/a"]), api(transport))["changed"] is False


def test_new_import_path_updates_and_scans():
    after = dict(LIB, importPaths=["/srv/photos", "/srv/more"])
    transport = Transport(PING, (200, [LIB]), USERS, (200, after), (204, None))
    result = immich_library.run(module(import_paths=["/srv/photos", "/srv/more"]), api(transport))
    assert calls(transport)[3:] == [
        ("PUT", "/api/libraries/lib-1", {"importPaths": ["/srv/photos", "/srv/more"]}),
        ("POST", "/api/libraries/lib-1/scan", None),
    ]
    assert result["diff"]["before"]["importPaths"] == ["/srv/photos"]
    assert result["diff"]["after"]["importPaths"] == ["/srv/more", "/srv/photos"]


def test_new_exclusion_pattern_updates_without_scan():
    after = dict(LIB, exclusionPatterns=["**/*.tmp"])
    transport = Transport(PING, (200, [LIB]), USERS, (200, after))
    result = immich_library.run(module(exclusion_patterns=["**/*.tmp"]), api(transport))
    assert calls(transport)[-1] == ("PUT", "/api/libraries/lib-1", {"exclusionPatterns": ["**/*.tmp"]})
    assert result["changed"] is True and result["scanned"] is False


def test_check_mode_create_sends_only_reads():
    transport = Transport(PING, (200, []), USERS)
    result = immich_library.run(module(check_mode=True), api(transport))
    assert result["changed"] is True and result["scanned"] is True
    assert [c[0] for c in calls(transport)] == ["GET", "GET", "GET"]
    assert result["library"]["importPaths"] == ["/srv/photos"]


def test_check_mode_update_sends_only_reads():
    transport = Transport(PING, (200, [LIB]), USERS)
    result = immich_library.run(module(check_mode=True, import_paths=["/srv/other"]), api(transport))
    assert result["changed"] is True and [c[0] for c in calls(transport)] == ["GET", "GET", "GET"]


def test_other_owner_fails_with_the_fix():
    transport = Transport(PING, (200, [LIB]), USERS)
    with pytest.raises(immich_library.LibraryError, match=r"belongs to admin@example\.com, not anna@example\.com"):
        immich_library.run(module(owner="anna@example.com"), api(transport))


def test_unknown_owner_fails_naming_the_users():
    transport = Transport(PING, (200, []), USERS)
    with pytest.raises(immich_library.LibraryError, match=r"no Immich user has the email bob@example\.com"):
        immich_library.run(module(owner="bob@example.com"), api(transport))


def test_owner_email_is_case_insensitive():
    transport = Transport(PING, (200, [LIB]), USERS)
    assert immich_library.run(module(owner="Admin@Example.com"), api(transport))["changed"] is False


def test_two_libraries_with_the_name_fail():
    transport = Transport(PING, (200, [LIB, dict(LIB, id="lib-2")]))
    with pytest.raises(immich_library.LibraryError, match="2 Immich libraries are named 'Archive'"):
        immich_library.run(module(), api(transport))


def test_absent_deletes():
    transport = Transport(PING, (200, [LIB]), USERS, (204, None))
    result = immich_library.run(module(state="absent"), api(transport))
    assert calls(transport)[-1] == ("DELETE", "/api/libraries/lib-1", None)
    assert result["changed"] is True and result["diff"]["after"] == {}


def test_absent_when_missing_is_unchanged():
    transport = Transport(PING, (200, []))
    assert immich_library.run(module(state="absent"), api(transport))["changed"] is False


def test_absent_check_mode_sends_no_delete():
    transport = Transport(PING, (200, [LIB]), USERS)
    assert immich_library.run(module(state="absent", check_mode=True), api(transport))["changed"] is True
    assert "DELETE" not in [c[0] for c in calls(transport)]


def test_scan_false_queues_no_scan():
    created = dict(LIB, importPaths=[])
    transport = Transport(PING, (200, []), USERS, (201, created), (200, LIB))
    result = immich_library.run(module(scan=False), api(transport))
    assert result["scanned"] is False and calls(transport)[-1][0] == "PUT"
