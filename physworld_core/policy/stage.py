"""Policy stage I/O: twin → plan (grasp + path) → baseline score → residual PPO → checkpoint blob + rows.

Training checkpoints live in the lake's work area (``<lake>/work/policies/<task_id>/<method>-<fingerprint>/``,
see :mod:`physworld_core.lake.work`), not in a temporary directory, so a killed stage resumes each learner
from its last checkpoint when it runs again with the same settings. The folders are removed once the
checkpoints are stored as blobs and the rows written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh
from transforms3d.quaternions import quat2mat

from physworld_core.errors import LakeError, TwinError
from physworld_core.lake.blobs import BlobRef
from physworld_core.lake.work import WorkArea
from physworld_core.policy.plan import TaskPlan, plan_from_twin
from physworld_core.policy.ppo import CHECKPOINT_NAME
from physworld_core.policy.task_env import TaskWorld
from physworld_core.policy.train import (
    PolicyResult,
    PolicyTrainConfig,
    make_actor,
    train_policy,
    twin_success_rates,
)
from physworld_core.store import Store
from physworld_core.twin.factory import make_twin_env
from physworld_core.twin.spec import TwinSpec
from physworld_core.twin.stage import load_twin, localize

logger = logging.getLogger(__name__)

WORK_STAGE = "policies"
"""The stage's part of the lake's work area."""


@dataclass(frozen=True)
class PolicyStageResult:
    plan: TaskPlan
    residual: PolicyResult
    seconds: float
    scratch: PolicyResult | None = None
    oracle: PolicyResult | None = None


def closing_axis_at_rest(spec_local: TwinSpec) -> np.ndarray:
    """The gripper's closing direction at the rest pose (proprioception: the robot knows its own hand)."""
    env = make_twin_env(spec_local.to_json())
    try:
        env.reset(seed=0)
        return quat2mat(env.unwrapped.agent.tcp.pose.q[0].cpu().numpy())[:, 1]
    finally:
        env.close()


def target_mesh(spec_local: TwinSpec) -> tuple[np.ndarray, np.ndarray]:
    """The target's collision geometry (object frame), merged: what the grasp sampler plans on."""
    parts = [trimesh.load(p, force="mesh", process=False) for p in spec_local.target.collision_meshes]
    merged = trimesh.util.concatenate(parts)
    return np.asarray(merged.vertices), np.asarray(merged.faces)


def target_parts(spec_local: TwinSpec) -> list[np.ndarray]:
    """Vertices (object frame) of each convex collision part of the target: a lid's body and its knob."""
    return [
        np.asarray(trimesh.load(p, force="mesh", process=False).vertices)
        for p in spec_local.target.collision_meshes
    ]


def make_plan(
    spec_local: TwinSpec, physical: bool = True, closing_axis: np.ndarray | None = None
) -> TaskPlan:
    vertices, faces = target_mesh(spec_local)
    axis = closing_axis_at_rest(spec_local) if closing_axis is None else closing_axis
    return plan_from_twin(
        spec_local, vertices, faces, axis, physical=physical, parts=target_parts(spec_local)
    )


