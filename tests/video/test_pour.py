"""The pour skill on a real render of the pour benchmark world: the procedural video lifts the cup clear of
the bowl, carries its lip over the bowl, tips it 120° towards the bowl without touching it, and its balls fall
into the bowl; the pixel checks see that, and refuse a cup that sits still or is held over the bowl upright."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from physworld_core.perception.perceive import perceive
from physworld_core.skills.pour.video import (
    POUR_CLEARANCE_M,
    POUR_TILT_DEG,
    goal_inner_radius,
    plan_contents,
    vessel_lip,
    vessel_outline,
)
from physworld_core.video.checks import check_video
from physworld_core.video.motion import REST_GAP_M, tilt_angles_deg
from physworld_core.video.procedural import ProceduralVideoConfig, SplatRenderer, generate, plan_trajectory

CONFIG = ProceduralVideoConfig(num_frames=24, seed=3)


@pytest.fixture(scope="module")
def poured(pour_world):
    scene, layout = pour_world
    return scene, layout, perceive(scene)


def _moved(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:3, :3].T + transform[:3, 3]


def test_the_cup_is_lifted_carried_and_tipped_over_the_bowl(poured):
    _, layout, perception = poured
    trajectory = plan_trajectory(perception, CONFIG)
    phases = trajectory.phases
    assert list(phases) == ["hold_start", "lift", "carry", "tilt", "hold_end"]
    transforms = trajectory.transforms_world
    np.testing.assert_allclose(transforms[0], np.eye(4))
    plane, up = perception.plane, perception.plane.normal_array

    # Pours towards the bowl: d runs from the cup to the bowl, along the table.
    direction = trajectory.payload.direction
    towards = np.r_[np.asarray(layout.bowl.xy) - layout.cup.xy, 0.0]
    assert abs(direction @ up) < 1e-9 and direction @ towards / np.linalg.norm(towards) > np.cos(
        np.deg2rad(5)
    )

    # Tipped by 120° in the end, its top turned towards the bowl (a positive turn about up × d).
    angles = tilt_angles_deg(trajectory, up)
    assert angles[phases["carry"][1]] == pytest.approx(0.0, abs=1e-6)
    assert angles[-1] == pytest.approx(POUR_TILT_DEG, abs=1e-6)
    assert np.all(np.diff(angles[phases["tilt"][0] - 1 : phases["tilt"][1] + 1]) >= -1e-9)
    axis = transforms[-1, :3, :3] @ up
    np.testing.assert_allclose(
        axis, np.cos(np.deg2rad(120)) * up + np.sin(np.deg2rad(120)) * direction, atol=1e-9
    )

    # From the end of the carry on, the lip is over the bowl's middle.
    goal_centre = np.asarray(perception.goal.centre_world)
    lip = vessel_lip(perception)
    for index in range(phases["carry"][1], len(transforms)):
        offset = _moved(transforms[index], lip[None])[0] - goal_centre
        assert np.linalg.norm(offset - (offset @ up) * up) < 0.5 * goal_inner_radius(perception.goal)

    # Clear of the table all the way, and of the bowl's rim by 2 cm from the moment it is carried.
    outline = vessel_outline(perception)
    rim = perception.goal.top_height
    lowest = np.array([plane.signed_height(_moved(t, outline)).min() for t in transforms])
    assert lowest.min() >= -1e-9
    assert np.all(lowest[phases["carry"][0] :] >= rim + POUR_CLEARANCE_M - 1e-6)
    assert rim < 0.06 and trajectory.carry_height >= rim + POUR_CLEARANCE_M


def test_the_balls_ride_in_the_cup_then_land_in_the_bowl(poured):
    _, layout, perception = poured
    trajectory = plan_trajectory(perception, CONFIG)
    motion = plan_contents(perception, trajectory, CONFIG)
    count = motion.transforms_world.shape[1]
    assert count >= 1 and motion.labels.max() == count - 1
    angles = tilt_angles_deg(trajectory, perception.plane.normal_array)
    assert angles[motion.release_frame - 1] < 70.0 <= angles[motion.release_frame]
    assert motion.release_frame < motion.landed_frame < CONFIG.num_frames
    for frame in range(motion.release_frame + 1):
        np.testing.assert_allclose(
            motion.transforms_world[frame], np.repeat(trajectory.transforms_world[frame][None], count, 0)
        )
    plane = perception.plane
    points = perception.view.contents_points
    bowl_floor = perception.goal.floor_height
    for clump in range(count):
        rest = _moved(motion.transforms_world[-1, clump], points[motion.labels == clump])
        assert plane.signed_height(rest).min() == pytest.approx(bowl_floor + REST_GAP_M, abs=1e-9)
        assert (
            np.linalg.norm(rest[:, :2] - np.asarray(layout.bowl.xy), axis=1).max() < layout.bowl.inner_radius
        )


def test_the_video_pours_and_records_its_direction(poured):
    scene, _, perception = poured
    video = generate(scene, CONFIG)
    plan = json.loads(json.dumps(video.plan))
    assert plan["pour_tilt_deg"] == POUR_TILT_DEG
    direction = np.asarray(plan["pour_direction"])
    assert direction.shape == (3,) and np.linalg.norm(direction) == pytest.approx(1.0)
    assert plan["pour"]["contents_count"] == len(perception.view.contents_points)
    assert np.asarray(plan["contents_transforms_world"]).shape[:2] == (
        CONFIG.num_frames,
        len(np.unique(plan_contents(perception, plan_trajectory(perception, CONFIG), CONFIG).labels)),
    )
    assert list(plan["phases"]) == ["hold_start", "lift", "carry", "tilt", "hold_end"]
    np.testing.assert_array_equal(video.frames[0], scene.rgb)
    # The balls' blue shows inside the bowl at the end, where it did not at the start.
    blue = lambda frame: (frame[..., 2].astype(int) > frame[..., 0].astype(int) + 60) & perception.goal.mask
    assert blue(video.frames[-1]).sum() >= 5 and blue(video.frames[0]).sum() == 0
    results = check_video(video.frames, scene, perception=perception)
    assert results["passed"], results
    assert results["target_pours"] and results["target_over_goal"] and results["contents_in_goal"]


def test_checks_refuse_a_cup_that_does_not_pour(poured):
    scene, _, perception = poured
    still = check_video(np.repeat(scene.rgb[None], 24, axis=0), scene, perception=perception)
    assert not still["passed"] and not still["target_moves"] and not still["target_pours"]
    # Carried over the bowl and held there upright: it moves and is over the bowl, but nothing is poured.
    trajectory = plan_trajectory(perception, CONFIG)
    held = trajectory.transforms_world.copy()
    held[trajectory.phases["carry"][1] :] = held[trajectory.phases["carry"][1]]
    renderer = SplatRenderer(scene, perception, CONFIG)
    frames = np.stack([scene.rgb, *(renderer.render(t) for t in held[1:])])
    upright = check_video(frames, scene, perception=perception)
    assert upright["target_moves"] and upright["target_over_goal"]
    assert not upright["contents_in_goal"] and not upright["target_pours"] and not upright["passed"]


def test_with_nothing_seen_inside_the_tipping_is_what_shows_the_pour(poured):
    """Perception told that nothing was seen inside (the balls then ride in the cup as part of it): the video
    still tips it, and the check reads the tip, not the contents; held upright over the bowl, it does not
    pour."""
    scene, _, perception = poured
    empty = dataclasses.replace(
        perception.view,
        contents_points=np.empty((0, 3)),
        contents_pixels=np.empty((0, 2)),
        contents_rgb=None,
        contents_top=None,
    )
    perception = dataclasses.replace(perception, view=empty)
    trajectory = plan_trajectory(perception, CONFIG)
    assert plan_contents(perception, trajectory, CONFIG).transforms_world.shape == (
        CONFIG.num_frames,
        0,
        4,
        4,
    )
    renderer = SplatRenderer(scene, perception, CONFIG)
    assert len(renderer.contents_points) == 0
    frames = np.stack([scene.rgb, *(renderer.render(t) for t in trajectory.transforms_world[1:])])
    tipped = check_video(frames, scene, perception=perception)
    assert tipped["passed"] and tipped["target_tipped"] and not tipped["contents_in_goal"], tipped
    held = trajectory.transforms_world.copy()
    held[trajectory.phases["carry"][1] :] = held[trajectory.phases["carry"][1]]
    frames = np.stack([scene.rgb, *(renderer.render(t) for t in held[1:])])
    upright = check_video(frames, scene, perception=perception)
    assert upright["target_over_goal"] and not upright["target_tipped"] and not upright["passed"], upright


def test_a_realistic_pour_still_renders(poured):
    scene, _, _ = poured
    video = generate(scene, ProceduralVideoConfig(num_frames=24, realism="harsh", seed=1))
    assert video.frames.shape == (24, scene.height, scene.width, 3)
    assert video.plan["realism"]["hand_frames"]
