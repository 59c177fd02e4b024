"""``fid_coco``: text-to-image generation from COCO captions, scored by FID against the real images.

Samples: one per image of ``fid_coco/captions.json`` that has a caption; the caption is the
image's annotation with the lowest id (deterministic), the sample id is ``str(image_id)``
and the reference image is ``fid_coco/images/{file_name}``.

Predictions are paths of generated images, one per sample: the runner asks the model for
one image per prompt (the caption), saves it as a PNG and uses the file's path as the
prediction, so ``deem-eval score`` can re-score a run from its samples file. Relative paths are resolved against ``fid_coco.generated_dir`` when given,
else against the working directory. A missing or undecodable image is a per-sample error.

The metric is FID when Inception weights are available locally, else the Fréchet distance on
another named extractor: the image embeddings of an open_clip model given by
``fid_coco.clip_model`` / ``fid_coco.clip_pretrained`` (``fd_clip``); on the built-in world
(a data root with ``world.json``), the bundled world-trained CLIP ``mining-vit``
(``fd_worldclip``, also ``fid_coco.extractor=worldclip``); else offline pixel features
(``fd_pixels``); see :mod:`deem_eval.metrics.fid`. With a CLIP model, ``clip_score``
(100 · max(cos, 0) between each generated image and its caption, with the same model) is
reported too, and each record's ``score`` is its CLIP score.
The generated set is compared with the reference images of the same samples. The 95%
interval resamples caption/image pairs; every resample costs a full Fréchet distance, so it
uses ``fid_coco.n_boot`` resamples (default 50) rather than the usual 1000.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.metrics.fid import (
    ClipFeatures,
    build_extractor,
    choose_extractor,
    clip_scores,
    clip_spec,
    frechet_distance_features,
)
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import Task, TaskConfig

LAYOUT = (
    'fid_coco/captions.json in COCO captions format: {"images": [{id, file_name, ...}], '
    '"annotations": [{id, image_id, caption}]}, reference images at fid_coco/images/{file_name}'
)


@dataclasses.dataclass
class FidCocoConfig(TaskConfig):
    inception: str | None = None  # Inception weights: clean-fid .pt (TorchScript) or torch-fidelity .pth
    extractor: str = "auto"  # auto | inception | clip | worldclip | pixels
    clip_model: str | None = None  # open_clip model name, for fd_clip and clip_score
    clip_pretrained: str | None = None  # its local weights file (or a cached open_clip tag)
    generated_dir: str | None = None  # base folder for relative prediction paths
    n_boot: int = 50  # bootstrap resamples for the interval (each is a full Fréchet distance)
    batch_size: int = 32


def _check_image(path: Path) -> str | None:
    """None if the file decodes as an image, else the reason."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
    except FileNotFoundError:
        return f"image not found: {path}"
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        return f"cannot decode image {path}: {exc}"
    return None


