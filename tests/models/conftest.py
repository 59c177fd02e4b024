"""Fixtures for model adapter tests: one tiny LLaVA checkpoint per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.tiny_llava import build_tiny_llava


@pytest.fixture(scope="session")
def tiny_llava_dir(tmp_path_factory) -> Path:
    """A tiny LLaVA saved with save_pretrained (model + processor), built once, seed 0."""
    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"), seed=0)
