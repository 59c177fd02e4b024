"""Fréchet distance against a scipy sqrtm reference, the pixel extractor, and finding Inception weights."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from PIL import Image

from deem_eval.errors import UserError
from deem_eval.metrics import fid


def reference_fd(mu1, s1, mu2, s2) -> float:
    """The textbook formula with scipy's matrix square root (as pytorch-fid computes it)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def random_gaussian(rng, d):
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


def test_matches_scipy_sqrtm_on_random_gaussians():
    rng = np.random.default_rng(0)
    for d in (2, 5, 16):
        mu1, s1 = random_gaussian(rng, d)
        mu2, s2 = random_gaussian(rng, d)
        assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference_fd(mu1, s1, mu2, s2), rel=1e-8)


def test_identical_distributions_are_at_distance_zero():
    mu, s = random_gaussian(np.random.default_rng(1), 6)
    assert fid.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)


def test_one_dimensional_gaussians_by_hand():
    mu1, sd1, mu2, sd2 = 1.5, 2.0, -0.5, 0.5
    expected = (mu1 - mu2) ** 2 + sd1**2 + sd2**2 - 2 * sd1 * sd2
    assert fid.frechet_distance(np.array([mu1]), np.array([[sd1**2]]), np.array([mu2]), np.array([[sd2**2]])) \
        == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n1, n2, d", [(40, 30, 8), (6, 9, 50), (3, 4, 400)])
def test_from_features_matches_the_reference_for_few_and_many_samples(n1, n2, d):
    rng = np.random.default_rng(n1 + d)
    x1 = rng.normal(size=(n1, d))
    x2 = rng.normal(loc=0.3, size=(n2, d)) * 1.5
    mu1, s1 = x1.mean(0), np.cov(x1, rowvar=False)
    mu2, s2 = x2.mean(0), np.cov(x2, rowvar=False)
    expected = reference_fd(mu1, s1, mu2, s2) if d <= 50 else None
    got = fid.frechet_distance_features(x1, x2)
    if expected is not None:
        assert got == pytest.approx(expected, rel=1e-6)
    # the nuclear-norm shortcut (used when n < d) and the covariance route agree; with singular
    # covariances the latter takes square roots of round-off-sized eigenvalues, hence rel=1e-6
    assert got == pytest.approx(fid.frechet_distance(mu1, s1, mu2, s2), rel=1e-6)
    assert fid.frechet_distance_features(x1, x1) == pytest.approx(0.0, abs=1e-8)


def test_feature_set_errors():
    with pytest.raises(ValueError, match="at least two"):
        fid.frechet_distance_features(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same d"):
        fid.frechet_distance_features(np.zeros((4, 3)), np.zeros((4, 2)))


def test_pixel_features(tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (20, 12), (255, 0, 64)).save(flat)
    halves = tmp_path / "halves.png"
    im = Image.new("RGB", (16, 16), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 16, 8))
    im.save(halves)
    f = fid.PixelFeatures().features([flat, halves])
    assert f.shape == (2, 8 * 8 * 3 + 3 * 8)
    thumb = f[0, :192].reshape(8, 8, 3)
    assert np.allclose(thumb, [1.0, 0.0, 64 / 255])
    hist = f[0, 192:].reshape(3, 8)
    assert hist.sum(axis=1) == pytest.approx([1, 1, 1]) and hist[0, 7] == 1 and hist[1, 0] == 1 and hist[2, 2] == 1
    assert np.allclose(f[1, 192:].reshape(3, 8)[:, [0, 7]], 0.5)  # half black, half white
    assert np.allclose(f[1, :96], 1.0) and np.allclose(f[1, 96:192], 0.0)  # top rows white, bottom black


def test_no_weights_means_pixels_and_explicit_choices_are_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(fid, "CLEANFID_CACHE", tmp_path / "nowhere")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert fid.find_inception(None) is None
    assert fid.choose_extractor("auto") == fid.ExtractorChoice("fd_pixels")
    assert isinstance(fid.build_extractor(fid.choose_extractor("auto")), fid.PixelFeatures)
    # without Inception, a given CLIP model is preferred to pixels
    assert fid.choose_extractor("auto", clip_model="ViT-B-32", clip_pretrained="w.pt") == \
        fid.ExtractorChoice("fd_clip", clip=("ViT-B-32", "w.pt"))
    assert fid.choose_extractor("pixels", clip_model="ViT-B-32", clip_pretrained="w.pt").metric == "fd_pixels"
    # on the built-in world the bundled world-trained CLIP comes before pixels; a given CLIP before it
    assert fid.choose_extractor("auto", on_world=True) == \
        fid.ExtractorChoice("fd_worldclip", world_clip=fid.world_clip_dir())
    assert fid.choose_extractor("auto", clip_model="ViT-B-32", clip_pretrained="w.pt", on_world=True).metric == "fd_clip"
    assert fid.choose_extractor("pixels", on_world=True).metric == "fd_pixels"
    with pytest.raises(UserError, match="no local Inception weights"):
        fid.choose_extractor("inception")
    with pytest.raises(UserError, match="needs fid_coco.clip_model"):
        fid.choose_extractor("clip")
    with pytest.raises(UserError, match="needs fid_coco.clip_pretrained"):
        fid.choose_extractor("auto", clip_model="ViT-B-32")
    with pytest.raises(UserError, match="no such file"):
        fid.find_inception(str(tmp_path / "missing.pt"))
    with pytest.raises(UserError, match="expected auto, inception, clip, worldclip or pixels"):
        fid.choose_extractor("dino")


def test_clip_scores_by_hand():
    img = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    txt = np.array([[1.0, 0.0], [0.0, -1.0], [0.8, 0.6]])
    assert fid.clip_scores(img, txt) == pytest.approx([100.0, 0.0, 100 * (0.48 + 0.48)])


def test_state_dict_weights_need_torch_fidelity(tmp_path, monkeypatch):
    import torch

    path = tmp_path / fid.FIDELITY_FILE
    torch.save({"w": torch.zeros(2)}, path)
    assert not fid.is_torchscript(path)
    monkeypatch.setattr(fid, "_fidelity_available", lambda: False)
    with pytest.raises(UserError, match="torch-fidelity"):
        fid.find_inception(str(tmp_path))
    monkeypatch.setattr(fid, "_fidelity_available", lambda: True)
    assert fid.find_inception(str(tmp_path)) == ("fidelity", path)
    # the torch hub cache is found without an explicit path
    monkeypatch.setattr(fid, "CLEANFID_CACHE", tmp_path / "nowhere")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    (tmp_path / "th/hub/checkpoints").mkdir(parents=True)
    cached = tmp_path / "th/hub/checkpoints" / fid.FIDELITY_FILE
    path.rename(cached)
    assert fid.find_inception(None) == ("fidelity", cached)
