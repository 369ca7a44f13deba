"""Sweeping, from the captured frame to the true world: the brush is rebuilt as a head and a handle, the dustpan
as a fixture with its ramp, the scraps as boxes on the table; the plan made in the twin sweeps the real scraps."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from physworld_core.errors import ReconstructionError
from physworld_core.reconstruction.reconstruct import reconstruct
from physworld_core.skills.sweep.reconstruction import DustpanGeometry


@pytest.fixture(scope="module")
def swept(sweep_world):
    from physworld_core.video.procedural import generate

    scene, layout = sweep_world
    video = generate(scene)
    return scene, video, reconstruct(scene, video.frames, video.fps), layout


def test_brush_pan_and_scraps_are_modelled_as_what_they_are(swept):
    _, _, recon, layout = swept
    brush = recon.target
    parts = brush.convex_parts()
    assert parts is not None and len(parts) == 2  # a head and a handle
    facing = brush.pose_world[:2, 0]
    assert facing @ [np.cos(layout.brush.yaw), np.sin(layout.brush.yaw)] > np.cos(np.radians(8))
    pan = recon.container
    assert isinstance(pan.container, DustpanGeometry)
    assert pan.container.inner_width == pytest.approx(layout.dustpan.inner_width, abs=0.005)
    assert np.linalg.norm(pan.pose_world[:2, 3] - layout.dustpan.xy) < 0.008
    scraps = recon.by_role("contents")
    assert len(scraps) == len(layout.scraps)
    for truth in layout.scraps:  # every scrap is modelled near where it lies
        assert min(np.linalg.norm(s.pose_world[:2, 3] - truth.xy) for s in scraps) < 0.012
    assert recon.metrics["sweep"]["scraps_count"] == len(scraps)
    assert recon.metrics["sweep"]["video_travel_m"] > 0.05


def test_a_video_that_does_not_sweep_is_refused(swept):
    scene, video, _, _ = swept
    still = np.repeat(video.frames[:1], len(video.frames), axis=0)
    with pytest.raises(ReconstructionError, match="does not sweep"):
        reconstruct(scene, still, video.fps)


def test_the_twin_sweeps_and_so_does_the_true_world(swept, tmp_path):
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.policy.stage import make_plan
    from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
    from physworld_core.twin.build import build_twin
    from physworld_core.twin.factory import make_twin_env

    scene, _, recon, layout = swept
    build = build_twin(recon, scene.camera.to_json(), (0.6, 0.4, 0.3))
    assert build.spec.skill == "sweep" and build.spec.goal.kind == "sweep"
    for name, data in build.files.items():
        (tmp_path / name).write_bytes(data)
    local = build.spec.map_uris(lambda name: str(tmp_path / name))
    plan = make_plan(local)
    world = BenchmarkTask("sweep", layout.seed)
    for factory in (
        functools.partial(make_twin_env, local.to_json()),
        functools.partial(world.make_task_world, plan.waypoints[0]),
    ):
        env = ObjectCentricTaskEnv(factory, plan)
        try:
            assert run_episode(env, lambda obs, base: base, seed=11)["success"]
        finally:
            env.close()
