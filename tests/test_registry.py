"""Registries: patterns, groups, lazy adapters, third-party entry points."""

from __future__ import annotations

import sys

import pytest

from deem_eval.errors import UserError
from deem_eval.registry import MODELS, TASKS, Registry


def test_expand_groups_patterns_and_dedup():
    import tests.plugins.toy  # noqa: F401

    assert TASKS.expand("toy,toy_yesno") == ["toy_yesno"]
    assert TASKS.expand("toy_*") == ["toy_yesno"]
    with pytest.raises(UserError, match="unknown task 'zzz'"):
        TASKS.expand("zzz")
    with pytest.raises(UserError, match="no task matches"):
        TASKS.expand("zzz*")


def test_lazy_model_names_do_not_import_adapters():
    assert {"deem", "hf-vlm"} <= set(MODELS.names())


def test_third_party_entry_point_is_discovered(tmp_path, monkeypatch):
    pkg = tmp_path / "thirdparty_plugin.py"
    pkg.write_text(
        "from deem_eval.registry import REGISTRY_UNDER_TEST as R\n"
        "@R.register('external_task')\nclass External:\n    name = ''\n"
    )
    dist = tmp_path / "thirdparty_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[deem_eval.test_plugins]\nexternal = thirdparty_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("task", "deem_eval.test_plugins")
    import deem_eval.registry as module

    monkeypatch.setattr(module, "REGISTRY_UNDER_TEST", reg, raising=False)
    assert reg.names() == ["external_task"]
    assert reg.get("external_task").name == "external_task"
    sys.modules.pop("thirdparty_plugin", None)


def _registry_with_tasks(*names: str) -> Registry:
    reg = Registry("task", "deem_eval.no_such_entry_point_group")
    for n in names:
        reg.register(n)(type(n, (), {"name": ""}))
    return reg


def test_group_of_groups_expands_recursively_in_order_without_repeats():
    reg = _registry_with_tasks("a1", "a2", "b1", "c1")
    reg.register("a3", group="inner")(type("a3", (), {"name": ""}))
    reg.register_group("inner", ["a1", "a2"])  # adds to the decorator-made group, keeps its order
    reg.register_group("outer", ["inner", "b1", "a1", "inner2"])
    reg.register_group("inner2", ["c1", "a2"])  # declared after it is used
    assert reg.group_members("outer") == ["inner", "b1", "a1", "inner2"]
    assert reg.groups()["inner"] == ["a3", "a1", "a2"]
    assert reg.groups()["outer"] == ["a3", "a1", "a2", "b1", "c1"]
    assert reg.expand("outer,c1,b1") == ["a3", "a1", "a2", "b1", "c1"]


def test_group_with_unregistered_members_expands_to_those_that_exist():
    reg = _registry_with_tasks("mmvp_like")
    reg.register_group("perception_like", ["mmvp_like", "later_task", "later_group"])
    assert reg.expand("perception_like") == ["mmvp_like"]
    reg.register("later_task")(type("later_task", (), {"name": ""}))  # lands later
    assert reg.expand("perception_like") == ["mmvp_like", "later_task"]
    reg.register_group("empty", ["nothing_yet"])
    with pytest.raises(UserError, match="group 'empty' has no registered members"):
        reg.expand("empty")


def test_group_cycles_terminate_and_group_names_cannot_shadow_tasks():
    reg = _registry_with_tasks("t1", "t2")
    reg.register_group("g1", ["t1", "g2"])
    reg.register_group("g2", ["g1", "t2"])
    assert reg.groups()["g1"] == ["t1", "t2"]
    assert reg.groups()["g2"] == ["t1", "t2"]
    with pytest.raises(ValueError, match="name of a task"):
        reg.register_group("t1", ["t2"])
    with pytest.raises(ValueError, match="name of a group"):
        reg.register("g1")(type("g1", (), {"name": ""}))


def test_builtin_hallucination_and_perception_groups():
    from deem_eval.registry import TASKS

    assert TASKS.group_members("hallucination") == ["pope", "hallusionbench", "amber_disc", "chair", "mme"]
    assert TASKS.group_members("perception") == ["mmvp", "cvbench", "naturalbench"]
    hall = TASKS.expand("hallucination")
    assert hall[:3] == ["pope_random", "pope_popular", "pope_adversarial"]
    assert TASKS.expand("perception")[0] == "mmvp"
    assert set(TASKS.expand("perception")) <= {"mmvp", "cvbench", "naturalbench"}


def test_tasks_command_lists_nested_groups():
    from typer.testing import CliRunner

    from deem_eval.cli import app

    res = CliRunner().invoke(app, ["tasks", "hallucination"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "group hallucination = pope, hallusionbench, amber_disc, chair, mme" in res.output
    assert "pope_adversarial" in res.output  # the group's tasks are listed in the table
    assert "hallucination, pope" in res.output  # a task names every group it belongs to
