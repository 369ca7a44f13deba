"""What a skill brings to perception: how it judges which object the prompt means, and what it measures of the
scene beyond the table, the objects and the grounding (its *view*: a lying bottle's axis, a cup's rim and
contents, a shelf's free gap).

``physworld_core/skills/<skill>/perception.py`` sets ``HOOKS`` to an instance of a :class:`SkillPerception`
subclass; a skill without one gets the base class: the generic rules and no view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from physworld_core.skills.registry import layer_hooks

if TYPE_CHECKING:  # types only: grounding and perceive import this module
    from physworld_core.perception.grounding import Grounding
    from physworld_core.perception.language import Instruction
    from physworld_core.perception.plane import Plane
    from physworld_core.perception.segment import SceneObject
    from physworld_core.scene import ScenePackage

ShapeScorer = Callable[[str | None, "SceneObject"], float | None]
"""(asked shape class, seen object) → agreement score, or ``None`` when they cannot be the same thing."""


class SkillPerception:
    """The perception hooks of one skill.

    Attributes:
        target_scorer: the skill's own rule for judging the object to move by its shape (an object lying on its
            side to stand up, a vessel to pour from, a brush); ``None``: the generic
            :func:`~physworld_core.perception.grounding.shape_score`.
        goal_scorer: the same for the goal (a dustpan to sweep into).
        view_type: the type of the skill's view (:meth:`view`); ``None`` when it measures nothing more.
        stored_types: the other types its view holds (its parts), which the perception stage stores with it.
    """

    name: str = ""
    target_scorer: ClassVar[ShapeScorer | None] = None
    goal_scorer: ClassVar[ShapeScorer | None] = None
    view_type: ClassVar[type | tuple[type, ...] | None] = None
    stored_types: ClassVar[tuple[type, ...]] = ()

    def prepare_objects(
        self, scene: ScenePackage, plane: Plane, objects: list[SceneObject], instruction: Instruction
    ) -> list[SceneObject]:
        """The segmented objects as the skill needs them, before grounding (a shelf's row seen along the line
        of sight comes out in pieces, which the place skill joins)."""
        return objects

    def view(
        self,
        scene: ScenePackage,
        plane: Plane,
        objects: list[SceneObject],
        instruction: Instruction,
        grounding: Grounding,
    ) -> Any:
        """What the skill measures of the grounded scene (``None``: nothing).

        Raises:
            GroundingError: the scene is not one the skill can work in (a bottle to stand up that stands, a cup
                whose inside is not seen), saying what was seen."""
        return None

    def check_view(self, view: Any) -> None:
        """Raise ``ValueError`` unless ``view`` is what :meth:`view` makes: of :attr:`view_type`, or ``None``
        where the skill has none (or, :attr:`view_optional`, measured nothing in this scene)."""
        if view is None:
            if self.view_type is not None and not self.view_optional:
                raise ValueError(f"a {self.name!r} perception needs its view, got None")
        elif self.view_type is None or not isinstance(view, self.view_type):
            raise ValueError(f"a {self.name!r} perception has no view of type {type(view).__name__}")

    view_optional: ClassVar[bool] = False
    """The skill measures its view only in some scenes (the place skill: a shelf's gap, for a shelf goal)."""


def perception_of(skill: str) -> SkillPerception:
    """The perception hooks of ``skill``."""
    return layer_hooks(skill, "perception", SkillPerception)
