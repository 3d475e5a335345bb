"""The end-to-end helper uploads a file byte for byte (tests/e2e/immich_e2e.py)."""

import importlib.util
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "e2e" / "immich_e2e.py"
spec = importlib.util.spec_from_file_location("immich_e2e", SRC)
e2e = importlib.util.module_from_spec(spec)
spec.loader.exec_module(e2e)


def _file_part(body: bytes, ctype: str) -> tuple[bytes, bytes]:
    boundary = ctype.split("boundary=", 1)[1].encode()
    part = next(p for p in body.split(b"--" + boundary) if b'name="assetData"' in p)
    headers, _sep, payload = part.partition(b"\r\n\r\n")
    assert payload.endswith(b"\r\n")
    return headers, payload[:-2]


def test_binary_file_goes_unencoded():
    """Every byte value, CR and LF included, arrives as sent: no base64, no line-ending rewrite."""
    data = bytes(range(256)) * 64 + b"\r\n\n\r"
    body, ctype = e2e.multipart({"deviceId": "d"}, "v.mp4", data, "video/mp4")
    headers, payload = _file_part(body, ctype)
    assert payload == data
    assert b"Content-Type: video/mp4" in headers
    assert b"Content-Transfer-Encoding" not in headers


def test_photos_stay_jpeg():
    _body, ctype = e2e.multipart({}, "a.jpg", b"\xff\xd8\xff")
    headers, payload = _file_part(_body, ctype)
    assert b"Content-Type: image/jpeg" in headers and payload == b"\xff\xd8\xff"
