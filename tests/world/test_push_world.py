"""The push world: the object is too wide to grasp, the target is drawn (not felt), and success means "on it"."""

from __future__ import annotations

import numpy as np
import sapien
import torch
from mani_skill.utils.structs.pose import Pose

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.layout import segment_distance
from physworld_core.world.push import object_mesh, sample_layout


def test_layouts_fit_the_table_and_keep_the_corridor_clear():
    for seed in range(60):
        layout = sample_layout(seed)
        t, g, d = layout.target, layout.region, layout.distractor
        assert len({t.colour_name, g.colour_name, d.colour_name}) == 3
        footprint = object_mesh(t).vertices[:, :2]
        widths = [np.ptp(footprint @ [np.cos(a), np.sin(a)]) for a in np.linspace(0, np.pi, 36)]
        assert min(widths) > 0.08  # wider than the open gripper in every direction: it must be pushed
        for xy, r in ((t.xy, t.footprint_radius), (g.xy, g.footprint_radius), (d.xy, d.footprint_radius)):
            assert -0.15 <= xy[0] - r and xy[0] + r <= 0.17
            assert -0.25 <= xy[1] - r and xy[1] + r <= 0.25
        assert not g.contains(t.xy)
        assert segment_distance(d.xy, t.xy, g.xy) > d.footprint_radius + t.footprint_radius


def test_prompts_name_object_and_target():
    family = get_family("push")
    layout = sample_layout(6)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert layout.target.name in prompt and layout.region.name in prompt


def test_target_region_has_no_collision_and_success_means_on_it():
    env = make_world_env(BenchmarkTask("push", 2), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        body = world.region._objs[0].find_component_by_type(sapien.physx.PhysxRigidBaseComponent)
        assert body is None or not body.collision_shapes
        g, t = world.layout.region, world.layout.target
        q = world.target_object.pose.raw_pose[0, 3:].numpy()
        on_target = [[g.xy[0], g.xy[1], t.extents[2] / 2 + 0.001]]
        world.target_object.set_pose(Pose.create_from_pq(torch.tensor(on_target), torch.tensor(q[None])))
        for _ in range(10):
            _, _, _, _, info = env.step(np.zeros(7, np.float32))
        assert bool(info["success"][0])
        assert abs(float(world.target_object.pose.p[0, 2]) - t.extents[2] / 2) < 0.003  # rests on the table
        lifted = [[g.xy[0], g.xy[1], t.extents[2] / 2 + 0.05]]
        world.target_object.set_pose(Pose.create_from_pq(torch.tensor(lifted), torch.tensor(q[None])))
        assert not bool(world.evaluate()["success"][0])  # carried over it is not pushed onto it
        assert world.truth()["target"]["mass"] > 0
    finally:
        env.close()
