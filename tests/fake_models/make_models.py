"""Write a model cache for the real Immich ML service: tiny ONNX models with random weights.

    python3 make_models.py OUTPUT_DIR [--clip NAME] [--clip-dim N] [--face NAME] [--ocr NAME]

OUTPUT_DIR gets the tree that ``immich_ml`` (v3.1.0) looks for under MACHINE_LEARNING_CACHE_FOLDER
(``<cache>/<task>/<model name>/<model type>/model.onnx``, see immich_ml/models/base.py), so the
service finds every model "already downloaded" and never calls Hugging Face:

    clip/ViT-B-32__openai/config.json
    clip/ViT-B-32__openai/textual/{model.onnx,tokenizer.json,tokenizer_config.json,special_tokens_map.json}
    clip/ViT-B-32__openai/visual/{model.onnx,preprocess_cfg.json}
    facial-recognition/buffalo_l/{detection,recognition}/model.onnx
    ocr/PP-OCRv5_mobile/{detection,recognition}/model.onnx

The file layout, input/output names, shapes and dtypes are the real ones; the weights are random
(seeded: the same bytes on every run). The models compute something from their input (different
photos give different embeddings), but nothing meaningful. The face detector is built to find
exactly one face in every image (a fixed spot near the top left, score about 0.98), so the face
pipeline (detection -> alignment -> recognition -> the server's clustering) runs for real; the text
detector finds no text, so OCR completes with an empty result.

Needs numpy, onnx and tokenizers (all in the ML service's own venv). Python >= 3.8.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime the ML service may ship (>= 1.13)

# Defaults of the Immich v3.1.0 server (server/src/config.ts) and its CLIP dimension table
# (server/src/constants.ts: 'ViT-B-32__openai': { dimSize: 512 }; the DB column is vector(512)).
DEFAULT_CLIP = "ViT-B-32__openai"
DEFAULT_CLIP_DIM = 512
DEFAULT_FACE = "buffalo_l"
DEFAULT_OCR = "PP-OCRv5_mobile"
FACE_EMBEDDING_DIM = 512  # face_search.embedding is vector(512)

CONTEXT_LENGTH = 77
SOT, EOT = "<|startoftext|>", "<|endoftext|>"

# ArcFace 112x112 alignment template (insightface.utils.face_align.arcface_dst): where the five
# landmarks (eyes, nose, mouth corners) sit in an aligned face crop.
ARCFACE_DST = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
# The one face the fake detector reports: at the stride-32 grid cell (FACE_CELL_X, FACE_CELL_Y) of
# the detector's 640x640 input, i.e. centred on (128, 96) in the resized image, 128 px square.
FACE_CELL_X, FACE_CELL_Y = 4, 3
FACE_HALF_SIZE = 64.0
# Characters the fake OCR recogniser knows (the real PP-OCRv5 model carries ~18k in its metadata).
OCR_CHARACTERS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _init(rng: np.random.Generator, name: str, shape, scale: float) -> TensorProto:
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def _const(name: str, value) -> TensorProto:
    arr = np.asarray(value)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return numpy_helper.from_array(arr, name)


def _save(graph: onnx.GraphProto, path: Path, metadata: dict[str, str] | None = None) -> None:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="homelab.immich tests/fake_models",
        ir_version=IR_VERSION,
    )
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


# --- CLIP ------------------------------------------------------------------------------------------


def make_clip_tokenizer(textual_dir: Path) -> int:
    """A byte-level BPE tokenizer shaped like CLIP's (lower-case, <|startoftext|> ... <|endoftext|>).

    Built in memory with the `tokenizers` library: the 256 byte symbols, no merges, two special
    tokens. Returns the vocabulary size.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    vocab[SOT] = len(vocab)
    vocab[EOT] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{SOT} $A {EOT}",
        pair=f"{SOT} $A {EOT} $B:1 {EOT}:1",
        special_tokens=[(SOT, vocab[SOT]), (EOT, vocab[EOT])],
    )
    tokenizer.add_special_tokens([SOT, EOT])
    textual_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(textual_dir / "tokenizer.json"))
    # immich_ml reads only "pad_token" (OpenClipTextualEncoder._load_tokenizer); the rest is what the
    # real file holds for the openai CLIP models.
    _write_json(
        textual_dir / "tokenizer_config.json",
        {
            "add_prefix_space": False,
            "bos_token": SOT,
            "clean_up_tokenization_spaces": True,
            "do_lower_case": True,
            "eos_token": EOT,
            "model_max_length": CONTEXT_LENGTH,
            "pad_token": EOT,
            "tokenizer_class": "CLIPTokenizer",
            "unk_token": EOT,
        },
    )
    _write_json(
        textual_dir / "special_tokens_map.json",
        {"bos_token": SOT, "eos_token": EOT, "pad_token": EOT, "unk_token": EOT},
    )
    return len(vocab)


