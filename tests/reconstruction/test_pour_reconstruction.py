"""Pouring, from the captured frame to the true world: the cup is rebuilt open with a layer of balls in it, the
tracker follows the video's tilt towards the bowl, and the plan made in the twin pours the real balls."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from physworld_core.errors import ReconstructionError
from physworld_core.reconstruction import reconstruct as reconstruction
from physworld_core.reconstruction.reconstruct import reconstruct


@pytest.fixture(scope="module")
def poured(pour_world):
    from physworld_core.video.procedural import generate

    scene, layout = pour_world
    video = generate(scene)
    return scene, video, reconstruct(scene, video.frames, video.fps), layout


def test_the_cup_is_open_holds_balls_and_is_tracked_tipping_towards_the_bowl(poured):
    _, _, recon, layout = poured
    cup = recon.target
    parts = cup.convex_parts()
    assert parts is not None and len(parts) > 8  # a floor and a ring of wall segments, not a closed hull
    radius = np.linalg.norm(cup.vertices[:, :2], axis=1).max()
    assert radius == pytest.approx(layout.cup.outer_radius, abs=0.003)
    assert np.ptp(cup.vertices[:, 2]) == pytest.approx(layout.cup.height, abs=0.004)
    contents = recon.by_role("contents")
    assert len(contents) >= 3
    # Every ball lies inside the cup, above its floor, below its rim.
    for ball in contents:
        local = ball.pose_world[:3, 3] - cup.pose_world[:3, 3]
        assert np.hypot(*local[:2]) < radius and 0 < local[2] < np.ptp(cup.vertices[:, 2])
    pour = recon.metrics["pour"]
    assert pour["video_final_tilt_deg"] > 90.0 and pour["contents_count"] == len(contents)
    # The tilt is towards the bowl: the cup's top ends up on the bowl's side.
    R = recon.trajectory.poses_world[-1][:3, :3] @ recon.trajectory.poses_world[0][:3, :3].T
    d = np.array([*(np.asarray(layout.bowl.xy) - layout.cup.xy), 0.0])
    assert (R @ [0.0, 0.0, 1.0]) @ d > 0


def test_a_video_that_does_not_tip_the_cup_is_refused(poured):
    scene, video, _, _ = poured
    still = np.repeat(video.frames[:1], len(video.frames), axis=0)
    with pytest.raises(ReconstructionError, match="does not pour"):
        reconstruction.reconstruct(scene, still, video.fps)


def test_the_twin_pours_and_so_does_the_true_world(poured, tmp_path):
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.policy.stage import make_plan
    from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
    from physworld_core.twin.build import build_twin
    from physworld_core.twin.factory import make_twin_env

    scene, _, recon, layout = poured
    build = build_twin(recon, scene.camera.to_json(), (0.6, 0.4, 0.3))
    assert build.spec.skill == "pour" and build.spec.goal.kind == "pour"
    for name, data in build.files.items():
        (tmp_path / name).write_bytes(data)
    local = build.spec.map_uris(lambda name: str(tmp_path / name))
    plan = make_plan(local)
    world = BenchmarkTask("pour", layout.seed)
    for factory in (
        functools.partial(make_twin_env, local.to_json()),
        functools.partial(world.make_task_world, plan.waypoints[0]),
    ):
        env = ObjectCentricTaskEnv(factory, plan)
        try:
            assert run_episode(env, lambda obs, base: base, seed=3)["success"]
        finally:
            env.close()
