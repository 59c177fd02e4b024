"""Image features in DataLoader workers and CLIP hard-negative mining over a split's label space."""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dist import DistContext
from .store import BatchResult, FeatureStore

CHECKPOINT_SECONDS = 30.0
"""How often computed features are flushed to the per-split checkpoint."""


def _reason(e: BaseException) -> str:
    """A stable, path- and address-free description of why an image could not be used."""
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", str(e)).replace("<_io.BytesIO object>", "data")
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class ImageFiles:
    """Map-style dataset: read bytes, hash them, decode and transform; failures are returned, not raised."""

    def __init__(self, root: Path, relpaths: list[str], transform: Callable):
        self.root = Path(root)
        self.relpaths = relpaths
        self.transform = transform

    def __len__(self) -> int:
        return len(self.relpaths)

    def __getitem__(self, i: int) -> tuple[int, Any, str | None, str | None]:
        from PIL import Image

        try:
            data = (self.root / self.relpaths[i]).read_bytes()
        except OSError as e:
            return i, None, None, f"unreadable: {e.strerror or _reason(e)}"
        digest = hashlib.sha256(data).hexdigest()
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                pixels = self.transform(im)
        except Exception as e:  # any decoder failure makes this one image unusable
            return i, None, digest, f"corrupt image: {_reason(e)}"
        return i, pixels, digest, None


def collate(batch: list[tuple[int, Any, str | None, str | None]]) -> dict[str, Any]:
    """Stack the decoded images of a batch; keep indices, digests and errors aside."""
    import torch

    ok = [(i, px) for i, px, _, err in batch if err is None]
    return {
        "indices": [i for i, _ in ok],
        "pixels": torch.stack([px for _, px in ok]) if ok else None,
        "digests": {i: d for i, _, d, _ in batch if d is not None},
        "errors": {i: err for i, _, _, err in batch if err is not None},
    }


def encode_images(model: Any, pixels: Any, device: str) -> Any:
    """L2-normalised image embeddings [B, D] on CPU, float32."""
    import torch

    with torch.inference_mode():
        feats = model.encode_image(pixels.to(device)).float()
        return torch.nn.functional.normalize(feats, dim=-1).cpu()


@dataclass
class ExtractStats:
    """Timing of one extraction (for benchmarks; never written to the deterministic outputs)."""

    images: int = 0
    batches_computed: int = 0
    batches_resumed: int = 0
    forward_seconds: float = 0.0
    wall_seconds: float = 0.0


def batch_ranges(n: int, batch_size: int) -> list[list[int]]:
    """Fixed batches of item indices: batch b holds [b*B, min(n, (b+1)*B))."""
    return [list(range(s, min(n, s + batch_size))) for s in range(0, n, batch_size)]


def extract_features(root: Path, relpaths: list[str], bundle: Any, batch_size: int, num_workers: int,
                     ctx: DistContext, store: FeatureStore,
                     advance: Callable[[int], None] | None = None) -> tuple[dict[int, BatchResult], ExtractStats]:
    """Features for every batch of a split: resumed from the store, computed round-robin by rank, gathered."""
    from torch.utils.data import DataLoader

    t0 = time.perf_counter()
    stats = ExtractStats()
    batches = batch_ranges(len(relpaths), batch_size)
    if ctx.is_main:
        store.prune()
    ctx.barrier()
    done = {b: r for b, r in store.load().items() if b < len(batches)}
    stats.batches_resumed = len(done)
    mine = [b for b in range(len(batches)) if b % ctx.world_size == ctx.rank and b not in done]
    if advance:
        advance(sum(len(batches[b]) for b in done if b % ctx.world_size == ctx.rank))
    new: dict[int, BatchResult] = {}
    if mine:
        loader = DataLoader(ImageFiles(root, relpaths, bundle.preprocess), batch_sampler=[batches[b] for b in mine],
                            num_workers=num_workers, collate_fn=collate)
        last_flush = time.perf_counter()
        try:
            for b, batch in zip(mine, loader, strict=True):
                if batch["pixels"] is not None:
                    tf = time.perf_counter()
                    feats = encode_images(bundle.model, batch["pixels"], bundle.device)
                    stats.forward_seconds += time.perf_counter() - tf
                else:
                    import torch

                    feats = torch.zeros((0,), dtype=torch.float32)
                new[b] = BatchResult(batch["indices"], feats, batch["digests"], batch["errors"])
                store.add(b, new[b])
                stats.batches_computed += 1
                stats.images += len(batches[b])
                if advance:
                    advance(len(batches[b]))
                if time.perf_counter() - last_flush >= CHECKPOINT_SECONDS:
                    store.flush()
                    last_flush = time.perf_counter()
        finally:
            store.flush()
    for part in ctx.gather(new):
        done.update(part)
    missing = [b for b in range(len(batches)) if b not in done]
    if missing:
        raise RuntimeError(f"features missing for batches {missing[:5]} after gathering from all ranks")
    stats.wall_seconds = time.perf_counter() - t0
    return done, stats


@dataclass
class Mined:
    """Per decoded item: CLIP's top-1 and the hardest negative (label-space indices) with cosine scores."""

    indices: list[int]
    top1: list[int]
    negative: list[int]
    gt_score: list[float]
    top1_score: list[float]
    negative_score: list[float]


def mine_negatives(indices: list[int], features: Any, labels: list[int], text: Any) -> Mined | None:
    """Score features [N, D] against class embeddings [C, D]; the negative is the best class ≠ ground truth.

    `labels` and the returned class indices index the split's own label space, so A and R are
    never scored over classes they do not have."""
    import torch

    if len(labels) == 0:
        return None
    if not (len(indices) == len(labels) == features.shape[0]):
        raise ValueError("indices, features and labels must be aligned")
    scores = features.float() @ text.float().T
    rows = torch.arange(len(labels))
    gt = torch.tensor(labels, dtype=torch.int64)
    top1 = scores.argmax(dim=1)
    masked = scores.clone()
    masked[rows, gt] = float("-inf")
    negative = masked.argmax(dim=1)
    return Mined(
        indices=list(indices),
        top1=top1.tolist(),
        negative=negative.tolist(),
        gt_score=scores[rows, gt].tolist(),
        top1_score=scores[rows, top1].tolist(),
        negative_score=scores[rows, negative].tolist(),
    )
