"""Linear probes from a checkpoint's image tokens to the world's per-image details.

DEEM's claim for CSR is that the image encoder keeps more of the fine details the diffusion
model needs (orientation, colour, count, position, state, texture). This measures it directly:
the images are the world's *evaluation* scenes (no training image), restricted to photo-domain
scenes of one object group, so every detail is one label per image; they are split by image
into probe-train and probe-test; one multinomial logistic regression per detail is fitted on
the flattened LLM image tokens (standardised; L2 strength by cross-validation on probe-train)
of the probe-train images and scored on the probe-test ones, next to the majority-class baseline (the probe-train's most frequent label).

    python -m deem_model.probe [--data WORLD] [--checkpoints deem-tiny,deem-tiny-nocsr] [--random]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deem_eval.errors import DataError, UserError

ATTRIBUTES = ("orientation", "colour", "count", "position", "state", "texture")
EXCLUDED_PARTS = ("train", "mmvp")
"""Training images are never probed; MMVP's pairs differ in one detail, so a pair split across
probe-train and probe-test would hand the probe its answer."""
TEST_FRACTION = 0.3
CS = (1e-3, 1e-2, 1e-1, 1.0)
"""Inverse L2 strengths tried; the best by 3-fold cross-validation on probe-train is used (thousands
of token dimensions against about a thousand images: an unregularised probe would fit noise)."""
DEFAULT_CHECKPOINTS = ("deem-tiny", "deem-tiny-nocsr")


@dataclass(frozen=True)
class ProbeImage:
    """One probed image: its path under the world and its label per detail (None: not defined)."""

    image: str
    labels: dict[str, str | None]

    @property
    def is_test(self) -> bool:
        """A fixed split by image path (independent of the order the sidecars are read)."""
        h = int.from_bytes(hashlib.sha256(self.image.encode()).digest()[:4], "little")
        return h / 2**32 < TEST_FRACTION


def scene_labels(scene: dict) -> dict[str, str | None] | None:
    """The details of a one-group photo scene, or None when the scene does not qualify.

    Position is the column of the group's centre, as the world's own questions word it.
    """
    from deem_eval.builders.world.scene import group_centre, horizontal

    objects = scene.get("objects") or []
    if not objects or scene.get("domain") != "photo" or scene.get("effects"):
        return None
    if len({o["group"] for o in objects}) != 1:
        return None
    first = objects[0]
    return {
        "orientation": first.get("orientation"),
        "colour": first["colour"],
        "count": str(len(objects)),
        "position": horizontal(group_centre(scene, first["group"])[0]),
        "state": first.get("state"),
        "texture": first["texture"],
    }


def probe_images(world: Path) -> list[ProbeImage]:
    """Every qualifying evaluation image of the world, from its ``scenes/*.jsonl`` sidecars."""
    folder = Path(world) / "scenes"
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise DataError(folder, "no scene sidecars found", expected="scenes/<part>.jsonl as written by "
                        "`deem-eval build world`")
    out: dict[str, ProbeImage] = {}
    for path in files:
        if path.stem in EXCLUDED_PARTS:
            continue
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                try:
                    row = json.loads(line)
                    rel, scene = row["image"], row["scene"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DataError(path, f"not a sidecar row ({exc})", line=line_no,
                                    expected='{"image": ..., "scene": {...}}') from None
                labels = scene_labels(scene)
                if labels is not None and rel not in out:
                    out[rel] = ProbeImage(rel, labels)
    if not out:
        raise DataError(folder, "no one-group photo-domain evaluation scene to probe")
    return [out[k] for k in sorted(out)]


@dataclass(frozen=True)
class ProbeScore:
    """Accuracy (%) of one probe on probe-test, its majority baseline and the number of classes."""

    accuracy: float
    majority: float
    n_train: int
    n_test: int
    n_classes: int


def fit_probe(x_train: np.ndarray, y_train: Sequence[str], x_test: np.ndarray, y_test: Sequence[str],
              cs: Sequence[float] = CS) -> ProbeScore:
    """A standardised multinomial logistic regression (scikit-learn), its L2 strength chosen by
    3-fold cross-validation on the training rows, scored on held-out rows."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(y_train)) < 2:
        raise ValueError("a probe needs at least two classes in its training rows")
    model = make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=list(cs), cv=3, max_iter=2000, scoring="accuracy", l1_ratios=(0.0,), use_legacy_attributes=False))
    with warnings.catch_warnings():  # a rare class with fewer rows than folds is fine here
        warnings.simplefilter("ignore", UserWarning)
        model.fit(x_train, list(y_train))
    pred = model.predict(x_test)
    top = Counter(y_train).most_common(1)[0][0]
    truth = np.asarray(list(y_test))
    return ProbeScore(
        accuracy=100.0 * float(np.mean(pred == truth)),
        majority=100.0 * float(np.mean(truth == top)),
        n_train=len(y_train), n_test=len(truth), n_classes=len(set(y_train)),
    )


def probe_features(features: np.ndarray, images: Sequence[ProbeImage],
                   cs: Sequence[float] = CS) -> dict[str, ProbeScore]:
    """One probe per detail on the rows where it is defined; ``features`` is (n_images, dim).

    A detail with fewer than two classes among the probe-train rows, or no probe-test row, is left out.
    """
    scores: dict[str, ProbeScore] = {}
    test = np.array([im.is_test for im in images])
    for attr in ATTRIBUTES:
        have = np.array([im.labels[attr] is not None for im in images])
        tr, te = have & ~test, have & test
        y = [im.labels[attr] for im in images]
        y_tr = [y[i] for i in np.flatnonzero(tr)]
        if len(set(y_tr)) < 2 or not te.any():  # nothing to tell apart (e.g. a small world)
            continue
        scores[attr] = fit_probe(features[tr], y_tr, features[te], [y[i] for i in np.flatnonzero(te)], cs)
    return scores


def image_tokens(model: Any, world: Path, images: Sequence[ProbeImage], batch_size: int = 64) -> np.ndarray:
    """The flattened LLM image tokens of every image, (n_images, n_tokens * hidden)."""
    import torch
    from PIL import Image

    from .generation import encode_images

    rows = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            pics = []
            for im in images[i: i + batch_size]:
                path = Path(world) / im.image
                try:
                    with Image.open(path) as f:
                        pics.append(f.convert("RGB"))
                except (OSError, ValueError) as exc:  # a probe needs every image: no silent gaps
                    raise DataError(path, f"cannot read the sidecar's image ({exc})") from None
            rows.extend(t.flatten().float().numpy() for t in encode_images(model, pics, batch_size=batch_size))
    return np.stack(rows)


def _load(spec: str) -> Any:
    from deem_eval.models.deem import resolve_checkpoint

    from .checkpoint import load_pretrained

    return load_pretrained(resolve_checkpoint(spec))[0]


def _random_like(spec: str) -> Any:
    """The same architecture with freshly initialised weights (seed 0): what training adds."""
    import torch

    from deem_eval.models.deem import resolve_checkpoint

    from .checkpoint import load_config, load_tokenizer
    from .model import DeemModel

    directory = resolve_checkpoint(spec)
    torch.manual_seed(0)
    return DeemModel(load_config(directory / "config.json"), load_tokenizer(directory)).eval()


def format_table(results: dict[str, dict[str, ProbeScore]]) -> str:
    """A Markdown table: one row per model plus the majority baseline, one column per detail."""
    attrs = [a for a in ATTRIBUTES if any(a in r for r in results.values())]
    first = next(iter(results.values()))
    head = "| probe-test accuracy % | " + " | ".join(f"{a} ({first[a].n_classes})" for a in attrs) + " | mean |"
    lines = [head, "|---" * (len(attrs) + 2) + "|"]
    for name, scores in [*results.items(), ("majority class", None)]:
        vals = [(first if scores is None else scores)[a] for a in attrs]
        nums = [v.majority if scores is None else v.accuracy for v in vals]
        lines.append(f"| {name} | " + " | ".join(f"{n:.1f}" for n in nums) + f" | {np.mean(nums):.1f} |")
    sizes = ", ".join(f"{a} {first[a].n_train}/{first[a].n_test}" for a in attrs)
    lines.append("")
    lines.append(f"images probe-train/probe-test: {sizes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deem_model.probe", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="a built world (default: the full world in the cache)")
    ap.add_argument("--checkpoints", default=",".join(DEFAULT_CHECKPOINTS),
                    help="comma-separated bundled names or checkpoint folders")
    ap.add_argument("--random", action="store_true", help="also probe a randomly initialised model (control)")
    ap.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = ap.parse_args(argv)
    from deem_eval.runtime import set_torch_threads

    set_torch_threads()
    try:
        if args.data is None:
            from deem_eval.builders.world import ensure_world

            args.data = ensure_world("full")
        images = probe_images(args.data)
        models = [(s, lambda s=s: _load(s)) for s in args.checkpoints.split(",") if s]
        if args.random and models:
            models.append((f"random init ({models[0][0]})", lambda s=models[0][0]: _random_like(s)))
        results = {name: probe_features(image_tokens(load(), args.data, images), images)
                   for name, load in models}
    except (UserError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps({m: {a: vars(s) for a, s in r.items()} for m, r in results.items()},
                                        indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
