"""visdial on a two-dialog VisDial v1.0 val file with 100 options per round and dense annotations."""

from __future__ import annotations

import json
import math

import pytest

from deem_eval.errors import DataError

from .util import FIXTURES, assert_fingerprints_track, copy_fixture, finalize_loading_images, task

# per round: the option positions the model ranks first (the rest follow in option order)
FIRST = {"185565_1": [], "185565_2": [7, 4, 2, 9], "185565_3": list(range(11)) + [99],
         "284024_1": [5, 6, 7, 8, 2], "284024_2": [], "284024_3": [3, 5]}


def option_scores(sample) -> dict[str, float]:
    order = FIRST[sample.id] + [i for i in range(len(sample.options)) if i not in FIRST[sample.id]]
    return {sample.options[i]: -float(pos) for pos, i in enumerate(order)}


def write(tmp_path, lines: list[dict]):
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def score(tmp_path, lines, root=FIXTURES):
    from deem_eval.scoring import score_file

    result, missing, unknown = score_file("visdial", write(tmp_path, lines), root)
    assert missing == [] and unknown == []
    return result


def test_samples_rounds_history_and_options():
    samples = list(task("visdial").samples())
    assert [s.id for s in samples] == ["185565_1", "185565_2", "185565_3", "284024_1", "284024_2", "284024_3"]
    s = samples[1]
    assert len(s.options) == 100 and s.options[4] == "it is sunny"
    assert s.target["gt_index"] == 4 and s.target["answer"] == "it is sunny"
    assert s.target["gt_relevance"][4] == 1.0 and s.target["gt_relevance"][7] == 0.5
    assert samples[0].target["gt_relevance"] is None  # only one round per dialog is densely annotated
    assert s.image.key == "visdial/VisualDialog_val2018_000000185565.jpg"
    assert samples[2].image.key == s.image.key  # one image per dialog: encoded once


def test_prompt_snapshot_has_caption_and_history():
    t = task("visdial")
    s = list(t.samples())[2]
    assert t.prompt(s) == (
        "<image>Caption: a dog sits on a bench in a park\n"
        "Q: is the photo in color? A: yes\n"
        "Q: is it sunny? A: it is sunny\n"
        "Q: what color is the dog?"
    )
    assert t.request(s).answer_prefix == "A:" and len(t.request(s).options) == 100
    short = task("visdial", history=1)
    assert short.prompt(list(short.samples())[2]).count("Q:") == 2
    assert short.prompt_fingerprint() != t.prompt_fingerprint()


def test_fingerprints(tmp_path):
    assert_fingerprints_track("visdial", "visdial", "visdial_1.0_val.json", tmp_path,
                              prompt_template="{image}Dialog: {question}")


def test_option_scores_ranked_by_hand(tmp_path):
    samples = list(task("visdial").samples())
    lines = [{"id": s.id, "prediction": s.options[(FIRST[s.id] or [0])[0]], "option_scores": option_scores(s)}
             for s in samples]
    result = score(tmp_path, lines)
    # ground-truth ranks: 1, 2 (option 7 first), 12 (after options 0-10), 5, 10, 1
    ranks = [1, 2, 12, 5, 10, 1]
    assert [r["gt_rank"] for r in result.records] == ranks
    m = result.metrics
    assert m["r_at_1"] == pytest.approx(100 * 2 / 6, abs=1e-4)
    assert m["r_at_5"] == pytest.approx(100 * 4 / 6, abs=1e-4)
    assert m["r_at_10"] == pytest.approx(100 * 5 / 6, abs=1e-4)
    assert m["mean_rank"] == pytest.approx(31 / 6, abs=1e-4)
    assert m["mrr"] == pytest.approx(100 * (1 + 1 / 2 + 1 / 12 + 1 / 5 + 1 / 10 + 1) / 6, abs=1e-4)
    # 185565 round 2: relevance 1.0 (option 4), 0.5 (7), 0.5 (9) -> k = 3; top 3 are 7, 4, 2 (0.0)
    ndcg_a = (0.5 + 1 / math.log2(3) + 0 / 2) / (1 + 0.5 / math.log2(3) + 0.5 / 2)
    # 284024 round 3: relevance 1.0 (3), 0.8 (5) -> k = 2; the model puts 3 then 5 first: ideal
    assert m["ndcg"] == pytest.approx(100 * (ndcg_a + 1.0) / 2, abs=1e-4)
    assert result.n == 6 and result.n_errors == 0 and set(result.ci95) == set(m)


