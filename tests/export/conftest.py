"""A small real lake to export from: one bin task through the video and reconstruction stages, plus
recorded rollouts of the scripted planner executing a truth plan in the world (64×64 camera): two successful
trials recorded at the control rate and padded to the default minimum length, and one trial cut short at
15 steps (a real failure), recorded at half the control rate with no minimum length."""

from __future__ import annotations

import pytest

RECORD = {"trials": 2, "width": 64, "height": 64}
SHORT = {"trials": 1, "width": 64, "height": 64, "min_frames": 0, "fps": 10.0}
SHORT_STEPS = 15
TASK = "bin-0003"


def populate(store) -> None:
    from physworld_core.evaluation.rollouts import RecordConfig, rollout_row
    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.ingest import ingest_scene, load_scene, register_task
    from physworld_core.twin.selection import run_reconstruction_stage
    from physworld_core.video.stage import VideoStageConfig, run_video_stage
    from tests.world.test_bin_world import _oracle_plan

    register_task(store, TASK, "benchmark:bin:3")
    ingest_scene(store, TASK)
    run_video_stage(store, TASK, VideoStageConfig(samples=2))
    run_reconstruction_stage(store, TASK)
    scene = load_scene(store, TASK)
    rows = []
    for first_trial, record, trial_config in (
        (0, RecordConfig(**RECORD), TrialConfig(trials=3, max_steps=110)),
        (3, RecordConfig(**SHORT), TrialConfig(trials=1, max_steps=SHORT_STEPS, seed=2000)),
    ):
        recordings: dict = {}
        trials = run_trials(
            BenchmarkTask("bin", 3),
            "planner_only",
            _oracle_plan(3),
            config=trial_config,
            record=record,
            camera=scene.camera,
            recordings=recordings,
        )
        rows += [
            rollout_row(
                store,
                recorder,
                task_id=TASK,
                method="planner_only",
                trial=first_trial + k,
                success=trials[k]["success"],
                failure=trials[k]["failure"],
                camera=scene.camera.resized(record.width, record.height),
                prompt=scene.prompt,
                family="bin",
                lineage={"video_sample": 0, "env_seed": trials[k]["env_seed"]},
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
