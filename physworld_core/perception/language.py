"""Read a manipulation instruction: which object, to where, and by which skill.

This is the reader's core: the words every skill shares (object and goal nouns, colours, where an object is in
the picture, a part to hold it by, the relations "in" and "on"), the instruction it produces
(:class:`Instruction`) and the loop that offers a prompt to every skill's own phrases. Which wordings ask for
which skill lives with the skill, in ``physworld_core/skills/<skill>/language.py`` (a :class:`SkillPhrases`):
each one either claims the prompt, refuses it with the reason, or passes. A prompt no skill claims is refused
with the forms that are read, rather than guessed at, because a wrong guess here becomes a video, a twin and a
trained policy for the wrong task.

The core also holds the one grammar two skills share, "<verb> the <colour?> <noun> <in|into|inside|on|onto|to>
the <colour?> <noun>" with its polite and multi-step variants ("please", "pick up the X and put it in the
Y"): :func:`read_move`. Placing verbs ("put", "place", "drop"...) and pushing verbs ("push", "slide",
"shove"... or "... by pushing it") both read through it, and the place and push skills decide what the verb
makes of it. A goal may be an object (a bin, a box) or a flat region marked on the table ("the red and white
target"); only a region may be named by several colours, because a marking is a pattern while an object is
named by its own colour.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, ClassVar

from physworld_core.errors import GroundingError
from physworld_core.perception import nlp
from physworld_core.perception.colour import normalise_colour_word
from physworld_core.perception.nlp import SIZE_WORDS, noun_phrase
from physworld_core.skills.registry import DEFAULT_SKILL, all_layer_hooks, check_skill, layer_hooks

NOUN_SHAPES: dict[str, str | None] = {
    **dict.fromkeys(
        [
            "can",
            "soda can",
            "tin",
            "tin can",
            "cylinder",
            "bottle",
            "cup",
            "mug",
            "beaker",
            "tumbler",
            "jar",
            "glass",
            "tube",
            "drum",
        ],
        "cylinder",
    ),
    **dict.fromkeys(
        ["box", "block", "cube", "carton", "brick", "package", "cuboid", "slab", "board", "plank"], "box"
    ),
    # A book standing on its edge is a thin box.
    **dict.fromkeys(["book", "notebook", "hardcover", "paperback", "novel", "textbook", "binder"], "box"),
    # Flat round things and prisms with many sides read as round footprints from one view.
    **dict.fromkeys(["puck", "disc", "disk", "coaster", "hexagon", "hex block", "hex", "nut"], "cylinder"),
    # Lids, plates and platforms are flat round solids: a lid's dome and knob do not change its footprint.
    **dict.fromkeys(
        ["lid", "pot lid", "cover", "plate", "platter", "dish", "saucer", "platform", "stand", "pedestal"],
        "cylinder",
    ),
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
            "basin",
            "bucket",
            "tote",
            "pot",
            "cooking pot",
            "saucepan",
            "stockpot",
            "shoebox",
            "shoe box",
            "trash",
            "garbage",
            "garbage bin",
            "garbage can",
            "dustbin",
            "recycling bin",
            "wastebin",
        ],
        "container",
    ),
    # A dustpan is a flat tray with low walls and an open front: hollow.
    **dict.fromkeys(["dustpan", "dust pan"], "container"),
    # Irregular shapes: perception knows them by colour and place; their footprint says nothing reliable.
    **dict.fromkeys(
        [
            "object",
            "thing",
            "item",
            "one",
            "shoe",
            "sneaker",
            "slipper",
            "baby shoe",
            "base",
            "toy",
            "pan",
            "frying pan",
            "skillet",
            "brush",
            "hand brush",
            "sweeping brush",
            "broom",
            "hand broom",
        ],
        None,
    ),
}
"""Nouns a prompt may use → the geometric shape class they imply (``None``: any shape)."""

SHELF_NOUNS: frozenset[str] = frozenset(
    {"shelf", "bookshelf", "book shelf", "book rack", "bookcase", "rack", "shelving", "book stand"}
)
"""Goals whose board holds a row of things standing side by side (books): the object goes into the free gap of
the row, standing up like its neighbours, whatever the preposition ("on the shelf", "in the empty slot of the
bookcase"). Their shape class is "shelf"."""

REGION_NOUNS: frozenset[str] = frozenset(
    {
        "target",
        "goal",
        "goal region",
        "target region",
        "region",
        "area",
        "zone",
        "spot",
        "mark",
        "marker",
        "circle",
        "disc",
        "disk",
        "ring",
        "bullseye",
        "square",
        "pad",
        "patch",
        "mat",
        "cross",
    }
)
"""Nouns that, as the goal, mean a flat marking on the table (shape class "region"): it has no height, so
perception finds it by colour on the support plane rather than above it. As the goal they take precedence over
:data:`NOUN_SHAPES` ("push the puck onto the disc": the disc is drawn, not an object)."""

TABLE_NOUN = "table"
"""The goal noun of an upright instruction: the object ends standing on the table it lies on."""

SUPPORT_NOUNS: frozenset[str] = frozenset(
    {"table", "tabletop", "table top", "desk", "counter", "countertop", "worktop", "surface"}
)
"""Words a prompt may use for the table an object is stood up on ("upright on the desk")."""

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
    "to": "on",
    "towards": "on",
    "toward": "on",
    "over to": "on",
}

