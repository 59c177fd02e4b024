"""Tables of the VLMEvalKit / Hugging Face copies of benchmarks: TSV files with base64 images and
parquet files with image structs, read with located errors; their images load lazily.

A TSV is read with pandas as VLMEvalKit reads it (tab-separated, quoted fields may span lines,
pandas' NA spellings are empty cells); rows are numbered from 1 after the header. Parquet files
are streamed by ``deem_eval.parquet``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError, SampleError
from .io import require_file
from .parquet import image_ref, parquet_rows
from .samples import ImageRef


@dataclass(frozen=True)
class Base64Image(ImageRef):
    """An image stored as base64 text in a table cell; decoded only when loaded.

    Bad base64 is a per-sample error, like a corrupt image file."""

    b64: str = ""

    def load(self):
        try:
            raw = base64.b64decode(self.b64, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise SampleError(f"cannot decode base64 image {self.key}: {exc}") from exc
        if not raw:
            raise SampleError(f"cannot decode base64 image {self.key}: empty")
        return ImageRef(key=self.key, data=raw).load()


def read_tsv(path: Path, columns: Sequence[str], expected: str) -> list[dict[str, Any]]:
    """All rows of a TSV as dicts of strings (empty cells as None); the header must hold ``columns``."""
    import pandas as pd

    from .metrics.choice import is_missing

    require_file(path, expected)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, "not UTF-8 text", expected=expected) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        msg = " ".join(str(exc).split())
        raise DataError(path, f"not a readable TSV ({msg})", expected=expected) from exc
    header = [str(c).strip() for c in frame.columns]
    absent = [c for c in columns if c not in header]
    if absent:
        raise DataError(path, f"header lacks {', '.join(absent)}", line=1, expected=expected)
    frame.columns = header
    rows = frame.to_dict("records")
    return [{k: (None if is_missing(v) else v) for k, v in row.items()} for row in rows]


def parquet_files(folder: Path, patterns: Sequence[str]) -> list[Path]:
    """Parquet files under ``folder`` matching any of the glob ``patterns`` (sorted, no repeats)."""
    if not folder.is_dir():
        return []
    found: list[Path] = []
    for pattern in patterns:
        for p in sorted(folder.glob(pattern)):
            if p.is_file() and p not in found:
                found.append(p)
    return found


def iter_parquet(paths: Sequence[Path], columns: Sequence[str], expected: str,
                 optional: Sequence[str] = ()) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """Yield (file, row number from 1, row) over several parquet files (``parquet.parquet_rows``)."""
    for path in paths:
        for row_no, row in parquet_rows(path, columns, expected, optional):
            yield path, row_no, row


def cell_image(cell: Any, key: str, path: Path, row: int, base: Path, column: str = "image") -> ImageRef:
    """An image from a table cell: base64 text (TSV), an image struct, or a list of structs (its first)."""
    if isinstance(cell, str):
        return Base64Image(key=key, b64=cell)
    if isinstance(cell, list):
        if not cell:
            raise DataError(path, f"row {row}: {column} list is empty", expected="at least one image")
        cell = cell[0]
    return image_ref(cell, key, path, row, column, base)
