"""The pan world: only the handle fits the gripper; success = body centred on the plate, resting, level."""

from __future__ import annotations

import numpy as np

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.pan import _clearance_to_disk, sample_layout
from tests.world.helpers import put_at_rest, settle


def test_only_the_handle_fits_the_gripper_and_nothing_overlaps():
    for seed in range(40):
        layout = sample_layout(seed)
        pan, plate = layout.pan, layout.plate
        assert 2 * pan.radius > 0.08 + 0.02 and pan.handle_width < 0.04
        outline = pan.footprint_points()
        assert outline[:, 0].min() >= -0.15 and outline[:, 0].max() <= 0.17
        assert np.abs(outline[:, 1]).max() <= 0.25
        assert np.linalg.norm(outline - np.asarray(plate.xy), axis=1).min() > plate.radius
        assert _clearance_to_disk(pan, plate.xy, plate.radius) > 0.03
        assert plate.radius > pan.radius  # the pan's body fits on the plate


def test_prompts_name_the_pan_plate_and_handle():
    family = get_family("pan")
    layout = sample_layout(1)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert f"{layout.pan.colour_name} {layout.pan.noun}" in prompt and layout.plate.noun in prompt
        assert "handle" in prompt


def _place_pan(world, xy, z, tilt=0.0):
    put_at_rest(world.pan, [xy[0], xy[1], z], roll=tilt, yaw=world.layout.pan.yaw)


def test_success_needs_the_pan_resting_level_on_the_plate():
    env = make_world_env(BenchmarkTask("pan", 0), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        plate = world.layout.plate
        assert not bool(settle(env, 3)["success"][0])  # on the table beside the plate
        _place_pan(world, plate.xy, plate.thickness + 0.05)  # hovering above it
        assert not bool(world.evaluate()["success"][0])
        _place_pan(world, plate.xy, plate.thickness + 0.02, tilt=0.5)  # tipped over
        assert not bool(world.evaluate()["success"][0])
        _place_pan(world, plate.xy, plate.thickness + 0.001)  # set down on it
        info = settle(env, 5)
        assert bool(info["success"][0]), info
    finally:
        env.close()
