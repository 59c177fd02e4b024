"""fid_coco: captions in, generated image paths as predictions, a labelled Fréchet distance out."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from deem_eval.errors import DataError, UserError
from deem_eval.metrics import fid
from deem_eval.registry import TASKS

from .util import FIXTURES, copy_fixture, score, task, write_predictions

IDS = ["301", "302", "303", "304"]
REFS = {i: FIXTURES / f"fid_coco/images/COCO_val2014_000000000{i}.jpg" for i in IDS}
PIXELS = {"extractor": "pixels"}


def test_samples_one_per_image_with_its_first_caption():
    t = task("fid_coco")
    assert t.output_type == "image" and TASKS.get("fid_coco").expected == ("captions.json", "images")
    samples = list(t.samples())
    assert [s.id for s in samples] == IDS
    # image 301 has captions 950 (listed first) and 900: the lowest id wins
    assert samples[0].question == "A red square on a white table." and samples[0].meta["annotation_id"] == 900
    assert samples[2].target == "COCO_val2014_000000000303.jpg"
    assert samples[2].image.path == REFS["303"].resolve()
    assert t.prompt(samples[1]) == "A green field under the sky."  # the prompt is the caption itself
    assert t.prompt_fingerprint() and t.data_fingerprint()


def test_copies_of_the_references_and_a_shuffle_of_them_are_at_distance_zero(tmp_path):
    result = score("fid_coco", {i: str(REFS[i]) for i in IDS}, tmp_path, task_args=PIXELS)
    assert result.n == 4 and result.n_errors == 0
    assert set(result.metrics) == {"fd_pixels"} and "fid" not in result.metrics
    assert result.metrics["fd_pixels"] == pytest.approx(0.0, abs=1e-6)
    shuffled = dict(zip(IDS, [str(REFS[i]) for i in IDS[::-1]], strict=True))
    assert score("fid_coco", shuffled, tmp_path, task_args=PIXELS).metrics["fd_pixels"] == pytest.approx(0, abs=1e-6)


def _grey_images(folder, n=4, value=128):
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"gen{i}.png"
        Image.new("RGB", (48, 48), (value, value, value)).save(p)
        paths.append(p)
    return paths


def test_distance_to_a_constant_generator_by_hand(tmp_path):
    gen = _grey_images(tmp_path / "gen")
    result = score("fid_coco", {i: str(p) for i, p in zip(IDS, gen, strict=True)}, tmp_path, task_args=PIXELS)
    ref = fid.PixelFeatures().features([REFS[i] for i in IDS])
    g = fid.PixelFeatures().features(gen[:1])[0]
    # every generated image is the same, so Σ_gen = 0 and d² = |μ_ref − g|² + tr Σ_ref
    mu, cov = ref.mean(0), np.cov(ref, rowvar=False)
    assert result.metrics["fd_pixels"] == pytest.approx(float(((mu - g) ** 2).sum() + np.trace(cov)), abs=1e-4)
    lo, hi = result.ci95["fd_pixels"]
    assert 0 < lo <= hi


def test_relative_paths_resolve_against_generated_dir(tmp_path):
    gen = _grey_images(tmp_path / "gen")
    preds = {i: p.name for i, p in zip(IDS, gen, strict=True)}
    args = {**PIXELS, "generated_dir": str(tmp_path / "gen")}
    assert score("fid_coco", preds, tmp_path, task_args=args).n_errors == 0


def test_missing_or_corrupt_generated_images_are_per_sample_errors(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    preds = {"301": str(REFS["301"]), "302": str(bad), "303": str(tmp_path / "absent.png"), "304": str(REFS["304"])}
    result = score("fid_coco", preds, tmp_path, task_args=PIXELS)
    assert result.n == 4 and result.n_errors == 2
    errors = {r["id"]: r["error"] for r in result.records}
    assert "cannot decode" in errors["302"] and "not found" in errors["303"] and errors["301"] is None
    assert result.metrics["fd_pixels"] == pytest.approx(0.0, abs=1e-6)  # the two good pairs are copies




def _make_fake_classes():
    import torch
    from torch import nn

    class Layers(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(4)
            self.fc = nn.Linear(48, 2048)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.pool(x).flatten(1))

    class FakeInception(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = Layers()

        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            return self.layers((x - 128) / 128)

    return FakeInception


def test_inception_weights_give_fid_through_clean_fid(tmp_path):
    import warnings

    weights = tmp_path / "my_inception.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import torch

        torch.manual_seed(0)
        torch.jit.script(_make_fake_classes()()).save(str(weights))
    args = {"inception": str(weights)}
    assert task("fid_coco", inception=str(weights)).headline == "fid"
    same = score("fid_coco", {i: str(REFS[i]) for i in IDS}, tmp_path, task_args=args)
    assert set(same.metrics) == {"fid"} and same.metrics["fid"] == pytest.approx(0.0, abs=1e-3)
    gen = _grey_images(tmp_path / "gen")
    other = score("fid_coco", {i: str(p) for i, p in zip(IDS, gen, strict=True)}, tmp_path, task_args=args)
    assert other.metrics["fid"] > 1.0 and set(other.ci95) == {"fid"}


def test_explicit_missing_weights_are_a_user_error(tmp_path):
    with pytest.raises(UserError, match="fid_coco.inception"):
        task("fid_coco", inception=str(tmp_path / "nope.pt"))


def test_cli_score_with_task_args(tmp_path):
    from deem_eval.cli import app

    preds = write_predictions(tmp_path / "p.jsonl", {i: str(REFS[i]) for i in IDS})
    out = tmp_path / "out.json"
    res = CliRunner().invoke(app, ["score", "--task", "fid_coco", "--predictions", str(preds), "--data-root",
                                   str(FIXTURES), "--task-args", "fid_coco.extractor=pixels", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["tasks"]["fid_coco"]["metrics"] == {"fd_pixels": 0.0}


def test_bad_data(tmp_path):
    root = copy_fixture("fid_coco", tmp_path)
    path = root / "fid_coco/captions.json"
    text = path.read_text()
    path.unlink()
    with pytest.raises(DataError) as err:
        list(task("fid_coco", root=root).samples())
    assert "captions.json" in str(err.value) and "annotations" in str(err.value)
    path.write_text(text.replace('"id": 302', '"id": 302,,', 1))
    with pytest.raises(DataError, match=r"captions.json, line \d+: not valid JSON"):
        list(task("fid_coco", root=root).samples())
    doc = json.loads(text)
    doc["images"][0]["file_name"] = "../../secret.jpg"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="points outside"):
        list(task("fid_coco", root=root).samples())
    shutil.rmtree(root / "fid_coco/images")
    with pytest.raises(UserError, match="missing: images"):
        score("fid_coco", {}, tmp_path, root=root)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A tiny open_clip model registered from a config, with weights saved to a local file."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("clip")
    name = "deem-test-tiny-clip"
    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16,
                                           "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (folder / f"{name}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder / f"{name}.json")
    torch.manual_seed(0)
    weights = folder / "tiny_clip.pt"
    torch.save(open_clip.create_model(name).state_dict(), weights)
    return name, weights


def test_clip_model_gives_fd_clip_and_clip_score(tmp_path, tiny_clip, monkeypatch):
    import open_clip
    import torch

    monkeypatch.setattr(fid, "CLEANFID_CACHE", tmp_path / "nowhere")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    name, weights = tiny_clip
    args = {"clip_model": name, "clip_pretrained": str(weights)}
    result = score("fid_coco", {i: str(REFS[i]) for i in IDS}, tmp_path, task_args=args)
    assert set(result.metrics) == {"fd_clip", "clip_score"} and task("fid_coco", **args).headline == "fd_clip"
    assert result.metrics["fd_clip"] == pytest.approx(0.0, abs=1e-6)
    # CLIP score by hand: cosine of the model's image and caption embeddings, floored at 0, x100
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=str(weights))
    tokenizer = open_clip.get_tokenizer(name)
    captions = [s.question for s in task("fid_coco").samples()]
    with torch.no_grad():
        im = model.encode_image(torch.stack([preprocess(Image.open(REFS[i]).convert("RGB")) for i in IDS]))
        tx = model.encode_text(tokenizer(captions))
    cos = torch.nn.functional.cosine_similarity(im, tx).numpy()
    expected = 100 * np.clip(cos, 0, None)
    assert [r["score"] for r in result.records] == pytest.approx(expected.tolist(), abs=1e-3)
    assert result.metrics["clip_score"] == pytest.approx(float(expected.mean()), abs=1e-3)
    assert set(result.ci95) == {"fd_clip", "clip_score"}
    pixels = score("fid_coco", {i: str(REFS[i]) for i in IDS}, tmp_path, task_args={**args, "extractor": "pixels"})
    assert set(pixels.metrics) == {"fd_pixels", "clip_score"}
    assert pixels.metrics["clip_score"] == pytest.approx(result.metrics["clip_score"], abs=1e-4)


# ---- fd_worldclip: the bundled world-trained CLIP -------------------------------------------------
def _world_images(tmp_path, tag: str, n: int) -> list:
    from deem_eval.builders.world import scene as S
    from deem_eval.builders.world.draw import render

    out = []
    for i in range(n):
        p = tmp_path / f"{tag}{i}.png"
        render(S.random_scene(S.rng_for(7, tag, i))).save(p)
        out.append(p)
    return out


def test_worldclip_ranks_real_below_corrupted_below_noise(tmp_path):
    from PIL import ImageFilter

    extractor = fid.WorldClipFeatures(fid.world_clip_dir())
    ref = extractor.features(_world_images(tmp_path, "ref", 96))
    real = _world_images(tmp_path, "real", 96)  # other scenes of the same world
    rng = np.random.default_rng(0)
    corrupted, noise = [], []
    for i, p in enumerate(real):  # mild: a 1.5 px blur and pixel noise of sd 20
        arr = np.asarray(Image.open(p).convert("RGB").filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float64)
        Image.fromarray(np.clip(arr + rng.normal(0, 20, arr.shape), 0, 255).astype(np.uint8)).save(
            corrupted_path := tmp_path / f"c{i}.png")
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(noise_path := tmp_path / f"n{i}.png")
        corrupted.append(corrupted_path)
        noise.append(noise_path)
    d_real, d_corrupted, d_noise = (fid.frechet_distance_features(ref, extractor.features(x))
                                    for x in (real, corrupted, noise))
    assert d_real < d_corrupted < d_noise
    assert d_noise > 5 * d_corrupted  # noise is far off; the mild corruption is near the real floor


def test_worldclip_score_prefers_the_drawn_category(tmp_path):
    from deem_eval.builders.world import scene as S
    from deem_eval.builders.world.catalog import NAMES
    from deem_eval.builders.world.draw import render
    from deem_eval.builders.world.language import article

    extractor = fid.WorldClipFeatures(fid.world_clip_dir())
    files, right, wrong = [], [], []
    for i in range(48):
        cat, other = NAMES[i % len(NAMES)], NAMES[(i + 7) % len(NAMES)]
        rng = S.rng_for(3, "clip-score", i)
        g = S.sample_attributes(rng, cat, size="large")
        g["count"] = 1
        render(S.new_scene(rng, [g], S.sample_scene_type(rng))).save(p := tmp_path / f"{i}.png")
        files.append(p)
        right.append(f"{article(cat)} {cat}")
        wrong.append(f"{article(other)} {other}")
    im = extractor.features(files)
    s_right = fid.clip_scores(im, extractor.text_features(right))
    s_wrong = fid.clip_scores(im, extractor.text_features(wrong))
    assert s_right.mean() > s_wrong.mean() and np.mean(s_right > s_wrong) > 0.6


def test_world_root_defaults_to_fd_worldclip_with_clip_score(tmp_path, monkeypatch):
    import torch
    from deem_eval.builders.robustvqa.clip_model import LOCAL_DIR, load_clip

    monkeypatch.setattr(fid, "CLEANFID_CACHE", tmp_path / "nowhere")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    root = copy_fixture("fid_coco", tmp_path)
    assert task("fid_coco", root).headline == "fd_pixels"  # not the world: no world-trained CLIP
    (root / "world.json").write_text("{}")
    assert task("fid_coco", root).headline == "fd_worldclip"
    assert task("fid_coco", FIXTURES, extractor="worldclip").headline == "fd_worldclip"
    result = score("fid_coco", {i: str(REFS[i]) for i in IDS}, tmp_path, root=root)
    assert set(result.metrics) == {"fd_worldclip", "clip_score"} and "fid" not in result.metrics
    assert result.metrics["fd_worldclip"] == pytest.approx(0.0, abs=1e-6)
    # the CLIP score by hand, with the same bundled model loaded as the RobustVQA builder loads it
    bundle = load_clip(f"{LOCAL_DIR}{fid.world_clip_dir()}", None, "cpu")
    captions = [s.question for s in task("fid_coco", root).samples()]
    with torch.no_grad():
        im = bundle.model.encode_image(torch.stack([bundle.preprocess(Image.open(REFS[i]).convert("RGB"))
                                                    for i in IDS]))
        tx = bundle.model.encode_text(bundle.tokenizer(captions))
    expected = 100 * np.clip(torch.nn.functional.cosine_similarity(im, tx).numpy(), 0, None)
    assert [r["score"] for r in result.records] == pytest.approx(expected.tolist(), abs=1e-3)


def test_worldclip_without_the_bundled_model_is_a_user_error(monkeypatch):
    monkeypatch.setattr(fid, "world_clip_dir", lambda: None)
    with pytest.raises(UserError, match="mining-vit"):
        fid.choose_extractor("worldclip")
    assert fid.choose_extractor("auto", on_world=True).metric == "fd_pixels"
    with pytest.raises(UserError, match="worldclip"):
        fid.choose_extractor("inceptionv3")
