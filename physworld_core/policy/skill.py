"""What a skill brings to the policy: its plan from the twin, the baseline controller that carries it out, the
episode length it needs, and what counts as having taken hold of the object.

``physworld_core/skills/<skill>/policy.py`` sets ``HOOKS`` to an instance of a :class:`SkillPolicy` subclass.
The base class has no plan of its own: every skill says how it is planned. What a skill's plan carries besides
the generic grasp and path is one typed payload (:attr:`~physworld_core.policy.plan.TaskPlan.payload`), stored
in the plan's JSON as fields of its own (:meth:`SkillPolicy.payload_to_dict`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from physworld_core.skills.registry import layer_hooks

if TYPE_CHECKING:  # types only: the plan and the baseline import this module
    from physworld_core.policy.baseline import BaselineConfig
    from physworld_core.policy.grasp import GraspConfig
    from physworld_core.policy.plan import TaskPlan
    from physworld_core.twin.spec import TwinSpec


class SkillPolicy:
    """The policy hooks of one skill.

    Attributes:
        payload_type: the frozen type of what the skill's plans carry besides the generic grasp and path
            (``None``: nothing).
        extra_steps: control steps an episode of the skill gets on top of the length it is given.
    """

    name: str = ""
    payload_type: ClassVar[type | None] = None
    extra_steps: ClassVar[int] = 0

    def plan(
        self,
        spec: TwinSpec,
        vertices: np.ndarray,
        faces: np.ndarray,
        closing_axis: np.ndarray,
        grasp_config: GraspConfig,
        spacing: float,
        physical: bool,
        parts: list[np.ndarray] | None,
    ) -> TaskPlan:
        """The plan (see :func:`~physworld_core.policy.plan.plan_from_twin` for the arguments)."""
        raise NotImplementedError(f"skill {self.name!r} has no plan")

    def controller(self, plan: TaskPlan, config: BaselineConfig):
        """The baseline controller that executes ``plan`` (``reset()``, ``act(...)``, ``phase``...)."""
        raise NotImplementedError(f"skill {self.name!r} has no controller")

    def held(self, result: dict) -> bool:
        """Whether an episode (``run_episode``'s result) ever took hold of the object: a failure without it is a
        failure to grasp."""
        return bool(result["ever_grasped"])

    def check_plan(self, plan: TaskPlan) -> None:
        """Raise ``ValueError`` if ``plan`` (its payload included) is not one of this skill's."""
        if self.payload_type is None and plan.payload is not None:
            raise ValueError(f"a {self.name!r} plan carries no payload, got {plan.payload!r}")
        if self.payload_type is not None and not isinstance(plan.payload, self.payload_type):
            raise ValueError(
                f"a {self.name!r} plan needs its {self.payload_type.__name__}, got {plan.payload!r}"
            )

    def payload_to_dict(self, payload: Any) -> dict:
        """The payload as fields stored beside the plan's own."""
        return {}

    def payload_from_dict(self, d: dict) -> Any:
        """The payload from a stored plan's fields (``d``: all of them; fields another skill stored are
        ignored: older plans stored every skill's, as null)."""
        return None


def policy_of(skill: str) -> SkillPolicy:
    """The policy hooks of ``skill``."""
    return layer_hooks(skill, "policy", SkillPolicy)
