"""Fidelity metrics: the pure geometry on known shapes, the checks, and one bin world scored end to end."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import trimesh

from physworld_core.evaluation.fidelity import (
    FidelityReport,
    FidelityThresholds,
    TopViewGrid,
    chamfer_mm,
    check_fidelity,
    mask_iou,
    parts_chamfer_mm,
    reconstructed_parts,
    support_mask,
    trajectory_error,
    union_surface_points,
)
from physworld_core.reconstruction.types import ContainerGeometry, ReconstructedObject
from physworld_core.world import family_names


def _box(extents, centre=(0.0, 0.0, 0.0)):
    mesh = trimesh.creation.box(extents=extents)
    return np.asarray(mesh.vertices) + np.asarray(centre), np.asarray(mesh.faces)


def _plate(size: float = 0.05, z: float = 0.0):
    """An open flat square (two triangles) at height ``z``."""
    h = size / 2
    vertices = np.array([[-h, -h, z], [h, -h, z], [h, h, z], [-h, h, z]])
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def _good_report(**changes) -> FidelityReport:
    values = {
        "task_id": "bin-0000",
        "family": "bin",
        "target_chamfer_mm": 2.0,
        "container_chamfer_mm": 1.5,
        "target_depth_error_mm": 0.6,
        "support_iou": 0.997,
        "plane_height_error_mm": -0.5,
        "plane_normal_error_deg": 0.02,
        "mass_true_kg": 0.1,
        "mass_estimate_kg": 0.2,
        "mass_range_kg": (0.05, 0.5),
        "mass_error_pct": 100.0,
        "friction_true": 0.9,
        "friction_estimate": 0.8,
        "friction_range": (0.45, 1.25),
        "friction_error_pct": -11.1,
        "tracking_mean_mm": 15.0,
        "tracking_final_mm": 10.0,
        "tracking_max_mm": 25.0,
        "tracking_mean_deg": 3.0,
        "tracking_max_deg": 6.0,
        "reconstruction_seconds": 4.0,
    }
    values.update(changes)
    return FidelityReport(**values)


def test_chamfer_of_points_to_themselves_is_zero_and_to_a_small_shift_is_the_shift():
    grid = np.stack(np.meshgrid(*[np.arange(0, 0.05, 0.005)] * 3), -1).reshape(-1, 3)
    assert chamfer_mm(grid, grid) == 0.0
    shift = np.array([0.001, -0.0005, 0.0012])  # shorter than half the 5 mm spacing
    assert chamfer_mm(grid, grid + shift) == pytest.approx(1000 * np.linalg.norm(shift), rel=1e-9)


def test_chamfer_of_a_mesh_to_itself_is_zero_and_to_a_copy_moved_along_its_normal_is_the_shift():
    box = _box((0.04, 0.05, 0.06))
    same = union_surface_points([box], seed=3)
    assert chamfer_mm(same, union_surface_points([box], seed=3)) == 0.0
    assert parts_chamfer_mm([box], [box]) < 0.5  # independent samples: only the sampling floor
    plate, lifted = _plate(z=0.0), _plate(z=0.003)
    assert parts_chamfer_mm([plate], [lifted]) == pytest.approx(3.0, abs=0.1)
    moved = _box((0.04, 0.05, 0.06), centre=(0.005, 0.0, 0.0))
    assert 0.5 < parts_chamfer_mm([box], [moved]) < 5.0  # faces parallel to the shift still coincide


def test_union_surface_drops_points_buried_in_another_part():
    geometry = ContainerGeometry(inner_half=(0.05, 0.04), wall_height=0.06, wall_thickness=0.01)
    from physworld_core.reconstruction.geometry import boxes_mesh

    parts = [boxes_mesh([box]) for box in geometry.boxes()]
    points = union_surface_points(parts, seed=0)
    from scipy.spatial import ConvexHull

    for vertices, _ in parts:
        eq = ConvexHull(vertices).equations
        depth = points @ eq[:, :3].T + eq[:, 3]
        assert not np.any(np.all(depth < -1e-5, axis=1)), "a sample lies inside a part"
    # The floor's top under the walls is buried; its visible middle stays.
    floor_top = np.abs(points[:, 2] - geometry.wall_thickness) < 1e-9
    assert np.all(np.abs(points[floor_top, 0]) <= geometry.inner_half[0] + 1e-9)
    assert floor_top.sum() > 100


def test_reconstructed_container_parts_are_its_boxes_in_the_world():
    pose = np.eye(4)
    pose[:3, 3] = (0.1, -0.2, 0.0)
    geometry = ContainerGeometry(inner_half=(0.05, 0.04), wall_height=0.06, wall_thickness=0.01)
    vertices, faces = _box((0.12, 0.1, 0.06), centre=(0, 0, 0.03))
    container = ReconstructedObject(
        "container", "container", "grey container", vertices, faces, pose, (0.5,) * 3, geometry
    )
    parts = reconstructed_parts(container)
    assert len(parts) == 5
    everything = np.vstack([v for v, _ in parts])
    assert np.allclose(everything.min(0), (0.1 - 0.06, -0.2 - 0.05, 0.0))
    assert np.allclose(everything.max(0), (0.1 + 0.06, -0.2 + 0.05, 0.06))


def test_support_iou_is_one_for_identical_regions_and_drops_by_the_missed_footprint():
    grid = TopViewGrid(x_range=(-0.1, 0.1), y_range=(-0.1, 0.1), cell_m=0.005)
    centres = grid.centres()
    table = (-1.0, 1.0, -1.0, 1.0)
    block = _box((0.05, 0.05, 0.04), centre=(0.0, 0.0, 0.02))
    marker = _box((0.1, 0.1, 0.002), centre=(0.05, 0.05, 0.001))
    truth = support_mask(centres, table, 0.0, [block, marker])
    assert mask_iou(truth, support_mask(centres, table, 0.0, [block, marker])) == 1.0
    assert np.count_nonzero(~truth) == 100  # the 5 cm block covers 10×10 cells; the flat marker none
    missed = support_mask(centres, table, 0.0, [])
    assert mask_iou(truth, missed) == pytest.approx((1600 - 100) / 1600)
    assert mask_iou(np.zeros(4, bool), np.zeros(4, bool)) == 1.0


def test_a_thin_box_floor_is_not_free_table_but_a_drawn_marker_is():
    """A shoebox's 5 mm floor is the first surface seen inside the box: its footprint is not support."""
    grid = TopViewGrid(x_range=(-0.1, 0.1), y_range=(-0.1, 0.1), cell_m=0.005)
    centres, table = grid.centres(), (-1.0, 1.0, -1.0, 1.0)
    floor = _box((0.05, 0.05, 0.005), centre=(0.0, 0.0, 0.0025))
    marker = _box((0.05, 0.05, 0.0012), centre=(0.0, 0.0, 0.0006))
    assert np.count_nonzero(~support_mask(centres, table, 0.0, [floor])) == 100
    assert np.count_nonzero(~support_mask(centres, table, 0.0, [marker])) == 0


