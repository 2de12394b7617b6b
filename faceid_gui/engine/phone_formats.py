"""HEIC (what iPhones save) and AVIF, decoded by Pillow (AVIF: its own plugin) with pillow-heif for HEIC, under
the same pixel limit and orientation rules as every other format; formats faceid recognises but cannot read are
named, so the person knows to export a JPEG instead of being told the file is not an image."""
from __future__ import annotations

import functools
import io

import numpy as np

from .errors import ImageError

# ISO base media file "ftyp" brands (the major brand, or a compatible one).
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
_GENERIC_HEIF = {b"mif1", b"msf1"}  # HEIF of unnamed codec: libheif tells which when opening
# Recognised, not readable: (signature prefix, what it is).
_UNSUPPORTED = ((b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (b"\xff\x4f\xff\x51", "JPEG 2000"),
                (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"), (b"\xff\x0a", "JPEG XL"), (b"8BPS", "Photoshop PSD"),
                (b"v/1\x01", "OpenEXR"), (b"#?RADIANCE", "Radiance HDR"), (b"qoif", "QOI"))


def sniff(data: bytes) -> str | None:
    """"heif" or "avif" for a file this module decodes, the format's name for one it recognises but cannot read
    ("JPEG 2000", ...), None for anything else."""
    if data[4:8] == b"ftyp":
        size = int.from_bytes(data[:4], "big")
        brands = {data[8:12]} | {data[k:k + 4] for k in range(16, min(size, len(data), 256) - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & (_HEIC_BRANDS | _GENERIC_HEIF):
            return "heif"
        return None  # MP4, MOV, 3GP...: video, not an image
    for signature, label in _UNSUPPORTED:
        if data.startswith(signature):
            return label
    return None


@functools.cache
def _pillow():
    """Pillow with pillow-heif's HEIF opener registered; imported only when such a file is read (start-up)."""
    import pillow_heif
    from PIL import Image, ImageOps

    pillow_heif.register_heif_opener()
    return Image, ImageOps


def decode(data: bytes, kind: str, name: str, max_pixels: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a HEIF or AVIF file, its size checked from the header before any pixel is decoded,
    EXIF orientation applied (libheif applies HEIF's own rotation, and pillow-heif then resets the EXIF tag)."""
    Image, ImageOps = _pillow()
    label = kind.upper()
    try:
        image = Image.open(io.BytesIO(data), formats=["HEIF" if kind == "heif" else "AVIF"])
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageError(f"{name}: damaged {label} file (image size {width}x{height})")
        if width * height > max_pixels:
            raise ImageError(f"{name}: too large ({width}x{height} pixels, limit {max_pixels // 10**6} megapixels)")
        image = ImageOps.exif_transpose(image).convert("RGB")
        return np.ascontiguousarray(np.asarray(image, np.uint8))
    except ImageError:
        raise
    except Exception:  # noqa: BLE001 - Pillow's and libheif's errors for a broken file are many types
        raise ImageError(f"{name}: truncated or damaged {label} file (or a HEIF kind faceid cannot read; "
                         "export it as JPEG)") from None
