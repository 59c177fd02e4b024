"""Reading the Hugging Face parquet copies of benchmarks (lmms-eval's datasets) with located errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import DataError


def find_parquet(folder: Path, pattern: str = "*.parquet") -> list[Path]:
    """Files matching ``pattern`` in ``folder`` and then in ``folder/data`` (the Hub's two places)."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(pattern)) + sorted(folder.glob(f"data/{pattern}"))


def open_parquet(path: Path, columns: Sequence[str], expected: str) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` holding ``columns``; an unreadable file or a missing
    column is a DataError naming the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(path, f"not a readable parquet file ({exc})", expected=expected) from exc
    absent = [c for c in columns if c not in pf.schema_arrow.names]
    if absent:
        raise DataError(path, f"lacks column(s) {', '.join(absent)}", expected=expected)
    return pf


def parquet_rows(path: Path, columns: Sequence[str], expected: str, batch_size: int = 64
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, row as a dict of ``columns``), streamed in batches."""
    import pyarrow as pa

    pf = open_parquet(path, columns, expected)
    row_no = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_size, columns=list(columns)):
            for row in batch.to_pylist():
                row_no += 1
                yield row_no, row
    except pa.ArrowException as exc:
        raise DataError(path, f"unreadable after row {row_no} ({exc})", expected=expected) from exc


def parquet_column(path: Path, column: str, expected: str) -> list[Any]:
    """One column of a file, read alone (cheap: no image bytes)."""
    return open_parquet(path, [column], expected).read(columns=[column]).column(column).to_pylist()


def files_fingerprint(base: Path, files: Sequence[Path], salt: str = "") -> str:
    """Hash of the files' names (relative to ``base``), sizes and modification times."""
    h = hashlib.sha256(salt.encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(base)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
