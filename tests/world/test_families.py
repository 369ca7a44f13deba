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


def _leaves(value, path=""):
    """(path, value) of every number and string in a JSON-like tree."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}/{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, bool | int | float | str) or value is None:
        yield path, value


def truth_leaks(scene, truth: dict) -> list[str]:
    """What of the world's hidden truth a captured scene carries besides its pixels, camera, prompt and source:
    every field beyond those a pipeline input has, and every value of the truth (a mass, a friction, a size, a
    shape's name) found in its ``metadata``."""
    leaks = [f"field {name}" for name in vars(scene) if name not in PIPELINE_INPUTS]
    metadata = list(_leaves(scene.metadata))
    for path, value in _leaves(truth):
        if isinstance(value, float) and value != 0.0:
            leaks += [f"{where} = {v} is {path}" for where, v in metadata if isinstance(v, float) and v == value]
        elif isinstance(value, str) and len(value) > 3:
            leaks += [f"{where} = {v!r} is {path}" for where, v in metadata if isinstance(v, str) and value in v]
    return leaks


PIPELINE_INPUTS = {"task_id", "rgb", "depth_m", "camera", "prompt", "source", "metadata"}
"""What a scene package holds: one RGB-D frame, its camera, the prompt, where it came from, and free metadata
(a user's capture may say which camera took it; a benchmark capture says nothing)."""


def _truth(name: str, seed: int) -> dict:
    family = get_family(name)
    env = make_world_env(BenchmarkTask(name, seed), control_mode=family.oracle_control_mode)
    try:
        env.reset(seed=seed)
        return env.unwrapped.truth()
    finally:
        env.close()


@pytest.mark.parametrize("name", FAMILIES)
def test_capture_is_metric_and_truth_stays_inside(name):
    scene = capture_scene(BenchmarkTask(name, 2))
    points, _ = depth_to_points_world(scene.depth_m, scene.camera)
    table = points[np.abs(points[:, 2]) < 0.01]
    assert len(table) > 0.2 * len(points)
    assert abs(np.median(table[:, 2])) < 0.002
    assert scene.source == f"benchmark:{name}:2"
    assert truth_leaks(scene, _truth(name, 2)) == []


def test_a_truth_planted_in_the_scene_metadata_is_found():
    """The check above fails on a leak: a benchmark capture whose metadata carried a mass or a shape's name."""
    import dataclasses

    scene = capture_scene(BenchmarkTask("bin", 2))
    truth = _truth("bin", 2)
    mass_path, mass = next((p, v) for p, v in _leaves(truth) if p.endswith("/mass"))
    leaked = dataclasses.replace(scene, metadata={"hint": {"target_mass": mass}})
    assert any(mass_path in leak for leak in truth_leaks(leaked, truth))
    leaked_name = dataclasses.replace(scene, metadata={"note": f"the object is a {_a_name(truth)}"})
    assert truth_leaks(leaked_name, truth)


def _a_name(truth: dict) -> str:
    return next(v for _, v in _leaves(truth) if isinstance(v, str) and len(v) > 3)


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
