"""A small real lake to export from: one bin task through the video and reconstruction stages, plus
recorded rollouts of the scripted planner executing a truth plan in the world (64×64 camera)."""

from __future__ import annotations

import pytest

RECORD = {"trials": 2, "width": 64, "height": 64}
TASK = "bin-0003"


def populate(store) -> None:
    from physworld_core.evaluation.rollouts import RecordConfig, rollout_row
    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.ingest import ingest_scene, load_scene, register_task
    from physworld_core.reconstruction.stage import run_reconstruction_stage
    from physworld_core.video.stage import VideoStageConfig, run_video_stage
    from tests.world.test_bin_world import _oracle_plan

    register_task(store, TASK, "benchmark:bin:3")
    ingest_scene(store, TASK)
    run_video_stage(store, TASK, VideoStageConfig(samples=2))
    run_reconstruction_stage(store, TASK)
    scene = load_scene(store, TASK)
    record = RecordConfig(**RECORD)
    recordings: dict = {}
    trials = run_trials(
        BenchmarkTask("bin", 3),
        "planner_only",
        _oracle_plan(3),
        config=TrialConfig(trials=3, max_steps=110),
        record=record,
        camera=scene.camera,
        recordings=recordings,
    )
    rows = [
        rollout_row(
            store,
            recorder,
            task_id=TASK,
            method="planner_only",
            trial=k,
            success=trials[k]["success"],
            failure=trials[k]["failure"],
            fps=20.0,
            camera=scene.camera.resized(record.width, record.height),
            prompt=scene.prompt,
            family="bin",
            lineage={"video_sample": 0},
        )
        for k, recorder in sorted(recordings.items())
    ]
    store.lake.write_partition("rollouts", rows, TASK)


@pytest.fixture(scope="session")
def export_store(tmp_path_factory):
    from physworld_core.store import Store

    store = Store.at(str(tmp_path_factory.mktemp("export-lake") / "lake"))
    populate(store)
    return store