def _rotation_z(deg: float) -> np.ndarray:
    T = np.eye(4)
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    T[:2, :2] = [[c, -s], [s, c]]
    return T


def test_trajectory_error_scores_the_motion_not_the_first_pose():
    start = np.eye(4)
    start[:3, 3] = (0.05, 0.1, 0.0)
    rendered = np.tile(np.eye(4), (5, 1, 1))
    rendered[:, 2, 3] = np.linspace(0, 0.1, 5)  # lift 10 cm
    tracked = rendered @ start
    assert trajectory_error(tracked, rendered) == pytest.approx(
        {"mean_mm": 0, "max_mm": 0, "final_mm": 0, "mean_deg": 0, "max_deg": 0}, abs=1e-6
    )
    off = tracked.copy()
    off[1:, 0, 3] += 0.01  # 10 mm off after the first frame
    off[-1] = off[-1] @ _rotation_z(5.0)
    error = trajectory_error(off, rendered)
    assert error["mean_mm"] == pytest.approx(8.0)
    assert error["final_mm"] == pytest.approx(10.0)
    assert error["max_deg"] == pytest.approx(5.0)
    with pytest.raises(ValueError):
        trajectory_error(tracked[:3], rendered)


def test_checks_fail_exactly_the_figures_past_their_limits():
    assert all(c.passed for c in check_fidelity(_good_report()))
    limits = FidelityThresholds()
    bad = _good_report(
        target_chamfer_mm=limits.target_chamfer_mm + 0.1,
        support_iou=limits.support_iou - 0.01,
        plane_height_error_mm=-(limits.plane_height_mm + 1),  # signed: judged by magnitude
        mass_true_kg=0.6,  # above the estimate's range
    )
    failed = {c.metric for c in check_fidelity(bad) if not c.passed}
    assert failed == {"target_chamfer_mm", "support_iou", "plane_height_error_mm", "mass_in_range"}
    no_goal = _good_report(container_chamfer_mm=None, tracking_mean_mm=None)
    names = {c.metric for c in check_fidelity(no_goal)}
    assert "container_chamfer_mm" not in names and "tracking_mean_mm" not in names
    assert replace(limits, target_chamfer_mm=5.0).target_chamfer_mm == 5.0
    with pytest.raises(ValueError, match="target_chamfer_mm"):
        FidelityThresholds(target_chamfer_mm=-1.0)
    with pytest.raises(ValueError, match="support_iou"):
        FidelityThresholds(support_iou=1.5)
    d = bad.to_dict()
    assert (
        d["mass_in_range"] is False and d["friction_in_range"] is True and d["mass_range_kg"] == [0.05, 0.5]
    )


