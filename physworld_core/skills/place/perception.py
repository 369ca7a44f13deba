"""What the place skill measures: for a shelf goal ("on the bookcase", "in the empty slot of the shelf"), the
free gap of the shelf's row the object fits in (:mod:`.shelf`); nothing more for any other goal.

A shelf whose row runs along the camera's line of sight comes out of segmentation in pieces, which are joined
before grounding (keeping the object to shelve apart by its name)."""

from __future__ import annotations

from physworld_core.perception.grounding import Grounding, target_candidates
from physworld_core.perception.language import Instruction
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject, join_row_pieces
from physworld_core.perception.skill import SkillPerception
from physworld_core.scene import ScenePackage
from physworld_core.skills.place.shelf import Slot, find_slot
from physworld_core.skills.registry import skill_of

SHELF = "shelf"
"""The goal shape whose row has a free gap to find (see :data:`~physworld_core.perception.language.SHELF_NOUNS`)."""


class PlacePerception(SkillPerception):
    name = skill_of(__name__)
    view_type = Slot
    view_optional = True

    def prepare_objects(
        self, scene: ScenePackage, plane: Plane, objects: list[SceneObject], instruction: Instruction
    ) -> list[SceneObject]:
        if instruction.goal_shape != SHELF:
            return objects
        return join_row_pieces(scene, plane, objects, keep_apart=target_candidates(instruction, objects))

    def view(
        self,
        scene: ScenePackage,
        plane: Plane,
        objects: list[SceneObject],
        instruction: Instruction,
        grounding: Grounding,
    ) -> Slot | None:
        """The shelf row's free gap, stood up in with the thin side along the row; ``None`` for other goals."""
        if instruction.goal_shape != SHELF:
            return None
        return find_slot(grounding.goal, plane, thickness=grounding.target.extents[1])


HOOKS = PlacePerception()
