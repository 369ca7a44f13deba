"""How a lift is asked for: a lifting verb and the object, then, optionally, how high and above what.

"pick up the red cube", "pick the can up", "lift the can 10 cm", "raise the box 5 cm above the bin", "hold the
mug up over the basket". The object ends held (the hand keeps it) with its underside at the stated height above
the table, or above the top of a named object; when no height is stated, :data:`DEFAULT_LIFT_HEIGHT_M` above the
table or :data:`DEFAULT_CLEARANCE_M` above the named object.

Heights are read from the prompt as written (the normalised text keeps letters only): a number and a unit
("10 cm", "0.1 m", "80mm", "4 inches"). A prompt that says "pick up the X and put it in the Y" is a placement:
the lift forms end with the object, its height and the object it is held above, nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from physworld_core.errors import GroundingError
from physworld_core.perception.language import (
    _ARTICLE,
    _PHRASE,
    NOUN_SHAPES,
    TABLE_NOUN,
    Instruction,
    Reading,
    SkillPhrases,
    expected_form,
    names_next_task,
    read_phrase,
    split_where,
)
from physworld_core.perception.nlp import UNITS_M
from physworld_core.skills.registry import skill_of

DEFAULT_LIFT_HEIGHT_M = 0.10
"""How high the object's underside is lifted above the table when the prompt says no height."""
DEFAULT_CLEARANCE_M = 0.05
"""How far above a named object's top the underside is held when the prompt says no height."""
MAX_LIFT_HEIGHT_M = 0.30
"""The highest a prompt may ask for (above the table, or above the named object's top): the Panda's hand,
pointing down over the table, reaches about 40 cm above it."""
ABOVE = "above"
"""The relation of a lift to its goal: the object ends held above it (the table, or a named object)."""

_UNIT = r"(?:mm|cm|m|in|inch(?:es)?|(?:milli|centi)?met(?:re|er)s?)"  # what the letters-only text keeps of "10 cm"
_HEIGHT_NUMBER = re.compile(rf"(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>{_UNIT})\b")
_LIFT_VERBS = r"(?:pick\s+up|pick|lift(?:\s+up)?|raise(?:\s+up)?|hold\s+up|hold|grab|take)"
_HEIGHT = (
    rf"(?P<height>(?:\s+(?:by|to|about|around|some|roughly|approximately))?\s+{_UNIT}"
    r"(?:\s+(?:high|higher|up|off\s+the\s+table|above\s+the\s+table|in\s+the\s+air))?)"
)
_LIFT_PATTERN = re.compile(
    rf"^{_LIFT_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})(?:\s+(?:up|upwards))?{_HEIGHT}?(?:\s+(?:up|upwards))?"
    rf"(?:\s+(?:above|over)\s+{_ARTICLE}(?P<goal>{_PHRASE}))?(?:\s+(?:off\s+the\s+table|in\s+the\s+air))?$"
)
"""The lift form: "<verb> the [colour] <object> [up] [<number> <unit> [high]] [above|over the [colour] <goal>]"
(the number is gone from the letters-only text; its unit is left)."""
_RELATION_WORD = re.compile(r"\s(?:in|into|inside|on|onto|to|towards|toward)\s")


@dataclass(frozen=True)
class LiftDetails:
    """What a lift instruction reads beyond the generic fields.

    Args:
        height_m: how high the object's underside ends above the table, or above the named object's top
            (metres, positive, at most :data:`MAX_LIFT_HEIGHT_M`).
        stated: the prompt gave the height (else it is the default).
    """

    height_m: float
    stated: bool

    def __post_init__(self) -> None:
        if not 0 < self.height_m <= MAX_LIFT_HEIGHT_M:
            raise ValueError(
                f"LiftDetails.height_m must lie in (0, {MAX_LIFT_HEIGHT_M}] m, got {self.height_m!r}"
            )


