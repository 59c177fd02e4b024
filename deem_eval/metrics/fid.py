"""Fréchet distance between image feature distributions, and the feature extractors behind it.

FID proper needs the TensorFlow-ported Inception-v3 weights. They are never downloaded here;
they are used when found locally:

- an explicit file or folder (``--task-args fid_coco.inception=PATH``);
- clean-fid's TorchScript file, which clean-fid downloads to ``/tmp/inception-2015-12-05.pt``;
- torch-fidelity's state dict in the torch hub cache,
  ``$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth``
  (used through torchmetrics, which needs the ``torch-fidelity`` package).

With the TorchScript file, features come from clean-fid in ``clean`` mode (PIL bicubic
resize to 299 on float pixels); with the state dict, from torchmetrics' Inception with
``antialias=False``. Without weights the distance is computed on :class:`PixelFeatures` and
reported as ``fd_pixels`` — or, when an open_clip model with local weights is given, on its
image embeddings as ``fd_clip``, or on the built-in world on the bundled world-trained CLIP
(``mining-vit``) as ``fd_worldclip`` — never as FID, since the numbers are not comparable.
"""

from __future__ import annotations

import os
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import UserError

CLEANFID_FILE = "inception-2015-12-05.pt"
CLEANFID_CACHE = Path("/tmp")  # where clean-fid downloads its TorchScript Inception on Linux/macOS
FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"


# ---- the distance ---------------------------------------------------------------------------
def _sym(m: np.ndarray) -> np.ndarray:
    return (m + m.T) / 2


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrtm(Σ1 Σ2) via the symmetric form tr sqrt(A Σ2 A), A = Σ1^½ (stable for singular Σ)."""
    w, v = np.linalg.eigh(_sym(np.asarray(sigma1, dtype=np.float64)))
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(_sym(root @ np.asarray(sigma2, dtype=np.float64) @ root))
    return float(np.sqrt(np.clip(ev, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """d² = |μ1 − μ2|² + tr Σ1 + tr Σ2 − 2 tr sqrtm(Σ1 Σ2) between two Gaussians."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt_product(s1, s2)
    return float(max(value, 0.0))


