"""The API modules, run by ansible-playbook against fake_immich (which validates every body against openapi.json)."""

from fake_immich import EXAMPLE_ADMIN as ADMIN
from fake_immich.schema import OpenAPI


def admin_task(url, **extra):
    args = {"url": url, "email": ADMIN["email"], "password": ADMIN["password"], "timeout": 5}
    args.update(extra)
    return {"homelab.immich.immich_admin": args, "ignore_errors": True}


def config_task(url, key, settings, **extra):
    args = {"url": url, "api_key": key, "settings": settings, "timeout": 5}
    args.update(extra)
    return {"homelab.immich.immich_config": args, "ignore_errors": True}


def queue_task(url, key, name, command, **extra):
    args = {"url": url, "api_key": key, "name": name, "command": command, "timeout": 5}
    args.update(extra)
    return {"homelab.immich.immich_queue": args, "ignore_errors": True}


def calls(fake):
    return [(r["method"], r["path"]) for r in fake.requests()]


# --- immich_admin ------------------------------------------------------------------------------


def test_admin_bootstrap_twice_second_unchanged(fake_immich, run_tasks):
    first, second = run_tasks([admin_task(fake_immich.url), admin_task(fake_immich.url)])
    assert first["changed"] is True, first
    assert first["admin_created"] is True
    assert first["api_key_action"] == "created"
    assert len(first["secret"]) > 20
    assert first["api_key"]["permissions"] == sorted(
        ["systemConfig.read", "systemConfig.update", "queue.read", "queue.update", "job.read", "job.create"]
    )
    assert second["changed"] is False, second
    assert second["admin_created"] is False
    assert second["api_key_action"] == "unchanged"
    assert "secret" not in second
    state = fake_immich.call("GET", "/_fake/state")[1]
    assert [k["name"] for k in state["apiKeys"]] == ["homelab.immich"]
    assert state["sessions"] == 0  # logged out again
    # the secret works for what the collection does
    status, _body = fake_immich.call("GET", "/system-config", headers={"x-api-key": first["secret"]})
    assert status == 200


def test_admin_sign_up_body_is_valid_and_password_never_output(fake_immich, run_tasks):
    (result,) = run_tasks([admin_task(fake_immich.url)])
    signups = [r for r in fake_immich.requests() if r["path"] == "/api/auth/admin-sign-up"]
    assert len(signups) == 1 and signups[0]["status"] == 201
    assert signups[0]["body"] == {"email": ADMIN["email"], "name": "Admin", "password": "<redacted>"}
    assert ADMIN["password"] not in repr(result)


def test_admin_check_mode_creates_nothing(fake_immich, run_tasks):
    (result,) = run_tasks([admin_task(fake_immich.url)], check=True)
    assert result["changed"] is True
    assert "secret" not in result
    assert all(method == "GET" for method, _path in calls(fake_immich))
    assert fake_immich.call("GET", "/_fake/state")[1]["users"] == []


def test_admin_existing_admin_400_is_present(fake_immich, run_tasks):
    fake_immich.call("POST", "/auth/admin-sign-up", ADMIN)
    (result,) = run_tasks([admin_task(fake_immich.url)])
    assert result["admin_created"] is False
    assert result["api_key_action"] == "created"


def test_admin_rotate_and_permissions_update(fake_immich, run_tasks):
    first, updated, rotated = run_tasks(
        [
            admin_task(fake_immich.url),
            admin_task(fake_immich.url, api_key_permissions=["systemConfig.read"]),
            admin_task(fake_immich.url, api_key_permissions=["systemConfig.read"], rotate=True),
        ]
    )
    assert updated["changed"] is True and updated["api_key_action"] == "updated" and "secret" not in updated
    assert rotated["api_key_action"] == "rotated" and rotated["secret"] != first["secret"]
    assert fake_immich.call("GET", "/system-config", headers={"x-api-key": first["secret"]})[0] == 401
    assert fake_immich.call("GET", "/system-config", headers={"x-api-key": rotated["secret"]})[0] == 200
    state = fake_immich.call("GET", "/_fake/state")[1]
    assert [(k["name"], k["permissions"]) for k in state["apiKeys"]] == [("homelab.immich", ["systemConfig.read"])]


