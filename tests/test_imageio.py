import io

import cv2
import numpy as np
import pytest
from PIL import Image

from faceid_gui.engine import ImageError, decode_image, load_image
from faceid_gui.engine import imageio


def _png(array) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def _pil_bytes(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


@pytest.fixture()
def rgb():
    image = np.zeros((30, 40, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    image[:10, :10] = (0, 255, 0)
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF", "PPM"])
def test_formats_decode_to_rgb(rgb, fmt):
    data = _pil_bytes(Image.fromarray(rgb), fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    out = decode_image(data, f"x.{fmt.lower()}")
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert abs(int(out[20, 30, 0]) - 200) < 12 and out[20, 30, 1] < 15  # red stays red: RGB order


def test_pgm_grey_and_rgba_and_16bit_and_cmyk(rgb):
    grey = decode_image(_pil_bytes(Image.fromarray(rgb[..., 0]), "PPM"), "g.pgm")
    assert grey.shape == (30, 40, 3) and grey[20, 30, 0] == 200
    rgba = np.dstack([rgb, np.full((30, 40), 128, np.uint8)])
    assert decode_image(_pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"), "a.png").shape == (30, 40, 3)
    deep = decode_image(_png(np.full((30, 40), 40000, np.uint16)), "d.png")
    assert deep.shape == (30, 40, 3) and abs(int(deep[0, 0, 0]) - 40000 // 256) <= 1
    cmyk = decode_image(_pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95), "c.jpg")
    assert abs(int(cmyk[20, 30, 0]) - 200) < 15


def test_exif_orientation_is_honoured(rgb):
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    out = decode_image(_pil_bytes(image, "JPEG", exif=exif, quality=95), "r.jpg")
    assert out.shape == (40, 30, 3)


def test_non_ascii_path(tmp_path, rgb):
    path = tmp_path / "фото ñandú 写真.png"
    path.write_bytes(_png(rgb[..., ::-1]))
    assert load_image(path).shape == (30, 40, 3)


@pytest.mark.parametrize("payload, message", [
    (b"", "empty"),
    (b"hello, I am a text file\n" * 20, "not an image"),
    (b"%PDF-1.4 fake", "not an image"),
])
def test_not_images(tmp_path, payload, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(payload)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_truncated_files(rgb):
    jpeg = _pil_bytes(Image.fromarray(rgb), "JPEG")
    png = _png(rgb)
    for data, name in ((jpeg[: len(jpeg) // 2], "t.jpg"), (png[: len(png) // 2], "t.png")):
        with pytest.raises(ImageError, match="truncated"):
            decode_image(data, name)


def test_corrupt_body_with_valid_header():
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100 + b"IEND\xaeB`\x82"
    with pytest.raises(ImageError):
        decode_image(data, "c.png")


def test_decompression_bomb_header_is_refused():
    # A real PNG header claiming 100000 x 100000 pixels; refused before any pixel is decoded.
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))
    with pytest.raises(ImageError, match="too large"):
        decode_image(data, "bomb.png")


def test_file_size_cap(tmp_path, monkeypatch, rgb):
    path = tmp_path / "big.png"
    path.write_bytes(_png(rgb))
    monkeypatch.setattr(imageio, "MAX_FILE_BYTES", 100)
    with pytest.raises(ImageError, match="too large"):
        load_image(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path)