_VERBS = (
    r"(?:put|place|drop|move|throw|toss|set|bring|transfer|carry|deposit|stick|dump|get|stack|pack|lay|rest|"
    r"stow|return|shelve|stand|insert|slot)"
)
_COVER_VERBS = r"(?:cover|close|cap)"
_PICK_VERBS = r"(?:pick\s+up|pick|grab|take|lift|hold)"
_PARTICLE = r"(?:\s+(?:down|away|back))?"
_PUSH_VERBS = r"(?:push|slide|shove|nudge|shift|pull|drag)"
_ARTICLE = r"(?:(?:the|a|an|that|this)\s+)?"
_RELATION = "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))
_PHRASE = r"[a-z][a-z\s\-]*?"

ATTITUDE = r"(?:back\s+)?(?:upright|up\s*right|on\s+(?:its|their)\s+(?:base|bottom|end))"
"""Words saying how an object stands ("upright", "on its base"): what the upright skill asks for, and noise in a
placement ("put the book upright on the shelf": a shelf's row stands the book up anyway)."""

_MOVE_PATTERNS = (
    # "pick up the red can and put it in the bin", "pick the can up and put it in the bin"
    # "pick up the yellow brick and set it down on the blue drum"
    re.compile(
        rf"^{_PICK_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})(?:\s+up)?\s+and\s+{_VERBS}(?:\s+it)?"
        rf"{_PARTICLE}\s+(?P<relation>{_RELATION})\s+{_ARTICLE}(?P<goal>{_PHRASE})$"
    ),
    # "put the red can in the bin", "move the mug into the container"
    re.compile(
        rf"^{_VERBS}{_PARTICLE}\s+{_ARTICLE}(?P<object>{_PHRASE}){_PARTICLE}\s+(?P<relation>{_RELATION})\s+"
        rf"{_ARTICLE}(?P<goal>{_PHRASE})$"
    ),
    # "cover the pot with the lid": the object goes on the goal
    re.compile(
        rf"^{_COVER_VERBS}\s+{_ARTICLE}(?P<goal>{_PHRASE})\s+(?P<cover>with)\s+{_ARTICLE}"
        rf"(?P<object>{_PHRASE})$"
    ),
    # "pick up the lid and close the pot with it"
    re.compile(
        rf"^{_PICK_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})\s+and\s+{_COVER_VERBS}\s+"
        rf"{_ARTICLE}(?P<goal>{_PHRASE})\s+(?P<cover>with)\s+it$"
    ),
    # "push the cube onto the red and white target", "slide the puck to the circle"
    re.compile(
        rf"^(?P<push>{_PUSH_VERBS})\s+{_ARTICLE}(?P<object>{_PHRASE})\s+(?:across\s+the\s+table\s+)?"
        rf"(?P<relation>{_RELATION})\s+{_ARTICLE}(?P<goal>{_PHRASE})$"
    ),
)
"""The moving forms: placing verbs (the first four) and pushing verbs (the last), tried in this order."""
_PUSH_SUFFIX = re.compile(r"\s+by\s+(?:pushing|sliding|shoving|nudging)(?:\s+it)?$")
_HOLD_PART = re.compile(
    r"(?:\s*,)?\s+(?:(?:holding|gripping)\s+it\s+by|held\s+by|by|holding|gripping|using)\s+(?:its|the)\s+"
    r"(?P<part>handle)\b"
)
_LEADING_HOLD = re.compile(r"^(?:holding\s+it\s+by|by|using)\s+(?:its|the)\s+(?P<part>handle)\s*,?\s+")
_PART_OF = re.compile(r"\bthe\s+(?P<part>handle)\s+of\s+(?=the\b)|(?<=[a-z])\s+s\s+(?P<owned>handle)\b")
HOLD_PARTS: tuple[str, ...] = ("handle",)
"""Parts a prompt may say to hold the object by ("by its handle", "the handle of the pan"): the object is then
grasped only on a part of that kind (for a handle, an arm sticking out of its body, ``reconstruction.arms``)."""
_SLOT_WORDS = re.compile(
    r"\b(?:in|into|inside|on|onto)\s+(?:the|a|an)\s+(?:(?:empty|free|open|vacant|only|last)\s+)?"
    r"(?:slot|gap|space|opening)\s+(?:of|on|in)\s+"
)
""""in the empty slot of the shelf" → "in the shelf": which gap is the free one is for perception to find."""
_THEN = re.compile(r"\s*,?\s+(?:and\s+)?then\s+")
SIDES: tuple[str, ...] = ("left", "right", "front", "back")
"""Where in the picture a prompt may place an object ("the bin on the left", "the right bin"): the side of the
image, front being nearer the camera. Used only to choose among objects that match equally well otherwise."""
_SIDE_WORDS = re.compile(
    r"\s+(?:that\s+is\s+|which\s+is\s+)?(?:on|to|at)\s+the\s+(?:far\s+)?(?P<side>left|right|front|back)"
    r"(?:\s+side)?(?:\s+of\s+the\s+(?:table|image|picture))?\b"
)
"""A side named after a noun, anywhere in the prompt: it is turned into a "side-left" token glued to the noun
before the prompt's form is matched, so "the can on the right" is not read as a relation ("on")."""
_SIDE_TOKEN = re.compile(r"\s+side-(?P<side>left|right|front|back)$")
SIZES: tuple[str, ...] = ("big", "small", "tall", "short")
"""Relative sizes a prompt may give an object ("the big bowl", "the smallest cube"), as
:data:`~physworld_core.perception.nlp.SIZE_WORDS` reads them: used, like a side, only to choose among objects
that match equally well otherwise."""
_SIDE_PREFIX = re.compile(r"^(?P<side>left|right|front|back)(?:most)?\s+")
_NEAR_WORDS = re.compile(
    r"\s+(?:that\s+is\s+|which\s+is\s+)?(?:next\s+to|near|beside|close\s+to)\s+(?:the|a)\s+"
    rf"(?P<near>(?:[a-z\-]+\s+)*?[a-z\-]+)(?=\s+(?:{_RELATION})\s+|$)"
)
"""A landmark named after a noun ("the bin next to the box"), made a "near-box" token like the sides."""
_NEAR_TOKEN = re.compile(r"\s+near-(?P<near>[a-z\-]+)$")
_POLITE = re.compile(r"^(?:please\s+|can you\s+|could you\s+|now\s+)+|(?:\s+please|\s+now)+$")

