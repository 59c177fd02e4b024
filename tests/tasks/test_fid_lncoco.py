"""fid_lncoco: Localized Narratives COCO val lines in, generated images scored like fid_coco."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from deem_eval.errors import DataError
from deem_eval.metrics import fid

from .util import FIXTURES, copy_fixture, score, task

IDS = ["139", "285", "632"]
REFS = {"139": "COCO_val2014_000000000139.jpg", "285": "COCO_val2014_000000000285.jpg", "632": "000000000632.jpg"}
PIXELS = {"extractor": "pixels"}


def test_samples_one_per_image_from_its_first_narrative():
    t = task("fid_lncoco")
    samples = list(t.samples())
    assert [s.id for s in samples] == IDS  # image 139's second narrative (annotator 12) is not a sample
    assert samples[0].meta["annotator_id"] == 93
    assert t.prompt(samples[0]) == ("In this image I can see a room with a television on the left side, a table in "
                                    "the middle and a few chairs. In the background there is a window.")
    assert [s.target for s in samples] == [REFS[i] for i in IDS]  # 2014 names, or the 2017 name when that exists
    assert samples[2].image.path == (FIXTURES / "fid_lncoco/images/000000000632.jpg").resolve()
    assert t.output_type == "image" and t.prompt_fingerprint() and t.data_fingerprint()


def test_full_narratives_file_is_accepted_and_fingerprinted(tmp_path):
    root = copy_fixture("fid_lncoco", tmp_path)
    src = root / "fid_lncoco/coco_val_captions.jsonl"
    before = task("fid_lncoco", root=root).data_fingerprint()
    lines = [dict(json.loads(x), traces=[[{"x": 0.1, "y": 0.2, "t": 0.0}]], timed_caption=[]) for x in
             src.read_text().splitlines()]
    src.unlink()
    (root / "fid_lncoco/coco_val_localized_narratives.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    t = task("fid_lncoco", root=root)
    assert t.missing() == [] and [s.id for s in t.samples()] == IDS and t.data_fingerprint() != before


def test_distance_by_hand_and_per_sample_errors(tmp_path):
    paths = {i: str(FIXTURES / "fid_lncoco/images" / REFS[i]) for i in IDS}
    assert score("fid_lncoco", paths, tmp_path, task_args=PIXELS).metrics["fd_pixels"] == pytest.approx(0, abs=1e-6)
    grey = tmp_path / "grey.png"
    Image.new("RGB", (48, 48), (128, 128, 128)).save(grey)
    result = score("fid_lncoco", {i: str(grey) for i in IDS}, tmp_path, task_args=PIXELS)
    ref = fid.PixelFeatures().features([FIXTURES / "fid_lncoco/images" / REFS[i] for i in IDS])
    g = fid.PixelFeatures().features([grey])[0]
    # a constant generator: Σ_gen = 0, so d² = |μ_ref − g|² + tr Σ_ref
    mu, cov = ref.mean(0), np.cov(ref, rowvar=False)
    assert result.metrics["fd_pixels"] == pytest.approx(float(((mu - g) ** 2).sum() + np.trace(cov)), abs=1e-4)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    result = score("fid_lncoco", {"139": paths["139"], "285": str(bad), "632": paths["632"]}, tmp_path,
                   task_args=PIXELS)
    assert result.n == 3 and result.n_errors == 1


def test_bad_lines_are_located(tmp_path):
    root = copy_fixture("fid_lncoco", tmp_path)
    path = root / "fid_lncoco/coco_val_captions.jsonl"
    path.write_text(path.read_text() + '{"image_id": "9", "caption": 5}\n')
    with pytest.raises(DataError, match=r"line 5: 'caption' is an integer"):
        list(task("fid_lncoco", root=root).samples())
    path.write_text('{"image_id": "../x", "caption": "a"}\n')
    with pytest.raises(DataError, match="line 1: image_id '../x' is not a COCO image id"):
        list(task("fid_lncoco", root=root).samples())
