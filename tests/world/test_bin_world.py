"""The bin world: seeds give different, valid layouts; the capture is metric; the task is solvable."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import trimesh

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.policy.grasp import best_grasp
from physworld_core.policy.plan import TaskPlan, resample_path
from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
from physworld_core.scene import depth_to_points_world
from physworld_core.world import get_family
from physworld_core.world.bin import sample_layout


def test_layouts_vary_and_never_overlap():
    layouts = [sample_layout(seed) for seed in range(30)]
    assert len({(round(l.target.xy[0], 4), l.target.colour_name) for l in layouts}) > 20
    for l in layouts:
        assert l.target.colour_name != l.distractor.colour_name
        for a, b in ((l.target, l.distractor), (l.target, l.bin), (l.distractor, l.bin)):
            assert np.hypot(a.xy[0] - b.xy[0], a.xy[1] - b.xy[1]) > a.footprint_radius + b.footprint_radius


def test_prompts_name_the_target_and_container():
    family = get_family("bin")
    layout = sample_layout(5)
    prompts = {family.prompt_for(layout, k) for k in range(family.num_phrasings)}
    assert len(prompts) == family.num_phrasings
    assert all(layout.target.colour_name in p and layout.bin.noun in p for p in prompts)


def test_capture_is_metric(bin_scene):
    points, _ = depth_to_points_world(bin_scene.depth_m, bin_scene.camera)
    table = points[np.abs(points[:, 2]) < 0.01]
    assert len(table) > 0.3 * len(points)
    assert abs(np.median(table[:, 2])) < 0.002  # the table top is z = 0 in the world frame
    assert bin_scene.source == "benchmark:bin:3"


def _oracle_plan(seed: int) -> TaskPlan:
    """A plan from the hidden truth: what a perfect reconstruction would give."""
    layout = sample_layout(seed)
    t = layout.target
    hx, hy, hz = t.half_size
    mesh = (
        trimesh.creation.cylinder(radius=hx, height=2 * hz, sections=24)
        if t.shape == "cylinder"
        else trimesh.creation.box(extents=[2 * hx, 2 * hy, 2 * hz])
    )
    mesh.apply_transform(trimesh.transformations.rotation_matrix(t.yaw, [0, 0, 1]))
    centre = np.array([t.xy[0], t.xy[1], hz])
    grasp = best_grasp(mesh.vertices + centre, mesh.faces, centre, np.array([0.0, 1.0, 0.0]), 0.0)
    b = layout.bin
    top = b.wall_height + hz + 0.03
    path = np.array([centre, [*centre[:2], top + 0.02], [*b.xy, top + 0.02], [*b.xy, top]])
    waypoints = resample_path(path, 0.02)
    return TaskPlan(
        tuple(grasp.tcp_in_object),
        grasp.width,
        tuple(map(tuple, waypoints)),
        tuple(waypoints[-1]),
        (b.xy[0], b.xy[1], 0.0),
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_solves_the_world(seed):
    env = ObjectCentricTaskEnv(
        functools.partial(make_world_env, BenchmarkTask("bin", seed)), _oracle_plan(seed)
    )
    try:
        result = run_episode(env, lambda obs, base: base, seed=0)
    finally:
        env.close()
    assert result["success"], result


def test_doing_nothing_fails():
    """The success test is not trivially true."""
    env = make_world_env(BenchmarkTask("bin", 0))
    try:
        env.reset(seed=0)
        for _ in range(5):
            env.step(np.zeros(env.action_space.shape, np.float32))
        assert not bool(env.unwrapped.evaluate()["success"][0])
    finally:
        env.close()


def test_failures_are_classified_by_cause():
    from physworld_core.evaluation.trials import classify_failure

    ok = {"success": True, "ever_grasped": True}
    dropped = {"success": False, "ever_grasped": True}
    missed = {"success": False, "ever_grasped": False}
    assert classify_failure(ok, True, True) is None
    assert classify_failure(dropped, False, True) == "reconstruction"
    assert classify_failure(dropped, True, False) == "tracking"
    assert classify_failure(missed, True, True) == "grasp"
    assert classify_failure(dropped, True, True) == "execution"
