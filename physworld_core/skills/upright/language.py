"""How standing a fallen object up is asked for: "stand the red bottle upright", "pick up the fallen can and
stand it up", "set the can upright on the table".

It has no goal object: the goal is the table under the object, so the instruction names the goal "table" and
perception grounds only the target. Its forms are tried before the placing ones: "set the bottle upright on
the table" would otherwise read as placing a "bottle upright" on a "table". Standing a book upright in a shelf
is a placement (books stand in a shelf's row anyway), and passes on to the place skill.
"""

from __future__ import annotations

import re

from physworld_core.errors import GroundingError
from physworld_core.perception.language import (
    _ARTICLE,
    _PHRASE,
    _PICK_VERBS,
    _RELATION,
    ATTITUDE,
    RELATIONS,
    SHELF_NOUNS,
    SUPPORT_NOUNS,
    TABLE_NOUN,
    Instruction,
    Reading,
    SkillPhrases,
    expected_form,
    names_next_task,
    read_phrase,
    split_where,
)
from physworld_core.skills.registry import skill_of

LYING_WORDS = re.compile(
    r"\b(?:fallen(?:[\s\-]+over)?|tipped(?:[\s\-]+over)?|toppled(?:[\s\-]+over)?|knocked[\s\-]+over|"
    r"overturned|lying(?:\s+down)?|fell(?:\s+over)?)\b"
)
"""Words that describe how an object lies ("the fallen bottle", "the tipped over can"): they say which object
needs standing up, not its colour or kind, so they are dropped from the object's phrase."""

_UPRIGHT_VERBS = r"(?:stand|set|put|place|turn|get|bring|flip|tip|right|return|move)"
_UPRIGHT = ATTITUDE
_UPRIGHT_TAIL = (
    r"(?:\s+again)?(?:\s+on\s+(?:its|their)\s+(?:base|bottom|end))?(?:\s+again)?"
    rf"(?:\s+(?P<relation>{_RELATION})\s+{_ARTICLE}(?P<goal>{_PHRASE}))?(?:\s+again)?$"
)
_UPRIGHT_PATTERNS = (
    # "pick up the fallen red bottle and stand it up", "... and set it upright on the table"
    re.compile(
        rf"^{_PICK_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})\s+and\s+(?:(?:{_UPRIGHT_VERBS})\s+it\s+{_UPRIGHT}|"
        rf"stand\s+it\s+(?:back\s+)?up){_UPRIGHT_TAIL}"
    ),
    # "stand the red bottle up", "stand the can back up"
    re.compile(rf"^stand\s+{_ARTICLE}(?P<object>{_PHRASE})\s+(?:back\s+)?up{_UPRIGHT_TAIL}"),
    # "stand the red bottle upright", "turn the fallen bottle upright again", "set the can upright on the table"
    re.compile(rf"^{_UPRIGHT_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})\s+{_UPRIGHT}{_UPRIGHT_TAIL}"),
    # "stand up the red bottle", "set upright the can"
    re.compile(
        rf"^(?:stand\s+(?:back\s+)?up|{_UPRIGHT_VERBS}\s+{_UPRIGHT})\s+{_ARTICLE}(?P<object>{_PHRASE})"
        rf"{_UPRIGHT_TAIL}"
    ),
)
"""Ways to ask for the upright skill. They are tried before the placing forms: "set the bottle upright on the
table" would otherwise read as placing a "bottle upright" on a "table"."""


class UprightPhrases(SkillPhrases):
    name = skill_of(__name__)
    order = 10
    example = "'stand the red bottle upright'"
    summary = "stand-upright"

    def parse(self, reading: Reading) -> Instruction | None:
        return _parse_upright(reading.text, reading.prompt, reading.holds)

    def check(self, instruction: Instruction) -> None:
        """An upright instruction's goal is the table under the object, so it names nothing else."""
        i = instruction
        goal = (i.goal_noun, i.goal_phrase, i.goal_colour, i.relation, i.hold, i.goal_where)
        if goal != (TABLE_NOUN, TABLE_NOUN, None, "on", None, None):
            raise ValueError(
                f"an upright Instruction stands the object on the {TABLE_NOUN}: goal noun and phrase "
                f"{TABLE_NOUN!r}, no goal colour, relation 'on', no hold and no goal_where; got goal "
                f"{i.goal_phrase!r} ({i.goal_noun!r}, colour {i.goal_colour!r}), relation "
                f"{i.relation!r}, hold {i.hold!r}, goal_where {i.goal_where!r}"
            )

    def goal_shape(self, instruction: Instruction) -> str | None:
        return TABLE_NOUN

    def has_goal_object(self, instruction: Instruction) -> bool:
        return False


HOOKS = UprightPhrases()


def _parse_upright(text: str, prompt: str, holds: set[str]) -> Instruction | None:
    """The upright instruction ``text`` asks for, or ``None`` when it is not in an upright form (or asks to
    stand a book upright in a shelf, which is a placement: books stand in a shelf's row anyway).

    Raises:
        GroundingError: it asks to stand the object up somewhere other than the table, or by a part.
    """
    for pattern in _UPRIGHT_PATTERNS:
        match = pattern.match(text)
        if match:
            break
    else:
        return None
    object_text = match["object"].strip()
    if names_next_task(object_text) or (match["goal"] and names_next_task(match["goal"])):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {expected_form()}"
        )
    if match["goal"]:
        goal_words = match["goal"].strip()
        goal_noun = next(
            (
                " ".join(goal_words.split()[i:])
                for i in range(len(goal_words.split()))
                if " ".join(goal_words.split()[i:]) in SUPPORT_NOUNS | SHELF_NOUNS
            ),
            None,
        )
        if goal_noun in SHELF_NOUNS:
            return None
        if goal_noun is None or RELATIONS[match["relation"]] != "on":
            raise GroundingError(
                f"prompt {prompt!r} asks to stand the object upright {match['relation']} the {goal_words}; an "
                f"object is stood upright on the {TABLE_NOUN} where it lies (say 'stand the "
                f"{_describe_lying(object_text)} upright'); to move it {match['relation']} the {goal_words}, "
                "give that as a task of its own"
            )
    if holds:
        raise GroundingError(
            f"prompt {prompt!r}: standing an object upright does not say how to hold it, so not by its "
            f"{min(holds)}"
        )
    object_phrase, object_where = split_where(_describe_lying(object_text))
    object_colours, object_noun = read_phrase(object_phrase, prompt, role="object to stand up", goal=False)
    return Instruction(
        object_phrase=object_phrase,
        object_colour=object_colours[0] if object_colours else None,
        object_noun=object_noun,
        goal_phrase=TABLE_NOUN,
        goal_colour=None,
        goal_noun=TABLE_NOUN,
        relation="on",
        skill=HOOKS.name,
        object_where=object_where,
    )


def _describe_lying(phrase: str) -> str:
    """ "fallen red bottle" → "red bottle": how it lies is not what it is (see :data:`LYING_WORDS`)."""
    phrase = re.sub(r"\s+(?:that|which)(?:\s+(?:is|has))?\s*$", "", LYING_WORDS.sub(" ", phrase))
    phrase = re.sub(r"\s+(?:on\s+its\s+side)\b", " ", phrase)
    return re.sub(r"\s+", " ", phrase).strip()
