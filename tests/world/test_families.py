"""Every registered world family keeps the same contract; a new family is tested by adding its module.

Per family: seeds vary the world, prompts are natural and distinct, the capture is metric and holds only what
a camera sees, doing nothing fails, and the privileged oracle solves a few seeds (the 20-seed figure is in
``bench/oracles.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.evaluation.oracle import run_oracle
from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene, make_world_env
from physworld_core.scene import depth_to_points_world
from physworld_core.world import family_names, get_family

FAMILIES = family_names()


@pytest.mark.parametrize("name", FAMILIES)
def test_seeds_vary_and_prompts_are_distinct(name):
    family = get_family(name)
    layouts = [family.sample_layout(seed) for seed in range(12)]
    assert len({repr(layout) for layout in layouts}) == 12
    assert family.sample_layout(3) == family.sample_layout(3)  # reproducible
    prompts = {family.prompt_for(layouts[0], k) for k in range(family.num_phrasings)}
    assert len(prompts) == family.num_phrasings >= 2
    assert all(p and p == p.strip() and p[0].islower() for p in prompts)


@pytest.mark.parametrize("name", FAMILIES)
def test_capture_is_metric_and_truth_stays_inside(name):
    scene = capture_scene(BenchmarkTask(name, 2))
    points, _ = depth_to_points_world(scene.depth_m, scene.camera)
    table = points[np.abs(points[:, 2]) < 0.01]
    assert len(table) > 0.2 * len(points)
    assert abs(np.median(table[:, 2])) < 0.002
    assert scene.source == f"benchmark:{name}:2"
    assert not hasattr(scene, "truth") and not hasattr(scene, "layout")


@pytest.mark.parametrize("name", FAMILIES)
def test_doing_nothing_fails(name):
    family = get_family(name)
    env = make_world_env(BenchmarkTask(name, 0), control_mode=family.oracle_control_mode)
    try:
        env.reset(seed=0)
        for _ in range(5):
            _, _, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
        assert not bool(info["success"][0])
        assert isinstance(env.unwrapped.truth(), dict)
    finally:
        env.close()


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_solves_the_world(name, seed):
    result = run_oracle(BenchmarkTask(name, seed))
    assert result.success, (result.steps, result.info)
