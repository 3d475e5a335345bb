"""The fake ML image's server (tests/images/fake-immich-ml) answers like the real ML API."""

import importlib.util
import json
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "images" / "fake-immich-ml" / "fake_immich_ml.py"
spec = importlib.util.spec_from_file_location("fake_immich_ml", SRC)
fake = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake)


@pytest.fixture(scope="module")
def base():
    server = fake.make_server("127.0.0.1", 0, latency_ms=20, instance="unit-1")
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def multipart(fields):
    boundary = uuid.uuid4().hex
    out = b""
    for name, (value, filename) in fields.items():
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n\r\n" + value + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, out


def post(base, fields):
    ctype, body = multipart(fields)
    req = urllib.request.Request(base + "/predict", data=body, headers={"Content-Type": ctype}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers


def test_ping(base):
    with urllib.request.urlopen(base + "/ping") as r:
        assert r.read() == b"pong"
        assert r.headers["X-Fake-ML-Instance"] == "unit-1"


def test_predict_clip_text(base):
    entries = json.dumps({"clip": {"textual": {"modelName": "ViT-B-32__openai"}}}).encode()
    status, body, headers = post(base, {"entries": (entries, None), "text": (b"a dog", None)})
    assert status == 200
    assert len(json.loads(body["clip"])) == fake.CLIP_DIM
    assert headers["X-Fake-ML-Instance"] == "unit-1"


def test_predict_faces_on_image(base):
    entries = {
        "facial-recognition": {
            "detection": {"modelName": "buffalo_l", "options": {"minScore": 0.7}},
            "recognition": {"modelName": "buffalo_l"},
        }
    }
    status, body, _headers = post(
        base, {"entries": (json.dumps(entries).encode(), None), "image": (b"\xff\xd8jpeg", "a.jpg")}
    )
    assert status == 200
    face = body["facial-recognition"][0]
    assert set(face) == {"boundingBox", "embedding", "score"}
    assert body["imageWidth"] == 640


def test_predict_rejects_bad_requests(base):
    status, body, _headers = post(base, {"text": (b"x", None)})
    assert status == 422
    assert "entries" in body["detail"]
    entries = json.dumps({"clip": {"textual": {}}}).encode()
    assert post(base, {"entries": (entries, None), "text": (b"x", None)})[0] == 422


def test_stats_count_requests(base):
    with urllib.request.urlopen(base + "/_fake/stats") as r:
        stats = json.loads(r.read())
    assert stats["instance"] == "unit-1"
    assert stats["predict"] >= 2
    assert stats["providers"][-1] == "CPUExecutionProvider"


def test_providers_from_devices():
    assert fake.providers({}, lambda p: []) == ["CPUExecutionProvider"]
    assert fake.providers({}, lambda p: ["/dev/nvidia0"] if "nvidia" in p else [])[0] == "CUDAExecutionProvider"
    assert fake.providers({"NVIDIA_VISIBLE_DEVICES": "all"}, lambda p: [])[0] == "CUDAExecutionProvider"
    assert fake.providers({}, lambda p: ["/dev/kfd"] if "kfd" in p else [])[0] == "ROCMExecutionProvider"
