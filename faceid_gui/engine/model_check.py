"""A model file is code faceid runs on people's faces: check it before trusting it.

Two checks, cheapest first. `check_operators` reads the graph (with protobuf, through a minimal slice of the ONNX
schema, so the app needs no `onnx` package) and refuses any operator an embedding network has no use for: no
control flow (Loop, Scan, If), which is how a model could run forever, no custom domains or local functions.
`check_behaviour` then runs the model, time-bounded, on the shipped sample faces (the self-test's pairs) and
refuses it unless they come out as its own metadata says: the same person not "different", the two people
"different". A model with a constant output, or one whose threshold lets everyone in, fails there.
"""
from __future__ import annotations

import _thread
import functools
from pathlib import Path

import cv2
import numpy as np

from .errors import ModelError
from .imageio import load_image

# Every operator in the models faceid ships and the trainer exports (DenseNet presets "small" and "densenet121",
# at 64 to 112 px, opset 17: listed with onnx from their graphs; Slice is a mirror-averaged export's flip),
# MTCNN's, and the few a re-export of the same kind of network may use instead (MatMul for Gemm, ReduceSumSquare +
# Sqrt for ReduceL2, PRelu, Reshape...).
ALLOWED_OPERATORS = frozenset({
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout",
    "Expand", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Identity", "LeakyRelu",
    "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Pad", "Pow", "PRelu", "Reciprocal", "ReduceL2", "ReduceMax",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax",
    "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
})
MAX_MODEL_BYTES = 512 * 2**20  # DenseNet-121 is 28 MB; anything this large is not an embedding network of ours
CHECK_SECONDS = 10.0  # the behaviour check's inference must end within this (it takes milliseconds)
SAMPLES = ("astronaut.jpg", "camera.jpg")  # two different people, shipped in assets/samples


def deadline(seconds: float, action):
    """Call `action` after `seconds` from another thread unless the returned function is called first. A bare
    `_thread`: the check also runs on Qt's pool threads, where `threading` would leave a dummy Thread behind."""
    gate = _thread.allocate_lock()
    gate.acquire()

    def wait() -> None:
        if not gate.acquire(timeout=seconds):
            action()

    _thread.start_new_thread(wait, ())
    return gate.release


@functools.cache
def _onnx_subset():
    """Message classes for the few ONNX fields read here (field numbers from onnx.proto); protobuf skips the rest."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    T = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="faceid_onnx_subset.proto", package="faceid_onnx_subset")
    layout = {
        "Node": [("op_type", 4, T.TYPE_STRING, False), ("attribute", 5, "Attribute", True),
                 ("domain", 7, T.TYPE_STRING, False)],
        "Attribute": [("g", 6, "Graph", False), ("graphs", 11, "Graph", True)],
        "Graph": [("node", 1, "Node", True)],
        "Function": [("node", 7, "Node", True)],
        "Model": [("graph", 7, "Graph", False), ("functions", 25, "Function", True)],
    }
    for name, fields in layout.items():
        message = file.message_type.add(name=name)
        for field, number, kind, repeated in fields:
            entry = message.field.add(name=field, number=number,
                                      label=T.LABEL_REPEATED if repeated else T.LABEL_OPTIONAL)
            if isinstance(kind, str):
                entry.type, entry.type_name = T.TYPE_MESSAGE, f".faceid_onnx_subset.{kind}"
            else:
                entry.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("faceid_onnx_subset.Model"))


def operators(path: Path) -> tuple[set[str], list[str]]:
    """(operator names, problems) of the model's graph; problems name what no embedding network has."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelError(f"{path.name}: {size / 2**20:.0f} MB is too large for an embedding model "
                         f"(limit {MAX_MODEL_BYTES // 2**20} MB)")
    model = _onnx_subset()()
    try:
        model.ParseFromString(path.read_bytes())
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends: not an ONNX file
        raise ModelError(f"cannot load model {path.name}: not a valid ONNX model") from None
    problems = ["local functions"] if model.functions else []
    found = set()
    for node in model.graph.node:
        found.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}")
        if any(a.HasField("g") or len(a.graphs) for a in node.attribute):
            problems.append(f"a subgraph in {node.op_type}")
    unknown = sorted(found - ALLOWED_OPERATORS)
    if unknown:
        problems.insert(0, f"operators {', '.join(unknown[:6])}" + (" ..." if len(unknown) > 6 else ""))
    return found, problems


def check_operators(path: Path) -> None:
    _, problems = operators(path)
    if problems:
        raise ModelError(f"{Path(path).name} uses {'; '.join(problems)}, which an embedding network does not "
                         "need; refused")


def sample_variants(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The same photo as a camera or an editor might give it: what a model must still call the same person."""
    return {
        "brighter": np.clip(rgb.astype(int) + 35, 0, 255).astype(np.uint8),
        "darker": (rgb * 0.7).astype(np.uint8),
        "half size": cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        "double size": cv2.resize(rgb, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR),
    }


@functools.cache
def _sample_faces(samples_dir: Path, detector) -> tuple:
    """(image, face) for the reference photo, its variants, then the other person; detected once per process."""
    reference, other = (load_image(samples_dir / name) for name in SAMPLES)
    found = []
    for image in (reference, *sample_variants(reference).values(), other):
        faces = detector.detect(image)
        if faces:
            found.append((image, faces[0]))
    if len(found) != 6:
        raise ModelError("the shipped sample photos are missing or unreadable: reinstall faceid")
    return tuple(found)


def check_behaviour(embedder, detector, samples_dir: Path, align) -> None:
    """Refuse (ModelError) a model whose own metadata mislabels the shipped sample pairs, or that takes longer
    than CHECK_SECONDS on them (ONNX Runtime's terminate flag stops the run; the allow-list already ruled out
    loops)."""
    import onnxruntime as ort

    info = embedder.info
    faces = _sample_faces(Path(samples_dir), detector)
    crops = np.stack([align(image, face.landmarks, info.input_size) for image, face in faces])
    options = ort.RunOptions()
    cancel = deadline(CHECK_SECONDS, lambda: setattr(options, "terminate", True))
    try:
        embeddings = embedder.embed(crops, run_options=options)
    except ModelError:
        raise
    except Exception:  # noqa: BLE001 - ORT's own failure types; the terminate flag raises one of them
        if options.terminate:
            raise ModelError(f"{info.path.name} did not finish on one face in {CHECK_SECONDS:.0f} s; refused") from None
        raise ModelError(f"{info.path.name} fails on a face crop; refused") from None
    finally:
        cancel()
    from .matching import distance

    same = [distance(embeddings[0], e) for e in embeddings[1:-1]]
    other = distance(embeddings[0], embeddings[-1])
    if info.trained:
        band = info.uncertain_band(info.threshold)
        # The same person within the band's "different" edge, the two people beyond it.
        ok = max(same) < band.different_from <= other
        rule = (f"the same person at up to {max(same):.3f}, two people at {other:.3f}; "
                f"its metadata says different from {band.different_from:.3f}")
    else:  # an untrained model's threshold means nothing, but it must still tell the two people apart
        ok = max(same) < other
        rule = f"the same person at up to {max(same):.3f}, two people at {other:.3f}"
    if not ok:
        raise ModelError(f"{info.path.name} fails the sample-face check ({rule}); refused")
