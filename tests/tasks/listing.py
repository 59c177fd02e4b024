"""`deem-eval tasks NAME` on the fixtures: data found, expected files and public source shown."""

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
