"""The unit of evaluation: a sample, its image reference, and what a model is asked."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SampleError

IMAGE_TOKEN = "<image>"
"""Where the image goes in a prompt; every adapter replaces it with its own image tokens."""


@dataclass(frozen=True)
class ImageRef:
    """A lazily loaded image. ``key`` identifies the image across samples (encode-once, cache)."""

    key: str
    path: Path | None = None
    data: bytes | None = None

    def fingerprint(self) -> str:
        """What the answers cached for this image depend on: its bytes' hash when held in memory,
        else the file's size and modification time (a replaced file gets new answers)."""
        if self.data is not None:
            return "sha256:" + hashlib.sha256(self.data).hexdigest()[:16]
        if self.path is None:
            return "none"
        try:
            st = self.path.stat()
        except OSError:
            return "missing"
        return f"{st.st_size}:{st.st_mtime_ns}"

    def load(self):
        """Decode to RGB; a missing or corrupt file raises SampleError naming it."""
        from PIL import Image, UnidentifiedImageError

        src = self.path if self.data is None else io.BytesIO(self.data)
        try:
            with Image.open(src) as im:
                im.load()
                return im.convert("RGB")
        except FileNotFoundError as exc:
            raise SampleError(f"image not found: {self.path}") from exc
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
            raise SampleError(f"cannot decode image {self.path or self.key}: {exc}") from exc


@dataclass
class Region:
    """A region of the image: a box (x, y, w, h in pixels) and optional COCO polygons."""

    bbox: tuple[float, float, float, float]
    polygons: list[list[float]] = field(default_factory=list)

    def mask(self, width: int, height: int):
        """Binary mask (H, W) uint8: the polygons if given, else the box."""
        import numpy as np
        from PIL import Image, ImageDraw

        canvas = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(canvas)
        if self.polygons:
            for poly in self.polygons:
                if len(poly) >= 6:
                    draw.polygon([(poly[i], poly[i + 1]) for i in range(0, len(poly) - 1, 2)], fill=1)
        else:
            x, y, w, h = self.bbox
            draw.rectangle([x, y, x + w - 1, y + h - 1], fill=1)
        return np.asarray(canvas, dtype=np.uint8)


@dataclass
class Sample:
    """One evaluation item as a task yields it.

    ``question`` is the task's raw question text; the task's prompt template turns it into
    the prompt. ``options`` are the fixed answers for logit scoring (e.g. ["yes", "no"]).
    """

    id: str
    target: Any
    image: ImageRef | None = None
    question: str = ""
    options: list[str] | None = None
    region: Region | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    """What the runner hands a model adapter for one sample."""

    sample_id: str
    prompt: str
    image: Any = None  # PIL image, or the adapter's encoded features when it encodes separately
    image_key: str | None = None
    options: list[str] | None = None
    answer_prefix: str = ""
    mask: Any = None  # numpy (H, W) uint8 region mask, or None for the whole image
    max_new_tokens: int = 16