MOVE_VERBS = (_VERBS, _PUSH_VERBS, _PICK_VERBS, _COVER_VERBS)
"""Verbs that start a task of their own after "and" ("... and then push the block"), with each skill's
:attr:`SkillPhrases.next_task_verbs`."""


@dataclass
class Reading:
    """A prompt as the core has normalised it, offered to every skill's phrases in turn.

    Args:
        text: lower case, letters only, polite words, a part to hold it by, "by pushing it", "the empty slot
            of" and "then" taken out; sides and landmarks glued to their nouns as tokens ("side-left",
            "near-box").
        prompt: the prompt as given (for messages, and for what the letters-only text drops: numbers).
        holds: parts the prompt says to hold the object by ("handle").
        slot_named: the prompt asked for a slot or gap ("in the empty slot of the shelf").
        by_pushing: the prompt ended "by pushing it" (or sliding, shoving, nudging).
    """

    text: str
    prompt: str
    holds: set[str]
    slot_named: bool
    by_pushing: bool
    _move: Any = field(default=None, repr=False)


class SkillPhrases:
    """The language hooks of one skill (``physworld_core/skills/<skill>/language.py`` sets ``HOOKS`` to an
    instance of a subclass). The defaults are the placing skill's reading of an instruction.

    Attributes:
        order: when the skill is offered a prompt, lowest first (a skill whose forms contain another's
            goes first: "set the bottle upright on the table" is a stand-up, not a placement).
        example: one prompt of the skill, for the message that lists what is read.
        summary: what the skill does, in a word or two, for the message listing what is planned.
        unsupported: (words, what is asked) pairs: a prompt unread by every skill that holds the words asks for
            this skill in a wording not read yet, and is refused saying so.
        next_task_verbs: verbs of this skill that start a second task after "and" (see :data:`MOVE_VERBS`).
        relations: the relations an instruction of this skill may have to its goal.
        has_contents: an instruction of this skill may name what is moved with the object (poured, swept).
        holds_parts: an instruction of this skill may name a part to hold the object by.
        stored_types: the types of its instructions' ``details`` (stored with the perception).
    """

    name: str = ""
    order: ClassVar[int] = 100
    example: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    unsupported: ClassVar[tuple[tuple[re.Pattern, str], ...]] = ()
    next_task_verbs: ClassVar[tuple[str, ...]] = ()
    relations: ClassVar[tuple[str, ...]] = ("in", "on")
    has_contents: ClassVar[bool] = False
    holds_parts: ClassVar[bool] = False
    stored_types: ClassVar[tuple[type, ...]] = ()

    def parse(self, reading: Reading) -> Instruction | None:
        """The instruction ``reading`` asks for in this skill's wording, or ``None`` when it is not in it.

        Raises:
            GroundingError: it is in this skill's wording but asks for what the skill cannot plan."""
        return None

    def check(self, instruction: Instruction) -> None:
        """Raise ``ValueError`` if ``instruction`` is not one this skill can have (called when it is made).

        By default its goal is a thing on the table, not the table itself (see :func:`refuse_table_goal`)."""
        if instruction.goal_noun in SUPPORT_NOUNS:
            raise ValueError(
                f"Instruction.goal_noun {instruction.goal_noun!r} is the table everything stands on; a "
                f"{instruction.skill!r} goal is a thing on it"
            )

    def object_shape(self, instruction: Instruction) -> str | None:
        """Shape class the object noun implies (``None`` for "object", "thing", and for a noun the reader has
        no prior for: its shape is then read from geometry alone)."""
        return NOUN_SHAPES.get(instruction.object_noun)

    def goal_shape(self, instruction: Instruction) -> str | None:
        """Shape class of the goal: "region" for a flat marking, "shelf" for a shelf, else as
        :data:`NOUN_SHAPES` says."""
        if instruction.goal_noun in REGION_NOUNS:
            return "region"
        if instruction.goal_noun in SHELF_NOUNS:
            return "shelf"
        shape = NOUN_SHAPES.get(instruction.goal_noun)
        # Only a hollow thing holds an object: "in the box" asks for an open box, not a solid block.
        return "container" if instruction.relation == "in" and shape in ("box", None) else shape

    def has_goal_object(self, instruction: Instruction) -> bool:
        """Whether the goal is an object perception must find (not the table the object lies on)."""
        return True


