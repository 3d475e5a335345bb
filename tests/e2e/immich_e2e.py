"""End-to-end check of a running Immich, as a user sees it: photos in, results out.

Runs on a host that reaches the server (the Molecule verify playbooks copy it there with
ansible.builtin.script). Needs Python 3 and Pillow (Debian: python3-pil) to make the photos;
everything else is the standard library and Immich's public API.

  immich_e2e.py upload --url URL --admin-email E --admin-password-file F [--count 20] [--first 0]
      signs in as the admin, creates a normal (non-admin) user when missing, makes COUNT JPEGs
      (numbered from FIRST, so later uploads are new photos, not duplicates)
      with EXIF dates and GPS positions (known cities of the reverse-geocoding data) and
      uploads them as that user.
  immich_e2e.py wait --url URL ... [--timeout 900] [--queues a,b] [--allow-failed]
      waits until no job is active, waiting or delayed, then fails if any queue has a failed job.
  immich_e2e.py check --url URL ... [--count 20] [--first 0]
      the user has at least FIRST+COUNT assets, each with its EXIF date and a place, and smart
      search finds them all.
  immich_e2e.py run ...   upload, wait and check in one go.
  immich_e2e.py upload-file --file PATH [--mime-type video/mp4] [--created ISO] ...
      uploads one file, byte for byte, as that user (device homelab-immich-e2e-file, outside
      what `check` counts) and prints its asset id, the upload status and the file's SHA-1.
      Ansible's uri module cannot do this: its form-multipart sends a file base64-encoded
      (Content-Transfer-Encoding), which Immich, like any HTTP server (RFC 7578), stores as is.
  immich_e2e.py upload-file --pad-mb 200 ...
      without --file: a generated JPEG padded after its end to that size (a large upload that Immich
      still takes for a photo); checksum_match says whether the SHA-1 Immich computed of what it
      received is that of what was sent.
  immich_e2e.py websocket --url URL ...
      opens /api/socket.io/ as a websocket (signed in as the admin) and prints the HTTP status
      (101 when upgraded) and the first engine.io packet (the server's "0{...}" open packet).
  immich_e2e.py oauth-login --url URL --login NAME ...
      signs in through Immich's OAuth endpoints without a browser: POST /api/oauth/authorize, then
      the provider's pages (oidc-provider's development login and consent forms: any NAME), then
      POST /api/oauth/callback with the URL the provider sent back; prints the signed-in user's
      email and whether the user was new (auto-register).
HTTPS URLs are checked against the system's CAs, or the file in SSL_CERT_FILE (a private CA).
Each command prints one JSON document on stdout; the exit code is 0 only when all is well.
"""

import argparse
import base64
import hashlib
import http.cookiejar
import io
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

USER_EMAIL = "e2e-user@example.com"
USER_NAME = "E2E User"
USER_PASSWORD = "e2e-user-password-1"  # a throwaway test user of the test bed
DEVICE_ID = "homelab-immich-e2e"
FILE_DEVICE_ID = "homelab-immich-e2e-file"  # upload-file: not among the photos that `check` counts
# (city, latitude, longitude): places of tests/fake_geodata, so reverse geocoding finds them
PLACES = [("Paris", 48.8566, 2.3522), ("Berlin", 52.52, 13.405), ("Madrid", 40.4168, -3.7038), ("Rome", 41.9, 12.5)]
BUSY = ("active", "waiting", "delayed")


class Api:
    def __init__(self, url: str, timeout: float = 60):
        self.base = url.rstrip("/") + "/api"
        self.token = None
        self.timeout = timeout

    def call(self, method, path, body=None, raw=None, content_type=None, ok=(200, 201)):
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode(errors="replace")
        if status not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {text[:300]}")
        return json.loads(text) if text else None

    def login(self, email, password):
        self.token = self.call("POST", "/auth/login", {"email": email, "password": password})["accessToken"]
        return self


def admin_api(args) -> Api:
    with open(args.admin_password_file, encoding="utf-8") as fh:
        password = fh.read().strip()
    return Api(args.url).login(args.admin_email, password)


def user_api(args) -> Api:
    return Api(args.url).login(USER_EMAIL, USER_PASSWORD)


def ensure_user(admin: Api) -> str:
    for user in admin.call("GET", "/admin/users"):
        if user["email"] == USER_EMAIL:
            return user["id"]
    created = admin.call(
        "POST", "/admin/users", {"email": USER_EMAIL, "name": USER_NAME, "password": USER_PASSWORD, "isAdmin": False}
    )
    return created["id"]


