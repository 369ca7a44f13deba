"""How a sweep is asked for: "sweep the scraps into the dustpan with the brush", "use the red brush to sweep the
crumbs into the dust pan", "brush the bits into the dustpan using the hand brush", "pick up the brush and push
the pieces into the dustpan".

Its object is the tool (the brush, grasped and pushed along the table), its goal the dustpan, and what is swept
is kept apart (``contents_noun``, as for a pour): perception finds the scraps as the small objects in front of
the pan, not as one object. "Pick up the X and push the Y into the Z" reads as a sweep only when X is a brush;
any other push keeps its own reading. Its forms are tried after the upright ones and before the pour and
placing ones.
"""

from __future__ import annotations

import re

from physworld_core.errors import GroundingError
from physworld_core.perception.colour import normalise_colour_word
from physworld_core.perception.language import (
    _ARTICLE,
    _PHRASE,
    _PICK_VERBS,
    _RELATION,
    Instruction,
    Reading,
    SkillPhrases,
    expected_form,
    names_next_task,
    read_noun,
    read_phrase,
    split_where,
)
from physworld_core.skills.registry import skill_of

SWEEP_TOOL_NOUNS: frozenset[str] = frozenset({"brush", "hand brush", "sweeping brush", "broom", "hand broom"})
"""What a prompt may sweep with: a hand brush (a wide head with a handle behind it) held by its handle."""

SWEEP_GOAL_NOUNS: frozenset[str] = frozenset({"dustpan", "dust pan"})
"""What a prompt may sweep into: a dustpan lying on the table, open towards what is swept (a bin's rim is too
high to sweep anything over)."""

SWEPT_NOUNS: frozenset[str] = frozenset(
    {
        "scraps",
        "scrap",
        "bits",
        "bit",
        "crumbs",
        "crumb",
        "pieces",
        "piece",
        "debris",
        "litter",
        "rubbish",
        "trash",
        "dirt",
        "mess",
    }
)
"""What a prompt may name as swept: small loose things lying on the table ("the crumbs", "the bits")."""

_SWEEP_VERBS = r"(?:sweep|brush)(?:\s+up)?"
_TOOL_PUSH_VERBS = rf"(?:{_SWEEP_VERBS}|push|slide|shove|nudge|move|get)"
_WITH = r"(?:with|using)"
_SWEEP_INTO = rf"\s+(?P<relation>{_RELATION})\s+{_ARTICLE}(?P<goal>{_PHRASE})"
_SWEEP_PATTERNS = (
    # "sweep the scraps into the dustpan with the brush", "brush the bits into the dustpan using the brush"
    re.compile(
        rf"^{_SWEEP_VERBS}\s+{_ARTICLE}(?P<contents>{_PHRASE}){_SWEEP_INTO}\s+{_WITH}\s+{_ARTICLE}"
        rf"(?P<object>{_PHRASE})$"
    ),
    # "sweep the crumbs with the brush into the dustpan"
    re.compile(
        rf"^{_SWEEP_VERBS}\s+{_ARTICLE}(?P<contents>{_PHRASE})\s+{_WITH}\s+{_ARTICLE}(?P<object>{_PHRASE})"
        rf"{_SWEEP_INTO}$"
    ),
    # "use the brush to sweep the scraps into the dustpan", "take the brush and sweep the bits into the pan"
    re.compile(
        rf"^(?:use|take|grab)\s+{_ARTICLE}(?P<object>{_PHRASE})\s+(?:to|and)\s+{_SWEEP_VERBS}\s+{_ARTICLE}"
        rf"(?P<contents>{_PHRASE}){_SWEEP_INTO}$"
    ),
    # "pick up the brush and push the scraps into the dustpan" (a sweep only when the object is a brush)
    re.compile(
        rf"^{_PICK_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})\s+and\s+(?:use\s+it\s+to\s+)?{_TOOL_PUSH_VERBS}"
        rf"\s+{_ARTICLE}(?P<contents>{_PHRASE}){_SWEEP_INTO}$"
    ),
)
"""Ways to ask for the sweep skill, tried after the upright forms and before the pour and placing ones."""
_SWEEP_START = re.compile(rf"^(?:{_SWEEP_VERBS}\b|(?:use|take|grab)\s.*\b(?:to|and)\s+{_SWEEP_VERBS}\b)")
SWEEP_FORM = (
    "a sweep reads 'sweep the scraps into the dustpan with the red brush', 'use the red brush to sweep the "
    "scraps into the dustpan' or 'pick up the red brush and push the scraps into the dustpan'"
)