def phrases_of(skill: str) -> SkillPhrases:
    """The language hooks of ``skill``."""
    return layer_hooks(skill, "language", SkillPhrases)


@cache
def _in_parse_order() -> tuple[SkillPhrases, ...]:
    return tuple(sorted(all_layer_hooks("language", SkillPhrases), key=lambda p: p.order))


@cache
def _next_step() -> re.Pattern:
    verbs = [*MOVE_VERBS, *(v for p in all_layer_hooks("language", SkillPhrases) for v in p.next_task_verbs)]
    return re.compile(rf"\band\s+(?:{'|'.join(verbs)})\b")


def names_next_task(text: str) -> bool:
    """Whether ``text`` goes on with a second task after "and" ("... and push the block")."""
    return _next_step().search(text) is not None


def expected_form() -> str:
    """The message part that lists the wordings every skill reads, with an example of each."""
    examples = " or ".join(p.example for p in all_layer_hooks("language", SkillPhrases) if p.example)
    return f"expected an instruction like {examples}"


def _planned_skills() -> str:
    summaries = [p.summary for p in all_layer_hooks("language", SkillPhrases) if p.summary]
    return ", ".join(summaries[:-1]) + " and " + summaries[-1] if len(summaries) > 1 else "".join(summaries)


@dataclass(frozen=True)
class Instruction:
    """A parsed instruction.

    Args:
        object_phrase: the words naming the object to move, as written (e.g. "red soda can").
        object_colour: palette colour of the object, or ``None`` when the prompt gives none.
        object_noun: the noun as written after synonyms are recognised (e.g. "soda can").
        goal_phrase, goal_colour, goal_noun: the same for where it goes.
        relation: how it ends up to its goal: "in" or "on" (or a relation of the skill's own, see
            :attr:`SkillPhrases.relations`).
        skill: the registered skill that does it (``physworld_core/skills/<skill>/``); each checks what its
            instructions may say (:meth:`SkillPhrases.check`).
        goal_colours: every colour named for the goal (a patterned region: "red and white"); the first is
            ``goal_colour``.
        hold: the part of the object to hold it by ("handle"), or ``None``: anywhere the hand can.
        object_where, goal_where: where the prompt says the object or the goal is, or how big, to choose
            among objects that match equally well otherwise: one of :data:`SIDES` or :data:`SIZES`, or "near
            <phrase>" ("the bin next to the box"); ``None`` when it says nothing.
        contents_noun: what the skill moves along with the object and into the goal, as the prompt names it
            (what is poured out of a cup, what a brush sweeps); ``None`` when it names nothing or the skill
            moves nothing else (:attr:`SkillPhrases.has_contents`).
        contents_colour: the colour the prompt gives what is poured or swept ("the red beads"), else ``None``.
        details: what the skill reads beyond these (a height to lift to), as the skill's own frozen type;
            ``None`` when it reads nothing more.
    """

    object_phrase: str
    object_colour: str | None
    object_noun: str
    goal_phrase: str
    goal_colour: str | None
    goal_noun: str
    relation: str
    skill: str = DEFAULT_SKILL
    goal_colours: tuple[str, ...] = ()
    hold: str | None = None
    object_where: str | None = None
    goal_where: str | None = None
    contents_noun: str | None = None
    contents_colour: str | None = None
    details: Any = None

    def __post_init__(self) -> None:
        for where in (self.object_where, self.goal_where):
            if where is not None and where not in SIDES + SIZES and not where.startswith("near "):
                raise ValueError(
                    f"Instruction: where must be one of {SIDES + SIZES} or 'near <phrase>', got {where!r}"
                )
        for role, noun in (("object_noun", self.object_noun), ("goal_noun", self.goal_noun)):
            if not isinstance(noun, str) or not re.fullmatch(r"[a-z][a-z\- ]*", noun):
                raise ValueError(f"Instruction.{role} must be lower-case words, got {noun!r}")
        phrases = phrases_of(check_skill(self.skill, "Instruction.skill"))
        if not phrases.has_contents and (self.contents_noun, self.contents_colour) != (None, None):
            movers = " or ".join(p.name for p in all_layer_hooks("language", SkillPhrases) if p.has_contents)
            raise ValueError(
                f"a {self.skill!r} Instruction names no contents (only a {movers} Instruction names what it "
                f"moves into the goal), got contents {self.contents_colour!r} {self.contents_noun!r}"
            )
        phrases.check(self)
        if self.relation not in phrases.relations:
            raise ValueError(
                f"Instruction.relation must be {' or '.join(map(repr, phrases.relations))}, got {self.relation!r}"
            )
        if self.hold is not None and (self.hold not in HOLD_PARTS or not phrases.holds_parts):
            raise ValueError(
                f"Instruction.hold must be one of {HOLD_PARTS} on a placing task, got {self.hold!r}"
            )
        colours = tuple(self.goal_colours) or ((self.goal_colour,) if self.goal_colour else ())
        object.__setattr__(self, "goal_colours", colours)
        if colours and colours[0] != self.goal_colour:
            raise ValueError("Instruction.goal_colours must start with goal_colour")
        if len(colours) > 1 and self.goal_shape != "region":
            raise ValueError("only a region goal may be named by several colours")

    @property
    def phrases(self) -> SkillPhrases:
        """The language hooks of this instruction's skill."""
        return phrases_of(self.skill)

    @property
    def object_shape(self) -> str | None:
        """Shape class the object noun implies (``None`` for "object", "thing"), as the skill reads it."""
        return self.phrases.object_shape(self)

    @property
    def goal_shape(self) -> str | None:
        """Shape class of the goal, as the skill reads it: "region" for a flat marking, "shelf" for a shelf,
        else as :data:`NOUN_SHAPES` says (see :meth:`SkillPhrases.goal_shape`)."""
        return self.phrases.goal_shape(self)

    @property
    def has_goal_object(self) -> bool:
        """Whether perception must find the goal among the objects (not for a goal that is the table)."""
        return self.phrases.has_goal_object(self)

    def to_dict(self) -> dict:
        d = asdict(self)
        details = d.pop("details")
        if details is not None:
            d["details"] = details
        return {**d, "object_shape": self.object_shape, "goal_shape": self.goal_shape}


