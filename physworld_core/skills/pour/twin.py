"""The pour skill's twin: what the cup holds (objects of role "contents") must end inside the goal's container
like a "volume" goal (the bowl's interior, below its rim), at least :data:`POUR_FRACTION` of it, and the cup
must not: poured, not dropped in with them. The contents start in the cup and are dropped with it."""

from __future__ import annotations

from dataclasses import replace

from physworld_core.errors import TwinError
from physworld_core.reconstruction.types import Reconstruction
from physworld_core.skills.registry import skill_of
from physworld_core.twin.goals import ScoredOnContents, Volume
from physworld_core.twin.skill import SkillTwin
from physworld_core.twin.spec import GoalRegion

POUR_FRACTION = 0.75
"""Share of the contents that must land in the goal for a pour to count (three balls in four)."""


class Pour(ScoredOnContents):
    """Contents poured into a container's interior, the vessel not in it."""

    name = "pour"
    contents_fraction = POUR_FRACTION
    excludes_target = True


class PourTwin(SkillTwin):
    name = skill_of(__name__)
    defines = (Pour,)
    goal_kinds = (Pour.name,)
    has_contents = True
    contents_held = True
    contents_noun = "balls"
    """What a cup's contents are taken to be when the prompt does not say ("empty the cup into the bowl")."""

    def goal(self, recon: Reconstruction, table_height: float) -> GoalRegion:
        """The container's interior, poured into.

        Raises:
            TwinError: the goal is not a container's interior (a pour goes into one)."""
        goal = super().goal(recon, table_height)
        if goal.kind != Volume.name:
            raise TwinError(
                f"twin {recon.task_id}: a pour goes into a container's interior; the {recon.goal_label} "
                f"gives a {goal.kind!r} goal"
            )
        return replace(goal, kind=Pour.name)


HOOKS = PourTwin()
