"""Image decoding with OpenCV: every failure becomes an ImageError with a plain message."""
from __future__ import annotations

import os
import struct
from pathlib import Path

# OpenCV's own decoder limit is the backstop; the header check below gives the clear message.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(1 << 28))
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from .errors import ImageError  # noqa: E402

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 80_000_000  # a 10000x8000 photo; decompression bombs are far larger

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an RGB uint8 array (H, W, 3), EXIF orientation applied."""
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
        data = path.read_bytes()  # works for non-ASCII paths, unlike cv2.imread on Windows
    except OSError as exc:
        raise ImageError(f"{path.name}: cannot read ({exc.strerror})") from None
    return decode_image(data, path.name)


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, BMP, WebP, TIFF, GIF, PNM) to RGB uint8."""
    if len(data) == 0:
        raise ImageError(f"{name}: empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{name}: too large ({len(data) / 2**20:.0f} MB)")
    kind = _sniff(data)
    if kind is None:
        raise ImageError(f"{name}: not an image (unknown format)")
    dims = _header_size(data, kind)
    if dims is not None and dims[0] * dims[1] > MAX_PIXELS:
        raise ImageError(f"{name}: too large ({dims[0]}x{dims[1]} pixels, limit {MAX_PIXELS // 10**6} megapixels)")
    if _is_truncated(data, kind):
        raise ImageError(f"{name}: truncated or damaged {kind.upper()} file")
    buffer = np.frombuffer(data, np.uint8)
    try:
        # IMREAD_COLOR applies EXIF orientation and converts grey, RGBA, CMYK and 16-bit to 8-bit BGR.
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None or bgr.size == 0:
        raise ImageError(f"{name}: truncated or damaged {kind.upper()} file")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _sniff(data: bytes) -> str | None:
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if len(head) >= 2 and head[0:1] == b"P" and head[1:2] in b"123456":
        return "pnm"
    return None


def _header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height from the header, without decoding pixels (None when unknown)."""
    try:
        if kind == "png":
            return struct.unpack(">II", data[16:24])
        if kind == "gif":
            return struct.unpack("<HH", data[6:10])
        if kind == "bmp":
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if kind == "webp":
            chunk = data[12:16]
            if chunk == b"VP8X":
                w = int.from_bytes(data[24:27], "little") + 1
                h = int.from_bytes(data[27:30], "little") + 1
                return w, h
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return w & 0x3FFF, h & 0x3FFF
        if kind == "jpeg":
            return _jpeg_size(data)
        if kind == "pnm":
            fields = data[2:64].split()
            fields = [f for f in fields if not f.startswith(b"#")]
            return int(fields[0]), int(fields[1])
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h
        pos += 2 + length
    return None


def _is_truncated(data: bytes, kind: str) -> bool:
    if kind == "jpeg":
        # Some encoders pad after EOI; look for it near the end.
        return b"\xff\xd9" not in data[-1024:]
    if kind == "png":
        return b"IEND" not in data[-64:]
    if kind == "gif":
        return not data.rstrip(b"\x00").endswith(b";")
    return False


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("could not encode JPEG")
    return buf.tobytes()
