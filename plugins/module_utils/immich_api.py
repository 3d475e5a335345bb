# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One HTTP client for the Immich server API, shared by the homelab.immich modules.

Built on Ansible's own ``open_url``; runs on the Python versions Ansible supports on targets.
Errors carry the HTTP status, the server's message and, for validation errors, every failing
path, e.g. ``HTTP 400 Bad Request: Validation failed: job.smartSearch.concurrency: Too small: expected
number to be >=1``.
"""

import copy
import json
import time
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import open_url

# Connection options shared by every module (documented in the homelab.immich.immich doc fragment).
IMMICH_CONNECTION_ARGS = {
    "url": {"type": "str", "required": True},
    "api_key": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
}

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

SECRET_KEYS = ("password", "clientSecret", "secret", "accessToken", "apiKey")


def immich_argument_spec(**extra):
    """The shared connection options plus a module's own options."""
    spec = copy.deepcopy(IMMICH_CONNECTION_ARGS)
    spec.update(extra)
    return spec


def client_from_module(module, use_api_key=True):
    """An ImmichClient from a module's shared connection options (url, api_key, validate_certs, timeout)."""
    params = module.params
    return ImmichClient(
        params["url"],
        api_key=params.get("api_key") if use_api_key else None,
        validate_certs=params["validate_certs"],
        timeout=params["timeout"],
    )


def _path_text(path):
    if isinstance(path, (list, tuple)):
        return ".".join(str(p) for p in path)
    return str(path) if path not in (None, "") else ""


def parse_error_body(raw):
    """Return (message, [detail, ...]) from an Immich error answer.

    Immich v3 answers ``{"message": "..."}``, and for a request that fails its schema
    ``{"message": "Validation failed", "errors": [zod issue, ...]}`` where each issue has a
    ``path`` (a list) and a ``message``: each detail is ``"path: message"``, e.g.
    ``job.smartSearch.concurrency: Invalid input: expected number, received string``.
    A list in ``message`` (servers before v2, class-validator) is read as the details too.
    """
    if not raw:
        return "", []
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.strip()[:500], []
    if not isinstance(body, dict):
        return str(body)[:500], []
    message = body.get("message", "")
    details = []
    if isinstance(message, list):  # class-validator style: a list of "path message" strings
        details = [str(m) for m in message]
        message = "Validation failed"
    items = body.get("errors")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            path = _path_text(item.get("path", ""))
            text = str(item.get("message", "") or item.get("code", ""))
            details.append("%s: %s" % (path, text) if path else text)
        else:
            details.append(str(item))
    return str(message), details


class ImmichAPIError(Exception):
    """A failed API call: ``status`` is None when the server could not be reached."""

    def __init__(self, msg, status=None, message="", details=None, method=None, path=None, correlation_id=None):
        super(ImmichAPIError, self).__init__(msg)
        self.msg = msg
        self.status = status
        self.message = message
        self.details = details or []
        self.method = method
        self.path = path
        self.correlation_id = correlation_id

    def __str__(self):
        return self.msg

    def to_result(self):
        """Keyword arguments for module.fail_json().

        ``correlation_id`` is the server's ``X-Correlation-ID`` for the failed request: the same id
        is in the server's log lines about it.
        """
        result = {"msg": self.msg, "status": self.status, "server_message": self.message, "details": self.details}
        if self.correlation_id:
            result["correlation_id"] = self.correlation_id
        return result


