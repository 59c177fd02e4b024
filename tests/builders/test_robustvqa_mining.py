"""Negative mining, the feature checkpoint store and the image dataset, on hand-made tensors and files."""

from __future__ import annotations

import pytest
import torch
from deem_eval.builders.robustvqa.mining import ImageFiles, batch_ranges, collate, mine_negatives
from deem_eval.builders.robustvqa.output import place_image, prune
from deem_eval.builders.robustvqa.store import BatchResult, FeatureStore

from .robustvqa_helpers import write_image


def test_negative_is_best_class_other_than_ground_truth():
    text = torch.eye(4)
    feats = torch.tensor([
        [0.9, 0.4, 0.1, 0.0],   # gt 0, correct; best other = 1
        [0.2, 0.3, 0.8, 0.1],   # gt 1, wrong (top-1 = 2); negative = 2
        [0.5, 0.5, 0.0, 0.0],   # gt 1, tie with class 0: top-1 is the first maximum (0)
    ])
    m = mine_negatives([4, 7, 9], feats, [0, 1, 1], text)
    assert m.indices == [4, 7, 9]
    assert m.top1 == [0, 2, 0]
    assert m.negative == [1, 2, 0]
    assert m.gt_score == pytest.approx([0.9, 0.3, 0.5])
    assert m.negative_score == pytest.approx([0.4, 0.8, 0.5])
    assert mine_negatives([], torch.zeros((0, 4)), [], text) is None
    with pytest.raises(ValueError, match="aligned"):
        mine_negatives([1], feats, [0, 1, 1], text)


def test_batch_ranges_are_fixed_blocks():
    assert batch_ranges(7, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert batch_ranges(0, 3) == []


def test_image_dataset_reports_corrupt_and_unreadable(tmp_path):
    write_image(tmp_path / "c" / "good.jpg", 1)
    (tmp_path / "c" / "bad.jpg").write_bytes(b"GIF89a nonsense")
    ds = ImageFiles(tmp_path, ["c/good.jpg", "c/bad.jpg", "c/gone.jpg"], lambda im: torch.ones(3, 2, 2))
    batch = collate([ds[i] for i in range(3)])
    assert batch["indices"] == [0] and batch["pixels"].shape == (1, 3, 2, 2)
    assert set(batch["digests"]) == {0, 1}
    assert batch["errors"][1].startswith("corrupt image: UnidentifiedImageError")
    assert " at 0x" not in batch["errors"][1]
    assert batch["errors"][2].startswith("unreadable: No such file")


def test_store_round_trip_and_key_isolation(tmp_path):
    store = FeatureStore(tmp_path, key="k1", rank=1)
    store.add(3, BatchResult([6, 7], torch.arange(4.0).reshape(2, 2), {6: "aa", 7: "bb"}, {8: "corrupt image: x"}))
    store.add(0, BatchResult([], torch.zeros((0,)), {}, {0: "unreadable: gone"}))
    store.flush()
    assert [p.name for p in tmp_path.iterdir()] == ["part-0000000-r1.safetensors"]
    got = FeatureStore(tmp_path, key="k1").load()
    assert sorted(got) == [0, 3]
    assert got[3].indices == [6, 7] and torch.equal(got[3].features, torch.arange(4.0).reshape(2, 2))
    assert got[3].digests == {6: "aa", 7: "bb"} and got[3].errors == {8: "corrupt image: x"}
    assert got[0].errors == {0: "unreadable: gone"}
    other = FeatureStore(tmp_path, key="k2")
    assert other.load() == {}
    other.prune()
    assert list(tmp_path.iterdir()) == []


def test_place_image_links_or_copies_and_prune(tmp_path):
    import hashlib

    src = tmp_path / "in" / "a.jpg"
    write_image(src, 3)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / "out" / "imagenet_a" / "n1" / "a.jpg"
    place_image(src, dst, digest)
    assert dst.read_bytes() == src.read_bytes()
    dst.unlink()
    dst.write_bytes(b"stale")
    place_image(src, dst, digest)
    assert dst.read_bytes() == src.read_bytes()
    (dst.parent.parent / "old" / "x.jpg").parent.mkdir()
    (dst.parent.parent / "old" / "x.jpg").write_bytes(b"x")
    removed = prune(tmp_path / "out" / "imagenet_a", {"imagenet_a/n1/a.jpg"})
    assert removed == ["imagenet_a/old/x.jpg"] and not (dst.parent.parent / "old").exists()
    assert src.read_bytes() == dst.read_bytes()
