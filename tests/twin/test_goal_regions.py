"""Where a target must end, from the reconstructed goal and the prompt's relation."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from physworld_core.reconstruction.types import ContainerGeometry, ReconstructedObject
from physworld_core.twin.goals import TOP_REST_TOLERANCE_M, resting_base_centre
from physworld_core.twin.regions import goal_region
from physworld_core.twin.spec import GoalRegion

TABLE = 0.01


def _solid(name: str, role: str, mesh: trimesh.Trimesh, xy=(0.0, 0.0)) -> ReconstructedObject:
    v = np.asarray(mesh.vertices) - [0.0, 0.0, mesh.bounds[0][2]]  # frame origin on the table
    pose = np.eye(4)
    pose[:3, 3] = [xy[0], xy[1], TABLE]
    return ReconstructedObject(name, role, name, v, np.asarray(mesh.faces), pose, (0.5, 0.5, 0.5))


def _container(inner_half=(0.06, 0.06), wall_height=0.08) -> ReconstructedObject:
    geometry = ContainerGeometry(inner_half=inner_half, wall_height=wall_height, wall_thickness=0.006)
    pose = np.eye(4)
    pose[:3, 3] = [0.1, -0.1, TABLE]
    box = trimesh.creation.box((0.13, 0.13, wall_height))
    return ReconstructedObject(
        "container",
        "container",
        "grey container",
        np.asarray(box.vertices),
        np.asarray(box.faces),
        pose,
        (0.5, 0.5, 0.5),
        geometry,
    )


def test_a_solid_goal_is_its_top_and_moves_with_it():
    base = _solid("support", "support", trimesh.creation.cylinder(radius=0.05, height=0.04), xy=(0.2, 0.1))
    goal = goal_region(base, TABLE, relation="on")
    assert (goal.kind, goal.shape, goal.on) == ("top", "disc", "support")
    assert goal.half_extents[0] == pytest.approx(0.05, abs=0.003)
    assert goal.top_z == pytest.approx(TABLE + 0.04, abs=0.001)
    resting = np.array([0.21, 0.1, goal.top_z])
    assert goal.contains(resting)
    assert not goal.contains(resting + [0.0, 0.0, 2 * TOP_REST_TOLERANCE_M])  # held above it
    assert not goal.contains(np.array([0.21, 0.1, TABLE]))  # slid off onto the table
    assert not goal.contains(np.array([0.26, 0.1, goal.top_z]))  # over the edge
    # the base was nudged 3 cm: the object on it still counts, one left where the base was does not
    assert goal.contains(resting + [0.03, 0.0, 0.0], shift=np.array([0.03, 0.0, 0.0]))
    assert not goal.contains(np.array([0.17, 0.1, goal.top_z]), shift=np.array([0.03, 0.0, 0.0]))


def test_a_box_support_keeps_a_box_footprint():
    goal = goal_region(_solid("support", "support", trimesh.creation.box((0.1, 0.06, 0.03))), TABLE)
    assert goal.shape == "box"
    assert goal.half_extents == pytest.approx((0.05, 0.03), abs=0.002)


def test_a_lid_on_a_pot_rests_on_the_rim():
    lid = _solid("target", "target", trimesh.creation.cylinder(radius=0.075, height=0.02))
    goal = goal_region(_container(), TABLE, lid, relation="on")
    assert (goal.kind, goal.shape) == ("top", "disc")
    assert goal.top_z == pytest.approx(TABLE + 0.08)
    # the lid may be off-centre by as much as still leaves the rim under it all round (75 - 60 mm)
    assert goal.half_extents[0] == pytest.approx(0.015 + 0.005, abs=0.003)
    assert goal.contains(np.array([0.11, -0.1, TABLE + 0.08]))
    assert not goal.contains(np.array([0.13, -0.1, TABLE + 0.08]))
    assert not goal.contains(np.array([0.1, -0.1, TABLE + 0.01]))  # fell in


@pytest.mark.parametrize("relation", ["on", "in"])
def test_what_fits_in_a_container_goes_in_it(relation):
    can = _solid("target", "target", trimesh.creation.cylinder(radius=0.03, height=0.1))
    goal = goal_region(_container(), TABLE, can, relation=relation)  # "on the tray" or "in the bin"
    assert goal.kind == "volume"
    assert goal.half_extents == pytest.approx((0.06, 0.06))


def test_only_a_top_goal_rests_on_an_object():
    from physworld_core.errors import TwinError

    with pytest.raises(TwinError, match="only a 'top' goal"):
        GoalRegion(center=(0, 0, 0), half_extents=(0.1, 0.1), yaw=0.0, top_z=0.1, on="support")


def test_an_object_rests_on_its_base_not_under_its_bounding_box_centre():
    """A pan: a 12 cm body on the table and a 10 cm handle raised beside it. What must land on a plate is the
    body, 5 cm from the middle of the bounding box."""
    body = trimesh.creation.cylinder(radius=0.06, height=0.03)
    body.apply_translation([0.2, 0.1, 0.015])
    handle = trimesh.creation.box(extents=[0.1, 0.02, 0.012])
    handle.apply_translation([0.31, 0.1, 0.024])
    points = np.vstack([body.vertices, handle.vertices])
    base = resting_base_centre(points)
    assert base == pytest.approx([0.2, 0.1, 0.0], abs=1e-6)
    assert 0.5 * (points.min(0) + points.max(0))[0] == pytest.approx(0.25, abs=1e-6)
    box = trimesh.creation.box(extents=[0.05, 0.03, 0.04])
    assert resting_base_centre(box.vertices)[:2] == pytest.approx([0.0, 0.0])