def make_clip_textual(path: Path, vocab_size: int, embed_dim: int, seed: int) -> None:
    """text int32 [1,77] -> embedding float32 [1,embed_dim]: token embeddings, mean, projection."""
    rng = np.random.default_rng(seed)
    width = 64
    nodes = [
        helper.make_node("Gather", ["token_embedding", "text"], ["tokens"], name="token_embedding_lookup", axis=0),
        helper.make_node("ReduceMean", ["tokens"], ["pooled"], name="pool", axes=[1], keepdims=0),
        helper.make_node("MatMul", ["pooled", "text_projection"], ["embedding"], name="projection"),
    ]
    graph = helper.make_graph(
        nodes,
        "clip_textual",
        [helper.make_tensor_value_info("text", TensorProto.INT32, [1, CONTEXT_LENGTH])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, embed_dim])],
        [
            _init(rng, "token_embedding", (vocab_size, width), 1.0),
            _init(rng, "text_projection", (width, embed_dim), 1.0 / np.sqrt(width)),
        ],
    )
    _save(graph, path)


SLOW_ROWS, SLOW_WIDTH = 1024, 512  # one unit of --visual-work: a [1024,512] x [512,512] MatMul (268 M multiply-adds)


def make_clip_visual(path: Path, embed_dim: int, seed: int, size: int = 224, work: int = 0) -> None:
    """image float32 [1,3,224,224] -> embedding float32 [1,embed_dim]: 32x32 patches, projection.

    work > 0 makes a slow model (a worker that takes its time, for tests that must catch a batch in
    flight): a chain of `work` MatMul+Tanh units that depends on the image, added to the embedding
    times zero, so the output is the same as without it and only the time differs.
    """
    rng = np.random.default_rng(seed)
    patch, channels = 32, 4
    features = channels * (size // patch) ** 2
    nodes = [
        helper.make_node(
            "Conv",
            ["image", "patch_w", "patch_b"],
            ["patches"],
            name="patch_embed",
            kernel_shape=[patch, patch],
            strides=[patch, patch],
        ),
        helper.make_node("Relu", ["patches"], ["patches_act"], name="act"),
        helper.make_node("Flatten", ["patches_act"], ["flat"], name="flatten", axis=1),
    ]
    inits = [
        _init(rng, "patch_w", (channels, 3, patch, patch), 1.0 / np.sqrt(3 * patch * patch)),
        _init(rng, "patch_b", (channels,), 0.1),
        _init(rng, "visual_projection", (features, embed_dim), 1.0 / np.sqrt(features)),
    ]
    if work > 0:
        nodes += [
            helper.make_node("ReduceMean", ["flat"], ["work_seed"], name="work_seed", keepdims=1),
            helper.make_node("Mul", ["work_start", "work_seed"], ["work_0"], name="work_start"),
        ]
        for i in range(work):
            nodes += [
                helper.make_node("MatMul", [f"work_{i}", "work_w"], [f"work_mm_{i}"], name=f"work_mm_{i}"),
                helper.make_node("Tanh", [f"work_mm_{i}"], [f"work_{i + 1}"], name=f"work_tanh_{i}"),
            ]
        nodes += [
            helper.make_node("ReduceMean", [f"work_{work}"], ["work_mean"], name="work_mean", keepdims=0),
            helper.make_node("Mul", ["work_mean", "work_zero"], ["work_nothing"], name="work_nothing"),
            helper.make_node("MatMul", ["flat", "visual_projection"], ["projected"], name="projection"),
            helper.make_node("Add", ["projected", "work_nothing"], ["embedding"], name="embedding"),
        ]
        inits += [
            _init(rng, "work_start", (SLOW_ROWS, SLOW_WIDTH), 1.0),
            _init(rng, "work_w", (SLOW_WIDTH, SLOW_WIDTH), 1.0 / np.sqrt(SLOW_WIDTH)),
            _const("work_zero", np.float32(0.0)),
        ]
    else:
        nodes.append(helper.make_node("MatMul", ["flat", "visual_projection"], ["embedding"], name="projection"))
    graph = helper.make_graph(
        nodes,
        "clip_visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, embed_dim])],
        inits,
    )
    _save(graph, path)


def make_clip(root: Path, name: str, embed_dim: int, visual_work: int = 0) -> None:
    model_dir = root / "clip" / name
    vocab_size = make_clip_tokenizer(model_dir / "textual")
    make_clip_textual(model_dir / "textual" / "model.onnx", vocab_size, embed_dim, seed=1)
    make_clip_visual(model_dir / "visual" / "model.onnx", embed_dim, seed=2, work=visual_work)
    _write_json(
        model_dir / "config.json",
        {
            "embed_dim": embed_dim,
            "vision_cfg": {"image_size": 224, "layers": 1, "width": 4, "patch_size": 32},
            "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": vocab_size, "width": 64, "layers": 1},
        },
    )
    # The real ViT-B-32__openai preprocess_cfg.json (OpenAI's mean/std, bicubic, 224).
    _write_json(
        model_dir / "visual" / "preprocess_cfg.json",
        {
            "size": [224, 224],
            "mode": "RGB",
            "mean": [0.48145466, 0.4578275, 0.40821073],
            "std": [0.26862954, 0.26130258, 0.27577711],
            "interpolation": "bicubic",
            "resize_mode": "shortest",
            "fill_color": 0,
        },
    )