def feature_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (rows are samples), as clean-fid and pytorch-fid compute them."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance_features(x1: np.ndarray, x2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (rows are samples).

    With fewer samples than dimensions, Σ = XᵀX/(n−1) has rank < n, and the nonzero
    eigenvalues of Σ1Σ2 are the squared singular values of X1X2ᵀ/√((n1−1)(n2−1)), so
    tr sqrtm(Σ1Σ2) is that matrix's nuclear norm: exact, and much cheaper than a d×d root.
    """
    x1, x2 = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
        raise ValueError(f"feature sets must be (n, d) with the same d, got {x1.shape} and {x2.shape}")
    n1, n2, d = x1.shape[0], x2.shape[0], x1.shape[1]
    if n1 < 2 or n2 < 2:
        raise ValueError("a Fréchet distance needs at least two samples per set")
    if min(n1, n2) >= d:
        return frechet_distance(*feature_stats(x1), *feature_stats(x2))
    mu1, mu2 = x1.mean(axis=0), x2.mean(axis=0)
    c1, c2 = x1 - mu1, x2 - mu2
    tr1 = float((c1 * c1).sum()) / (n1 - 1)
    tr2 = float((c2 * c2).sum()) / (n2 - 1)
    cross = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    diff = mu1 - mu2
    return float(max(diff @ diff + tr1 + tr2 - 2 * cross, 0.0))


# ---- feature extractors ---------------------------------------------------------------------
class Extractor(Protocol):
    metric: str  # the name the distance is reported under

    def features(self, files: Sequence[Path]) -> np.ndarray: ...


class PixelFeatures:
    """Offline fallback: an 8×8 RGB thumbnail (box filter) plus 8-bin colour histograms, 216 dims.

    It measures layout and colour statistics only; it is deterministic and needs no weights.
    """

    metric = "fd_pixels"
    thumb = 8
    bins = 8

    def features(self, files: Sequence[Path]) -> np.ndarray:
        from PIL import Image

        rows = []
        for f in files:
            with Image.open(f) as im:
                rgb = im.convert("RGB")
            thumb = np.asarray(rgb.resize((self.thumb, self.thumb), Image.Resampling.BOX), dtype=np.float64) / 255
            small = np.asarray(rgb.resize((64, 64), Image.Resampling.BOX)).astype(np.int64)
            hists = [np.bincount(small[..., c].ravel() * self.bins // 256, minlength=self.bins) / small[..., c].size
                     for c in range(3)]
            rows.append(np.concatenate([thumb.ravel(), *hists]))
        return np.stack(rows)


class CleanFidInception:
    """clean-fid's TorchScript Inception-v3 pool features (2048-d), ``clean`` mode resizing."""

    metric = "fid"

    def __init__(self, path: Path, batch_size: int = 32):
        import torch
        from cleanfid.inception_torchscript import InceptionV3W

        from ..runtime import set_torch_threads

        set_torch_threads()
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        path = Path(path)
        with warnings.catch_warnings():  # torch marks torch.jit.load, which clean-fid uses, deprecated
            warnings.simplefilter("ignore", FutureWarning)
            if path.name == CLEANFID_FILE:
                model = InceptionV3W(str(path.parent), download=False, resize_inside=False)
            else:  # InceptionV3W loads <folder>/inception-2015-12-05.pt: give it that name
                with tempfile.TemporaryDirectory() as tmp:
                    os.symlink(path.resolve(), os.path.join(tmp, CLEANFID_FILE))
                    model = InceptionV3W(tmp, download=False, resize_inside=False)
        self.model = model.to(self.device).eval()

    def features(self, files: Sequence[Path]) -> np.ndarray:
        from cleanfid.fid import get_files_features

        return get_files_features([str(f) for f in files], model=self.model, num_workers=0,
                                  batch_size=self.batch_size, device=self.device, mode="clean", verbose=False)


class FidelityInception:
    """torch-fidelity's Inception-v3 (via torchmetrics) from a local state dict, ``antialias=False``."""

    metric = "fid"

    def __init__(self, path: Path):
        import torch
        from torchmetrics.image.fid import NoTrainInceptionV3

        from ..runtime import set_torch_threads

        set_torch_threads()
        self._torch = torch
        self.model = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                        feature_extractor_weights_path=str(path), antialias=False).eval()

    def features(self, files: Sequence[Path]) -> np.ndarray:
        from PIL import Image

        torch = self._torch
        rows = []
        with torch.no_grad():
            for f in files:  # images may differ in size; the model resizes each to 299 itself
                with Image.open(f) as im:
                    arr = np.asarray(im.convert("RGB"))
                x = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)
                rows.append(self.model(x).reshape(1, -1).double().numpy())
        return np.concatenate(rows)


# ---- finding weights ------------------------------------------------------------------------
def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME or $XDG_CACHE_HOME/torch, then hub."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "torch")
    return Path(home) / "hub"


