"""The upright skill on real renders of the upright benchmark world: perception finds the lying bottle and its
base, the procedural video stands it up on its base where it lay, and the pixel checks see that."""

from __future__ import annotations

import json

import numpy as np
import pytest
from transforms3d.quaternions import quat2mat

from physworld_core.errors import GroundingError
from physworld_core.perception.perceive import perceive
from physworld_core.video.checks import check_video
from physworld_core.video.procedural import ProceduralVideoConfig, SplatRenderer, generate

SEEDS = (
    0,
    7,
)  # a yellow bottle across the view; a red one on orange wood (within any tolerance of its colour)


@pytest.fixture(scope="module", params=SEEDS)
def upright_world(request):
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.world.upright import sample_layout

    scene = BenchmarkTask("upright", request.param).capture()
    return scene, sample_layout(request.param).bottle


def test_perception_grounds_the_lying_bottle_and_its_base(upright_world):
    scene, bottle = upright_world
    perception = perceive(scene)
    assert perception.instruction.skill == "upright"
    assert perception.goal is None and perception.grounding.goal is None
    assert perception.to_dict()["grounding"]["goal"] is None
    assert np.linalg.norm(np.asarray(perception.target.centre_world[:2]) - bottle.xy) < 0.02
    standing = perception.view
    _, quaternion = bottle.lying_pose()
    true_axis = quat2mat(quaternion)[:, 2]  # the bottle's frame z: base (z = 0) → top
    assert standing.axis @ true_axis > np.cos(np.deg2rad(5))
    assert standing.length == pytest.approx(bottle.height, abs=0.01)
    assert standing.radius == pytest.approx(bottle.body_radius, abs=0.003)


def test_the_video_stands_it_up_on_its_base_where_it_lay(upright_world):
    scene, _ = upright_world
    perception = perceive(scene)
    video = generate(scene, ProceduralVideoConfig(num_frames=24, seed=3))
    plan = json.loads(json.dumps(video.plan))
    assert plan["goal"] is None and plan["goal_description"] is None and plan["goal_centre_world"] is None
    assert list(plan["phases"]) == ["hold_start", "lift", "tip", "lower", "hold_end"]
    standing = plan["standing_axis"]
    axis, centre, base = (np.asarray(standing[k]) for k in ("axis", "centre", "base_end"))
    transforms = np.asarray(plan["object_transforms_world"])
    np.testing.assert_allclose(transforms[0], np.eye(4))
    up, plane = perception.plane.normal_array, perception.plane
    final = transforms[-1]
    assert final[:3, :3] @ axis @ up > np.cos(np.deg2rad(3))  # base → top points up
    base_after = final[:3, :3] @ base + final[:3, 3]
    assert plane.signed_height(base_after[None])[0] == pytest.approx(0.002, abs=1e-4)  # on the table
    moved = base_after - centre
    assert np.linalg.norm(moved - (moved @ up) * up) < 1e-6  # standing where its axis centre was
    # While it turns, its outline (a cylinder of the base radius along the axis) stays 1 cm clear of the table.
    tip = plan["phases"]["tip"]
    for index in range(tip[0], tip[1] + 1):
        ends = np.stack([base, 2 * centre - base]) @ transforms[index, :3, :3].T + transforms[index, :3, 3]
        tilt = transforms[index, :3, :3] @ axis @ up
        lowest = plane.signed_height(ends).min() - standing["radius"] * np.sqrt(max(0.0, 1 - tilt**2))
        assert lowest > 0.01 - 1e-6
    results = check_video(video.frames, scene, perception=perception)
    assert results["passed"], results
    assert results["target_ends_upright"] and results["target_ends_in_goal"]


def test_checks_refuse_a_video_where_it_does_not_stand_up(upright_world):
    scene, _ = upright_world
    perception = perceive(scene)
    static = check_video(np.repeat(scene.rgb[None], 24, axis=0), scene, perception=perception)
    assert not static["passed"] and not static["target_moves"] and not static["target_ends_upright"]
    # Lifted and put back down lying: it moves, but does not end standing.
    renderer = SplatRenderer(scene, perception, ProceduralVideoConfig())
    lifts = np.concatenate([np.linspace(0, 0.08, 12), np.linspace(0.08, 0, 12)])
    frames = [scene.rgb]
    for lift in lifts[1:]:
        transform = np.eye(4)
        transform[:3, 3] = perception.plane.normal_array * lift
        frames.append(renderer.render(transform) if lift > 0 else scene.rgb)
    put_back = check_video(np.stack(frames), scene, perception=perception)
    assert put_back["target_moves"] and not put_back["target_ends_upright"] and not put_back["passed"]


def test_a_realistic_video_of_standing_up_still_renders(upright_world):
    scene, _ = upright_world
    video = generate(scene, ProceduralVideoConfig(num_frames=24, realism="harsh", seed=1))
    assert video.frames.shape == (24, scene.height, scene.width, 3)
    assert video.plan["realism"]["hand_frames"]


def test_an_object_standing_already_is_refused_at_perception(synth, default_scene):
    scene = synth.render(default_scene.shapes, prompt="stand the red can upright").scene
    with pytest.raises(GroundingError, match="red cylinder .*does not lie on its side.*cannot be stood up"):
        perceive(scene)
    with pytest.raises(GroundingError, match="does not lie on its side"):
        generate(scene)
