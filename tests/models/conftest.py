"""Fixtures for model adapter tests: one tiny LLaVA checkpoint per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.tiny_llava import build_tiny_llava


@pytest.fixture(scope="session")
def tiny_llava_dir(tmp_path_factory) -> Path:
    """A tiny LLaVA saved with save_pretrained (model + processor), built once, seed 0."""
    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"), seed=0)


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory):
    """Tiny checkpoints of the Hugging Face VLM families, each built on first use and kept for the session."""
    from tests.models.tiny_families import build

    root = tmp_path_factory.mktemp("tiny_families")
    made: dict[str, object] = {}

    def get(family: str):
        if family not in made:
            made[family] = build(family, root / family)
        return made[family]

    return get
