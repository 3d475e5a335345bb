"""Validate request bodies against the vendored Immich OpenAPI 3.0 document.

OpenAPI 3.0 schemas are converted to JSON Schema (draft 7): ``nullable`` becomes a ``null``
type, ``format: uri``/``email``/``uuid``/``date-time`` are checked loosely, ``additionalProperties``
is enforced only where the document declares it. Errors are reported as the real server's zod 4
issues (``code``, ``path``, ``message`` in zod's words). Works with jsonschema 4.x from PyPI or
Debian's python3-jsonschema.
"""

import copy
import json
import math
import os
import re

import jsonschema

OPENAPI_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi.json")
_DROP_KEYS = ("example", "x-immich-history", "x-immich-state", "x-immich-permission", "discriminator", "xml")


def _convert(node):
    """Return a JSON Schema (draft 7) copy of an OpenAPI 3.0 schema node."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in _DROP_KEYS and k != "nullable"}
    if out.get("format") in ("double", "float", "int32", "int64", "binary", "byte", "password"):
        del out["format"]
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    if "$ref" in out and len(out) > 1:
        # draft 7 ignores siblings of $ref; keep them by moving the reference into allOf
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


_format_checker = jsonschema.FormatChecker(formats=())


@_format_checker.checks("uri", raises=ValueError)
def _is_uri(value):
    return not isinstance(value, str) or is_zod_url(value)


@_format_checker.checks("email", raises=ValueError)
def _is_email(value):
    return not isinstance(value, str) or re.match(r"^[^@\s]+@[^@\s]+$", value) is not None


@_format_checker.checks("uuid", raises=ValueError)
def _is_uuid(value):
    return (
        not isinstance(value, str)
        or re.match(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$", value) is not None
    )


@_format_checker.checks("date-time", raises=ValueError)
def _is_datetime(value):
    return not isinstance(value, str) or re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d", value) is not None


def is_zod_url(value):
    """Loose equivalent of zod's ``z.url()`` (WHATWG ``new URL()`` on the trimmed string).

    Any scheme is accepted (``localhost:8080`` parses as scheme ``localhost``); the special schemes
    (http, https, ws, wss, ftp) need a host; no whitespace, a numeric port up to 65535.
    """
    if not isinstance(value, str):
        return False
    text = value.strip()
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", text, re.S)
    if not match or re.search(r"\s", text):
        return False
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in ("http", "https", "ws", "wss", "ftp"):
        return True
    authority = re.split(r"[/?#]", rest.lstrip("/\\"), maxsplit=1)[0].rsplit("@", 1)[-1]
    host, _sep, port = authority.rpartition(":") if not authority.endswith("]") else (authority, "", "")
    if not _sep:
        host, port = authority, ""
    if port and (not port.isdigit() or int(port) > 65535):
        return False
    return bool(host) and not re.search(r"[<>^|%]", host)


class OpenAPI:
    """The OpenAPI document, with a validator per component schema."""

    def __init__(self, path=OPENAPI_PATH):
        with open(path, encoding="utf-8") as handle:
            self.document = json.load(handle)
        self.version = self.document["info"]["version"]
        self._components = {"components": {"schemas": _convert(self.document["components"]["schemas"])}}
        self._validators = {}

    def has_operation(self, method, path):
        return method.lower() in self.document["paths"].get(path, {})

    def operation(self, method, path):
        return self.document["paths"][path][method.lower()]

    def request_schema_name(self, method, path):
        """Name of the component schema of an operation's JSON request body, or None."""
        op = self.operation(method, path)
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "")
        return ref.rsplit("/", 1)[-1] if ref else None

    def schema(self, name):
        return copy.deepcopy(self.document["components"]["schemas"][name])

    def validator(self, name):
        if name not in self._validators:
            root = dict(self._components)
            root["$ref"] = "#/components/schemas/" + name
            self._validators[name] = jsonschema.Draft7Validator(root, format_checker=_format_checker)
        return self._validators[name]

    def errors(self, name, instance):
        """Validation errors as zod issues (what the real server sends in ``errors``), sorted by path.

        Each issue has ``code``, ``path`` and ``message`` in zod 4's words (``invalid_type``,
        ``invalid_value``, ``too_small``, ``too_big``, ``invalid_format``, ``custom``) and the code's
        own fields (``expected``, ``values``, ``minimum``, ``origin``, ...).
        """
        found = []
        enum_paths = set()
        for error in self.validator(name).iter_errors(instance):
            issue = self._issue(error)
            if issue["code"] == "invalid_value":
                enum_paths.add(tuple(issue["path"]))
            found.append(issue)
        # zod reports one issue for a value outside an enum, jsonschema also a type error
        found = [i for i in found if not (i["code"] == "invalid_type" and tuple(i["path"]) in enum_paths and i["path"])]
        found.sort(key=lambda e: [str(p) for p in e["path"]])
        return found

    def _resolve_converted(self, node):
        schemas = self._components["components"]["schemas"]
        while isinstance(node, dict):
            if "$ref" in node:
                node = schemas[node["$ref"].rsplit("/", 1)[-1]]
            elif len(node.get("allOf", [])) == 1:
                node = node["allOf"][0]
            else:
                break
        return node

    def _issue(self, error):
        path = list(error.absolute_path)
        kind, value = error.validator, error.validator_value
        if kind == "required":
            match = re.match(r"^'(.+)' is a required property$", error.message)
            key = match.group(1) if match else "?"
            prop = self._resolve_converted(error.schema.get("properties", {}).get(key, {}))
            if isinstance(prop, dict) and "enum" in prop:
                return _invalid_value([*path, key], prop["enum"])
            return _invalid_type(
                [*path, key], _expected(prop.get("type") if isinstance(prop, dict) else None), "undefined"
            )
        if kind == "type":
            types = [value] if isinstance(value, str) else list(value)
            received = _received(error.instance)
            if "integer" in types and received == "number":
                issue = _invalid_type(path, "int", "number")
                issue["format"] = "safeint"
                return issue
            return _invalid_type(path, _expected(types), received)
        if kind == "enum":
            return _invalid_value(path, [v for v in value if v is not None])
        if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            small = "inimum" in kind
            inclusive = not kind.startswith("exclusive")
            sign = (">" if small else "<") + ("=" if inclusive else "")
            text = "Too {}: expected number to be {}{}".format("small" if small else "big", sign, _num(value))
            return _issue(
                path,
                "too_small" if small else "too_big",
                text,
                origin="number",
                **{"minimum" if small else "maximum": value, "inclusive": inclusive},
            )
        if kind in ("minItems", "maxItems", "minLength", "maxLength"):
            small = kind.startswith("min")
            origin, unit = ("array", "items") if "Items" in kind else ("string", "characters")
            text = "Too {}: expected {} to have {}{} {}".format(
                "small" if small else "big", origin, ">=" if small else "<=", value, unit
            )
            return _issue(
                path,
                "too_small" if small else "too_big",
                text,
                origin=origin,
                **{"minimum" if small else "maximum": value, "inclusive": True},
            )
        if kind == "format":
            texts = {
                "uri": ("url", "Invalid URL"),
                "email": ("email", "Invalid input: expected email, received string"),
                "uuid": ("uuid", "Invalid UUID"),
                "date-time": ("datetime", "Invalid ISO datetime"),
            }
            fmt, text = texts.get(value, (value, "Invalid " + str(value)))
            return _issue(path, "invalid_format", text, format=fmt)
        if kind == "pattern":
            if value == HH_MM:
                text = "Invalid input: expected string in HH:MM format, received string"
                return _issue(path, "invalid_format", text, origin="string", format="time", pattern=f"/{value}/")
            text = f"Invalid string: must match pattern /{value}/"
            return _issue(path, "invalid_format", text, origin="string", format="regex", pattern=f"/{value}/")
        if kind == "additionalProperties":
            keys = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            text = "Unrecognized key{}: {}".format("s" if len(keys) > 1 else "", ", ".join(f'"{k}"' for k in keys))
            return _issue(path, "unrecognized_keys", text, keys=keys)
        return _issue(path, "custom", error.message)

    def strip_unknown(self, name, instance):
        """Drop properties the schema does not declare (the server's whitelist behaviour)."""
        return _strip(self.document["components"]["schemas"], {"$ref": "#/components/schemas/" + name}, instance)