def is_torchscript(path: Path) -> bool:
    """TorchScript archives carry compiled code; plain state dicts (torch.save) do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any("/code/" in n or n.endswith("constants.pkl") for n in zf.namelist())


def _fidelity_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch_fidelity") is not None


def find_inception(explicit: str | None = None) -> tuple[str, Path] | None:
    """("cleanfid" | "fidelity", path) of usable local Inception weights, or None.

    An explicit path that does not exist, or cannot be used, is a UserError.
    """
    if explicit:
        p = Path(explicit).expanduser()
        if p.is_dir():
            for name in (CLEANFID_FILE, FIDELITY_FILE):
                if (p / name).is_file():
                    p = p / name
                    break
        if not p.is_file():
            raise UserError(f"fid_coco.inception={explicit}: no such file (expected clean-fid's {CLEANFID_FILE} "
                            f"or torch-fidelity's {FIDELITY_FILE}, or a folder holding one)")
        if is_torchscript(p):
            return "cleanfid", p
        if not _fidelity_available():
            raise UserError(f"{p} is an Inception state dict, which needs the torch-fidelity package "
                            f"(pip install torch-fidelity); clean-fid's TorchScript {CLEANFID_FILE} needs nothing more")
        return "fidelity", p
    cleanfid_cache = CLEANFID_CACHE / CLEANFID_FILE
    if cleanfid_cache.is_file() and is_torchscript(cleanfid_cache):
        return "cleanfid", cleanfid_cache
    fidelity_cache = torch_hub_dir() / "checkpoints" / FIDELITY_FILE
    if fidelity_cache.is_file() and _fidelity_available():
        return "fidelity", fidelity_cache
    return None


@dataclass(frozen=True)
class ExtractorChoice:
    """Which features a Fréchet distance uses and the name it is reported under."""

    metric: str  # "fid", "fd_clip", "fd_worldclip" or "fd_pixels"
    inception: tuple[str, Path] | None = None  # ("cleanfid" | "fidelity", weights)
    clip: tuple[str, str] | None = None  # (open_clip model name, pretrained file or tag)
    world_clip: Path | None = None  # the bundled world-trained CLIP's folder


def clip_spec(model: str | None, pretrained: str | None) -> tuple[str, str] | None:
    """(model, pretrained) for open_clip, or None; a model without weights is refused (random weights)."""
    if not model:
        return None
    if not pretrained:
        raise UserError(f"fid_coco.clip_model={model} needs fid_coco.clip_pretrained=FILE (or a cached open_clip tag)")
    return model, pretrained


def world_clip_dir() -> Path | None:
    """The bundled world-trained CLIP (``mining-vit``), or None when it is not installed."""
    from ..default_data import mining_clip_dir

    path = mining_clip_dir()
    return path if (path / "open_clip_config.json").is_file() else None


def choose_extractor(kind: str = "auto", inception: str | None = None, clip_model: str | None = None,
                     clip_pretrained: str | None = None, on_world: bool = False) -> ExtractorChoice:
    """Validate the choice without loading any model.

    ``kind``: auto (Inception if found locally, else CLIP if given, else on the built-in world
    the bundled world-trained CLIP, else pixels), inception, clip, worldclip or pixels (each
    required to be available). Pixel statistics cannot tell two generators of the world apart,
    a CLIP trained on the world's images can; it means nothing on real photographs.
    """
    if kind not in ("auto", "inception", "clip", "worldclip", "pixels"):
        raise UserError(f"fid_coco.extractor={kind!r}: expected auto, inception, clip, worldclip or pixels")
    clip = clip_spec(clip_model, clip_pretrained)
    if kind == "pixels":
        return ExtractorChoice(PixelFeatures.metric)
    if kind == "worldclip":
        found_world = world_clip_dir()
        if found_world is None:
            raise UserError("fid_coco.extractor=worldclip needs the bundled mining-vit checkpoint "
                            "(deem_model/checkpoints/mining-vit; `make checkpoints` trains it)")
        return ExtractorChoice(WorldClipFeatures.metric, world_clip=found_world)
    if kind in ("auto", "inception"):
        found = find_inception(inception)
        if found is not None:
            return ExtractorChoice("fid", inception=found)
        if kind == "inception":
            raise UserError(f"no local Inception weights: pass fid_coco.inception=PATH, or place clean-fid's "
                            f"{CLEANFID_CACHE / CLEANFID_FILE} or torch-fidelity's "
                            f"{torch_hub_dir() / 'checkpoints' / FIDELITY_FILE}")
    if clip is not None:
        return ExtractorChoice(ClipFeatures.metric, clip=clip)
    if kind == "clip":
        raise UserError("fid_coco.extractor=clip needs fid_coco.clip_model=NAME and fid_coco.clip_pretrained=FILE")
    found_world = world_clip_dir() if on_world else None
    if found_world is not None:
        return ExtractorChoice(WorldClipFeatures.metric, world_clip=found_world)
    return ExtractorChoice(PixelFeatures.metric)


def build_extractor(choice: ExtractorChoice, batch_size: int = 32) -> Extractor:
    """Load the model behind a :class:`ExtractorChoice`."""
    if choice.inception is not None:
        source, path = choice.inception
        return CleanFidInception(path, batch_size) if source == "cleanfid" else FidelityInception(path)
    if choice.clip is not None:
        return ClipFeatures(*choice.clip, batch_size=batch_size)
    if choice.world_clip is not None:
        return WorldClipFeatures(choice.world_clip, batch_size=batch_size)
    return PixelFeatures()


# ---- CLIP: image features and text-image agreement ---------------------------------------------
class ClipFeatures:
    """An open_clip model from local weights: L2-normalised image and text embeddings.

    As a Fréchet-distance extractor it is reported as ``fd_clip``; :func:`clip_scores` uses the
    same embeddings for caption-image agreement.
    """

    metric = "fd_clip"

    def __init__(self, model_name: str, pretrained: str, batch_size: int = 32):
        import open_clip
        import torch

        from ..runtime import set_torch_threads

        set_torch_threads()
        self._torch = torch
        self.batch_size = batch_size
        try:
            self.model, _, self.preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
            self.tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as exc:  # open_clip raises RuntimeError/ValueError/OSError for unknown names and files
            raise UserError(f"cannot load CLIP model {model_name!r} with weights {pretrained!r}: {exc}") from exc
        self.model.eval()

    def _normalised(self, x: Any) -> np.ndarray:
        x = x.float()
        return (x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)).double().numpy()

    def features(self, files: Sequence[Path]) -> np.ndarray:
        from PIL import Image

        torch = self._torch
        out = []
        with torch.no_grad():
            for i in range(0, len(files), self.batch_size):
                batch = []
                for f in files[i : i + self.batch_size]:
                    with Image.open(f) as im:
                        batch.append(self.preprocess(im.convert("RGB")))
                out.append(self._normalised(self.model.encode_image(torch.stack(batch))))
        return np.concatenate(out)

    def text_features(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                out.append(self._normalised(self.model.encode_text(self.tokenizer(list(texts[i : i + self.batch_size])))))
        return np.concatenate(out)


class WorldClipFeatures(ClipFeatures):
    """The bundled world-trained open_clip ViT (``mining-vit``), loaded like the RobustVQA miner.

    Reported as ``fd_worldclip``: a Fréchet distance on embeddings of a CLIP trained on the
    world's own alt-text pairs (category names only), so it sees which objects are drawn, not
    Inception's ImageNet features. :func:`clip_scores` with it is prompt-image agreement.
    """

    metric = "fd_worldclip"

    def __init__(self, folder: Path, batch_size: int = 32):
        import torch

        from ..builders.robustvqa.clip_model import LOCAL_DIR, load_clip
        from ..runtime import set_torch_threads

        set_torch_threads()
        self._torch = torch
        self.batch_size = batch_size
        bundle = load_clip(f"{LOCAL_DIR}{folder}", None, "cpu")
        self.model, self.preprocess, self.tokenizer = bundle.model, bundle.preprocess, bundle.tokenizer


def clip_scores(image_features: np.ndarray, text_features: np.ndarray) -> np.ndarray:
    """Per-pair CLIP score, 100 · max(cos(image, text), 0) (torchmetrics' convention; Hessel et al. use 2.5·)."""
    cos = np.sum(np.asarray(image_features) * np.asarray(text_features), axis=1)
    return 100 * np.clip(cos, 0, None)
