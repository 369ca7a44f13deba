"""Match the prompt's words to the segmented objects.

Each object is scored by how well its colour name and shape class agree with what the prompt asks for.
Grounding refuses rather than guesses: if nothing fits, or two objects fit equally well, it raises a
:class:`GroundingError` that says what was asked and what was seen, so a person can fix the prompt (or the
scene) instead of getting a video of the wrong object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from physworld_core.errors import GroundingError
from physworld_core.perception.colour import colour_similarity, normalise_colour_word
from physworld_core.perception.language import NOUN_SHAPES, Instruction
from physworld_core.perception.segment import ROUND_FOOTPRINT_MAX_FILL, SceneObject
from physworld_core.robot import PANDA

COLOUR_WEIGHT = 2.0
"""Colour is weighted above shape: it is what people use to tell objects apart, and it is measured more
reliably from one view than shape (a bottle's footprint can read as a box)."""

SHAPE_COMPATIBILITY: dict[tuple[str, str], float] = {
    ("cylinder", "cylinder"): 1.0,
    ("box", "box"): 1.0,
    ("container", "container"): 1.0,
    ("region", "region"): 1.0,
    ("shelf", "container"): 1.0,  # a board with bookends and books standing on it reads as walls and a floor
    ("shelf", "box"): 0.25,
    ("cylinder", "box"): 0.25,
    ("box", "cylinder"): 0.25,
}
"""(asked, seen) → score. Cylinder ↔ box is a soft mismatch (footprints from one view can mislead), accepted
only when the colour was asked for and matches; a hollow object is never confused with a solid one, except a
round container asked for as a cup / mug (which are hollow cylinders): see :func:`shape_score`."""

_TIE = 1e-9


@dataclass(frozen=True, eq=False)
class Grounding:
    """Which segmented objects the prompt refers to.

    Args:
        target: the object to move.
        goal: where it goes; ``None`` for the upright skill, whose goal is the table under the target.
        scores: ``{"target": {index: score}, "goal": {index: score}}`` for every object that qualified (no
            "goal" table when there is no goal object).
    """

    target: SceneObject
    goal: SceneObject | None
    scores: dict[str, dict[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.goal is not None and self.target.index == self.goal.index:
            raise ValueError("Grounding.target and Grounding.goal must be different objects")

    def to_dict(self) -> dict:
        return {
            "target": self.target.to_dict(),
            "goal": None if self.goal is None else self.goal.to_dict(),
            "scores": {role: {str(i): s for i, s in table.items()} for role, table in self.scores.items()},
        }


def shape_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of an asked shape class with a seen object; ``None`` when they cannot be the same thing."""
    if asked is None:
        return 0.0
    if asked == "cylinder" and seen.shape == "container" and seen.roundness < ROUND_FOOTPRINT_MAX_FILL:
        return 0.5  # a cup or mug is a hollow cylinder
    return SHAPE_COMPATIBILITY.get((asked, seen.shape))


LYING_MIN_ELONGATION = 1.3
"""A footprint at least this many times longer than wide can be a solid lying on its side (see
:mod:`.standing`)."""


def lying_shape_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of an asked shape class with an object the prompt says lies on its side (upright skill).

    From above, a lying cylinder's footprint is a rectangle, so a fallen bottle reads as a "box": any solid
    (box or cylinder footprint) may be a lying can, bottle or carton, and a long footprint fits best. A round
    footprint still qualifies, at half the score, so that an object standing already is grounded and refused
    with that reason (perception checks it lies) rather than reported missing. Hollow objects and markings
    do not qualify."""
    if asked is None:
        return 0.0
    if asked not in ("cylinder", "box") or seen.shape not in ("cylinder", "box"):
        return None
    length, width = seen.extents[0], seen.extents[1]
    return 1.0 if length >= LYING_MIN_ELONGATION * max(width, 1e-9) else 0.5


HAND_HELD_MAX_WIDTH_M = PANDA.gripper_max_width
"""A vessel to pour from is lifted and tipped in one hand, its fingers closed across it: its footprint is at
most the gripper's opening wide."""


def pouring_shape_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of a vessel to pour from (pour skill) with a seen object.

    An open container the hand can close across fits best; a wider one (a basin, more likely the container
    poured into) fits less, so that a cup whose colour reads like the bowl's (an orange mug in shadow reads
    brown, like a brown bowl) is told from the bowl by its size. A solid round object still qualifies, at half
    the score, so that a vessel whose inside the camera does not see is grounded and refused with that reason
    (:func:`~physworld_core.perception.pouring.pour_view`) rather than reported missing."""
    if asked is None:
        return 0.0
    if seen.shape == "container":
        return 1.0 if seen.extents[1] <= HAND_HELD_MAX_WIDTH_M else 0.75
    if seen.shape == "cylinder":
        return 0.5
    return None


SWEEP_TOOL_MIN_LENGTH_M = 0.06
"""A brush to sweep with is at least this long (head and handle): smaller things on the table are what is
swept."""

T_FOOTPRINT_MAX_FILL = 0.92
"""A brush's footprint is a T (a wide head, a narrow handle): its hull fills less of its minimum-area rectangle
than a tray's or a box's does (≈1)."""


def sweeping_tool_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of a brush to sweep with (sweep skill) with a seen object.

    Whatever its noun, a brush is judged by size and outline: a solid at least
    :data:`SWEEP_TOOL_MIN_LENGTH_M` long whose footprint is not a full rectangle fits best (a T reads as a
    "cylinder" or, its head and handle making a corner, as a "container"); a rectangle that long still
    qualifies at half the score, so that a brush is found, then measured (and refused there if it has no
    head and handle, :func:`~physworld_core.perception.sweeping.sweep_view`). Small things are what is swept,
    never the tool."""
    if seen.shape == "region" or seen.extents[0] < SWEEP_TOOL_MIN_LENGTH_M:
        return None
    return 1.0 if seen.roundness < T_FOOTPRINT_MAX_FILL else 0.5


def dustpan_shape_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of a dustpan to sweep into (sweep skill) with a seen object: a tray at least
    :data:`SWEEP_TOOL_MIN_LENGTH_M` long. Its floor is a few millimetres thick, so it reads as a container
    (walls around a lower floor) or, where the camera sees little of the floor, as a low box (less)."""
    if seen.extents[0] < SWEEP_TOOL_MIN_LENGTH_M:
        return None
    return {"container": 1.0, "box": 0.75}.get(seen.shape)


ShapeScorer = Callable[[str | None, SceneObject], float | None]

TARGET_SHAPE_SCORERS: dict[str, ShapeScorer] = {
    "upright": lying_shape_score,
    "pour": pouring_shape_score,
    "sweep": sweeping_tool_score,
}
"""Skills whose object is judged by its own rule rather than by :func:`shape_score` (skill → rule)."""

GOAL_SHAPE_SCORERS: dict[str, ShapeScorer] = {"sweep": dustpan_shape_score}
"""Skills whose goal is judged by its own rule rather than by :func:`shape_score`."""


def score_object(
    colour: str | None,
    shape: str | None,
    seen: SceneObject,
    also: tuple[str, ...] = (),
    *,
    shape_scorer: ShapeScorer = shape_score,
) -> float | None:
    """Total score of one object for one phrase; ``None`` when it is disqualified.

    ``also``: further colours the phrase names (a patterned region, "red and white"); each must be among the
    seen object's colours, and the colour part is their mean similarity. ``shape_scorer`` judges the shape:
    :func:`shape_score`, or a skill's own rule (:data:`TARGET_SHAPE_SCORERS`: an object lying on its side to
    stand upright, a vessel to pour from, a brush to sweep with; :data:`GOAL_SHAPE_SCORERS`)."""
    colour_part = 0.0
    if colour is not None:
        asked = (colour, *also)
        similarities = [_colour_match(a, seen) for a in asked]
        if min(similarities) == 0.0:
            return None
        colour_part = COLOUR_WEIGHT * float(np.mean(similarities))
    shape_part = shape_scorer(shape, seen)
    if shape_part is None:
        return None
    if shape is not None and shape_part < 0.5 and not (colour is not None and colour in seen.colours):
        return (
            None  # a soft shape mismatch needs an exact colour match to vouch for it (no asked shape: none)
        )
    return colour_part + shape_part


SECOND_NAME_WEIGHT = 0.9
"""An object matched by its second colour name (a hue beside a neutral mean, see ``colour.object_colours``)
scores this much of a match by its first, so an object of that colour through and through wins the tie."""


def _colour_match(asked: str, seen: SceneObject) -> float:
    """How well ``asked`` names ``seen``: a region's pattern colours are all its own; an object's names after
    its first are what it is known by too."""
    if seen.shape == "region":
        return max(colour_similarity(asked, c) for c in seen.colours)
    return max(
        colour_similarity(asked, c) * (1.0 if i == 0 else SECOND_NAME_WEIGHT)
        for i, c in enumerate(seen.colours)
    )


def ground(instruction: Instruction, objects: list[SceneObject]) -> Grounding:
    """Pick the target and the goal among ``objects`` (for the upright skill the target only: its goal is the
    table under it).

    Raises:
        GroundingError: an asked-for object is absent, or two objects match it equally well.
    """
    upright = instruction.skill == "upright"
    target, target_scores = _pick(
        instruction.object_phrase,
        instruction.object_colour,
        instruction.object_shape,
        objects,
        exclude=None,
        where=instruction.object_where,
        shape_scorer=TARGET_SHAPE_SCORERS.get(instruction.skill, shape_score),
    )
    if upright:
        return Grounding(target=target, goal=None, scores={"target": target_scores})
    goal, goal_scores = _pick(
        instruction.goal_phrase,
        instruction.goal_colour,
        instruction.goal_shape,
        objects,
        exclude=target.index,
        also=instruction.goal_colours[1:],
        where=instruction.goal_where,
        shape_scorer=GOAL_SHAPE_SCORERS.get(instruction.skill, shape_score),
    )
    return Grounding(target=target, goal=goal, scores={"target": target_scores, "goal": goal_scores})


def target_candidates(instruction: Instruction, objects: list[SceneObject]) -> list[int]:
    """Indices of the objects that best match what the prompt asks to move (ties included; none when nothing
    matches): what a shelf's row must not swallow when its pieces are joined."""
    scores = _scores(
        objects,
        instruction.object_colour,
        instruction.object_shape,
        shape_scorer=TARGET_SHAPE_SCORERS.get(instruction.skill, shape_score),
    )
    best = max(scores.values(), default=None)
    return [index for index, score in scores.items() if best - score < _TIE]


def describe_scene(objects: list[SceneObject]) -> str:
    """ "blue cylinder, green box, grey container" (or a note that nothing stands on the table)."""
    if not objects:
        return "no objects standing on the table"
    return ", ".join(o.description for o in objects)


def _scores(
    objects: list[SceneObject],
    colour: str | None,
    shape: str | None,
    also: tuple[str, ...] = (),
    shape_scorer: ShapeScorer = shape_score,
) -> dict[int, float]:
    """Index → score of each of ``objects`` the phrase does not disqualify."""
    scores = {}
    for candidate in objects:
        score = score_object(colour, shape, candidate, also, shape_scorer=shape_scorer)
        if score is not None:
            scores[candidate.index] = score
    return scores


def _pick(
    phrase: str,
    colour: str | None,
    shape: str | None,
    objects: list[SceneObject],
    exclude: int | None,
    also: tuple[str, ...] = (),
    where: str | None = None,
    shape_scorer: ShapeScorer = shape_score,
) -> tuple[SceneObject, dict[int, float]]:
    scores = _scores(
        [o for o in objects if o.index != exclude], colour, shape, also, shape_scorer=shape_scorer
    )
    if not scores:
        raise GroundingError(f"prompt asks for '{phrase}' but the scene has: {describe_scene(objects)}")
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    best_index, best_score = ranked[0]
    tied = [index for index, score in ranked if best_score - score < _TIE]
    if len(tied) > 1 and where is not None:
        by_index = {o.index: o for o in objects}
        chosen = _by_where([by_index[i] for i in tied], where, objects)
        if chosen is not None:
            return chosen, scores
    if len(tied) > 1:
        by_index = {o.index: o for o in objects}
        listed = ", ".join(f"{by_index[i].description} {_where(by_index[i])}" for i in tied)
        raise GroundingError(
            f"prompt asks for '{phrase}' but {len(tied)} objects match it equally well: {listed}; "
            f"the scene has: {describe_scene(objects)}. Name the colour (or another distinguishing word)."
        )
    return next(o for o in objects if o.index == best_index), scores


def _by_where(tied: list[SceneObject], where: str, objects: list[SceneObject]) -> SceneObject | None:
    """The one of ``tied`` the prompt places ("the bin on the left": leftmost in the image; "the bin next to
    the box": nearest, on the table, to the one object the phrase "box" names), or None if that does not
    settle it (nothing named "box", or two bins equally near it)."""
    if where in ("left", "right", "front", "back"):
        key = {
            "left": lambda o: o.image_centroid[1],
            "right": lambda o: -o.image_centroid[1],
            "front": lambda o: -o.image_centroid[0],  # nearer the camera: lower in the image
            "back": lambda o: o.image_centroid[0],
        }[where]
        return min(tied, key=key)
    words = where.removeprefix("near ").split()
    noun = next((" ".join(words[i:]) for i in range(len(words)) if " ".join(words[i:]) in NOUN_SHAPES), None)
    colour = next((c for c in (normalise_colour_word(w) for w in words) if c), None)
    if noun is None:
        return None
    tied_ids = {o.index for o in tied}
    scored = [
        (score, o)
        for o in objects
        if o.index not in tied_ids and (score := score_object(colour, NOUN_SHAPES[noun], o)) is not None
    ]
    if not scored:
        return None
    best = max(scored, key=lambda item: item[0])
    if sum(best[0] - score < _TIE for score, _ in scored) > 1:
        return None
    landmark = np.asarray(best[1].centre_world[:2])
    distances = sorted(
        (float(np.linalg.norm(np.asarray(o.centre_world[:2]) - landmark)), o.index) for o in tied
    )
    if distances[1][0] - distances[0][0] < 0.02:  # about as near as each other
        return None
    return next(o for o in tied if o.index == distances[0][1])


def _where(obj: SceneObject) -> str:
    """Where an object is in the image, in words a person can check against the picture."""
    row, col = obj.image_centroid
    height, width = obj.mask.shape
    horizontal = "left" if col < width / 3 else "right" if col > 2 * width / 3 else "centre"
    vertical = "top" if row < height / 3 else "bottom" if row > 2 * height / 3 else "middle"
    return f"(#{obj.index}, {vertical} {horizontal} of the image)"
