"""Reconstruction stage I/O: reconstruct each candidate video, and, once a twin has scored their physics
(:mod:`physworld_core.twin.selection`, the stage's entry point), store the best and every score."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass

import numpy as np

from physworld_core.errors import ReconstructionError
from physworld_core.perception.stage import load_perception
from physworld_core.reconstruction.reconstruct import ReconstructionConfig, reconstruct
from physworld_core.reconstruction.skill import fixture_from_dict
from physworld_core.reconstruction.types import (
    ReconstructedObject,
    Reconstruction,
    RegionGeometry,
    Trajectory,
)
from physworld_core.scene import ScenePackage, load_scene
from physworld_core.store import Store
from physworld_core.video.codec import decode_mp4


def candidate_videos(store: Store, task_id: str) -> list[dict]:
    """The samples that passed the video stage's cheap checks, in sample order."""
    frame = store.lake.read_partition("videos", task_id)
    rows = frame.filter(frame["passed"]).sort("sample").to_dicts()
    if not rows:
        raise ReconstructionError(
            f"task {task_id}: no video sample passed its checks; nothing to reconstruct"
        )
    return rows


def tracking_error(recon: Reconstruction, plan: dict) -> dict | None:
    """Tracked vs rendered object motion, when the video backend recorded what it rendered (scoring only)."""
    transforms = plan.get("object_transforms_world")
    if transforms is None or len(transforms) != len(recon.trajectory.times):
        return None
    rendered = np.asarray(transforms, float)
    p0 = recon.trajectory.positions[0]
    expected = rendered[:, :3, :3] @ p0 + rendered[:, :3, 3]
    error = np.linalg.norm(recon.trajectory.positions - expected, axis=1)
    return {
        "mean_mm": float(1000 * error.mean()),
        "max_mm": float(1000 * error.max()),
        "final_mm": float(1000 * error[-1]),
    }


def _mesh_blob(store: Store, obj: ReconstructedObject) -> str:
    """The mesh as an .npz blob; ``face_part`` only when the mesh is a union of convex parts (older blobs
    have none, and read back as one part), ``arm_parts`` only when some of them are arms."""
    buf = io.BytesIO()
    arrays = {"vertices": obj.vertices.astype(np.float64), "faces": obj.faces.astype(np.int64)}
    if obj.face_part is not None:
        arrays["face_part"] = obj.face_part.astype(np.int64)
    if obj.arm_parts:
        arrays["arm_parts"] = np.asarray(obj.arm_parts, dtype=np.int64)
    np.savez(buf, **arrays)
    return store.blobs.put_bytes(buf.getvalue(), ".npz").uri


@dataclass(frozen=True)
class ReconstructionStageResult:
    reconstruction: Reconstruction
    selected_sample: int
    scores: list[dict]


def reconstruct_candidates(
    store: Store, task_id: str, config: ReconstructionConfig | None = None
) -> tuple[ScenePackage, dict[int, Reconstruction], dict[int, str]]:
    """(the scene, every candidate video's reconstruction by sample, why the others could not be
    reconstructed): the first half of the reconstructions stage, before the twin scores them
    (:func:`~physworld_core.twin.selection.run_reconstruction_stage`).

    Raises:
        ReconstructionError: no candidate could be reconstructed (each sample's reason is in the message).
    """
    scene = load_scene(store, task_id)
    perceived = load_perception(store, task_id)  # perceived once, by the perception stage
    recons, failures = {}, {}
    for video in candidate_videos(store, task_id):
        frames = decode_mp4(store.blobs.get_bytes(video["video_uri"]))
        try:
            recon = reconstruct(
                scene,
                frames,
                video["fps"],
                config or ReconstructionConfig(),
                perception=perceived.perception,
                levelled_perception=perceived.levelled,
            )
        except ReconstructionError as exc:
            failures[video["sample"]] = str(exc)
            continue
        err = tracking_error(recon, json.loads(video["plan_json"]))
        if err is not None:
            recon.metrics["tracking_vs_rendered"] = err
        recons[video["sample"]] = recon
    if not recons:
        raise ReconstructionError(f"task {task_id}: no video sample could be reconstructed: {failures}")
    return scene, recons, failures


