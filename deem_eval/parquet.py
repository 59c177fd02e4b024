"""Reading the Hugging Face parquet copies of benchmarks (lmms-eval's datasets) with located errors.

Benchmarks published on the Hub ship as parquet files whose image columns are structs
``{bytes, path}``. Rows are streamed batch by batch (a 1 GB file is never held whole), an image
cell becomes a lazily decoded ``ImageRef``, and a malformed file or cell is a ``DataError``
naming the file and the row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .data_root import inside
from .errors import DataError
from .samples import ImageRef


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


def parquet_rows(path: Path, columns: Sequence[str], expected: str, optional: Sequence[str] = (),
                 batch_size: int = 64) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, row as a dict of ``columns`` and of the ``optional`` ones present),
    streamed in batches."""
    import pyarrow as pa

    pf = open_parquet(path, columns, expected)
    wanted = [*columns, *(c for c in optional if c in pf.schema_arrow.names and c not in columns)]
    row_no = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_size, columns=wanted):
            for row in batch.to_pylist():
                row_no += 1
                yield row_no, row
    except (pa.ArrowException, OSError) as exc:
        raise DataError(path, f"unreadable after row {row_no} ({exc})", expected=expected) from exc


def parquet_footer(path: Path, expected: str) -> tuple[list[str], int]:
    """Column names and row count from the file footer (no data pages read)."""
    pf = open_parquet(path, (), expected)
    return list(pf.schema_arrow.names), pf.metadata.num_rows


def parquet_column(path: Path, column: str, expected: str) -> list[Any]:
    """One column of a file, read alone (cheap: no image bytes)."""
    return open_parquet(path, [column], expected).read(columns=[column]).column(column).to_pylist()


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
