"""What reconstruction does for a lift: the named object it is held above is a container (an open box) only if
it is hollow, else a solid modelled like any other; and the tracked video must end with the object raised.

The height the prompt asks for goes on to the twin in the metrics (``lift_height_m``): the twin measures it
from its own geometry (the table, or the top of the named object's model)."""

from __future__ import annotations

import numpy as np

from physworld_core.errors import ReconstructionError
from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.reconstruction.skill import CONTAINER, Fixture3D, SkillReconstruction
from physworld_core.reconstruction.types import ReconstructedObject, Trajectory
from physworld_core.skills.lift.language import LiftDetails
from physworld_core.skills.registry import skill_of

VIDEO_MIN_RISE_FRACTION = 0.5
"""The tracked video must leave the object's underside at least this share of the asked height above the table (or
the named object's top); less, and the video does not show the lift the twin would be asked for."""


def lowest_point_z(target: ReconstructedObject, pose_world: np.ndarray) -> float:
    """World height of the target's lowest vertex at ``pose_world``."""
    return float((target.vertices @ pose_world[:3, :3].T + pose_world[:3, 3])[:, 2].min())


class LiftReconstruction(SkillReconstruction):
    name = skill_of(__name__)

    def goal_fixture(
        self, goal: SceneObject, perception: Perception, table_height: float
    ) -> Fixture3D | None:
        """A hollow object held above is an open box (its walls are what the object must clear); a solid one is
        a support, meshed like the others."""
        if goal.shape != CONTAINER:
            return None
        return super().goal_fixture(goal, perception, table_height)

    def finish(
        self, target: ReconstructedObject, trajectory: Trajectory, perception: Perception, table_height: float
    ) -> tuple[list[ReconstructedObject], dict]:
        """The asked height, for the twin; and how high the tracked video leaves the object.

        Raises:
            ReconstructionError: the tracked video leaves the object's underside less than
                :data:`VIDEO_MIN_RISE_FRACTION` of the asked height above the table (or the named object's top,
                as perception measured it)."""
        details: LiftDetails = perception.instruction.details
        reference = table_height + (0.0 if perception.goal is None else float(perception.goal.top_height))
        raised = lowest_point_z(target, trajectory.poses_world[-1]) - reference
        if raised < VIDEO_MIN_RISE_FRACTION * details.height_m:
            above = "the table" if perception.goal is None else f"the {perception.goal.description}"
            raise ReconstructionError(
                f"the prompt asks to lift the {perception.target.description} {details.height_m * 100:.0f} cm "
                f"above {above}, but the tracked video leaves its underside {raised * 100:.1f} cm above it (at "
                f"least {VIDEO_MIN_RISE_FRACTION * details.height_m * 100:.1f} cm expected): the video does not "
                "show it lifted"
            )
        return [], {
            "lift_height_m": float(details.height_m),
            "lift_height_stated": bool(details.stated),
            "video_final_rise_m": float(raised),
        }


HOOKS = LiftReconstruction()
