import hashlib

import pytest
import torch

from deem_eval.errors import UserError
from deem_model.checkpoint import load_pretrained, load_weights, save_pretrained
from deem_model.data import StageData


def test_save_load_identical_outputs(make_model, world_dir, tmp_path):
    model = make_model(seed=3).eval()
    sha = save_pretrained(model, tmp_path / "ck")
    assert sha == hashlib.sha256((tmp_path / "ck" / "model.safetensors").read_bytes()).hexdigest()
    loaded, sha2 = load_pretrained(tmp_path / "ck")
    assert sha2 == sha and loaded.cfg == model.cfg and len(loaded.tokenizer) == len(model.tokenizer)
    a = model.state_dict()
    b = loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    batch = StageData("1", world_dir, model, 4, seed=0).batch(0)
    for m in (model, loaded):
        m.set_loss_weights({"ntp": 1.0, "nip": 5.0, "csr": 5.0})
    torch.manual_seed(0)
    out_a = model(batch)
    torch.manual_seed(0)
    out_b = loaded(batch)
    assert all(torch.equal(out_a[k], out_b[k]) for k in out_a)


def test_truncated_and_mismatched_weights_are_clear_errors(make_model, tmp_path):
    model = make_model()
    save_pretrained(model, tmp_path / "ck")
    path = tmp_path / "ck" / "model.safetensors"
    data = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="trunc.safetensors: truncated or corrupt"):
        load_weights(model, tmp_path / "trunc.safetensors")
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    tensors.pop("visual_tokenizer.proj_llm.weight")
    tensors["visual_tokenizer.extra"] = torch.zeros(1)
    save_file(tensors, tmp_path / "bad.safetensors")
    with pytest.raises(UserError) as exc:
        load_weights(model, tmp_path / "bad.safetensors")
    msg = str(exc.value)
    assert "missing keys: visual_tokenizer.proj_llm.weight" in msg and "unexpected keys: visual_tokenizer.extra" in msg
    with pytest.raises(UserError, match="not found"):
        load_pretrained(tmp_path / "nowhere")


@pytest.mark.parametrize("content", ["[1, 2]\n", '{"version": "1.0", "model": ', ""])
def test_a_damaged_tokenizer_file_is_a_clear_error(make_model, tmp_path, content):
    save_pretrained(make_model(), tmp_path / "ck")
    (tmp_path / "ck" / "tokenizer.json").write_text(content)
    with pytest.raises(UserError, match="tokenizer files .* cannot be read"):
        load_pretrained(tmp_path / "ck")
