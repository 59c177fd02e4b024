"""Parquet copies of benchmarks: where they are looked for, rows streamed, located errors."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deem_eval.errors import DataError
from deem_eval.parquet import find_parquet, parquet_column, parquet_rows


def _write(path, n=5):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"a": list(range(n)), "b": [f"x{i}" for i in range(n)]}), path, row_group_size=2)
    return path


def test_find_rows_and_column(tmp_path):
    top, nested = _write(tmp_path / "b.parquet"), _write(tmp_path / "data/a-0.parquet", 3)
    _write(tmp_path / "data/train-0.parquet")
    assert find_parquet(tmp_path) == [top, nested, tmp_path / "data/train-0.parquet"]
    assert find_parquet(tmp_path, "a-*.parquet") == [nested] and find_parquet(tmp_path / "nothing") == []
    rows = list(parquet_rows(top, ["b"], "layout", batch_size=2))
    assert rows == [(i + 1, {"b": f"x{i}"}) for i in range(5)]
    assert parquet_column(nested, "a", "layout") == [0, 1, 2]


def test_located_errors(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable parquet file") as err:
        list(parquet_rows(bad, ["a"], "the layout"))
    assert err.value.path == bad and "the layout" in str(err.value)
    with pytest.raises(DataError, match="lacks column\\(s\\) c, d"):
        list(parquet_rows(_write(tmp_path / "ok.parquet"), ["a", "c", "d"], "the layout"))
