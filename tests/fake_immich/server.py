"""fake_immich: a small stateful HTTP server that answers like Immich v3.1.0 (test double).

It implements the endpoints the collection's modules use (admin sign-up, login, API keys,
system config, queues and the legacy jobs API, ping/version/config), validates every JSON
request body against the vendored OpenAPI document (``openapi.json``) and answers with the
status codes and messages of the real server. Everything under ``/api/_fake/`` is fake-only
(request log, state) and exists on no real server. See README.md in this directory.
"""

import copy
import datetime
import json
import os
import re
import secrets
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .rules import STORAGE_TEMPLATE_MESSAGE, preprocess_config, refinement_issues, storage_template_error
from .schema import OpenAPI, invalid_value

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS_PATH = os.path.join(HERE, "system-config-defaults.json")
VERSION = {"major": 3, "minor": 1, "patch": 0, "prerelease": None}
CONFIG_FILE_MESSAGE = "Cannot update configuration while IMMICH_CONFIG_FILE is in use"
REDACT_KEYS = ("password", "clientSecret", "secret")
# queues whose `start` command queues work (QueueService.start); the others answer 400
STARTABLE_QUEUES = (
    "videoConversion",
    "storageTemplateMigration",
    "migration",
    "smartSearch",
    "duplicateDetection",
    "metadataExtraction",
    "sidecar",
    "thumbnailGeneration",
    "faceDetection",
    "facialRecognition",
    "library",
    "backupDatabase",
    "ocr",
)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def redact(value):
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in REDACT_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def load_defaults():
    with open(DEFAULTS_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def deep_merge(base, override):
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class ApiError(Exception):
    """An error answer: ``{"message"}``, or ``{"message": "Validation failed", "errors": [zod issues]}``.

    Like the real server's GlobalExceptionFilter: no ``error``/``statusCode`` in the body; the
    request's correlation id goes in the ``X-Correlation-ID`` header (every answer has one).
    """

    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self):
        body = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


