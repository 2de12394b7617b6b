"""faceid: private desktop face verification."""
import os

# ONNX Runtime 1.31 writes a device id and queued telemetry events under ~/.cache/Microsoft as soon as it is
# imported, and reads this variable only then: it must be set before any submodule imports onnxruntime.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
