"""The ``deem`` adapter on a randomly initialised micro checkpoint saved to a temporary folder."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from deem_eval.errors import UserError
from deem_eval.registry import MODELS
from deem_eval.samples import Request


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from deem_model.build import build_model
    from deem_model.checkpoint import save_pretrained
    from deem_model.config import get_preset
    from deem_model.tokenizer import build_word_tokenizer

    cfg = get_preset("micro")
    tok = build_word_tokenizer(["a red circle", "a blue square", "Is there a square in the image?"], cfg.tokenizer)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck") / "deem-micro"
    save_pretrained(build_model(cfg, tokenizer=tok), path)
    return path


def _image(colour):
    im = Image.new("RGB", (64, 64), (240, 240, 240))
    ImageDraw.Draw(im).ellipse([10, 10, 40, 40], fill=colour)
    return im


PROMPT = "Based on the image, please answer the question. <image>Is there a square in the image? Please answer yes or no."


def test_registered_and_identity(checkpoint):
    import hashlib

    cls = MODELS.get("deem")
    adapter = cls(checkpoint=str(checkpoint), device="cpu")
    assert cls.supports_masks and adapter.can_encode_images and adapter.can_score_options
    assert adapter.can_generate and adapter.can_generate_images
    sha = hashlib.sha256((checkpoint / "model.safetensors").read_bytes()).hexdigest()
    assert adapter.checkpoint_sha256() == sha
    fp = adapter.fingerprint()
    assert fp == cls(checkpoint=str(checkpoint)).fingerprint()
    assert fp != cls(checkpoint=str(checkpoint), num_beams="2").fingerprint()
    assert {"torch", "transformers", "diffusers", "open_clip"} <= set(adapter.versions())


def test_encode_generate_score(checkpoint):
    adapter = MODELS.get("deem")(checkpoint=str(checkpoint))
    images = [_image((220, 30, 30)), _image((30, 30, 220))]
    feats = adapter.encode_images(images, [None, None])
    assert len(feats) == 2 and feats[0].shape == (4, 64)
    by_feat = [Request(sample_id=str(i), prompt=PROMPT, image=f, options=["yes", "no"], answer_prefix="The answer is",
                       max_new_tokens=4) for i, f in enumerate(feats)]
    by_image = [Request(sample_id=str(i), prompt=PROMPT, image=im, options=["yes", "no"],
                        answer_prefix="The answer is", max_new_tokens=4) for i, im in enumerate(images)]
    assert adapter.generate(by_feat) == adapter.generate(by_image)
    s_feat, s_img = adapter.score_options(by_feat), adapter.score_options(by_image)
    assert np.allclose(s_feat, s_img, atol=1e-5) and len(s_feat[0]) == 2
    assert all(v < 0 for row in s_feat for v in row)


def test_region_masks_change_features(checkpoint):
    adapter = MODELS.get("deem")(checkpoint=str(checkpoint))
    im = _image((220, 30, 30))
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[5:30, 5:30] = 1
    plain, masked, ones = adapter.encode_images([im, im, im], [None, mask, np.ones((64, 64), np.uint8)])
    assert torch.allclose(plain, ones, atol=1e-6) and not torch.allclose(plain, masked, atol=1e-4)
    req = Request(sample_id="r", prompt="<image>What is in the highlighted region?", image=im, mask=mask,
                  max_new_tokens=3)
    req_feat = Request(sample_id="r", prompt=req.prompt, image=masked, max_new_tokens=3)
    assert adapter.generate([req]) == adapter.generate([req_feat])


def test_generate_images_seeded(checkpoint):
    adapter = MODELS.get("deem")(checkpoint=str(checkpoint), steps="2")
    a = adapter.generate_images(["a red circle", "a blue square"], seed=0)
    b = adapter.generate_images(["a red circle", "a blue square"], seed=0)
    assert [np.asarray(x).tolist() for x in a] == [np.asarray(x).tolist() for x in b]


def test_bad_arguments_and_missing_bundled_checkpoint(checkpoint, tmp_path, monkeypatch):
    cls = MODELS.get("deem")
    with pytest.raises(UserError, match="unknown keys"):
        cls(checkpoint=str(checkpoint), colour="red")
    with pytest.raises(UserError, match="neither a bundled checkpoint"):
        cls(checkpoint=str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="not a DEEM checkpoint"):
        cls(checkpoint=str(tmp_path))
    import deem_model

    monkeypatch.setattr(deem_model, "CHECKPOINT_DIR", tmp_path / "none")
    with pytest.raises(UserError, match="make checkpoints"):
        cls(checkpoint="deem-tiny-nocsr")
    with pytest.raises(UserError, match="make checkpoints"):
        cls()  # no checkpoint: the bundled deem-tiny
