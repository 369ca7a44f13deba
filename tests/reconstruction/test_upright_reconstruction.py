"""Standing a fallen bottle up, from the captured frame to the true world: the tracker follows the video's
quarter turn, the reconstruction says which of the bottle's axes must end up pointing up, the twin's goal is to
stand it on its base, and the plan made in that twin stands the real bottle up."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from transforms3d.quaternions import quat2mat

from physworld_core.errors import PhysworldError
from physworld_core.reconstruction.reconstruct import reconstruct
from physworld_core.reconstruction.tracking import TrackingConfig

SEED = 1  # a bottle lying along the camera's line of sight


@pytest.fixture(scope="module")
def stood_up(tmp_path_factory):
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.video.procedural import generate
    from physworld_core.world.upright import sample_layout

    scene = BenchmarkTask("upright", SEED).capture()
    video = generate(scene)
    return scene, video, reconstruct(scene, video.frames, video.fps), sample_layout(SEED).bottle


def test_the_tracker_follows_the_quarter_turn_and_the_axis_to_stand_up_is_the_bottles(stood_up):
    _, _, recon, bottle = stood_up
    _, quaternion = bottle.lying_pose()
    true_axis = quat2mat(quaternion)[:, 2]  # base (z = 0) → top
    up_local = np.asarray(recon.metrics["up_local"])
    rest = recon.target.pose_world[:3, :3]
    assert (rest @ up_local) @ true_axis > np.cos(np.radians(6))
    tilts = [
        np.degrees(np.arccos(np.clip((P[:3, :3] @ up_local)[2], -1, 1))) for P in recon.trajectory.poses_world
    ]
    assert tilts[0] == pytest.approx(90.0, abs=1.0)  # lying
    assert tilts[-1] < 10.0 and recon.metrics["video_final_tilt_deg"] == pytest.approx(tilts[-1])
    assert recon.goal is None and recon.goal_label == "table"


def test_the_twin_stands_it_up_and_so_does_the_true_world(stood_up, tmp_path):
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.policy.stage import make_plan
    from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
    from physworld_core.twin.build import build_twin
    from physworld_core.twin.factory import make_twin_env

    scene, _, recon, _ = stood_up
    build = build_twin(recon, scene.camera.to_json(), (0.6, 0.4, 0.3))
    spec = build.spec
    assert spec.skill == "upright" and spec.goal.kind == "upright"
    for name, data in build.files.items():
        (tmp_path / name).write_bytes(data)
    local = spec.map_uris(lambda name: str(tmp_path / name))
    plan = make_plan(local)
    task = BenchmarkTask("upright", SEED)
    for factory in (
        functools.partial(make_twin_env, local.to_json()),
        functools.partial(task.make_task_world, plan.waypoints[0]),
    ):
        env = ObjectCentricTaskEnv(factory, plan)
        try:
            result = run_episode(env, lambda obs, base: base, seed=1000)
        finally:
            env.close()
        assert result["success"], result


def test_a_turn_range_needs_the_axis_mode():
    with pytest.raises(ValueError, match="turn_axis"):
        TrackingConfig(rotation="axis")
    with pytest.raises(ValueError, match="turn_range"):
        TrackingConfig(turn_range=(-1.0, 1.0))
    config = TrackingConfig(rotation="axis", turn_axis=(0.0, 2.0, 0.0), turn_range=(-1.9, 1.9))
    assert config.turn_axis == (0.0, 1.0, 0.0)


def test_a_video_that_does_not_stand_it_up_is_refused(stood_up):
    scene, video, _, _ = stood_up
    frames = np.repeat(video.frames[:1], len(video.frames), axis=0)  # it never moves
    with pytest.raises(PhysworldError, match="does not stand it on its base"):
        reconstruct(scene, frames, video.fps)


def test_the_bottle_is_modelled_round_about_the_axis_it_lies_along(stood_up):
    """Seen along the line of sight, the half turn about a vertical line made the bottle a slab as wide as it
    is long; modelled round about its own axis it has the true bottle's length and girth."""
    _, _, recon, bottle = stood_up
    assert recon.metrics["completion"]["target"] == "lying body of revolution"
    up_local = np.asarray(recon.metrics["up_local"])
    along = recon.target.vertices @ up_local
    across = recon.target.vertices - np.outer(along, up_local)
    assert np.ptp(along) == pytest.approx(bottle.height, abs=0.012)
    assert 2 * np.linalg.norm(across - across.mean(0), axis=1).max() == pytest.approx(
        2 * bottle.body_radius, abs=0.006
    )
