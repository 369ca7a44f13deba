"""Evaluation stage I/O: execute each method's policy in the ground-truth world, score, write trial rows.

Only benchmark tasks have a ground truth; a user's capture has none, and the stage says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from physworld_core.errors import PhysworldError
from physworld_core.evaluation.rollouts import RecordConfig, rollout_row
from physworld_core.evaluation.trials import TrialConfig, run_trials
from physworld_core.evaluation.worlds import BenchmarkTask
from physworld_core.policy.plan import TaskPlan
from physworld_core.sim.base_env import CONTROL_HZ
from physworld_core.store import Store

EVALUATED_METHODS = ("planner_only", "physworld", "visual_imitation")
OPTIONAL_METHODS = ("scratch_rl",)  # evaluated when the policies stage trained them
CONTROL_FPS = float(CONTROL_HZ)  # one recorded frame per control step


@dataclass(frozen=True)
class EvaluationResult:
    rows: list[dict]
    rollouts: list[dict]
    success: dict[str, float]
    reconstruction_error: dict
    seconds: float


def reconstruction_error(store: Store, task_id: str, task: BenchmarkTask) -> dict:
    """Reconstructed vs true target and container placement (truth used only to score)."""
    from physworld_core.evaluation.worlds import make_world_env
    from physworld_core.reconstruction.stage import load_reconstruction

    recon = load_reconstruction(store, task_id)
    env = make_world_env(task)
    try:
        truth = env.unwrapped.truth()
    finally:
        env.close()
    tgt = recon.target
    centre = tgt.pose_world[:3, 3] + 0.5 * (tgt.vertices.min(0) + tgt.vertices.max(0)) * np.array([1, 1, 0])
    true_xy = np.asarray(truth["target"]["xy"])
    height = float(tgt.vertices[:, 2].max())
    true_height = 2 * truth["target"]["half_size"][2]
    container_xy = recon.container.pose_world[:2, 3]
    return {
        "target_position_mm": float(1000 * np.linalg.norm(centre[:2] - true_xy)),
        "target_height_mm": float(1000 * abs(height - true_height)),
        "container_position_mm": float(1000 * np.linalg.norm(container_xy - np.asarray(truth["bin"]["xy"]))),
    }


def run_evaluation_stage(
    store: Store,
    task_id: str,
    config: TrialConfig = TrialConfig(),
    record: RecordConfig = RecordConfig(),
) -> EvaluationResult:
    """Run every method's trials; write the ``evaluations`` rows and, for the first ``record.trials`` trials
    of each method, a ``rollouts`` row with the rendered camera stream (seen from the scene's camera)."""
    from physworld_core.policy.checkpoint import load_policy
    from physworld_core.policy.stage import load_policy_row
    from physworld_core.scene import CameraSpec

    start = time.time()
    task_row = store.one_row("tasks", task_id)
    if not task_row["source"].startswith("benchmark:"):
        raise PhysworldError(
            f"task {task_id} comes from {task_row['source']}: it has no ground-truth world to "
            "evaluate in (only benchmark tasks do)"
        )
    task = BenchmarkTask.parse(task_row["source"])
    camera = CameraSpec.from_dict(json.loads(store.one_row("scenes", task_id)["camera_json"]))
    video_sample = int(store.one_row("reconstructions", task_id)["sample"])
    rows, rollouts = [], []
    trained = set(store.lake.read_partition("policies", task_id)["method"].to_list())
    methods = EVALUATED_METHODS + tuple(m for m in OPTIONAL_METHODS if m in trained)
    for method in methods:
        policy_row = load_policy_row(store, task_id, method)
        plan = TaskPlan.from_json(policy_row["plan_json"])
        policy = meta = None
        if policy_row["checkpoint_uri"]:
            policy, meta = load_policy(store.blobs.local_path(policy_row["checkpoint_uri"]))
        recordings = {}
        trials = run_trials(task, method, plan, policy, meta, config, record, camera, recordings)
        rows += [{"task_id": task_id, **r} for r in trials]
        lineage = {"video_sample": video_sample, "policy_checkpoint_sha256": policy_row["checkpoint_sha256"]}
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
                    fps=CONTROL_FPS,
                    camera=camera.resized(record.width, record.height),
                    prompt=task_row["prompt"],
                    family=task_row["family"],
                    lineage=lineage,
                )
            )
    error = reconstruction_error(store, task_id, task)
    # Rows last (blobs are content-addressed, so a failure above leaves no half-written table).
    store.lake.write_partition("rollouts", rollouts, task_id)
    store.lake.write_partition("evaluations", rows, task_id)
    success = {m: float(np.mean([r["success"] for r in rows if r["method"] == m])) for m in methods}
    return EvaluationResult(rows, rollouts, success, error, time.time() - start)
