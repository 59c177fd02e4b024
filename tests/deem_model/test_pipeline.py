import pytest
import torch
from safetensors.torch import load_file

from deem_model.checkpoint import save_pretrained
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
