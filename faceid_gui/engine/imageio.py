"""Image decoding with OpenCV: every failure becomes an ImageError with a plain message."""
from __future__ import annotations

import os
import struct
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .. import MAX_IMAGE_PIXELS
from . import phone_formats
from .errors import ImageError
from .image_headers import header_size, sniff

MAX_FILE_BYTES = 64 * 1024 * 1024
# File names a folder scan looks at: the formats decode_image reads (it still checks the content, not the name).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".dib", ".webp", ".tif", ".tiff",
                            ".pbm", ".pgm", ".ppm", ".pnm"})
# Refused from the header, before any pixel is decoded; OpenCV's own limit (OPENCV_IO_MAX_IMAGE_PIXELS, set in
# faceid_gui/__init__.py before cv2 loads) is only the backstop for a header this parser misreads.
MAX_PIXELS = MAX_IMAGE_PIXELS
# The scales decode_image decodes at (libjpeg's own, for the formats listed); every other format is decoded whole.
REDUCTIONS = (1, 2, 4, 8)
REDUCIBLE_KINDS = frozenset({"jpeg"})


def rescale_points(points: np.ndarray, scale: float) -> np.ndarray:
    """Pixel coordinates on an image as coordinates on a copy `scale` times its size (a 1/r decode: 1/r), pixel
    centres kept: pixel j of a 1/2 decode averages photo pixels 2j and 2j + 1, so it sits at photo x = 2j + 0.5, not
    2j. Mapping by scale alone moved a face aligned from a 1/4 decode by 1.5 photo pixels."""
    return (np.asarray(points) + 0.5) * scale - 0.5


cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
_stderr_lock = threading.Lock()


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an RGB uint8 array (H, W, 3), EXIF orientation applied."""
    return decode_image(read_image_file(path), Path(path).name)


def read_image_file(path: str | os.PathLike) -> bytes:
    """A file's bytes for decode_image, every failure (missing, unreadable, over the size limit) an ImageError."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(f"{path.name}: file not found") from None
    except OSError as exc:
        raise ImageError(f"{path.name}: cannot read ({exc.strerror})") from None
    if not path.is_file():
        raise ImageError(f"{path.name}: not a file")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{path.name}: too large ({size / 2**20:.0f} MB, limit {MAX_FILE_BYTES // 2**20} MB)")
    try:
        return path.read_bytes()  # works for non-ASCII paths, unlike cv2.imread on Windows
    except OSError as exc:
        raise ImageError(f"{path.name}: cannot read ({exc.strerror})") from None


def decode_image(data: bytes, name: str = "image", reduce: int = 1) -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, BMP, WebP, TIFF, GIF, PNM; HEIC and AVIF in phone_formats) to RGB.

    reduce (2, 4 or 8): a JPEG is decoded at that fraction of its size by libjpeg itself, which skips most of the
    work (a 12 MP photo: 93 CPU-ms whole, 22 at a quarter); other formats ignore it (REDUCIBLE_KINDS).
    """
    if len(data) == 0:
        raise ImageError(f"{name}: empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{name}: too large ({len(data) / 2**20:.0f} MB)")
    kind = sniff(data)
    if kind is None:
        other = phone_formats.sniff(data)
        if other in ("heif", "avif"):
            return phone_formats.decode(data, other, name, MAX_PIXELS)
        if other:
            raise ImageError(f"{name}: unsupported format ({other}); export it as JPEG or PNG")
        raise ImageError(f"{name}: not an image (unknown format)")
    dims = header_size(data, kind)
    if dims is None:
        raise ImageError(f"{name}: damaged {kind.upper()} file (no image size in its header)")
    if dims[0] <= 0 or dims[1] <= 0:
        raise ImageError(f"{name}: damaged {kind.upper()} file (image size {dims[0]}x{dims[1]})")
    if dims[0] * dims[1] > MAX_PIXELS:
        raise ImageError(f"{name}: too large ({dims[0]}x{dims[1]} pixels, limit {MAX_PIXELS // 10**6} megapixels)")
    if _is_truncated(data, kind):
        raise ImageError(f"{name}: truncated or damaged {kind.upper()} file")
    buffer = np.frombuffer(data, np.uint8)
    with _quiet_stderr():
        try:
            # IMREAD_COLOR applies EXIF orientation and converts grey, RGBA, CMYK and 16-bit to 8-bit BGR.
            bgr = cv2.imdecode(buffer, _REDUCED_FLAGS[reduce] if kind in REDUCIBLE_KINDS else cv2.IMREAD_COLOR)
            if bgr is None and kind == "tiff":
                bgr = _wide_tiff_to_bgr(cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED))
        except cv2.error:
            bgr = None
    if bgr is None or bgr.size == 0 or bgr.ndim != 3:
        raise ImageError(f"{name}: truncated or damaged {kind.upper()} file")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)  # in place: a big photo is not held twice


# Each applies EXIF orientation, as IMREAD_COLOR does.
_REDUCED_FLAGS = dict(zip(REDUCTIONS, (cv2.IMREAD_COLOR, cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_COLOR_4,
                                      cv2.IMREAD_REDUCED_COLOR_8)))


@contextmanager
def _quiet_stderr():
    """libpng and libjpeg print warnings straight to file descriptor 2; send them to the null device.

    Python-level writes to stderr from other threads during a decode are lost too. The lock covers saving the
    descriptor as well: a decode that saved it while another had it pointed at the null device would "restore" the
    null device for good (the folder scan decodes on two threads; its summary line vanished that way).
    """
    with _stderr_lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield  # no usable descriptor 2 (a windowed app): nothing can leak
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(null)
            os.close(saved)


def _wide_tiff_to_bgr(image: np.ndarray | None) -> np.ndarray | None:
    """Float and 32-bit integer TIFFs (which IMREAD_COLOR refuses) to 8-bit BGR.

    Floats in [0, 1] and integers in [0, 255] keep their meaning; anything else is stretched to its own range.
    """
    if image is None or image.size == 0:
        return None
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        return None
    values = np.nan_to_num(image[:, :, :3].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if image.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        values = values * 255.0
    elif not (low >= 0.0 and high <= 255.0):
        values = (values - low) * (255.0 / (high - low) if high > low else 0.0)
    out = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR) if out.shape[2] == 1 else np.ascontiguousarray(out)


def _is_truncated(data: bytes, kind: str) -> bool:
    """A missing end marker: libjpeg and libpng would otherwise return a half-grey picture.

    Anywhere in the file, not only at its end: phone "motion photos" and some editors append data after it.
    """
    if kind == "jpeg":
        return b"\xff\xd9" not in data
    if kind == "png":
        return not _png_chunks_intact(data)
    return False


def _png_chunks_intact(data: bytes) -> bool:
    """Every chunk fits in the file, up to IEND. OpenCV's PNG reader allocates a chunk's declared length before
    reading it, so one damaged length field cost 2 GB and 5 s (measured); such a file is refused here instead."""
    pos = 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if length > len(data) - pos - 12:
            return False
        if data[pos + 4:pos + 8] == b"IEND":
            return True
        pos += 12 + length
    return False


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless: an enrolled face's aligned crop, re-embedded exactly when the model changes."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError("could not encode PNG")
    return buf.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("could not encode JPEG")
    return buf.tobytes()