class FakeImmich:
    """The server's state. All methods are called with ``self.lock`` held."""

    def __init__(self, openapi=None, config_file=None, queues_api=True, state_file=None, log=None):
        self.openapi = openapi or OpenAPI()
        self.lock = threading.RLock()
        self.config_file = config_file
        self.queues_api = queues_api
        self.state_file = state_file
        self.log = log or (lambda msg: None)
        self.requests = []
        self.ml_status = {}  # ML URL -> healthy (bool); reported only in the log, as the real server
        self.queue_names = self.openapi.document["components"]["schemas"]["QueueName"]["enum"]
        self.users = {}
        self.sessions = {}
        self.api_keys = []
        self.config = load_defaults()
        self.queues = {name: self._new_queue() for name in self.queue_names}
        if config_file:
            with open(config_file, encoding="utf-8") as handle:
                self.config = deep_merge(self.config, json.load(handle))
        self._load_state()

    @staticmethod
    def _new_queue():
        stats = {"active": 0, "completed": 0, "delayed": 0, "failed": 0, "paused": 0, "waiting": 0}
        return {"isPaused": False, "statistics": stats}

    # persistence (optional): survive a container restart like the real server's database would
    def _load_state(self):
        if not self.state_file or not os.path.exists(self.state_file):
            return
        with open(self.state_file, encoding="utf-8") as handle:
            data = json.load(handle)
        self.users = data.get("users", {})
        self.api_keys = data.get("api_keys", [])
        if not self.config_file:
            self.config = data.get("config", self.config)
        for name, queue in data.get("queues", {}).items():
            if name in self.queues:
                self.queues[name] = queue

    def save(self):
        if not self.state_file:
            return
        data = {"users": self.users, "api_keys": self.api_keys, "config": self.config, "queues": self.queues}
        tmp = self.state_file + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.state_file)
        except OSError as exc:
            self.log(f"WARN [Fake] cannot write state file {self.state_file}: {exc}")

    # --- authentication -------------------------------------------------------------------
    def authenticate(self, headers, permission):
        """Return (user, api_key or None) or raise 401/403 like the real server."""
        key_secret = headers.get("x-api-key")
        auth = headers.get("authorization") or ""
        if key_secret is not None:
            for key in self.api_keys:
                if secrets.compare_digest(key["secret"], key_secret):
                    user = self.user_by_id(key["userId"])
                    if permission and "all" not in key["permissions"] and permission not in key["permissions"]:
                        raise ApiError(403, f"Missing required permission: {permission}")
                    return user, key
            raise ApiError(401, "Invalid API key")
        if auth.lower().startswith("bearer "):
            user_id = self.sessions.get(auth[7:].strip())
            if user_id is None:
                raise ApiError(401, "Invalid user token")
            return self.user_by_id(user_id), None
        raise ApiError(401, "Authentication required")

    def user_by_id(self, user_id):
        for user in self.users.values():
            if user["id"] == user_id:
                return user
        raise ApiError(401, "Invalid user token")

    # --- responses ------------------------------------------------------------------------
    @staticmethod
    def user_dto(user):
        return {
            "avatarColor": "primary",
            "createdAt": user["createdAt"],
            "deletedAt": None,
            "email": user["email"],
            "id": user["id"],
            "isAdmin": user["isAdmin"],
            "license": None,
            "name": user["name"],
            "oauthId": "",
            "profileChangedAt": user["createdAt"],
            "profileImagePath": "",
            "quotaSizeInBytes": None,
            "quotaUsageInBytes": 0,
            "shouldChangePassword": False,
            "status": "active",
            "storageLabel": "admin" if user["isAdmin"] else None,
            "updatedAt": user["createdAt"],
        }

    @staticmethod
    def key_dto(key):
        return {k: key[k] for k in ("createdAt", "id", "name", "permissions", "updatedAt")}

    def server_config(self):
        cfg = self.config
        return {
            "externalDomain": cfg["server"]["externalDomain"],
            "isInitialized": any(u["isAdmin"] for u in self.users.values()),
            "isOnboarded": False,
            "loginPageMessage": cfg["server"]["loginPageMessage"],
            "maintenanceMode": False,
            "mapDarkStyleUrl": cfg["map"]["darkStyle"],
            "mapLightStyleUrl": cfg["map"]["lightStyle"],
            "minFaces": cfg["machineLearning"]["facialRecognition"]["minFaces"],
            "oauthButtonText": cfg["oauth"]["buttonText"],
            "publicUsers": cfg["server"]["publicUsers"],
            "trashDays": cfg["trash"]["days"],
            "userDeleteDelay": cfg["user"]["deleteDelay"],
        }

    def queue_name(self, name):
        if name not in self.queue_names:
            raise ApiError(400, "Validation failed", [invalid_value(["name"], self.queue_names)])
        return name

    def queue_dto(self, name):
        queue = self.queues[name]
        return {"name": name, "isPaused": queue["isPaused"], "statistics": dict(queue["statistics"])}

    def legacy_queue_dto(self, name):
        queue = self.queues[name]
        active = queue["statistics"]["active"] > 0
        return {
            "jobCounts": dict(queue["statistics"]),
            "queueStatus": {"isActive": active, "isPaused": queue["isPaused"]},
        }

    # --- operations -------------------------------------------------------------------------
    def validate_config(self, body):
        """(converted body, zod issues) for a ``PUT /system-config`` body, as the real server's schema.

        String booleans become booleans and the ffmpeg numbers are coerced before the OpenAPI
        schema is checked; then the server's refinements (URLs that may be empty, cron expressions).
        """
        converted = preprocess_config(body, load_defaults())
        errors = self.openapi.errors("SystemConfigDto", converted)
        errors += refinement_issues(converted, errors)
        errors.sort(key=lambda e: [str(p) for p in e["path"]])
        return converted, errors

    def handle(self, method, path, query, headers, body):
        """Dispatch one /api request; returns (status, body)."""
        for route_method, pattern, template, permission, func in ROUTES:
            if route_method != method:
                continue
            match = re.fullmatch(pattern, path)
            if not match:
                continue
            if template.startswith("/queues") and not self.queues_api:
                break
            if permission != "public":
                user, key = self.authenticate(headers, permission)
            else:
                user, key = None, None
            schema_name = self.openapi.request_schema_name(method, template) if template[:2] != "/_" else None
            if schema_name == "SystemConfigDto":
                schema_name = None  # op_put_config converts and validates like the server's zod schema
            if schema_name:
                if body is None:
                    body = {}
                errors = self.openapi.errors(schema_name, body)
                if errors:
                    raise ApiError(400, "Validation failed", errors)
            return func(self, user=user, key=key, body=body, query=query, headers=headers, **match.groupdict())
        raise ApiError(404, f"Cannot {method} /api{path}")


