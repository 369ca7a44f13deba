"""The pour skill's perception: the cup and the bowl grounded on a rendered pour world, the cup measured as a cup
(axis, outer radius, rim height) and what lies inside it told apart by colour; vessels that cannot be poured
from are refused with what was seen."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from physworld_core.errors import GroundingError
from physworld_core.perception.grounding import ground
from physworld_core.perception.language import parse_instruction
from physworld_core.perception.perceive import perceive
from physworld_core.perception.plane import fit_support_plane
from physworld_core.perception.segment import segment_objects
from physworld_core.skills.pour.perception import PourView, pour_view

BROWN = (140, 90, 50)


def _check_pour_view(scene, layout, *, radius_tolerance: float, height_tolerance: float):
    perception = perceive(scene)
    cup, bowl = layout.cup, layout.bowl
    # The cup stands within a reset jitter (3 mm a side) of its layout place; the bowl is fixed.
    assert np.linalg.norm(np.asarray(perception.target.centre_world[:2]) - cup.xy) < 0.015
    assert np.linalg.norm(np.asarray(perception.goal.centre_world[:2]) - bowl.xy) < 0.01
    view = perception.view
    assert np.linalg.norm(np.asarray(view.centre[:2]) - cup.xy) < 0.015
    assert perception.plane.signed_height(view.centre_array[None])[0] == pytest.approx(0.0, abs=1e-9)
    assert view.outer_radius == pytest.approx(cup.outer_radius, abs=radius_tolerance)
    assert view.height == pytest.approx(cup.height, abs=height_tolerance)
    assert cup.floor_thickness - 0.002 <= view.floor_height < view.height
    return perception


def test_the_cup_is_measured_and_its_balls_seen(pour_world):
    scene, layout = pour_world
    perception = _check_pour_view(scene, layout, radius_tolerance=0.0025, height_tolerance=0.001)
    assert perception.instruction.skill == "pour"
    assert perception.target.shape == perception.goal.shape == "container"
    view = perception.view
    assert len(view.contents_points) == len(view.contents_pixels) >= 10
    ball_rgb = 255 * np.asarray(layout.balls.rgba[:3])
    cup_rgb = 255 * np.asarray(layout.cup.rgba[:3])
    seen = np.asarray(view.contents_rgb)
    assert np.linalg.norm(seen - ball_rgb) < np.linalg.norm(seen - cup_rgb)
    # every contents pixel is one of the cup's, inside its mouth
    assert perception.target.mask[view.contents_pixels[:, 0], view.contents_pixels[:, 1]].all()
    radial = np.linalg.norm(view.contents_points[:, :2] - np.asarray(view.centre[:2]), axis=1)
    assert radial.max() < layout.cup.inner_radius
    top_of_balls = layout.cup.floor_thickness + 2 * layout.balls.radius
    assert view.contents_top == pytest.approx(top_of_balls, abs=0.004)
    summary = json.loads(json.dumps(perception.to_dict()))["view"]
    assert summary["contents_count"] == len(view.contents_points)
    assert set(summary) == {
        "centre",
        "outer_radius",
        "height",
        "floor_height",
        "contents_count",
        "contents_rgb",
        "contents_top",
        "contents_bounds_world",
    }


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_cup_and_bowl_of_eight_pour_worlds(seed):
    """Seed 5's orange mug reads brown, like its brown bowl: the mug is told from the bowl by its size."""
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.world.pour import sample_layout

    scene = BenchmarkTask("pour", seed).capture()
    _check_pour_view(scene, sample_layout(seed), radius_tolerance=0.0025, height_tolerance=0.001)


def test_a_solid_cylinder_has_nothing_to_pour_out_of(synth, default_scene):
    scene = synth.render(default_scene.shapes, prompt="pour the balls from the red cup into the bin").scene
    with pytest.raises(
        GroundingError, match=r"red cylinder \(the red cup\) is not an open container.*solid cylinder"
    ):
        perceive(scene)


def test_a_container_too_wide_to_hold_is_refused(default_scene):
    scene = default_scene.scene
    plane = fit_support_plane(scene)
    (bin_,) = [o for o in segment_objects(scene, plane) if o.shape == "container"]
    with pytest.raises(
        GroundingError, match=r"the grey bin is 1[56]\.\d cm across, wider than the gripper opens"
    ):
        pour_view(bin_, plane, scene, "grey bin")


def test_a_cup_the_colour_of_the_bowl_is_told_from_it_by_its_size(synth):
    """Two brown containers: the one a hand can hold is poured from, the wide one poured into."""
    shapes = [
        *synth.bin_parts("cup", (0.0, -0.12), outer=(0.065, 0.065), height=0.08, wall=0.005, rgb=BROWN),
        *synth.bin_parts("bowl", (0.02, 0.1), outer=(0.16, 0.16), height=0.05, rgb=BROWN),
    ]
    scene = synth.render(shapes, prompt="pour the balls from the brown cup into the dish").scene
    plane = fit_support_plane(scene)
    objects = segment_objects(scene, plane)
    grounding = ground(parse_instruction(scene.prompt), objects)
    assert grounding.target.centre_world[1] == pytest.approx(-0.12, abs=0.01)
    assert grounding.goal.centre_world[1] == pytest.approx(0.1, abs=0.01)
    # without the size, the two would tie: placing "the brown cup" into the dish finds two equal matches
    with pytest.raises(GroundingError, match="2 objects match it equally well"):
        ground(parse_instruction("put the brown container in the dish"), objects)


def test_perception_carries_a_pour_view_exactly_for_a_pour(pour_world, default_scene):
    perception = perceive(pour_world[0])
    assert isinstance(perception.view, PourView)
    with pytest.raises(ValueError, match="a 'pour' perception needs its view"):
        dataclasses.replace(perception, view=None)
    placing = perceive(default_scene.scene)
    assert placing.view is None and placing.to_dict()["view"] is None
    with pytest.raises(ValueError, match="a 'place' perception has no view of type PourView"):
        dataclasses.replace(placing, view=perception.view)


def test_pour_view_is_validated():
    nothing = (np.empty((0, 3)), np.empty((0, 2)))
    PourView((0, 0, 0), 0.03, 0.08, 0.01, *nothing, None, None)
    with pytest.raises(ValueError, match="given exactly when contents are seen"):
        PourView((0, 0, 0), 0.03, 0.08, 0.01, *nothing, (1.0, 2.0, 3.0), None)
    with pytest.raises(ValueError, match="must align"):
        PourView((0, 0, 0), 0.03, 0.08, 0.01, np.zeros((2, 3)), np.zeros((1, 2)), (1.0, 2.0, 3.0), 0.02)
    with pytest.raises(ValueError, match="floor_height must lie in"):
        PourView((0, 0, 0), 0.03, 0.08, 0.09, *nothing, None, None)
    with pytest.raises(ValueError, match="outer_radius must be positive"):
        PourView((0, 0, 0), 0.0, 0.08, 0.01, *nothing, None, None)
