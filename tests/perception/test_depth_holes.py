"""Depth holes refuse a scene only where the task needs depth (issue #25, item 2): a hole over an object the
prompt does not name is reported (the object's ``missing_depth_fraction``, ``Perception.depth_holes``), while
the same hole over the target or the goal still refuses with the reason."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from physworld_core.errors import SceneError
from physworld_core.perception.perceive import perceive
from physworld_core.perception.plane import fit_support_plane
from physworld_core.perception.segment import MAX_MISSING_DEPTH_FRACTION, depth_hole_report, segment_objects


def _holed(synthetic, name: str, fraction: float = 0.5):
    """The scene with the top ``fraction`` of object ``name``'s pixels (row-major: its upper part) without depth."""
    pixels = np.argwhere(synthetic.mask(name))
    hole = pixels[: int(fraction * len(pixels))]
    depth = synthetic.scene.depth_m.copy()
    depth[hole[:, 0], hole[:, 1]] = 0.0
    return depth


def test_a_hole_over_an_object_the_prompt_does_not_name_is_reported_not_refused(synth):
    synthetic = synth.default_scene("put the red can in the bin")
    scene = dataclasses.replace(synthetic.scene, depth_m=_holed(synthetic, "box"))
    plane = fit_support_plane(scene)
    with pytest.raises(SceneError, match="of it has no depth"):  # segmentation alone still refuses it
        segment_objects(scene, plane)

    perception = perceive(scene)
    assert perception.target.colour == "red" and perception.goal.shape == "container"
    holed = [o for o in perception.objects if o.missing_depth_fraction > MAX_MISSING_DEPTH_FRACTION]
    assert len(holed) == 1 and holed[0].colour == "blue"
    assert perception.target.missing_depth_fraction == 0.0
    assert len(perception.depth_holes) == 1 and "of it has no depth" in perception.depth_holes[0]
    assert perception.to_dict()["depth_holes"] == list(perception.depth_holes)
    report = depth_hole_report(scene, plane, list(perception.objects))
    assert set(report.object_errors) == {holed[0].index}


@pytest.mark.parametrize("prompt", ["put the blue box in the bin", "put the red can on the blue box"])
def test_the_same_hole_over_the_target_or_goal_refuses(synth, prompt):
    synthetic = synth.default_scene(prompt)
    scene = dataclasses.replace(synthetic.scene, depth_m=_holed(synthetic, "box"))
    with pytest.raises(SceneError, match=r"on the object at .* of it has no depth, more than 25%"):
        perceive(scene)


def test_a_hole_far_larger_than_the_object_counts_only_near_it(synth):
    """An out-of-range region (the floor past a table's edge) touching an object is not the object's
    missing depth: only the part within the object's own size counts."""
    synthetic = synth.default_scene()
    depth = synthetic.scene.depth_m.copy()
    can = synthetic.mask("can")
    cols = np.nonzero(can)[1]
    depth[:, : cols.min() + 2] = 0.0  # everything left of the can and its first two columns, top to bottom
    scene = dataclasses.replace(synthetic.scene, depth_m=depth)
    plane = fit_support_plane(scene)
    objects = segment_objects(scene, plane, refuse_depth_holes=False, robot=None)
    (can_object,) = [o for o in objects if o.colour == "red"]
    hole_pixels = int((depth == 0).sum())
    assert hole_pixels > 10 * can.sum()  # counted whole, the hole would be over 90 % of the can
    assert 0.0 < can_object.missing_depth_fraction < 0.8
