"""Helpers shared by the task tests: fixture location, predictions files, POPE roots, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.evaluation import TaskResult
from deem_eval.registry import TASKS
from deem_eval.scoring import score_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_RUNNER = CliRunner()


def write_predictions(path: Path, predictions: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": k, "prediction": v}) + "\n" for k, v in predictions.items()))
    return path


def score(
    task: str,
    predictions: dict[str, str],
    tmp_path: Path,
    root: Path = FIXTURES,
    task_args: dict[str, str] | None = None,
) -> TaskResult:
    """Score through ``score_file`` (what ``deem-eval score`` runs) and check every sample was scored."""
    result, missing, unknown = score_file(
        task, write_predictions(tmp_path / "preds.jsonl", predictions), root, task_args
    )
    assert missing == [] and unknown == []
    return result


def copy_fixture(folder: str, tmp_path: Path) -> Path:
    """A private copy of one fixture folder under a fresh data root (for tests that edit files)."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / folder, root / folder)
    return root


def task(name: str, root: Path = FIXTURES, **config):
    cls = TASKS.get(name)
    return cls(root, cls.Config(**config))


def assert_fingerprints_track(name: str, folder: str, data_file: str, tmp_path: Path, **template_change: str) -> None:
    """The prompt fingerprint follows a template change and the data fingerprint a data edit."""
    t = task(name)
    assert t.prompt_fingerprint() and t.data_fingerprint()
    changed = type("Changed", (type(t),), dict(template_change))
    assert changed(FIXTURES).prompt_fingerprint() != t.prompt_fingerprint()
    root = copy_fixture(folder, tmp_path)
    before = task(name, root).data_fingerprint()
    with (root / folder / data_file).open("a", encoding="utf-8") as fh:
        fh.write("\n")
    assert task(name, root).data_fingerprint() != before


def finalize_loading_images(t, predictions: list[str]) -> TaskResult:
    """Score like the runner does: a sample whose image fails to load is an error, not a prediction."""
    from deem_eval.errors import SampleError
    from deem_eval.evaluation import Outcome, finalize

    outcomes = []
    for s, pred in zip(t.samples(), predictions, strict=True):
        try:
            s.image.load()
            outcomes.append(Outcome(s, t.prompt(s), pred))
        except SampleError as exc:
            outcomes.append(Outcome(s, t.prompt(s), None, error=str(exc)))
    return finalize(t, outcomes)


def cli(*args: str):
    return _RUNNER.invoke(app, list(args))


def assert_clean_exit_2(res, *fragments: str) -> None:
    """Exit 2, one 'error:' message containing every fragment, and no traceback."""
    out = res.output
    assert res.exit_code == 2, out
    assert "Traceback" not in out and out.count("error:") == 1, out
    flat = " ".join(out.split())
    for f in fragments:
        assert f in flat, (f, out)


def pope_root(tmp_path: Path, lines: list[dict | str]) -> Path:
    root = tmp_path / "root"
    (root / "pope" / "images").mkdir(parents=True)
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    (root / "pope" / "coco_pope_random.json").write_text(text, encoding="utf-8")
    return root


def q(qid, image="a.jpg", label="yes", text="Is there a dog in the image?") -> dict:
    return {"question_id": qid, "image": image, "text": text, "label": label}
