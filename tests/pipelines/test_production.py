"""The production path, end to end, as an operator runs it: PHYSWORLD_ENV=prod, the lake on S3 (a real
SeaweedFS), every step through the ``physworld`` command in its own process — add-task → run → status →
export → lake check — and nothing written to the local disk under a variable's name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TINY_RUN = {
    "ops": {
        "policies": {
            "config": {"total_env_steps": 256, "num_envs": 1, "async_envs": False, "eval_episodes": 2}
        },
        "evaluations": {"config": {"trials": 2, "record_trials": 1, "record_width": 64, "record_height": 64}},
    }
}


def _physworld(env: dict, cwd: Path, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *argv],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.s3
def test_cli_on_an_s3_lake_from_registration_to_export(s3_server, s3_root, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "infra" / "dagster.local.yaml").read_text())
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY_RUN))
    workdir = tmp_path / "operator"  # not the repository: relative paths must not matter
    workdir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PHYSWORLD_"))},
        "PHYSWORLD_ENV": "prod",
        "PHYSWORLD_LAKE": s3_root,
        "DAGSTER_HOME": str(home),
        **s3_server.storage_options(),
    }

    added = _physworld(env, workdir, "add-task", "bin-0003", "benchmark:bin:3")
    assert added.returncode == 0, added.stderr
    assert s3_root in added.stdout
    ran = _physworld(env, workdir, "run", "bin-0003", "--config", str(tmp_path / "tiny.yaml"))
    assert ran.returncode == 0, ran.stderr[-3000:]
    status = _physworld(env, workdir, "status", "bin-0003")
    assert status.returncode == 0 and "ground-truth success" in status.stdout, status.stderr
    exported = _physworld(env, workdir, "export", "lerobot", "--where", "task_id=bin-0003")
    assert exported.returncode == 0, exported.stderr
    assert f"{s3_root}/exports/lerobot/" in exported.stdout
    videos = _physworld(env, workdir, "export", "videos", "--min-feasibility", "0")
    assert videos.returncode == 0, videos.stderr
    checked = _physworld(env, workdir, "lake", "check")
    assert checked.returncode == 0 and "no problem found" in checked.stdout, checked.stdout + checked.stderr

    # Nothing landed on the local disk: no folder named after a variable, no local lake.
    assert not any(workdir.iterdir()) and not (REPO / "PHYSWORLD_LAKE").exists()
    from physworld_core.store import Store

    store = Store.at(s3_root, s3_server.storage_options())
    rows = store.lake.read_partition("rollouts", "bin-0003")
    assert rows.height >= 1 and all(uri.startswith("lake://") for uri in rows["data_uri"])
