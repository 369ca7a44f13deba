"""The lift skill's twin: a "lift" goal, met while the hand holds the object with its underside in a band around
the asked height (above the table, or above the top of the named object's model) and its centre over the goal's
footprint: a generous disc around where it rested when it is lifted in place, the named object's footprint when
it is held above one. Unlike every other goal, it is met *held*: let go, the object falls out of the band."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from physworld_core.errors import TwinError
from physworld_core.reconstruction.types import Reconstruction
from physworld_core.skills.registry import skill_of
from physworld_core.twin.goals import GoalKind, in_footprint
from physworld_core.twin.regions import footprint
from physworld_core.twin.skill import SkillTwin
from physworld_core.twin.spec import GoalRegion

HEIGHT_TOLERANCE_M = 0.025
"""The object's underside counts as at the asked height within this, above or below."""
IN_PLACE_RADIUS_M = 0.10
"""Lifted in place ("pick up the cube"), its centre may end anywhere within this of where it rested: the prompt
names no place, and a grasp off the object's middle carries it a little aside."""


@dataclass(frozen=True)
class LiftGoal:
    """What a "lift" goal carries: ``bottom_z``, the lowest the object's underside may be (world z); the region's
    ``top_z`` is the highest."""

    bottom_z: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.bottom_z):
            raise TwinError(f"a lift goal's bottom_z must be finite, got {self.bottom_z!r}")


class Lift(GoalKind):
    """Held in the air: the object's underside between ``details.bottom_z`` and ``top_z``, its centre over the
    footprint, and the hand still holding it."""

    name = "lift"
    details_type = LiftGoal

    def check(self, goal: GoalRegion) -> None:
        super().check(goal)
        if not goal.details.bottom_z < goal.top_z:
            raise TwinError(
                f"a lift goal's band must be open: bottom_z {goal.details.bottom_z} >= top_z {goal.top_z}"
            )

    def contains(self, goal: GoalRegion, p: np.ndarray, margin: float, d: np.ndarray) -> bool:
        return bool(in_footprint(goal, p, margin, d) and goal.details.bottom_z <= p[2] <= goal.top_z)

    def score(self, world, goal: GoalRegion) -> tuple[bool, Any, bool]:
        """(held in the band over the footprint, in the band over the footprint, held)."""
        centre = self.test_point(world)
        inside = goal.contains(np.array([centre[0], centre[1], world.target_bottom_z()]))
        grasped = world.grasping()
        return inside and grasped, inside, grasped

    def details_from_dict(self, d: dict) -> LiftGoal | None:
        return None if d.get("bottom_z") is None else LiftGoal(float(d["bottom_z"]))

    def details_to_dict(self, details: LiftGoal) -> dict:
        return {"bottom_z": details.bottom_z}


def top_z(obj) -> float:
    """World height of the top of a reconstructed object's model (a container's: its walls' display mesh)."""
    world = obj.vertices @ obj.pose_world[:3, :3].T + obj.pose_world[:3, 3]
    return float(world[:, 2].max())


def lift_goal(recon: Reconstruction, table_height: float) -> GoalRegion:
    """The band the asked height (``metrics["lift_height_m"]``) makes above the table or the named object's top,
    over where the object rested or over the named object's footprint."""
    height = recon.metrics.get("lift_height_m")
    if height is None:
        raise TwinError(
            f"twin {recon.task_id}: a lift reconstruction carries its lift_height_m; this one has none"
        )
    goal = recon.goal
    if goal is None:
        rest = recon.target.pose_world
        centre_local = 0.5 * (recon.target.vertices.min(0) + recon.target.vertices.max(0))
        centre = rest[:3, :3] @ centre_local + rest[:3, 3]
        xy, half, shape, yaw, reference = centre[:2], (IN_PLACE_RADIUS_M,) * 2, "disc", 0.0, table_height
    else:
        T = goal.pose_world
        shape, half, _ = footprint(goal.vertices)  # in the object's frame: a container's is turned with it
        middle_local = 0.5 * (goal.vertices.min(0) + goal.vertices.max(0))
        xy = (T[:3, :3] @ middle_local + T[:3, 3])[:2]
        yaw, reference = float(np.arctan2(T[1, 0], T[0, 0])), top_z(goal)
    level = reference + float(height)
    return GoalRegion(
        center=(float(xy[0]), float(xy[1]), table_height),
        half_extents=tuple(map(float, half)),
        yaw=yaw,
        top_z=level + HEIGHT_TOLERANCE_M,
        kind=Lift.name,
        shape=shape,
        details=LiftGoal(level - HEIGHT_TOLERANCE_M),
    )


class LiftTwin(SkillTwin):
    name = skill_of(__name__)
    defines = (Lift,)
    goal_kinds = (Lift.name,)

    def goal(self, recon: Reconstruction, table_height: float) -> GoalRegion:
        return lift_goal(recon, table_height)


HOOKS = LiftTwin()