def test_upright_cylinder_collision_is_sampled_upright():
    """ManiSkill's own mesh helper lays PhysX cylinders on their side; ours must not."""
    import sapien

    from physworld_core.evaluation.fidelity import shape_mesh
    from physworld_core.world.shapes import UPRIGHT_CYLINDER

    shape = sapien.physx.PhysxCollisionShapeCylinder(0.03, 0.05, sapien.physx.PhysxMaterial(0.5, 0.5, 0.0))
    shape.set_local_pose(sapien.Pose(q=UPRIGHT_CYLINDER))
    vertices, _ = shape_mesh(shape)
    assert np.allclose(vertices.max(0), (0.03, 0.03, 0.05), atol=1e-6)


def test_a_bin_world_scores_within_its_limits(bin_scene, bin_video, bin_reconstruction):
    """End to end on the shared bin seed (its capture, video and reconstruction are session fixtures)."""
    from physworld_core.evaluation.fidelity import score_fidelity, world_truth
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.perception.perceive import perceive
    from physworld_core.twin.build import build_twin
    from tests.conftest import BENCH_SEED

    truth = world_truth(BenchmarkTask("bin", BENCH_SEED))
    spec = build_twin(bin_reconstruction, bin_scene.camera.to_json(), (0.6, 0.4, 0.3)).spec
    report = score_fidelity(
        truth,
        bin_reconstruction,
        spec,
        observed_target_points=perceive(bin_scene).target.points_world,
        rendered_transforms_world=bin_video.plan["object_transforms_world"],
    )
    assert 0.2 < report.target_chamfer_mm < 8 and 0.2 < report.container_chamfer_mm < 12
    assert report.target_depth_error_mm < 3  # the truth env stands the objects where the capture saw them
    assert report.support_iou > 0.98 and abs(report.plane_height_error_mm) < 5
    assert report.mass_true_kg == pytest.approx(truth.target_mass) and report.friction_in_range
    assert report.tracking_mean_mm is not None and report.tracking_mean_mm < 45
    # Moving the reconstruction 2 cm sideways must show in Chamfer.
    shifted = replace(bin_reconstruction.target, pose_world=bin_reconstruction.target.pose_world.copy())
    shifted.pose_world[0, 3] += 0.02
    objects = tuple(shifted if o.role == "target" else o for o in bin_reconstruction.objects)
    recon = replace(bin_reconstruction, objects=objects)
    moved = score_fidelity(truth, recon, spec)
    assert moved.target_chamfer_mm > report.target_chamfer_mm + 5


@pytest.mark.parametrize("family", family_names())
def test_every_family_says_which_actor_is_its_goal(family):
    """Each world answers ``goal_actor``: one of its own actors other than the target, or ``None``; truth's goal
    parts are that actor's collision surface."""
    from physworld_core.evaluation.fidelity import actor_parts, world_truth
    from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env

    task = BenchmarkTask(family, 0)
    env = make_world_env(task, obs_mode="none", robot_pose="capture")
    try:
        env.reset(seed=task.seed)
        world = env.unwrapped
        goal = world.goal_actor()
        assert goal is None or (goal.name in world.scene.actors and goal is not world.target_object)
        expected = None if goal is None else actor_parts(goal)
    finally:
        env.close()
    truth = world_truth(task)
    if expected is None:
        assert truth.goal_parts is None
    else:
        assert len(truth.goal_parts) == len(expected)  # a drawn region has no collision parts
        for (found, _), (want, _) in zip(truth.goal_parts, expected, strict=True):
            np.testing.assert_allclose(found, want, atol=1e-6)
