"""Flat goal markings: found by colour on the support plane, patterned ones as one region, with their colours."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.errors import GroundingError
from physworld_core.perception.perceive import perceive
from physworld_core.scene import ScenePackage, depth_to_points_world


def _painted(synth, prompt: str, centre=(-0.12, 0.02), radius=0.06, rings=((255, 40, 40), (245, 245, 245))):
    """The default scene with concentric rings painted on the table around ``centre`` (world xy)."""
    rendered = synth.default_scene(prompt=prompt)
    scene = rendered.scene
    points, pixels = depth_to_points_world(scene.depth_m, scene.camera)
    on_table = rendered.object_ids[pixels[:, 0], pixels[:, 1]] < 0
    r = np.linalg.norm(points[:, :2] - np.asarray(centre), axis=1)
    rgb = scene.rgb.copy()
    ring = np.floor(r / (radius / 4)).astype(int)
    for k in range(4):
        sel = on_table & (ring == k) & (r < radius)
        rgb[pixels[sel, 0], pixels[sel, 1]] = rings[k % len(rings)]
    painted = ScenePackage(
        task_id=scene.task_id,
        rgb=rgb,
        depth_m=scene.depth_m,
        camera=scene.camera,
        prompt=prompt,
        source=scene.source,
    )
    return painted, np.asarray(centre), radius


def test_a_patterned_target_is_one_region_with_both_colours(synth):
    scene, centre, radius = _painted(synth, "push the blue box onto the red and white target")
    p = perceive(scene)
    assert p.instruction.skill == "push"
    assert p.target.description == "blue box"
    assert p.goal.shape == "region"
    assert set(p.goal.colours) == {"red", "white"}
    assert np.linalg.norm(np.asarray(p.goal.centre_world[:2]) - centre) < 0.01
    assert abs(0.5 * p.goal.extents[0] - radius) < 0.012


def test_a_region_is_grounded_by_one_colour_and_refused_when_absent(synth):
    scene, _, _ = _painted(synth, "slide the blue box to the red circle")
    assert perceive(scene).goal.shape == "region"
    absent, _, _ = _painted(synth, "push the blue box onto the green target")
    with pytest.raises(GroundingError, match="green target"):
        perceive(absent)


def test_markings_are_not_looked_for_unless_the_prompt_names_one(synth):
    scene, _, _ = _painted(synth, "put the red can in the bin")
    assert all(o.shape != "region" for o in perceive(scene).objects)


def test_a_plain_table_has_no_region(synth):
    scene = synth.default_scene(prompt="push the blue box onto the red target").scene
    with pytest.raises(GroundingError, match="red target"):
        perceive(scene)
