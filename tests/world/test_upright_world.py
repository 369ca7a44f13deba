"""The upright world: the bottle lies on its side at reset, fits the gripper, and success means standing."""

from __future__ import annotations

import numpy as np
from transforms3d.quaternions import quat2mat

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.layout import segment_distance
from physworld_core.world.upright import bottle_pieces, bottle_points, sample_layout
from tests.world.helpers import put_at_rest, settle


def test_layouts_fit_the_table_and_leave_room_for_the_fingers():
    for seed in range(60):
        layout = sample_layout(seed)
        b, d = layout.bottle, layout.distractor
        assert b.colour_name != d.colour_name
        assert 2 * b.body_radius < 0.07  # graspable across the body
        assert len(bottle_pieces(b)) == 2 and all(p.is_convex for p in bottle_pieces(b))
        p, q = b.lying_pose()
        world = bottle_points(b) @ quat2mat(q).T + p
        assert abs(world[:, 2].min()) < 1e-9 and world[:, 2].max() < 2 * b.body_radius + 1e-6  # lying down
        assert world[:, 0].min() >= -0.15 and world[:, 0].max() <= 0.17
        assert world[:, 1].min() >= -0.25 and world[:, 1].max() <= 0.25
        axis = np.array([np.cos(b.yaw), np.sin(b.yaw)])
        seg = (np.asarray(b.xy) - axis * b.height / 2, np.asarray(b.xy) + axis * b.height / 2)
        assert segment_distance(d.xy, *seg) > d.footprint_radius + b.body_radius + 0.05


def test_prompts_name_the_bottle():
    family = get_family("upright")
    layout = sample_layout(3)
    for k in range(family.num_phrasings):
        assert layout.bottle.name in family.prompt_for(layout, k)


def _stand(env, pitch: float):
    world = env.unwrapped
    b = world.layout.bottle
    z = 0.001 if pitch == 0 else b.height + 0.001
    put_at_rest(world.target_object, [0.0, 0.0, z], roll=pitch)
    return settle(env, 12)


def test_success_means_standing_on_its_base():
    env = make_world_env(BenchmarkTask("upright", 1), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        assert float(world.evaluate()["tilt_deg"][0]) > 80  # lying at reset
        assert bool(_stand(env, 0.0)["success"][0])
        assert not bool(_stand(env, np.pi)["success"][0])  # on its cap is not upright
        assert world.truth()["bottle"]["mass"] > 0
    finally:
        env.close()
