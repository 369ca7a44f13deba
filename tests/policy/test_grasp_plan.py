"""Grasp sampling on meshes and the baseline's plan from the twin."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import trimesh

from physworld_core.errors import PhysworldError
from physworld_core.policy.grasp import best_grasp, sample_grasps
from physworld_core.policy.stage import make_plan
from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
from physworld_core.twin.factory import make_twin_env


def test_box_grasp_is_antipodal_across_its_width():
    box = trimesh.creation.box(extents=[0.03, 0.05, 0.08])
    box.apply_translation([0.1, 0.0, 0.04])
    grasps = sample_grasps(box.vertices, box.faces, np.array([1.0, 0.0, 0.0]), 0.0)
    assert grasps
    assert grasps[0].width == pytest.approx(0.03, abs=1e-6)
    assert 0.012 <= grasps[0].tcp_in_object[2] <= 0.08


def test_too_wide_object_has_no_grasp():
    box = trimesh.creation.box(extents=[0.12, 0.12, 0.05])
    box.apply_translation([0.0, 0.0, 0.025])
    with pytest.raises(PhysworldError, match="no feasible grasp"):
        best_grasp(box.vertices, box.faces, np.zeros(3), np.array([0.0, 1.0, 0.0]), 0.0)


def _pan_parts():
    """A pan too wide to hold (a 14 cm disc) and a handle box sticking out of it, off the table."""
    body = trimesh.creation.cylinder(radius=0.07, height=0.03)
    body.apply_translation([0.0, 0.0, 0.015])
    handle = trimesh.creation.box(extents=[0.1, 0.022, 0.015])
    handle.apply_translation([0.12, 0.0, 0.022])
    return body, handle


def test_grip_parts_restrict_the_grasp_to_the_handle():
    body, handle = _pan_parts()
    merged = trimesh.util.concatenate([body, handle])
    parts = [np.asarray(body.vertices), np.asarray(handle.vertices)]
    axis = np.array([0.0, 1.0, 0.0])
    grasp = best_grasp(merged.vertices, merged.faces, np.zeros(3), axis, 0.0, parts=parts, grip_parts=(1,))
    assert 0.075 < grasp.tcp_in_object[0] < 0.165  # on the handle, clear of the body's wall
    assert grasp.width == pytest.approx(0.022, abs=0.002)
    with pytest.raises(PhysworldError, match="the part the prompt names: it is 140x140x30 mm"):
        best_grasp(merged.vertices, merged.faces, np.zeros(3), axis, 0.0, parts=parts, grip_parts=(0,))


def test_plan_ends_above_the_goal(bin_twin_local):
    plan = make_plan(bin_twin_local)
    goal = bin_twin_local.goal
    last = np.asarray(plan.waypoints[-1])
    assert goal.contains(np.array([last[0], last[1], goal.center[2]]))
    assert last[2] > goal.top_z  # dropped from above the rim
    assert plan.grasp_width < 0.08


def test_baseline_succeeds_in_the_twin(bin_twin_local):
    plan = make_plan(bin_twin_local)
    env = ObjectCentricTaskEnv(functools.partial(make_twin_env, bin_twin_local.to_json()), plan)
    try:
        results = [run_episode(env, lambda obs, base: base, seed=s) for s in range(2)]
    finally:
        env.close()
    assert all(r["success"] for r in results), results
