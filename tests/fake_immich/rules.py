"""What the real v3.1.0 server checks and converts in ``PUT /system-config`` beyond the OpenAPI document.

The OpenAPI document says ``boolean``, ``integer``, ``string``; the server's zod schema says more:

- most booleans are ``configBool``: the strings ``"true"`` and ``"false"`` (exactly those) are
  accepted and stored as booleans; ``integrityChecks.*.enabled`` is a plain boolean (strings refused);
- ``ffmpeg.crf``, ``threads``, ``bframes``, ``refs``, ``gopSize`` are ``z.coerce.number()``:
  JavaScript's ``Number(value)`` is applied first (``"23"`` -> 23, ``true`` -> 1, ``"x"`` -> NaN);
- ``machineLearning.urls``: any strings (no URL check), at least one;
- ``oauth.issuerUrl``, ``oauth.endSessionEndpoint``, ``server.externalDomain``: empty or a URL;
  ``oauth.mobileRedirectUri``: empty or a URL when ``mobileOverrideEnabled``;
- every ``cronExpression``: a valid expression for the ``cron`` npm package (5 or 6 fields, or a
  preset such as ``@daily``);
- then, after the schema (the ``ConfigValidate`` event): ``storageTemplate.template`` must compile
  and render as a strict Handlebars template with the storage tokens (400 "Invalid storage template").

These are re-implementations from the documented behaviour, approximate where noted, not upstream code.
"""

import math
import re

from .schema import is_zod_url

CONFIG_BOOL_EXCLUDED = ("integrityChecks",)
COERCED_NUMBERS = {("ffmpeg", k) for k in ("crf", "threads", "bframes", "refs", "gopSize")}
URL_OR_EMPTY = {
    ("oauth", "issuerUrl"): "Issuer URL must be an empty string or a valid URL",
    ("oauth", "endSessionEndpoint"): "endSessionEndpoint must be an empty string or a valid URL",
    ("server", "externalDomain"): "External domain must be an empty string or a valid URL",
}
CRON_PATHS = [
    ("backup", "database", "cronExpression"),
    ("library", "scan", "cronExpression"),
    ("integrityChecks", "missingFiles", "cronExpression"),
    ("integrityChecks", "untrackedFiles", "cronExpression"),
    ("integrityChecks", "checksumFiles", "cronExpression"),
]
STORAGE_TEMPLATE_MESSAGE = "Invalid storage template"


# --- conversions before validation -------------------------------------------------------------
def js_number(value):
    """JavaScript's ``Number(value)`` for JSON values (NaN as ``float("nan")``)."""
    if isinstance(value, bool):
        return int(value)
    if value is None:
        return 0
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, list):
        return 0 if not value else (js_number(str(value[0])) if len(value) == 1 else math.nan)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            number = float(text)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        return math.nan
    return math.nan


def preprocess_config(body, defaults, path=()):
    """A copy of a ``SystemConfigDto`` body with the server's zod preprocessing applied."""
    if not isinstance(body, dict) or not isinstance(defaults, dict):
        return body
    out = {}
    for key, value in body.items():
        here = (*path, key)
        default = defaults.get(key)
        if here in COERCED_NUMBERS:
            out[key] = js_number(value)
        elif isinstance(default, dict):
            out[key] = preprocess_config(value, default, here)
        elif isinstance(default, bool) and value in ("true", "false") and here[0] not in CONFIG_BOOL_EXCLUDED:
            out[key] = value == "true"
        else:
            out[key] = value
    return out


# --- refinements (run where the schema accepted the value's type) ------------------------------
def _get(doc, path):
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def refinement_issues(body, schema_issues):
    """zod ``custom`` issues of the server's refinements, for values of the right type."""
    failed = {tuple(i["path"]) for i in schema_issues}
    issues = []
    for path, message in URL_OR_EMPTY.items():
        value = _get(body, path)
        if isinstance(value, str) and value and not is_zod_url(value):
            issues.append({"code": "custom", "path": list(path), "message": message})
    for path in CRON_PATHS:
        value = _get(body, path)
        if isinstance(value, str):
            error = cron_error(value)
            if error is not None:
                issues.append({"code": "custom", "path": list(path), "message": "Invalid cron expression. " + error})
    oauth = _get(body, ("oauth",))
    oauth_ok = not any(p[:1] == ("oauth",) for p in failed) and not any(i["path"][:1] == ["oauth"] for i in issues)
    if oauth_ok and isinstance(oauth, dict) and oauth.get("mobileOverrideEnabled") is True:
        uri = oauth.get("mobileRedirectUri")
        if uri != "" and not is_zod_url(uri):
            message = "Mobile redirect URI must be an empty string or a valid URL"
            issues.append({"code": "custom", "path": ["oauth"], "message": message})
    return issues


