"""The generated models (tests/fake_models/make_models.py) load and answer through the REAL immich_ml.

Needs the ML service's own environment (immich_ml v3.1.0 importable with its dependencies:
onnxruntime, insightface, rapidocr, tokenizers, fastapi...), e.g. inside the built ML image:

    PYTHONPATH=/path/to/machine-learning /opt/venv/bin/python -m pytest tests/unit/test_fake_models.py

Anywhere else (the ordinary unit run) the whole module is skipped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

np = pytest.importorskip("numpy", reason="needs the Immich ML service's environment (numpy)")
pytest.importorskip("onnx", reason="needs the Immich ML service's environment (onnx)")
pytest.importorskip("tokenizers", reason="needs the Immich ML service's environment (tokenizers)")
pytest.importorskip(
    "immich_ml.models",
    reason="needs the real Immich ML code: immich_ml (machine-learning/ of Immich v3.1.0) and its dependencies",
)
orjson = pytest.importorskip("orjson")
Image = pytest.importorskip("PIL.Image")

from immich_ml.models import from_model_type  # noqa: E402
from immich_ml.models.clip.textual import OpenClipTextualEncoder  # noqa: E402
from immich_ml.models.clip.visual import OpenClipVisualEncoder  # noqa: E402
from immich_ml.models.facial_recognition.detection import FaceDetector  # noqa: E402
from immich_ml.models.facial_recognition.recognition import FaceRecognizer  # noqa: E402
from immich_ml.models.ocr.detection import TextDetector  # noqa: E402
from immich_ml.models.ocr.recognition import TextRecognizer  # noqa: E402
from immich_ml.schemas import ModelTask, ModelType  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "fake_models" / "make_models.py"
spec = importlib.util.spec_from_file_location("fake_make_models", SRC)
make_models = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_models)

CLIP, FACE, OCR = make_models.DEFAULT_CLIP, make_models.DEFAULT_FACE, make_models.DEFAULT_OCR

EXPECTED_FILES = [
    f"clip/{CLIP}/config.json",
    f"clip/{CLIP}/textual/model.onnx",
    f"clip/{CLIP}/textual/special_tokens_map.json",
    f"clip/{CLIP}/textual/tokenizer.json",
    f"clip/{CLIP}/textual/tokenizer_config.json",
    f"clip/{CLIP}/visual/model.onnx",
    f"clip/{CLIP}/visual/preprocess_cfg.json",
    f"facial-recognition/{FACE}/detection/model.onnx",
    f"facial-recognition/{FACE}/recognition/model.onnx",
    f"ocr/{OCR}/detection/model.onnx",
    f"ocr/{OCR}/recognition/model.onnx",
]


def jpeg(width=800, height=600, seed=0):
    """An 'ordinary photo': smooth gradients plus noise, as JPEG bytes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=-1)
    rgb = np.clip(rgb + rng.normal(0, 20, rgb.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("ml-cache")
    start = time.monotonic()
    make_models.make_all(root)
    elapsed = time.monotonic() - start
    assert elapsed < 10, f"generation took {elapsed:.1f}s"
    return root


def model(cache, name, model_type, task, **kwargs):
    """The model class the ML service would pick, with this cache as its cache folder."""
    folder = name.split("__")[-1] if (task, model_type) == (ModelTask.OCR, ModelType.DETECTION) else name
    m = from_model_type(name, model_type, task, cache_dir=cache / task.value / folder, **kwargs)
    assert m.cached, f"{m.model_path} not found: the service would try to download it"
    return m


def test_tree_is_what_the_service_looks_for(cache):
    files = sorted(digests(cache))
    assert files == EXPECTED_FILES
    total = sum((cache / f).stat().st_size for f in files)
    assert total < 20 * 2**20
    for f in files:
        assert (cache / f).stat().st_size < 2 * 2**20, f


def test_generation_is_deterministic(cache, tmp_path):
    make_models.make_all(tmp_path)
    assert digests(tmp_path) == digests(cache)


def test_clip_textual(cache):
    m = model(cache, CLIP, ModelType.TEXTUAL, ModelTask.SEARCH)
    assert isinstance(m, OpenClipTextualEncoder)
    m.load()
    tokens = m.tokenize("A photo of a dog on the beach")
    assert tokens["text"].dtype == np.int32
    assert tokens["text"].shape == (1, 77)
    a = orjson.loads(m.predict("a photo of a dog", language="en"))
    b = orjson.loads(m.predict("sunset over the sea"))
    assert len(a) == len(b) == 512
    assert all(isinstance(v, float) for v in a)
    assert a != b


def test_clip_visual(cache):
    m = model(cache, CLIP, ModelType.VISUAL, ModelTask.SEARCH)
    assert isinstance(m, OpenClipVisualEncoder)
    a = orjson.loads(m.predict(jpeg(seed=1)))
    b = orjson.loads(m.predict(jpeg(640, 960, seed=2)))
    assert len(a) == len(b) == 512
    assert a != b


def test_clip_visual_slow_gives_the_same_embedding_later(cache, tmp_path):
    """--visual-work N: the same embeddings (the work is added times zero), only slower."""
    make_models.make_all(tmp_path, visual_work=40)
    fast = model(cache, CLIP, ModelType.VISUAL, ModelTask.SEARCH)
    slow = model(tmp_path, CLIP, ModelType.VISUAL, ModelTask.SEARCH)
    image = jpeg(seed=3)
    fast.predict(image), slow.predict(image)  # load both sessions first
    start = time.monotonic()
    a = orjson.loads(fast.predict(image))
    fast_s = time.monotonic() - start
    start = time.monotonic()
    b = orjson.loads(slow.predict(image))
    slow_s = time.monotonic() - start
    assert a == b
    assert slow_s > fast_s + 0.02, (fast_s, slow_s)


def test_facial_recognition_finds_one_face_and_embeds_it(cache):
    before = digests(cache)
    det = model(cache, FACE, ModelType.DETECTION, ModelTask.FACIAL_RECOGNITION, minScore=0.7)
    rec = model(cache, FACE, ModelType.RECOGNITION, ModelTask.FACIAL_RECOGNITION)
    assert isinstance(det, FaceDetector)
    assert isinstance(rec, FaceRecognizer)
    for width, height in ((800, 600), (600, 800), (1600, 900)):
        image = jpeg(width, height, seed=width)
        faces = det.predict(image, minScore=0.7)
        assert faces["boxes"].shape == (1, 4)
        assert faces["scores"].shape == (1,)
        assert faces["landmarks"].shape == (1, 5, 2)
        assert 0.7 < float(faces["scores"][0]) < 1.0
        x1, y1, x2, y2 = faces["boxes"][0]
        assert 0 <= x1 < x2 <= width
        assert 0 <= y1 < y2 <= height
        out = rec.predict(image, faces)
        assert len(out) == 1
        assert set(out[0]) == {"boundingBox", "embedding", "score"}
        assert len(orjson.loads(out[0]["embedding"])) == 512
    # a higher minimum score than the fake detector's: no face, and recognition is skipped
    assert det.predict(jpeg(), minScore=0.99)["boxes"].shape[0] == 0
    # the service did not rewrite the models (FaceRecognizer adds a batch axis when it lacks one)
    assert digests(cache) == before


def test_ocr(cache):
    det = model(cache, OCR, ModelType.DETECTION, ModelTask.OCR, minScore=0.5)
    rec = model(cache, OCR, ModelType.RECOGNITION, ModelTask.OCR, minScore=0.8)
    assert isinstance(det, TextDetector)
    assert isinstance(rec, TextRecognizer)
    image = Image.open(io.BytesIO(jpeg()))
    texts = det.predict(image, minScore=0.5, maxResolution=736)
    assert texts["boxes"].shape[0] == 0
    assert rec.predict(image, texts)["text"] == []
    # the recogniser itself (through RapidOCR's CTC decoder and the model's character metadata)
    box = np.array([[[10, 10], [330, 10], [330, 58], [10, 58]]], dtype=np.float32)
    out = rec.predict(image, {"boxes": box, "scores": np.array([0.9], dtype=np.float32)}, minScore=0.0)
    assert len(out["text"]) == 1
    assert set(out["text"][0]) <= set(make_models.OCR_CHARACTERS + " ")
    assert out["box"].shape == (8,)
    assert out["textScore"].shape == (1,)


# --- the real service: python -m immich_ml (gunicorn + uvicorn), as the image runs it --------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def predict(base, entries, image=None, text=None):
    boundary = uuid.uuid4().hex
    parts = [("entries", json.dumps(entries).encode(), None)]
    if image is not None:
        parts.append(("image", image, "photo.jpg"))
    if text is not None:
        parts.append(("text", text.encode(), None))
    body = b""
    for name, value, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(
        base + "/predict",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def service(cache, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("ml-log") / "immich_ml.log"
    env = dict(os.environ)
    env.update(
        {
            # immich_ml/__main__.py starts "python -m gunicorn": the same interpreter must come first
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "IMMICH_HOST": "127.0.0.1",
            "IMMICH_PORT": str(port),
            "MACHINE_LEARNING_CACHE_FOLDER": str(cache),
            "MACHINE_LEARNING_REQUEST_THREADS": "1",
            # load every model at start-up, as a preloading deployment does
            "MACHINE_LEARNING_PRELOAD__CLIP__TEXTUAL": CLIP,
            "MACHINE_LEARNING_PRELOAD__CLIP__VISUAL": CLIP,
            "MACHINE_LEARNING_PRELOAD__FACIAL_RECOGNITION__DETECTION": FACE,
            "MACHINE_LEARNING_PRELOAD__FACIAL_RECOGNITION__RECOGNITION": FACE,
            "MACHINE_LEARNING_PRELOAD__OCR__DETECTION": OCR,
            "MACHINE_LEARNING_PRELOAD__OCR__RECOGNITION": OCR,
            # any download attempt fails at once instead of waiting on the network
            "HF_HUB_OFFLINE": "1",
            "NO_COLOR": "1",
        }
    )
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "immich_ml"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/ping", timeout=2) as resp:
                    if resp.read() == b"pong":
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"immich_ml did not answer /ping:\n{log.read_text(errors='replace')}")
            time.sleep(0.5)
        yield base, log
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def test_service_predict(service):
    """The requests the Immich server sends (server/src/repositories/machine-learning.repository.ts)."""
    base, log = service
    photo = jpeg(1024, 768, seed=7)

    res = predict(base, {"clip": {"textual": {"modelName": CLIP, "options": {"language": "en"}}}}, text="a dog")
    assert len(orjson.loads(res["clip"])) == 512

    res = predict(base, {"clip": {"visual": {"modelName": CLIP}}}, image=photo)
    assert len(orjson.loads(res["clip"])) == 512
    assert (res["imageWidth"], res["imageHeight"]) == (1024, 768)

    res = predict(
        base,
        {
            "facial-recognition": {
                "detection": {"modelName": FACE, "options": {"minScore": 0.7}},
                "recognition": {"modelName": FACE},
            }
        },
        image=photo,
    )
    faces = res["facial-recognition"]
    assert len(faces) == 1
    assert faces[0]["score"] > 0.7
    assert set(faces[0]["boundingBox"]) == {"x1", "y1", "x2", "y2"}
    assert len(orjson.loads(faces[0]["embedding"])) == 512

    res = predict(
        base,
        {
            "ocr": {
                "detection": {"modelName": OCR, "options": {"minScore": 0.5, "maxResolution": 736}},
                "recognition": {"modelName": OCR, "options": {"minScore": 0.8}},
            }
        },
        image=photo,
    )
    assert res["ocr"] == {"box": [], "boxScore": [], "text": [], "textScore": []}

    text = log.read_text(errors="replace")
    assert "Downloading" not in text, text
    assert "Traceback" not in text, text
    for kind in ("textual", "visual", "detection", "recognition"):
        assert f"Loading {kind} model" in text, text
