import json

import pytest

from deem_eval.errors import UserError
from deem_model.config import (
    DeemConfig,
    MiningConfig,
    get_preset,
    list_presets,
    load_config,
    load_yaml_config,
    save_config,
)


def test_presets_listed_and_typed():
    assert {"paper", "tiny", "micro", "mining-vit"} <= set(list_presets())
    paper = get_preset("paper")
    assert isinstance(paper, DeemConfig) and isinstance(get_preset("mining-vit"), MiningConfig)
    assert paper.encoder.open_clip_model == "convnext_base_w"
    assert paper.num_image_tokens == paper.resampler.num_queries == 77
    assert paper.llm.pretrained == "lmsys/vicuna-7b-v1.5"
    assert paper.diffusion.pretrained == "stabilityai/stable-diffusion-2-1-base"
    s1, s2 = paper.stages["1"], paper.stages["2"]
    assert s1.losses == {"ntp": 1.0, "nip": 5.0, "csr": 5.0} and s2.losses == {"ntp": 1.0, "csr": 5.0}
    assert paper.stages["3"].losses == {"ntp": 1.0}
    assert (s1.lr, s1.betas, s1.weight_decay, s1.warmup_steps) == (1e-4, (0.9, 0.995), 0.05, 1000)
    assert {g.name: g.lr for g in s1.groups} == {"encoder": 2e-5, "decoder": 2e-5}
    assert (s2.lr, s2.betas, {g.name: g.lr for g in s2.groups}) == (1e-5, (0.9, 0.999), {"llm": 1e-6})
    assert (paper.diffusion.csr_t_min, paper.diffusion.csr_t_max, paper.diffusion.cfg_dropout) == (200, 800, 0.1)
    with pytest.raises(UserError, match="unknown preset"):
        get_preset("nope")


def test_json_round_trip(tmp_path):
    cfg = get_preset("tiny")
    save_config(cfg, tmp_path / "config.json")
    back = load_config(tmp_path / "config.json")
    assert back == cfg
    assert isinstance(back.stages["1"].betas, tuple) and isinstance(back.encoder.feature_stages, tuple)


def test_yaml_overrides_and_errors(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("base: micro\nseed: 7\nstages:\n  '1':\n    lr: 0.5\n")
    cfg = load_yaml_config(f)
    assert cfg.seed == 7 and cfg.stages["1"].lr == 0.5 and cfg.stages["1"].batch_size == 4
    f.write_text("base: micro\nencoder:\n  colour: red\n")
    with pytest.raises(UserError, match="unknown keys \\['colour'\\]"):
        load_yaml_config(f)
    f.write_text("base: micro\n  bad: [\n")
    with pytest.raises(UserError, match="line"):
        load_yaml_config(f)
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"kind": "mystery"}))
    with pytest.raises(UserError, match="unknown kind"):
        load_config(j)


def test_yaml_exponent_without_a_dot_is_a_number(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("base: micro\nstages:\n  '1':\n    lr: 1e-4\n")  # PyYAML reads this as a string
    assert load_yaml_config(f).stages["1"].lr == 0.0001


@pytest.mark.parametrize("text", ["nan", ".nan", "inf", "-.inf", "'1e400'", "ten"])
def test_a_learning_rate_that_is_not_a_finite_number_is_refused(tmp_path, text):
    f = tmp_path / "c.yaml"
    f.write_text(f"base: micro\nstages:\n  '1':\n    lr: {text}\n")
    with pytest.raises(UserError, match=r"c.yaml.*stages\.1\.lr: expected a finite number"):
        load_yaml_config(f)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("num_image_tokens", "x", "expected an integer"),
    ("num_image_tokens", True, "expected an integer"),
    ("name", 3, "expected a string"),
    ("seed", 1.5, "expected an integer"),
])
def test_a_value_of_the_wrong_type_names_the_file_and_key(tmp_path, key, value, expected):
    save_config(get_preset("tiny"), tmp_path / "config.json")
    data = json.loads((tmp_path / "config.json").read_text())
    data[key] = value
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=f"config.json: config.{key}: {expected}"):
        load_config(tmp_path / "config.json")


def test_a_list_given_as_text_is_refused(tmp_path):
    save_config(get_preset("tiny"), tmp_path / "config.json")
    data = json.loads((tmp_path / "config.json").read_text())
    data["encoder"]["feature_stages"] = "123"
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="config.encoder.feature_stages: expected a list"):
        load_config(tmp_path / "config.json")
