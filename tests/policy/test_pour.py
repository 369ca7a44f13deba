"""Pouring: the twin's pour goal and contents, the plan, and the baseline in a twin and in the true world.

The reconstruction here is made from the benchmark world's own sizes (a perfect perception: the cup's outer
radius and height, the bowl's footprint), through the same builders the pipeline uses (``open_cup``,
``ball_layer``, ``container_model``, ``build_twin``); the pipeline's perception of the same worlds is tested
end to end elsewhere.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from transforms3d.axangles import axangle2mat

from physworld_core.errors import PhysworldError, TwinError
from physworld_core.policy.plan import TaskPlan
from physworld_core.policy.stage import make_plan
from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
from physworld_core.reconstruction.geometry import container_model
from physworld_core.reconstruction.types import ReconstructedObject, Reconstruction, Trajectory
from physworld_core.sim.base_env import DEFAULT_CAMERA
from physworld_core.skills.pour.policy import PourPlan, lowest_point_z, midline_direction
from physworld_core.skills.pour.reconstruction import WALL_M, ball_layer, ball_mesh, open_cup
from physworld_core.twin.build import build_twin


def perfect_reconstruction(seed: int, tilt_deg: float = 120.0) -> Reconstruction:
    """The pour world's cup (open, with a layer of balls) and bowl, as the pipeline would model them from a
    perfect perception; the trajectory tips the cup ``tilt_deg`` towards the bowl."""
    from physworld_core.world.pour import sample_layout

    layout = sample_layout(seed)
    cup, balls, bowl = layout.cup, layout.balls, layout.bowl
    v, f, parts = open_cup(cup.outer_radius, cup.height)
    pose = np.eye(4)
    pose[:2, 3] = cup.xy
    target = ReconstructedObject("target", "target", "cup", v, f, pose, (0.8, 0.2, 0.2), face_part=parts)
    bv, bf = ball_mesh(balls.radius)
    contents = []
    for i, c in enumerate(ball_layer(cup.outer_radius - WALL_M, balls.radius)):
        at = np.eye(4)
        at[:3, 3] = pose[:3, 3] + c
        contents.append(
            ReconstructedObject(f"contents_{i}", "contents", "balls", bv, bf, at, (0.2, 0.2, 0.9))
        )
    side = 2 * bowl.outer_radius
    geometry, cv, cf, cpose = container_model(
        np.zeros((1, 3)), np.array([*bowl.xy, 0.0]), side, side, 0.0, bowl.height, 0.0
    )
    container = ReconstructedObject(
        "container", "container", "bowl", cv, cf, cpose, (0.5, 0.5, 0.5), geometry
    )
    d = np.array([*(np.asarray(bowl.xy) - cup.xy), 0.0])
    d /= np.linalg.norm(d)
    k = np.cross([0.0, 0.0, 1.0], d)
    end = np.eye(4)
    end[:3, :3] = axangle2mat(k, np.radians(tilt_deg))
    end[:3, 3] = [*(np.asarray(bowl.xy) - 0.06 * d[:2]), bowl.height + 0.08]
    trajectory = Trajectory(np.array([0.0, 1.0]), np.stack([pose, end]), np.ones(2))
    return Reconstruction(
        f"pour-{seed:04d}",
        (0.0, 0.0, 1.0),
        0.0,
        (target, *contents, container),
        trajectory,
        {"skill": "pour", "relation": "in", "object_noun": "cup", "contents_noun": "marbles"},
    )


def localized_twin(seed: int, folder, tilt_deg: float = 120.0):
    built = build_twin(perfect_reconstruction(seed, tilt_deg), DEFAULT_CAMERA.to_json(), (0.6, 0.4, 0.3))
    for name, data in built.files.items():
        (folder / name).write_bytes(data)
    return built.spec.map_uris(lambda name: str(folder / name))


def test_the_twin_holds_the_contents_in_the_cup_and_scores_a_pour(tmp_path):
    from physworld_core.twin.factory import make_twin_env

    spec = localized_twin(0, tmp_path)
    assert spec.skill == "pour" and spec.goal.kind == "pour" and len(spec.contents) >= 4
    # The contents are marbles: denser than the general prior the cup gets.
    ball, cup = spec.contents[0], spec.target
    assert ball.mass / ball.mass_range[0] > 1.5 and not ball.fixed and not cup.fixed
    env = make_twin_env(spec.to_json())
    try:
        env.reset(seed=0)
        twin = env.unwrapped
        start = {n: twin.actors[n].pose.p[0].numpy().copy() for n in (o.name for o in spec.contents)}
        for _ in range(20):
            env.step(None)
        for name, p in start.items():  # they rest in the cup: nothing falls through its floor or walls
            assert np.linalg.norm(twin.actors[name].pose.p[0].numpy() - p) < 0.004, name
        assert not bool(twin.evaluate()["success"][0])
        assert int(twin.evaluate()["inside"][0]) == 0
    finally:
        env.close()


def test_a_pour_twin_needs_its_contents():
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


def test_pour_plan_geometry_and_json(tmp_path):
    spec = localized_twin(2, tmp_path)
    plan = make_plan(spec, closing_axis=np.array([0.0, -1.0, 0.0]))
    assert plan.skill == "pour" and plan.payload is not None
    assert TaskPlan.from_json(plan.to_json()) == plan
    bowl = np.asarray(spec.goal.center)
    d = np.asarray(plan.payload.direction)
    assert np.allclose(d, midline_direction(bowl[:2]))
    # The lip is poured from above the bowl's interior, high enough over its rim.
    lip = np.asarray(plan.payload.lip_target)
    assert np.linalg.norm(lip[:2] - bowl[:2]) < spec.goal.half_extents[0]
    assert lip[2] > spec.goal.top_z + 0.05
    # The fingers close along the tilt axis (across the pouring direction), the hand turned from rest.
    closing = np.array([np.cos(plan.grasp_turn - np.pi / 2), np.sin(plan.grasp_turn - np.pi / 2)])
    assert abs(abs(closing @ plan.payload.tilt_axis[:2]) - 1.0) < 1e-6
    # Carried upright, the cup's bottom clears the rim before it comes over the bowl.
    over = plan.waypoints_array[-1]
    assert over[2] - plan.payload.cup_height / 2 > spec.goal.top_z
    with pytest.raises(ValueError, match="horizontal unit"):
        PourPlan((0.0, 0.0, 1.0), tuple(lip), 120.0, 0.05, 0.03, 0.07)


def test_lowest_point_of_a_tipped_cylinder():
    bottom = np.array([0.0, 0.0, 0.1])
    assert lowest_point_z(bottom, [0, 0, 1], 0.03, 0.07) == pytest.approx(0.1)
    # On its side: the wall's lowest line, a radius below the axis.
    assert lowest_point_z(bottom, [1, 0, 0], 0.03, 0.07) == pytest.approx(0.07)
    # Upside down: the rim is lowest.
    assert lowest_point_z(bottom, [0, 0, -1], 0.03, 0.07) == pytest.approx(0.03)


def test_visual_imitation_pours_the_way_the_video_does(tmp_path):
    spec = localized_twin(3, tmp_path, tilt_deg=100.0)
    plan = make_plan(spec, physical=False, closing_axis=np.array([0.0, -1.0, 0.0]))
    from physworld_core.world.pour import sample_layout

    layout = sample_layout(3)
    d = np.array([*(np.asarray(layout.bowl.xy) - layout.cup.xy), 0.0])
    assert np.allclose(plan.payload.direction, d / np.linalg.norm(d), atol=1e-6)
    assert plan.payload.tilt_deg == pytest.approx(100.0, abs=0.5)


def test_a_cup_wider_than_the_hand_is_refused(tmp_path):
    spec = localized_twin(0, tmp_path)
    wide = np.array(
        [[0.05 * np.cos(t), 0.05 * np.sin(t), z] for t in np.linspace(0, 6, 12) for z in (0, 0.07)]
    )
    from physworld_core.skills.pour.policy import plan_pour

    with pytest.raises(PhysworldError, match="wider than the open hand"):
        plan_pour(spec, wide, np.array([0.0, -1.0, 0.0]))


@pytest.mark.parametrize("seed", [4, 7])
def test_the_baseline_pours_in_the_twin_and_in_the_world(seed, tmp_path):
    from physworld_core.evaluation.worlds import parse_world
    from physworld_core.twin.factory import make_twin_env

    spec = localized_twin(seed, tmp_path)
    plan = make_plan(spec)
    world = parse_world(f"benchmark:pour:{seed}")
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
