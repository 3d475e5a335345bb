"""The modules' logic with the transport mocked: which requests, in which order, with which bodies."""

import pytest
from test_immich_api import Clock, Transport

from ansible_collections.homelab.immich.plugins.module_utils.immich_api import ImmichClient
from ansible_collections.homelab.immich.plugins.modules import immich_admin, immich_config, immich_queue

PING = (200, {"res": "pong"})
URL = "http://immich.test:2283"


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, params, check_mode=False, diff=False):
        self.params = {"url": URL, "api_key": None, "validate_certs": True, "timeout": 5, **params}
        self.check_mode = check_mode
        self._diff = diff

    def fail_json(self, **kwargs):
        raise Failed(kwargs)


def api(transport, api_key="k"):
    clock = Clock()
    return ImmichClient(URL, api_key=api_key, opener=transport, clock=clock, sleep=clock.sleep)


def calls(transport):
    return [(c["method"], c["url"][len(URL) :], c["body"]) for c in transport.calls]


CONFIG = {"machineLearning": {"urls": ["http://ml:3003"], "enabled": True}, "trash": {"days": 30, "enabled": True}}


# --- immich_config -----------------------------------------------------------------------------


def test_config_puts_the_complete_merged_document():
    wanted = {
        "machineLearning": {"urls": ["http://lb:3004", "http://ml:3003"], "enabled": True},
        "trash": CONFIG["trash"],
    }
    transport = Transport(PING, (200, CONFIG), (200, wanted))
    module = FakeModule({"settings": {"machineLearning": {"urls": ["http://lb:3004", "http://ml:3003"]}}}, diff=True)
    result = immich_config.run(module, api(transport))
    assert calls(transport) == [
        ("GET", "/api/server/ping", None),
        ("GET", "/api/system-config", None),
        ("PUT", "/api/system-config", wanted),
    ]
    assert transport.calls[2]["headers"]["x-api-key"] == "k"
    assert result["changed"] is True
    assert result["diff"] == {
        "before": {"machineLearning": {"urls": ["http://ml:3003"]}},
        "after": {"machineLearning": {"urls": ["http://lb:3004", "http://ml:3003"]}},
    }


def test_config_unchanged_sends_no_put():
    transport = Transport(PING, (200, CONFIG))
    result = immich_config.run(FakeModule({"settings": {"trash": {"days": 30}}}), api(transport))
    assert result["changed"] is False and result["changes"] == []
    assert [c[0] for c in calls(transport)] == ["GET", "GET"]


def test_config_check_mode_sends_no_put():
    transport = Transport(PING, (200, CONFIG))
    result = immich_config.run(FakeModule({"settings": {"trash": {"days": 7}}}, check_mode=True), api(transport))
    assert result["changed"] is True
    assert result["config"]["trash"]["days"] == 7
    assert [c[0] for c in calls(transport)] == ["GET", "GET"]


def test_config_unknown_setting_fails_before_put():
    transport = Transport(PING, (200, CONFIG))
    with pytest.raises(Failed) as info:
        immich_config.run(FakeModule({"settings": {"trash": {"dayz": 7}}}), api(transport))
    assert "trash.dayz" in info.value.args[0]["msg"]
    assert len(transport.calls) == 2


# --- immich_queue ------------------------------------------------------------------------------

QUEUE = {"name": "smartSearch", "isPaused": False, "statistics": {"active": 0, "waiting": 3}}
LEGACY = {"jobCounts": {"active": 0, "waiting": 3}, "queueStatus": {"isActive": False, "isPaused": False}}


def queue_module(command, **params):
    return FakeModule({"name": "smartSearch", "command": command, "force": False, **params})


def test_queue_pause_uses_queues_api():
    transport = Transport(PING, (200, QUEUE), (200, dict(QUEUE, isPaused=True)))
    result = immich_queue.run(queue_module("pause"), api(transport))
    assert calls(transport)[1:] == [
        ("GET", "/api/queues/smartSearch", None),
        ("PUT", "/api/queues/smartSearch", {"isPaused": True}),
    ]
    assert result["changed"] is True and result["api"] == "queues"


def test_queue_resume_when_running_is_unchanged():
    transport = Transport(PING, (200, QUEUE))
    result = immich_queue.run(queue_module("resume"), api(transport))
    assert result["changed"] is False and len(transport.calls) == 2


def test_queue_falls_back_to_jobs_api():
    not_found = {"message": "Cannot GET /api/queues/smartSearch"}
    paused = dict(LEGACY, queueStatus={"isActive": False, "isPaused": True})
    transport = Transport(PING, (404, not_found), (200, {"smartSearch": LEGACY}), (200, paused))
    result = immich_queue.run(queue_module("pause"), api(transport))
    assert calls(transport)[1:] == [
        ("GET", "/api/queues/smartSearch", None),
        ("GET", "/api/jobs", None),
        ("PUT", "/api/jobs/smartSearch", {"command": "pause"}),
    ]
    assert result["api"] == "jobs" and result["queue"]["isPaused"] is True


