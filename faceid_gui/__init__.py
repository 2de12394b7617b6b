"""faceid: private desktop face verification."""
import os

# ONNX Runtime 1.31 writes a device id and queued telemetry events under ~/.cache/Microsoft as soon as it is
# imported, and reads this variable only then: it must be set before any submodule imports onnxruntime.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

# Decoded-image limit. OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS only when cv2 is first imported, so it is set here,
# before any faceid module imports cv2; engine/imageio.py refuses larger images from their headers first.
MAX_IMAGE_PIXELS = 80_000_000  # a 10000x8000 photo; decompression bombs are far larger
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))

# numpy's OpenBLAS starts one spinning thread per core: on 2 busy cores the 1:N search against 100,000 faces (one
# matrix-vector product) took 8 CPU-ms instead of 0.9, for no gain in wall time. Read only when numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
