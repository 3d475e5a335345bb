"""module_utils/immich_api.py with the transport mocked: exact method, URL, headers and body."""

import io
import json
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.homelab.immich.plugins.module_utils import immich_api
from ansible_collections.homelab.immich.plugins.module_utils.immich_api import (
    ImmichAPIError,
    ImmichClient,
    changed_paths,
    deep_merge,
    mask_secrets,
    nest,
    parse_error_body,
    same,
    unknown_paths,
)


class Answer:
    def __init__(self, status, body):
        self.status = status
        self._raw = b"" if body is None else json.dumps(body).encode()

    def read(self):
        return self._raw

    def getcode(self):
        return self.status


class Transport:
    """Records every call; answers from a list of (status, body) or exceptions, in order."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, url, data=None, headers=None, method=None, **kwargs):
        self.calls.append(
            {
                "method": method,
                "url": url,
                "headers": headers,
                "body": None if data is None else json.loads(data),
                **kwargs,
            }
        )
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer[:2]
        headers = answer[2] if len(answer) > 2 else {}
        if status >= 400:
            raise HTTPError(url, status, "reason", headers, io.BytesIO(json.dumps(body).encode()))
        return Answer(status, body)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def client(transport, **kwargs):
    clock = Clock()
    kwargs.setdefault("api_key", "the-key")
    return ImmichClient("http://immich.test:2283/", opener=transport, clock=clock, sleep=clock.sleep, **kwargs)


def test_get_sends_api_key_header_to_api_url():
    transport = Transport((200, {"res": "pong"}))
    assert client(transport).wait_for_ping() == {"res": "pong"}
    (call,) = transport.calls
    assert call["method"] == "GET"
    assert call["url"] == "http://immich.test:2283/api/server/ping"
    assert call["headers"] == {"Accept": "application/json", "x-api-key": "the-key"}
    assert call["body"] is None
    assert call["validate_certs"] is True


def test_trailing_api_in_url_is_accepted():
    transport = Transport((200, {}))
    ImmichClient("https://photos.example/api/", opener=transport).get("/system-config", query={"a": "b"})
    assert transport.calls[0]["url"] == "https://photos.example/api/system-config?a=b"


def test_put_sends_json_body_and_content_type():
    transport = Transport((200, {"trash": {"days": 1}}))
    answer = client(transport, validate_certs=False).put("/system-config", {"trash": {"days": 1}})
    assert answer == {"trash": {"days": 1}}
    (call,) = transport.calls
    assert (call["method"], call["url"], call["body"]) == (
        "PUT",
        "http://immich.test:2283/api/system-config",
        {"trash": {"days": 1}},
    )
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["validate_certs"] is False


def test_login_switches_to_bearer_and_logout_clears_it():
    transport = Transport((201, {"accessToken": "tok"}), (200, []), (200, {"successful": True}))
    api = client(transport, api_key=None)
    api.login("a@b.c", "pw")
    api.get("/api-keys")
    api.logout()
    assert transport.calls[0]["body"] == {"email": "a@b.c", "password": "pw"}
    assert "x-api-key" not in transport.calls[0]["headers"]
    assert transport.calls[1]["headers"]["Authorization"] == "Bearer tok"
    assert transport.calls[2]["method"] == "POST" and transport.calls[2]["url"].endswith("/api/auth/logout")
    assert api.token is None


# what a real Immich v3.1.0 server answers (GlobalExceptionFilter + zod issues)
ZOD_ERRORS = {
    "message": "Validation failed",
    "errors": [
        {
            "expected": "number",
            "code": "invalid_type",
            "path": ["job", "smartSearch", "concurrency"],
            "message": "Invalid input: expected number, received string",
        },
        {
            "origin": "number",
            "code": "too_big",
            "maximum": 51,
            "inclusive": True,
            "path": ["ffmpeg", "crf"],
            "message": "Too big: expected number to be <=51",
        },
    ],
}


def test_validation_error_names_status_message_and_each_path():
    transport = Transport((400, ZOD_ERRORS, {"X-Correlation-ID": "k3x9a1bq"}))
    with pytest.raises(ImmichAPIError) as info:
        client(transport).put("/system-config", {})
    err = info.value
    assert str(err) == (
        "HTTP 400 Bad Request: Validation failed: "
        "job.smartSearch.concurrency: Invalid input: expected number, received string; "
        "ffmpeg.crf: Too big: expected number to be <=51 (PUT /api/system-config)"
    )
    assert err.status == 400 and err.message == "Validation failed"
    assert err.to_result() == {
        "msg": str(err),
        "status": 400,
        "server_message": "Validation failed",
        "details": [
            "job.smartSearch.concurrency: Invalid input: expected number, received string",
            "ffmpeg.crf: Too big: expected number to be <=51",
        ],
        "correlation_id": "k3x9a1bq",
    }


def test_error_without_errors_list_is_the_message_alone():
    transport = Transport((400, {"message": "Invalid storage template"}, {"X-Correlation-ID": "abc"}))
    with pytest.raises(ImmichAPIError) as info:
        client(transport).put("/system-config", {})
    assert str(info.value) == "HTTP 400 Bad Request: Invalid storage template (PUT /api/system-config)"
    assert info.value.details == [] and info.value.to_result()["correlation_id"] == "abc"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ("", [])),
        ("<html>Bad Gateway</html>", ("<html>Bad Gateway</html>", [])),
        ('["x"]', ("['x']", [])),
        ('{"message": "Missing required permission: user.read"}', ("Missing required permission: user.read", [])),
        (
            '{"message": "Validation failed", "errors": [{"code": "custom", "path": [], "message": "m"}]}',
            ("Validation failed", ["m"]),
        ),
        (
            '{"message": ["email must be an email"], "error": "Bad Request", "statusCode": 400}',
            ("Validation failed", ["email must be an email"]),
        ),
    ],
)
def test_parse_error_body_layouts(raw, expected):
    assert parse_error_body(raw) == expected


def test_401_is_not_retried():
    transport = Transport((401, {"message": "Invalid API key"}))
    with pytest.raises(ImmichAPIError, match=r"^HTTP 401 Unauthorized: Invalid API key \(GET /api/system-config\)$"):
        client(transport).get("/system-config")
    assert len(transport.calls) == 1


def test_connection_errors_are_retried_until_answer():
    transport = Transport(URLError("refused"), ConnectionResetError("reset"), (200, {"res": "pong"}))
    assert client(transport, timeout=30).wait_for_ping() == {"res": "pong"}
    assert len(transport.calls) == 3


def test_connection_errors_time_out_with_clear_message():
    transport = Transport(*[URLError("Connection refused")] * 10)
    with pytest.raises(ImmichAPIError) as info:
        client(transport, timeout=3).wait_for_ping()
    assert str(info.value) == (
        "Immich at http://immich.test:2283 did not answer GET /api/server/ping within 3 seconds: Connection refused"
    )
    assert info.value.status is None
    assert len(transport.calls) == 4  # t=0,1,2,3


def test_ping_that_is_not_pong_fails():
    with pytest.raises(ImmichAPIError, match="not pong"):
        client(Transport((200, {"res": "nope"}))).wait_for_ping()


def test_argument_spec_shares_connection_options():
    spec = immich_api.immich_argument_spec(name={"type": "str"})
    assert spec["api_key"]["no_log"] is True
    assert sorted(spec) == ["api_key", "name", "timeout", "url", "validate_certs"]


def test_deep_merge_merges_mappings_and_replaces_lists():
    base = {"ml": {"urls": ["a", "b"], "clip": {"enabled": True, "model": "x"}}, "trash": {"days": 30}}
    merged = deep_merge(base, {"ml": {"urls": ["c"], "clip": {"enabled": False}}})
    assert merged == {"ml": {"urls": ["c"], "clip": {"enabled": False, "model": "x"}}, "trash": {"days": 30}}
    assert base["ml"]["urls"] == ["a", "b"]  # not mutated


def test_changed_paths_and_nest():
    before = {"a": {"b": 1, "c": [1, 2]}, "d": True}
    after = {"a": {"b": 1, "c": [2]}, "d": 1}
    changes = changed_paths(before, after)
    assert changes == [(("a", "c"), [1, 2], [2]), (("d",), True, 1)]
    assert nest(changes, 1) == {"a": {"c": [1, 2]}, "d": True}
    assert nest(changes, 2) == {"a": {"c": [2]}, "d": 1}
    assert changed_paths(before, before) == []


def test_same_tells_bool_from_int_but_not_int_from_float():
    assert not same(True, 1)
    assert same(1, 1.0)
    assert same({"x": [True]}, {"x": [True]})
    assert not same({"x": [True]}, {"x": [1]})


def test_unknown_paths():
    base = {"machineLearning": {"urls": [], "clip": {"enabled": True}}}
    assert unknown_paths(base, {"machineLearning": {"url": "x", "clip": {"enable": True}}, "foo": 1}) == [
        "machineLearning.url",
        "machineLearning.clip.enable",
        "foo",
    ]
    assert unknown_paths(base, {"machineLearning": {"urls": ["x"]}}) == []


def test_mask_secrets():
    value = {"oauth": {"clientSecret": "s", "clientId": "id"}, "smtp": {"password": ""}}
    assert mask_secrets(value) == {"oauth": {"clientSecret": "********", "clientId": "id"}, "smtp": {"password": ""}}


def test_coerce_types_follows_the_server_types():
    from ansible_collections.homelab.immich.plugins.module_utils.immich_api import coerce_types

    current = {"job": {"smartSearch": {"concurrency": 2}}, "newVersionCheck": {"enabled": True}, "m": {"urls": ["a"]}}
    got = coerce_types(current, {"job": {"smartSearch": {"concurrency": "4"}}, "newVersionCheck": {"enabled": "false"}})
    assert got == {"job": {"smartSearch": {"concurrency": 4}}, "newVersionCheck": {"enabled": False}}
    assert coerce_types(current, {"m": {"urls": ["x", "y"]}}) == {"m": {"urls": ["x", "y"]}}


def test_coerce_types_refuses_naming_the_path():
    from ansible_collections.homelab.immich.plugins.module_utils.immich_api import coerce_types

    with pytest.raises(ValueError, match=r"job\.smartSearch\.concurrency"):
        coerce_types({"job": {"smartSearch": {"concurrency": 2}}}, {"job": {"smartSearch": {"concurrency": "many"}}})
    with pytest.raises(ValueError, match=r"newVersionCheck\.enabled"):
        coerce_types({"newVersionCheck": {"enabled": True}}, {"newVersionCheck": {"enabled": "maybe"}})
