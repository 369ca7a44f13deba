"""Video stage I/O: N samples from a backend, cheap checks, mp4 blobs, one ``videos`` row per sample.

Each row records whether the sample ``passed`` the cheap checks; the reconstruction stage scores the
passing ones for physical feasibility and picks the best. When none passes the stage raises, naming each
sample's failed checks, and writes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from physworld_core.errors import PhysworldError
from physworld_core.perception.stage import load_perception
from physworld_core.scene import load_scene
from physworld_core.store import Store
from physworld_core.video import backends
from physworld_core.video.base import GeneratedVideo
from physworld_core.video.checks import check_video


@dataclass(frozen=True)
class VideoStageConfig:
    """Args:
    backend: name in :data:`physworld_core.video.backends.BACKENDS`.
    samples: videos generated per task.
    seed: seed of sample 0; sample k uses seed + k.
    backend_config: field overrides for the backend's own config (its ``seed`` is set per sample).
    """

    backend: str = "procedural"
    samples: int = 2
    seed: int = 0
    backend_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class VideoStageResult:
    rows: list[dict]
    videos: list[GeneratedVideo]
    passing: list[int]


def run_video_stage(
    store: Store, task_id: str, config: VideoStageConfig = VideoStageConfig()
) -> VideoStageResult:
    scene = load_scene(store, task_id)
    perception = load_perception(store, task_id).perception  # perceived once, by the perception stage
    rows, videos = [], []
    for sample in range(config.samples):
        start = time.time()
        seed = config.seed + sample
        backend = backends.load(config.backend, {**config.backend_config, "seed": seed})
        video = backend.generate_for(scene, perception)
        checks = check_video(video.frames, scene, perception=perception)
        mp4 = video.to_mp4()
        ref = store.blobs.put_bytes(mp4, ".mp4")
        width, height = video.size
        rows.append(
            {
                "task_id": task_id,
                "sample": sample,
                "backend": config.backend,
                "seed": seed,
                "fps": video.fps,
                "num_frames": video.num_frames,
                "width": width,
                "height": height,
                "video_uri": ref.uri,
                "video_sha256": ref.sha256,
                "plan_json": json.dumps(video.plan),
                "checks_json": json.dumps(checks),
                "passed": bool(checks["passed"]),
                "seconds": time.time() - start,
            }
        )
        videos.append(video)
    passing = [i for i, r in enumerate(rows) if r["passed"]]
    if not passing:
        failed = {r["sample"]: _failed_checks(json.loads(r["checks_json"]), perception) for r in rows}
        raise PhysworldError(f"task {task_id}: no video sample passed its checks: {failed}")
    store.lake.write_partition("videos", rows, task_id)
    return VideoStageResult(rows, videos, passing)


def _failed_checks(checks: dict, perception) -> list[str]:
    """The checks a sample failed, the object a video moved instead of the target named."""
    failed = [k for k, v in checks.items() if v is False]
    moved = checks.get("moved_object", -1)
    if "others_still" in failed and moved >= 0:
        thing = next((o.description for o in perception.objects if o.index == moved), f"object #{moved}")
        failed[failed.index("others_still")] = f"others_still (the video moves the {thing})"
    return failed
