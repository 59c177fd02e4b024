"""Terminal tables: readable when printed to a pipe or a file."""

from __future__ import annotations

import io

from deem_eval import report


def test_a_pipe_gets_the_wide_table_width(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    out = report.console(file=io.StringIO())
    assert not out.is_terminal
    assert out.width == report.PIPE_WIDTH


def test_columns_set_by_the_user_wins(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert report.console(file=io.StringIO()).width == 100


def test_models_listing_keeps_each_adapter_on_few_lines(monkeypatch, capsys):
    from deem_eval.cli import models_cmd

    monkeypatch.delenv("COLUMNS", raising=False)
    models_cmd()
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith("│ hf-vlm"))
    # 80 columns left the description one word per line ("A", "Hugging", "Face", ...)
    assert "A Hugging Face image-text-to-text model" in line
