import json
from pathlib import Path

import pytest
import torch

from deem_eval.errors import UserError
from deem_model.config import ParamGroup, get_preset
from deem_model.generation import generate_text, score_options
from deem_model.train.cli import main
from deem_model.train.jobs import DeemJob
from deem_model.train.loop import train
from deem_model.train.optim import cosine_with_warmup, param_groups, select_trainable


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained_stage2(world_dir, tmp_path_factory):
    """A micro model after 20 optimiser steps of yes/no instruction tuning (shared by tests)."""
    out = tmp_path_factory.mktemp("s2")
    cfg = get_preset("micro")
    st = cfg.stages["2"]
    st.lr, st.losses, st.warmup_steps, st.batch_size = 1e-2, {"ntp": 1.0}, 1, 8
    st.trainable = ["mm_decoder.llm.*", "visual_tokenizer.resampler.*", "visual_tokenizer.proj_llm.*"]
    st.groups = [ParamGroup("llm", ["mm_decoder.llm.*"], 1e-2)]
    job = DeemJob(cfg, "2", world_dir)
    train(job, job.stage, out, 20, show_progress=False)
    return job.model.eval(), _log(out)


def test_twenty_steps_lower_the_loss(trained_stage2):
    _, log = trained_stage2
    ntp = [r["ntp"] for r in log]
    assert len(ntp) == 20
    assert sum(ntp[-5:]) / 5 < 0.6 * sum(ntp[:5]) / 5


def test_option_scores_agree_with_greedy_generation(trained_stage2, world_dir):
    from PIL import Image

    model, _ = trained_stage2
    rows = [json.loads(x) for x in (world_dir / "train" / "instruct.jsonl").read_text().splitlines()][:8]
    images = [Image.open(world_dir / "train" / r["image"]) for r in rows]
    prompts = ["Based on the image, please answer the question. <image>" + r["question"] + " Please answer yes or no."
               for r in rows]
    prefixes = ["The answer is"] * len(rows)
    greedy = generate_text(model, prompts, images=images, answer_prefixes=prefixes, max_new_tokens=3)
    scores = score_options(model, prompts, [["yes", "no"]] * len(rows), images=images, answer_prefixes=prefixes)
    firsts = [g.split()[0] if g else "" for g in greedy]
    assert sum(f in ("yes", "no") for f in firsts) >= 6, greedy
    for f, (s_yes, s_no) in zip(firsts, scores, strict=True):
        if f in ("yes", "no"):
            assert f == ("yes" if s_yes > s_no else "no")


def test_resume_is_bit_for_bit(world_dir, tmp_path):
    cfg = get_preset("micro")
    cfg.stages["1"].save_every = 2
    full = tmp_path / "full"
    job = DeemJob(cfg, "1", world_dir)
    train(job, job.stage, full, 4, show_progress=False)
    ckpt = full / "checkpoint-2"
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "optimizer.pt").is_file()
    resumed = tmp_path / "resumed"
    job = DeemJob(get_preset("micro"), "1", world_dir, resume=ckpt)
    train(job, job.stage, resumed, 4, resume=ckpt, show_progress=False)
    a = {r["step"]: r for r in _log(full)}
    b = {r["step"]: r for r in _log(resumed)}
    assert sorted(a) == [1, 2, 3, 4] and sorted(b) == [3, 4]
    for step in (3, 4):
        for k in ("ntp", "nip", "csr", "total", "lr"):
            assert a[step][k] == b[step][k], (step, k)
    from safetensors.torch import load_file

    wa, wb = load_file(full / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_groups_and_patterns_fail_loudly(make_model):
    model = make_model()
    stage = get_preset("micro").stages["1"]
    trainable = select_trainable(model, stage)
    assert all(not n.startswith(("mm_decoder.llm.", "image_decoder.unet.")) for n in trainable)
    groups, counts = param_groups(model, stage)
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == {"default": 5e-4, "encoder": 1e-4}
    enc = sum(p.numel() for n, p in model.named_parameters() if n.startswith("visual_tokenizer.encoder."))
    assert counts["encoder"] == enc
    stage.groups.append(ParamGroup("typo", ["mm_decoder.lm.*"], 1.0))
    with pytest.raises(UserError, match="'typo'.*matches no trainable parameter"):
        param_groups(model, stage)
    stage.trainable.append("visual_tokenizr.*")
    with pytest.raises(UserError, match="visual_tokenizr"):
        select_trainable(model, stage)


def test_warmup_then_cosine():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = cosine_with_warmup(opt, warmup=4, total=12)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[8] == pytest.approx(0.5)  # half-way through the cosine: (1 + cos(pi/2)) / 2
    assert lrs[-1] < lrs[-2] < lrs[4]


def test_cli_bad_usage_exits_2(world_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--preset", "micro"])  # no --stage
    assert exc.value.code == 2
    assert main(["--preset", "nope", "--stage", "1", "--data", str(world_dir)]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["--preset", "micro", "--stage", "7", "--data", str(world_dir)]) == 2
    assert main(["--preset", "micro", "--stage", "1", "--data", str(tmp_path)]) == 2
    assert "no train/ folder" in capsys.readouterr().err
    assert main(["--preset", "micro", "--stage", "lm", "--no-csr", "--data", str(world_dir),
                 "--output", str(tmp_path / "o")]) == 2
    assert "no CSR loss" in capsys.readouterr().err


def test_cli_runs_a_stage_and_inits_the_next(world_dir, tmp_path, capsys):
    out = tmp_path / "lm"
    assert main(["--preset", "micro", "--stage", "lm", "--data", str(world_dir), "--max-steps", "2",
                 "--output", str(out), "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and set(summary["final_losses"]) == {"ntp", "total"}
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["step"] == 2 and state["stage"] == "lm"
    out3 = tmp_path / "s3"
    assert main(["--preset", "micro", "--stage", "3", "--data", str(world_dir), "--max-steps", "1",
                 "--init", str(out), "--output", str(out3), "--quiet"]) == 0
    from safetensors.torch import load_file

    a, b = load_file(out / "model.safetensors"), load_file(out3 / "model.safetensors")
    assert torch.equal(a["image_decoder.unet.conv_in.weight"], b["image_decoder.unet.conv_in.weight"])