def test_admin_rotates_when_the_held_key_is_refused(fake_immich, run_tasks):
    (first,) = run_tasks([admin_task(fake_immich.url)])
    assert first["api_key_action"] == "created"
    kept, lost = run_tasks(
        [
            admin_task(fake_immich.url, api_key=first["secret"]),
            admin_task(fake_immich.url, api_key="a-secret-the-server-never-issued"),
        ]
    )
    assert kept["api_key_action"] == "unchanged" and kept["changed"] is False
    assert lost["api_key_action"] == "rotated" and lost["secret"]


def test_admin_wrong_password_fails_with_401(fake_immich, run_tasks):
    fake_immich.call("POST", "/auth/admin-sign-up", ADMIN)
    (result,) = run_tasks([admin_task(fake_immich.url, password="wrong")])
    assert result["failed"] is True
    assert "HTTP 401" in result["msg"] and "Incorrect email or password" in result["msg"]


# --- immich_config -----------------------------------------------------------------------------

ML = {"machineLearning": {"urls": ["http://127.0.0.1:3004", "http://127.0.0.1:3003"]}}


def test_config_change_has_diff_then_unchanged(fake_immich, run_tasks):
    key = fake_immich.bootstrap(["systemConfig.read", "systemConfig.update"])
    settings = dict(ML, job={"smartSearch": {"concurrency": 4}})
    first, second = run_tasks([config_task(fake_immich.url, key, settings)] * 2, diff=True)
    assert first["changed"] is True, first
    assert first["diff"]["before"] == {
        "machineLearning": {"urls": ["http://immich-machine-learning:3003"]},
        "job": {"smartSearch": {"concurrency": 2}},
    }
    assert first["diff"]["after"] == {
        "machineLearning": ML["machineLearning"],
        "job": {"smartSearch": {"concurrency": 4}},
    }
    assert sorted(c["path"] for c in first["changes"]) == ["job.smartSearch.concurrency", "machineLearning.urls"]
    assert second["changed"] is False and second["changes"] == []
    assert calls(fake_immich).count(("PUT", "/api/system-config")) == 1


