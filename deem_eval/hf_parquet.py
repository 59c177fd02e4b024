"""Reading Hugging Face parquet exports (``datasets`` layouts) with located errors.

Benchmarks published on the Hub ship as parquet files whose image columns are structs
``{bytes, path}``. These helpers stream rows batch by batch (so a 1 GB file is never held whole)
and turn an image cell into a lazily decoded ``ImageRef``; a malformed file or cell is a
``DataError`` naming the file and the row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .data_root import inside
from .errors import DataError
from .samples import ImageRef


def parquet_rows(
    path: Path, columns: Sequence[str], expected: str, optional: Sequence[str] = (), batch_size: int = 32
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number from 1, row) with ``columns`` (required) and ``optional`` (when present)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        absent = [c for c in columns if c not in names]
        if absent:
            raise DataError(path, f"lacks column(s) {', '.join(absent)}", expected=expected)
        wanted = [*columns, *(c for c in optional if c in names)]
        row = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=wanted):
            for item in batch.to_pylist():
                row += 1
                yield row, item
    except (pa.ArrowException, OSError) as exc:
        raise DataError(path, f"not a readable parquet file ({exc})", expected=expected) from exc


def parquet_footer(path: Path, expected: str) -> tuple[list[str], int]:
    """Column names and row count from the file footer (no data pages read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        return list(pf.schema_arrow.names), pf.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(path, f"not a readable parquet file ({exc})", expected=expected) from exc


def files_fingerprint(tag: str, base: Path, files: Sequence[Path]) -> str:
    """Cheap hash of files' names, sizes and mtimes (what ``Task.data_fingerprint`` promises)."""
    import hashlib

    h = hashlib.sha256(tag.encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(base)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def image_ref(cell: Any, key: str, path: Path, row: int, column: str, base: Path) -> ImageRef:
    """An image cell ({bytes, path} struct, or raw bytes) as an ImageRef; paths stay inside ``base``.

    Undecodable bytes are not checked here: they fail at load time, as a per-sample error.
    """
    where = f"row {row}: {column}"
    if isinstance(cell, bytes | bytearray) and cell:
        return ImageRef(key=key, data=bytes(cell))
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return ImageRef(key=key, data=bytes(cell["bytes"]))
        if cell.get("path"):
            return ImageRef(key=key, path=inside(base, str(cell["path"]), f"{where} path", path))
    raise DataError(path, f"{where} has neither bytes nor path", expected="an image struct {bytes, path}")
