import math

import pytest
import torch

from deem_model.data import StageData
from deem_model.train.optim import select_trainable

STAGES = ("clip", "dm", "lm", "1", "2", "3")
# the tiny recipe: stage 2 trains the LLM alone, so it has no CSR term (the paper preset's stage II does)
EXPECTED = {"clip": {"clip"}, "dm": {"dm"}, "lm": {"ntp"}, "1": {"ntp", "nip", "csr"}, "2": {"ntp"},
            "3": {"ntp"}}


def _batch(model, world_dir, stage):
    return StageData(stage, world_dir, model, 4, seed=0).batch(0)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_gives_finite_named_losses(make_model, world_dir, stage):
    model = make_model()
    model.set_loss_weights(model.cfg.stages[stage].losses)
    out = model(_batch(model, world_dir, stage))
    assert set(out) == EXPECTED[stage] | {"total"}
    assert all(v.shape == () and math.isfinite(float(v.detach())) for v in out.values())
    weights = model.cfg.stages[stage].losses
    vals = {k: float(v.detach()) for k, v in out.items()}
    assert vals["total"] == pytest.approx(sum(weights[k] * vals[k] for k in EXPECTED[stage]), rel=1e-6)
    if stage in ("lm", "2", "3"):  # a random LM's cross-entropy is near log(vocab)
        assert abs(vals["ntp"] - math.log(len(model.tokenizer))) < 1.5


def test_image_tokens_shapes(make_model, world_dir):
    model = make_model()
    b = _batch(model, world_dir, "3")
    vis = model.encode_images(b["pixel_values"], b["masks"])
    cfg = model.cfg
    assert vis["llm_tokens"].shape == (4, cfg.num_image_tokens, model.mm_decoder.hidden_size)
    assert vis["cond_tokens"].shape == (4, cfg.resampler.num_queries, cfg.diffusion.cond_dim)
    # the mask-aware extractor changes the features; an all-ones mask is the same as no mask
    plain = model.encode_images(b["pixel_values"])["llm_tokens"]
    ones = model.encode_images(b["pixel_values"], torch.ones_like(b["masks"]))["llm_tokens"]
    assert torch.allclose(plain, ones, atol=1e-6)
    assert not torch.allclose(plain, vis["llm_tokens"], atol=1e-4)


def _record_unet(model):
    calls = []

    def hook(_mod, args, kwargs):
        calls.append({"x": args[0].detach().clone(), "t": args[1].detach().clone(),
                      "cond": kwargs["encoder_hidden_states"].detach().clone()})

    return calls, model.image_decoder.unet.register_forward_pre_hook(hook, with_kwargs=True)


def test_no_in_place_normalisation_and_shared_noised_batch(make_model, world_dir, monkeypatch):
    model = make_model()
    model.set_loss_weights(model.cfg.stages["1"].losses)
    batch = _batch(model, world_dir, "1")
    original = batch["pixel_values"].clone()
    seen = []
    real = model.image_decoder.train_scheduler.add_noise

    def spy(x0, noise, t):
        seen.append((x0.clone(), noise.clone(), t.clone()))
        return real(x0, noise, t)

    monkeypatch.setattr(model.image_decoder.train_scheduler, "add_noise", spy)
    calls, handle = _record_unet(model)
    model(batch)
    handle.remove()
    assert torch.equal(batch["pixel_values"], original)  # the caller's tensor is untouched
    assert len(calls) == 1 and calls[0]["x"].shape[0] == 8  # NIP and CSR: one batched UNet call
    x0, noise, t = seen[0]
    resized = torch.nn.functional.interpolate(original, size=(32, 32), mode="bilinear", antialias=True,
                                              align_corners=False)
    expected = torch.nn.functional.pixel_unshuffle(resized * 2 - 1, 4)  # 4x4 patches as channels
    assert torch.allclose(x0[:4], expected, atol=1e-6) and torch.equal(x0[:4], x0[4:])  # same image for both
    assert torch.equal(noise[:4], noise[4:])  # and the same noise draw
    assert ((t[4:] >= 200) & (t[4:] <= 799)).all()  # CSR in the middle band


