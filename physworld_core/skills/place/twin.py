"""The place skill's twin: the generic goals (a container's interior or rim, a flat marking, the top of a body)
and, for a shelf, the row's free gap: a "slot" goal, standing in a gap between fixed neighbours seated on its
board. A slot is tested like a container's interior, but the object must stand there (within
:data:`SLOT_MAX_TILT_DEG` of how it stood) and be all the way in (within :data:`SLOT_SEAT_M` of the board)."""

from __future__ import annotations

import numpy as np

from physworld_core.reconstruction.types import Reconstruction
from physworld_core.skills.place.reconstruction import ShelfGeometry
from physworld_core.skills.registry import skill_of
from physworld_core.twin.goals import GENERIC_KINDS, GoalKind
from physworld_core.twin.skill import SkillTwin
from physworld_core.twin.spec import GoalRegion

SLOT_SEAT_M = 0.01
"""In a slot the object's underside must be within this of the slot's floor (a shelf's board): all the way in."""
SLOT_MAX_TILT_DEG = 25.0
"""…and stand within this of upright: leaning on a neighbour is fine, lying across the gap is not."""


class Slot(GoalKind):
    """Standing in a gap between fixed neighbours (a shelf's row), seated on its floor: like a container's
    interior to test, but lowered in rather than dropped, with the fingers kept above the neighbours."""

    name = "slot"


class PlaceTwin(SkillTwin):
    name = skill_of(__name__)
    defines = (Slot,)
    goal_kinds = (*(kind.name for kind in GENERIC_KINDS), Slot.name)

    def goal(self, recon: Reconstruction, table_height: float) -> GoalRegion:
        """A shelf's free gap, down on its board, standing; else the generic goal."""
        goal = recon.goal
        geom = None if goal is None else goal.container
        if not isinstance(geom, ShelfGeometry):
            return super().goal(recon, table_height)
        T = goal.pose_world
        yaw = float(np.arctan2(T[1, 0], T[0, 0]))
        slot_xy = T[:2, :2] @ np.array([geom.slot_x, 0.0]) + T[:2, 3]
        return GoalRegion(
            center=(float(slot_xy[0]), float(slot_xy[1]), table_height),
            half_extents=(float(geom.slot_half_width), float(geom.board_half[1])),
            yaw=yaw,
            top_z=table_height + float(geom.board_height) + SLOT_SEAT_M,
            kind=Slot.name,
            max_tilt_deg=SLOT_MAX_TILT_DEG,
        )


HOOKS = PlaceTwin()
