"""ONNX Runtime sessions: CUDA only when it really works, quietly CPU otherwise."""
from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from .errors import ModelError

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# The one fallback worth saying unasked: the machine has an NVIDIA GPU, yet faceid runs on the CPU.
CUDA_LIBRARIES_MISSING = "CUDA/cuDNN libraries for onnxruntime-gpu are missing (see README)"
_CUDA_ASKED = "the CUDA device was asked for (--provider cuda or FACEID_PROVIDER)"
_SILENT = 4  # ORT's FATAL level: a failed CUDA probe must not spill onto stderr


@dataclass(frozen=True)
class ProviderStatus:
    name: str  # "CUDA" or "CPU"
    reason: str  # why this one (why not CUDA, when CPU)


def _cuda_driver_problem() -> str | None:
    """Cheap check before asking ORT for CUDA, which would log errors when it fails."""
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA provider"
    lib = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        cuda = ctypes.CDLL(lib)
    except OSError:
        return "no NVIDIA driver found"
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "no NVIDIA GPU found"
    return None


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.log_severity_level = _SILENT
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # One thread per session, no spinning: the models are small, ORT's default pool (one thread per core, spin-waiting
    # between runs) doubled the CPU time of a live frame on 2 cores for no gain, and four sessions each owning every
    # core fought each other. Measured in issue 14: detection 42 -> 20 CPU-ms per 640x480 frame.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


PROVIDERS = ("auto", "cpu", "cuda")


def resolve_provider(explicit: str | None, environ=os.environ) -> str:
    """The inference device, decided once at start-up: an explicit choice, else FACEID_PROVIDER, else "auto"."""
    choice = (explicit or environ.get("FACEID_PROVIDER") or "auto").lower()
    if choice not in PROVIDERS:
        raise ModelError(f"unknown inference device {choice!r} (FACEID_PROVIDER): use one of {', '.join(PROVIDERS)}")
    return choice


def create_session(path: Path, prefer: str = "auto") -> tuple[ort.InferenceSession, ProviderStatus]:
    """Open an ONNX model. prefer: "auto" (CUDA if it works), "cpu", or "cuda"; never read from the environment."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    reason = "CPU requested" if prefer == "cpu" else _cuda_driver_problem()
    if prefer == "cuda" and reason is not None:  # an explicit request that cannot be met is an error, not a fallback
        raise ModelError(f"{_CUDA_ASKED} and cannot be used: {reason}")
    if reason is None:
        previous = ort.get_default_logger_severity() if hasattr(ort, "get_default_logger_severity") else 2
        ort.set_default_logger_severity(_SILENT)
        try:
            session = ort.InferenceSession(str(path), _session_options(), providers=[CUDA, CPU])
        except Exception as exc:  # noqa: BLE001 - any ORT failure is reported as a model error below
            raise ModelError(f"cannot load model {path.name}: {exc}") from None
        finally:
            ort.set_default_logger_severity(previous)
        if session.get_providers()[0] == CUDA:
            return session, ProviderStatus("CUDA", "NVIDIA GPU in use")
        reason = CUDA_LIBRARIES_MISSING
        if prefer == "cuda":
            raise ModelError(f"{_CUDA_ASKED} and cannot be used: {reason}")
    try:
        session = ort.InferenceSession(str(path), _session_options(), providers=[CPU])
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"cannot load model {path.name}: not a valid ONNX model ({str(exc).splitlines()[0][:200]})") from None
    return session, ProviderStatus("CPU", reason)