def write_reconstruction(
    store: Store,
    task_id: str,
    recons: dict[int, Reconstruction],
    failures: dict[int, str],
    reports: dict,
    start: float,
) -> ReconstructionStageResult:
    """Keep the sample whose reconstruction a twin follows best (``reports``: sample → its feasibility report,
    :class:`~physworld_core.twin.feasibility.FeasibilityReport`) and write both tables: every sample's score to
    ``video_scores`` (so "physically verified" videos can be exported), the chosen sample's reconstruction to
    ``reconstructions``."""
    best = max(reports, key=lambda k: (reports[k].score, -k))
    scores = [
        {
            "task_id": task_id,
            "sample": k,
            "reconstructed": True,
            "feasibility": r.score,
            "max_gap_m": r.max_gap_m,
            "max_penetration_m": r.max_penetration_m,
            "peak_accel": r.peak_accel,
            "tracking_iou": recons[k].metrics["tracking"]["mean_iou"],
            "reasons_json": json.dumps(list(r.reasons)),
            "selected": k == best,
        }
        for k, r in reports.items()
    ] + [
        {
            "task_id": task_id,
            "sample": k,
            "reconstructed": False,
            "feasibility": 0.0,
            "max_gap_m": None,
            "max_penetration_m": None,
            "peak_accel": None,
            "tracking_iou": None,
            "reasons_json": json.dumps([reason]),
            "selected": False,
        }
        for k, reason in failures.items()
    ]
    recon = recons[best]
    recon.metrics["feasibility"] = reports[best].to_dict()
    objects = []
    for obj in recon.objects:
        objects.append(
            {
                "name": obj.name,
                "role": obj.role,
                "label": obj.label,
                "mesh_uri": _mesh_blob(store, obj),
                "pose_world": obj.pose_world.tolist(),
                "rgb": list(obj.rgb),
                "container": None if obj.container is None else obj.container.to_dict(),
                "region": None if obj.region is None else obj.region.to_dict(),
            }
        )
    recon.metrics["seconds"] = time.time() - start
    store.lake.write_partition("video_scores", sorted(scores, key=lambda r: r["sample"]), task_id)
    store.lake.write_partition(
        "reconstructions",
        [
            {
                "task_id": task_id,
                "sample": best,
                "target": recon.target.label,
                "container": recon.goal_label,
                "plane_json": json.dumps({"normal": list(recon.plane_normal), "offset": recon.plane_offset}),
                "objects_json": json.dumps(objects),
                "trajectory_json": json.dumps(recon.trajectory.to_json_dict()),
                "metrics_json": json.dumps(recon.metrics),
                "seconds": recon.metrics["seconds"],
                **typed_metrics(recon.metrics),
            }
        ],
        task_id,
    )
    return ReconstructionStageResult(recon, best, sorted(scores, key=lambda r: r["sample"]))


def typed_metrics(metrics: dict) -> dict:
    """The figures of ``metrics`` that have columns of their own in ``reconstructions``."""
    tracking = metrics.get("tracking", {})
    visible = tracking.get("visible_fraction")
    if visible is None and tracking.get("frames"):
        visible = 1 - tracking.get("low_confidence_frames", 0) / tracking["frames"]
    return {
        "feasibility": metrics.get("feasibility", {}).get("score"),
        "plane_rms_m": metrics.get("plane_rms_m"),
        "tracking_mean_iou": tracking.get("mean_iou"),
        "visible_fraction": visible,
    }


def load_reconstruction(store: Store, task_id: str) -> Reconstruction:
    row = store.one_row("reconstructions", task_id)
    objects = []
    for o in json.loads(row["objects_json"]):
        mesh = np.load(io.BytesIO(store.blobs.get_bytes(o["mesh_uri"])), allow_pickle=False)
        geometry = None if o["container"] is None else fixture_from_dict(o["container"])
        objects.append(
            ReconstructedObject(
                o["name"],
                o["role"],
                o["label"],
                mesh["vertices"],
                mesh["faces"],
                np.asarray(o["pose_world"]),
                tuple(o["rgb"]),
                geometry,
                None
                if o.get("region") is None
                else RegionGeometry(o["region"]["shape"], tuple(o["region"]["half_extents"])),
                face_part=mesh["face_part"] if "face_part" in mesh.files else None,
                arm_parts=tuple(int(i) for i in mesh["arm_parts"]) if "arm_parts" in mesh.files else (),
            )
        )
    plane = json.loads(row["plane_json"])
    return Reconstruction(
        task_id=task_id,
        plane_normal=tuple(plane["normal"]),
        plane_offset=plane["offset"],
        objects=tuple(objects),
        trajectory=Trajectory.from_json_dict(json.loads(row["trajectory_json"])),
        metrics=json.loads(row["metrics_json"]),
    )
