"""hf-vlm on a tiny model of every Hugging Face VLM family (built from configs, no downloads).

For each family: generate and logit scoring give the same answers at batch size 8 as one at a
time; the scores equal log-probabilities from the model's own forward on the processor's full
inputs for one unpadded sample; images go through the vision encoder once when the family
allows reuse, and the pixel path (``image_features=off``) agrees with the reuse path.
"""

from __future__ import annotations

import numpy as np
import pytest

from deem_eval.errors import UserError
from deem_eval.models.hf_families import FAMILIES, family_for
from deem_eval.models.hf_inputs import EncodedImage
from deem_eval.models.hf_vlm import HFVLMAdapter
from deem_eval.samples import Request
from tests.models.test_hf_vlm import PREFIX, PROMPT, QUESTIONS
from tests.models.tiny_families import FAMILIES as BUILT

OPTIONS = ("yes", "no", "not red")  # "not red" is two tokens


def _images():
    from PIL import Image

    rng = np.random.RandomState(0)
    sizes = [(30, 41), (40, 24), (33, 33), (64, 30), (30, 41), (26, 52), (48, 40), (35, 29)]
    return [Image.fromarray((rng.rand(h, w, 3) * 255).astype("uint8")) for h, w in sizes]


def _requests(images, options=OPTIONS, max_new_tokens=4):
    return [
        Request(str(i), PROMPT.format(q=q), image=im, options=list(options), answer_prefix=PREFIX,
                max_new_tokens=max_new_tokens)
        for i, (q, im) in enumerate(zip(QUESTIONS, images, strict=True))
    ]


_ADAPTERS: dict[tuple[str, str], HFVLMAdapter] = {}


@pytest.fixture
def adapter_for(family_dirs):
    def get(family: str, features: str = "auto") -> HFVLMAdapter:
        key = (family, features)
        if key not in _ADAPTERS:
            _ADAPTERS[key] = HFVLMAdapter(pretrained=str(family_dirs(family)), device="cpu", image_features=features)
        return _ADAPTERS[key]

    return get


def _nest(adapter, im):
    return [[im]] if adapter.family.nested else [im]


def _reference_logprob(adapter, req: Request, option: str) -> float:
    """log p(option | prompt) from model(**processor(one sample)): pixels, no padding, no position ids."""
    import torch

    from deem_eval.models.hf_families import join_text

    text, lead = adapter.render(req)
    if lead is None:
        enc = adapter.processor(text=[join_text(text, option)], images=_nest(adapter, req.image), return_tensors="pt")
        full, base, tail = join_text(text, option), text, 0
    else:  # PaliGemma: the option is the suffix, which the processor ends with EOS
        enc = adapter.processor(text=[text], images=_nest(adapter, req.image), suffix=[join_text(lead, option)],
                                return_tensors="pt")
        full, base, tail = join_text(lead, option), lead, 1
    enc.pop("labels", None)
    tok = adapter.tokenizer
    n = len(tok(full, add_special_tokens=False)["input_ids"]) - len(tok(base, add_special_tokens=False)["input_ids"])
    with torch.inference_mode():
        logits = adapter.model(**enc).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    ids = enc["input_ids"][0]
    end = ids.shape[0] - tail
    return float(sum(logp[end - n - 1 + j, ids[end - n + j]] for j in range(n)))


def _reference_generate(adapter, req: Request) -> str:
    import torch

    text, lead = adapter.render(req)
    kwargs = {"suffix": [lead]} if lead else {}
    enc = adapter.processor(text=[text], images=_nest(adapter, req.image), return_tensors="pt", **kwargs)
    enc.pop("labels", None)
    if lead:
        enc = {k: v[:, :-1] if k in ("input_ids", "attention_mask", "token_type_ids") else v for k, v in enc.items()}
    with torch.inference_mode():
        out = adapter.model.generate(**enc, max_new_tokens=req.max_new_tokens, do_sample=False,
                                     pad_token_id=adapter.tokenizer.pad_token_id)
    return adapter.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


RUNNABLE = [f for f in BUILT if not FAMILIES[f].unsupported]


@pytest.mark.parametrize("family", RUNNABLE)
def test_logits_match_the_models_own_forward_at_any_batch_size(adapter_for, family):
    adapter = adapter_for(family)
    assert adapter.family.model_type == family
    reqs = _requests(_images())
    batch = np.array(adapter.score_options(reqs))
    single = np.array([adapter.score_options([r])[0] for r in reqs])
    reference = np.array([[_reference_logprob(adapter, r, o) for o in OPTIONS] for r in reqs])
    assert np.isfinite(batch).all()
    np.testing.assert_allclose(batch, reference, atol=1e-4, rtol=0)
    np.testing.assert_allclose(single, reference, atol=1e-4, rtol=0)
    assert (batch.argmax(1) == single.argmax(1)).all()
    # One-token options: the last-position fast path gives the same numbers.
    fast = np.array(adapter.score_options(_requests(_images(), options=("yes", "no"))))
    np.testing.assert_allclose(fast, reference[:, :2], atol=1e-4, rtol=0)


@pytest.mark.parametrize("family", RUNNABLE)
def test_generate_is_batch_invariant_and_matches_hf_generate(adapter_for, family):
    adapter = adapter_for(family)
    reqs = _requests(_images())
    batch = adapter.generate(reqs)
    single = [adapter.generate([r])[0] for r in reqs]
    assert batch == single
    assert len(set(batch)) > 1  # different images and questions give different answers
    assert [_reference_generate(adapter, r) for r in reqs[:2]] == batch[:2]


