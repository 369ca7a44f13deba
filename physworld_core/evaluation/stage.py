"""Evaluation stage I/O: execute each method's policy in the ground-truth world, score, write trial rows.

Benchmark worlds and stock ManiSkill envs can be executed in (each scores with its own success test); a user's
capture has no world, and the stage says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from physworld_core.errors import PhysworldError
from physworld_core.evaluation.methods import (
    EPISODE_PLAN_METHOD,
    EVALUATED_METHODS,
    OPTIONAL_METHODS,
    ExternalMethod,
)
from physworld_core.evaluation.rollouts import RecordConfig, rollout_row
from physworld_core.evaluation.trials import TrialConfig, run_trials
from physworld_core.evaluation.worlds import parse_world
from physworld_core.policy.checkpoint import load_policy
from physworld_core.policy.plan import TaskPlan
from physworld_core.policy.stage import load_policy_row
from physworld_core.reconstruction.stage import load_reconstruction
from physworld_core.scene import CameraSpec
from physworld_core.store import Store


@dataclass(frozen=True)
class EvaluationResult:
    rows: list[dict]
    rollouts: list[dict]
    success: dict[str, float]
    reconstruction_error: dict
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)
    """Methods not run, and why (an external method with nothing to run yet)."""


def reconstruction_error(store: Store, task_id: str, task) -> dict:
    """Reconstructed vs true target placement and size, and whether the reconstructed goal lies in the true
    one (truth used only to score). Worlds without truth (stock ManiSkill envs) get an empty dict."""
    if not task.has_truth:
        return {}
    recon = load_reconstruction(store, task_id)
    env = task.make_task_world()
    try:
        env.reset(seed=task.seed)
        world = env.unwrapped
        true_centre = world.target_pose_world()[:3]
        true_points = world.target_points_world()
        contains = getattr(world, "goal_contains_xy", None)
        # The table under a fallen object is no found-or-not goal (``None``), any more than an unknowing world.
        goal_found = None
        if contains is not None and recon.goal is not None:
            goal_found = bool(contains(recon.goal.pose_world[:2, 3]))
    finally:
        env.close()
    tgt = recon.target
    centre = (
        tgt.pose_world[:3, :3] @ (0.5 * (tgt.vertices.min(0) + tgt.vertices.max(0))) + tgt.pose_world[:3, 3]
    )
    height = float(tgt.vertices[:, 2].max() - tgt.vertices[:, 2].min())
    true_height = float(true_points[:, 2].max() - true_points[:, 2].min())
    return {
        "target_position_mm": float(1000 * np.linalg.norm(centre[:2] - true_centre[:2])),
        "target_height_mm": float(1000 * abs(height - true_height)),
        "goal_found": goal_found,
    }


def run_evaluation_stage(
    store: Store,
    task_id: str,
    config: TrialConfig = TrialConfig(),
    record: RecordConfig = RecordConfig(),
    external: tuple[ExternalMethod, ...] = (),
) -> EvaluationResult:
    """Run every method's trials; write the ``evaluations`` rows and, for the first ``record.trials`` trials
    of each method, a ``rollouts`` row with the rendered camera stream (seen from the scene's camera).

    ``external`` methods run on the same trials (same seeds, same world, the same success test), from the
    ``planner_only`` plan's episode; one with no policy is skipped and named in the result."""
    start = time.time()
    task_row = store.one_row("tasks", task_id)
    try:
        task = parse_world(task_row["source"])
    except PhysworldError as error:
        raise PhysworldError(f"task {task_id} cannot be evaluated: {error}") from error
    camera = CameraSpec.from_dict(json.loads(store.one_row("scenes", task_id)["camera_json"]))
    video_sample = int(store.one_row("reconstructions", task_id)["sample"])
    rows, rollouts = [], []
    trained = set(store.lake.read_partition("policies", task_id)["method"].to_list())
    methods = EVALUATED_METHODS + tuple(m for m in OPTIONAL_METHODS if m in trained)
    for method in methods:
        policy_row = load_policy_row(store, task_id, method)
        plan = TaskPlan.from_json(policy_row["plan_json"])
        policy = meta = None
        # A residual the gate did not deploy (it did worse than the planner in the twin) is not run: the
        # method runs the planner, as the policies stage decided. Rows from before the gate have no decision.
        if policy_row["checkpoint_uri"] and policy_row.get("deployed") != "planner":
            policy, meta = load_policy(store.blobs.local_path(policy_row["checkpoint_uri"]))
        recordings = {}
        trials = run_trials(task, method, plan, policy, meta, config, record, camera, recordings)
        rows += [{"task_id": task_id, **r} for r in trials]
        lineage = {
            "video_sample": video_sample,
            "policy_checkpoint_sha256": policy_row["checkpoint_sha256"] if policy is not None else None,
        }
        for k, recorder in sorted(recordings.items()):
            trial = trials[k]
            rollouts.append(
                rollout_row(
                    store,
                    recorder,
                    task_id=task_id,
                    method=method,
                    trial=k,
                    success=trial["success"],
                    failure=trial["failure"],
                    camera=camera.resized(record.width, record.height),
                    prompt=task_row["prompt"],
                    family=task_row["family"],
                    lineage=lineage,
                )
            )
    skipped = {m.name: m.skipped for m in external if m.policy is None}
    for method in (m for m in external if m.policy is not None):
        plan = TaskPlan.from_json(load_policy_row(store, task_id, EPISODE_PLAN_METHOD)["plan_json"])
        trials = run_trials(task, method.name, plan, method.policy, None, config, None, camera)
        rows += [{"task_id": task_id, **r} for r in trials]
    methods += tuple(m.name for m in external if m.policy is not None)
    error = reconstruction_error(store, task_id, task)
    # Rows last (blobs are content-addressed, so a failure above leaves no half-written table).
    store.lake.write_partition("rollouts", rollouts, task_id)
    store.lake.write_partition("evaluations", rows, task_id)
    success = {m: float(np.mean([r["success"] for r in rows if r["method"] == m])) for m in methods}
    return EvaluationResult(rows, rollouts, success, error, time.time() - start, skipped)
