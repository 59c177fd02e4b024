"""Hand-made run folders on the toy yes/no task, for the report and paired-comparison tests.

Toy data: 6 images x 3 questions, ids 1..18. Labels (see tests/plugins/toy.py): red images
(0, 2, 4) answer yes, yes, no; green images (1, 3, 5) answer no, no, yes.
"""

from __future__ import annotations

import json
from pathlib import Path

import tests.plugins.toy as toy

LABELS = {i + 1: lab for i, lab in enumerate(["yes", "yes", "no", "no", "no", "yes"] * 3)}
NO_IDS = [i for i, lab in LABELS.items() if lab == "no"]  # 3, 4, 5, 9, 10, 11, 15, 16, 17


def data_root(tmp: Path) -> Path:
    return toy.write_toy_data(tmp / "data")


def write_run(folder: Path, label: str, predictions: dict[int, str], root: Path, errors: dict[int, str] | None = None,
              option_scores: dict[int, dict[str, float]] | None = None, created: str = "2026-01-01T00:00:00Z") -> Path:
    """A run folder as `deem-eval run` writes it: results.json plus samples_toy_yesno.jsonl."""
    errors = errors or {}
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    correct = 0
    for i in range(1, 19):
        err = errors.get(i)
        pred = None if err else predictions[i]
        score = None if err else float(pred == LABELS[i])
        correct += int(score == 1.0)
        line = {"id": str(i), "prompt": f"<image>Is this red? ({(i - 1) % 3}) Answer yes or no.", "prediction": pred,
                "target": LABELS[i], "score": score, "error": err}
        if option_scores and i in option_scores:
            line["option_scores"] = option_scores[i]
        lines.append(line)
    (folder / "samples_toy_yesno.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    n_ok = 18 - len(errors)
    acc = 100.0 * correct / n_ok
    doc = {
        "model": label.split(":")[0], "model_label": label, "model_args": {}, "checkpoint_sha256": "abc123",
        "created": created, "versions": {"deem-eval": "0.1"}, "git_commit": None, "seed": 0, "scoring": "logits",
        "world_size": 1, "data_root": str(root),
        "tasks": {"toy_yesno": {"headline": "accuracy", "n": 18, "n_errors": len(errors),
                                "metrics": {"accuracy": round(acc, 4)}, "ci95": {"accuracy": [acc - 5, acc + 5]},
                                "data_fingerprint": "f1", "prompt_fingerprint": "p1"}},
    }
    (folder / "results.json").write_text(json.dumps(doc))
    return folder


def all_yes() -> dict[int, str]:
    return dict.fromkeys(range(1, 19), "yes")


def all_right() -> dict[int, str]:
    return dict(LABELS)