# --- facial recognition (insightface) --------------------------------------------------------------


def make_face_detection(path: Path, seed: int) -> None:
    """SCRFD-style detector as insightface's RetinaFace class reads it (det_10g of buffalo_l).

    input.1 float32 [1,3,H,W] (H, W dynamic; immich_ml feeds 640x640) -> nine outputs, in this order:
    scores for strides 8/16/32 [H/s*W/s*2, 1], box distances [.., 4], landmark offsets [.., 10]
    (two anchors per grid cell, in units of the stride; RetinaFace multiplies by it). Scores are high
    (~0.98) at one stride-32 cell only, so every image yields exactly one face after NMS.
    """
    rng = np.random.default_rng(seed)
    anchors = 2
    # landmark offsets from the anchor centre, in stride-32 units, for a FACE_HALF_SIZE face
    kps_offsets = ((ARCFACE_DST - 56.0) * (FACE_HALF_SIZE / 56.0) / 32.0).reshape(-1)
    inits = []
    nodes = []
    outputs = {"score": [], "bbox": [], "kps": []}
    for stride in (8, 16, 32):
        fan_in = 3 * stride * stride
        for kind, per_anchor in (("score", 1), ("bbox", 4), ("kps", 10)):
            channels = anchors * per_anchor
            weight = f"{kind}{stride}_w"
            bias = f"{kind}{stride}_b"
            inits.append(_init(rng, weight, (channels, 3, stride, stride), 0.02 / np.sqrt(fan_in)))
            if kind == "score":
                bias_value = np.full(channels, 0.0 if stride == 32 else -12.0, dtype=np.float32)
            elif kind == "bbox":
                bias_value = np.full(channels, FACE_HALF_SIZE / stride, dtype=np.float32)
            else:
                bias_value = np.tile(kps_offsets * 32.0 / stride, anchors).astype(np.float32)
            inits.append(_const(bias, bias_value))
            raw = f"{kind}{stride}_raw"
            nodes.append(
                helper.make_node(
                    "Conv",
                    ["input.1", weight, bias],
                    [raw],
                    name=f"conv_{kind}{stride}",
                    kernel_shape=[stride, stride],
                    strides=[stride, stride],
                )
            )
            if kind == "score" and stride == 32:
                # position logit: 4 at (FACE_CELL_X, FACE_CELL_Y), <= -8 everywhere else
                nodes += [
                    helper.make_node("Shape", [raw], ["s32_shape"], name="pos_shape"),
                    helper.make_node(
                        "ConstantOfShape",
                        ["s32_shape"],
                        ["s32_ones"],
                        name="pos_ones",
                        value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]),
                    ),
                    helper.make_node("CumSum", ["s32_ones", "axis_w"], ["s32_x"], name="pos_x"),
                    helper.make_node("CumSum", ["s32_ones", "axis_h"], ["s32_y"], name="pos_y"),
                    helper.make_node("Sub", ["s32_x", "face_x"], ["s32_dx"], name="pos_dx"),
                    helper.make_node("Sub", ["s32_y", "face_y"], ["s32_dy"], name="pos_dy"),
                    helper.make_node("Abs", ["s32_dx"], ["s32_adx"], name="pos_adx"),
                    helper.make_node("Abs", ["s32_dy"], ["s32_ady"], name="pos_ady"),
                    helper.make_node("Add", ["s32_adx", "s32_ady"], ["s32_dist"], name="pos_dist"),
                    helper.make_node("Mul", ["s32_dist", "pos_slope"], ["s32_pen"], name="pos_penalty"),
                    helper.make_node("Sub", ["pos_peak", "s32_pen"], ["s32_pos"], name="pos_logit"),
                    helper.make_node("Add", [raw, "s32_pos"], ["score32_logit"], name="score32_add"),
                ]
                inits += [
                    _const("axis_w", np.array(3, dtype=np.int64)),
                    _const("axis_h", np.array(2, dtype=np.int64)),
                    _const("face_x", np.float32(FACE_CELL_X + 1)),
                    _const("face_y", np.float32(FACE_CELL_Y + 1)),
                    _const("pos_slope", np.float32(12.0)),
                    _const("pos_peak", np.float32(4.0)),
                ]
                raw = "score32_logit"
            if kind == "score":
                nodes.append(helper.make_node("Sigmoid", [raw], [f"{kind}{stride}_act"], name=f"sigmoid{stride}"))
                raw = f"{kind}{stride}_act"
            nodes += [
                helper.make_node(
                    "Transpose", [raw], [f"{kind}{stride}_nhwc"], name=f"nhwc_{kind}{stride}", perm=[0, 2, 3, 1]
                ),
                helper.make_node(
                    "Reshape",
                    [f"{kind}{stride}_nhwc", f"shape_{kind}"],
                    [f"{kind}_{stride}"],
                    name=f"flat_{kind}{stride}",
                ),
            ]
            outputs[kind].append(
                helper.make_tensor_value_info(f"{kind}_{stride}", TensorProto.FLOAT, [f"anchors_{stride}", per_anchor])
            )
    inits += [
        _const(f"shape_{k}", np.array([-1, n], dtype=np.int64)) for k, n in (("score", 1), ("bbox", 4), ("kps", 10))
    ]
    graph = helper.make_graph(
        nodes,
        "scrfd_detection",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])],
        outputs["score"] + outputs["bbox"] + outputs["kps"],
        inits,
    )
    _save(graph, path)


