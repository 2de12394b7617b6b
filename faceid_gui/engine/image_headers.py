"""Image file headers read without decoding pixels: the format, and the size a decoder would allocate for."""
from __future__ import annotations

import struct


def sniff(data: bytes) -> str | None:
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


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height from the header, without decoding pixels (None when unknown)."""
    try:
        if kind == "png":
            return struct.unpack(">II", data[16:24])
        if kind == "gif":
            return _gif_size(data)
        if kind == "tiff":
            return _tiff_size(data)
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
    """The frame size from the first SOF marker; stray bytes between segments are skipped, as libjpeg does."""
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01, 0x00) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h  # the first frame is the one libjpeg decodes
        if marker == 0xDA:
            break  # scan data follows without a SOF: damaged
        pos += 2 + length
    return None


def _gif_size(data: bytes) -> tuple[int, int]:
    """Logical screen size, or the largest frame, whichever is bigger (a frame may exceed the screen)."""
    w, h = struct.unpack("<HH", data[6:10])
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    for _ in range(10_000):
        if pos >= len(data):
            break
        block = data[pos]
        if block == 0x2C:  # image descriptor
            fx, fy, fw, fh = struct.unpack("<HHHH", data[pos + 1:pos + 9])
            w, h = max(w, fx + fw), max(h, fy + fh)
            fflags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((fflags & 7) + 1) if fflags & 0x80 else 0) + 1  # + LZW minimum code size
            pos = _skip_sub_blocks(data, pos)
        elif block == 0x21:  # extension
            pos = _skip_sub_blocks(data, pos + 2)
        else:
            break  # trailer or garbage: nothing more to size
    return w, h


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """ImageWidth and ImageLength of the first IFD (the page OpenCV decodes)."""
    endian = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack(endian + "I", data[4:8])[0]
    count = struct.unpack(endian + "H", data[offset:offset + 2])[0]
    width = height = None
    for k in range(count):
        entry = data[offset + 2 + 12 * k: offset + 14 + 12 * k]
        tag, kind = struct.unpack(endian + "HH", entry[:4])
        if tag in (256, 257):
            value = struct.unpack(endian + ("H" if kind == 3 else "I"), entry[8:10] if kind == 3 else entry[8:12])[0]
            if tag == 256:
                width = value
            else:
                height = value
    return (width, height) if width is not None and height is not None else None