class SweepPhrases(SkillPhrases):
    name = skill_of(__name__)
    order = 20
    example = "'sweep the scraps into the dustpan with the red brush'"
    summary = "sweep"
    unsupported = ((re.compile(r"\b(?:sweep|sweeping|broom)\b"), "sweeping in this wording"),)
    has_contents = True

    def parse(self, reading: Reading) -> Instruction | None:
        return _parse_sweep(reading.text, reading.prompt, reading.holds)

    def check(self, instruction: Instruction) -> None:
        """A sweep pushes something swept into a dustpan with a brush held by its handle."""
        if instruction.object_noun not in SWEEP_TOOL_NOUNS:
            raise ValueError(
                f"a sweep Instruction sweeps with one of {sorted(SWEEP_TOOL_NOUNS)}, got {instruction.object_noun!r}"
            )
        if (
            instruction.goal_noun not in SWEEP_GOAL_NOUNS
            or instruction.relation != "in"
            or instruction.hold is not None
        ):
            raise ValueError(
                f"a sweep Instruction sweeps into one of {sorted(SWEEP_GOAL_NOUNS)} (relation 'in', no hold), "
                f"got {instruction.relation!r} the {instruction.goal_noun!r}, hold {instruction.hold!r}"
            )
        if instruction.contents_noun not in SWEPT_NOUNS:
            raise ValueError(
                f"a sweep Instruction names what is swept, one of {sorted(SWEPT_NOUNS)}, got "
                f"{instruction.contents_noun!r}"
            )

        super().check(instruction)

    def goal_shape(self, instruction: Instruction) -> str | None:
        return "container"  # a dustpan is hollow


HOOKS = SweepPhrases()


def _parse_sweep(text: str, prompt: str, holds: set[str]) -> Instruction | None:
    """The sweep instruction ``text`` asks for, or ``None`` when it is not a sweep: it neither starts as one
    ("sweep", "brush", "use the X to sweep") nor picks up a brush to push something with it.

    Raises:
        GroundingError: it starts as a sweep in no form read here, sweeps with something that is not a brush,
            into something that is not a dustpan, sweeps something other than small loose things, names
            several tasks or a part to hold.
    """
    matches = [m for m in (pattern.match(text) for pattern in _SWEEP_PATTERNS) if m]
    picked_tool = any(
        read_noun(split_where(m["object"].strip())[0], SWEEP_TOOL_NOUNS) for m in matches
    )  # "pick up the brush and push ..." is a sweep; "pick up the cup and push ..." is not
    if not _SWEEP_START.match(text) and not picked_tool:
        return None
    if not matches:
        raise GroundingError(f"cannot read the prompt {prompt!r} as a sweep: {SWEEP_FORM}")
    match = matches[0]
    if any(names_next_task(match[part]) for part in ("object", "contents", "goal")):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {expected_form()}"
        )
    object_phrase, object_where = split_where(match["object"].strip())
    object_colours, object_noun = read_phrase(object_phrase, prompt, role="tool to sweep with", goal=False)
    if object_noun not in SWEEP_TOOL_NOUNS:
        raise GroundingError(
            f"prompt {prompt!r}: a sweep pushes with a brush, and a {object_noun} is not one; sweep with one of: "
            f"{', '.join(sorted(SWEEP_TOOL_NOUNS))}"
        )
    if holds:
        raise GroundingError(
            f"prompt {prompt!r}: a sweep always holds the {object_phrase} by its handle; leave out the "
            f"{min(holds)}"
        )
    goal_phrase, goal_where = split_where(match["goal"].strip())
    goal_noun = read_noun(goal_phrase, SWEEP_GOAL_NOUNS)
    if goal_noun is None:
        raise GroundingError(
            f"prompt {prompt!r} sweeps into the {goal_phrase}; the pipeline plans a sweep only into a dustpan "
            f"lying open on the table ({', '.join(sorted(SWEEP_GOAL_NOUNS))})"
        )
    goal_colours, goal_noun = read_phrase(goal_phrase, prompt, role="dustpan to sweep into", goal=True)
    if len(goal_colours) > 1:
        raise GroundingError(
            f"prompt {prompt!r}: the dustpan, {goal_phrase!r}, names several colours ({', '.join(goal_colours)}); "
            "name one"
        )
    contents_colour, contents_noun = _read_swept(match["contents"].strip(), prompt)
    return Instruction(
        object_phrase=object_phrase,
        object_colour=object_colours[0] if object_colours else None,
        object_noun=object_noun,
        goal_phrase=goal_phrase,
        goal_colour=goal_colours[0] if goal_colours else None,
        goal_noun=goal_noun,
        relation="in",
        skill=HOOKS.name,
        goal_colours=goal_colours,
        object_where=object_where,
        goal_where=goal_where,
        contents_noun=contents_noun,
        contents_colour=contents_colour,
    )


def _read_swept(phrase: str, prompt: str) -> tuple[str | None, str]:
    """(colour, noun) of what is swept: "red crumbs" → ("red", "crumbs"); "all the scraps" → (None, "scraps")."""
    phrase = re.sub(r"^(?:all\s+(?:of\s+)?)?(?:the\s+)?", "", phrase)
    noun = read_noun(phrase, SWEPT_NOUNS)
    if noun is None:
        raise GroundingError(
            f"prompt {prompt!r}: {phrase!r} is not something a sweep is planned for; sweep small loose things "
            f"({', '.join(sorted(n for n in SWEPT_NOUNS if n.endswith('s')))})"
        )
    words = phrase.split()[: -len(noun.split())]
    colours = list(dict.fromkeys(c for c in (normalise_colour_word(w) for w in words) if c))
    if len(colours) > 1:
        raise GroundingError(f"prompt {prompt!r}: what is swept, {phrase!r}, names several colours; name one")
    return (colours[0] if colours else None), noun
