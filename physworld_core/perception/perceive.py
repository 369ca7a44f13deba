"""The whole perception pass in one call: table, objects, instruction, grounding.

The video generator and the reconstruction stage both start from the same reading of the scene; doing it in
one function keeps them from drifting apart (different margins, different grounding).
"""

from __future__ import annotations

from dataclasses import dataclass

from physworld_core.perception.grounding import Grounding, ground, target_candidates
from physworld_core.perception.language import Instruction, parse_instruction
from physworld_core.perception.plane import Plane, fit_support_plane
from physworld_core.perception.pouring import PourView, pour_view
from physworld_core.perception.regions import segment_regions
from physworld_core.perception.segment import SceneObject, join_row_pieces, segment_objects
from physworld_core.perception.shelf import Slot, find_slot
from physworld_core.perception.standing import StandingAxis, standing_axis
from physworld_core.perception.sweeping import SweepView, sweep_view
from physworld_core.scene import ScenePackage


@dataclass(frozen=True, eq=False)
class Perception:
    """What one RGB-D frame and its prompt say about the task.

    Args:
        plane: the fitted support plane.
        objects: objects standing on it (see :func:`segment_objects`).
        instruction: the parsed prompt.
        grounding: which objects the prompt means.
        slot: for a shelf goal, the free gap in its row the object goes into (:mod:`.shelf`); else ``None``.
        standing: for the upright skill, the lying target's axis and base end as seen (:mod:`.standing`);
            else ``None``.
        pour: for the pour skill, the vessel poured from (the target) measured as a cup, and what is seen
            inside it (:mod:`.pouring`); else ``None``.
        sweep: for the sweep skill, the brush (the target), the dustpan (the goal) and the scraps in front of
            it, measured (:mod:`.sweeping`); else ``None``.
    """

    plane: Plane
    objects: tuple[SceneObject, ...]
    instruction: Instruction
    grounding: Grounding
    slot: Slot | None = None
    standing: StandingAxis | None = None
    pour: PourView | None = None
    sweep: SweepView | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", tuple(self.objects))
        indices = [o.index for o in self.objects]
        if indices != list(range(len(indices))):
            raise ValueError(f"Perception.objects must be indexed 0..n-1 in order, got {indices}")
        upright = self.instruction.skill == "upright"
        if (self.grounding.goal is None) != upright:
            raise ValueError("Perception: the grounding has no goal exactly when the skill is 'upright'")
        if (self.standing is not None) != upright:
            raise ValueError("Perception.standing is given exactly when the skill is 'upright'")
        if (self.pour is not None) != (self.instruction.skill == "pour"):
            raise ValueError("Perception.pour is given exactly when the skill is 'pour'")
        if (self.sweep is not None) != (self.instruction.skill == "sweep"):
            raise ValueError("Perception.sweep is given exactly when the skill is 'sweep'")

    @property
    def target(self) -> SceneObject:
        return self.grounding.target

    @property
    def goal(self) -> SceneObject | None:
        """The goal object; ``None`` for the upright skill (the goal is the table under the target)."""
        return self.grounding.goal

    def to_dict(self) -> dict:
        return {
            "plane": self.plane.to_dict(),
            "objects": [o.to_dict() for o in self.objects],
            "instruction": self.instruction.to_dict(),
            "grounding": self.grounding.to_dict(),
            "slot": None if self.slot is None else self.slot.to_dict(),
            "standing_axis": None if self.standing is None else self.standing.to_dict(),
            "pour": None if self.pour is None else self.pour.to_dict(),
            "sweep": None if self.sweep is None else self.sweep.to_dict(),
        }


def perceive(scene: ScenePackage) -> Perception:
    """Fit the table, segment the objects (and the flat markings, when the goal is one), parse the prompt and
    ground it.

    The prompt is parsed first: a malformed prompt is the cheapest error to report.

    Raises:
        GroundingError: the prompt cannot be read or does not match the objects, a shelf has no gap the
            object fits in, the object to stand upright does not lie on its side, the vessel to pour from
            is not an open container the hand can hold, or the brush to sweep with shows no head and handle
            or nothing to sweep lies in front of the dustpan.
        SceneError: no table plane can be found in the depth.
    """
    instruction = parse_instruction(scene.prompt)
    plane = fit_support_plane(scene)
    objects = segment_objects(scene, plane)
    if instruction.goal_shape == "shelf":  # a row seen along the line of sight comes out in pieces
        objects = join_row_pieces(scene, plane, objects, keep_apart=target_candidates(instruction, objects))
    if instruction.goal_shape == "region":  # flat markings are looked for only when the prompt names one
        objects += segment_regions(scene, plane, objects, first_index=len(objects))
    grounding = ground(instruction, objects)
    slot = None
    if instruction.goal_shape == "shelf":  # stood up in the row's free gap, thin side along the row
        slot = find_slot(grounding.goal, plane, thickness=grounding.target.extents[1])
    standing = None
    if instruction.skill == "upright":  # an object standing already is refused here, with its sizes
        target = grounding.target
        standing = standing_axis(
            target.points_world,
            plane.normal_array,
            plane.offset,
            name=f"{target.description} (the {instruction.object_phrase})",
        )
    pour = None
    if instruction.skill == "pour":  # a vessel whose inside is not seen is refused here, with what was seen
        pour = pour_view(
            grounding.target,
            plane,
            scene,
            name=f"{grounding.target.description} (the {instruction.object_phrase})",
        )
    sweep = None
    if instruction.skill == "sweep":  # a brush with no head and handle, or no scraps, is refused here
        sweep = sweep_view(
            grounding.target,
            grounding.goal,
            objects,
            plane,
            scene,
            brush_name=f"{grounding.target.description} (the {instruction.object_phrase})",
            pan_name=f"{grounding.goal.description} (the {instruction.goal_phrase})",
            scraps_colour=instruction.contents_colour,
        )
    return Perception(
        plane=plane,
        objects=tuple(objects),
        instruction=instruction,
        grounding=grounding,
        slot=slot,
        standing=standing,
        pour=pour,
        sweep=sweep,
    )