def _dms(value: float):
    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = round(((value - deg) * 60 - minutes) * 60, 2)
    return (deg, minutes, seconds)


def make_jpeg(index: int) -> tuple[bytes, str, tuple]:
    """A 640x480 JPEG with a distinct picture, an EXIF capture date and a GPS position."""
    from PIL import Image, ImageDraw  # only the upload needs Pillow

    city, lat, lon = PLACES[index % len(PLACES)]
    img = Image.new("RGB", (640, 480), ((index * 53) % 256, (index * 97) % 256, (index * 31) % 256))
    draw = ImageDraw.Draw(img)
    draw.ellipse((220, 120, 420, 360), fill=(230, 190, 160))  # something face-shaped
    draw.ellipse((270, 190, 300, 220), fill=(40, 40, 40))
    draw.ellipse((340, 190, 370, 220), fill=(40, 40, 40))
    draw.rectangle((10 + index * 7 % 500, 10, 60 + index * 7 % 500, 60), fill=(255, 255, 255))
    taken = f"2021:{(index % 12) + 1:02d}:{(index % 27) + 1:02d} 12:{index % 60:02d}:00"
    exif = Image.Exif()
    exif[0x010F] = "homelab"  # Make
    exif[0x0110] = "e2e camera"  # Model
    exif[0x0132] = taken  # DateTime
    sub = exif.get_ifd(0x8769)  # Exif IFD
    sub[0x9003] = taken  # DateTimeOriginal
    sub[0x9004] = taken  # DateTimeDigitized
    gps = exif.get_ifd(0x8825)  # GPS IFD
    gps[1] = "N" if lat >= 0 else "S"
    gps[2] = _dms(lat)
    gps[3] = "E" if lon >= 0 else "W"
    gps[4] = _dms(lon)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif)
    iso = taken.replace(":", "-", 2).replace(" ", "T") + ".000Z"
    return buf.getvalue(), iso, (city, lat, lon)


def multipart(fields: dict, filename: str, payload: bytes, mime_type: str = "image/jpeg") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="assetData"; filename="{filename}"\r\n'
        f"Content-Type: {mime_type}\r\n\r\n".encode()
    )
    out.write(payload)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def cmd_upload(args) -> dict:
    admin = admin_api(args)
    user_id = ensure_user(admin)
    api = user_api(args)
    statuses = {}
    for i in range(args.first, args.first + args.count):
        data, iso, _place = make_jpeg(i)
        body, ctype = multipart(
            {"deviceAssetId": f"e2e-{i:03d}", "deviceId": DEVICE_ID, "fileCreatedAt": iso, "fileModifiedAt": iso},
            f"e2e-{i:03d}.jpg",
            data,
        )
        res = api.call("POST", "/assets", raw=body, content_type=ctype)
        statuses[res["status"]] = statuses.get(res["status"], 0) + 1
    # a duplicate is a photo already there (a second run of the same check): still counted
    if statuses.get("created", 0) + statuses.get("duplicate", 0) != args.count:
        return {"ok": False, "user_id": user_id, "statuses": statuses, "error": f"not all uploaded: {statuses}"}
    return {"user_id": user_id, "uploaded": args.count, "statuses": statuses}


def padded_jpeg(megabytes: int) -> bytes:
    """A real JPEG followed by zeros up to MEGABYTES (decoders stop at its end marker)."""
    data, _iso, _place = make_jpeg(999)
    return data + bytes(max(0, megabytes * 1024 * 1024 - len(data)))


def cmd_upload_file(args) -> dict:
    if not args.file and not args.pad_mb:
        raise ValueError("upload-file needs --file or --pad-mb")
    admin = admin_api(args)
    ensure_user(admin)
    api = user_api(args)
    api.timeout = max(api.timeout, 600)
    if args.file:
        with open(args.file, "rb") as fh:
            data = fh.read()
        name = os.path.basename(args.file)
    else:
        data, name = padded_jpeg(args.pad_mb), f"e2e-padded-{args.pad_mb}mb.jpg"
    body, ctype = multipart(
        {
            "deviceAssetId": name,
            "deviceId": FILE_DEVICE_ID,
            "fileCreatedAt": args.created,
            "fileModifiedAt": args.created,
        },
        name,
        data,
        args.mime_type if args.file else "image/jpeg",
    )
    sha1, size = hashlib.sha1(data), len(data)
    del data
    started = time.monotonic()
    res = api.call("POST", "/assets", raw=body, content_type=ctype)
    seconds = round(time.monotonic() - started, 1)
    asset = api.call("GET", f"/assets/{res['id']}")
    return {
        "id": res["id"],
        "status": res["status"],
        "sha1": sha1.hexdigest(),
        "size": size,
        "seconds": seconds,
        "checksum_match": asset.get("checksum") == base64.b64encode(sha1.digest()).decode(),
    }


