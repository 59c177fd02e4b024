"""Image references: the fingerprint a sample's cached answers depend on."""

from __future__ import annotations

from pathlib import Path

from deem_eval.samples import ImageRef


def test_image_fingerprint_follows_the_file_or_the_bytes(tmp_path: Path):
    f = tmp_path / "a.png"
    f.write_bytes(b"abc")
    st = f.stat()
    assert ImageRef("a", path=f).fingerprint() == f"3:{st.st_mtime_ns}"
    assert ImageRef("a", path=tmp_path / "gone.png").fingerprint() == "missing"
    assert ImageRef("a", data=b"abc").fingerprint() == "sha256:ba7816bf8f01cfea"  # sha256("abc")
