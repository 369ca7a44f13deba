"""The whole job materializes one benchmark task on a local lake; re-running replaces, bad input fails cleanly."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.tasks import add_task, failure_reason

TINY = {
    "ops": {
        "policies": {
            "config": {
                "total_env_steps": 256,
                "num_envs": 1,
                "async_envs": False,
                "eval_episodes": 2,
                "scratch_baseline": True,
            }
        },
        "evaluations": {"config": {"trials": 2, "record_trials": 1, "record_width": 64, "record_height": 64}},
    }
}
TABLES = (
    "scenes",
    "perceptions",
    "videos",
    "video_scores",
    "reconstructions",
    "twins",
    "policies",
    "evaluations",
    "rollouts",
)


@pytest.fixture()
def lake_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PHYSWORLD_LAKE", str(tmp_path / "lake"))
    defs = build_definitions("local")
    return defs, defs.resources["store"].store(), dg.DagsterInstance.ephemeral()


def _run(defs, instance, task_id):
    return defs.resolve_job_def("physworld").execute_in_process(
        partition_key=task_id, instance=instance, run_config=TINY, raise_on_error=False
    )


def test_full_pipeline_materializes_and_reruns_without_duplicates(lake_env):
    defs, store, instance = lake_env
    add_task(instance, store, "bin-0003", "benchmark:bin:3")
    result = _run(defs, instance, "bin-0003")
    assert result.success
    counts = {t: store.lake.read_partition(t, "bin-0003").height for t in TABLES}
    assert counts == {
        "scenes": 1,
        "perceptions": 1,
        "videos": 2,
        "video_scores": 2,
        "reconstructions": 1,
        "twins": 1,
        "policies": 4,  # planner_only, physworld, visual_imitation, scratch_rl
        "evaluations": 8,
        "rollouts": 4,
    }
    materialized = {
        e.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
        if hasattr(e, "asset_key")
    } or {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    }
    assert set(TABLES) - {"video_scores", "rollouts"} <= materialized
    rollouts = store.lake.read_partition("rollouts", "bin-0003")
    for row in rollouts.iter_rows(named=True):  # every recorded frame has its action and its picture
        from physworld_core.evaluation.rollouts import load_arrays
        from physworld_core.video.codec import decode_mp4

        arrays = load_arrays(store.blobs.get_bytes(row["data_uri"]))
        frames = decode_mp4(store.blobs.get_bytes(row["video_uri"]))
        assert len(arrays["action"]) == len(arrays["state"]) == len(frames) == row["frames"]
        assert frames.shape[1:] == (64, 64, 3)
    scores = store.lake.read_partition("video_scores", "bin-0003")
    assert scores["selected"].sum() == 1 and scores["feasibility"].max() > 0.5
    twins_check = [
        e
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.event_specific_data.check_name == "twin_settles"
    ]
    assert twins_check and twins_check[0].event_specific_data.passed
    fidelity = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.event_specific_data.check_name == "twin_fidelity"
    ]
    assert fidelity  # scored against the bin world's truth
    assert fidelity[0].metadata["target_chamfer_mm"].value < 8.0

    perceived = store.one_row("perceptions", "bin-0003")
    again = _run(defs, instance, "bin-0003")
    assert again.success
    assert {t: store.lake.read_partition(t, "bin-0003").height for t in TABLES} == counts
    # The same scene perceived again writes nothing: the stored row stands, as written the first time.
    assert store.one_row("perceptions", "bin-0003") == perceived

    # The residual gate: a residual is deployed only when it did at least as well as the planner in the twin.
    policies = {
        r["method"]: r for r in store.lake.read_partition("policies", "bin-0003").iter_rows(named=True)
    }
    physworld = policies["physworld"]
    expected = (
        "residual" if physworld["twin_success"] >= policies["planner_only"]["twin_success"] else "planner"
    )
    assert physworld["deployed"] == expected
    assert policies["planner_only"]["deployed"] is None and policies["scratch_rl"]["deployed"] is None

    # Where the gate deployed the planner, evaluation runs the planner and never opens the checkpoint (here
    # one that does not exist, so opening it would fail).
    from physworld_core.evaluation.rollouts import RecordConfig
    from physworld_core.evaluation.stage import run_evaluation_stage
    from physworld_core.evaluation.trials import TrialConfig

    gated = {**physworld, "deployed": "planner", "checkpoint_uri": physworld["checkpoint_uri"] + "-gone"}
    rows = [gated if r["method"] == "physworld" else r for r in policies.values()]
    store.lake.write_partition("policies", rows, "bin-0003")
    evaluated = run_evaluation_stage(store, "bin-0003", TrialConfig(trials=2), RecordConfig(0))
    by_method = {m: [r for r in evaluated.rows if r["method"] == m] for m in ("physworld", "planner_only")}
    assert [r["success"] for r in by_method["physworld"]] == [r["success"] for r in by_method["planner_only"]]
    for ours, planner in zip(by_method["physworld"], by_method["planner_only"], strict=True):
        assert ours["final_distance"] == pytest.approx(planner["final_distance"], abs=1e-3)


def test_prompt_naming_an_absent_object_fails_and_writes_nothing(lake_env):
    defs, store, instance = lake_env
    add_task(instance, store, "bin-absent", "benchmark:bin:3", prompt="put the yellow can in the bin")
    result = _run(defs, instance, "bin-absent")
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failures[0].step_key == "perceptions"  # the scene's first reader, before any video is made
    reason = failure_reason(failures[0].event_specific_data.error)
    assert reason.startswith("GroundingError") and "yellow can" in reason and "pink cylinder" in reason
    for table in ("perceptions", "videos"):
        assert not store.lake.exists(table) or store.lake.read_partition(table, "bin-absent").height == 0
