"""The command line: one line naming the problem and the fix for every ordinary mistake, re-registration
that refuses silently replacing a task and, with --force, makes its stages stale, and tables for people."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A scratch lake and Dagster home, as a user would set them."""
    monkeypatch.setenv("PHYSWORLD_ENV", "local")
    monkeypatch.setenv("PHYSWORLD_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    shutil.copy(
        Path(__file__).resolve().parents[2] / "infra" / "dagster.local.yaml",
        tmp_path / "home" / "dagster.yaml",
    )
    return tmp_path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["add-task", "x", "benchmark:nofamily:3"], "unknown world family 'nofamily'"),
        (["add-task", "x", "benchmark:bin"], "expected benchmark:<family>:<seed>"),
        (["add-task", "../x", "benchmark:bin:3"], "not allowed"),
        (["add-task", "x", "/no/such/folder"], "does not exist"),
        (["add-task", "x", "maniskill:PushCube-v1:0"], "give --prompt"),
    ],
)
def test_bad_registrations_are_one_line_and_write_nothing(env, capsys, argv, expected):
    assert main(argv) == 2
    err = _one_line_error(capsys)
    assert expected in err, err
    assert not (env / "lake" / "tasks").exists()


def test_unknown_task_and_mistyped_lake(env, capsys, monkeypatch):
    assert main(["add-task", "bin-0003", "benchmark:bin:3"]) == 0
    capsys.readouterr()
    assert main(["run", "nosuch-0001"]) == 2
    assert _one_line_error(capsys).endswith(
        "no task nosuch-0001 in " + str(env / "lake") + "; add it with `physworld add-task`"
    )
    assert main(["status", "nosuch-0001"]) == 2
    assert "add it with `physworld add-task`" in _one_line_error(capsys)

    monkeypatch.setenv("PHYSWORLD_LAKE", str(env / "lkae"))  # a typo
    for argv in (
        ["export", "videos"],
        ["export", "lerobot"],
        ["list"],
        ["run", "bin-0003"],
        ["lake", "check"],
    ):
        assert main(argv) == 2
        assert f"no lake at {env / 'lkae'}" in _one_line_error(capsys)
    assert not (env / "lkae").exists()


def test_run_config_mistakes_are_one_line(env, capsys):
    assert main(["add-task", "bin-0003", "benchmark:bin:3"]) == 0
    (env / "bad.yaml").write_text("ops: [unclosed")
    assert main(["run", "bin-0003", "--config", str(env / "bad.yaml")]) == 2
    assert "not valid YAML" in _one_line_error(capsys)
    (env / "wrong.yaml").write_text("ops:\n  policies:\n    config:\n      total_env_stepz: 3\n")
    assert main(["run", "bin-0003", "--config", str(env / "wrong.yaml")]) == 2
    assert "run config is not valid" in _one_line_error(capsys)
    assert main(["run", "bin-0003", "--config", str(env / "missing.yaml")]) == 2
    assert "cannot read run config" in _one_line_error(capsys)


def test_prod_without_its_variables_says_which_are_missing(env, capsys, monkeypatch):
    monkeypatch.setenv("PHYSWORLD_ENV", "prod")
    monkeypatch.setenv("PHYSWORLD_LAKE", "s3://bucket/lake")
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    assert main(["add-task", "bin-0003", "benchmark:bin:3"]) == 2
    err = _one_line_error(capsys)
    assert "AWS_ACCESS_KEY_ID" in err and "AWS_SECRET_ACCESS_KEY" in err and "not set" in err
    assert not (env / "PHYSWORLD_LAKE").exists() and not list(env.glob("**/tasks"))
    monkeypatch.setenv("PHYSWORLD_ENV", "staging")
    assert main(["list"]) == 2
    assert "PHYSWORLD_ENV='staging' is not one of local, prod" in _one_line_error(capsys)


def test_reregistering_refuses_unless_forced_and_force_makes_the_stages_stale(env, capsys):
    from pipelines.definitions import build_definitions
    from pipelines.tasks import latest_task_version, stale_tasks

    assert main(["add-task", "bin-0007", "benchmark:bin:7"]) == 0
    assert main(["add-task", "bin-0007", "benchmark:bin:7"]) == 0  # the same again: nothing changes
    capsys.readouterr()
    instance = dg.DagsterInstance.get()
    first = latest_task_version(instance, "bin-0007")
    observations = instance.fetch_observations(dg.AssetKey("tasks"), limit=10).records
    assert first is not None and len(observations) == 1

    # The scenes of seed 7 are materialized: they consumed the task's first version.
    defs = build_definitions("local")
    result = defs.resolve_job_def("physworld").execute_in_process(
        partition_key="bin-0007", instance=instance, asset_selection=[dg.AssetKey("scenes")]
    )
    assert result.success and stale_tasks(instance, ["bin-0007"]) == []
    capsys.readouterr()
    # Say its evaluations are done too: the nightly schedule has nothing to run for it.
    instance.report_runless_asset_event(dg.AssetMaterialization("evaluations", partition="bin-0007"))
    schedule = defs.resolve_schedule_def("nightly_generation")

    def nightly():
        import datetime as dt

        when = dt.datetime(2026, 12, 8, 2, tzinfo=dt.UTC)
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            repository_def=defs.get_repository_def(),
            resources={"store": defs.resources["store"]},
        ) as context:
            return schedule.evaluate_tick(context)

    assert nightly().skip_message

    assert main(["add-task", "bin-0007", "benchmark:bin:8"]) == 2
    err = _one_line_error(capsys)
    assert "bin-0007" in err and "benchmark:bin:7" in err and "--force" in err
    from physworld_core.store import Store

    store = Store.at(str(env / "lake"))
    assert store.one_row("tasks", "bin-0007")["source"] == "benchmark:bin:7"
    assert latest_task_version(instance, "bin-0007") == first

    assert main(["add-task", "bin-0007", "benchmark:bin:8", "--force"]) == 0
    assert store.one_row("tasks", "bin-0007")["seed"] == 8
    assert latest_task_version(instance, "bin-0007") != first
    assert stale_tasks(instance, ["bin-0007"]) == ["bin-0007"]
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    assert resolver.get_status(dg.AssetKey("scenes"), "bin-0007") == StaleStatus.STALE
    assert [r.partition_key for r in nightly().run_requests] == ["bin-0007"]  # re-run the stale task


