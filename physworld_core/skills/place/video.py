"""The place skill's video: the generic carry (:func:`~physworld_core.video.motion.carry_trajectory`), landed in a
shelf's free gap when the goal is a shelf (:class:`~physworld_core.skills.place.shelf.Slot`): onto its board,
turned so its thin side runs along the row (a slot admits one turn, so that turn gets no jitter)."""

from __future__ import annotations

import numpy as np

from physworld_core.perception.perceive import Perception
from physworld_core.skills.registry import skill_of
from physworld_core.video.motion import REST_GAP_M, ObjectTrajectory
from physworld_core.video.skill import SkillVideo


class PlaceVideo(SkillVideo):
    name = skill_of(__name__)

    def goal_point(self, perception: Perception) -> np.ndarray:
        """The free gap of a shelf's row, else the goal's centre."""
        if perception.view is not None:
            return perception.view.centre_world(perception.plane)
        return super().goal_point(perception)

    def landing(self, perception: Perception, final_height: float, final_yaw: float) -> tuple[float, float]:
        slot = perception.view
        if slot is None:
            return final_height, final_yaw
        return slot.board_height + REST_GAP_M, turn_into_row(perception.target.yaw, slot.row_yaw)

    def plan_fields(self, perception: Perception, trajectory: ObjectTrajectory) -> dict:
        return {} if perception.view is None else {"slot": perception.view.to_dict()}


def turn_into_row(object_yaw: float, row_yaw: float) -> float:
    """The smallest turn (radians, in (-π/2, π/2]) that puts an object's long footprint axis across a row, so
    its thin side runs along it (a book into a shelf)."""
    turn = row_yaw + np.pi / 2 - object_yaw
    return float(turn - np.pi * np.round(turn / np.pi))


HOOKS = PlaceVideo()
