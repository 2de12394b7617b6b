"""Hostile inputs made on the spot, shared by the tests and tools/audit.py: models that lie or never finish,
names that hide or forge, files that are not what they seem. Needs the `onnx` package (the trainer's)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT = 64
META = {"embedding_size": "32", "input_size": str(INPUT), "mean": "[0.5, 0.5, 0.5]", "std": "[0.5, 0.5, 0.5]"}

# Names that must be refused (each hides a character or forges output) and pairs that must be one person.
REFUSED_NAMES = {
    "zero-width space": "Obama\u200b",
    "right-to-left override": "\u202eamabO",
    "escape sequence": "Obama\x1b[31m",
    "newline forging a line": "Eve\nAlice                    9 faces",
    "variation selector": "Obama\ufe0f",
    "line separator": "Obama\u2028Biden",
    "private use": "Obama\ue000",
    "101 characters": "x" * 101,
    "blank": " \u3000 ",
}
SAME_PERSON = [("Jos\u00e9", "Jose\u0301"), ("\u00c9lodie", "\u00e9lodie"), ("Obama", "OBAMA"),
               ("Stra\u00dfe", "STRASSE"), ("Ana  Lima", "Ana Lima")]


def _save(nodes, initializers, path: Path, threshold: str) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, path.stem,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, INPUT, INPUT])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 32])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {**META, "threshold": threshold}.items():
        model.metadata_props.add(key="faceid." + key, value=value)
    onnx.save(model, str(path))
    return path


def constant_model(path: Path) -> Path:
    """The planted model of issue 19: every face gives the same embedding, threshold 1000 (everyone is one person)."""
    from onnx import helper, numpy_helper

    weights = numpy_helper.from_array(np.zeros((3 * INPUT * INPUT, 32), np.float32), "w")
    bias = numpy_helper.from_array(np.ones(32, np.float32), "b")
    return _save([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w", "b"], ["y"])],
                 [weights, bias], path, "1000")


def loop_model(path: Path) -> Path:
    """A Loop with no trip count whose condition never turns false: ONNX Runtime would run it forever."""
    from onnx import TensorProto, helper, numpy_helper

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w", "b"], ["g"]),
             helper.make_node("Constant", [], ["t"], value=numpy_helper.from_array(np.array(True))),
             helper.make_node("Loop", ["", "t", "g"], ["y"], body=body)]
    return _save(nodes, [numpy_helper.from_array(rng.random((3 * INPUT * INPUT, 32), np.float32), "w"),
                         numpy_helper.from_array(np.zeros(32, np.float32), "b")], path, "0.5")


def custom_domain_model(path: Path) -> Path:
    """A node from a domain faceid does not know (a custom op library would be needed to run it)."""
    from onnx import helper

    return _save([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Embed", ["f"], ["y"], domain="evil.ops")],
                 [], path, "0.5")


def random_model(path: Path) -> Path:
    """Allowed operators, a trained-looking threshold, random weights: runs fine, knows nothing about faces."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(1)
    weights = numpy_helper.from_array(rng.standard_normal((3 * INPUT * INPUT, 32)).astype(np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(32, np.float32), "b")
    return _save([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w", "b"], ["y"])],
                 [weights, bias], path, "0.3")


def heic_of(rgb: np.ndarray, path: Path, orientation: int = 1) -> Path:
    """`rgb` saved as HEIC by pillow-heif; orientation 6 stores the pixels turned a quarter the other way, so the
    photo shows upright only when the orientation is applied."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    pixels = np.ascontiguousarray(np.rot90(rgb, 1)) if orientation == 6 else rgb
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, format="HEIF" if path.suffix.lower() != ".avif" else "AVIF",
                                 exif=exif.tobytes(), quality=85)
    return path