def test_list_and_status_print_tables(env, capsys):
    assert main(["add-task", "bin-0003", "benchmark:bin:3"]) == 0
    assert (
        main(["add-task", "push-0001", "benchmark:push:1", "--prompt", "push the cube onto the target"]) == 0
    )
    capsys.readouterr()
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["task", "prompt"] and set(lines[1]) <= {"-", " "}
    assert [line.split()[0] for line in lines[2:]] == ["bin-0003", "push-0001"]
    assert "0/6" in lines[2]
    assert main(["status", "push-0001"]) == 0
    out = capsys.readouterr().out
    assert "push the cube onto the target" in out and "not materialized" in out and "{" not in out


def test_a_second_run_of_a_running_task_is_refused_but_a_dead_one_does_not_block(env, capsys):
    import subprocess
    import sys

    from pipelines.definitions import build_definitions
    from pipelines.launcher import PID_TAG, STARTED_TAG, WorkerStatus, worker_health, worker_tags

    assert main(["add-task", "bin-0003", "benchmark:bin:3"]) == 0
    capsys.readouterr()
    instance = dg.DagsterInstance.get()
    job = build_definitions("local").resolve_job_def("physworld")
    running = instance.create_run_for_job(
        job, tags={"dagster/partition": "bin-0003", **worker_tags()}, status=dg.DagsterRunStatus.STARTED
    )
    assert main(["run", "bin-0003"]) == 2
    assert f"already running in run {running.run_id}" in _one_line_error(capsys)

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True, text=True
    )
    dead = instance.create_run_for_job(
        job,
        tags={
            "dagster/partition": "bin-0003",
            **worker_tags(),
            PID_TAG: gone.stdout.strip(),
            STARTED_TAG: "0",
        },
        status=dg.DagsterRunStatus.STARTED,
    )
    assert worker_health(instance, dead).status == WorkerStatus.FAILED
    assert worker_health(instance, running).status == WorkerStatus.RUNNING


def _capture_folder(tmp_path: Path, name: str) -> Path:
    """A real capture (tests/data/real) written as a user's scene-package folder without extrinsics."""
    import json

    import numpy as np
    from PIL import Image

    from tests.real_captures import load_capture

    capture = load_capture(name)
    folder = tmp_path / name
    folder.mkdir()
    Image.fromarray(capture.rgb).save(folder / "rgb.png")
    Image.fromarray(np.round(capture.depth * 1000).astype(np.uint16)).save(folder / "depth.png")
    camera = {k: getattr(capture.camera, k) for k in ("fx", "fy", "cx", "cy", "width", "height")}
    (folder / "camera.json").write_text(json.dumps(camera))
    (folder / "prompt.txt").write_text(capture.prompts[0])
    return folder


def test_calibrate_writes_a_camera_json_the_scene_loader_reads(tmp_path, capsys):
    import json

    import numpy as np

    from physworld_core.scene import load_scene_package

    folder = _capture_folder(tmp_path, "osd_mixed_54")
    assert main(["calibrate", str(folder), "--base", "-0.5", "0.1", "--heading", "10"]) == 0
    assert "wrote" in capsys.readouterr().out
    written = json.loads((folder / "camera.json").read_text())
    lo, hi = np.asarray(written["workspace"]["min"]), np.asarray(written["workspace"]["max"])
    assert np.all(lo < hi)
    scene = load_scene_package(folder)
    matrix = scene.camera.extrinsic
    assert 0.3 < matrix[2, 3] < 1.0  # the camera is above the table, which is at z = 0
    assert matrix[:3, 2] @ [0, 0, 1] < 0  # ... and looks down


def test_calibrate_refusals_are_one_line_and_write_nothing(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    folder = _capture_folder(tmp_path, "ycbv_mug_brick_jello")
    before = (folder / "camera.json").read_text()
    Image.fromarray(np.zeros((480, 640), np.uint16)).save(folder / "depth.png")
    assert main(["calibrate", str(folder)]) == 2
    assert "depth is missing" in _one_line_error(capsys)
    assert (folder / "camera.json").read_text() == before
    assert main(["calibrate", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in _one_line_error(capsys)
    folder = _capture_folder(tmp_path, "osd_mixed_54")
    assert main(["calibrate", str(folder), "--pixel", "900", "10"]) == 2
    assert "outside the 640x480 image" in _one_line_error(capsys)
    assert main(["calibrate", str(folder), "--base", "0", "40"]) == 2
    assert "metres, not millimetres" in _one_line_error(capsys)
