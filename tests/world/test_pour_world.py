"""The pour world: the balls start at rest inside the cup, and success means balls in the bowl, cup not."""

from __future__ import annotations

import numpy as np

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.pour import sample_layout
from tests.world.helpers import put_at_rest


def test_layouts_fit_the_balls_and_never_overlap():
    for seed in range(40):
        layout = sample_layout(seed)
        cup, balls, bowl = layout.cup, layout.balls, layout.bowl
        assert 4 <= balls.count <= 8 and 0.008 <= balls.radius <= 0.01
        assert 2 * cup.outer_radius < 0.075  # the gripper (0.08 m) closes around it
        centres = np.asarray(balls.centres_local)
        assert np.all(np.hypot(centres[:, 0], centres[:, 1]) + balls.radius <= cup.inner_radius)
        assert np.allclose(centres[:, 2], cup.floor_thickness + balls.radius)
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + 1e9 * np.eye(len(centres))
        assert gaps.min() >= 2 * balls.radius
        assert np.hypot(*np.subtract(cup.xy, bowl.xy)) > cup.outer_radius + bowl.outer_radius
        for xy, r in ((cup.xy, cup.outer_radius), (bowl.xy, bowl.outer_radius)):
            assert -0.15 <= xy[0] - r and xy[0] + r <= 0.17 and abs(xy[1]) + r <= 0.25
        assert cup.colour_name != balls.colour_name


def test_prompts_name_the_cup_and_the_bowl():
    family = get_family("pour")
    layout = sample_layout(4)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert f"{layout.cup.colour_name} {layout.cup.noun}" in prompt and layout.bowl.noun in prompt


def test_balls_rest_in_the_cup_and_success_needs_them_in_the_bowl():
    env = make_world_env(BenchmarkTask("pour", 3), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        start = world.ball_centres()
        for _ in range(10):
            env.step(np.zeros(7, np.float32))
        assert np.abs(world.ball_centres() - start).max() < 0.001  # placed at rest, nothing settles
        assert not bool(world.evaluate()["success"][0])

        bowl, r = world.layout.bowl, world.layout.balls.radius
        spots = [(bowl.xy[0] + dx, bowl.xy[1] + dy) for dx in (-0.03, 0.0, 0.03) for dy in (-0.03, 0.0, 0.03)]
        n = len(world.balls)
        need = int(np.ceil(0.75 * n))
        for i, ball in enumerate(world.balls):  # all but the needed number land in the bowl: not enough
            put_at_rest(ball, [*spots[i], bowl.floor_thickness + r] if i < need - 1 else [0.0, 0.0, r])
        assert not bool(world.evaluate()["success"][0])
        put_at_rest(world.balls[need - 1], [*spots[need - 1], bowl.floor_thickness + r])
        assert bool(world.evaluate()["success"][0])
        # The cup dropped into the bowl on top of the balls is a failure.
        put_at_rest(world.cup, [bowl.xy[0], bowl.xy[1], bowl.floor_thickness + 0.03])
        assert not bool(world.evaluate()["success"][0])
    finally:
        env.close()