class ImmichClient:
    """Immich API client: ``base URL + /api``, ``x-api-key`` or bearer authentication.

    Connection errors (refused, reset, DNS, timeouts) are retried until ``timeout`` seconds have
    passed since the first try; an HTTP answer, even an error, is never retried.
    """

    def __init__(
        self,
        url,
        api_key=None,
        token=None,
        validate_certs=True,
        timeout=30,
        request_timeout=10,
        opener=None,
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        base = (url or "").rstrip("/")
        if base.endswith("/api"):
            base = base[: -len("/api")]
        self.base = base
        self.api_key = api_key
        self.token = token
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.opener = opener or open_url
        self.sleep = sleep
        self.clock = clock
        self.requests_sent = []  # (method, path) of every request that got an answer

    def api_url(self, path, query=None):
        url = self.base + "/api" + path
        if query:
            url += "?" + urlencode(query, doseq=True)
        return url

    def headers(self, body=None):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["x-api-key"] = self.api_key
        elif self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        return headers

    def _once(self, method, path, body=None, query=None, timeout=None):
        data = json.dumps(body, sort_keys=True).encode("utf-8") if body is not None else None
        response = self.opener(
            self.api_url(path, query),
            data=data,
            headers=self.headers(body),
            method=method,
            validate_certs=self.validate_certs,
            timeout=timeout or self.request_timeout,
            follow_redirects="safe",
        )
        raw = response.read()
        status = getattr(response, "status", None) or response.getcode()
        return status, raw

    def request(self, method, path, body=None, query=None, expect=(200, 201, 204)):
        """Send one request; return the decoded JSON answer (None for an empty one)."""
        deadline = self.clock() + self.timeout
        what = "%s /api%s" % (method, path)
        while True:
            try:
                remaining = max(1, min(self.request_timeout, int(deadline - self.clock()) + 1))
                status, raw = self._once(method, path, body=body, query=query, timeout=remaining)
                break
            except HTTPError as exc:
                try:
                    raw = exc.read()
                except Exception:
                    raw = b""
                raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
                message, details = parse_error_body(raw)
                headers = getattr(exc, "headers", None)
                correlation_id = headers.get("X-Correlation-ID") if headers is not None else None
                reason = REASONS.get(exc.code) or getattr(exc, "reason", "") or ""
                text = "HTTP %s %s" % (exc.code, reason)
                if message:
                    text += ": %s" % message
                if details:
                    text += ": %s" % "; ".join(details)
                raise ImmichAPIError(
                    "%s (%s)" % (text.strip(), what),
                    status=exc.code,
                    message=message,
                    details=details,
                    method=method,
                    path=path,
                    correlation_id=correlation_id,
                ) from None
            except (URLError, OSError, HTTPException) as exc:  # OSError: refused, reset, socket timeouts
                reason = getattr(exc, "reason", exc)
                if self.clock() >= deadline:
                    raise ImmichAPIError(
                        "Immich at %s did not answer %s within %s seconds: %s"
                        % (self.base, what, self.timeout, reason),
                        method=method,
                        path=path,
                    ) from None
                self.sleep(1)
        self.requests_sent.append((method, path))
        if expect and status not in expect:
            raise ImmichAPIError(
                "HTTP %s unexpected answer (%s)" % (status, what), status=status, method=method, path=path
            )
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ImmichAPIError(
                "%s answered something that is not JSON: %s" % (what, raw[:200]), status=status
            ) from None

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def wait_for_ping(self):
        """Wait until ``GET /api/server/ping`` answers ``{"res": "pong"}`` (up to ``timeout`` seconds)."""
        answer = self.get("/server/ping")
        if not isinstance(answer, dict) or answer.get("res") != "pong":
            raise ImmichAPIError("GET /api/server/ping at %s answered %r, not pong" % (self.base, answer))
        return answer

    def login(self, email, password):
        """Log in with email and password; later requests use the session token."""
        answer = self.post("/auth/login", {"email": email, "password": password})
        self.token = answer["accessToken"]
        self.api_key = None
        return answer

    def logout(self):
        if self.token:
            try:
                self.post("/auth/logout")
            except ImmichAPIError:
                pass
            self.token = None


def segment(value):
    """Quote one path segment (queue names, ids)."""
    return quote(str(value), safe="")


def deep_merge(base, override):
    """Mappings merged recursively, everything else (lists included) replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _coerce_leaf(current, value, path):
    """``value`` in the type of the server's ``current`` value; raises ValueError naming ``path``."""
    where = ".".join(str(p) for p in path)
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError("%s: the server keeps a boolean here, got %r" % (where, value))
    if isinstance(current, int) and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        try:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value.strip())
            if isinstance(value, float) and value.is_integer():
                return int(value)
        except ValueError:
            pass
        raise ValueError("%s: the server keeps an integer here, got %r" % (where, value))
    if isinstance(current, float) and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError("%s: the server keeps a number here, got %r" % (where, value)) from None
    if isinstance(current, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def coerce_types(base, override, prefix=()):
    """A copy of ``override`` whose scalars take the types of the server's document ``base``.

    The real server stores ``"false"`` as ``false`` (and numbers given as strings as numbers), so a
    setting written from an inventory string would differ from what is read back on every run.
    Values that cannot be converted raise ValueError with the setting's path.
    """
    out = {}
    for key, value in override.items():
        path = prefix + (key,)
        current = base.get(key) if isinstance(base, dict) else None
        if isinstance(value, dict):
            out[key] = coerce_types(current if isinstance(current, dict) else {}, value, path)
        elif isinstance(value, list) and isinstance(current, list) and current:
            out[key] = [_coerce_leaf(current[0], v, path + (i,)) for i, v in enumerate(value)]
        elif current is None or isinstance(value, list):
            out[key] = copy.deepcopy(value)
        else:
            out[key] = _coerce_leaf(current, value, path)
    return out


def unknown_paths(base, override, prefix=()):
    """Paths of ``override`` that do not exist in ``base`` (settings the server does not have)."""
    found = []
    for key, value in override.items():
        path = prefix + (key,)
        if not isinstance(base, dict) or key not in base:
            found.append(".".join(str(p) for p in path))
        elif isinstance(value, dict) and isinstance(base[key], dict):
            found.extend(unknown_paths(base[key], value, path))
        elif isinstance(value, dict) and base[key] is not None:
            found.append(".".join(str(p) for p in path) + " (a mapping where the server has a scalar)")
    return found


def same(a, b):
    """Equality that tells true from 1 (the server would refuse the wrong type)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return sorted(a) == sorted(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def changed_paths(before, after, prefix=()):
    """[(path tuple, before, after)] for every leaf (or list) that differs."""
    changes = []
    keys = list(before) if isinstance(before, dict) else []
    keys += [k for k in (after if isinstance(after, dict) else {}) if k not in keys]
    for key in keys:
        old = before.get(key) if isinstance(before, dict) else None
        new = after.get(key) if isinstance(after, dict) else None
        path = prefix + (key,)
        if isinstance(old, dict) and isinstance(new, dict):
            changes.extend(changed_paths(old, new, path))
        elif not same(old, new):
            changes.append((path, old, new))
    return changes


def mask_secrets(value, mask="********"):
    """A copy of a config document with secret values (passwords, client secrets) masked."""
    if isinstance(value, dict):
        return {
            k: mask if k in SECRET_KEYS and v not in (None, "") else mask_secrets(v, mask) for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(v, mask) for v in value]
    return value


def nest(changes, index):
    """Build a nested mapping {a: {b: value}} from changed paths, taking element ``index`` (1 before, 2 after)."""
    out = {}
    for change in changes:
        path = change[0]
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = change[index]
    return out
