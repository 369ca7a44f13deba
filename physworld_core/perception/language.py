"""Read a pick-and-place instruction: which object, into what.

The grammar is small on purpose: "<verb> the <colour?> <noun> <in|into|inside|on> the <colour?> <noun>", with
polite and multi-step variants ("please", "pick up the X and put it in the Y"). A prompt outside it is
rejected with the expected form rather than guessed at, because a wrong guess here becomes a video, a twin
and a trained policy for the wrong task.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from physworld_core.errors import GroundingError
from physworld_core.perception.colour import normalise_colour_word

NOUN_SHAPES: dict[str, str | None] = {
    **dict.fromkeys(
        ["can", "soda can", "tin", "tin can", "cylinder", "bottle", "cup", "mug", "jar", "glass", "tube"],
        "cylinder",
    ),
    **dict.fromkeys(["box", "block", "cube", "carton", "brick", "package", "cuboid"], "box"),
    **dict.fromkeys(
        [
            "bin",
            "trash bin",
            "trash can",
            "rubbish bin",
            "waste bin",
            "wastebasket",
            "basket",
            "container",
            "tray",
            "crate",
            "bowl",
            "bucket",
            "tote",
        ],
        "container",
    ),
    **dict.fromkeys(["object", "thing", "item", "one"], None),
}
"""Nouns a prompt may use → the geometric shape class they imply (``None``: any shape)."""

RELATIONS: dict[str, str] = {
    "in": "in",
    "into": "in",
    "inside": "in",
    "inside of": "in",
    "in to": "in",
    "within": "in",
    "on": "on",
    "onto": "on",
    "on to": "on",
    "on top of": "on",
}

_VERBS = r"(?:put|place|drop|move|throw|toss|set|bring|transfer|carry|deposit|stick|dump|get)"
_ARTICLE = r"(?:(?:the|a|an|that|this)\s+)?"
_RELATION = "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))
_PHRASE = r"[a-z][a-z\s\-]*?"

_PATTERNS = (
    # "pick up the red can and put it in the bin"
    re.compile(
        rf"^(?:pick\s+up|grab|take|lift)\s+{_ARTICLE}(?P<object>{_PHRASE})\s+and\s+{_VERBS}\s+(?:it\s+)?"
        rf"(?P<relation>{_RELATION})\s+{_ARTICLE}(?P<goal>{_PHRASE})$"
    ),
    # "put the red can in the bin", "move the mug into the container"
    re.compile(
        rf"^{_VERBS}(?:\s+(?:down|away))?\s+{_ARTICLE}(?P<object>{_PHRASE})\s+(?P<relation>{_RELATION})\s+"
        rf"{_ARTICLE}(?P<goal>{_PHRASE})$"
    ),
)
_POLITE = re.compile(r"^(?:please\s+|can you\s+|could you\s+|now\s+)+|(?:\s+please|\s+now)+$")

EXPECTED_FORM = (
    "expected an instruction like 'put the red can in the bin' "
    "(<verb> the [colour] <object> in/into/on the [colour] <container>)"
)


@dataclass(frozen=True)
class Instruction:
    """A parsed pick-and-place instruction.

    Args:
        object_phrase: the words naming the object to move, as written (e.g. "red soda can").
        object_colour: palette colour of the object, or ``None`` when the prompt gives none.
        object_noun: the noun as written after synonyms are recognised (e.g. "soda can").
        goal_phrase, goal_colour, goal_noun: the same for where it goes.
        relation: "in" or "on".
    """

    object_phrase: str
    object_colour: str | None
    object_noun: str
    goal_phrase: str
    goal_colour: str | None
    goal_noun: str
    relation: str

    def __post_init__(self) -> None:
        for name in ("object_noun", "goal_noun"):
            noun = getattr(self, name)
            if noun not in NOUN_SHAPES:
                raise ValueError(f"Instruction.{name} {noun!r} is not a known noun")
        if self.relation not in set(RELATIONS.values()):
            raise ValueError(f"Instruction.relation must be 'in' or 'on', got {self.relation!r}")

    @property
    def object_shape(self) -> str | None:
        """Shape class the object noun implies (``None`` for "object", "thing")."""
        return NOUN_SHAPES[self.object_noun]

    @property
    def goal_shape(self) -> str | None:
        return NOUN_SHAPES[self.goal_noun]

    def to_dict(self) -> dict:
        return {**asdict(self), "object_shape": self.object_shape, "goal_shape": self.goal_shape}


def parse_instruction(prompt: str) -> Instruction:
    """Parse ``prompt`` into an :class:`Instruction`.

    Raises:
        GroundingError: the prompt is not a pick-and-place instruction of the supported form, or names an
            object kind perception cannot recognise.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise GroundingError(f"the prompt is empty; {EXPECTED_FORM}")
    text = re.sub(r"[^a-z\s\-]", " ", prompt.lower())
    text = _POLITE.sub("", re.sub(r"\s+", " ", text).strip())
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            break
    else:
        raise GroundingError(f"cannot read the prompt {prompt!r}: {EXPECTED_FORM}")
    object_colour, object_noun = _read_phrase(match["object"], prompt, role="object to move")
    goal_colour, goal_noun = _read_phrase(match["goal"], prompt, role="place to put it")
    return Instruction(
        object_phrase=match["object"].strip(),
        object_colour=object_colour,
        object_noun=object_noun,
        goal_phrase=match["goal"].strip(),
        goal_colour=goal_colour,
        goal_noun=goal_noun,
        relation=RELATIONS[match["relation"]],
    )


def _read_phrase(phrase: str, prompt: str, role: str) -> tuple[str | None, str]:
    """Split "big red soda can" into colour "red" and noun "soda can" (the longest known noun at the end)."""
    words = phrase.split()
    noun = None
    for size in (3, 2, 1):
        candidate = " ".join(words[-size:]) if len(words) >= size else None
        if candidate in NOUN_SHAPES:
            noun = candidate
            break
    if noun is None:
        known = sorted({n for n in NOUN_SHAPES if " " not in n})
        raise GroundingError(
            f"prompt {prompt!r}: the {role}, {phrase.strip()!r}, is not a kind of object perception can "
            f"recognise; use one of: {', '.join(known)}"
        )
    colours = [c for c in (normalise_colour_word(w) for w in words[: len(words) - len(noun.split())]) if c]
    if len(set(colours)) > 1:
        raise GroundingError(
            f"prompt {prompt!r}: the {role}, {phrase.strip()!r}, names several colours ({', '.join(colours)}); "
            "name one"
        )
    return (colours[0] if colours else None), noun
