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