def op_ping(s, **_):
    return 200, {"res": "pong"}


def op_version(s, **_):
    return 200, dict(VERSION)


def op_server_config(s, **_):
    return 200, s.server_config()


def op_admin_sign_up(s, body, **_):
    if any(u["isAdmin"] for u in s.users.values()):
        raise ApiError(400, "The server already has an admin")
    user = {
        "id": str(uuid.uuid4()),
        "email": body["email"].lower(),
        "name": body["name"],
        "password": body["password"],
        "isAdmin": True,
        "createdAt": now_iso(),
    }
    s.users[user["email"]] = user
    s.save()
    s.log("LOG [Api:UserService] Admin user created: {}".format(user["email"]))
    return 201, s.user_dto(user)


def op_login(s, body, **_):
    user = s.users.get(body["email"].lower())
    if user is None or not secrets.compare_digest(user["password"], body["password"]):
        raise ApiError(401, "Incorrect email or password")
    token = secrets.token_urlsafe(32)
    s.sessions[token] = user["id"]
    return 201, {
        "accessToken": token,
        "isAdmin": user["isAdmin"],
        "isOnboarded": False,
        "name": user["name"],
        "profileImagePath": "",
        "shouldChangePassword": False,
        "userEmail": user["email"],
        "userId": user["id"],
    }


def op_logout(s, headers, **_):
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        s.sessions.pop(auth[7:].strip(), None)
    return 200, {"redirectUri": "/auth/login?autoLaunch=0", "successful": True}


def op_list_keys(s, user, **_):
    return 200, [s.key_dto(k) for k in s.api_keys if k["userId"] == user["id"]]


