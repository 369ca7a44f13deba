"""The lift world: the bin world's scene with a stated height, its goal actor, and a success that needs the object
held at that height (the contract over every family is in ``test_families.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import bin as bin_family
from physworld_core.world import get_family
from physworld_core.world.lift import HEIGHT_TOLERANCE_M, IN_PLACE_CM, OVER_BIN_CM, sample_layout
from physworld_core.world.scripted import CLOSED


def _first_seed(over_bin: bool) -> int:
    return next(seed for seed in range(100) if sample_layout(seed).over_bin == over_bin)


def test_the_scene_is_the_bin_worlds_and_the_height_is_in_range():
    layouts = [sample_layout(seed) for seed in range(20)]
    assert {layout.over_bin for layout in layouts} == {False, True}
    for seed, layout in enumerate(layouts):
        scene = bin_family.sample_layout(seed)
        assert (layout.target, layout.distractor, layout.bin) == (scene.target, scene.distractor, scene.bin)
        low, high = OVER_BIN_CM if layout.over_bin else IN_PLACE_CM
        assert low <= layout.height_cm <= high
        rim = layout.bin.wall_height if layout.over_bin else 0.0
        assert layout.level_z == pytest.approx(rim + layout.height_cm / 100)


@pytest.mark.parametrize("over_bin", [False, True])
def test_prompts_state_the_height_and_the_bin_only_when_over_it(over_bin):
    family = get_family("lift")
    layout = sample_layout(_first_seed(over_bin))
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert f"{layout.height_cm} cm" in prompt and layout.target.colour_name in prompt
        assert (layout.bin.noun in prompt) == over_bin


@pytest.mark.parametrize("over_bin", [False, True])
def test_the_goal_actor_is_the_bin_only_when_the_object_is_held_over_it(over_bin):
    task = BenchmarkTask("lift", _first_seed(over_bin))
    env = make_world_env(task, obs_mode="none")
    try:
        env.reset(seed=task.seed)
        world = env.unwrapped
        assert world.goal_actor() is (world.bin if over_bin else None)
    finally:
        env.close()


@pytest.mark.parametrize("over_bin", [False, True])
def test_held_at_the_height_succeeds_and_held_higher_does_not(over_bin):
    """The oracle's hold is a success; the same grasp raised past the tolerance is not (still held)."""
    task = BenchmarkTask("lift", _first_seed(over_bin))
    family = get_family("lift")
    env = make_world_env(task, control_mode=family.oracle_control_mode)
    try:
        env.reset(seed=0)
        world = env.unwrapped
        policy = family.oracle(world)
        held = 0
        for _ in range(200):
            _, _, _, _, info = env.step(policy())
            held = held + 1 if bool(info["success"][0]) else 0
            if held >= 5:
                break
        assert held >= 5, info
        up = np.array([0, 0, 0.3, 0, 0, 0, CLOSED], np.float32)
        for _ in range(30):
            _, _, _, _, info = env.step(up)
            if world.target_bottom_z() > world.layout.level_z + 2 * HEIGHT_TOLERANCE_M:
                break
        assert world.target_bottom_z() > world.layout.level_z + 2 * HEIGHT_TOLERANCE_M
        assert bool(info["grasped"][0]) and not bool(info["success"][0])
    finally:
        env.close()
