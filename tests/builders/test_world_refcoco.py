"""The world's RefCOCO / RefCOCO+ analogues: refs(unc).p with the UNC splits, testA animals,
testB other objects, no location words in RefCOCO+."""

from __future__ import annotations

from deem_eval.builders.world.layouts import refcoco as layout

from deem_eval.registry import TASKS
from deem_eval.safe_pickle import load_plain

from .part_helpers import build_parts


def test_unc_splits_and_people_like_testA(tmp_path):
    counts = build_parts(tmp_path, layout.build_refcoco, layout.build_refcoco_plus)
    for name, folder in (("refcoco", "refcoco"), ("refcoco_plus", "refcoco+")):
        refs = load_plain(tmp_path / folder / "refs(unc).p")
        assert counts[f"{name}_refs"] == len(refs)
        assert {r["split"] for r in refs} == {"train", "val", "testA", "testB"}
        cls = TASKS.get(name)
        for split in ("val", "testA", "testB"):
            samples = list(cls(tmp_path, cls.Config(split=split)).samples())
            assert samples and all(s.image.path.is_file() for s in samples)
        cats = {r["split"]: set() for r in refs}
        for r in refs:
            cats[r["split"]].add(r["category_id"])
        animal_ids = {i + 1 for i, c in enumerate(layout.CATEGORIES) if c.name in layout.ANIMALS}
        assert cats["testA"] <= animal_ids and not cats["testB"] & animal_ids


def test_refcoco_plus_has_no_location_words(tmp_path):
    import json

    build_parts(tmp_path, layout.build_refcoco, layout.build_refcoco_plus)

    def attrs(part):
        rows = [json.loads(x) for x in (tmp_path / f"scenes/{part}.jsonl").read_text().splitlines()]
        return [sent["attrs"] for row in rows for ref in row["refs"] for sent in ref["sentences"]]

    assert attrs("refcoco_plus") and not any("rank" in a for a in attrs("refcoco_plus"))  # no left/right-most
    assert any("rank" in a for a in attrs("refcoco"))
