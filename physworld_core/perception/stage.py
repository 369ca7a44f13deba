"""Perception stage I/O: the scene perceived once per task, stored, and read by every later stage.

The video stage moves what perception grounded, the reconstruction models it (in the levelled frame when the
table is tilted), the twin takes the table's colour from its plane, and the fidelity check compares the seen
target with the truth: all of them read the ``perceptions`` row and its blob (:func:`load_perception`) instead
of perceiving the scene again.

Running the stage again on the same scene writes nothing: the perception is made again and, when its blob is
the one stored (same content hash), the stored row stands (no Delta commit, no new blob).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from physworld_core.errors import LakeError
from physworld_core.perception.codec import decode, encode
from physworld_core.perception.perceive import TaskPerception, perceive_task
from physworld_core.scene import load_scene
from physworld_core.store import Store

TABLE = "perceptions"


@dataclass(frozen=True)
class PerceptionStageResult:
    perceived: TaskPerception
    row: dict
    written: bool
    """False when the stored perception was already this one (the stage wrote nothing)."""


def scene_sha256(store: Store, task_id: str) -> str:
    """What a perception is made from, hashed: the stored scene's images, camera and prompt."""
    row = store.one_row("scenes", task_id)
    identity = [row["rgb_sha256"], row["depth_sha256"], row["camera_json"], row["prompt"]]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def run_perception_stage(store: Store, task_id: str) -> PerceptionStageResult:
    """Perceive the task's stored scene and store the result (one ``perceptions`` row, one blob); writes
    nothing when the stored perception is already this one.

    Raises:
        GroundingError: the prompt cannot be read or does not match the scene (nothing is written).
        SceneError: the depth has no table plane.
    """
    start = time.time()
    scene = load_scene(store, task_id)
    perceived = perceive_task(scene)
    data = encode(perceived)
    digest = hashlib.sha256(data).hexdigest()
    source = scene_sha256(store, task_id)
    stored = _stored_row(store, task_id)
    if stored is not None and (stored["perception_sha256"], stored["scene_sha256"]) == (digest, source):
        return PerceptionStageResult(perceived, stored, written=False)
    ref = store.blobs.put_bytes(data, ".npz")
    p = perceived.perception
    row = {
        "task_id": task_id,
        "scene_sha256": source,
        "skill": p.instruction.skill,
        "target": p.target.description,
        "goal": None if p.goal is None else p.goal.description,
        "num_objects": len(p.objects),
        "plane_rms_m": float(p.plane.rms),
        "tilt_deg": perceived.tilt_deg,
        "levelled": perceived.levelled is not None,
        "perception_uri": ref.uri,
        "perception_sha256": ref.sha256,
        "summary_json": json.dumps(p.to_dict()),
        "seconds": time.time() - start,
    }
    store.lake.write_partition(TABLE, [row], task_id)
    return PerceptionStageResult(perceived, row, written=True)


def _stored_row(store: Store, task_id: str) -> dict | None:
    if not store.lake.exists(TABLE):
        return None
    frame = store.lake.read_partition(TABLE, task_id)
    return None if frame.height == 0 else frame.row(0, named=True)


def load_perception(store: Store, task_id: str) -> TaskPerception:
    """The task's stored perception, read back as it was made.

    A task whose perception was never stored, or was made from another scene (the task registered again), is
    perceived and stored first, once: as the Dagster job would have run the perception stage before.

    Raises:
        LakeError: the stored blob cannot be read as a perception.
    """
    row = _stored_row(store, task_id)
    if row is None or row["scene_sha256"] != scene_sha256(store, task_id):
        return run_perception_stage(store, task_id).perceived
    perceived = decode(store.blobs.get_bytes(row["perception_uri"]), f"task {task_id}'s perception")
    if not isinstance(perceived, TaskPerception):
        raise LakeError(f"task {task_id}'s perception blob holds a {type(perceived).__name__}")
    return perceived
