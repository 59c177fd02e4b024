"""The paper-table tasks through the CLI: listed with their files and source, bad data exits 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deem_eval.cli import app

from .util import FIXTURES, copy_fixture

runner = CliRunner()
TASK_FILES = {
    "gqa": ("gqa/testdev_balanced_questions.json", "gqadataset.org"),
    "visdial": ("visdial/visdial_1.0_val_dense_annotations.json", "visualdialog.org"),
    "image2paragraph": ("image2paragraph/paragraphs_v1.json", "im2p"),
    "refcoco": ("refcoco/refs(unc).p", "lichengunc/refer"),
    "refcoco_plus": ("refcoco+/refs(unc).p", "refcoco+.zip"),
    "fid_lncoco": ("fid_lncoco/coco_val_captions.jsonl", "localized-narratives"),
}


@pytest.mark.parametrize("name", sorted(TASK_FILES))
def test_tasks_lists_expected_files_source_and_data_status(name):
    res = runner.invoke(app, ["tasks", name, "--data-root", str(FIXTURES)], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    path, source = TASK_FILES[name]
    assert path in res.output and source in res.output and "found" in res.output


@pytest.mark.parametrize("name, folder, edit", [
    ("gqa", "gqa", lambda p: p.joinpath("testdev_balanced_questions.json").write_text('{"1": [1, 2]}')),
    ("visdial", "visdial", lambda p: p.joinpath("visdial_1.0_val_dense_annotations.json").write_text('{"a": 1}')),
    ("image2paragraph", "image2paragraph", lambda p: p.joinpath("test_split.json").write_text("[1,")),
    ("fid_lncoco", "fid_lncoco", lambda p: p.joinpath("coco_val_captions.jsonl").write_text('{"image_id": 1}\n')),
])
def test_bad_data_exits_2_naming_the_file(tmp_path, name, folder, edit):
    root = copy_fixture(folder, tmp_path)
    edit(root / folder)
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "1", "prediction": "x"}) + "\n")
    res = runner.invoke(app, ["score", "--task", name, "--predictions", str(preds), "--data-root", str(root)])
    assert res.exit_code == 2, res.output
    assert folder in res.output and "Traceback" not in res.output


def test_bad_option_scores_line_exits_2(tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "185565_1", "prediction": "yes", "option_scores": {"yes": "high"}}) + "\n")
    res = runner.invoke(app, ["score", "--task", "visdial", "--predictions", str(preds), "--data-root", str(FIXTURES)])
    assert res.exit_code == 2 and "line 1" in res.output and "option_scores" in res.output
