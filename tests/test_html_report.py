"""The HTML report: valid HTML, one data row per sample, filter flags, the two-run diff, bad folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.html_report import DISAGREE, ERRORED, WRONG, write_report
from tests.runs_fixture import NO_IDS, all_right, all_yes, data_root, write_run

runner = CliRunner()
VOID = {"meta", "img", "br", "input", "hr", "link"}


class Collect(HTMLParser):
    """Checks nesting (every non-void tag closed in order) and keeps what the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.srcs: list[str] = []
        self.classes: list[str] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if "src" in a:
            self.srcs.append(a["src"])
        if "class" in a:
            self.classes.append(a["class"])
        if tag == "script":
            self._script = a.get("id", "")
            self.scripts[self._script] = ""

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[self._script] += data


def _parse(path: Path) -> tuple[Collect, dict]:
    p = Collect()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    assert p.stack == [], p.stack
    return p, json.loads(p.scripts["report-data"])


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    root = data_root(tmp_path)
    scores = {i: {"yes": -0.2, "no": -1.5} for i in range(1, 19)}
    a = write_run(tmp_path / "a", "m:a", all_yes(), root, errors={2: "cannot decode image <bad>.png"},
                  option_scores=scores)
    b = write_run(tmp_path / "b", "m:b", all_right(), root)
    return a, b


def test_two_run_report_parses_and_holds_every_sample(tmp_path):
    a, b = _runs(tmp_path)
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", str(a), str(b), "--out", str(out), "--n-boot", "200"])
    assert res.exit_code == 0, res.output
    parsed, data = _parse(out)
    assert data["runs"] == ["m:a", "m:b"]
    rows = data["tasks"]["toy_yesno"]["rows"]
    assert [r[0] for r in rows] == [str(i) for i in range(1, 19)]  # one row per sample, in order
    flags = {r[0]: r[7] for r in rows}
    # Run A answers yes everywhere: wrong on the no questions; sample 2 errored in A only.
    assert [i for i, f in flags.items() if f & WRONG] == [str(i) for i in NO_IDS]
    assert [i for i, f in flags.items() if f & ERRORED] == ["2"]
    # The two-run diff is exactly the samples whose score or error status differ.
    expected = sorted([*map(str, NO_IDS), "2"], key=int)
    assert data["tasks"]["toy_yesno"]["disagree"] == {"1": expected}
    assert [i for i, f in flags.items() if f & DISAGREE] == expected
    assert rows[1][6] == ["cannot decode image <bad>.png", None]  # the error, kept verbatim as data
    # Header per run, confusion matrices, figures and thumbnails embedded: nothing is fetched.
    assert parsed.classes.count("run-header") == 1 and parsed.classes.count("confusion") == 2
    assert "checkpoint_sha256" in out.read_text() and "abc123" in out.read_text()
    assert parsed.srcs and all(s.startswith("data:image/png;base64,") for s in parsed.srcs)
    assert all(t.startswith(("data:image/webp;base64,", "data:image/jpeg;base64,")) for t in data["thumbs"])
    assert len(data["thumbs"]) == 6  # one per distinct image (6 images, 3 questions each)
    text = out.read_text()
    assert "http://" not in text and "https://" not in text
    assert "reliability" in text  # A carries option scores: the log P(yes) − log P(no) view
    assert "+52.94" in text  # B − A on the 17 shared samples: 100 − 100·9/17


def test_single_run_report_without_data_or_thumbnails(tmp_path):
    a, _ = _runs(tmp_path)
    shutil.rmtree(tmp_path / "data")
    out = tmp_path / "one.html"
    write_report([a], out, thumbnails=False)
    parsed, data = _parse(out)
    assert len(data["tasks"]["toy_yesno"]["rows"]) == 18 and data["thumbs"] == []
    assert data["tasks"]["toy_yesno"]["disagree"] == {}


