"""ensure_world: built once into the user cache, announced once, rebuilt for a new generator version."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import deem_eval.builders.world as world


def test_ensure_world_builds_once_under_xdg_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    calls = []

    def fake_build(out, size="full", seed=0, progress=True):
        calls.append(Path(out))
        Path(out, "world.json").write_text(json.dumps({"generator_version": world.GENERATOR_VERSION}))
        return {}

    monkeypatch.setattr(world, "build_world", fake_build)
    root = world.ensure_world("small", seed=3)
    assert root == tmp_path / "xdg" / "deem-eval" / f"world-small-s3-v{world.GENERATOR_VERSION}"
    assert (root / "world.json").is_file()
    assert calls[0].parent == root.parent and calls[0] != root  # built beside it, then renamed
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(root) in err
    assert world.ensure_world("small", seed=3) == root and len(calls) == 1
    assert capsys.readouterr().err == ""

    monkeypatch.setattr(world, "GENERATOR_VERSION", "999-test")
    new_root = world.ensure_world("small", seed=3)
    assert new_root.name == "world-small-s3-v999-test" and len(calls) == 2
    assert not root.exists()  # the old version's world is not reused (and is removed)


def test_concurrent_callers_build_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    calls = []

    def slow_build(out, size="full", seed=0, progress=True):
        calls.append(out)
        threading.Event().wait(0.3)
        Path(out, "world.json").write_text("{}")
        return {}

    monkeypatch.setattr(world, "build_world", slow_build)
    results = []
    threads = [threading.Thread(target=lambda: results.append(world.ensure_world("small", 0))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1
    assert not [p for p in results[0].parent.iterdir() if ".tmp-" in p.name]


def test_leftovers_of_a_killed_build_are_cleared(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    parent = tmp_path / "xdg" / "deem-eval"
    name = f"world-small-s0-v{world.GENERATOR_VERSION}"
    stale = parent / f".{name}.tmp-dead"
    (stale / "pope").mkdir(parents=True)
    (parent / name).mkdir()  # a half-written target without world.json is not trusted

    def fake_build(out, size="full", seed=0, progress=True):
        Path(out, "world.json").write_text("{}")
        return {}

    monkeypatch.setattr(world, "build_world", fake_build)
    root = world.ensure_world("small", 0)
    assert (root / "world.json").is_file() and not stale.exists()