def parse_instruction(prompt: str) -> Instruction:
    """Parse ``prompt`` into an :class:`Instruction`: the first skill (in :attr:`SkillPhrases.order`) whose
    phrases claim it reads it.

    Raises:
        GroundingError: no skill reads the prompt, one that does refuses what it asks, or it names an object
            kind perception cannot recognise.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise GroundingError(f"the prompt is empty; {expected_form()}")
    reading = normalise(prompt)
    unread = None
    try:
        instruction = _claimed(reading)
    except UnreadPhrase as error:
        instruction, unread = None, error
    if instruction is not None:
        return instruction
    # In no skill's wording (or cut in the wrong place by one): read the sentence's grammar and offer the
    # skills what it asks, said plainly. A skill's refusal of the plain wording with the prompt's own verb
    # stands: "push the can into the bin" is not turned into a placement by the fallback verb.
    parsed = nlp.parse(prompt)
    for plain in rephrasings(parsed, prompt):
        try:
            instruction = _claimed(normalise(plain), prompt)
        except GroundingError as error:
            if parsed.tool is not None:
                break  # the skill that read it makes no use of the tool: refused below, naming the tool
            raise (unread or error) from None
        if instruction is not None:
            return instruction
    refuse_unsupported(without_attitude(reading.text), prompt)
    why = unplanned(parsed)
    if why is not None:
        raise GroundingError(
            f"prompt {prompt!r} reads as: {parsed.describe()}; {why}. The pipeline plans {_planned_skills()} "
            f"tasks: {expected_form()}"
        )
    if unread is not None:
        raise unread
    raise GroundingError(f"cannot read the prompt {prompt!r}: {expected_form()}")


def _claimed(reading: Reading, prompt: str | None = None) -> Instruction | None:
    """The instruction of the first skill whose phrases read ``reading``; ``None`` when none does. With
    ``prompt`` (a rephrasing of it), an error a skill raises names the prompt as the user gave it."""
    try:
        for phrases in _in_parse_order():
            instruction = phrases.parse(reading)
            if instruction is not None:
                return instruction
    except GroundingError as error:
        if prompt is None:
            raise
        raise GroundingError(f"{error} (read from {prompt!r})") from None
    return None


PLAIN_RELATIONS: dict[str, str] = {
    "in": "in",
    "into": "in",
    "inside": "in",
    "within": "in",
    "inside of": "in",
    "in the middle of": "in",
    "on": "on",
    "onto": "on",
    "upon": "on",
    "on top of": "on",
    "over": "on",
    "to": "to",
    "towards": "to",
    "toward": "to",
    "above": "above",
}
"""Prepositions of a goal (as :func:`~physworld_core.perception.nlp.parse` reads them) → the relation the
skills' plain wording uses. A relation outside it ("next to", "behind", "left of") is one no skill plans."""