def _resolve(schemas, node):
    while isinstance(node, dict) and ("$ref" in node or len(node.get("allOf", [])) == 1):
        node = schemas[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node["allOf"][0]
    return node


def _strip(schemas, node, value):
    node = _resolve(schemas, node)
    if isinstance(value, dict) and "properties" in node and "additionalProperties" not in node:
        props = node["properties"]
        return {k: _strip(schemas, props[k], v) for k, v in value.items() if k in props}
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_strip(schemas, node["items"], v) for v in value]
    return value


HH_MM = "^(?:[01]\\d|2[0-3]):[0-5]\\d$"
_EXPECTED = {
    "integer": "number",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
    "null": "null",
}


def _issue(path, code, message, **fields):
    issue = {"code": code}
    issue.update(fields)
    issue["path"] = path
    issue["message"] = message
    return issue


def _expected(types):
    if isinstance(types, str):
        types = [types]
    names = [t for t in (types or []) if t != "null"] or list(types or []) or ["unknown"]
    return _EXPECTED.get(names[0], names[0])


def _received(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _invalid_type(path, expected, received):
    issue = {"expected": expected, "code": "invalid_type"}
    if received == "NaN":
        issue["received"] = "NaN"
    issue["path"] = path
    issue["message"] = f"Invalid input: expected {expected}, received {received}"
    return issue


def _invalid_value(path, values):
    text = "|".join(json.dumps(v) for v in values)
    if len(values) == 1:
        return _issue(path, "invalid_value", "Invalid input: expected " + text, values=values)
    return _issue(path, "invalid_value", "Invalid option: expected one of " + text, values=values)


def _num(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def format_path(path):
    return ".".join(str(p) for p in path) if path else "(body)"


invalid_value = _invalid_value