def test_config_partial_input_sends_full_document_accepted_by_schema(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    (result,) = run_tasks([config_task(fake_immich.url, key, {"trash": {"days": 60}})])
    assert result["changed"] is True
    (put,) = [r for r in fake_immich.requests() if r["method"] == "PUT"]
    assert put["status"] == 200
    assert OpenAPI().errors("SystemConfigDto", put["body"]) == []
    assert put["body"]["trash"] == {"days": 60, "enabled": True}
    assert sorted(put["body"]) == sorted(OpenAPI().schema("SystemConfigDto")["required"])
    assert fake_immich.call("GET", "/system-config", headers={"x-api-key": key})[1]["trash"]["days"] == 60


def test_config_check_mode_sends_no_put(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    (result,) = run_tasks([config_task(fake_immich.url, key, ML)], check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"] == ML
    assert calls(fake_immich) == [("GET", "/api/server/ping"), ("GET", "/api/system-config")]


def test_config_wrong_key_names_401(fake_immich, run_tasks):
    fake_immich.bootstrap()
    (result,) = run_tasks([config_task(fake_immich.url, "not-a-key", ML)])
    assert result["failed"] is True
    assert result["msg"].startswith("HTTP 401 Unauthorized: Invalid API key")
    assert result["status"] == 401


def test_config_key_without_permission_names_403(fake_immich, run_tasks):
    key = fake_immich.bootstrap(["systemConfig.read"])
    (result,) = run_tasks([config_task(fake_immich.url, key, ML)])
    assert result["failed"] is True
    assert "HTTP 403 Forbidden: Missing required permission: systemConfig.update" in result["msg"]


def test_config_server_down_times_out(free_port, run_tasks):
    url = f"http://127.0.0.1:{free_port}"
    (result,) = run_tasks([config_task(url, "key", ML, timeout=2)])
    assert result["failed"] is True
    assert "did not answer GET /api/server/ping within 2 seconds" in result["msg"]


def test_config_rejected_value_names_its_path(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    bad_enum, bad_issuer, bad_cron, bad_template = run_tasks(
        [
            config_task(fake_immich.url, key, {"ffmpeg": {"accel": "cuda", "crf": 99}}),
            config_task(fake_immich.url, key, {"oauth": {"issuerUrl": "auth.example"}}),
            config_task(fake_immich.url, key, {"backup": {"database": {"cronExpression": "0 2 * *"}}}),
            config_task(
                fake_immich.url,
                key,
                {"storageTemplate": {"template": "{% raw %}{{y}}/{{month}}/{{filename}}{% endraw %}"}},
            ),
        ]
    )
    assert bad_enum["failed"] is True
    assert bad_enum["msg"].startswith("HTTP 400 Bad Request: Validation failed: ")
    assert 'ffmpeg.accel: Invalid option: expected one of "nvenc"|' in bad_enum["msg"]
    assert "ffmpeg.crf: Too big: expected number to be <=51" in bad_enum["details"]
    assert bad_enum["server_message"] == "Validation failed" and bad_enum["status"] == 400
    assert bad_enum["correlation_id"]  # the server's X-Correlation-ID, also in its log
    assert bad_issuer["details"] == ["oauth.issuerUrl: Issuer URL must be an empty string or a valid URL"]
    assert bad_cron["details"] == ["backup.database.cronExpression: Invalid cron expression. Too few fields"]
    assert bad_template["msg"] == "HTTP 400 Bad Request: Invalid storage template (PUT /api/system-config)"
    assert bad_template["details"] == []
    assert calls(fake_immich).count(("PUT", "/api/system-config")) == 4


def test_config_any_string_is_an_ml_url(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    settings = {"machineLearning": {"urls": ["immich-ml:3003"]}}
    first, second = run_tasks([config_task(fake_immich.url, key, settings)] * 2)
    assert first["changed"] is True and second["changed"] is False, (first, second)


def test_config_string_booleans_change_once(fake_immich, run_tasks):
    """Inventory strings ("false") are sent as booleans and compare equal to what the server keeps."""
    key = fake_immich.bootstrap()
    settings = {"server": {"publicUsers": "false"}, "newVersionCheck": {"enabled": "false"}, "ffmpeg": {"crf": "30"}}
    first, second = run_tasks([config_task(fake_immich.url, key, settings)] * 2, diff=True)
    assert first["changed"] is True, first
    assert first["diff"]["after"] == {
        "server": {"publicUsers": False},
        "newVersionCheck": {"enabled": False},
        "ffmpeg": {"crf": 30},
    }
    assert second["changed"] is False and second["changes"] == [], second
    (put,) = [r for r in fake_immich.requests() if r["method"] == "PUT"]
    assert put["body"]["server"]["publicUsers"] is False and put["body"]["ffmpeg"]["crf"] == 30
    stored = fake_immich.call("GET", "/system-config", headers={"x-api-key": key})[1]
    assert stored["server"]["publicUsers"] is False and stored["newVersionCheck"]["enabled"] is False


def test_config_string_the_server_would_refuse_fails_before_put(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    (result,) = run_tasks([config_task(fake_immich.url, key, {"job": {"smartSearch": {"concurrency": "many"}}})])
    assert result["failed"] is True and "job.smartSearch.concurrency" in result["msg"]
    assert ("PUT", "/api/system-config") not in calls(fake_immich)


def test_config_unknown_setting_fails_before_put(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    (result,) = run_tasks([config_task(fake_immich.url, key, {"machineLearning": {"url": "http://x:3003"}})])
    assert result["failed"] is True
    assert "machineLearning.url" in result["msg"]
    assert ("PUT", "/api/system-config") not in calls(fake_immich)


def test_config_file_in_use_fails_with_server_message(fake_immich_factory, run_tasks, tmp_path):
    config_file = tmp_path / "immich.json"
    config_file.write_text('{"trash": {"days": 10}}')
    fake = fake_immich_factory(config_file=str(config_file))
    key = fake.bootstrap()
    same, change = run_tasks(
        [config_task(fake.url, key, {"trash": {"days": 10}}), config_task(fake.url, key, {"trash": {"days": 11}})]
    )
    assert same["changed"] is False and "failed" not in same
    assert change["failed"] is True
    assert "Cannot update configuration while IMMICH_CONFIG_FILE is in use" in change["msg"]


def test_config_secrets_masked_in_diff(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    settings = {"oauth": {"clientSecret": "s3cr3t-value", "clientId": "immich"}}
    (result,) = run_tasks([config_task(fake_immich.url, key, settings)], diff=True)
    assert result["changed"] is True
    assert "s3cr3t-value" not in repr(result["diff"]) + repr(result["changes"]) + repr(result["config"])
    assert fake_immich.fake.config["oauth"]["clientSecret"] == "s3cr3t-value"


# --- immich_queue ------------------------------------------------------------------------------


def test_queue_pause_resume_idempotent(fake_immich, run_tasks):
    key = fake_immich.bootstrap(["queue.read", "queue.update", "job.read", "job.create"])
    pause, again, resume, inspect = run_tasks(
        [
            queue_task(fake_immich.url, key, "smartSearch", "pause"),
            queue_task(fake_immich.url, key, "smartSearch", "pause"),
            queue_task(fake_immich.url, key, "smartSearch", "resume"),
            queue_task(fake_immich.url, key, "smartSearch", "inspect"),
        ]
    )
    assert pause["changed"] is True and pause["queue"]["isPaused"] is True and pause["api"] == "queues"
    assert again["changed"] is False
    assert resume["changed"] is True and resume["queue"]["isPaused"] is False
    assert inspect["changed"] is False and inspect["queue"]["statistics"]["waiting"] == 0
    puts = [r for r in fake_immich.requests() if r["method"] == "PUT"]
    assert [(r["path"], r["body"]) for r in puts] == [
        ("/api/queues/smartSearch", {"isPaused": True}),
        ("/api/queues/smartSearch", {"isPaused": False}),
    ]


def test_queue_start_missing_only_and_check_mode(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    (checked,) = run_tasks([queue_task(fake_immich.url, key, "faceDetection", "start")], check=True)
    assert checked["changed"] is True
    assert not [r for r in fake_immich.requests() if r["method"] != "GET"]
    (started,) = run_tasks([queue_task(fake_immich.url, key, "faceDetection", "start")])
    # the server runs the job at once (with nothing to do it is gone again)
    assert started["changed"] is True and started["queue"]["statistics"]["waiting"] == 0
    assert len(fake_immich.fake.queues["faceDetection"]["started"]) == 1
    (put,) = [r for r in fake_immich.requests() if r["method"] == "PUT"]
    assert (put["path"], put["body"], put["status"]) == (
        "/api/jobs/faceDetection",
        {"command": "start", "force": False},
        200,
    )


def test_queue_legacy_jobs_api(fake_immich_factory, run_tasks):
    fake = fake_immich_factory(queues_api=False)
    key = fake.bootstrap()
    pause, inspect = run_tasks([queue_task(fake.url, key, "ocr", "pause"), queue_task(fake.url, key, "ocr", "inspect")])
    assert pause["changed"] is True and pause["api"] == "jobs" and pause["queue"]["isPaused"] is True
    assert inspect["queue"]["isPaused"] is True
    puts = [(r["path"], r["body"]) for r in fake.requests() if r["method"] == "PUT"]
    assert puts == [("/api/jobs/ocr", {"command": "pause"})]


def test_queue_start_while_active_fails_with_server_message(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    fake_immich.call("PUT", "/_fake/queues/smartSearch", {"active": 2})
    (result,) = run_tasks([queue_task(fake_immich.url, key, "smartSearch", "start", force=True)])
    assert result["failed"] is True
    assert "HTTP 400 Bad Request: Job is already running" in result["msg"]


def test_queue_start_of_a_queue_without_start_names_server_message(fake_immich, run_tasks):
    key = fake_immich.bootstrap()
    (result,) = run_tasks([queue_task(fake_immich.url, key, "backgroundTask", "start")])
    assert result["failed"] is True
    assert result["msg"] == "HTTP 400 Bad Request: Invalid job name: backgroundTask (PUT /api/jobs/backgroundTask)"