PLAIN_VERB = "put"
"""The verb a rephrasing falls back to when the prompt's own verb is in no skill's wording: "tidy the spoon
into the drawer" asks for what "put the spoon into the drawer" does (the default skill's verb)."""


_REQUEST = re.compile(
    r"^(?:please\s+)?(?:i|we)\s*(?:'d|would)?\s+(?:want|need|like|prefer)\s+(?P<rest>the\s+.+)$"
)
"""A request for how things should end up: "I want the lid on the pot", "we'd like the cube in the bin"."""


def rephrasings(parsed: nlp.Parse, prompt: str = "") -> list[str]:
    """Plain wordings of what ``parsed`` (``prompt``'s parse) asks, best first, for the skills' phrases to
    read: the prompt's own verb, then :data:`PLAIN_VERB`; a request for an end state ("I want the lid on the
    pot") as the placement that makes it, whatever the parser made of it. Empty when it asks for nothing the
    plain wordings can say (a goal given as a distance or beside something, a tool)."""
    request = _REQUEST.match(nlp.clean(prompt))
    if parsed.tool is None and parsed.offset is None and request is not None:
        return [*_rephrased(parsed), f"{PLAIN_VERB} {request['rest']}"]
    if parsed.tool is not None:
        # A skill whose wording names a tool ("sweep the scraps into the dustpan with the brush") may read it;
        # with the fallback verb a tool would be dropped silently, so only the prompt's own verb is offered.
        return [f"{plain} with the {parsed.tool.text}" for plain in _rephrased(parsed)[:1]]
    return _rephrased(parsed)


def _rephrased(parsed: nlp.Parse) -> list[str]:
    if parsed.object is None:
        return []
    part = f" by its {parsed.part}" if parsed.part else ""
    verbs = list(dict.fromkeys(v for v in (parsed.verb, PLAIN_VERB) if v))
    if parsed.state == "upright" and parsed.goal is None and parsed.offset is None:
        return [f"stand the {parsed.object.text} upright{part}"]
    if parsed.offset is not None:
        if parsed.goal is None and parsed.offset.direction == "up" and parsed.offset.reference is None:
            distance = "" if parsed.offset.metres is None else f" {parsed.offset.metres * 100:g} cm"
            return [f"lift the {parsed.object.text}{distance}"]
        return []
    if parsed.goal is None or parsed.relation not in PLAIN_RELATIONS:
        return []
    relation = PLAIN_RELATIONS[parsed.relation]
    source = f" from the {parsed.source.text}" if parsed.source is not None else ""
    return [
        f"{verb} the {parsed.object.text}{source} {relation} the {parsed.goal.text}{part}" for verb in verbs
    ]


def unplanned(parsed: nlp.Parse) -> str | None:
    """Why no skill plans what ``parsed`` asks, in words; ``None`` when the prompt was not understood."""
    if parsed.object is None:
        return None
    if parsed.tool is not None:
        return f"no skill plans using a tool (the {parsed.tool.text}) yet"
    if parsed.offset is not None:
        return "no skill plans a goal given as a distance or a direction yet"
    if parsed.goal is not None and parsed.relation not in PLAIN_RELATIONS:
        return f"no skill plans placing an object '{parsed.relation}' another yet"
    if parsed.goal is None:
        return "it names no place for the object to go"
    return None


