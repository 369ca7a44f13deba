"""What a skill brings to the twin: the goal it makes of a reconstruction, the goal kinds it defines or may have,
and how what it moves into the goal is weighed and placed.

``physworld_core/skills/<skill>/twin.py`` sets ``HOOKS`` to an instance of a :class:`SkillTwin` subclass; a
skill without one gets the base class: the generic goals (a container's interior or rim, a flat marking, the
top of a body) and no contents.
"""

from __future__ import annotations

from typing import ClassVar

from physworld_core.errors import TwinError
from physworld_core.reconstruction.types import Reconstruction
from physworld_core.skills.registry import layer_hooks
from physworld_core.twin.goals import SkillGoals
from physworld_core.twin.regions import goal_region
from physworld_core.twin.spec import GoalRegion


class SkillTwin(SkillGoals):
    """The twin hooks of one skill (see :class:`~physworld_core.twin.goals.SkillGoals` for what it says about
    goals).

    Attributes:
        contents_held: what the skill moves into the goal is held by the target at the start (a cup's balls),
            so it is dropped onto the table with the target, not on its own.
        contents_noun: what the contents are taken to be, for their mass, when the prompt does not say.
    """

    contents_held: ClassVar[bool] = False
    contents_noun: ClassVar[str] = ""

    def goal(self, recon: Reconstruction, table_height: float) -> GoalRegion:
        """The twin's goal from the reconstruction: the generic region of its goal object
        (:func:`~physworld_core.twin.regions.goal_region`).

        Raises:
            TwinError: the reconstruction has no goal object (only a skill whose goal is the table makes one
                without).
        """
        if recon.goal is None:
            raise TwinError(
                f"twin {recon.task_id}: the reconstruction has no goal object, and a {self.name!r} task needs one"
            )
        return goal_region(recon.goal, table_height, recon.target, recon.metrics.get("relation", "in"))


def twin_of(skill: str) -> SkillTwin:
    """The twin hooks of ``skill``."""
    return layer_hooks(skill, "twin", SkillTwin)