def test_generated_answers_match_options_after_normalisation(tmp_path):
    samples = list(task("visdial").samples())
    preds = {"185565_1": "Yes.", "185565_2": "It is sunny!", "185565_3": "black and white",
             "284024_1": "No", "284024_2": "On the left.", "284024_3": "no"}
    result = score(tmp_path, [{"id": s.id, "prediction": preds[s.id]} for s in samples])
    # "Yes." -> option 0 "yes"... of round 1, the ground truth -> 1; "It is sunny!" -> gt -> 1
    # "black and white" matches option 7 of round 3; gt (position 99) follows the other 98 in order -> 100
    # "No" matches option 0; gt at position 2 -> 3; "On the left." -> gt -> 1; "no" -> gt (position 3) -> 1
    assert [r["gt_rank"] for r in result.records] == [1, 1, 100, 3, 1, 1]
    assert result.metrics["r_at_1"] == pytest.approx(100 * 4 / 6, abs=1e-4)


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    root = copy_fixture("visdial", tmp_path)
    (root / "visdial/VisualDialog_val2018/VisualDialog_val2018_000000284024.jpg").write_bytes(b"broken")
    t = task("visdial", root=root)
    result = finalize_loading_images(t, [s.target["answer"] for s in t.samples()])
    assert result.n == 6 and result.n_errors == 3
    assert [r["error"] is None for r in result.records] == [True] * 3 + [False] * 3
    assert result.metrics["r_at_1"] == 100.0


def test_bad_input_is_located(tmp_path):
    root = copy_fixture("visdial", tmp_path)
    path = root / "visdial/visdial_1.0_val.json"
    doc = json.loads(path.read_text())
    doc["data"]["dialogs"][1]["dialog"][0]["gt_index"] = 100
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"dialogs\[1\]\.dialog\[0\]: gt_index 100"):
        list(task("visdial", root=root).samples())
    doc["data"]["dialogs"][1]["dialog"][0]["gt_index"] = 2
    doc["data"]["dialogs"][0]["dialog"][1]["answer_options"][5] = 9  # "maybe" twice
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="same answer twice"):
        list(task("visdial", root=root).samples())
    dense = root / "visdial/visdial_1.0_val_dense_annotations.json"
    dense.write_text(json.dumps([{"image_id": 1, "round_id": 2, "gt_relevance": [0.0] * 100}]))
    path.write_text((FIXTURES / "visdial/visdial_1.0_val.json").read_text())
    with pytest.raises(DataError, match="annotates image 1 round 2, which no dialog has"):
        list(task("visdial", root=root).samples())


def test_logits_run_keeps_all_100_scores_and_rescoring_gives_the_same_metrics(tmp_path):
    from typer.testing import CliRunner

    from deem_eval.cli import app
    from deem_eval.models.base import ModelAdapter
    from deem_eval.registry import MODELS, register_model

    if "visdial-length-ranker" not in MODELS.names():
        @register_model("visdial-length-ranker")
        class LengthRanker(ModelAdapter):
            """Scores an option by minus its length (shorter first), ties left to the ranking."""

            def fingerprint(self) -> str:
                return "length-ranker-1"

            def score_options(self, requests):
                return [[-float(len(o)) for o in r.options] for r in requests]

    runner = CliRunner()
    res = runner.invoke(app, ["run", "--model", "visdial-length-ranker", "--tasks", "visdial", "--data-root",
                              str(FIXTURES), "--scoring", "logits", "--output-dir", str(tmp_path / "runs"),
                              "--quiet", "--n-boot", "50"])
    assert res.exit_code == 0, res.output
    results = next((tmp_path / "runs").rglob("results.json"))
    lines = [json.loads(x) for x in (results.parent / "samples_visdial.jsonl").read_text().splitlines()]
    assert all(len(line["option_scores"]) == 100 for line in lines)
    # round 185565_1: the human answer "yes" (3 letters) is beaten by "no" and "2" and ties with "two",
    # so it ranks 3rd or 4th as torch.sort orders the tie (score = 1 / rank)
    first = lines[0]
    scores = first["option_scores"]
    assert sorted(o for o, v in scores.items() if v > scores["yes"]) == ["2", "no"]
    assert sorted(o for o, v in scores.items() if v == scores["yes"]) == ["two", "yes"]
    assert 1 / first["score"] in (pytest.approx(3), pytest.approx(4))
    out = tmp_path / "rescored.json"
    res = runner.invoke(app, ["score", "--task", "visdial", "--predictions", str(results.parent / "samples_visdial.jsonl"),
                              "--data-root", str(FIXTURES), "--output", str(out)])
    assert res.exit_code == 0, res.output
    run_metrics = json.loads(results.read_text())["tasks"]["visdial"]["metrics"]
    assert json.loads(out.read_text())["tasks"]["visdial"]["metrics"] == run_metrics


def test_option_scores_for_other_options_are_refused(tmp_path):
    from deem_eval.errors import UserError

    samples = list(task("visdial").samples())
    lines = [{"id": s.id, "prediction": "yes", "option_scores": {"yes": 0.0, "no": -1.0}} for s in samples]
    with pytest.raises(UserError, match="sample 185565_1: option_scores lack 98 of its options"):
        score(tmp_path, lines)