def checkpoint_key(
    method: str, cfg: PolicyTrainConfig, plan: TaskPlan, spec_json: str, world_source: str | None
) -> str:
    """The work folder of one learner's checkpoints: ``<method>-<16 hex digits>``.

    The digits hash everything a checkpoint must match to be resumed: the method (residual or scratch, twin or
    true world), the training settings that decide what is learned (:meth:`PolicyTrainConfig.
    training_identity`: the budget may change), the twin spec and the plan the env follows. A twin rebuilt or a
    config changed gives a new folder, and the old one is cleared as stale when the stage succeeds."""
    identity = {
        "method": method,
        "train": cfg.training_identity(),
        "twin_sha256": hashlib.sha256(spec_json.encode()).hexdigest(),
        "plan_sha256": hashlib.sha256(plan.to_json().encode()).hexdigest(),
        "world_source": world_source,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{method}-{digest[:16]}"


def load_policy_row(store: Store, task_id: str, method: str) -> dict:
    frame = store.lake.read_partition("policies", task_id)
    rows = frame.filter(frame["method"] == method)
    if rows.height == 0:
        raise LakeError(f"task {task_id}: no {method!r} policy; materialize the policies asset first")
    return rows.row(0, named=True)


def run_policy_stage(
    store: Store,
    task_id: str,
    cfg: PolicyTrainConfig = PolicyTrainConfig(),
    progress: bool = True,
    log_fn: Callable[[dict], None] | None = None,
    scratch: bool = False,
    oracle_world: TaskWorld | None = None,
) -> PolicyStageResult:
    """Plan in the twin, train residual PPO on the planner, and write one ``policies`` row per method.

    With ``scratch``, the same learner also trains without the planner (``scratch_rl``) on the same env-step
    budget and seed: the ablation that shows what the residual formulation buys. With ``oracle_world`` (the
    task's true world, which only the evaluation layer may give: :func:`~physworld_core.evaluation.oracle_twin.
    oracle_world`), residual PPO also trains there (``oracle_twin``, same plan and budget): the upper bound,
    what a perfect twin would give.

    Each learner checkpoints into its work folder under the lake (see :func:`checkpoint_key`; on S3 every
    checkpoint is uploaded as it is written), so a stage killed mid-training resumes from the last checkpoint
    (``cfg.ppo.checkpoint_every`` updates at most are lost) and a learner that had finished is only scored.
    Once the rows are written the task's work folders are removed, stale ones of other settings included."""
    start = time.time()
    spec, row = load_twin(store, task_id)
    if not row["passed"]:
        raise TwinError(
            f"task {task_id}: the twin failed its settle check ({row['settle_json']}); "
            "fix the reconstruction before learning in it"
        )
    local = localize(store, spec)
    axis = closing_axis_at_rest(local)
    plan = make_plan(local, closing_axis=axis)
    imitation = make_plan(local, physical=False, closing_axis=axis)
    work = WorkArea.from_lake(store.lake)

    def learn(method: str, residual: bool, world: TaskWorld | None) -> tuple[PolicyResult, BlobRef]:
        source = None if world is None else world.source
        folder = work.folder(WORK_STAGE, task_id, checkpoint_key(method, cfg, plan, row["spec_json"], source))
        found = CHECKPOINT_NAME in folder.pull()
        what = "resuming from the checkpoint" if found else "starting at update 1, checkpoints"
        logger.info("task %s, %s: %s in %s", task_id, method, what, folder.uri)
        learned = train_policy(
            local.to_json(),
            plan,
            cfg,
            folder.local,
            residual=residual,
            progress=progress,
            log_fn=log_fn,
            world=world,
            on_checkpoint=lambda path: folder.push(path.name),
        )
        return learned, store.blobs.put_file(learned.checkpoint_path)

    result, ref = learn("physworld", True, None)
    extra = {}  # method → (result, checkpoint ref) of the optional learners, same plan and budget
    for method, wanted, residual, world in (
        ("scratch_rl", scratch, False, None),
        ("oracle_twin", oracle_world is not None, True, oracle_world),
    ):
        if wanted:
            extra[method] = learn(method, residual, world)
    rows = [
        {
            "task_id": task_id,
            "method": "planner_only",
            "plan_json": plan.to_json(),
            "checkpoint_uri": None,
            "checkpoint_sha256": None,
            "env_steps": 0,
            "twin_success": result.baseline_twin_success,
            "curve_json": "[]",
            "seconds": 0.0,
            "deployed": None,
        },
        {
            "task_id": task_id,
            "method": "visual_imitation",
            "plan_json": imitation.to_json(),
            "checkpoint_uri": None,
            "checkpoint_sha256": None,
            "env_steps": 0,
            "twin_success": twin_success_rates(
                local.to_json(), imitation, cfg, {"plan": make_actor(None, None)}
            )["plan"],
            "curve_json": "[]",
            "seconds": 0.0,
            "deployed": None,
        },
    ]
    # twin_success is the learned policy's own, even where the gate deploys the planner instead (``deployed``);
    # oracle_twin's is measured in the true world it trained in.
    for method, (learned, learned_ref) in {"physworld": (result, ref), **extra}.items():
        rows.append(
            {
                "task_id": task_id,
                "method": method,
                "plan_json": plan.to_json(),
                "checkpoint_uri": learned_ref.uri,
                "checkpoint_sha256": learned_ref.sha256,
                "env_steps": learned.env_steps,
                "twin_success": learned.twin_success,
                "curve_json": json.dumps(learned.curve),
                "seconds": learned.seconds,
                "deployed": learned.deployed,
            }
        )
    store.lake.write_partition("policies", rows, task_id)
    work.clear(WORK_STAGE, task_id)  # every checkpoint is a blob now; other settings' folders are stale
    return PolicyStageResult(
        plan,
        result,
        time.time() - start,
        extra.get("scratch_rl", (None,))[0],
        extra.get("oracle_twin", (None,))[0],
    )