def op_create_key(s, user, key, body, **_):
    if key is not None and "all" not in key["permissions"]:
        missing = [p for p in body["permissions"] if p not in key["permissions"]]
        if missing:
            raise ApiError(400, "Cannot grant permissions you do not have")
    stamp = now_iso()
    new = {
        "id": str(uuid.uuid4()),
        "name": body.get("name") or "API Key",
        "permissions": list(body["permissions"]),
        "secret": secrets.token_urlsafe(32),
        "userId": user["id"],
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    s.api_keys.append(new)
    s.save()
    return 201, {"apiKey": s.key_dto(new), "secret": new["secret"]}


def op_my_user(s, user, **_):
    return 200, s.user_dto(user)


def op_my_key(s, key, **_):
    if key is None:
        raise ApiError(403, "Not authenticated with an API key")
    return 200, s.key_dto(key)


def _find_key(s, user, key_id):
    for key in s.api_keys:
        if key["id"] == key_id and key["userId"] == user["id"]:
            return key
    raise ApiError(400, "API Key not found")


def op_get_key(s, user, id, **_):
    return 200, s.key_dto(_find_key(s, user, id))


def op_update_key(s, user, body, id, **_):
    found = _find_key(s, user, id)
    for field in ("name", "permissions"):
        if field in body:
            found[field] = body[field]
    found["updatedAt"] = now_iso()
    s.save()
    return 200, s.key_dto(found)


def op_delete_key(s, user, id, **_):
    found = _find_key(s, user, id)
    s.api_keys.remove(found)
    s.save()
    return 204, None


def op_get_config(s, **_):
    return 200, copy.deepcopy(s.config)


def op_get_defaults(s, **_):
    return 200, load_defaults()


def op_put_config(s, body, **_):
    body, errors = s.validate_config(body if body is not None else {})
    if errors:
        raise ApiError(400, "Validation failed", errors)
    if s.config_file:
        raise ApiError(400, CONFIG_FILE_MESSAGE)
    reason = storage_template_error(body["storageTemplate"]["template"])
    if reason is not None:
        s.log(f"WARN [Api:StorageTemplateService] Storage template validation failed: {reason}")
        s.log(f"WARN [Api:SystemConfigService] Unable to save system config due to a validation error: {reason}")
        raise ApiError(400, STORAGE_TEMPLATE_MESSAGE)
    s.config = s.openapi.strip_unknown("SystemConfigDto", body)
    urls = s.config["machineLearning"]["urls"]
    s.ml_status = {url: healthy for url, healthy in s.ml_status.items() if url in urls}
    s.save()
    s.log("LOG [Api:SystemConfigService] System config updated")
    return 200, copy.deepcopy(s.config)


def op_list_queues(s, **_):
    return 200, [s.queue_dto(n) for n in s.queue_names]


def op_get_queue(s, name, **_):
    return 200, s.queue_dto(s.queue_name(name))


def op_update_queue(s, body, name, **_):
    queue = s.queues[s.queue_name(name)]
    if body.get("isPaused") is True and name == "backgroundTask":
        raise ApiError(400, "The BackgroundTask queue cannot be paused")
    if "isPaused" in body:
        queue["isPaused"] = body["isPaused"]
    s.save()
    return 200, s.queue_dto(name)


def op_legacy_jobs(s, **_):
    return 200, {n: s.legacy_queue_dto(n) for n in s.queue_names}


def op_legacy_command(s, body, name, **_):
    queue = s.queues[s.queue_name(name)]
    command = body["command"]
    stats = queue["statistics"]
    if command == "pause":
        queue["isPaused"] = True
    elif command == "resume":
        queue["isPaused"] = False
    elif command == "start":
        if stats["active"]:
            raise ApiError(400, "Job is already running")
        if name not in STARTABLE_QUEUES:
            raise ApiError(400, f"Invalid job name: {name}")
        # the server queues a "queue all" job that runs at once: with no assets here it finishes
        # at once and is removed (removeOnComplete), so the counters do not move; a paused queue
        # keeps it waiting
        if queue["isPaused"]:
            stats["waiting"] += 1
        queue.setdefault("started", []).append({"force": bool(body.get("force", False)), "at": now_iso()})
    elif command == "empty":
        stats["waiting"] = 0
    elif command == "clear-failed":
        stats["failed"] = 0
    s.save()
    return 200, s.legacy_queue_dto(name)


def op_fake_requests(s, **_):
    return 200, list(s.requests)


def op_fake_clear(s, **_):
    del s.requests[:]
    return 204, None


def op_fake_state(s, **_):
    return 200, {
        "configFile": bool(s.config_file),
        "queuesApi": s.queues_api,
        "users": sorted(s.users),
        "apiKeys": [s.key_dto(k) for k in s.api_keys],
        "sessions": len(s.sessions),
        "queues": copy.deepcopy(s.queues),
    }


def op_fake_set_queue(s, body, name, **_):
    """Set a queue's counters (tests simulate waiting/active work)."""
    queue = s.queues[s.queue_name(name)]
    queue["statistics"].update({k: int(v) for k, v in body.items() if k in queue["statistics"]})
    return 200, s.queue_dto(name)


NAME = r"(?P<name>[^/]+)"
ID = r"(?P<id>[^/]+)"
# (method, path regex, OpenAPI path template, required permission or "public"/None, handler)
ROUTES = [
    ("GET", r"/server/ping", "/server/ping", "public", op_ping),
    ("GET", r"/server/version", "/server/version", "public", op_version),
    ("GET", r"/server/config", "/server/config", "public", op_server_config),
    ("POST", r"/auth/admin-sign-up", "/auth/admin-sign-up", "public", op_admin_sign_up),
    ("POST", r"/auth/login", "/auth/login", "public", op_login),
    ("POST", r"/auth/logout", "/auth/logout", None, op_logout),
    ("GET", r"/users/me", "/users/me", "user.read", op_my_user),
    ("GET", r"/api-keys", "/api-keys", "apiKey.read", op_list_keys),
    ("POST", r"/api-keys", "/api-keys", "apiKey.create", op_create_key),
    ("GET", r"/api-keys/me", "/api-keys/me", None, op_my_key),
    ("GET", r"/api-keys/" + ID, "/api-keys/{id}", "apiKey.read", op_get_key),
    ("PUT", r"/api-keys/" + ID, "/api-keys/{id}", "apiKey.update", op_update_key),
    ("DELETE", r"/api-keys/" + ID, "/api-keys/{id}", "apiKey.delete", op_delete_key),
    ("GET", r"/system-config", "/system-config", "systemConfig.read", op_get_config),
    ("PUT", r"/system-config", "/system-config", "systemConfig.update", op_put_config),
    ("GET", r"/system-config/defaults", "/system-config/defaults", "systemConfig.read", op_get_defaults),
    ("GET", r"/queues", "/queues", "queue.read", op_list_queues),
    ("GET", r"/queues/" + NAME, "/queues/{name}", "queue.read", op_get_queue),
    ("PUT", r"/queues/" + NAME, "/queues/{name}", "queue.update", op_update_queue),
    ("GET", r"/jobs", "/jobs", "job.read", op_legacy_jobs),
    ("PUT", r"/jobs/" + NAME, "/jobs/{name}", "job.create", op_legacy_command),
    # fake-only endpoints: never on a real server
    ("GET", r"/_fake/requests", "/_fake/requests", "public", op_fake_requests),
    ("DELETE", r"/_fake/requests", "/_fake/requests", "public", op_fake_clear),
    ("GET", r"/_fake/state", "/_fake/state", "public", op_fake_state),
    ("PUT", r"/_fake/queues/" + NAME, "/_fake/queues/{name}", "public", op_fake_set_queue),
]


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-immich/3.1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        self.server.fake.log(f"DEBUG [Http] {self.address_string()} {format % args}")

    def _send(self, status, body, correlation_id):
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("X-Correlation-ID", correlation_id)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self):
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        # like nestjs-cls in the real server: the client's X-Correlation-ID, else a new id
        correlation_id = headers.get("x-correlation-id") or uuid.uuid4().hex[:8]
        record = {"method": self.command, "path": parts.path, "query": parse_qs(parts.query), "body": None}
        record["auth"] = "api_key" if "x-api-key" in headers else ("bearer" if "authorization" in headers else None)
        try:
            body = None
            if raw:
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    raise ApiError(400, "Invalid JSON body") from None
                record["body"] = redact(body)
            if not parts.path.startswith("/api/"):
                raise ApiError(404, f"Cannot {self.command} {parts.path}")
            with fake.lock:
                status, answer = fake.handle(self.command, parts.path[4:], record["query"], headers, body)
        except ApiError as exc:
            status, answer = exc.status, exc.body()
        except Exception as exc:  # a bug in the fake must show as a 500, not hang the client
            fake.log(f"ERROR [Fake] {correlation_id} {exc!r}")
            status, answer = 500, ApiError(500, "Internal server error").body()
        record["status"] = status
        if not parts.path.startswith("/api/_fake/"):
            with fake.lock:
                fake.requests.append(record)
        self._send(status, answer, correlation_id)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class FakeImmichServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, fake):
        self.fake = fake
        super().__init__(address, Handler)


def make_server(host="127.0.0.1", port=0, **kwargs):
    """A server bound to (host, port) holding a fresh FakeImmich; call serve_forever() on it."""
    return FakeImmichServer((host, port), FakeImmich(**kwargs))