def test_csr_fraction_reuses_the_first_samples_latents_and_noise(make_model, world_dir, monkeypatch):
    model = make_model()
    model.cfg.diffusion.csr_fraction = 0.5  # a batch of 4: CSR on samples 0 and 1
    model.set_loss_weights(model.cfg.stages["1"].losses)
    seen = []
    real = model.image_decoder.train_scheduler.add_noise
    monkeypatch.setattr(model.image_decoder.train_scheduler, "add_noise",
                        lambda x0, noise, t: seen.append((x0.clone(), noise.clone())) or real(x0, noise, t))
    calls, handle = _record_unet(model)
    out = model(_batch(model, world_dir, "1"))
    handle.remove()
    assert len(calls) == 1 and calls[0]["x"].shape[0] == 6  # 4 NIP rows + 2 CSR rows, still one call
    x0, noise = seen[0]
    assert torch.equal(x0[4:], x0[:2]) and torch.equal(noise[4:], noise[:2])
    assert math.isfinite(float(out["csr"].detach()))


def test_csr_gradients_reach_encoder_not_unet(make_model, world_dir):
    model = make_model()
    select_trainable(model, model.cfg.stages["1"])
    out = model(_batch(model, world_dir, "1"), weights={"csr": 1.0})
    out["csr"].backward()
    enc = [p.grad for n, p in model.named_parameters() if n.startswith("visual_tokenizer.encoder.")]
    assert enc and all(g is not None for g in enc) and any(g.abs().sum() > 0 for g in enc)
    assert all(p.grad is None for p in model.image_decoder.unet.parameters())
    assert all(not p.requires_grad for p in model.image_decoder.unet.parameters())
    # the gradient reaches the encoder through the CSR condition projection
    proj = model.visual_tokenizer.proj_cond.weight.grad
    assert proj is not None and proj.abs().sum() > 0


def test_no_csr_removes_loss_and_compute(make_model, world_dir):
    model = make_model()
    model.set_loss_weights(model.cfg.stages["1"].losses, no_csr=True)
    calls, handle = _record_unet(model)
    out = model(_batch(model, world_dir, "1"))
    handle.remove()
    assert "csr" not in out and set(out) == {"ntp", "nip", "total"}
    assert len(calls) == 1 and calls[0]["x"].shape[0] == 4
    model.set_loss_weights(model.cfg.stages["2"].losses, no_csr=True)
    calls, handle = _record_unet(model)
    out = model(_batch(model, world_dir, "2"))
    handle.remove()
    assert set(out) == {"ntp", "total"} and calls == []


def test_nip_condition_uses_context_up_to_soi(make_model):
    model = make_model()
    ids = model.ids
    n = model.cfg.num_image_tokens
    text = model.tokenizer("a red circle", add_special_tokens=False)["input_ids"]
    row = [ids["bos"]] + text + [ids["soi"]] + [ids["image"]] * n + [ids["eos"]]
    input_ids = torch.tensor([row])
    mask = torch.ones_like(input_ids)
    hidden = torch.randn(1, len(row), model.mm_decoder.hidden_size)
    soi = torch.tensor([1 + len(text)])
    a = model.mm_decoder.soi_conditions(hidden, mask, torch.tensor([0]), soi)
    hidden2 = hidden.clone()
    hidden2[0, soi + 1:] = 99.0  # positions after the SoI must not matter
    b = model.mm_decoder.soi_conditions(hidden2, mask, torch.tensor([0]), soi)
    assert torch.allclose(a, b, atol=1e-6)
    hidden2[0, 1] = 5.0  # positions before it do
    assert not torch.allclose(a, model.mm_decoder.soi_conditions(hidden2, mask, torch.tensor([0]), soi))
