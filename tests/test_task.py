"""The task base class: the data fingerprint that the response cache keys on."""

from __future__ import annotations

import hashlib

from deem_eval.task import Task


class _Two(Task):
    folder = "two"
    expected = ("q.jsonl", "images", "absent.json")


def test_data_fingerprint_hashes_files_and_counts_folder_entries(tmp_path):
    root = tmp_path / "root"
    (root / "two" / "images").mkdir(parents=True)
    (root / "two" / "q.jsonl").write_text("{}\n")
    (root / "two" / "images" / "a.png").write_bytes(b"x")
    t = _Two(root)
    st = (root / "two" / "q.jsonl").stat()
    by_hand = hashlib.sha256(f"images/:1q.jsonl:3:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    assert t.data_fingerprint() == by_hand
    (root / "two" / "images" / "b.png").write_bytes(b"y")
    assert t.data_fingerprint() != by_hand
