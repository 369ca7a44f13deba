"""The sweep skill's perception: the brush and the dustpan grounded on a rendered sweep world, the brush measured
as a head and a handle (which way it faces), the pan's mouth and inside, and the scraps in front of it found in
the height map; a brush with no head and handle, or nothing to sweep, is refused with what was seen."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from physworld_core.errors import GroundingError
from physworld_core.perception.perceive import perceive
from physworld_core.perception.plane import fit_support_plane
from physworld_core.perception.segment import segment_objects
from physworld_core.skills.sweep.perception import ScrapView, SweepView, sweep_view

PINK = (235, 120, 180)
WHITE = (225, 225, 220)


def _angle_deg(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.degrees(abs(np.arctan2(a[0] * b[1] - a[1] * b[0], a @ b))))


def _check_sweep_view(scene, layout):
    """Every measure against the world's truth, within what the module docstring reports (plus a margin for
    the reset jitter of the brush and the scraps, a few millimetres)."""
    perception = perceive(scene)
    view, brush, pan = perception.view, layout.brush, layout.dustpan
    assert perception.instruction.skill == "sweep"
    assert _angle_deg(view.facing, [np.cos(brush.yaw), np.sin(brush.yaw)]) < 6.0
    assert np.linalg.norm(view.head_centre[:2] - brush.xy) < 0.012
    assert perception.plane.signed_height(view.head_centre[None])[0] == pytest.approx(0.0, abs=1e-9)
    for seen, true, tolerance in (
        (view.head_width, brush.head_width, 0.005),
        (view.head_depth, brush.head_depth, 0.007),
        (view.head_height, brush.head_height, 0.005),
        (view.handle_length, brush.handle_length, 0.005),
        (view.handle_width, brush.handle_width, 0.005),
        (view.handle_height, brush.handle_height, 0.002),
        (view.pan_inner_width, pan.inner_width, 0.003),
        (view.pan_depth, pan.depth, 0.005),
        (view.pan_wall_height, pan.wall_height, 0.002),
        (view.pan_floor_height, pan.floor_thickness, 0.002),
    ):
        assert seen == pytest.approx(true, abs=tolerance)
    assert np.linalg.norm(view.mouth[:2] - pan.xy) < 0.005
    assert _angle_deg(view.into_pan, [np.cos(pan.yaw), np.sin(pan.yaw)]) < 2.0
    assert len(view.scraps) == len(layout.scraps)
    seen_xy = np.array([s.centre[:2] for s in view.scraps])
    for scrap in layout.scraps:
        assert np.linalg.norm(seen_xy - scrap.xy, axis=1).min() < 0.015
    return perception


def test_the_brush_the_pan_and_the_scraps_are_measured(sweep_world):
    scene, layout = sweep_world
    perception = _check_sweep_view(scene, layout)
    assert perception.target.colour == "pink" and perception.goal.shape == "container"
    view = perception.view
    # nearest the mouth first; each scrap's colour is one of the scraps' own
    into = view.into_pan
    distances = [float((view.mouth[:2] - s.centre[:2]) @ into) for s in view.scraps]
    assert distances == sorted(distances) and min(distances) > 0
    palette = np.array([255 * np.asarray(s.rgba[:3]) for s in layout.scraps])
    for scrap in view.scraps:
        assert np.linalg.norm(palette - scrap.rgb, axis=1).min() < 90
        assert 0.004 < scrap.half_size[2] < 0.013 and scrap.half_size[0] >= scrap.half_size[1]
    summary = json.loads(json.dumps(perception.to_dict()))["view"]
    assert set(summary) == {
        "head_centre",
        "facing",
        "head_width",
        "head_depth",
        "head_height",
        "handle_length",
        "handle_width",
        "handle_height",
        "mouth",
        "into_pan",
        "pan_inner_width",
        "pan_depth",
        "pan_wall_height",
        "pan_floor_height",
        "pan_lip_length",
        "scraps",
    }
    assert len(summary["scraps"]) == len(view.scraps) and summary["scraps"][0]["point_count"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_brush_pan_and_scraps_of_eight_sweep_worlds(seed):
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.world.sweep import sample_layout

    _check_sweep_view(BenchmarkTask("sweep", seed).capture(), sample_layout(seed))


def test_scraps_of_a_colour_not_there_are_refused(sweep_world):
    scene, layout = sweep_world
    colours = {s.colour_name for s in layout.scraps}
    assert "red" not in colours
    with pytest.raises(GroundingError, match="no red scraps are seen in front of the mouth of the grey"):
        perceive(
            dataclasses.replace(scene, prompt="sweep the red crumbs into the dustpan with the pink brush")
        )
    kept = perceive(
        dataclasses.replace(scene, prompt="sweep the yellow crumbs into the dustpan with the brush")
    )
    assert len(kept.view.scraps) == sum(s.colour_name == "yellow" for s in layout.scraps)


def _dustpan(centre_x: float, rgb=WHITE) -> list:
    """A dustpan opening towards -x: floor, a 3.5 cm back wall at +x and 1.5 cm side walls."""
    from tests.perception.synthetic_scenes import Box

    depth, width, wall = 0.1, 0.12, 0.008
    return [
        Box("pan", (centre_x, 0.0), (depth, width, 0.004), rgb),
        Box("pan", (centre_x + depth / 2 - wall / 2, 0.0), (wall, width, 0.035), rgb),
        Box("pan", (centre_x, -width / 2 + wall / 2), (depth, wall, 0.015), rgb),
        Box("pan", (centre_x, width / 2 - wall / 2), (depth, wall, 0.015), rgb),
    ]


def test_a_block_with_no_head_and_handle_is_refused(synth):
    from tests.perception.synthetic_scenes import BLUE, Box

    shapes = [
        Box("brush", (-0.05, -0.16), (0.11, 0.09, 0.03), PINK),  # a plain block, no handle
        *_dustpan(0.1),
        Box("scrap", (-0.02, 0.0), (0.02, 0.02, 0.018), BLUE),
    ]
    scene = synth.render(shapes, prompt="sweep the bits into the dustpan with the pink brush").scene
    with pytest.raises(GroundingError, match=r"pink .* \(the pink brush\) .* shows no head and handle"):
        perceive(scene)


def test_a_t_shaped_brush_faces_from_its_handle_to_its_head(synth):
    from tests.perception.synthetic_scenes import BLUE, YELLOW, Box

    yaw = np.deg2rad(30.0)
    facing = np.array([np.cos(yaw), np.sin(yaw)])
    head_xy = np.array([-0.05, -0.16])
    handle_xy = head_xy - facing * (0.014 + 0.045)
    shapes = [
        Box("brush", tuple(head_xy), (0.028, 0.09, 0.028), PINK, yaw=yaw),
        Box("brush", tuple(handle_xy), (0.09, 0.022, 0.035), PINK, yaw=yaw),
        *_dustpan(0.1),
        Box("scrap", (-0.02, 0.02), (0.02, 0.02, 0.018), BLUE),
        Box("scrap", (-0.04, -0.03), (0.02, 0.02, 0.018), YELLOW, yaw=0.5),
    ]
    scene = synth.render(shapes, prompt="use the pink brush to sweep the bits into the dustpan").scene
    plane = fit_support_plane(scene)
    view = perceive(scene).view
    assert _angle_deg(view.facing, facing) < 4.0
    assert np.linalg.norm(view.head_centre[:2] - head_xy) < 0.008
    assert view.head_width == pytest.approx(0.09, abs=0.008)
    assert view.handle_length == pytest.approx(0.09, abs=0.01)
    assert _angle_deg(view.into_pan, [1.0, 0.0]) < 3.0
    assert view.mouth[0] == pytest.approx(0.05, abs=0.008) and abs(view.mouth[1]) < 0.008
    assert len(view.scraps) == 2
    assert sorted(np.round([s.centre[1] for s in view.scraps], 2)) == pytest.approx([-0.03, 0.02], abs=0.01)
    assert plane.signed_height(view.mouth[None])[0] == pytest.approx(0.0, abs=1e-9)
    objects = segment_objects(scene, plane)
    brush = next(o for o in objects if o.colour == "pink")
    pan = max(objects, key=lambda o: o.extents[0] * (o.colour != "pink"))
    with pytest.raises(GroundingError, match="no red scraps"):
        sweep_view(brush, pan, objects, plane, scene, brush_name="brush", pan_name="pan", scraps_colour="red")


def test_perception_carries_a_sweep_view_exactly_for_a_sweep(sweep_world, default_scene):
    perception = perceive(sweep_world[0])
    assert isinstance(perception.view, SweepView)
    with pytest.raises(ValueError, match="a 'sweep' perception needs its view"):
        dataclasses.replace(perception, view=None)
    placing = perceive(default_scene.scene)
    assert placing.view is None and placing.to_dict()["view"] is None
    with pytest.raises(ValueError, match="a 'place' perception has no view of type SweepView"):
        dataclasses.replace(placing, view=perception.view)


def _view(**overrides) -> SweepView:
    scrap = ScrapView(np.zeros(3), np.full(3, 0.01), 0.0, np.full(3, 100.0), np.zeros((4, 3)))
    fields = {
        "head_centre": np.zeros(3),
        "facing": np.array([1.0, 0.0]),
        **dict.fromkeys(
            ("head_width", "head_depth", "head_height", "handle_length", "handle_width", "handle_height"),
            0.03,
        ),
        "mouth": np.zeros(3),
        "into_pan": np.array([0.0, 1.0]),
        "pan_inner_width": 0.1,
        "pan_depth": 0.1,
        "pan_wall_height": 0.04,
        "pan_floor_height": 0.004,
        "pan_lip_length": 0.02,
        "scraps": (scrap,),
    }
    return SweepView(**{**fields, **overrides})


def test_sweep_view_is_validated():
    assert json.loads(json.dumps(_view().to_dict()))["scraps"][0]["point_count"] == 4
    with pytest.raises(ValueError, match="facing must be a unit vector"):
        _view(facing=np.array([2.0, 0.0]))
    with pytest.raises(ValueError, match="scraps must be one or more"):
        _view(scraps=())
    with pytest.raises(ValueError, match="floor_height .* must lie below"):
        _view(pan_floor_height=0.05)
    with pytest.raises(ValueError, match="head_width must be positive"):
        _view(head_width=0.0)
    with pytest.raises(ValueError, match="half_size must be positive"):
        ScrapView(np.zeros(3), np.zeros(3), 0.0, np.full(3, 100.0), np.zeros((4, 3)))
