"""Fixtures for the skill tests (see :mod:`tests.skills.staging`)."""

from __future__ import annotations

import functools

import pytest

from tests.skills.staging import Staged


@pytest.fixture(scope="session")
def staged(tmp_path_factory):
    """``staged(family, seed, prompt=None) -> Staged``: each scene through the pipeline's stages (each run when first asked for) once per session."""

    @functools.cache
    def run(family: str, seed: int, prompt: str | None = None) -> Staged:
        return Staged(family, seed, prompt, tmp_path_factory.mktemp(f"twin-{family}-{seed}"))

    return run
