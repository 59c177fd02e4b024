"""Deterministic writers: sorted JSON keys, fixed image encoder settings, no timestamps."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

JPEG_QUALITY = 95


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_json(path: Path, obj, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=indent) if indent else dumps(obj)
    path.write_text(text + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(dumps(row) + "\n")
            n += 1
    return n


def save_image(img: Image.Image, path: Path) -> None:
    """PNG or JPEG by extension, with fixed encoder parameters (byte-identical across runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        img.save(path, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=False)
    else:
        path.write_bytes(png_bytes(img))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(img: Image.Image) -> bytes:
    """A minimal RGB PNG (no ancillary chunks): deterministic and much faster than the generic
    encoder for thousands of tiny images."""
    img = img.convert("RGB")
    w, h = img.size
    raw = img.tobytes()
    stride = 3 * w
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 6))
            + _chunk(b"IEND", b""))
