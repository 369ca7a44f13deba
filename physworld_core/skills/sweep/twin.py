"""The sweep skill's twin: the scraps lying on the table (objects of role "contents") must end inside the
dustpan's interior (past its mouth, between its walls, below their tops), at least :data:`SWEEP_FRACTION` of
them, wherever the brush that swept them is. The goal carries the top of the pan's floor where its mouth meets
the lip (``floor_z``): what the brush's head must clear as it pushes the scraps in (the region's +x points into
the pan, its -x edge is the mouth)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.errors import TwinError
from physworld_core.reconstruction.types import Reconstruction
from physworld_core.skills.registry import skill_of
from physworld_core.skills.sweep.reconstruction import DustpanGeometry
from physworld_core.twin.goals import ScoredOnContents
from physworld_core.twin.skill import SkillTwin
from physworld_core.twin.spec import GoalRegion

SWEEP_FRACTION = 2 / 3
"""Share of the scraps that must end in the dustpan for a sweep to count (two in three, rounded up): a scrap
that slips past the head's end is swept by a second stroke in life, not by this one."""


@dataclass(frozen=True)
class SweepGoal:
    """What a "sweep" goal carries: ``floor_z``, the top of the dustpan's floor (world z)."""

    floor_z: float


class Sweep(ScoredOnContents):
    """Scraps swept into a dustpan's interior."""

    name = "sweep"
    details_type = SweepGoal
    contents_fraction = SWEEP_FRACTION

    def check(self, goal: GoalRegion) -> None:
        if not isinstance(goal.details, SweepGoal):
            raise TwinError("a 'sweep' goal gives the dustpan's floor height (floor_z)")
        floor_z = goal.details.floor_z
        if not (np.isfinite(floor_z) and floor_z < goal.top_z):
            raise TwinError(f"goal floor_z {floor_z!r} must be finite and below its top {goal.top_z}")

    def details_from_dict(self, d: dict) -> SweepGoal | None:
        return None if d.get("floor_z") is None else SweepGoal(d["floor_z"])

    def details_to_dict(self, details: SweepGoal) -> dict:
        return {"floor_z": details.floor_z}


class SweepTwin(SkillTwin):
    name = skill_of(__name__)
    defines = (Sweep,)
    goal_kinds = (Sweep.name,)
    has_contents = True

    def goal(self, recon: Reconstruction, table_height: float) -> GoalRegion:
        """The dustpan's interior, past the mouth (the region's -x edge).

        Raises:
            TwinError: the goal is not a dustpan (a sweep goes into one)."""
        goal = recon.goal
        geom = None if goal is None else goal.container
        if not isinstance(geom, DustpanGeometry):
            generic = super().goal(recon, table_height)
            raise TwinError(
                f"twin {recon.task_id}: a sweep goes into a dustpan; the {recon.goal_label} gives a "
                f"{generic.kind!r} goal"
            )
        T = goal.pose_world
        inside = T[:2, :2] @ np.array([geom.depth / 2, 0.0]) + T[:2, 3]
        return GoalRegion(
            center=(float(inside[0]), float(inside[1]), table_height),
            half_extents=tuple(map(float, geom.inner_half)),
            yaw=float(np.arctan2(T[1, 0], T[0, 0])),
            top_z=table_height + float(geom.wall_height),
            kind=Sweep.name,
            details=SweepGoal(table_height + float(geom.floor_height)),
        )


HOOKS = SweepTwin()
