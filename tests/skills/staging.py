"""Running a benchmark world's first frame through every stage of the pipeline, as the pipeline runs them
(perception, procedural video and its checks, reconstruction, twin, plan), and an episode of a plan in its twin.

The worlds are only the source of a scene package here (what a camera and a prompt give the pipeline); the
stages never see their truth.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

TABLE_RGB = (0.6, 0.4, 0.3)
"""The twin's table colour (display only)."""


class Staged:
    """One scene through the pipeline's stages, each run when first asked for.

    Attributes:
        scene: the scene package (a benchmark world's first frame, with the prompt asked).
        perception: its perception.
        video: the procedural video generated from it.
        checks: :func:`~physworld_core.video.checks.check_video` of that video.
        twin: the twin spec built from the video's reconstruction, its mesh URIs local files in ``folder``.
        plan: the baseline's plan in the twin.
    """

    def __init__(self, family: str, seed: int, prompt: str | None, folder: Path):
        self.family, self.seed, self.folder = family, seed, folder
        self.scene = capture(family, seed, prompt)

    @functools.cached_property
    def perception(self) -> Any:
        from physworld_core.perception.perceive import perceive

        return perceive(self.scene)

    @functools.cached_property
    def video(self) -> Any:
        from physworld_core.video import backends

        return backends.load("procedural").generate_for(self.scene, self.perception)

    @functools.cached_property
    def checks(self) -> dict:
        from physworld_core.video.checks import check_video

        return check_video(self.video.frames, self.scene, perception=self.perception)

    @functools.cached_property
    def twin(self) -> Any:
        from physworld_core.reconstruction.reconstruct import reconstruct
        from physworld_core.twin.build import build_twin

        video = self.video
        recon = reconstruct(self.scene, video.frames, video.fps, perception=self.perception)
        built = build_twin(recon, self.scene.camera.to_json(), TABLE_RGB)
        for name, data in built.files.items():
            (self.folder / name).write_bytes(data)
        return built.spec.map_uris(lambda name: str(self.folder / name))

    @functools.cached_property
    def plan(self) -> Any:
        from physworld_core.policy.stage import make_plan

        return make_plan(self.twin)


def capture(family: str, seed: int, prompt: str | None = None):
    """The first RGB-D frame of a benchmark world, with ``prompt`` in place of the world's own when given."""
    scene = _capture(family, seed)
    return scene if prompt is None else dataclasses.replace(scene, prompt=prompt)


@functools.cache
def _capture(family: str, seed: int):
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene

    return capture_scene(BenchmarkTask(family, seed))


def run_in_twin(spec, plan, act=None, seed: int = 1000) -> dict:
    """One episode of ``plan``'s baseline (or of ``act(obs, base_action)``) in the twin ``spec``."""
    from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
    from physworld_core.twin.factory import make_twin_env

    env = ObjectCentricTaskEnv(functools.partial(make_twin_env, spec.to_json()), plan)
    try:
        return run_episode(env, act or (lambda obs, base: base), seed=seed)
    finally:
        env.close()
