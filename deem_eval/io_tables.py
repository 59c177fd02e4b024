"""Tables of the VLMEvalKit / Hugging Face copies of benchmarks: TSV files with base64 images and
parquet files with image structs, read with located errors; their images load lazily.

A TSV is read with pandas as VLMEvalKit reads it (tab-separated, quoted fields may span lines,
pandas' NA spellings are empty cells); rows are numbered from 1 after the header. Parquet files
are read with pyarrow one record batch at a time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError, SampleError
from .io import require_file
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
    """Yield (file, row number from 1, row) over parquet files holding ``columns`` (and any of ``optional``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in paths:
        try:
            pf = pq.ParquetFile(path)
            names = pf.schema_arrow.names
            absent = [c for c in columns if c not in names]
            if absent:
                raise DataError(path, f"lacks column(s) {', '.join(absent)}", expected=expected)
            wanted = list(columns) + [c for c in optional if c in names and c not in columns]
            row_no = 0
            for batch in pf.iter_batches(batch_size=64, columns=wanted):
                for row in batch.to_pylist():
                    row_no += 1
                    yield path, row_no, row
        except pa.ArrowException as exc:
            raise DataError(path, f"not a readable parquet file ({exc})", expected=expected) from exc


def struct_image(cell: Any, key: str, path: Path, where: str, expected: str) -> ImageRef:
    """An ImageRef from a Hugging Face ``Image`` cell ({bytes, path}); a list cell uses its first image."""
    if isinstance(cell, list):
        if not cell:
            raise DataError(path, f"{where}image list is empty", expected=expected)
        cell = cell[0]
    if isinstance(cell, dict) and cell.get("bytes"):
        return ImageRef(key=key, data=cell["bytes"])
    if isinstance(cell, bytes | bytearray) and cell:
        return ImageRef(key=key, data=bytes(cell))
    raise DataError(path, f"{where}image has no bytes", expected=expected)


def files_fingerprint(base: Path, files: Sequence[Path], salt: str = "") -> str:
    """Hash of files' names (relative to ``base``), sizes and mtimes: cheap, changes when data changes."""
    h = hashlib.sha256(salt.encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(base)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
