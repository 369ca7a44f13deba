"""How a pour is asked for: "pour the balls from the red cup into the bowl", "tip the marbles out of the mug
into the dish", "empty the blue cup into the basin", "pick up the cup and pour its beads into the bowl".

Its object is the vessel poured from, its goal the container poured into; what is poured is kept apart
(``contents_noun``), because perception finds it inside the vessel, not as an object of its own. Pouring onto
the table or into something that is not a container is refused: the pipeline plans only a pour that something
catches. Its forms are tried after the upright ones ("tip the bottle upright" stands it up) and the sweep ones,
and before the placing ones.
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
    NOUN_SHAPES,
    SUPPORT_NOUNS,
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

POUR_VESSEL_NOUNS: frozenset[str] = frozenset(
    {"cup", "mug", "beaker", "tumbler", "glass", "jar", "bowl", "bucket", "pot", "saucepan", "container"}
)
"""What a prompt may pour from: open vessels a hand lifts and tips. (A can or a bottle is poured through a
narrow mouth the camera cannot see into; a bin or a crate is too big to tip with one hand.)"""

POUR_GOAL_NOUNS: frozenset[str] = frozenset(
    {n for n, shape in NOUN_SHAPES.items() if shape == "container"}
    | {"dish", "cup", "mug", "beaker", "glass", "jar"}
)
"""What a prompt may pour into: containers, and hollow things whose noun elsewhere names a solid ("dish" is a
plate when something is set on it, a bowl when something is poured into it)."""

CONTENTS_NOUNS: frozenset[str] = frozenset(
    {
        "balls",
        "ball",
        "marbles",
        "marble",
        "beads",
        "bead",
        "pellets",
        "pebbles",
        "stones",
        "beans",
        "candies",
        "sweets",
        "spheres",
        "cubes",
        "pieces",
    }
)
"""What a prompt may name as poured ("pour the marbles from the cup..."). "contents" and "everything" name
nothing in particular: such a pour has no ``contents_noun``, like "empty the cup into the bowl"."""

_ANY_CONTENTS = frozenset({"contents", "content", "everything", "all", "stuff"})

_POUR_VERBS = r"(?:pour|empty|tip|tilt)"
_OUT = r"(?:\s+out)?"
_FROM = r"(?:from|out\s+of|from\s+inside|from\s+within|of|in|inside|within)"
_POUR_INTO = rf"(?:\s+(?P<relation>{_RELATION})\s+{_ARTICLE}(?P<goal>{_PHRASE}))?"
_POUR_PATTERNS = (
    # "pick up the cup and pour its balls into the bowl", "... and empty it into the dish"
    re.compile(
        rf"^{_PICK_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})\s+and\s+{_POUR_VERBS}{_OUT}\s+"
        rf"(?:it|them|(?:its|their|the|all)\s+(?:(?:of\s+)?(?:its|the|their)\s+)?(?P<contents>{_PHRASE})){_OUT}"
        rf"{_POUR_INTO}$"
    ),
    # "pour the balls from the cup into the bowl", "tip the marbles out of the red mug into the dish",
    # "pour the marbles in the red mug into the bowl", "pour the contents of the cup into the bowl"
    re.compile(
        rf"^{_POUR_VERBS}{_OUT}\s+(?:all\s+(?:of\s+)?)?{_ARTICLE}(?P<contents>{_PHRASE}){_OUT}\s+{_FROM}\s+"
        rf"{_ARTICLE}(?P<object>{_PHRASE}){_OUT}{_POUR_INTO}$"
    ),
    # "empty the blue cup into the dish", "pour the cup out into the bowl"
    re.compile(rf"^{_POUR_VERBS}{_OUT}\s+{_ARTICLE}(?P<object>{_PHRASE}){_OUT}{_POUR_INTO}$"),
)
"""Ways to ask for the pour skill, tried after the upright forms ("tip the bottle upright" stands it up) and
before the placing ones. A form without a goal still matches, so that pouring onto nothing is refused with
its reason rather than with the generic form."""
_POUR_START = re.compile(rf"^(?:{_POUR_VERBS}\b|{_PICK_VERBS}\s.*\band\s+{_POUR_VERBS}\b)")
POUR_FORM = (
    "a pour reads 'pour the balls from the red cup into the bowl', 'empty the red cup into the bowl' or 'pick "
    "up the red cup and pour its balls into the bowl'"
)


class PourPhrases(SkillPhrases):
    name = skill_of(__name__)
    order = 30
    example = "'pour the balls from the red cup into the bowl'"
    summary = "pour"
    next_task_verbs = ("pour", "empty", "tip", "tilt")
    has_contents = True

    def parse(self, reading: Reading) -> Instruction | None:
        return _parse_pour(reading.text, reading.prompt, reading.holds)

    def check(self, instruction: Instruction) -> None:
        """A pour tips an open vessel into a container, held anywhere on its body."""
        if instruction.object_noun not in POUR_VESSEL_NOUNS:
            raise ValueError(
                f"a pour Instruction pours from one of {sorted(POUR_VESSEL_NOUNS)}, got {instruction.object_noun!r}"
            )
        if (
            instruction.goal_noun not in POUR_GOAL_NOUNS
            or instruction.relation != "in"
            or instruction.hold is not None
        ):
            raise ValueError(
                f"a pour Instruction pours into a container (relation 'in', no hold), got {instruction.relation!r} "
                f"the {instruction.goal_noun!r}, hold {instruction.hold!r}"
            )
        if instruction.contents_noun is not None and instruction.contents_noun not in CONTENTS_NOUNS:
            raise ValueError(
                f"Instruction.contents_noun must be one of {sorted(CONTENTS_NOUNS)} or None, got "
                f"{instruction.contents_noun!r}"
            )
        if (
            instruction.contents_colour is not None
            and normalise_colour_word(instruction.contents_colour) != instruction.contents_colour
        ):
            raise ValueError(
                f"Instruction.contents_colour must be a palette name, got {instruction.contents_colour!r}"
            )
        super().check(instruction)

    def object_shape(self, instruction: Instruction) -> str | None:
        """Whatever its noun, a vessel poured from is hollow."""
        return "container"

    def goal_shape(self, instruction: Instruction) -> str | None:
        return "container"  # poured into: "the dish" is a bowl here, not a plate


HOOKS = PourPhrases()


def _parse_pour(text: str, prompt: str, holds: set[str]) -> Instruction | None:
    """The pour instruction ``text`` asks for, or ``None`` when it does not start as a pour ("pour", "empty",
    "tip" first, or "pick up the X and pour ...").

    Raises:
        GroundingError: it is a pour in no form read here, pours onto the table or into nothing, into
            something that is not a container, out of something that is not an open vessel, or by a part.
    """
    if not _POUR_START.match(text):
        return None
    matches = [m for m in (pattern.match(text) for pattern in _POUR_PATTERNS) if m]
    if not matches:
        raise GroundingError(f"cannot read the prompt {prompt!r} as a pour: {POUR_FORM}")
    # "empty the cup in the bowl" also reads as pouring a "cup" out of the bowl into nothing: a reading with a
    # goal wins; among those, the first form's.
    match = next((m for m in matches if m["goal"]), matches[0])
    parts = [match["object"], match.groupdict().get("contents") or "", match["goal"] or ""]
    if any(names_next_task(part) for part in parts):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {expected_form()}"
        )
    object_phrase, object_where = split_where(match["object"].strip())
    if holds:
        raise GroundingError(
            f"prompt {prompt!r}: a pour grasps the {object_phrase} across its body and tips it; pouring while "
            f"holding it by its {min(holds)} is not planned (leave out the {min(holds)})"
        )
    if _is_contents(object_phrase) and not read_noun(object_phrase, POUR_VESSEL_NOUNS):
        raise GroundingError(
            f"prompt {prompt!r} names what to pour ({object_phrase!r}) but not the vessel it is in; {POUR_FORM}"
        )
    object_phrase = re.sub(r"\s+over$", "", object_phrase)  # "tip the cup over"
    object_colours, object_noun = read_phrase(object_phrase, prompt, role="vessel to pour from", goal=False)
    if object_noun not in POUR_VESSEL_NOUNS:
        raise GroundingError(
            f"prompt {prompt!r}: a pour tips an open vessel, and a {object_noun} is not one the pipeline pours "
            f"from; pour from one of: {', '.join(sorted(POUR_VESSEL_NOUNS))}"
        )
    if not match["goal"]:
        raise GroundingError(
            f"prompt {prompt!r} pours out of the {object_phrase} onto nothing; the pipeline plans only a pour "
            f"into a container that catches it (say into which: 'pour ... into the bowl'); {POUR_FORM}"
        )
    goal_phrase, goal_where = split_where(match["goal"].strip())
    if read_noun(goal_phrase, SUPPORT_NOUNS):
        raise GroundingError(
            f"prompt {prompt!r} pours onto the {goal_phrase}; the pipeline plans only a pour into a container "
            f"that catches it (a bowl, dish, basin, bin...), not onto the table"
        )
    goal_colours, goal_noun = read_phrase(goal_phrase, prompt, role="container to pour into", goal=True)
    if goal_noun not in POUR_GOAL_NOUNS:
        raise GroundingError(
            f"prompt {prompt!r} pours into the {goal_phrase}, which is not a container: a pour needs something "
            f"hollow to catch it; pour into one of: {', '.join(sorted(n for n in POUR_GOAL_NOUNS if ' ' not in n))}"
        )
    if len(goal_colours) > 1:
        raise GroundingError(
            f"prompt {prompt!r}: the container to pour into, {goal_phrase!r}, names several colours "
            f"({', '.join(goal_colours)}); name one"
        )
    contents_colour, contents_noun = _read_contents(match.groupdict().get("contents"), prompt)
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


def _is_contents(phrase: str) -> bool:
    return read_noun(phrase, CONTENTS_NOUNS | _ANY_CONTENTS) is not None


def _read_contents(phrase: str | None, prompt: str) -> tuple[str | None, str | None]:
    """(colour, noun) of what is poured: "red marbles" → ("red", "marbles"); nothing named, or "contents",
    "everything" → (None, None)."""
    if phrase is None or not phrase.strip():
        return None, None
    phrase = phrase.strip()
    noun = read_noun(phrase, CONTENTS_NOUNS | _ANY_CONTENTS)
    if noun is None:
        raise GroundingError(
            f"prompt {prompt!r}: {phrase!r} is not something a pour is planned for; pour small solid things "
            f"({', '.join(sorted(n for n in CONTENTS_NOUNS if n.endswith('s')))}) or say 'empty the cup into "
            "the bowl'"
        )
    words = phrase.split()[: -len(noun.split())]
    colours = list(dict.fromkeys(c for c in (normalise_colour_word(w) for w in words) if c))
    if len(colours) > 1:
        raise GroundingError(
            f"prompt {prompt!r}: what is poured, {phrase!r}, names several colours; name one"
        )
    if noun in _ANY_CONTENTS:
        return None, None
    return (colours[0] if colours else None), noun
