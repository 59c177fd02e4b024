"""End-to-end RobustVQA builds on small trees with a tiny random-weight open_clip model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from deem_eval.builders.robustvqa import build_robustvqa, mining, run_build
from deem_eval.builders.robustvqa.classnames import builtin_classnames
from deem_eval.builders.robustvqa.wnids import all_wnids, split_wnids

from deem_eval.errors import DataError, UserError

from .robustvqa_helpers import A_WNIDS, FIXED_NAMES, make_tiny_clip, make_trees, tree_bytes, write_classnames


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("rvqa")
    return {
        "trees": make_trees(root / "in"),
        "model": make_tiny_clip(root / "clip"),
        "names": write_classnames(root / "classnames.json"),
    }


def _build(world, out, **kw):
    t = world["trees"]
    opts = dict(clip_model=world["model"], classnames=world["names"], batch_size=3, templates_kind="simple",
                num_workers=0, progress=False)
    opts.update(kw)
    return run_build(out, t["imagenet_a"], t["imagenet_r"], t["imagenet_v2"], **opts)


@pytest.fixture(scope="module")
def built(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "robustvqa"
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: keep its cache out of the user's home
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-module")))
        return out, _build(world, out)


def _read(out: Path):
    data = json.loads((out / "robustvqa_test.json").read_text())
    side = [json.loads(line) for line in (out / "mining.jsonl").read_text().splitlines()]
    return data, side, json.loads((out / "manifest.json").read_text())


def _reference_scores(world, split_root: Path, relpaths: list[str], class_names: list[str]):
    """CLIP scores computed independently: image by image, per-template normalised text averages."""
    import open_clip
    import torch
    from deem_eval.builders.robustvqa.classnames import templates
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms(world["model"])
    tokenizer = open_clip.get_tokenizer(world["model"])
    model.eval()
    with torch.no_grad():
        text = []
        for name in class_names:
            e = model.encode_text(tokenizer([t.replace("{}", name) for t in templates("simple")]))
            e = e / e.norm(dim=-1, keepdim=True)
            m = e.mean(dim=0)
            text.append(m / m.norm())
        text = torch.stack(text)
        out = []
        for rel in relpaths:
            img = model.encode_image(preprocess(Image.open(split_root / rel)).unsqueeze(0))[0]
            out.append((img / img.norm()) @ text.T)
    return torch.stack(out)


def test_items_follow_their_source_folder(world, built):
    out, result = built
    data, side, manifest = _read(out)
    assert list(data) == ["imagenet_a", "imagenet_r", "imagenet_v2"]
    trees = world["trees"]
    for split, items in data.items():
        folders = sorted({p.parent.name for p in trees[split].rglob("*.*") if p.name != "README.txt"})
        space = {FIXED_NAMES[f] for f in folders}
        for item in items:
            folder = item["file_name"].split("/")[1]
            assert item["file_name"].startswith(f"{split}/")
            assert item["gt_caption"] == FIXED_NAMES[folder]
            assert item["error_caption"] != item["gt_caption"] and item["error_caption"] in space
            src = trees[split] / item["file_name"].split("/", 1)[1]
            assert (out / item["file_name"]).read_bytes() == src.read_bytes()
    # all mode: one item per decodable image; the corrupt one is listed, not replaced
    assert manifest["counts"] == {"imagenet_a": 9, "imagenet_r": 4, "imagenet_v2": 8}
    assert {k: len(v) for k, v in data.items()} == manifest["counts"]
    corrupt = manifest["splits"]["imagenet_a"]["corrupt"]
    assert [c["file"] for c in corrupt] == [f"{A_WNIDS[1]}/broken.jpg"]
    assert corrupt[0]["reason"].startswith("corrupt image:")
    assert not any("broken" in i["file_name"] for i in data["imagenet_a"])
    assert [i["file_name"].split("/")[1] for i in data["imagenet_v2"]] == ["0", "0", "1", "1", "2", "2", "10", "10"]
    assert not (out / ".features").exists()
    assert manifest["clip"]["fingerprint"].startswith("local-dir/sha256:")
    assert manifest["templates"] == {"set": "simple", "count": 7} and manifest["keep"] == "all"
    assert manifest["splits"]["imagenet_a"]["input_fingerprint"].startswith("sha256:")
    assert len(side) == 21


def test_negatives_match_an_independent_computation(world, built):
    out, _ = built
    data, side, manifest = _read(out)
    rows = [r for r in side if r["split"] == "imagenet_v2"]
    space = [FIXED_NAMES[k] for k in ("0", "1", "2", "10")]
    scores = _reference_scores(world, world["trees"]["imagenet_v2"], [r["source"] for r in rows], space)
    n_correct = 0
    for row, s in zip(rows, scores, strict=True):
        gt = space.index(row["gt_caption"])
        masked = s.clone()
        masked[gt] = float("-inf")
        assert row["error_caption"] == space[int(masked.argmax())]
        assert row["top1"] == space[int(s.argmax())]
        assert row["gt_score"] == pytest.approx(float(s[gt]), abs=1e-4)
        assert row["margin"] == pytest.approx(float(s[gt] - masked.max()), abs=1e-4)
        assert row["correct"] == (row["top1"] == row["gt_caption"])
        n_correct += row["correct"]
    assert manifest["zero_shot_acc"]["imagenet_v2"] == pytest.approx(100 * n_correct / len(rows), abs=1e-3)


def test_byte_identical_across_runs_and_workers(world, built, tmp_path):
    out, _ = built
    again = tmp_path / "again"
    _build(world, again, num_workers=2)
    assert tree_bytes(again) == tree_bytes(out)


def test_misclassified_keeps_only_wrong_ones_and_prunes(world, built, tmp_path):
    out, _ = built
    _, side_all, _ = _read(out)
    target = shutil.copytree(out, tmp_path / "mis")  # an all-mode output first: stale images must go
    _build(world, target, keep="misclassified")
    data, side, manifest = _read(target)
    wrong = {(r["split"], r["source"]) for r in side_all if not r["correct"]}
    assert 0 < len(wrong) < len(side_all)
    got = {(s, i["file_name"].split("/", 1)[1]) for s, items in data.items() for i in items}
    assert got == wrong
    assert sum(manifest["counts"].values()) == len(wrong)
    on_disk = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    images = {i["file_name"] for items in data.values() for i in items}
    assert on_disk == images | {"robustvqa_test.json", "mining.jsonl", "manifest.json"}
    assert [r for r in side if r["file_name"]] and all(not r["correct"] for r in side if r["file_name"])


def test_resume_after_interruption(world, built, tmp_path, monkeypatch):
    out, _ = built
    target = tmp_path / "resumed"
    real = mining.encode_images
    calls = {"n": 0}

    def crash_after_two(*args, **kw):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(mining, "encode_images", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        _build(world, target)
    parts = sorted((target / ".features" / "imagenet_a").glob("part-*.safetensors"))
    assert parts, "completed batches must be checkpointed on interruption"
    monkeypatch.setattr(mining, "encode_images", real)
    result = _build(world, target)
    assert result.stats["imagenet_a"].batches_resumed == 2
    assert result.stats["imagenet_a"].batches_computed == 2  # 10 images in batches of 3
    assert tree_bytes(target) == tree_bytes(out)


def test_builtin_names_use_the_split_label_space(world, tmp_path):
    t = world["trees"]
    out = tmp_path / "builtin"
    manifest = build_robustvqa(out, t["imagenet_a"], None, t["imagenet_v2"], clip_model=world["model"],
                               templates="single", num_workers=0, progress=False, batch_size=8)
    names = builtin_classnames()
    data = json.loads((out / "robustvqa_test.json").read_text())
    assert list(data) == ["imagenet_a", "imagenet_v2"]
    a_space = {names[w] for w in split_wnids("imagenet_a")}
    for item in data["imagenet_a"]:
        assert item["gt_caption"] == names[item["file_name"].split("/")[1]]
        assert item["error_caption"] in a_space and item["error_caption"] != item["gt_caption"]
    for item in data["imagenet_v2"]:
        assert item["gt_caption"] == names[all_wnids()[int(item["file_name"].split("/")[1])]]
    assert manifest["splits"]["imagenet_a"]["n_label_space"] == 200
    assert manifest["splits"]["imagenet_v2"]["n_label_space"] == 1000
    assert manifest["classnames"]["source"] == "open_clip zero-shot metadata"


def test_text_embeddings_are_cached(world, tmp_path, monkeypatch):
    _build(world, tmp_path / "one")
    cache_root = Path(os.environ["XDG_CACHE_HOME"]) / "deem-eval" / "robustvqa" / "text"
    assert len(list(cache_root.glob("*.safetensors"))) == 1  # one pass over the union of label spaces

    def no_text(*a, **k):
        raise AssertionError("text embeddings should come from the cache")

    import open_clip

    monkeypatch.setattr(open_clip.model.CLIP, "encode_text", no_text)
    _build(world, tmp_path / "two")
    assert tree_bytes(tmp_path / "two") == tree_bytes(tmp_path / "one")


def test_user_errors(world, tmp_path):
    t = world["trees"]
    with pytest.raises(UserError, match="no input given"):
        build_robustvqa(tmp_path / "o", None, None, None)
    with pytest.raises(UserError, match="--keep"):
        build_robustvqa(tmp_path / "o", t["imagenet_r"], None, None, keep="some")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=f"{empty}: no class folders found"):
        build_robustvqa(tmp_path / "o", None, empty, None, clip_model=world["model"])
    inside = shutil.copytree(t["imagenet_r"], tmp_path / "o" / "imagenet_r")
    with pytest.raises(UserError, match=f"{inside}: the input tree of imagenet_r overlaps the output folder"):
        build_robustvqa(tmp_path / "o", None, inside, None, clip_model=world["model"])


def test_missing_clip_weights_fail_fast_with_hint(world, tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HOME", str(tmp_path))
    t = world["trees"]
    kw = dict(classnames=world["names"], progress=False, num_workers=0)
    with pytest.raises(UserError, match=r"not in the local cache.*--clip-pretrained /path/to/open_clip_model"
                                        r".*local-dir:"):
        build_robustvqa(tmp_path / "o", None, t["imagenet_r"], None, **kw)
    with pytest.raises(UserError, match="not an open_clip model name"):
        build_robustvqa(tmp_path / "o", None, t["imagenet_r"], None, clip_model="ViT-Q-99", **kw)
    with pytest.raises(UserError, match="checkpoint file not found"):
        build_robustvqa(tmp_path / "o", None, t["imagenet_r"], None, clip_pretrained=str(tmp_path / "w.pt"), **kw)
    with pytest.raises(UserError, match="open_clip_config.json"):
        build_robustvqa(tmp_path / "o", None, t["imagenet_r"], None, clip_model=f"local-dir:{tmp_path}", **kw)


DIST_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import torch.distributed as td
    from deem_eval.builders.robustvqa import run_build
    a, r, v2, model, names, out, reports = sys.argv[1:8]
    res = run_build(out, a, r, v2, clip_model=model, classnames=names, batch_size=3, templates_kind="simple",
                    num_workers=0, progress=False)
    report = {"rank": td.get_rank(), "world": td.get_world_size(),
              "computed": {s: st.batches_computed for s, st in res.stats.items()}}
    (Path(reports) / f"rank{report['rank']}.json").write_text(json.dumps(report))
    """
)


def test_torchrun_two_processes_give_the_single_process_bytes(world, built, tmp_path):
    import torch

    out, _ = built
    t = world["trees"]
    script = tmp_path / "dist_build.py"
    script.write_text(DIST_SCRIPT)
    threads = str(torch.get_num_threads())  # same per-process threads as the single-process build
    env = {**os.environ, "DEEM_THREADS": threads, "OMP_NUM_THREADS": threads}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
         str(t["imagenet_a"]), str(t["imagenet_r"]), str(t["imagenet_v2"]), world["model"], str(world["names"]),
         str(tmp_path / "dist"), str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # One report file per rank: two ranks printing to one pipe can interleave their lines.
    reports = sorted((json.loads(p.read_text()) for p in tmp_path.glob("rank*.json")), key=lambda r: r["rank"])
    assert [(r["rank"], r["world"]) for r in reports] == [(0, 2), (1, 2)]
    # 10 A images in batches of 3 → 4 batches, dealt round-robin: both ranks computed features
    assert [r["computed"]["imagenet_a"] for r in reports] == [2, 2]
    assert tree_bytes(tmp_path / "dist") == tree_bytes(out)