class UnreadPhrase(GroundingError):
    """A skill's wording matched the prompt but one of its phrases is no noun phrase ("the basket for me"): the
    pattern cut the sentence in the wrong place, so the sentence's grammar gets to read it instead."""


def normalise(prompt: str) -> Reading:
    """The prompt in lower case letters, its parts to hold by, slot words, sides and landmarks read (see
    :class:`Reading`)."""
    text = re.sub(r"[^a-z\s\-]", " ", prompt.lower())
    text = _POLITE.sub("", re.sub(r"\s+", " ", text).strip())
    by_pushing = _PUSH_SUFFIX.search(text) is not None
    text = _PUSH_SUFFIX.sub("", text)
    holds = {
        m["part"] or m.groupdict().get("owned")
        for m in (*_HOLD_PART.finditer(text), *_LEADING_HOLD.finditer(text), *_PART_OF.finditer(text))
    }
    text = _PART_OF.sub("", _LEADING_HOLD.sub("", _HOLD_PART.sub("", text)))
    slot_named = _SLOT_WORDS.search(text) is not None
    text = _SLOT_WORDS.sub("in ", text)
    text = _THEN.sub(" and ", text)  # "pick up the can, then put it in the bin"
    text = _SIDE_WORDS.sub(lambda m: f" side-{m['side']}", text)
    text = _NEAR_WORDS.sub(lambda m: " near-" + "-".join(m["near"].split()), text)
    return Reading(text, prompt, holds, slot_named, by_pushing)


def without_attitude(text: str) -> str:
    """``text`` without words saying how the object stands (:data:`ATTITUDE`), which a placement ignores."""
    return re.sub(rf"\s+{ATTITUDE}(?=\s)", "", text)


@dataclass(frozen=True)
class MoveReading:
    """A prompt in one of the moving forms (:func:`read_move`): the phrases read, and which verb it used.

    Args:
        object_phrase, object_where, object_colours, object_noun: the object, as :func:`read_phrase` reads it.
        goal_phrase, goal_where, goal_colours, goal_noun: the same for the goal.
        relation: "in" or "on" ("cover the pot with the lid": "on").
        pushed: a pushing verb, or "by pushing it".
        push_verb: a pushing verb ("push", "slide"...), not only the suffix.
        object_text, relation_text, goal_text: the words as matched, for messages.
    """

    object_phrase: str
    object_where: str | None
    object_colours: tuple[str, ...]
    object_noun: str
    goal_phrase: str
    goal_where: str | None
    goal_colours: tuple[str, ...]
    goal_noun: str
    relation: str
    pushed: bool
    push_verb: bool
    object_text: str
    relation_text: str | None
    goal_text: str


def read_move(reading: Reading) -> MoveReading | None:
    """The prompt read in the moving forms ("<verb> the X <in|on> the Y", :data:`_MOVE_PATTERNS`), or ``None``
    when it is in none of them. Read once per prompt, whichever skill asks.

    Raises:
        GroundingError: it names two tasks, an object or goal perception cannot recognise (or, in those words, a
            skill not planned yet), or a slot in something that is not a shelf.
    """
    if reading._move is None:
        reading._move = (_read_move(reading),)
    return reading._move[0]


def _read_move(reading: Reading) -> MoveReading | None:
    text, prompt = without_attitude(reading.text), reading.prompt
    for pattern in _MOVE_PATTERNS:
        match = pattern.match(text)
        if match:
            break
    else:
        return None
    if names_next_task(match["goal"]) or names_next_task(match["object"]):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {expected_form()}"
        )
    object_phrase, object_where = split_where(match["object"].strip())
    goal_phrase, goal_where = split_where(match["goal"].strip())
    try:
        object_colours, object_noun = read_phrase(object_phrase, prompt, role="object to move", goal=False)
        goal_colours, goal_noun = read_phrase(goal_phrase, prompt, role="place to put it", goal=True)
    except UnreadPhrase:
        raise  # cut in the wrong place: the sentence's grammar reads it (parse_instruction)
    except GroundingError:
        refuse_unsupported(text, prompt)  # "the pan by the handle" is a skill, not an unknown noun
        raise
    if reading.slot_named and goal_noun not in SHELF_NOUNS:
        raise GroundingError(
            f"prompt {prompt!r} asks for a slot or gap in the {goal_noun}; the pipeline finds free gaps in the "
            f"row of a shelf only ({', '.join(sorted(n for n in SHELF_NOUNS if ' ' not in n))})"
        )
    push_verb = bool(match.groupdict().get("push"))
    return MoveReading(
        object_phrase=object_phrase,
        object_where=object_where,
        object_colours=object_colours,
        object_noun=object_noun,
        goal_phrase=goal_phrase,
        goal_where=goal_where,
        goal_colours=goal_colours,
        goal_noun=goal_noun,
        relation="on" if match.groupdict().get("cover") else RELATIONS[match["relation"]],
        pushed=push_verb or reading.by_pushing,
        push_verb=push_verb,
        object_text=match["object"].strip(),
        relation_text=match.groupdict().get("relation"),
        goal_text=match["goal"].strip(),
    )