def test_queue_start_all_sends_force_true():
    transport = Transport(PING, (200, QUEUE), (200, LEGACY))
    result = immich_queue.run(queue_module("start", force=True), api(transport))
    assert calls(transport)[-1] == ("PUT", "/api/jobs/smartSearch", {"command": "start", "force": True})
    assert result["changed"] is True


def test_queue_start_check_mode_sends_nothing():
    transport = Transport(PING, (200, QUEUE))
    module = queue_module("start")
    module.check_mode = True
    assert immich_queue.run(module, api(transport))["changed"] is True
    assert len(transport.calls) == 2


# --- immich_admin ------------------------------------------------------------------------------

ADMIN_PARAMS = {
    "email": "admin@example.com",
    "password": "pw",
    "name": "Admin",
    "api_key_name": "homelab.immich",
    "api_key_permissions": ["systemConfig.update", "systemConfig.read"],
    "rotate": False,
}
LOGIN = (201, {"accessToken": "tok", "userId": "u1", "userEmail": "admin@example.com", "name": "Admin"})
KEY = {"id": "k1", "name": "homelab.immich", "permissions": ["systemConfig.read", "systemConfig.update"]}
LOGOUT = (200, {"successful": True, "redirectUri": "/"})


def test_admin_first_run_creates_admin_and_key():
    created = (201, {"apiKey": dict(KEY, id="k2"), "secret": "s3cret"})
    transport = Transport(PING, (200, {"isInitialized": False}), (201, {}), LOGIN, (200, []), created, LOGOUT)
    result = immich_admin.run(FakeModule(dict(ADMIN_PARAMS)), api(transport, api_key=None))
    assert calls(transport) == [
        ("GET", "/api/server/ping", None),
        ("GET", "/api/server/config", None),
        ("POST", "/api/auth/admin-sign-up", {"email": "admin@example.com", "name": "Admin", "password": "pw"}),
        ("POST", "/api/auth/login", {"email": "admin@example.com", "password": "pw"}),
        ("GET", "/api/api-keys", None),
        (
            "POST",
            "/api/api-keys",
            {"name": "homelab.immich", "permissions": ["systemConfig.read", "systemConfig.update"]},
        ),
        ("POST", "/api/auth/logout", None),
    ]
    assert transport.calls[4]["headers"]["Authorization"] == "Bearer tok"
    assert result["changed"] is True and result["admin_created"] is True
    assert result["api_key_action"] == "created" and result["secret"] == "s3cret"


def test_admin_sign_up_400_already_has_admin_counts_as_present():
    exists = (400, {"message": "The server already has an admin"})
    transport = Transport(PING, (200, {"isInitialized": False}), exists, LOGIN, (200, [KEY]), LOGOUT)
    result = immich_admin.run(FakeModule(dict(ADMIN_PARAMS)), api(transport, api_key=None))
    assert result["changed"] is False and result["admin_created"] is False
    assert "secret" not in result


def test_admin_rotate_deletes_then_creates_one_key():
    created = (201, {"apiKey": dict(KEY, id="k2"), "secret": "new"})
    transport = Transport(PING, (200, {"isInitialized": True}), LOGIN, (200, [KEY]), (204, None), created, LOGOUT)
    result = immich_admin.run(FakeModule(dict(ADMIN_PARAMS, rotate=True)), api(transport, api_key=None))
    assert calls(transport)[3:6] == [
        ("GET", "/api/api-keys", None),
        ("DELETE", "/api/api-keys/k1", None),
        (
            "POST",
            "/api/api-keys",
            {"name": "homelab.immich", "permissions": ["systemConfig.read", "systemConfig.update"]},
        ),
    ]
    assert result["api_key_action"] == "rotated" and result["secret"] == "new"


def test_admin_check_mode_on_fresh_server_sends_only_reads():
    transport = Transport(PING, (200, {"isInitialized": False}))
    result = immich_admin.run(FakeModule(dict(ADMIN_PARAMS), check_mode=True), api(transport, api_key=None))
    assert result["changed"] is True and "secret" not in result
    assert [c[0] for c in calls(transport)] == ["GET", "GET"]


def test_admin_deletes_duplicate_keys_of_the_name():
    other = dict(KEY, id="k9")
    transport = Transport(PING, (200, {"isInitialized": True}), LOGIN, (200, [KEY, other]), (204, None), LOGOUT)
    result = immich_admin.run(FakeModule(dict(ADMIN_PARAMS)), api(transport, api_key=None))
    assert calls(transport)[4] == ("DELETE", "/api/api-keys/k9", None)
    assert result["changed"] is True and result["api_keys_deleted"] == 1
    assert result["api_key_action"] == "unchanged" and "secret" not in result
