"""The linear-probe measurement: labels from scene sidecars, held-out split, known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deem_eval.errors import DataError
from deem_model.probe import ProbeImage, fit_probe, probe_features, probe_images, scene_labels


def _obj(group: int, x: float, colour: str = "red", orientation: str | None = "up") -> dict:
    return {"group": group, "centre": [x, 30.0], "colour": colour, "orientation": orientation,
            "state": None, "texture": "plain", "category": "arrow"}


def _scene(objects: list[dict], domain: str = "photo", effects: dict | None = None) -> dict:
    return {"domain": domain, "effects": effects or {}, "objects": objects, "width": 64, "height": 64}


def test_scene_labels_one_group_photo_scenes_only():
    # two arrows of one group at x = 10 and 20: mean 15 < 64 / 3, so "left"
    labels = scene_labels(_scene([_obj(0, 10.0), _obj(0, 20.0)]))
    assert labels == {"orientation": "up", "colour": "red", "count": "2", "position": "left", "state": None,
                      "texture": "plain"}
    assert scene_labels(_scene([_obj(0, 40.0)]))["position"] == "center"  # 21.3 <= 40 <= 42.7
    assert scene_labels(_scene([_obj(0, 50.0)]))["position"] == "right"
    assert scene_labels(_scene([_obj(0, 10.0), _obj(1, 50.0)])) is None  # two groups: no single answer
    assert scene_labels(_scene([_obj(0, 10.0)], domain="rendition")) is None
    assert scene_labels(_scene([_obj(0, 10.0)], effects={"blur": 0.5})) is None
    assert scene_labels(_scene([])) is None


def test_probe_images_skip_training_and_mmvp(tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    row = {"image": "vqav2/a.jpg", "scene": _scene([_obj(0, 10.0)])}
    (scenes / "vqav2.jsonl").write_text(json.dumps(row) + "\n")
    (scenes / "train.jsonl").write_text(json.dumps({**row, "image": "train/images/0.png"}) + "\n")
    (scenes / "mmvp.jsonl").write_text(json.dumps({**row, "image": "mmvp/MMVP Images/1.jpg"}) + "\n")
    assert [im.image for im in probe_images(tmp_path)] == ["vqav2/a.jpg"]
    (scenes / "okvqa.jsonl").write_text('{"image": "x.jpg"}\n')
    with pytest.raises(DataError, match="okvqa.jsonl, line 1"):
        probe_images(tmp_path)


def test_probe_images_without_sidecars(tmp_path):
    with pytest.raises(DataError, match="no scene sidecars"):
        probe_images(tmp_path)


def test_split_is_fixed_by_path():
    ims = [ProbeImage(f"pope/images/{i}.jpg", {}) for i in range(2000)]
    share = sum(im.is_test for im in ims) / len(ims)
    assert 0.27 < share < 0.33  # TEST_FRACTION 0.3
    assert [im.is_test for im in ims] == [ProbeImage(im.image, {"x": "y"}).is_test for im in ims]


def test_fit_probe_known_answers():
    rng = np.random.default_rng(0)
    labels = ["a", "b", "c"]
    y_train = [labels[i % 3] for i in range(60)]
    y_test = ["a", "a", "b", "c"]
    onehot = {lab: np.eye(3)[i] for i, lab in enumerate(labels)}
    x_train = np.stack([onehot[y] for y in y_train]) + 0.01 * rng.normal(size=(60, 3))
    x_test = np.stack([onehot[y] for y in y_test])
    s = fit_probe(x_train, y_train, x_test, y_test)
    # features that are the label: every test row right; majority = train's first most common
    # label "a" (20 each, first seen), right on 2 of the 4 test rows
    assert s.accuracy == 100.0 and s.majority == 50.0
    assert (s.n_train, s.n_test, s.n_classes) == (60, 4, 3)
    # pure noise features with a 3:1 label skew: the probe cannot beat predicting the majority by much
    y_skew = ["a"] * 150 + ["b"] * 50
    noise = rng.normal(size=(200, 5))
    s = fit_probe(noise[:100], y_skew[::2], noise[100:], y_skew[1::2])
    assert s.majority == 75.0 and s.accuracy <= 80.0
    with pytest.raises(ValueError, match="two classes"):
        fit_probe(x_train, ["a"] * 60, x_test, y_test)


def test_probe_features_per_attribute_on_defined_rows():
    ims, feats = [], []
    for i in range(400):
        colour = ("red", "blue")[i % 2]
        ims.append(ProbeImage(f"img/{i}.jpg", {"orientation": None if i % 4 else "up", "colour": colour,
                                               "count": "1", "position": "left", "state": None,
                                               "texture": ("plain", "dotted")[(i // 2) % 2]}))
        feats.append([float(i % 2), float((i // 2) % 2), 0.0])
    scores = probe_features(np.array(feats), ims)
    # orientation has one class (skipped: a probe needs two), state is never defined, count and
    # position have one class; colour and texture are read off the features exactly
    assert set(scores) == {"colour", "texture"}
    assert scores["colour"].accuracy == scores["texture"].accuracy == 100.0
    n_test = sum(im.is_test for im in ims)
    assert scores["colour"].n_test == n_test and scores["colour"].n_train == 400 - n_test


def test_command_on_a_tiny_world(tmp_path, capsys):
    from PIL import Image

    from deem_model.probe import main

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    rows = []
    for i in range(40):  # red objects on the left, blue on the right: drawn so a probe can see it
        colour, x = ("red", 10.0) if i % 2 else ("blue", 54.0)
        img = Image.new("RGB", (64, 64), (90, 90, 90))
        img.paste((200, 30, 30) if colour == "red" else (30, 30, 200), (int(x) - 6, 24, int(x) + 6, 36))
        (tmp_path / "vqav2").mkdir(exist_ok=True)
        img.save(tmp_path / "vqav2" / f"{i}.png")
        rows.append(json.dumps({"image": f"vqav2/{i}.png", "scene": _scene([_obj(0, x, colour)])}))
    (scenes / "vqav2.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "probe.json"
    assert main(["--data", str(tmp_path), "--checkpoints", "deem-tiny", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| deem-tiny |" in table and "| majority class |" in table
    scores = json.loads(out.read_text())["deem-tiny"]
    assert set(scores) == {"colour", "position"}  # the only details with two classes here
    assert scores["colour"]["accuracy"] == 100.0


def test_command_bad_data_exit_2(tmp_path, capsys):
    from deem_model.probe import main

    assert main(["--data", str(tmp_path), "--checkpoints", "deem-tiny"]) == 2
    assert "no scene sidecars" in capsys.readouterr().err


def test_command_missing_image_is_a_located_error(tmp_path, capsys):
    from deem_model.probe import main

    (tmp_path / "scenes").mkdir()
    row = {"image": "vqav2/gone.png", "scene": _scene([_obj(0, 10.0)])}
    (tmp_path / "scenes" / "vqav2.jsonl").write_text(json.dumps(row) + "\n")
    assert main(["--data", str(tmp_path), "--checkpoints", "deem-tiny"]) == 2
    assert "gone.png" in capsys.readouterr().err
