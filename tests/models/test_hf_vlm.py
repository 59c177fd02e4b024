"""The hf-vlm adapter on a tiny LLaVA built from configs (no downloads)."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil

import numpy as np
import pytest

from deem_eval.errors import SampleError, UserError
from deem_eval.models.hf_vlm import HFVLMAdapter
from deem_eval.samples import Request

QUESTIONS = [
    "Is there a dog in the image?",
    "Is there a red car on the left of the tree in this picture?",
    "How many cats?",
    "Is the star on the left?",
    "What color is the bus next to the person?",
    "Is there a person?",
    "Is the arrow facing up or down in this photo?",
    "Is there a tree next to the bird?",
]
PROMPT = "Based on the image, please answer the question. <image>{q} Please answer yes or no."
PREFIX = "The answer is"


def _images(n: int = 8):
    from PIL import Image

    rng = np.random.RandomState(0)
    return [Image.fromarray((rng.rand(28 + 3 * i, 40 - i, 3) * 255).astype("uint8")) for i in range(n)]


def _requests(images, options=("yes", "no"), max_new_tokens=6):
    return [
        Request(
            sample_id=str(i),
            prompt=PROMPT.format(q=q),
            image=im,
            options=list(options),
            answer_prefix=PREFIX,
            max_new_tokens=max_new_tokens,
        )
        for i, (q, im) in enumerate(zip(QUESTIONS, images, strict=True))
    ]


@pytest.fixture(scope="module")
def adapter(tiny_llava_dir):
    return HFVLMAdapter(pretrained=str(tiny_llava_dir), dtype="float32", device="cpu")


def test_registered_and_loaded(adapter):
    from deem_eval.registry import MODELS

    assert MODELS.get("hf-vlm") is HFVLMAdapter
    assert adapter.splice  # LLaVA takes pre-encoded features
    assert adapter.tokenizer.padding_side == "left"
    assert adapter.can_generate and adapter.can_score_options and adapter.can_encode_images
    import transformers

    assert adapter.versions() == {"transformers": transformers.__version__}


def test_chat_text_keeps_part_order_and_appends_prefix(adapter):
    req = Request("x", PROMPT.format(q="Is there a dog?"), image=object(), answer_prefix=PREFIX)
    assert adapter.chat_text(req) == (
        "USER: Based on the image, please answer the question. <image>\n"
        "Is there a dog? Please answer yes or no. ASSISTANT: The answer is"
    )
    no_mark = Request("y", "Is there a dog?", image=object())
    assert adapter.chat_text(no_mark) == "USER: <image>\nIs there a dog? ASSISTANT:"
    with pytest.raises(SampleError, match="no image"):
        adapter.chat_text(Request("z", "<image>Is there a dog?"))


def test_generate_matches_hf_generate_and_is_batch_invariant(adapter):
    import torch

    images = _images()
    reqs = _requests(images)
    batch = adapter.generate(reqs)
    single = [adapter.generate([r])[0] for r in reqs]
    assert batch == single
    assert len(set(batch)) > 1  # different images/questions give different answers

    # By hand: the processor's own expansion + pixel_values + model.generate, batch of one.
    text = adapter.chat_text(reqs[1])
    inputs = adapter.processor(text=[text], images=[images[1]], return_tensors="pt")
    with torch.inference_mode():
        out = adapter.model.generate(**inputs, max_new_tokens=6, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1] :]
    assert batch[1] == adapter.tokenizer.decode(new, skip_special_tokens=True).strip()


def test_generate_honours_each_request_budget(adapter):
    reqs = _requests(_images())
    for r, n in zip(reqs, [1, 2, 3, 4, 1, 2, 3, 4], strict=True):
        r.max_new_tokens = n
    long = adapter.generate(_requests(_images(), max_new_tokens=4))
    for r, got, full in zip(reqs, adapter.generate(reqs), long, strict=True):
        assert len(got.split()) <= r.max_new_tokens  # word-level vocabulary: one word per token
        assert full.startswith(got)


def _manual_logprob(adapter, image, context: str, option: str, n_tokens: int) -> float:
    """Sum of log p(option tokens | context) from one plain model(...) call on processor inputs."""
    import torch

    inputs = adapter.processor(text=[f"{context} {option}"], images=[image], return_tensors="pt")
    with torch.inference_mode():
        logits = adapter.model(**inputs).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    ids = inputs["input_ids"][0]
    length = ids.shape[0]
    return float(sum(logp[length - n_tokens - 1 + j, ids[length - n_tokens + j]] for j in range(n_tokens)))


def test_score_options_agree_with_manual_logits(adapter):
    images = _images()
    reqs = _requests(images, options=("yes", "no", "not red"))  # "not red" is two tokens
    scores = adapter.score_options(reqs)
    assert len(scores) == 8 and all(len(s) == 3 for s in scores)
    assert np.isfinite(np.array(scores)).all()
    for i in (0, 5):
        ctx = adapter.chat_text(reqs[i])
        expected = [
            _manual_logprob(adapter, images[i], ctx, "yes", 1),
            _manual_logprob(adapter, images[i], ctx, "no", 1),
            _manual_logprob(adapter, images[i], ctx, "not red", 2),
        ]
        np.testing.assert_allclose(scores[i], expected, atol=1e-4)
    # The one-token fast path (last position of one prompt forward) gives the same numbers.
    fast = adapter.score_options(_requests(images))
    np.testing.assert_allclose(np.array(fast), np.array(scores)[:, :2], atol=1e-4)


def test_score_options_batch_invariant(adapter):
    for options in (("yes", "no"), ("(a) dog", "(b) cat")):
        reqs = _requests(_images(), options=options)
        batch = np.array(adapter.score_options(reqs))
        single = np.array([adapter.score_options([r])[0] for r in reqs])
        np.testing.assert_allclose(batch, single, atol=1e-4)
        assert (batch.argmax(1) == single.argmax(1)).all()


def test_preencoded_features_equal_pil_path(adapter, tiny_llava_dir):
    images = _images()
    feats = adapter.encode_images(images)
    assert [tuple(f.shape) for f in feats] == [(16, 64)] * 8  # (32/8)^2 patches, CLS dropped
    pil_reqs = _requests(images, options=("yes", "no", "not red"))
    feat_reqs = [dataclasses.replace(r, image=f) for r, f in zip(pil_reqs, feats, strict=True)]
    assert adapter.generate(feat_reqs) == adapter.generate(pil_reqs)
    np.testing.assert_allclose(adapter.score_options(feat_reqs), adapter.score_options(pil_reqs), atol=1e-5)

    # The pixel_values fallback (the model's own splice) gives the same answers too.
    plain = HFVLMAdapter(pretrained=str(tiny_llava_dir), image_features="off")
    assert not plain.splice and plain.encode_images(images[:1]) == images[:1]
    assert plain.generate(pil_reqs) == adapter.generate(pil_reqs)
    np.testing.assert_allclose(plain.score_options(pil_reqs), adapter.score_options(pil_reqs), atol=1e-5)
    assert plain.fingerprint() != adapter.fingerprint()


def test_fingerprint_and_checkpoint_hash_follow_the_files(adapter, tiny_llava_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "copy"
    shutil.copytree(tiny_llava_dir, copy)
    weights = copy / "model.safetensors"
    first = HFVLMAdapter(pretrained=str(copy))
    assert first.fingerprint() == adapter.fingerprint()  # same files, another folder
    assert first.checkpoint_sha256() == hashlib.sha256(weights.read_bytes()).hexdigest()

    tensors = load_file(str(weights))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] += 0.5  # same shapes, same header: only the bytes differ
    save_file(tensors, str(weights), metadata={"format": "pt"})
    changed = HFVLMAdapter(pretrained=str(copy))
    assert changed.fingerprint() != first.fingerprint()
    assert changed.checkpoint_sha256() == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert changed.checkpoint_sha256() != first.checkpoint_sha256()

    template = copy / "chat_template.jinja"
    template.write_text(template.read_text().replace("ASSISTANT:", "ASSISTANT :"))
    assert HFVLMAdapter(pretrained=str(copy)).fingerprint() != changed.fingerprint()


def test_bad_model_args_and_paths_are_user_errors(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="pretrained"):
        HFVLMAdapter()
    with pytest.raises(UserError, match="unknown --model-args colour"):
        HFVLMAdapter(pretrained="x", colour="red")
    with pytest.raises(UserError, match="dtype"):
        HFVLMAdapter(pretrained=str(tmp_path), dtype="float8")
    with pytest.raises(UserError, match="trust_remote_code"):
        HFVLMAdapter(pretrained=str(tmp_path), trust_remote_code="maybe")
    missing = tmp_path / "nowhere"
    with pytest.raises(UserError, match=f"model folder not found: {missing}"):
        HFVLMAdapter(pretrained=str(missing))
    with pytest.raises(UserError, match="expected a config.json"):
        HFVLMAdapter(pretrained=str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="no weights"):
        HFVLMAdapter(pretrained=str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="HF_HUB_OFFLINE is set"):
        HFVLMAdapter(pretrained="nobody-here/no-such-model-xyz")


@pytest.mark.parametrize("damage", ["truncated safetensors", "garbage bin", "other shapes"])
def test_a_damaged_checkpoint_is_a_user_error(tiny_llava_dir, tmp_path, damage):
    import json

    bad = tmp_path / "model"
    shutil.copytree(tiny_llava_dir, bad)
    weights = bad / "model.safetensors"
    if damage == "truncated safetensors":
        weights.write_bytes(weights.read_bytes()[:1000])  # cut inside the header
        match = f"{weights} is truncated or corrupt"
    elif damage == "garbage bin":
        weights.unlink()
        (bad / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not a zip archive")
        match = "cannot load model"
    else:  # a config that no longer matches the saved tensors
        cfg = json.loads((bad / "config.json").read_text())
        cfg["text_config"]["intermediate_size"] += 8
        (bad / "config.json").write_text(json.dumps(cfg))
        match = "cannot load model"
    with pytest.raises(UserError, match=match):
        HFVLMAdapter(pretrained=str(bad))
