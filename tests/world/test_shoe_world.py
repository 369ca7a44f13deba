"""The shoe world: valid layouts, a graspable shoe that fits its box, a success test that means "in the box"."""

from __future__ import annotations

import numpy as np

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.scripted import OPEN
from physworld_core.world.shoe import sample_layout
from tests.world.helpers import put_at_rest, settle


def _corners(xy, hx, hy, yaw):
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[x * c - y * s + xy[0], x * s + y * c + xy[1]] for x in (-hx, hx) for y in (-hy, hy)])


def test_layouts_fit_the_workspace_and_the_shoe_fits_its_box():
    for seed in range(40):
        layout = sample_layout(seed)
        shoe, box = layout.shoe, layout.box
        mesh = shoe.mesh()
        assert mesh.is_convex and mesh.bounds[0][2] == 0.0
        lo, hi = mesh.bounds
        assert hi[1] - lo[1] < 0.07  # the gripper (8 cm) closes across the width
        assert np.all((hi[:2] - lo[:2]) / 2 < np.asarray(box.inner_half) - 0.01)
        t = box.wall_thickness
        for pts in (
            _corners(box.xy, box.inner_half[0] + t, box.inner_half[1] + t, box.yaw),
            _corners(shoe.xy, shoe.length / 2, shoe.width / 2, shoe.yaw),
        ):
            assert pts[:, 0].min() >= -0.15 and pts[:, 0].max() <= 0.17 and np.abs(pts[:, 1]).max() <= 0.25
        assert (
            np.hypot(*np.subtract(shoe.xy, box.xy))
            > box.footprint_radius + np.hypot(shoe.length, shoe.width) / 2
        )


def test_prompts_name_the_shoe_and_the_box():
    family = get_family("shoe")
    layout = sample_layout(6)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert f"{layout.shoe.colour_name} {layout.shoe.noun}" in prompt and layout.box.noun in prompt


def _put_shoe(world, yaw: float, z: float):
    box = world.layout.box
    put_at_rest(world.target_object, [box.xy[0], box.xy[1], z], yaw=yaw)


def test_success_means_inside_the_box():
    env = make_world_env(BenchmarkTask("shoe", 5), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        truth = world.truth()
        assert truth["shoe"]["mass"] > 0 and 0.5 <= truth["shoe"]["friction"] <= 1.2
        assert not bool(settle(env, 3, OPEN)["success"][0])
        _put_shoe(world, world.layout.box.yaw, 0.006)  # lengthwise on the floor
        assert bool(settle(env, gripper=OPEN)["success"][0])
        # Across the box the shoe does not fit: held above the rim, its footprint sticks out.
        _put_shoe(world, world.layout.box.yaw + np.pi / 2, world.layout.box.wall_height + 0.001)
        assert not bool(world.evaluate()["success"][0])
    finally:
        env.close()
