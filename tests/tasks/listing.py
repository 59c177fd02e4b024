"""`deem-eval tasks` and `deem-eval score` on task fixtures: listing, scores, exit codes."""

from __future__ import annotations

from typer.testing import CliRunner

from .util import FIXTURES


def assert_listed(name: str, *fragments: str) -> None:
    from deem_eval.cli import app

    res = CliRunner().invoke(app, ["tasks", name, "--data-root", str(FIXTURES)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if f" {name} " in line)
    assert "found" in row, res.output
    flat = " ".join(res.output.split())
    for fragment in fragments:
        assert fragment in flat, (fragment, res.output)


def assert_score_exits_2(name: str, root, tmp_path, *fragments: str) -> None:
    """`deem-eval score` on bad data: exit 2 and one message naming the file (no traceback)."""
    from deem_eval.cli import app

    preds = tmp_path / "empty.jsonl"
    preds.write_text("")
    res = CliRunner().invoke(app, ["score", "--task", name, "--predictions", str(preds), "--data-root", str(root)])
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert "Traceback" not in res.output and flat.count("error:") == 1, res.output
    for fragment in fragments:
        assert fragment in flat, (fragment, res.output)


def assert_cli_scores(name: str, predictions: dict[str, str], expected: dict[str, float], tmp_path) -> None:
    """`deem-eval score` on the fixtures writes ``expected`` as the task's metrics."""
    import json

    import pytest

    from deem_eval.cli import app

    from .util import write_predictions

    out = tmp_path / "out.json"
    res = CliRunner().invoke(app, ["score", "--task", name, "--predictions",
                                   str(write_predictions(tmp_path / "p.jsonl", predictions)),
                                   "--data-root", str(FIXTURES), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["tasks"][name]["metrics"] == pytest.approx(expected, abs=1e-4)