def make_face_recognition(path: Path, seed: int) -> None:
    """ArcFace: input.1 float32 [batch,3,112,112] -> embedding float32 [batch,512].

    The batch axis is already named "batch", so immich_ml never rewrites the file
    (FaceRecognizer._add_batch_axis). No Sub/Mul node among the first eight, so insightface's
    ArcFaceONNX normalises the input itself (mean 127.5, std 127.5) as for buffalo_l.
    """
    rng = np.random.default_rng(seed)
    patch, channels = 16, 4
    features = channels * (112 // patch) ** 2
    nodes = [
        helper.make_node(
            "Conv",
            ["input.1", "patch_w", "patch_b"],
            ["patches"],
            name="conv_patches",
            kernel_shape=[patch, patch],
            strides=[patch, patch],
        ),
        helper.make_node("Relu", ["patches"], ["patches_act"], name="act"),
        helper.make_node("Flatten", ["patches_act"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "fc_w"], ["embedding"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "arcface_recognition",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["batch", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", FACE_EMBEDDING_DIM])],
        [
            _init(rng, "patch_w", (channels, 3, patch, patch), 1.0 / np.sqrt(3 * patch * patch)),
            _init(rng, "patch_b", (channels,), 0.1),
            _init(rng, "fc_w", (features, FACE_EMBEDDING_DIM), 1.0 / np.sqrt(features)),
        ],
    )
    _save(graph, path)


def make_face(root: Path, name: str) -> None:
    model_dir = root / "facial-recognition" / name
    make_face_detection(model_dir / "detection" / "model.onnx", seed=3)
    make_face_recognition(model_dir / "recognition" / "model.onnx", seed=4)


# --- OCR (PP-OCRv5 as RapidOCR ships it) -----------------------------------------------------------


def make_ocr_detection(path: Path, seed: int) -> None:
    """DB text detector: x float32 [N,3,H,W] -> fetch_name_0 float32 [N,1,H,W] (text probability).

    The probability stays below 0.001 everywhere, so no text is ever found.
    """
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node(
            "Conv", ["x", "det_w", "det_b"], ["logit"], name="conv_det", kernel_shape=[3, 3], pads=[1] * 4
        ),
        helper.make_node("Sigmoid", ["logit"], ["fetch_name_0"], name="sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "ppocr_det",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("fetch_name_0", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
        [_init(rng, "det_w", (1, 3, 3, 3), 0.05), _const("det_b", np.array([-10.0], dtype=np.float32))],
    )
    _save(graph, path)


def make_ocr_recognition(path: Path, seed: int) -> None:
    """CTC text recogniser: x float32 [N,3,48,W] -> fetch_name_0 float32 [N,W/8,classes] (softmax).

    The character list is in the model's metadata under "character" (one per line), where RapidOCR
    reads it; classes = blank + characters + space.
    """
    rng = np.random.default_rng(seed)
    classes = len(OCR_CHARACTERS) + 2
    nodes = [
        helper.make_node(
            "Conv", ["x", "rec_w", "rec_b"], ["cols"], name="conv_cols", kernel_shape=[48, 8], strides=[48, 8]
        ),
        helper.make_node("Squeeze", ["cols", "squeeze_axes"], ["seq"], name="squeeze_h"),
        helper.make_node("Transpose", ["seq"], ["seq_t"], name="time_major", perm=[0, 2, 1]),
        helper.make_node("Softmax", ["seq_t"], ["fetch_name_0"], name="softmax", axis=2),
    ]
    graph = helper.make_graph(
        nodes,
        "ppocr_rec",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 48, "width"])],
        [helper.make_tensor_value_info("fetch_name_0", TensorProto.FLOAT, ["batch", "steps", classes])],
        [
            _init(rng, "rec_w", (classes, 3, 48, 8), 1.0 / np.sqrt(3 * 48 * 8)),
            _init(rng, "rec_b", (classes,), 0.1),
            _const("squeeze_axes", np.array([2], dtype=np.int64)),
        ],
    )
    _save(graph, path, metadata={"character": "\n".join(OCR_CHARACTERS)})


def make_ocr(root: Path, name: str) -> None:
    # TextDetector uses the part after "__" (LANG__PP-OCRv5_mobile -> PP-OCRv5_mobile); TextRecognizer
    # uses the whole name.
    make_ocr_detection(root / "ocr" / name.split("__")[-1] / "detection" / "model.onnx", seed=5)
    make_ocr_recognition(root / "ocr" / name / "recognition" / "model.onnx", seed=6)


def make_all(
    root: Path,
    clip: str = DEFAULT_CLIP,
    clip_dim: int = DEFAULT_CLIP_DIM,
    face: str = DEFAULT_FACE,
    ocr: str = DEFAULT_OCR,
    visual_work: int = 0,
) -> list[Path]:
    """Write the whole cache tree under root; returns the files written (sorted)."""
    root = Path(root)
    make_clip(root, clip, clip_dim, visual_work)
    make_face(root, face)
    make_ocr(root, ocr)
    return sorted(p for p in root.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("output_dir", type=Path, help="the ML model cache folder (MACHINE_LEARNING_CACHE_FOLDER)")
    parser.add_argument("--clip", default=DEFAULT_CLIP, help="CLIP model name (default: %(default)s)")
    parser.add_argument("--clip-dim", type=int, default=DEFAULT_CLIP_DIM, help="CLIP embedding size (default: 512)")
    parser.add_argument("--face", default=DEFAULT_FACE, help="facial recognition model name (default: %(default)s)")
    parser.add_argument("--ocr", default=DEFAULT_OCR, help="OCR model name (default: %(default)s)")
    parser.add_argument(
        "--visual-work",
        type=int,
        default=0,
        help="make the CLIP visual model slow: N MatMul units of 268 M multiply-adds each, same output (default: 0)",
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    files = make_all(args.output_dir, args.clip, args.clip_dim, args.face, args.ocr, args.visual_work)
    total = 0
    for f in files:
        size = f.stat().st_size
        total += size
        print(f"{size:>9}  {f.relative_to(args.output_dir)}")
    print(f"{total:>9}  total, {len(files)} files in {time.monotonic() - start:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
