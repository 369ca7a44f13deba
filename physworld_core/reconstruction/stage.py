"""Reconstruction stage I/O: read the scene and the selected video, reconstruct, store meshes + one row."""

from __future__ import annotations

import io
import json
import time

import numpy as np

from physworld_core.errors import ReconstructionError
from physworld_core.reconstruction.reconstruct import ReconstructionConfig, reconstruct
from physworld_core.reconstruction.types import (
    ContainerGeometry,
    ReconstructedObject,
    Reconstruction,
    Trajectory,
)
from physworld_core.store import Store


def selected_video(store: Store, task_id: str) -> dict:
    frame = store.lake.read_partition("videos", task_id)
    chosen = frame.filter(frame["selected"])
    if chosen.height == 0:
        raise ReconstructionError(
            f"task {task_id}: no video sample passed its checks; nothing to reconstruct"
        )
    return chosen.sort("sample").row(0, named=True)


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


def _mesh_blob(store: Store, vertices: np.ndarray, faces: np.ndarray) -> str:
    buf = io.BytesIO()
    np.savez(buf, vertices=vertices.astype(np.float64), faces=faces.astype(np.int64))
    return store.blobs.put_bytes(buf.getvalue(), ".npz").uri


def run_reconstruction_stage(
    store: Store, task_id: str, config: ReconstructionConfig = ReconstructionConfig()
) -> Reconstruction:
    from physworld_core.ingest import load_scene
    from physworld_core.video.codec import decode_mp4

    start = time.time()
    scene = load_scene(store, task_id)
    video = selected_video(store, task_id)
    frames = decode_mp4(store.blobs.get_bytes(video["video_uri"]))
    recon = reconstruct(scene, frames, video["fps"], config)
    err = tracking_error(recon, json.loads(video["plan_json"]))
    if err is not None:
        recon.metrics["tracking_vs_rendered"] = err
    objects = []
    for obj in recon.objects:
        objects.append(
            {
                "name": obj.name,
                "role": obj.role,
                "label": obj.label,
                "mesh_uri": _mesh_blob(store, obj.vertices, obj.faces),
                "pose_world": obj.pose_world.tolist(),
                "rgb": list(obj.rgb),
                "container": None
                if obj.container is None
                else {
                    "inner_half": list(obj.container.inner_half),
                    "wall_height": obj.container.wall_height,
                    "wall_thickness": obj.container.wall_thickness,
                },
            }
        )
    store.lake.write_partition(
        "reconstructions",
        [
            {
                "task_id": task_id,
                "target": recon.target.label,
                "container": recon.container.label,
                "plane_json": json.dumps({"normal": list(recon.plane_normal), "offset": recon.plane_offset}),
                "objects_json": json.dumps(objects),
                "trajectory_json": json.dumps(recon.trajectory.to_json_dict()),
                "metrics_json": json.dumps(recon.metrics),
                "seconds": time.time() - start,
            }
        ],
        task_id,
    )
    return recon


def load_reconstruction(store: Store, task_id: str) -> Reconstruction:
    row = store.one_row("reconstructions", task_id)
    objects = []
    for o in json.loads(row["objects_json"]):
        mesh = np.load(io.BytesIO(store.blobs.get_bytes(o["mesh_uri"])), allow_pickle=False)
        geometry = (
            None
            if o["container"] is None
            else ContainerGeometry(
                inner_half=tuple(o["container"]["inner_half"]),
                wall_height=o["container"]["wall_height"],
                wall_thickness=o["container"]["wall_thickness"],
            )
        )
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
