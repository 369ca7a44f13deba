"""Fixtures of the pipeline tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A Dagster home configured from ``infra/dagster.local.yaml`` and a scratch lake, set in this process's
    environment; returns the home and the environment for subprocesses."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "infra" / "dagster.local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PHYSWORLD_LAKE": str(tmp_path / "lake"),
        "PHYSWORLD_ENV": "local",
    }
    for key in ("DAGSTER_HOME", "PHYSWORLD_LAKE", "PHYSWORLD_ENV"):
        monkeypatch.setenv(key, env[key])
    return home, env