def cmd_websocket(args) -> dict:
    """The HTTP status of a websocket upgrade of /api/socket.io/ and the first engine.io packet."""
    token = admin_api(args).token
    url = urllib.parse.urlsplit(args.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    sock = socket.create_connection((url.hostname, port), timeout=30)
    if url.scheme == "https":
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=url.hostname)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /api/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )
    sock.sendall(request.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _sep, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    packet = ""
    if status == 101:
        while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
            chunk = sock.recv(4096)
            if not chunk:
                break
            rest += chunk
        length = rest[1] & 0x7F
        if length == 126:
            rest += b"" if len(rest) >= 4 else sock.recv(4096)
            length, start = int.from_bytes(rest[2:4], "big"), 4
        else:
            start = 2
        while len(rest) < start + length:
            rest += sock.recv(4096)
        packet = rest[start : start + length].decode(errors="replace")
    sock.close()
    ok = status == 101 and packet.startswith("0{")
    return {
        "ok": ok,
        "status": status,
        "first_packet": packet[:200],
        **({} if ok else {"head": head.decode(errors="replace")}),
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def cmd_oauth_login(args) -> dict:
    """Immich's OAuth login as the web UI does it, with a cookie jar instead of a browser."""
    if not args.login:
        raise ValueError("oauth-login needs --login")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    base = args.url.rstrip("/")
    redirect_uri = base + "/auth/login"

    def fetch(url, data=None, ctype=None):
        req = urllib.request.Request(url, data=data, headers={"Content-Type": ctype} if ctype else {})
        try:
            with opener.open(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read().decode(errors="replace")

    admin = admin_api(args)
    before = {u["email"] for u in admin.call("GET", "/admin/users")}
    status, _h, text = fetch(
        base + "/api/oauth/authorize", json.dumps({"redirectUri": redirect_uri}).encode(), "application/json"
    )
    if status not in (200, 201):
        raise RuntimeError(f"POST /api/oauth/authorize: HTTP {status}: {text[:300]}")
    url, steps = json.loads(text)["url"], []
    for _step in range(12):
        status, headers, text = fetch(url)
        steps.append(f"{status} {url.split('?')[0]}")
        if status in (301, 302, 303, 307, 308):
            url = urllib.parse.urljoin(url, headers["Location"])
            if url.startswith(redirect_uri):
                break
            continue
        if status != 200:
            raise RuntimeError(f"provider: HTTP {status} at {url}: {text[:300]}")
        action = re.search(r'<form[^>]*action="([^"]+)"', text)
        action = urllib.parse.urljoin(url, action.group(1)) if action else url
        if 'name="login"' in text:
            form = {"prompt": "login", "login": args.login, "password": "any"}
        elif 'value="consent"' in text:
            form = {"prompt": "consent"}
        else:
            raise RuntimeError(f"provider page without a login or consent form at {url}: {text[:300]}")
        status, headers, text = fetch(
            action, urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        )
        steps.append(f"{status} POST {action.split('?')[0]} ({form['prompt']})")
        if status not in (301, 302, 303):
            raise RuntimeError(f"provider: HTTP {status} after the {form['prompt']} form: {text[:300]}")
        url = urllib.parse.urljoin(action, headers["Location"])
        if url.startswith(redirect_uri):
            break
    else:
        raise RuntimeError(f"no redirect back to {redirect_uri}: {steps}")
    status, _h, text = fetch(base + "/api/oauth/callback", json.dumps({"url": url}).encode(), "application/json")
    if status not in (200, 201):
        raise RuntimeError(f"POST /api/oauth/callback: HTTP {status}: {text[:300]} (steps {steps})")
    login = json.loads(text)
    return {"email": login.get("userEmail"), "new_user": login.get("userEmail") not in before, "steps": steps}


def queue_stats(admin: Api) -> dict:
    return {q["name"]: dict(q["statistics"], isPaused=q["isPaused"]) for q in admin.call("GET", "/queues")}


def cmd_wait(args) -> dict:
    admin = admin_api(args)
    names = [q for q in args.queues.split(",") if q] if args.queues else None
    deadline = time.monotonic() + args.timeout
    idle_since = None
    while True:
        stats = queue_stats(admin)
        watched = {k: v for k, v in stats.items() if names is None or k in names}
        busy = {k: {b: v[b] for b in BUSY if v[b]} for k, v in watched.items() if any(v[b] for b in BUSY)}
        now = time.monotonic()
        if not busy:
            # a finished job can queue the next one (metadata -> thumbnails -> ML): idle twice in a row
            if idle_since is not None and now - idle_since >= args.settle:
                break
            idle_since = idle_since or now
        else:
            idle_since = None
        if now > deadline:
            return {"ok": False, "error": f"queues still busy after {args.timeout} s", "busy": busy, "queues": watched}
        time.sleep(2)
    failed = {k: v["failed"] for k, v in watched.items() if v["failed"]}
    ok = args.allow_failed or not failed
    return {"ok": ok, "failed": failed, "queues": watched, **({} if ok else {"error": f"failed jobs: {failed}"})}


def my_assets(api: Api) -> list:
    items, page = [], 1
    while page:
        res = api.call("POST", "/search/metadata", {"deviceId": DEVICE_ID, "withExif": True, "page": page, "size": 250})
        items += res["assets"]["items"]
        page = res["assets"]["nextPage"] and int(res["assets"]["nextPage"])
    return items


def cmd_check(args) -> dict:
    api = user_api(args)
    assets = my_assets(api)
    expected = args.first + args.count
    problems = []
    if len(assets) < expected:
        problems.append(f"{len(assets)} assets listed, {expected} expected")
    no_date = [a["originalFileName"] for a in assets if not (a.get("exifInfo") or {}).get("dateTimeOriginal")]
    no_place = [a["originalFileName"] for a in assets if not (a.get("exifInfo") or {}).get("city")]
    if no_date:
        problems.append(f"no EXIF date: {no_date}")
    if no_place:
        problems.append(f"no place from reverse geocoding: {no_place}")
    found = api.call("POST", "/search/smart", {"query": args.query, "size": 250})["assets"]["items"]
    ids = {a["id"] for a in assets}
    found_ids = {a["id"] for a in found} & ids
    if len(found_ids) < max(len(ids), expected):
        problems.append(f"smart search for {args.query!r} found {len(found_ids)} of {len(ids)} uploaded assets")
    cities = sorted({(a.get("exifInfo") or {}).get("city") or "-" for a in assets})
    return {
        "ok": not problems,
        "assets": len(assets),
        "smart_search_found": len(found_ids),
        "cities": cities,
        "asset_ids": sorted(ids),
        **({"error": "; ".join(problems)} if problems else {}),
    }


def cmd_run(args) -> dict:
    result = {"upload": cmd_upload(args)}
    if not result["upload"].get("ok", True):
        return {"ok": False, "error": result["upload"]["error"], **result}
    result["wait"] = cmd_wait(args)
    result["check"] = cmd_check(args) if result["wait"]["ok"] else {"ok": False, "error": "skipped"}
    result["ok"] = result["wait"]["ok"] and result["check"]["ok"]
    if not result["ok"]:
        result["error"] = result["wait"].get("error") or result["check"].get("error")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "command", choices=["upload", "wait", "check", "run", "upload-file", "websocket", "oauth-login"]
    )
    parser.add_argument("--url", default="http://127.0.0.1:2283")
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--admin-password-file", required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--settle", type=float, default=6)
    parser.add_argument("--queues", default="")
    parser.add_argument("--allow-failed", action="store_true")
    parser.add_argument("--query", default="a photo")
    parser.add_argument("--file", help="upload-file: the file to upload")
    parser.add_argument("--mime-type", default="application/octet-stream")
    parser.add_argument("--login", help="oauth-login: the name to sign in with at the provider")
    parser.add_argument("--pad-mb", type=int, default=0, help="upload-file: a generated JPEG padded to this size")
    parser.add_argument("--created", default="2021-06-01T12:00:00.000Z", help="upload-file: its date")
    args = parser.parse_args(argv)
    try:
        commands = {"upload": cmd_upload, "wait": cmd_wait, "check": cmd_check, "run": cmd_run}
        commands.update({"upload-file": cmd_upload_file, "websocket": cmd_websocket, "oauth-login": cmd_oauth_login})
        result = commands[args.command](args)
    except Exception as err:  # one JSON answer whatever went wrong
        result = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    result.setdefault("ok", True)
    print(json.dumps(result, indent=1, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
