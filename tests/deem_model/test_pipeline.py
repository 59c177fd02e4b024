import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from deem_model.checkpoint import save_pretrained
from deem_model.config import get_preset
from deem_model.train.pipeline import export, merge


def _perturb(model, prefix: str) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(prefix):
                p.add_(1.0)


def test_merge_takes_each_part_from_its_run_and_checks_ownership(make_model, tmp_path):
    base = make_model()
    save_pretrained(base, tmp_path / "base")
    enc, llm = make_model(), make_model()
    _perturb(enc, "visual_tokenizer.encoder.")
    _perturb(llm, "mm_decoder.llm.")
    save_pretrained(enc, tmp_path / "enc")
    save_pretrained(llm, tmp_path / "llm")
    merge(tmp_path / "base", [(tmp_path / "enc", ["visual_tokenizer.encoder.*"]),
                              (tmp_path / "llm", ["mm_decoder.llm.*"])], tmp_path / "merged")
    got = load_file(tmp_path / "merged" / "model.safetensors")
    b = base.state_dict()
    for name, value in got.items():
        if name.startswith("visual_tokenizer.encoder.") and value.is_floating_point():
            assert torch.equal(value, enc.state_dict()[name])
        elif name.startswith("mm_decoder.llm.") and value.is_floating_point():
            assert torch.equal(value, llm.state_dict()[name])
        else:
            assert torch.equal(value, b[name])
    with pytest.raises(RuntimeError, match="changed visual_tokenizer.encoder"):
        merge(tmp_path / "base", [(tmp_path / "enc", ["mm_decoder.llm.*"])], tmp_path / "bad")
    with pytest.raises(RuntimeError, match="trained by both"):
        merge(tmp_path / "base", [(tmp_path / "enc", ["visual_tokenizer.*"]),
                                  (tmp_path / "enc", ["visual_tokenizer.encoder.*"])], tmp_path / "bad2")


def test_export_stores_float16_and_loads(make_model, tmp_path):
    from deem_model.checkpoint import load_pretrained

    model = make_model()
    save_pretrained(model, tmp_path / "run")
    (tmp_path / "run" / "optimizer.pt").write_bytes(b"x")
    export(tmp_path / "run", tmp_path / "out")
    assert not (tmp_path / "out" / "optimizer.pt").exists()
    tensors = load_file(tmp_path / "out" / "model.safetensors")
    assert all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point())
    loaded, _ = load_pretrained(tmp_path / "out")
    w = model.state_dict()["visual_tokenizer.proj_llm.weight"]
    assert torch.allclose(loaded.state_dict()["visual_tokenizer.proj_llm.weight"], w, atol=1e-3)


def test_reuse_needs_the_same_starting_weights(make_model, tmp_path, monkeypatch):
    from deem_model.train import pipeline

    runs = []

    def fake_run(cmd, log, threads):  # what a finished micro stage-1 run leaves behind, without training
        out = tmp_path / "s1"
        save_pretrained(make_model(), out)
        cfg = json.loads((out / "config.json").read_text())
        cfg["stages"]["1"] = json.loads(json.dumps(dataclasses.asdict(get_preset("micro").stages["1"])))
        (out / "config.json").write_text(json.dumps(cfg))
        (out / "trainer_state.json").write_text(json.dumps({"stage": "1", "step": 20, "no_csr": False}))
        (out / "train_log.jsonl").write_text(json.dumps({"step": 20, "ntp": 1.0, "total": 1.0}) + "\n")
        runs.append(cmd)
        return {"seconds": 0.0, "final_losses": {"ntp": 1.0}, "steps": 20}

    monkeypatch.setattr(pipeline, "_run", fake_run)
    init = tmp_path / "init"
    model = make_model()
    save_pretrained(model, init)
    run = pipeline.StageRun("micro", "1", tmp_path, tmp_path / "s1", tmp_path, 1, model.cfg.seed, init, reuse=True)
    pipeline._train(run)
    assert "reused" in pipeline._train(run)["s1"] and len(runs) == 1  # same recipe, same start: reused
    assert "reused" not in pipeline._train(dataclasses.replace(run, reuse=False))["s1"] and len(runs) == 2
    _perturb(model, "visual_tokenizer.encoder.")  # the parent stage was retrained
    save_pretrained(model, init)
    assert "reused" not in pipeline._train(run)["s1"] and len(runs) == 3


def test_pipeline_smoke_run_then_reuse(world_dir, tmp_path, capsys):
    """The whole pipeline at two steps per stage (micro preset), then again with --reuse: nothing retrains."""
    from deem_model.checkpoint import load_pretrained
    from deem_model.train import pipeline

    argv = ["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--data", str(world_dir),
            "--preset", "micro", "--max-steps", "2", "--jobs", "1"]
    assert pipeline.main(argv) == 0
    summary = json.loads((tmp_path / "out" / "pipeline.json").read_text())
    assert set(summary["stages"]) == {"clip", "dm", "lm", "mining-vit", "stage1", "stage2", "stage3",
                                      "stage1-nocsr", "stage2-nocsr", "stage3-nocsr"}
    assert all(s["steps"] == 2 for s in summary["stages"].values())
    assert "csr" in summary["stages"]["stage1"]["final_losses"]
    assert "csr" not in summary["stages"]["stage1-nocsr"]["final_losses"]
    for name in ("deem-tiny", "deem-tiny-nocsr"):
        load_pretrained(tmp_path / "out" / name)
    capsys.readouterr()
    assert pipeline.main(argv + ["--reuse"]) == 0
    log = capsys.readouterr().out
    assert "[pipeline] start" not in log and log.count("[pipeline] reuse") == 10