def read_height(prompt: str) -> float | None:
    """The height a prompt states, in metres ("10 cm" → 0.1), or ``None`` when it states none.

    Raises:
        GroundingError: it states several, or one that is not positive or is higher than the arm lifts.
    """
    found = list(_HEIGHT_NUMBER.finditer(prompt.lower()))
    if not found:
        return None
    if len(found) > 1:
        raise GroundingError(
            f"prompt {prompt!r} states {len(found)} heights; give one ('lift the can 10 cm')"
        )
    number, unit = float(found[0]["number"]), found[0]["unit"]
    metres = number * UNITS_M[unit if unit in UNITS_M else unit.rstrip("s")]
    if not 0 < metres <= MAX_LIFT_HEIGHT_M:
        raise GroundingError(
            f"prompt {prompt!r} asks to lift the object {number:g} {unit}; the arm lifts it by more than 0 and "
            f"at most {MAX_LIFT_HEIGHT_M * 100:.0f} cm"
        )
    return metres


class LiftPhrases(SkillPhrases):
    name = skill_of(__name__)
    order = 40  # before the placing forms: "pick up the X" alone is a lift, "... and put it in the Y" is not
    example = (
        "'lift the red can 10 cm' (pick up/lift/raise the [colour] <object> [<height>] [above the <object>])"
    )
    summary = "lift"
    relations = (ABOVE,)
    stored_types = (LiftDetails,)

    def parse(self, reading: Reading) -> Instruction | None:
        match = _LIFT_PATTERN.match(reading.text)
        if match is None:
            return None
        object_text = match["object"].strip()
        goal_text = (match["goal"] or "").strip()
        # "pick up the can and put it in the bin", "lift the can onto the box": a placement, not a lift.
        if names_next_task(f" {object_text} ") or _RELATION_WORD.search(f" {object_text} "):
            return None
        if names_next_task(f" {goal_text} "):
            raise GroundingError(
                f"prompt {reading.prompt!r} asks for more than one task; give one instruction per task: "
                f"{expected_form()}"
            )
        if reading.holds:
            raise GroundingError(
                f"prompt {reading.prompt!r}: a lift grasps the object where the hand can, not by its "
                f"{min(reading.holds)}"
            )
        height = read_height(reading.prompt)
        if (height is None) != (match["height"] is None):
            return None  # a number that is not a height ("the 2 cans"), or a unit with no number
        object_phrase, object_where = split_where(object_text)
        object_colours, object_noun = read_phrase(
            object_phrase, reading.prompt, role="object to lift", goal=False
        )
        if goal_text:
            goal_phrase, goal_where = split_where(goal_text)
            goal_colours, goal_noun = read_phrase(
                goal_phrase, reading.prompt, role="object to hold it above", goal=False
            )
            default = DEFAULT_CLEARANCE_M
        else:
            goal_phrase, goal_where, goal_colours, goal_noun = TABLE_NOUN, None, (), TABLE_NOUN
            default = DEFAULT_LIFT_HEIGHT_M
        return Instruction(
            object_phrase=object_phrase,
            object_colour=object_colours[0] if object_colours else None,
            object_noun=object_noun,
            goal_phrase=goal_phrase,
            goal_colour=goal_colours[0] if goal_colours else None,
            goal_noun=goal_noun,
            relation=ABOVE,
            skill=self.name,
            object_where=object_where,
            goal_where=goal_where,
            details=LiftDetails(default if height is None else height, stated=height is not None),
        )

    def check(self, instruction: Instruction) -> None:
        """A lift holds the object above the table or above an object, and carries its height."""
        if not isinstance(instruction.details, LiftDetails):
            # ValueError, as SkillPhrases.check promises: it is raised while the Instruction is made.
            raise ValueError(f"a lift Instruction needs its LiftDetails, got {instruction.details!r}")  # noqa: TRY004
        if instruction.goal_noun == TABLE_NOUN and (instruction.goal_colour, instruction.goal_where) != (
            None,
            None,
        ):
            raise ValueError("a lift above the table names no goal colour and no goal_where")

    def goal_shape(self, instruction: Instruction) -> str | None:
        if instruction.goal_noun == TABLE_NOUN:
            return TABLE_NOUN
        return NOUN_SHAPES.get(instruction.goal_noun)

    def has_goal_object(self, instruction: Instruction) -> bool:
        return instruction.goal_noun != TABLE_NOUN


HOOKS = LiftPhrases()