# --- cron expressions (the `cron` npm package's rules, messages in its words) -------------------
CRON_PRESETS = {
    "@yearly",
    "@monthly",
    "@weekly",
    "@daily",
    "@hourly",
    "@minutely",
    "@secondly",
    "@weekdays",
    "@weekends",
}
CRON_FIELDS = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("dayOfMonth", 1, 31),
    ("month", 1, 12),
    ("dayOfWeek", 0, 7),
]
CRON_ALIASES = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
CRON_ALIASES.update({name: number for number, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])})


def cron_error(expression):
    """None for a valid expression, else the reason (``Too few fields``, ``Field value (61) is out of range``...)."""
    text = expression.strip().lower()
    if text.startswith("@"):
        return None if text in CRON_PRESETS else "Unknown alias: " + text[1:]
    text = re.sub(r"[a-z]{3}", lambda m: str(CRON_ALIASES.get(m.group(0), m.group(0))), text)
    letters = re.search(r"[a-z]{1,3}", text)
    if letters:
        return "Unknown alias: " + letters.group(0)
    fields = text.split()
    if len(fields) < 5:
        return "Too few fields"
    if len(fields) > 6:
        return "Too many fields"
    units = CRON_FIELDS if len(fields) == 6 else CRON_FIELDS[1:]
    for field, (unit, low, high) in zip(fields, units):
        for part in field.split(","):
            part = part.replace("*", f"{low}-{high}")
            match = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(\d+))?", part)
            if not match:
                return f"Field ({unit}) cannot be parsed"
            start, end, step = match.group(1), match.group(2), match.group(3)
            if int(start) < low or int(start) > high or (end is not None and (int(end) < low or int(end) > high)):
                return "Field value (%s) is out of range" % (start if end is None else f"{start}-{end}")
            if end is not None and int(end) < int(start):
                return f"Field ({unit}) has an invalid range"
            if step is not None and int(step) == 0:
                return f"Field ({unit}) has a step of zero"
    return None


# --- the storage template (strict Handlebars, simplified) --------------------------------------
_DATE_TOKENS = ["s", "ss", "SSS", "m", "mm", "d", "dd", "W", "WW", "h", "hh", "H", "HH", "y", "yy"]
_DATE_TOKENS += ["M", "MM", "MMM", "MMMM"]
TEMPLATE_VARIABLES = set(_DATE_TOKENS) | {
    "filename",
    "ext",
    "filetype",
    "filetypefull",
    "assetId",
    "assetIdShort",
    "album",
    "make",
    "model",
    "lensModel",
}
TEMPLATE_VARIABLES |= {f"album-{which}-{t}" for which in ("startDate", "endDate") for t in _DATE_TOKENS}
BLOCK_HELPERS = ("if", "unless", "each", "with")


def storage_template_error(template):
    """None when the server would accept the template, else why not (the server only says it is invalid).

    Imitates ``handlebars.compile(template, {strict: true})`` rendered with the storage tokens:
    ``{{token}}`` / ``{{{token}}}`` with a known name, ``{{#if|unless|each|with x}}...{{else}}...{{/..}}``
    blocks, comments and ``\\{{`` escapes. Simplified: other helpers, paths (``a.b``, ``../x``) and
    partials are refused, though Handlebars accepts a few of them.
    """
    if not isinstance(template, str):
        return "not a string"
    stack = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            break
        if start > 0 and template[start - 1] == "\\":
            pos = start + 2
            continue
        if template.startswith("{{!--", start):
            end = template.find("--}}", start)
            if end < 0:
                return "unclosed comment"
            pos = end + 4
            continue
        triple = template.startswith("{{{", start)
        close = "}}}" if triple else "}}"
        end = template.find(close, start)
        if end < 0:
            return "unclosed {{"
        inner = template[start + (3 if triple else 2) : end].strip("~").strip()
        pos = end + len(close)
        if inner.startswith("!"):
            continue
        if not inner or "{{" in inner or "}" in inner:
            return "parse error"
        if triple and inner[0] in "#/>":
            return "parse error"
        if inner.startswith("#"):
            words = inner[1:].split()
            if not words or words[0] not in BLOCK_HELPERS:
                return "unknown block helper"
            if len(words) != 2:
                return f"#{words[0]} requires exactly one argument"
            stack.append(words[0])
        elif inner.startswith("/"):
            if not stack or stack.pop() != inner[1:].strip():
                return "block does not match"
        elif inner == "else" or inner.startswith("else "):
            if not stack:
                return "else outside a block"
        elif inner.startswith(">"):
            return "partials are not available"
        else:
            name = inner
            if name.startswith("[") and name.endswith("]"):
                name = name[1:-1]
            elif name.startswith("@root."):
                name = name[len("@root.") :]
            if name != "this" and name not in TEMPLATE_VARIABLES:
                return f'"{name}" not defined'
    if stack:
        return "unclosed block"
    return None
