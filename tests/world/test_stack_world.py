"""The stack world: layouts fit the reachable table and never overlap; the success test means "on top"."""

from __future__ import annotations

import numpy as np
import torch
from mani_skill.utils.structs.pose import Pose

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.stack import block_mesh, sample_layout


def test_layouts_fit_the_table_and_never_overlap():
    for seed in range(60):
        layout = sample_layout(seed)
        blocks = (layout.top, layout.base, layout.distractor)
        assert len({b.colour_name for b in blocks}) == 3
        assert max(layout.top.extents[:2]) < 0.07  # the gripper opens 8 cm
        assert layout.base.density > layout.top.density
        for b in blocks:
            r = b.footprint_radius
            assert -0.15 <= b.xy[0] - r and b.xy[0] + r <= 0.17
            assert -0.25 <= b.xy[1] - r and b.xy[1] + r <= 0.25
            assert block_mesh(b).is_watertight
        for i, a in enumerate(blocks):
            for b in blocks[i + 1 :]:
                assert (
                    np.hypot(a.xy[0] - b.xy[0], a.xy[1] - b.xy[1]) > a.footprint_radius + b.footprint_radius
                )


def test_prompts_name_both_blocks():
    family = get_family("stack")
    layout = sample_layout(4)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert layout.top.name in prompt and layout.base.name in prompt


def _settle_with_top_at(env, xy, z):
    world = env.unwrapped
    q = world.target_object.pose.raw_pose[0, 3:].numpy()
    world.target_object.set_pose(
        Pose.create_from_pq(torch.tensor([[xy[0], xy[1], z]]), torch.tensor(q[None]))
    )
    for _ in range(15):
        _, _, _, _, info = env.step(np.zeros(7, np.float32))
    return info


def test_success_means_resting_on_the_base():
    env = make_world_env(BenchmarkTask("stack", 1), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        base_xy = world.base.pose.p[0, :2].numpy()
        half = world.layout.top.extents[2] / 2
        info = _settle_with_top_at(env, base_xy, world.base_top_z() + half + 0.003)
        assert bool(info["success"][0]) and bool(info["on_base"][0])
        q = world.target_object.pose.raw_pose[0, 3:].numpy()
        hover = [[base_xy[0], base_xy[1], world.base_top_z() + half + 0.05]]
        world.target_object.set_pose(Pose.create_from_pq(torch.tensor(hover), torch.tensor(q[None])))
        assert not bool(world.evaluate()["success"][0])  # above the base is not on it
        truth = world.truth()
        assert truth["base"]["mass"] > 0 and 0.5 <= truth["top"]["friction"] <= 1.2
    finally:
        env.close()
