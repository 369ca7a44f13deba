"""The upright skill's twin: the goal is the table under the object, which must stand on its base there (an
"upright" goal): its base → top axis (``up_local``, from the reconstruction) within :data:`UPRIGHT_MAX_TILT_DEG`
of vertical, its lowest point within :data:`~physworld_core.twin.goals.SURFACE_REST_TOLERANCE_M` of the table,
anywhere in a generous disc around where the video stands it, and the fingers open."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.errors import TwinError
from physworld_core.reconstruction.types import Reconstruction
from physworld_core.skills.registry import skill_of
from physworld_core.twin.goals import SURFACE_REST_TOLERANCE_M, GoalKind
from physworld_core.twin.skill import SkillTwin
from physworld_core.twin.spec import GoalRegion


@dataclass(frozen=True)
class UprightGoal:
    """What an "upright" goal carries: ``up_local``, the object's own axis (its frame) that must point up, base
    → top (stored as a unit vector)."""

    up_local: tuple[float, float, float]

    def __post_init__(self) -> None:
        up = np.asarray(self.up_local, dtype=np.float64)
        if up.shape != (3,) or not np.all(np.isfinite(up)) or np.linalg.norm(up) < 1e-6:
            raise TwinError(f"goal up_local must be a non-zero 3-vector, got {self.up_local!r}")
        object.__setattr__(self, "up_local", tuple(map(float, up / np.linalg.norm(up))))


class Upright(GoalKind):
    """Standing on its base on the table (a fallen bottle stood up)."""

    name = "upright"
    details_type = UprightGoal

    def check(self, goal: GoalRegion) -> None:
        if not isinstance(goal.details, UprightGoal) or goal.max_tilt_deg is None:
            raise TwinError("an 'upright' goal needs up_local (which axis stands up) and max_tilt_deg")

    def up_local(self, goal: GoalRegion) -> tuple[float, float, float]:
        return goal.details.up_local

    def details_from_dict(self, d: dict) -> UprightGoal | None:
        return None if d.get("up_local") is None else UprightGoal(tuple(d["up_local"]))

    def details_to_dict(self, details: UprightGoal) -> dict:
        return {"up_local": list(details.up_local)}


UPRIGHT_MAX_TILT_DEG = 15.0
"""A fallen object counts as stood up when its base → top axis is within this of vertical."""
UPRIGHT_GOAL_RADIUS_M = 0.15
"""…anywhere within this of where the video stands it: "stand it up" names no place, and the hand may carry it
to where the wrist can tip it (see :mod:`physworld_core.policy.upright`)."""


def upright_goal(recon: Reconstruction, table_height: float) -> GoalRegion:
    """The goal of a prompt that stands a fallen object up: the target on its base, on the table, near where
    the tracked video leaves it, its ``up_local`` axis (from the reconstruction) vertical."""
    up_local = recon.metrics.get("up_local")
    if up_local is None:
        raise TwinError(
            f"twin {recon.task_id}: the reconstruction has no goal object and no standing axis (up_local); "
            "only a fallen object to stand up has the table as its goal"
        )
    target = recon.target
    centre_local = 0.5 * (target.vertices.min(0) + target.vertices.max(0))
    end = recon.trajectory.poses_world[-1]
    centre = end[:3, :3] @ centre_local + end[:3, 3]
    return GoalRegion(
        center=(float(centre[0]), float(centre[1]), table_height),
        half_extents=(UPRIGHT_GOAL_RADIUS_M, UPRIGHT_GOAL_RADIUS_M),
        yaw=0.0,
        top_z=table_height + SURFACE_REST_TOLERANCE_M,
        kind=Upright.name,
        shape="disc",
        max_tilt_deg=UPRIGHT_MAX_TILT_DEG,
        details=UprightGoal(tuple(map(float, up_local))),
    )


class UprightTwin(SkillTwin):
    name = skill_of(__name__)
    defines = (Upright,)
    goal_kinds = (Upright.name,)

    def goal(self, recon: Reconstruction, table_height: float) -> GoalRegion:
        return upright_goal(recon, table_height)


HOOKS = UprightTwin()
