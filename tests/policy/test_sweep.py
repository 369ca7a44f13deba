"""Sweeping: the twin's dustpan and sweep goal, the plan, and the baseline in a twin and in the true world.

The reconstruction here is made from the benchmark world's own sizes (a perfect perception), through the same
builders the pipeline uses (``brush_model``, ``scrap_model``, ``dustpan_model``, ``build_twin``); the pipeline's
perception of the same worlds is tested end to end elsewhere.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from physworld_core.errors import PhysworldError, TwinError
from physworld_core.policy.plan import TaskPlan
from physworld_core.policy.stage import make_plan
from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
from physworld_core.reconstruction.types import Reconstruction
from physworld_core.sim.base_env import DEFAULT_CAMERA
from physworld_core.skills.sweep.policy import SweepPlan, brush_layout
from physworld_core.skills.sweep.reconstruction import brush_parts
from physworld_core.skills.sweep.twin import SweepGoal
from physworld_core.twin.build import build_twin
from physworld_core.twin.spec import GoalRegion
from tests.policy.sweep_truth import localized_twin, perfect_reconstruction


def test_the_twin_keeps_the_scraps_out_until_swept_and_the_pan_fixed(tmp_path):
    from physworld_core.twin.factory import make_twin_env

    spec = localized_twin(0, tmp_path)
    assert spec.skill == "sweep" and spec.goal.kind == "sweep" and len(spec.contents) == 5
    pan = next(o for o in spec.objects if o.role == "container")
    assert pan.fixed and len(pan.collision_meshes) == 5 and not pan.collision_boxes  # its ramp is a part
    assert spec.goal.details.floor_z == pytest.approx(
        spec.table_height + perfect_reconstruction(0).container.container.floor_height
    )
    env = make_twin_env(spec.to_json())
    try:
        env.reset(seed=0)
        twin = env.unwrapped
        for _ in range(15):
            env.step(None)
        for scrap in spec.contents:  # they rest where they lie, on the table
            assert np.linalg.norm(twin.actors[scrap.name].pose.p[0].numpy()[:2] - scrap.pose[:2]) < 0.003
        evaluation = twin.evaluate()
        assert not bool(evaluation["success"][0]) and int(evaluation["inside"][0]) == 0
        # Scraps put into the pan one by one: swept once four of the five are in (2/3, rounded up).
        centre = np.asarray(spec.goal.center)
        across = np.array([-np.sin(spec.goal.yaw), np.cos(spec.goal.yaw)])
        for k, scrap in enumerate(spec.contents[:4]):
            actor = twin.actors[scrap.name]
            p = actor.pose.p.clone()
            p[0, :2] = torch.tensor(centre[:2] + 0.02 * (k - 1.5) * across)
            p[0, 2] = spec.goal.details.floor_z + 0.012
            actor.set_pose(type(actor.pose).create_from_pq(p, actor.pose.q))
            inside = int(twin.evaluate()["inside"][0])
            assert inside == k + 1
            assert bool(twin.evaluate()["success"][0]) == (k + 1 >= 4)  # 2/3 of 5, rounded up
    finally:
        env.close()


def test_a_sweep_goal_needs_its_floor_and_a_sweep_its_scraps():
    with pytest.raises(TwinError, match="floor_z"):
        GoalRegion((0.0, 0.0, 0.0), (0.05, 0.06), 0.0, 0.04, kind="sweep")
    with pytest.raises(TwinError, match="floor_z"):
        GoalRegion((0.0, 0.0, 0.0), (0.05, 0.06), 0.0, 0.04, details=SweepGoal(floor_z=0.004))
    recon = perfect_reconstruction(1)
    bare = Reconstruction(
        recon.task_id,
        recon.plane_normal,
        recon.plane_offset,
        tuple(o for o in recon.objects if o.role != "contents"),
        recon.trajectory,
        recon.metrics,
    )
    with pytest.raises(TwinError, match="contents"):
        build_twin(bare, DEFAULT_CAMERA.to_json(), (0.6, 0.4, 0.3))


def test_brush_layout_tells_the_head_from_the_handle():
    parts = brush_parts(
        head_width=0.09,
        head_depth=0.03,
        head_height=0.025,
        handle_length=0.08,
        handle_width=0.02,
        handle_height=0.035,
    )
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # facing +y
    for order in (parts, parts[::-1]):
        layout = brush_layout([p @ turn.T for p in order])
        assert np.allclose(layout["facing"], [0.0, 1.0, 0.0])
        assert layout["head_width"] == pytest.approx(0.09) and layout["head_depth"] == pytest.approx(0.03)
        assert layout["handle_length"] == pytest.approx(0.081)
        assert np.allclose(layout["head_bottom"], 0.0)
    with pytest.raises(PhysworldError, match="2 parts"):
        brush_layout(parts[:1])


def test_sweep_plan_geometry_and_json(tmp_path):
    spec = localized_twin(2, tmp_path)
    plan = make_plan(spec, closing_axis=np.array([0.0, -1.0, 0.0]))
    assert plan.skill == "sweep" and plan.payload is not None
    assert TaskPlan.from_json(plan.to_json()) == plan
    d = np.asarray(plan.payload.direction)
    assert np.allclose(d[:2], [np.cos(spec.goal.yaw), np.sin(spec.goal.yaw)])
    stroke = plan.waypoints_array[plan.payload.stroke_from :]
    # The stroke runs straight along the pan's axis, level, from behind every scrap to inside the pan.
    along = (stroke[:, :2] - stroke[0, :2]) @ d[:2]
    assert np.all(np.diff(along) > 0) and np.ptp(stroke[:, 2]) < 1e-9
    centre = np.asarray(spec.goal.center)
    mouth = centre - spec.goal.half_extents[0] * d
    scraps = np.array([s.pose[:2] for s in spec.contents])
    assert ((stroke[-1, :2] - mouth[:2]) @ d[:2]) > ((scraps - mouth[:2]) @ d[:2]).max()
    # The hand turns the brush to face into the pan, the fingers closed across its handle.
    assert abs(plan.carry_turn) <= np.pi
    with pytest.raises(ValueError, match="horizontal unit"):
        SweepPlan((0.0, 0.0, 1.0), 3, 0.09)


@pytest.mark.parametrize("seed", [3, 5])
def test_the_baseline_sweeps_in_the_twin_and_in_the_world(seed, tmp_path):
    from physworld_core.evaluation.worlds import parse_world
    from physworld_core.twin.factory import make_twin_env

    spec = localized_twin(seed, tmp_path)
    plan = make_plan(spec)
    world = parse_world(f"benchmark:sweep:{seed}")
    factories = {
        "twin": functools.partial(make_twin_env, spec.to_json()),
        "world": functools.partial(world.make_task_world, plan.waypoints[0]),
    }
    for where, factory in factories.items():
        env = ObjectCentricTaskEnv(factory, plan)
        try:
            result = run_episode(env, lambda obs, base: base, seed=11)
            assert result["success"], (where, result)
            assert result["ever_grasped"]
        finally:
            env.close()