def refuse_table_goal(move: MoveReading, prompt: str) -> None:
    """Refuse a prompt whose goal is the table the object already stands on ("put the can on the table"):
    it names no place on the table to go to."""
    if move.goal_noun in SUPPORT_NOUNS:
        raise GroundingError(
            f"prompt {prompt!r}: the {move.object_text} already stands on the {move.goal_noun}; name where on it "
            "it should go (an object or a marking on the table)"
        )


def refuse_unsupported(text: str, prompt: str) -> None:
    """Refuse, naming the skill, a prompt whose words ask for a skill in a wording no skill reads yet
    (:attr:`SkillPhrases.unsupported`); return when none does."""
    for phrases in _in_parse_order():
        for words, skill_name in phrases.unsupported:
            if words.search(text):
                raise GroundingError(
                    f"prompt {prompt!r} asks for {skill_name}; the pipeline plans {_planned_skills()} tasks "
                    f"only so far: {expected_form()}"
                )


def read_noun(phrase: str, nouns: frozenset[str] | set[str]) -> str | None:
    """The longest of ``nouns`` (up to three words) ``phrase`` ends with, or ``None``."""
    words = phrase.split()
    for size in (3, 2, 1):
        if len(words) >= size and " ".join(words[-size:]) in nouns:
            return " ".join(words[-size:])
    return None


def split_where(phrase: str) -> tuple[str, str | None]:
    """ "bin on the left" → ("bin", "left"); "left bin" → ("bin", "left"); "bin next to the box" → ("bin",
    "near box"); "big red bowl" → ("big red bowl", "big") (:data:`SIZES`); anything else is returned as it is,
    with ``None``."""
    for pattern in (_SIDE_TOKEN, _NEAR_TOKEN):
        found = pattern.search(phrase)
        if found:
            where = (
                found["side"] if "side" in found.groupdict() else "near " + found["near"].replace("-", " ")
            )
            return phrase[: found.start()].strip(), where
    found = _SIDE_PREFIX.match(phrase)
    if found:
        return phrase[found.end() :].strip(), found["side"]
    sizes = [SIZE_WORDS[w] for w in phrase.split()[:-1] if w in SIZE_WORDS]
    if sizes:
        return phrase, sizes[0]  # the size stays in the phrase: "big" also names it
    return phrase, None


def read_phrase(phrase: str, prompt: str, role: str, goal: bool) -> tuple[tuple[str, ...], str]:
    """Split "big red soda can" into colours ("red",) and noun "soda can".

    The noun is the longest noun with a shape prior (:data:`NOUN_SHAPES`, or a region or shelf for a goal) the
    phrase ends with; any other noun is read from the phrase's grammar (:func:`~physworld_core.perception.nlp.
    noun_phrase`: "wooden spoon" → "spoon") and has no shape prior: perception reads its shape from geometry,
    and grounding finds it by its colour, size, place or by elimination. A phrase that is only a colour ("the
    red one", "the orange") names an object by that colour.

    Several colours are accepted only for a goal region ("red and white target"); an object named by two
    colours is ambiguous and refused."""
    words = phrase.split()
    known_nouns = (REGION_NOUNS | SHELF_NOUNS | set(NOUN_SHAPES)) if goal else set(NOUN_SHAPES)
    noun = None
    for size in (3, 2, 1):
        candidate = " ".join(words[-size:]) if len(words) >= size else None
        if candidate in known_nouns:
            noun = candidate
            break
    if noun is None:
        read = noun_phrase(phrase)
        if read is None or not read.plain or not re.fullmatch(r"[a-z][a-z\- ]*", read.noun):
            raise UnreadPhrase(f"prompt {prompt!r}: the {role}, {phrase.strip()!r}, names no object")
        noun = read.noun
        if normalise_colour_word(noun) and len(noun.split()) == 1 and noun == words[-1]:
            # "the red" (one): named by its colour alone; the colour is read below with the others
            words = [*words, "object"]
            noun = "object"
    colours = [c for c in (normalise_colour_word(w) for w in words[: len(words) - len(noun.split())]) if c]
    colours = list(dict.fromkeys(colours))
    if len(colours) > 1 and not (goal and noun in REGION_NOUNS):
        raise GroundingError(
            f"prompt {prompt!r}: the {role}, {phrase.strip()!r}, names several colours ({', '.join(colours)}); "
            "name one"
        )
    return tuple(colours), noun