@pytest.mark.parametrize("family", RUNNABLE)
def test_image_features_reused_where_the_family_allows(adapter_for, family):
    adapter = adapter_for(family)
    images = _images()
    if not FAMILIES[family].reuse:
        assert not adapter.splice and not adapter.can_encode_images
        return
    assert adapter.splice and adapter.can_encode_images
    feats = adapter.encode_images(images)
    assert all(isinstance(f, EncodedImage) for f in feats)
    # The same image asked twice: one encoding serves both, with the same answers as raw pixels.
    reqs = _requests(images)
    pre = [Request(r.sample_id, r.prompt, image=f, options=r.options, answer_prefix=r.answer_prefix,
                   max_new_tokens=r.max_new_tokens) for r, f in zip(reqs, [feats[0]] * 8, strict=True)]
    raw = [Request(r.sample_id, r.prompt, image=images[0], options=r.options, answer_prefix=r.answer_prefix,
                   max_new_tokens=r.max_new_tokens) for r in reqs]
    np.testing.assert_allclose(adapter.score_options(pre), adapter.score_options(raw), atol=1e-5, rtol=0)
    plain = adapter_for(family, "off")
    assert not plain.splice
    np.testing.assert_allclose(plain.score_options(raw), adapter.score_options(pre), atol=1e-4, rtol=0)
    assert plain.generate(raw) == adapter.generate(pre)


def test_capability_table_lists_every_family():
    rows = HFVLMAdapter.capabilities()
    assert [r["family"] for r in rows] == list(FAMILIES)
    by = {r["family"]: r for r in rows}
    assert by["mllama"]["feature reuse"] == "-" and by["llava"]["feature reuse"] == "yes"
    assert by["paligemma"]["prompt"] == "PaliGemma format"
    assert family_for("no_such_family").batched is False


def test_unsupported_family_is_one_clear_error(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama4"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError, match="model type 'llama4' cannot run"):
        HFVLMAdapter(pretrained=str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "not_a_real_vlm"}')
    with pytest.raises(UserError, match="model type 'not_a_real_vlm' has no AutoModelForImageTextToText class"):
        HFVLMAdapter(pretrained=str(tmp_path))


@pytest.mark.parametrize("family", RUNNABLE)
def test_runner_same_predictions_at_batch_1_and_8_and_counts_encodes(family_dirs, tmp_path, family):
    import json

    from PIL import Image

    import tests.plugins.toy as toy
    from deem_eval.run import run
    from deem_eval.runner import RunSettings

    root = toy.write_toy_data(tmp_path / "data")  # 6 images, 3 questions each
    for path in (root / "toy" / "images").glob("*.png"):
        # 8 px images are a single Pixtral token, which Mistral3's own get_image_features squeezes away
        Image.open(path).convert("RGB").resize((40, 36)).save(path)
    args = {"pretrained": str(family_dirs(family)), "device": "cpu"}
    preds = {}
    for scoring in ("generate", "logits"):
        for bs in (1, 8):
            settings = RunSettings(batch_size=bs, scoring=scoring, n_boot=50)
            out = run("hf-vlm", args, "toy_yesno", root, tmp_path / f"runs{scoring}{bs}", settings,
                      use_cache=False, show_progress=False)
            entry = json.loads((out.run_dir / "results.json").read_text())["tasks"]["toy_yesno"]
            assert entry["n_errors"] == 0
            assert entry["n_image_encodes"] == (6 if FAMILIES[family].reuse else 0)
            preds[scoring, bs] = [r["prediction"] for r in out.results["toy_yesno"].records]
    assert preds["generate", 1] == preds["generate", 8]
    assert preds["logits", 1] == preds["logits", 8]


def test_cli_lists_families_and_refuses_llama4_with_exit_2(tmp_path):
    from typer.testing import CliRunner

    from deem_eval.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "hf-vlm: model families" in res.output and "qwen2_5_vl" in res.output
    (tmp_path / "config.json").write_text('{"model_type": "llama4"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    import tests.plugins.toy as toy

    data = toy.write_toy_data(tmp_path / "data")
    res = runner.invoke(app, ["run", "--model", "hf-vlm", "--model-args", f"pretrained={tmp_path}",
                              "--tasks", "toy_yesno", "--data-root", str(data), "--output-dir", str(tmp_path / "runs")])
    assert res.exit_code == 2, res.output
    assert "model type 'llama4' cannot run" in res.output and "Traceback" not in res.output


def test_unlisted_family_runs_one_row_per_forward_on_model_defaults(family_dirs, monkeypatch):
    """A model type missing from the table: unbatched, pixels every time, still the model's own numbers."""
    import deem_eval.models.hf_families as fams

    monkeypatch.delitem(fams.FAMILIES, "qwen2_vl")
    adapter = HFVLMAdapter(pretrained=str(family_dirs("qwen2_vl")), device="cpu")
    assert not adapter.family.tested and not adapter.family.batched and not adapter.splice
    reqs = _requests(_images())[:3]
    reference = np.array([[_reference_logprob(adapter, r, o) for o in OPTIONS] for r in reqs])
    np.testing.assert_allclose(adapter.score_options(reqs), reference, atol=1e-4, rtol=0)
    assert adapter.generate(reqs) == [adapter.generate([r])[0] for r in reqs]

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(adapter.model, "forward", broken)
    with pytest.raises(UserError, match="model type 'qwen2_vl' is not one of the tested families.*shape mismatch"):
        adapter.score_options(reqs)
