"""The sweep skill on a real render of the sweep benchmark world: the procedural video lifts the brush, turns it
so its head faces into the dustpan, puts it down behind the farthest scrap, pushes along the lane until the head
is inside the pan and lifts it away; the scraps ahead of the head ride in front of it and end on the pan's floor.
The pixel check sees that, and refuses a brush that sits still or sweeps past scraps that stay where they lay."""

from __future__ import annotations

import json

import numpy as np
import pytest

from physworld_core.perception.perceive import perceive
from physworld_core.skills.sweep.video import (
    SWEEP_BEHIND_M,
    SWEEP_HOVER_M,
    head_positions,
    plan_scraps,
    sweep_stroke,
)
from physworld_core.video.checks import check_video
from physworld_core.video.procedural import ProceduralVideoConfig, SplatRenderer, generate, plan_trajectory
from physworld_core.world.layout import to_local_xy

CONFIG = ProceduralVideoConfig(num_frames=24, seed=3)


@pytest.fixture(scope="module")
def swept(sweep_world):
    scene, layout = sweep_world
    return scene, layout, perceive(scene)


def test_the_brush_is_put_down_behind_the_scraps_and_pushed_into_the_pan(swept):
    _, layout, perception = swept
    trajectory = plan_trajectory(perception, CONFIG)
    phases = trajectory.phases
    assert list(phases) == ["hold_start", "lift", "carry", "lower", "sweep", "raise", "hold_end"]
    transforms = trajectory.transforms_world
    np.testing.assert_allclose(transforms[0], np.eye(4))
    sweep, plane = perception.view, perception.plane
    up = plane.normal_array
    start, end, direction = sweep_stroke(perception)
    np.testing.assert_allclose(trajectory.payload.stroke, [start, end])

    # Pushes into the pan (the world's own direction), from behind the farthest scrap to inside the pan.
    pan = layout.dustpan
    assert direction[:2] @ [np.cos(pan.yaw), np.sin(pan.yaw)] > np.cos(np.deg2rad(3))
    farthest = max(float((sweep.mouth - s.centre) @ direction) for s in sweep.scraps)
    assert float((sweep.mouth - start) @ direction) >= farthest + SWEEP_BEHIND_M + 0.5 * sweep.head_depth
    end_local = to_local_xy(end[None, :2], pan.xy, pan.yaw)[0]
    assert 0.0 < end_local[0] - 0.5 * sweep.head_depth and end_local[0] + 0.5 * sweep.head_depth < pan.depth
    assert abs(end_local[1]) < 0.01

    # From the end of the carry on, the head faces along the stroke; during the stroke it stays down.
    facing = np.r_[sweep.facing, 0.0]
    heads = head_positions(perception, trajectory)
    for index in range(phases["carry"][1], phases["raise"][0]):
        assert transforms[index, :3, :3] @ facing @ direction > np.cos(np.deg2rad(0.5))
    stroke = range(phases["sweep"][0] - 1, phases["sweep"][1] + 1)
    heights = plane.signed_height(heads)
    np.testing.assert_allclose(heights[list(stroke)], sweep.pan_floor_height + SWEEP_HOVER_M, atol=1e-9)
    along = (heads[list(stroke)] - start) @ direction
    assert np.all(np.diff(along) > 0) and along[-1] == pytest.approx(float((end - start) @ direction))
    assert np.linalg.norm(heads[phases["sweep"][1]] - end - heights[phases["sweep"][1]] * up) < 1e-9
    # Lifted at the start and away at the end: above the table while carried, raised by the end.
    assert heights[phases["carry"][0] : phases["carry"][1] + 1].min() > 0.05
    assert heights[-1] > 0.05


