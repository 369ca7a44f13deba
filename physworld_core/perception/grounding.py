"""Match the prompt's words to the segmented objects.

Each object is scored by how well its colour name and shape class agree with what the prompt asks for. A noun
with no shape prior (anything outside ``language.NOUN_SHAPES``: "banana", "teddy bear") asks for no shape:
such an object is told apart by what else the prompt says — its colour, its size ("the big one"), its side of
the picture, the object it is next to — and, failing those, by elimination: the object to move is the one that
is not the goal, and never a flat marking. Grounding refuses rather than guesses: if nothing fits, or two
objects still fit equally well, it raises a :class:`GroundingError` that lists the candidates and what the
scene has, so a person can fix the prompt (or the scene) instead of getting a video of the wrong object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physworld_core.errors import GroundingError
from physworld_core.perception.colour import colour_similarity, normalise_colour_word
from physworld_core.perception.language import NOUN_SHAPES, SIZES, Instruction
from physworld_core.perception.segment import ROUND_FOOTPRINT_MAX_FILL, SceneObject
from physworld_core.perception.skill import ShapeScorer, perception_of

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


class Ambiguous(GroundingError):
    """Two or more objects match a phrase equally well (as opposed to none matching it)."""


@dataclass(frozen=True, eq=False)
class Grounding:
    """Which segmented objects the prompt refers to.

    Args:
        target: the object to move.
        goal: where it goes; ``None`` when the goal is the table under the target (a fallen object stood up).
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
    :func:`shape_score`, or a skill's own rule (:attr:`~physworld_core.perception.skill.SkillPerception.
    target_scorer`: an object lying on its side to stand upright, a vessel to pour from, a brush to sweep with;
    its ``goal_scorer``)."""
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
    """Pick the target and the goal among ``objects`` (the target only when the goal is the table under it, as
    for a fallen object stood up: :attr:`~physworld_core.perception.language.Instruction.has_goal_object`).

    Raises:
        GroundingError: an asked-for object is absent, or two objects match it equally well.
    """
    hooks = perception_of(instruction.skill)

    def pick_target(exclude: int | None) -> tuple[SceneObject, dict[int, float]]:
        return _pick(
            instruction.object_phrase,
            instruction.object_colour,
            instruction.object_shape,
            objects,
            exclude=exclude,
            where=instruction.object_where,
            shape_scorer=movable(hooks.target_scorer or shape_score),
        )

    def pick_goal(exclude: int | None) -> tuple[SceneObject, dict[int, float]]:
        return _pick(
            instruction.goal_phrase,
            instruction.goal_colour,
            instruction.goal_shape,
            objects,
            exclude=exclude,
            also=instruction.goal_colours[1:],
            where=instruction.goal_where,
            shape_scorer=hooks.goal_scorer or shape_score,
        )

    if not instruction.has_goal_object:
        target, target_scores = pick_target(None)
        return Grounding(target=target, goal=None, scores={"target": target_scores})
    try:
        target, target_scores = pick_target(None)
    except Ambiguous as tie:
        # By elimination: the goal, if the prompt singles it out, is not the object to move.
        try:
            goal, goal_scores = pick_goal(None)
        except GroundingError:
            raise tie from None
        target, target_scores = pick_target(goal.index)
    else:
        goal, goal_scores = pick_goal(target.index)
    return Grounding(target=target, goal=goal, scores={"target": target_scores, "goal": goal_scores})


def movable(scorer: ShapeScorer) -> ShapeScorer:
    """``scorer`` for the object to move: a flat marking on the table is never one, whatever the words."""

    def score(asked: str | None, seen: SceneObject) -> float | None:
        return None if seen.shape == "region" else scorer(asked, seen)

    return score


def target_candidates(instruction: Instruction, objects: list[SceneObject]) -> list[int]:
    """Indices of the objects that best match what the prompt asks to move (ties included; none when nothing
    matches): what a shelf's row must not swallow when its pieces are joined."""
    scores = _scores(
        objects,
        instruction.object_colour,
        instruction.object_shape,
        shape_scorer=perception_of(instruction.skill).target_scorer or shape_score,
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
        raise Ambiguous(
            f"prompt asks for '{phrase}' but {len(tied)} objects match it equally well: {listed}; "
            f"the scene has: {describe_scene(objects)}. Name the colour (or another distinguishing word)."
        )
    return next(o for o in objects if o.index == best_index), scores


def _by_where(tied: list[SceneObject], where: str, objects: list[SceneObject]) -> SceneObject | None:
    """The one of ``tied`` the prompt places ("the bin on the left": leftmost in the image; "the bin next to
    the box": nearest, on the table, to the one object the phrase "box" names), or None if that does not
    settle it (nothing named "box", or two bins equally near it)."""
    if where in SIZES:
        return _by_size(tied, where)
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
    tied_ids = {o.index for o in tied}
    # A landmark with no shape prior ("next to the lamp") is found by its colour, or as the one other object.
    scored = [
        (score, o)
        for o in objects
        if o.index not in tied_ids
        and (score := score_object(colour, NOUN_SHAPES.get(noun) if noun else None, o)) is not None
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


SIZE_MARGIN = 1.25
"""How much bigger (or taller) than every other candidate an object must be for "the big one" to name it: a
size a person can see, not a few millimetres of segmentation noise."""


def _by_size(tied: list[SceneObject], size: str) -> SceneObject | None:
    """The one of ``tied`` the size word names ("big"/"small": footprint area; "tall"/"short": height above
    the table), or ``None`` when no candidate stands out by :data:`SIZE_MARGIN`."""
    measure = (
        (lambda o: o.extents[0] * o.extents[1]) if size in ("big", "small") else (lambda o: o.top_height)
    )
    ranked = sorted(tied, key=measure, reverse=size in ("big", "tall"))
    first, second = measure(ranked[0]), measure(ranked[1])
    larger, smaller = max(first, second), min(first, second)
    if smaller <= 0 or larger / smaller >= SIZE_MARGIN:
        return ranked[0]
    return None


def _where(obj: SceneObject) -> str:
    """Where an object is in the image, in words a person can check against the picture."""
    row, col = obj.image_centroid
    height, width = obj.mask.shape
    horizontal = "left" if col < width / 3 else "right" if col > 2 * width / 3 else "centre"
    vertical = "top" if row < height / 3 else "bottom" if row > 2 * height / 3 else "middle"
    return f"(#{obj.index}, {vertical} {horizontal} of the image)"
