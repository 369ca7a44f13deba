"""The production path, end to end, as an operator runs it: PHYSWORLD_ENV=prod, the lake on S3 (a real
SeaweedFS), the Dagster instance on PostgreSQL (``infra/dagster.prod.yaml``, a real server), every step through
the ``physworld`` command in its own process — add-task → run → status → export → lake check — then the nightly
schedule's tick and the inbox sensor's tick against the same instance and lake; nothing written to the local
disk under a variable's name."""

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
def test_cli_on_an_s3_lake_and_a_postgres_instance_from_registration_to_export(
    s3_server, s3_root, postgres_server, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "infra" / "dagster.prod.yaml").read_text())
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY_RUN))
    workdir = tmp_path / "operator"  # not the repository: relative paths must not matter
    workdir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PHYSWORLD_"))},
        "PHYSWORLD_ENV": "prod",
        "PHYSWORLD_LAKE": s3_root,
        "DAGSTER_HOME": str(home),
        **s3_server.storage_options(),
        **postgres_server.environment(),
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

    # The same instance, from here: its runs live in Postgres; the schedule and the sensor tick against it.
    import dagster as dg

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert _physworld(env, workdir, "add-task", "push-0001", "benchmark:push:1").returncode == 0
    from pipelines.definitions import build_definitions

    defs = build_definitions("prod")
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        [run] = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": "bin-0003"}))
        assert run.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        import datetime as dt

        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 12, 8, 2, tzinfo=dt.UTC),
            repository_def=defs.get_repository_def(),
            resources={"store": defs.resources["store"]},
        ) as context:
            requests = defs.resolve_schedule_def("nightly_generation").evaluate_tick(context).run_requests
        assert [r.partition_key for r in requests] == ["push-0001"]  # bin-0003 is evaluated already

        import fsspec

        from physworld_core.lake.storage import s3fs_kwargs
        from physworld_core.scene import save_scene_package
        from tests.core.test_scene import make_scene

        package = save_scene_package(make_scene(), tmp_path / "kitchen-1")
        fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_server.storage_options()))
        fs.put(str(package) + "/", f"{s3_root[5:]}/inbox/kitchen-1/", recursive=True)
        with dg.build_sensor_context(
            instance=instance, resources={"store": defs.resources["store"]}
        ) as context:
            result = defs.resolve_sensor_def("inbox_sensor")(context)
        assert [r.partition_key for r in result.run_requests] == ["kitchen-1"]
        assert store.one_row("tasks", "kitchen-1")["source"].startswith("package:lake://")
