"""Validate request bodies against the vendored Immich OpenAPI 3.0 document.

OpenAPI 3.0 schemas are converted to JSON Schema (draft 7): ``nullable`` becomes a ``null``
type, ``format: uri``/``email``/``uuid``/``date-time`` are checked loosely, ``additionalProperties``
is enforced only where the document declares it. Works with jsonschema 4.x from PyPI or
Debian's python3-jsonschema.
"""

import copy
import json
import os
import re
from urllib.parse import urlparse

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
    if not isinstance(value, str):
        return True
    parsed = urlparse(value)
    return bool(parsed.scheme and parsed.netloc)


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


def is_url(value):
    """Loose equivalent of the server's URL check (scheme http(s) and a host)."""
    if not isinstance(value, str):
        return False
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)


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
        """Validation errors as a sorted list of {"path": [...], "message": str}."""
        found = []
        for error in self.validator(name).iter_errors(instance):
            path = list(error.absolute_path)
            if error.validator == "required":
                match = re.match(r"^'(.+)' is a required property$", error.message)
                path.append(match.group(1) if match else "?")
            found.append({"path": path, "message": _message(error), "code": str(error.validator)})
        found.sort(key=lambda e: [str(p) for p in e["path"]])
        return found

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


def _message(error):
    if error.validator == "required":
        return "is required"
    if error.validator == "pattern":
        return f"must match the pattern {error.validator_value}"
    if error.validator == "additionalProperties":
        return error.message
    if error.validator == "format":
        return f"must be a valid {error.validator_value}"
    if error.validator == "enum":
        return "must be one of: {}".format(", ".join(str(v) for v in error.validator_value))
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    return error.message


def format_path(path):
    return ".".join(str(p) for p in path) if path else "(body)"
