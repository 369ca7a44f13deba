"""Twin stage I/O: reconstruction → twin spec (meshes as blobs) → settle check → one row."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from physworld_core.perception.stage import load_perception
from physworld_core.reconstruction.stage import load_reconstruction
from physworld_core.scene import depth_to_points_world, load_scene
from physworld_core.store import Store
from physworld_core.twin.build import build_twin
from physworld_core.twin.factory import make_twin_env
from physworld_core.twin.properties import PropertyPriors
from physworld_core.twin.settle import SettleConfig, SettleReport, settle_twin
from physworld_core.twin.spec import TwinSpec


@dataclass(frozen=True)
class TwinStageResult:
    spec: TwinSpec
    settle: SettleReport
    seconds: float


def render_twin(store: Store, spec: TwinSpec) -> np.ndarray:
    """The twin as the input camera sees it (arm tucked, as at capture): set beside the input frame, a person
    sees at once whether objects are where, and as big as, the photo says."""
    env = make_twin_env(localize(store, spec).to_json(), obs_mode="rgb", robot_pose="capture")
    try:
        obs, _ = env.reset(seed=0)
        return obs["sensor_data"]["scene_camera"]["rgb"][0].cpu().numpy().astype(np.uint8)
    finally:
        env.close()


def localize(store: Store, spec: TwinSpec) -> TwinSpec:
    """Mesh URIs → local cached files, for SAPIEN (which reads from disk)."""
    return spec.map_uris(lambda uri: str(store.blobs.local_path(uri)))


def table_colour(store: Store, task_id: str) -> tuple[float, float, float]:
    """Median colour of the pixels on the support plane (for the twin's table, so renders look alike): the
    plane perception fitted (stored by the perception stage)."""
    scene = load_scene(store, task_id)
    plane = load_perception(store, task_id).perception.plane
    points, pixels = depth_to_points_world(scene.depth_m, scene.camera)
    on_table = np.abs(plane.signed_height(points)) < 0.004
    rgb = scene.rgb[pixels[on_table, 0], pixels[on_table, 1]]
    return tuple(float(v) for v in np.median(rgb, axis=0) / 255.0) if len(rgb) else (0.5, 0.5, 0.5)


def load_twin(store: Store, task_id: str) -> tuple[TwinSpec, dict]:
    row = store.one_row("twins", task_id)
    return TwinSpec.from_json(row["spec_json"]), row


def run_twin_stage(
    store: Store,
    task_id: str,
    priors: PropertyPriors = PropertyPriors(),
    settle: SettleConfig = SettleConfig(),
) -> TwinStageResult:
    start = time.time()
    recon = load_reconstruction(store, task_id)
    camera_json = store.one_row("scenes", task_id)["camera_json"]
    built = build_twin(recon, camera_json, table_colour(store, task_id), priors)
    uris = {
        name: store.blobs.put_bytes(data, "." + name.rsplit(".", 1)[-1]).uri
        for name, data in built.files.items()
    }
    spec = built.spec.map_uris(lambda name: uris[name])
    env = make_twin_env(localize(store, spec).to_json())
    try:
        report = settle_twin(env, settle)
    finally:
        env.close()
    spec_ref = store.blobs.put_bytes(spec.to_json().encode(), ".json")
    seconds = time.time() - start
    store.lake.write_partition(
        "twins",
        [
            {
                "task_id": task_id,
                "spec_json": spec.to_json(),
                "spec_uri": spec_ref.uri,
                "settle_json": json.dumps(report.to_dict()),
                "passed": report.passed,
                "seconds": seconds,
                "max_penetration_m": report.max_penetration_m,
                "max_drift_m": report.max_drift_m,
            }
        ],
        task_id,
    )
    return TwinStageResult(spec, report, seconds)