@register_task("fid_coco")
class FidCocoTask(Task):
    """Caption-conditioned image generation; FID (or a labelled Fréchet distance) to COCO images."""

    name = "fid_coco"
    folder = "fid_coco"
    expected = ("captions.json", "images")
    source = (
        "COCO 2014 val captions (annotations/captions_val2014.json, or a 30k subset in the same format) "
        "and the matching images, cocodataset.org"
    )
    metrics = ("fid", "fd_clip", "fd_worldclip", "fd_pixels", "clip_score")
    headline = "fid"
    output_type = "image"
    prompt_template = "{question}"
    Config = FidCocoConfig

    def __init__(self, data_root: Path, config: TaskConfig | None = None):
        super().__init__(data_root, config)
        cfg = self.config
        self.choice = choose_extractor(cfg.extractor, cfg.inception, cfg.clip_model, cfg.clip_pretrained,
                                       on_world=(Path(data_root) / "world.json").is_file())
        self.metric = self.choice.metric
        self.headline = self.metric
        self._clip = clip_spec(cfg.clip_model, cfg.clip_pretrained)
        self._scores_clip = self._clip is not None or self.choice.world_clip is not None
        self._features: tuple[np.ndarray, np.ndarray] | None = None
        self._clip_scores: np.ndarray | None = None
        self._feature_ids: tuple[str, ...] = ()

    # ---- data ---------------------------------------------------------------------------
    def samples(self) -> Iterator[Sample]:
        path = self.data_dir / "captions.json"
        doc = read_json(path, expected=LAYOUT)
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) \
                or not isinstance(doc.get("annotations"), list):
            raise DataError(path, "needs top-level 'images' and 'annotations' lists", expected=LAYOUT)
        first: dict[int, tuple[int, str]] = {}
        for i, ann in enumerate(doc["annotations"]):
            where = f"annotations[{i}]"
            if not isinstance(ann, dict) or not isinstance(ann.get("caption"), str):
                raise DataError(path, f"{where} lacks a string 'caption'", expected=LAYOUT)
            ann_id, image_id = ann.get("id"), ann.get("image_id")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (ann_id, image_id)):
                raise DataError(path, f"{where}: 'id' and 'image_id' must be integers", expected=LAYOUT)
            if image_id not in first or ann_id < first[image_id][0]:
                first[image_id] = (ann_id, ann["caption"])
        seen: set[int] = set()
        image_root = self.data_dir / "images"
        for i, img in enumerate(doc["images"]):
            where = f"images[{i}]"
            if not isinstance(img, dict) or not isinstance(img.get("file_name"), str):
                raise DataError(path, f"{where} lacks a string 'file_name'", expected=LAYOUT)
            image_id = img.get("id")
            if not isinstance(image_id, int) or isinstance(image_id, bool):
                raise DataError(path, f"{where}: 'id' must be an integer", expected=LAYOUT)
            if image_id in seen:
                raise DataError(path, f"{where}: duplicate image id {image_id}")
            seen.add(image_id)
            if image_id not in first:
                continue
            file_name = img["file_name"]
            yield Sample(
                id=str(image_id),
                target=file_name,
                image=ImageRef(key=f"fid_coco/{file_name}", path=inside(image_root, file_name, "image", path)),
                question=" ".join(first[image_id][1].split()),
                meta={"annotation_id": first[image_id][0]},
            )
        if not seen & first.keys():
            raise DataError(path, "no image has a caption", expected=LAYOUT)

    def generated_path(self, prediction: str) -> Path:
        p = Path(prediction).expanduser()
        if not p.is_absolute() and self.config.generated_dir:
            p = Path(self.config.generated_dir).expanduser() / p
        return p

    # ---- scoring ------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        """Check that both images decode; the distance itself is corpus-level (``prepare``)."""
        if not prediction:
            return {"score": None, "error": "no generated image path"}
        gen = self.generated_path(prediction)
        problem = _check_image(gen)
        if problem is None and sample.image is not None and sample.image.path is not None:
            problem = _check_image(sample.image.path)
        out: dict[str, Any] = {"score": None, "generated": str(gen)}
        if problem:
            out["error"] = problem
        return out

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Extract features of the generated and reference images of the records without errors."""
        self._features, self._feature_ids, self._clip_scores = None, (), None
        valid = [r for r in records if r.get("error") is None]
        if len(valid) < 2:
            return
        extractor = build_extractor(self.choice, self.config.batch_size)
        generated = [Path(r["generated"]) for r in valid]
        gen = extractor.features(generated)
        ref = extractor.features([r["_sample"].image.path for r in valid])
        self._features = (gen, ref)
        self._feature_ids = tuple(str(r["id"]) for r in valid)
        if self._scores_clip:
            clip = extractor if isinstance(extractor, ClipFeatures) else ClipFeatures(*self._clip)
            image_feats = gen if clip is extractor else clip.features(generated)
            self._clip_scores = clip_scores(image_feats, clip.text_features([r["_sample"].question for r in valid]))
            for rec, value in zip(valid, self._clip_scores, strict=True):
                rec["score"] = round(float(value), 4)

    def _check_prepared(self, records: list[dict[str, Any]]) -> bool:
        ids = tuple(str(r["id"]) for r in records if r.get("error") is None)
        return self._features is not None and ids == self._feature_ids

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return {"n": 0.0 if record.get("error") else 1.0}

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        """Unused: a Fréchet distance is not a function of summed per-sample statistics."""
        return {}

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        if not self._check_prepared(records):
            return {}
        gen, ref = self._features  # type: ignore[misc]
        out = {self.metric: frechet_distance_features(gen, ref)}
        if self._clip_scores is not None:
            out["clip_score"] = float(self._clip_scores.mean())
        return out

    def confidence_intervals(
        self, records: list[dict[str, Any]], n_boot: int = 1000, seed: int = 0
    ) -> dict[str, list[float]]:
        """Percentile bootstrap over caption/image pairs with ``min(n_boot, fid_coco.n_boot)`` resamples."""
        if not self._check_prepared(records):
            return {}
        gen, ref = self._features  # type: ignore[misc]
        rng = np.random.default_rng(seed)
        n = gen.shape[0]
        values: dict[str, list[float]] = {self.metric: []}
        if self._clip_scores is not None:
            values["clip_score"] = []
        for _ in range(max(1, min(n_boot, self.config.n_boot))):
            idx = rng.integers(0, n, size=n)
            if np.unique(idx).size < 2:
                continue
            values[self.metric].append(frechet_distance_features(gen[idx], ref[idx]))
            if self._clip_scores is not None:
                values["clip_score"].append(float(self._clip_scores[idx].mean()))
        out = {}
        for name, vals in values.items():
            if vals:
                lo, hi = np.percentile(vals, [2.5, 97.5])
                out[name] = [round(float(lo), 4), round(float(hi), 4)]
        return out