def test_the_scraps_ride_in_front_of_the_head_and_end_on_the_pan_floor(swept):
    _, layout, perception = swept
    trajectory = plan_trajectory(perception, CONFIG)
    motion = plan_scraps(perception, trajectory)
    sweep, plane = perception.view, perception.plane
    count = len(sweep.scraps)
    assert motion.transforms_world.shape == (CONFIG.num_frames, count, 4, 4)
    assert len(motion.labels) == sum(len(s.points) for s in sweep.scraps)
    phases = trajectory.phases
    assert phases["sweep"][0] <= motion.release_frame < motion.landed_frame <= phases["sweep"][1] + 1
    assert np.all(motion.transforms_world[: phases["sweep"][0]] == np.eye(4))
    np.testing.assert_allclose(motion.transforms_world[-1], motion.transforms_world[phases["sweep"][1]])
    pan = layout.dustpan
    heads = head_positions(perception, trajectory)
    _, _, direction = sweep_stroke(perception)
    for index, scrap in enumerate(sweep.scraps):
        transform = motion.transforms_world[-1, index]
        centre = transform[:3, :3] @ scrap.centre + transform[:3, 3]
        local = to_local_xy(centre[None, :2], pan.xy, pan.yaw)[0]
        assert 0.0 <= local[0] <= pan.depth and abs(local[1]) <= pan.inner_width / 2  # the world's own test
        assert plane.signed_height(centre[None])[0] == pytest.approx(sweep.pan_floor_height, abs=1e-9)
        # never behind the head's front while it pushes
        for frame in range(phases["sweep"][0], phases["sweep"][1] + 1):
            moved = motion.transforms_world[frame, index, :3, 3] + scrap.centre
            front = (heads[frame] - sweep.mouth) @ direction + 0.5 * sweep.head_depth
            if np.any(motion.transforms_world[frame, index, :3, 3] != 0):
                assert (moved - sweep.mouth) @ direction >= front - 1e-9


def test_the_video_sweeps_and_records_its_stroke(swept):
    scene, _, perception = swept
    video = generate(scene, CONFIG)
    plan = json.loads(json.dumps(video.plan))
    start, end, direction = sweep_stroke(perception)
    np.testing.assert_allclose(plan["sweep_start"], start)
    np.testing.assert_allclose(plan["sweep_end"], end)
    np.testing.assert_allclose(plan["sweep_direction"], direction, atol=1e-9)
    assert len(plan["sweep"]["scraps"]) == len(perception.view.scraps)
    assert np.asarray(plan["contents_transforms_world"]).shape == (
        CONFIG.num_frames,
        len(perception.view.scraps),
        4,
        4,
    )
    assert list(plan["phases"]) == ["hold_start", "lift", "carry", "lower", "sweep", "raise", "hold_end"]
    np.testing.assert_array_equal(video.frames[0], scene.rgb)
    results = check_video(video.frames, scene, perception=perception)
    assert results["passed"], results
    assert results["target_sweeps"] and results["scraps_in_goal"] and results["lane_cleared"]
    assert results["scraps_in_goal_px"] >= 0.4 * results["scraps_seen_px"] and results["scraps_left_px"] == 0


def test_checks_refuse_a_brush_that_does_not_sweep(swept):
    scene, _, perception = swept
    still = check_video(np.repeat(scene.rgb[None], 24, axis=0), scene, perception=perception)
    assert not still["passed"] and not still["target_moves"] and not still["target_sweeps"]
    # The brush goes through the motion but the scraps stay where they lay.
    trajectory = plan_trajectory(perception, CONFIG)
    renderer = SplatRenderer(scene, perception, CONFIG)
    resting = np.tile(np.eye(4), (len(perception.view.scraps), 1, 1))
    frames = np.stack(
        [scene.rgb, *(renderer.render(t, 1.0, resting) for t in trajectory.transforms_world[1:])]
    )
    missed = check_video(frames, scene, perception=perception)
    assert missed["target_moves"] and not missed["lane_cleared"] and not missed["scraps_in_goal"]
    assert not missed["target_sweeps"] and not missed["passed"]


def test_a_realistic_sweep_still_renders(swept):
    scene, _, _ = swept
    video = generate(scene, ProceduralVideoConfig(num_frames=24, realism="harsh", seed=1))
    assert video.frames.shape == (24, scene.height, scene.width, 3)
    assert video.plan["realism"]["hand_frames"]
