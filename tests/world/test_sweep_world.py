"""The sweep world: a dustpan facing a lane of scraps, a brush wide enough to sweep them, success = 2/3 in."""

from __future__ import annotations

import math

import numpy as np
import torch
from mani_skill.utils.structs.pose import Pose

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.layout import to_local_xy
from physworld_core.world.sweep import sample_layout


def test_scraps_lie_in_front_of_the_mouth_within_the_heads_reach():
    for seed in range(40):
        layout = sample_layout(seed)
        pan, brush = layout.dustpan, layout.brush
        assert 3 <= len(layout.scraps) <= 6
        assert pan.inner_width >= brush.head_width + 0.02  # the head fits into the pan
        local = to_local_xy(np.array([s.xy for s in layout.scraps]), pan.xy, pan.yaw)
        assert np.all(local[:, 0] < -pan.lip_length)  # outside the pan, in front of its mouth
        assert np.all(np.abs(local[:, 1]) <= brush.head_width / 2 - 0.01)
        assert all(s.colour_name != brush.colour_name for s in layout.scraps)
        for s in layout.scraps:
            assert min(2 * s.half_size[2], 2 * min(s.half_size[:2])) >= 0.014  # taller than the head's gap


def test_prompts_name_the_brush_and_the_dustpan():
    family = get_family("sweep")
    layout = sample_layout(2)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert f"{layout.brush.colour_name} {layout.brush.noun}" in prompt and layout.dustpan.noun in prompt


def test_success_needs_two_thirds_of_the_scraps_in_the_pan():
    env = make_world_env(BenchmarkTask("sweep", 1), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        assert not world.scraps_in_pan().any()
        pan = world.layout.dustpan
        d = np.array([np.cos(pan.yaw), np.sin(pan.yaw)])
        n = len(world.scraps)
        need = math.ceil(2 * n / 3)
        for i, (actor, scrap) in enumerate(zip(world.scraps[: need - 1], world.layout.scraps)):
            xy = np.asarray(pan.xy) + d * (0.03 + 0.02 * (i % 3))
            p = [[xy[0], xy[1], pan.floor_thickness + scrap.half_size[2] + 0.001]]
            actor.set_pose(Pose.create_from_pq(torch.tensor(p, dtype=torch.float32)))
        assert int(world.scraps_in_pan().sum()) == need - 1
        assert not bool(world.evaluate()["success"][0])
        scrap = world.layout.scraps[need - 1]
        xy = np.asarray(pan.xy) + d * 0.08
        p = [[xy[0], xy[1], pan.floor_thickness + scrap.half_size[2] + 0.001]]
        world.scraps[need - 1].set_pose(Pose.create_from_pq(torch.tensor(p, dtype=torch.float32)))
        assert bool(world.evaluate()["success"][0])
        for _ in range(5):  # they stay put on the pan's floor
            _, _, _, _, info = env.step(np.zeros(7, np.float32))
        assert bool(info["success"][0])
    finally:
        env.close()
