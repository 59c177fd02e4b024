"""coco_caption on a 4-image Karpathy file: loading, scoring through `deem-eval score`, bad input."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from deem_eval.errors import DataError, UserError
from deem_eval.metrics import captions as cap
from deem_eval.registry import TASKS

from .util import FIXTURES, copy_fixture, score, task, write_predictions

PREDICTIONS = {
    "101": "A dog runs on the grass.",  # exact copy of a reference
    "102": "A red sofa.",  # partial
    "103": "Blue sky.",  # disjoint
    "104": "A plate of food on a wooden table.",  # partial, one word longer than a reference
}
BETA2 = 1.2**2


def rouge_f(p: float, r: float) -> float:
    return (1 + BETA2) * p * r / (r + BETA2 * p) if p and r else 0.0


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return score("coco_caption", PREDICTIONS, tmp_path_factory.mktemp("coco"))


def test_registered_with_caption_metrics():
    cls = TASKS.get("coco_caption")
    assert cls.metrics == ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
    assert cls.headline == "CIDEr" and cls.output_type == "generate"
    assert cls.expected == ("dataset_coco.json", "images") and cls.source


def test_samples_are_the_karpathy_test_split():
    samples = list(task("coco_caption").samples())
    assert [s.id for s in samples] == ["101", "102", "103", "104"]  # 105 is in the val split
    s = samples[1]
    assert s.target == ["Two cats sleep on a red sofa.", "Cats are sleeping on a couch."]
    assert s.image.key == "coco_caption/val2014/COCO_val2014_000000000102.jpg"
    assert s.image.path == (FIXTURES / "coco_caption/images/val2014/COCO_val2014_000000000102.jpg").resolve()
    assert s.image.load().size == (24, 16)
    assert [x.id for x in task("coco_caption", split="val").samples()] == ["105"]


def test_prompt_snapshot_and_fingerprints():
    t = task("coco_caption")
    sample = next(iter(t.samples()))
    assert t.prompt(sample) == "<image>Describe this image in one sentence."
    assert t.max_new_tokens == 30
    assert len(t.prompt_fingerprint()) == 16 and len(t.data_fingerprint()) == 16


def test_metrics_by_hand(result):
    assert result.n == 4 and result.n_errors == 0
    # Bleu_1: lengths 6+3+2+8 = 19, closest refs 6+6+5+7 = 24, clipped matches 6+3+0+7 = 16
    assert result.metrics["Bleu_1"] == pytest.approx(100 * 16 / 19 * math.exp(1 - 24 / 19), abs=1e-4)
    rouge = [1.0, rouge_f(1.0, 3 / 7), 0.0, rouge_f(7 / 8, 1.0)]
    assert result.metrics["ROUGE_L"] == pytest.approx(100 * sum(rouge) / 4, abs=1e-4)
    assert [r["rouge_l"] for r in result.records] == pytest.approx([100 * v for v in rouge], abs=1e-4)
    assert set(result.metrics) == set(TASKS.get("coco_caption").metrics)
    # per-record score is the image's CIDEr-D x100; the corpus CIDEr is their mean
    scores = [r["score"] for r in result.records]
    assert scores[0] > scores[3] > scores[1] > scores[2] == 0.0
    assert result.metrics["CIDEr"] == pytest.approx(sum(scores) / 4, abs=1e-3)


def test_corpus_meteor_is_the_scorers_aggregate(result):
    direct = cap.score_captions([s.target for s in task("coco_caption").samples()], list(PREDICTIONS.values()))
    for name, value in direct.corpus.items():
        assert result.metrics[name] == pytest.approx(100 * value, abs=1e-4)


def test_confidence_intervals_cover_every_metric(result):
    assert set(result.ci95) == set(result.metrics)
    for name, (lo, hi) in result.ci95.items():
        assert lo <= hi, name
    lo, hi = result.ci95["CIDEr"]
    assert lo <= result.metrics["CIDEr"] <= hi


def test_cli_score(tmp_path):
    from deem_eval.cli import app

    preds = write_predictions(tmp_path / "p.jsonl", PREDICTIONS)
    out = tmp_path / "out.json"
    res = CliRunner().invoke(app, ["score", "--task", "coco_caption", "--predictions", str(preds),
                                   "--data-root", str(FIXTURES), "--output", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())["tasks"]["coco_caption"]
    assert doc["n"] == 4 and doc["metrics"]["Bleu_1"] == pytest.approx(100 * 16 / 19 * math.exp(1 - 24 / 19), abs=1e-3)
    assert doc["data_fingerprint"] and doc["prompt_fingerprint"]


def test_missing_file_names_it_and_the_layout(tmp_path):
    (tmp_path / "coco_caption").mkdir()
    with pytest.raises(DataError) as err:
        list(task("coco_caption", root=tmp_path).samples())
    assert "dataset_coco.json" in str(err.value) and "not found" in str(err.value)
    assert "filepath" in str(err.value) and "cocoid" in str(err.value)


def test_malformed_json_names_file_and_line(tmp_path):
    root = copy_fixture("coco_caption", tmp_path)
    path = root / "coco_caption/dataset_coco.json"
    lines = path.read_text().splitlines()
    lines[3] = lines[3] + ","  # a stray comma on line 4
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"dataset_coco.json, line \d+: not valid JSON"):
        list(task("coco_caption", root=root).samples())


def test_image_path_escaping_the_root_is_rejected(tmp_path):
    root = copy_fixture("coco_caption", tmp_path)
    path = root / "coco_caption/dataset_coco.json"
    doc = json.loads(path.read_text())
    doc["images"][2]["filepath"] = "../../.."
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="points outside"):
        list(task("coco_caption", root=root).samples())


def test_java_missing_fails_before_generation(monkeypatch):
    monkeypatch.setattr(cap.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match=r"Java \(a JRE\)"):
        next(iter(task("coco_caption").samples()))