def test_bad_run_folders_exit_2(tmp_path):
    a, _ = _runs(tmp_path)
    res = runner.invoke(app, ["report", str(tmp_path / "missing"), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "run folder not found" in res.output
    broken = tmp_path / "broken"
    shutil.copytree(a, broken)
    (broken / "results.json").write_text('{"tasks": ')
    res = runner.invoke(app, ["report", str(broken), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "results.json" in res.output and "not valid JSON" in res.output
    (broken / "results.json").write_text((a / "results.json").read_text())
    (broken / "samples_toy_yesno.jsonl").write_text('{"id": 1}\n{oops\n')
    res = runner.invoke(app, ["report", str(broken), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "samples_toy_yesno.jsonl, line 2" in res.output
    (broken / "samples_toy_yesno.jsonl").unlink()
    res = runner.invoke(app, ["report", str(broken), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "samples_toy_yesno.jsonl: not found" in res.output
    assert not (tmp_path / "x.html").exists()


def _big_run(folder: Path, n: int, flip: int) -> Path:
    """n samples of a task this package does not know (no data, no registry entry)."""
    folder.mkdir(parents=True)
    lines = [{"id": str(i), "prompt": f"question {i}", "prediction": "a" if i % flip else "b", "target": "a",
              "score": float(i % flip != 0), "error": None} for i in range(n)]
    (folder / "samples_big.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    acc = 100 * sum(x["score"] for x in lines) / n
    (folder / "results.json").write_text(json.dumps({"model": "x", "model_label": f"x:{folder.name}", "tasks": {
        "big": {"headline": "accuracy", "n": n, "n_errors": 0, "metrics": {"accuracy": acc}, "ci95": {}}}}))
    return folder


def test_ten_thousand_samples_build_quickly(tmp_path):
    a, b = _big_run(tmp_path / "a", 10_000, 7), _big_run(tmp_path / "b", 10_000, 5)
    t0 = time.perf_counter()
    write_report([a, b], tmp_path / "big.html", n_boot=200)
    elapsed = time.perf_counter() - t0
    _, data = _parse(tmp_path / "big.html")
    rows = data["tasks"]["big"]["rows"]
    assert len(rows) == 10_000
    # Scores differ where exactly one of i % 7, i % 5 is 0.
    expected = [str(i) for i in range(10_000) if (i % 7 == 0) != (i % 5 == 0)]
    assert data["tasks"]["big"]["disagree"]["1"] == expected
    assert elapsed < 30, elapsed


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser on this machine")
def test_renders_in_a_headless_browser_without_console_errors(tmp_path):
    a, b = _runs(tmp_path)
    big_a, big_b = _big_run(tmp_path / "ba", 10_000, 7), _big_run(tmp_path / "bb", 10_000, 5)
    for name, dirs in (("small.html", [a, b]), ("big.html", [big_a, big_b])):
        out = tmp_path / name
        write_report(dirs, out, n_boot=100)
        res = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0",
             f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", out.as_uri()],
            capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)),
        )
        assert res.returncode == 0, res.stderr[-2000:]
        console = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
        assert console == []
        assert 'data-ready="1"' in res.stdout  # the script ran to its end
        if name == "big.html":
            assert "samples 1–50 of 10000" in res.stdout  # paged: one page of rows in the DOM
            assert res.stdout.count("<tr><td>") < 200
        else:
            assert "samples 1–18 of 18" in res.stdout


def test_margins_skip_targets_that_are_not_a_yes_no_label():
    """Tasks whose target is a record (MME, HallusionBench) may still carry yes/no option scores."""
    from deem_eval.html_report import _margins

    lines = [{"target": {"answer": "yes", "image": "a.jpg"}, "option_scores": {"yes": -0.1, "no": -2.0}},
             {"target": "no", "option_scores": {"yes": -3.0, "no": -0.5}},
             {"target": ["yes"], "option_scores": {"yes": -1.0, "no": -1.0}}]
    assert _margins(lines) == {"yes": [], "no": [-2.5]}
