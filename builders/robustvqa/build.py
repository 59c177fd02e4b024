"""Orchestrate a RobustVQA build: validate inputs, load CLIP, mine negatives, write the outputs.

Outputs under `out`: `robustvqa_test.json` (the official format), the images under
`<split>/<class folder>/<file>`, `mining.jsonl` (per decoded image: CLIP's top-1, the negative,
cosine scores and margin = score(gt) − score(negative), negative when CLIP is wrong) and
`manifest.json`. Every file is a pure function of the inputs and options, so two runs — fresh,
resumed, or data-parallel — give the same bytes. (Floating-point sums depend on the number of torch
threads per process, so compare runs with the same DEEM_THREADS / OMP_NUM_THREADS; launchers
default to one thread per process.)
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deem_eval.errors import UserError

from .classnames import builtin_classnames, load_classnames_file, templates
from .clip_model import ClipBundle, class_embeddings, load_clip
from .dist import DistContext, init_dist
from .mining import ExtractStats, batch_ranges, extract_features, mine_negatives
from .output import dump_json, dump_jsonl, place_image, prune, write_atomic
from .progress import make_progress
from .store import FeatureStore
from .trees import ClassNames, SplitTree, scan_split
from .wnids import SPLITS

KEEP_MODES = ("all", "misclassified")
ANNOTATIONS = "robustvqa_test.json"
SIDECAR = "mining.jsonl"
MANIFEST = "manifest.json"
FEATURES_DIR = ".features"
SEED = 0


@dataclass
class BuildResult:
    """The manifest plus timings (timings stay out of the deterministic files)."""

    manifest: dict
    stats: dict[str, ExtractStats] = field(default_factory=dict)
    text_seconds: float = 0.0
    wall_seconds: float = 0.0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deem-eval")
    except PackageNotFoundError:
        return "unknown"


def _check_options(inputs: dict[str, Path | None], keep: str, batch_size: int, num_workers: int) -> None:
    if not any(inputs.values()):
        raise UserError("no input given: pass at least one of --imagenet-a, --imagenet-r, --imagenet-v2")
    if keep not in KEEP_MODES:
        raise UserError(f"--keep {keep!r} is not known; expected one of {', '.join(KEEP_MODES)}")
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    if num_workers < 0:
        raise UserError(f"--num-workers must be 0 or more, got {num_workers}")


def _check_no_overlap(out: Path, split: str, root: Path) -> None:
    """Refuse inputs that the output folder of the split would overwrite or prune."""
    a, b = Path(root).resolve(), (out / split).resolve()
    if a == b or a.is_relative_to(b) or b.is_relative_to(a):
        raise UserError(f"{root}: the input tree of {split} overlaps the output folder {out / split}; "
                        f"choose another --out")


def _features_key(bundle: ClipBundle, tree: SplitTree, batch_size: int) -> str:
    transform = re.sub(r" at 0x[0-9a-fA-F]+", "", repr(bundle.preprocess))
    payload = {"model": bundle.fingerprint, "transform": transform, "batch_size": batch_size,
               "device_type": str(bundle.device).split(":")[0],
               "files": [[it.relpath, it.size, it.mtime_ns] for it in tree.items]}
    return hashlib.sha256(json.dumps(payload).encode("utf-8")).hexdigest()


def _split_outputs(tree: SplitTree, results: dict, text: Any, keep: str) -> dict:
    """Mine one split and return its annotation items, sidecar rows, manifest entry and kept files."""
    import torch

    digests: dict[int, str] = {}
    errors: dict[int, str] = {}
    rows: dict[int, Any] = {}
    for r in results.values():
        digests.update(r.digests)
        errors.update(r.errors)
        rows.update({i: r.features[k] for k, i in enumerate(r.indices)})
    ok = sorted(rows)
    labels = [tree.items[i].label for i in ok]
    mined = mine_negatives(ok, torch.stack([rows[i] for i in ok]) if ok else None, labels, text)

    space = tree.label_space
    items, sidecar, kept = [], [], []
    n_correct = 0
    for k, i in enumerate(ok):
        it = tree.items[i]
        correct = mined.top1[k] == it.label
        n_correct += correct
        file_name = f"{tree.split}/{it.relpath}" if (keep == "all" or not correct) else None
        gt, neg = space[it.label].name, space[mined.negative[k]].name
        if file_name is not None:
            items.append({"file_name": file_name, "gt_caption": gt, "error_caption": neg})
            kept.append((tree.root / it.relpath, file_name, digests[i]))
        sidecar.append({
            "split": tree.split, "source": it.relpath, "file_name": file_name,
            "gt_caption": gt, "top1": space[mined.top1[k]].name, "error_caption": neg, "correct": correct,
            "gt_score": round(mined.gt_score[k], 6), "top1_score": round(mined.top1_score[k], 6),
            "error_score": round(mined.negative_score[k], 6),
            "margin": round(mined.gt_score[k] - mined.negative_score[k], 6),
        })
    fingerprint = hashlib.sha256()
    for i, it in enumerate(tree.items):
        fingerprint.update(f"{it.relpath}\t{it.size}\t{digests.get(i, 'unreadable')}\n".encode())
    entry = {
        "input": str(tree.root),
        "input_fingerprint": f"sha256:{fingerprint.hexdigest()}",
        "n_images": len(tree.items),
        "n_decoded": len(ok),
        "n_corrupt": len(errors),
        "n_items": len(items),
        "n_label_space": len(space),
        "n_folders": len(tree.folders),
        "zero_shot_acc": round(100.0 * n_correct / len(ok), 4) if ok else None,
        "corrupt": [{"file": tree.items[i].relpath, "reason": errors[i]} for i in sorted(errors)],
    }
    return {"items": items, "sidecar": sidecar, "entry": entry, "kept": kept}


def run_build(out: Path, imagenet_a: Path | None = None, imagenet_r: Path | None = None,
              imagenet_v2: Path | None = None, clip_model: str = "ViT-L-14", clip_pretrained: str | None = "openai",
              classnames: Path | None = None, keep: str = "all", batch_size: int = 64, templates_kind: str = "openai",
              num_workers: int = 2, progress: bool = True, device: str | None = None) -> BuildResult:
    """The build with timings; see `build_robustvqa` for the options."""
    from deem_eval.runtime import set_torch_threads

    t0 = time.perf_counter()
    inputs = {"imagenet_a": imagenet_a, "imagenet_r": imagenet_r, "imagenet_v2": imagenet_v2}
    _check_options(inputs, keep, batch_size, num_workers)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: --out must be a folder")
    template_list = templates(templates_kind)
    if classnames is not None:
        names = ClassNames(load_classnames_file(Path(classnames)), Path(classnames))
    else:
        names = ClassNames(builtin_classnames())
    trees = {s: scan_split(s, Path(p), names) for s, p in inputs.items() if p is not None}
    for split, tree in trees.items():
        _check_no_overlap(out, split, tree.root)

    ctx: DistContext = init_dist(device)
    set_torch_threads()
    bundle = load_clip(clip_model, clip_pretrained, ctx.device)
    result = BuildResult(manifest={})
    outputs: dict[str, dict] = {}
    # One text pass over the union of the label spaces (A and R are subsets of V2's 1000 classes).
    union = list(dict.fromkeys(c.name for tree in trees.values() for c in tree.label_space))
    row = {name: i for i, name in enumerate(union)}
    with make_progress(progress and ctx.is_main) as bar:
        tt = time.perf_counter()
        if ctx.is_main:
            text_task = bar.add_task("class texts", total=len(union), unit="class")
            all_text = class_embeddings(bundle, union, template_list,
                                        advance=lambda n: bar.advance(text_task, n))
        ctx.barrier()
        if not ctx.is_main:
            all_text = class_embeddings(bundle, union, template_list)  # from the cache the main rank wrote
        result.text_seconds = time.perf_counter() - tt
        for split, tree in trees.items():
            text = all_text[[row[c.name] for c in tree.label_space]]
            n_mine = sum(len(b) for i, b in enumerate(batch_ranges(len(tree.items), batch_size))
                         if i % ctx.world_size == ctx.rank)
            task = bar.add_task(split, total=n_mine, unit="img")
            store = FeatureStore(out / FEATURES_DIR / split, _features_key(bundle, tree, batch_size), ctx.rank)
            feats, stats = extract_features(tree.root, [it.relpath for it in tree.items], bundle, batch_size,
                                            num_workers, ctx, store, advance=lambda n, t=task: bar.advance(t, n))
            result.stats[split] = stats
            if ctx.is_main:
                outputs[split] = _split_outputs(tree, feats, text, keep)

    if ctx.is_main:
        result.manifest = _write_outputs(out, outputs, bundle, names, templates_kind, template_list, keep,
                                         batch_size)
        shutil.rmtree(out / FEATURES_DIR, ignore_errors=True)
    result.manifest = ctx.gather(result.manifest)[0]  # every rank returns the main rank's manifest
    result.wall_seconds = time.perf_counter() - t0
    return result


def _write_outputs(out: Path, outputs: dict[str, dict], bundle: ClipBundle, names: ClassNames,
                   templates_kind: str, template_list: list[str], keep: str, batch_size: int) -> dict:
    for split, o in outputs.items():
        for src, file_name, digest in o["kept"]:
            place_image(src, out / file_name, digest)
        prune(out / split, {file_name for _, file_name, _ in o["kept"]})
    names_digest = hashlib.sha256(json.dumps(names.mapping, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    manifest = {
        "format": "robustvqa-build/1",
        "deem_eval_version": _version(),
        "clip": {"model": bundle.name, "pretrained": bundle.pretrained, "fingerprint": bundle.fingerprint},
        "templates": {"set": templates_kind, "count": len(template_list)},
        "keep": keep,
        "classnames": {"source": str(names.source) if names.source else "open_clip zero-shot metadata",
                       "sha256": names_digest},
        "batch_size": batch_size,
        "seeds": {"torch": SEED},
        "files": {"annotations": ANNOTATIONS, "mining": SIDECAR},
        "counts": {s: o["entry"]["n_items"] for s, o in outputs.items()},
        "zero_shot_acc": {s: o["entry"]["zero_shot_acc"] for s, o in outputs.items()},
        "splits": {s: o["entry"] for s, o in outputs.items()},
    }
    ordered = [s for s in SPLITS if s in outputs]
    write_atomic(out / ANNOTATIONS, dump_json({s: outputs[s]["items"] for s in ordered}))
    write_atomic(out / SIDECAR, dump_jsonl(row for s in ordered for row in outputs[s]["sidecar"]))
    write_atomic(out / MANIFEST, dump_json(manifest))
    return manifest


def build_robustvqa(out: Path, imagenet_a: Path | None, imagenet_r: Path | None, imagenet_v2: Path | None,
                    clip_model: str = "ViT-L-14", clip_pretrained: str | None = "openai",
                    classnames: Path | None = None, keep: str = "all", batch_size: int = 64,
                    templates: str = "openai", num_workers: int = 2, progress: bool = True,
                    device: str | None = None) -> dict:
    """Build RobustVQA from ImageNet-A/-R/-V2 trees with CLIP hard-negative mining; return the manifest.

    Any subset of the three inputs may be given. `keep="misclassified"` keeps only the images
    CLIP gets wrong; `templates` is openai (80 prompts), simple (7) or single. User errors raise
    UserError/DataError naming the folder or file and what was expected.
    """
    return run_build(out, imagenet_a, imagenet_r, imagenet_v2, clip_model, clip_pretrained, classnames, keep,
                     batch_size, templates, num_workers, progress, device).manifest
