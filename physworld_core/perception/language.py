"""Read a manipulation instruction: which object, to where, and by which skill.

The grammar is small on purpose: "<verb> the <colour?> <noun> <in|into|inside|on|onto|to> the <colour?> <noun>",
with polite and multi-step variants ("please", "pick up the X and put it in the Y"). The verb picks the skill:
"put", "place", "drop"... mean pick-and-place; "push", "slide", "shove", "nudge", "pull", "drag" (or "... by
pushing it") mean a non-prehensile push along the table. A goal may be an object (a bin, a box) or a flat region
marked on the table ("the red and white target", "the orange circle"); only a region may be named by several
colours, because a marking is a pattern while an object is named by its own colour. A prompt outside the
grammar is rejected with the expected form rather than guessed at, because a wrong guess here becomes a video,
a twin and a trained policy for the wrong task.

A third skill, "upright", stands a lying object up on its base ("stand the red bottle upright", "pick up the
fallen can and stand it up"). It has no goal object: the goal is the table under the object, so the
instruction names the goal "table" and perception grounds only the target (see :mod:`.standing`).

A fourth, "pour", lifts an open vessel and tips what it holds into a container ("pour the balls from the red cup
into the bowl", "tip the marbles out of the mug into the dish", "empty the blue cup into the basin", "pick up
the cup and pour its beads into the bowl"). Its object is the vessel poured from, its goal the container poured
into; what is poured is kept apart (``contents_noun``), because perception finds it inside the vessel, not as
an object of its own (see :mod:`.pouring`). Pouring onto the table or into something that is not a container
is refused: the pipeline plans only a pour that something catches.

A fifth, "sweep", pushes small loose things lying on the table into a dustpan with a hand-held brush ("sweep the
scraps into the dustpan with the brush", "use the red brush to sweep the crumbs into the dust pan", "brush the
bits into the dustpan using the hand brush", "pick up the brush and push the pieces into the dustpan"). Its
object is the tool (the brush, grasped and pushed along the table), its goal the dustpan, and what is swept is
kept apart (``contents_noun``, as for a pour): perception finds the scraps as the small objects in front of the
pan, not as one object (see :mod:`.sweeping`). "Pick up the X and push the Y into the Z" reads as a sweep only
when X is a brush; any other push keeps its own reading.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from physworld_core.errors import GroundingError
from physworld_core.perception.colour import normalise_colour_word

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

SKILLS: tuple[str, ...] = ("place", "push", "upright", "pour", "sweep")
"""How the object gets there: lifted and placed, pushed along the table without grasping, (upright) lifted,
turned so its base points down and set down standing where it lay, (pour) lifted over the goal and tipped
so that what it holds falls in, the vessel itself staying above the goal's rim, or (sweep) the object is a
tool, lifted, put down behind what is swept and pushed along the table until what lay ahead of it is in the
goal."""

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

TABLE_NOUN = "table"
"""The goal noun of an upright instruction: the object ends standing on the table it lies on."""

SUPPORT_NOUNS: frozenset[str] = frozenset(
    {"table", "tabletop", "table top", "desk", "counter", "countertop", "worktop", "surface"}
)
"""Words a prompt may use for the table an object is stood up on ("upright on the desk")."""

LYING_WORDS = re.compile(
    r"\b(?:fallen(?:[\s\-]+over)?|tipped(?:[\s\-]+over)?|toppled(?:[\s\-]+over)?|knocked[\s\-]+over|"
    r"overturned|lying(?:\s+down)?|fell(?:\s+over)?)\b"
)
"""Words that describe how an object lies ("the fallen bottle", "the tipped over can"): they say which object
needs standing up, not its colour or kind, so they are dropped from the object's phrase."""

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

_PATTERNS = (
    # "pick up the red can and put it in the bin"
    # "pick up the yellow brick and set it down on the blue drum"
    re.compile(
        rf"^{_PICK_VERBS}\s+{_ARTICLE}(?P<object>{_PHRASE})\s+and\s+{_VERBS}(?:\s+it)?"
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
_SIDE_PREFIX = re.compile(r"^(?P<side>left|right|front|back)(?:most)?\s+")
_NEAR_WORDS = re.compile(
    r"\s+(?:that\s+is\s+|which\s+is\s+)?(?:next\s+to|near|beside|close\s+to)\s+(?:the|a)\s+"
    rf"(?P<near>(?:[a-z\-]+\s+)*?[a-z\-]+)(?=\s+(?:{_RELATION})\s+|$)"
)
"""A landmark named after a noun ("the bin next to the box"), made a "near-box" token like the sides."""
_NEAR_TOKEN = re.compile(r"\s+near-(?P<near>[a-z\-]+)$")
_NEXT_STEP = re.compile(
    rf"\band\s+(?:{_VERBS}|{_PUSH_VERBS}|{_PICK_VERBS}|{_COVER_VERBS}|pour|empty|tip|tilt)\b"
)
_UPRIGHT_VERBS = r"(?:stand|set|put|place|turn|get|bring|flip|tip|right|return|move)"
_UPRIGHT = r"(?:back\s+)?(?:upright|up\s*right|on\s+(?:its|their)\s+(?:base|bottom|end))"
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

_POLITE = re.compile(r"^(?:please\s+|can you\s+|could you\s+|now\s+)+|(?:\s+please|\s+now)+$")

UNSUPPORTED_SKILLS: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"\b(?:sweep|sweeping|broom)\b"), "sweeping in this wording"),
    (re.compile(r"\bhandle\b"), "grasping a named part in this wording (say 'by its handle')"),
)
"""Skills a prompt can ask for that the pipeline does not plan yet, with words that reveal them. Such a prompt is
refused by naming the skill, not with the generic form, so a user knows it is the skill that is missing."""

EXPECTED_FORM = (
    "expected an instruction like 'put the red can in the bin' "
    "(<verb> the [colour] <object> in/into/on the [colour] <container>) or 'push the blue cube onto the red "
    "target' or 'stand the red bottle upright' or 'pour the balls from the red cup into the bowl' or 'sweep "
    "the scraps into the dustpan with the red brush'"
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
        skill: "place" (grasp, carry, release), "push" (non-prehensile, along the table), "upright" (stand a
            lying object up on its base where it lies; the goal is then the table: goal noun and phrase
            :data:`TABLE_NOUN`, no colour, relation "on", no hold), "pour" (lift the object, an open vessel,
            over the goal and tip what it holds into it) or "sweep" (lift the object, a brush, put it down
            behind what is swept and push that along the table into the goal, a dustpan).
        goal_colours: every colour named for the goal (a patterned region: "red and white"); the first is
            ``goal_colour``.
        hold: the part of the object to hold it by ("handle"), or ``None``: anywhere the hand can.
        object_where, goal_where: where the prompt says the object or the goal is, to choose among objects
            that match equally well otherwise: one of :data:`SIDES`, or "near <phrase>" ("the bin next to the
            box"); ``None`` when it says nothing.
        contents_noun: for a pour, what is poured as the prompt names it (one of :data:`CONTENTS_NOUNS`:
            "balls", "marbles", "beads"...), ``None`` when it names nothing ("empty the cup into the bowl").
            A pour's object is the vessel poured from, its goal the container poured into (relation "in",
            goal shape "container"), and it holds no part. For a sweep ("sweep"), what is swept (one of
            :data:`SWEPT_NOUNS`: "scraps", "bits", "crumbs"...; always named); its object is the brush swept
            with (:data:`SWEEP_TOOL_NOUNS`), its goal the dustpan (:data:`SWEEP_GOAL_NOUNS`, relation "in",
            goal shape "container"), and it names no hold (a brush is always held by its handle). Only a
            pour or a sweep has one.
        contents_colour: the colour the prompt gives what is poured or swept ("the red beads"), else ``None``.
    """

    object_phrase: str
    object_colour: str | None
    object_noun: str
    goal_phrase: str
    goal_colour: str | None
    goal_noun: str
    relation: str
    skill: str = "place"
    goal_colours: tuple[str, ...] = ()
    hold: str | None = None
    object_where: str | None = None
    goal_where: str | None = None
    contents_noun: str | None = None
    contents_colour: str | None = None

    def __post_init__(self) -> None:
        for where in (self.object_where, self.goal_where):
            if where is not None and where not in SIDES and not where.startswith("near "):
                raise ValueError(
                    f"Instruction: where must be one of {SIDES} or 'near <phrase>', got {where!r}"
                )
        if self.object_noun not in NOUN_SHAPES:
            raise ValueError(f"Instruction.object_noun {self.object_noun!r} is not a known noun")
        if self.skill not in ("pour", "sweep") and (self.contents_noun, self.contents_colour) != (None, None):
            raise ValueError(
                f"only a pour Instruction names what is poured (or a sweep what is swept), got contents "
                f"{self.contents_colour!r} {self.contents_noun!r} on a {self.skill!r} instruction"
            )
        if self.skill == "pour":
            self._check_pour()
        if self.skill == "sweep":
            self._check_sweep()
        if self.skill == "upright":
            self._check_upright()
        elif self.goal_noun not in NOUN_SHAPES and self.goal_noun not in REGION_NOUNS | SHELF_NOUNS:
            raise ValueError(f"Instruction.goal_noun {self.goal_noun!r} is not a known noun")
        if self.relation not in set(RELATIONS.values()):
            raise ValueError(f"Instruction.relation must be 'in' or 'on', got {self.relation!r}")
        if self.skill not in SKILLS:
            raise ValueError(f"Instruction.skill must be one of {SKILLS}, got {self.skill!r}")
        if self.hold is not None and (self.hold not in HOLD_PARTS or self.skill != "place"):
            raise ValueError(
                f"Instruction.hold must be one of {HOLD_PARTS} on a placing task, got {self.hold!r}"
            )
        colours = tuple(self.goal_colours) or ((self.goal_colour,) if self.goal_colour else ())
        object.__setattr__(self, "goal_colours", colours)
        if colours and colours[0] != self.goal_colour:
            raise ValueError("Instruction.goal_colours must start with goal_colour")
        if len(colours) > 1 and self.goal_shape != "region":
            raise ValueError("only a region goal may be named by several colours")

    def _check_upright(self) -> None:
        """An upright instruction's goal is the table under the object, so it names nothing else."""
        goal = (self.goal_noun, self.goal_phrase, self.goal_colour, self.relation, self.hold, self.goal_where)
        if goal != (TABLE_NOUN, TABLE_NOUN, None, "on", None, None):
            raise ValueError(
                f"an upright Instruction stands the object on the {TABLE_NOUN}: goal noun and phrase "
                f"{TABLE_NOUN!r}, no goal colour, relation 'on', no hold and no goal_where; got goal "
                f"{self.goal_phrase!r} ({self.goal_noun!r}, colour {self.goal_colour!r}), relation "
                f"{self.relation!r}, hold {self.hold!r}, goal_where {self.goal_where!r}"
            )

    def _check_pour(self) -> None:
        """A pour tips an open vessel into a container, held anywhere on its body."""
        if self.object_noun not in POUR_VESSEL_NOUNS:
            raise ValueError(
                f"a pour Instruction pours from one of {sorted(POUR_VESSEL_NOUNS)}, got {self.object_noun!r}"
            )
        if self.goal_noun not in POUR_GOAL_NOUNS or self.relation != "in" or self.hold is not None:
            raise ValueError(
                f"a pour Instruction pours into a container (relation 'in', no hold), got {self.relation!r} "
                f"the {self.goal_noun!r}, hold {self.hold!r}"
            )
        if self.contents_noun is not None and self.contents_noun not in CONTENTS_NOUNS:
            raise ValueError(
                f"Instruction.contents_noun must be one of {sorted(CONTENTS_NOUNS)} or None, got "
                f"{self.contents_noun!r}"
            )
        if (
            self.contents_colour is not None
            and normalise_colour_word(self.contents_colour) != self.contents_colour
        ):
            raise ValueError(
                f"Instruction.contents_colour must be a palette name, got {self.contents_colour!r}"
            )

    def _check_sweep(self) -> None:
        """A sweep pushes something swept into a dustpan with a brush held by its handle."""
        if self.object_noun not in SWEEP_TOOL_NOUNS:
            raise ValueError(
                f"a sweep Instruction sweeps with one of {sorted(SWEEP_TOOL_NOUNS)}, got {self.object_noun!r}"
            )
        if self.goal_noun not in SWEEP_GOAL_NOUNS or self.relation != "in" or self.hold is not None:
            raise ValueError(
                f"a sweep Instruction sweeps into one of {sorted(SWEEP_GOAL_NOUNS)} (relation 'in', no hold), "
                f"got {self.relation!r} the {self.goal_noun!r}, hold {self.hold!r}"
            )
        if self.contents_noun not in SWEPT_NOUNS:
            raise ValueError(
                f"a sweep Instruction names what is swept, one of {sorted(SWEPT_NOUNS)}, got "
                f"{self.contents_noun!r}"
            )

    @property
    def object_shape(self) -> str | None:
        """Shape class the object noun implies (``None`` for "object", "thing"); for a pour "container":
        whatever its noun, a vessel poured from is hollow."""
        if self.skill == "pour":
            return "container"
        return NOUN_SHAPES[self.object_noun]

    @property
    def goal_shape(self) -> str | None:
        """Shape class of the goal: "region" for a flat marking, "table" for the upright skill, else as
        :data:`NOUN_SHAPES` says."""
        if self.skill == "upright":
            return TABLE_NOUN
        if self.skill in ("pour", "sweep"):
            return "container"  # poured into: "the dish" is a bowl here, not a plate; a dustpan is hollow
        if self.goal_noun in REGION_NOUNS:
            return "region"
        if self.goal_noun in SHELF_NOUNS:
            return "shelf"
        shape = NOUN_SHAPES[self.goal_noun]
        # Only a hollow thing holds an object: "in the box" asks for an open box, not a solid block.
        return "container" if self.relation == "in" and shape in ("box", None) else shape

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
    pushed_by_suffix = _PUSH_SUFFIX.search(text) is not None
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
    upright = _parse_upright(text, prompt, holds)
    if upright is not None:
        return upright
    sweep = _parse_sweep(text, prompt, holds)
    if sweep is not None:
        return sweep
    pour = _parse_pour(text, prompt, holds)
    if pour is not None:
        return pour
    # "put the book upright on the shelf": a placement, and a shelf's row stands the book up anyway.
    text = re.sub(rf"\s+{_UPRIGHT}(?=\s)", "", text)
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            break
    else:
        _refuse_unsupported_skill(text, prompt)
        raise GroundingError(f"cannot read the prompt {prompt!r}: {EXPECTED_FORM}")
    if _NEXT_STEP.search(match["goal"]) or _NEXT_STEP.search(match["object"]):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {EXPECTED_FORM}"
        )
    object_phrase, object_where = _split_where(match["object"].strip())
    goal_phrase, goal_where = _split_where(match["goal"].strip())
    try:
        object_colours, object_noun = _read_phrase(object_phrase, prompt, role="object to move", goal=False)
        goal_colours, goal_noun = _read_phrase(goal_phrase, prompt, role="place to put it", goal=True)
    except GroundingError:
        _refuse_unsupported_skill(text, prompt)  # "the pan by the handle" is a skill, not an unknown noun
        raise
    skill = "push" if (match.groupdict().get("push") or pushed_by_suffix) else "place"
    if goal_noun in SHELF_NOUNS and match.groupdict().get("push") and not pushed_by_suffix:
        skill = "place"  # "slide the book into the gap on the shelf": onto a raised board, so lifted in
    if slot_named and goal_noun not in SHELF_NOUNS:
        raise GroundingError(
            f"prompt {prompt!r} asks for a slot or gap in the {goal_noun}; the pipeline finds free gaps in the "
            f"row of a shelf only ({', '.join(sorted(n for n in SHELF_NOUNS if ' ' not in n))})"
        )
    if skill == "push" and goal_noun not in REGION_NOUNS:
        raise GroundingError(
            f"prompt {prompt!r}: a push ends with the object lying on a flat marking on the table (a target, "
            f"circle, square, pad…), not in or on the {goal_noun}; to lift it there, say 'put the "
            f"{match['object'].strip()} {match['relation']} the {match['goal'].strip()}'"
        )
    if skill == "push" and holds:
        raise GroundingError(
            f"prompt {prompt!r}: a push does not hold the object, so not by its {min(holds)}"
        )
    return Instruction(
        object_phrase=object_phrase,
        object_colour=object_colours[0] if object_colours else None,
        object_noun=object_noun,
        goal_phrase=goal_phrase,
        goal_colour=goal_colours[0] if goal_colours else None,
        goal_noun=goal_noun,
        relation="on" if match.groupdict().get("cover") else RELATIONS[match["relation"]],
        skill=skill,
        goal_colours=goal_colours,
        hold=min(holds) if holds else None,
        object_where=object_where,
        goal_where=goal_where,
    )


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
    if _NEXT_STEP.search(object_text) or (match["goal"] and _NEXT_STEP.search(match["goal"])):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {EXPECTED_FORM}"
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
    object_phrase, object_where = _split_where(_describe_lying(object_text))
    object_colours, object_noun = _read_phrase(object_phrase, prompt, role="object to stand up", goal=False)
    return Instruction(
        object_phrase=object_phrase,
        object_colour=object_colours[0] if object_colours else None,
        object_noun=object_noun,
        goal_phrase=TABLE_NOUN,
        goal_colour=None,
        goal_noun=TABLE_NOUN,
        relation="on",
        skill="upright",
        object_where=object_where,
    )


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
    if any(_NEXT_STEP.search(part) for part in parts):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {EXPECTED_FORM}"
        )
    object_phrase, object_where = _split_where(match["object"].strip())
    if holds:
        raise GroundingError(
            f"prompt {prompt!r}: a pour grasps the {object_phrase} across its body and tips it; pouring while "
            f"holding it by its {min(holds)} is not planned (leave out the {min(holds)})"
        )
    if _is_contents(object_phrase) and not _read_noun(object_phrase, POUR_VESSEL_NOUNS):
        raise GroundingError(
            f"prompt {prompt!r} names what to pour ({object_phrase!r}) but not the vessel it is in; {POUR_FORM}"
        )
    object_phrase = re.sub(r"\s+over$", "", object_phrase)  # "tip the cup over"
    object_colours, object_noun = _read_phrase(object_phrase, prompt, role="vessel to pour from", goal=False)
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
    goal_phrase, goal_where = _split_where(match["goal"].strip())
    if _read_noun(goal_phrase, SUPPORT_NOUNS):
        raise GroundingError(
            f"prompt {prompt!r} pours onto the {goal_phrase}; the pipeline plans only a pour into a container "
            f"that catches it (a bowl, dish, basin, bin...), not onto the table"
        )
    goal_colours, goal_noun = _read_phrase(goal_phrase, prompt, role="container to pour into", goal=True)
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
        skill="pour",
        goal_colours=goal_colours,
        object_where=object_where,
        goal_where=goal_where,
        contents_noun=contents_noun,
        contents_colour=contents_colour,
    )


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
        _read_noun(_split_where(m["object"].strip())[0], SWEEP_TOOL_NOUNS) for m in matches
    )  # "pick up the brush and push ..." is a sweep; "pick up the cup and push ..." is not
    if not _SWEEP_START.match(text) and not picked_tool:
        return None
    if not matches:
        raise GroundingError(f"cannot read the prompt {prompt!r} as a sweep: {SWEEP_FORM}")
    match = matches[0]
    if any(_NEXT_STEP.search(match[part]) for part in ("object", "contents", "goal")):
        raise GroundingError(
            f"prompt {prompt!r} asks for more than one task; give one instruction per task: {EXPECTED_FORM}"
        )
    object_phrase, object_where = _split_where(match["object"].strip())
    object_colours, object_noun = _read_phrase(object_phrase, prompt, role="tool to sweep with", goal=False)
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
    goal_phrase, goal_where = _split_where(match["goal"].strip())
    goal_noun = _read_noun(goal_phrase, SWEEP_GOAL_NOUNS)
    if goal_noun is None:
        raise GroundingError(
            f"prompt {prompt!r} sweeps into the {goal_phrase}; the pipeline plans a sweep only into a dustpan "
            f"lying open on the table ({', '.join(sorted(SWEEP_GOAL_NOUNS))})"
        )
    goal_colours, goal_noun = _read_phrase(goal_phrase, prompt, role="dustpan to sweep into", goal=True)
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
        skill="sweep",
        goal_colours=goal_colours,
        object_where=object_where,
        goal_where=goal_where,
        contents_noun=contents_noun,
        contents_colour=contents_colour,
    )


def _read_swept(phrase: str, prompt: str) -> tuple[str | None, str]:
    """(colour, noun) of what is swept: "red crumbs" → ("red", "crumbs"); "all the scraps" → (None, "scraps")."""
    phrase = re.sub(r"^(?:all\s+(?:of\s+)?)?(?:the\s+)?", "", phrase)
    noun = _read_noun(phrase, SWEPT_NOUNS)
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


def _read_noun(phrase: str, nouns: frozenset[str] | set[str]) -> str | None:
    """The longest of ``nouns`` (up to three words) ``phrase`` ends with, or ``None``."""
    words = phrase.split()
    for size in (3, 2, 1):
        if len(words) >= size and " ".join(words[-size:]) in nouns:
            return " ".join(words[-size:])
    return None


def _is_contents(phrase: str) -> bool:
    return _read_noun(phrase, CONTENTS_NOUNS | _ANY_CONTENTS) is not None


def _read_contents(phrase: str | None, prompt: str) -> tuple[str | None, str | None]:
    """(colour, noun) of what is poured: "red marbles" → ("red", "marbles"); nothing named, or "contents",
    "everything" → (None, None)."""
    if phrase is None or not phrase.strip():
        return None, None
    phrase = phrase.strip()
    noun = _read_noun(phrase, CONTENTS_NOUNS | _ANY_CONTENTS)
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


def _describe_lying(phrase: str) -> str:
    """ "fallen red bottle" → "red bottle": how it lies is not what it is (see :data:`LYING_WORDS`)."""
    phrase = re.sub(r"\s+(?:that|which)(?:\s+(?:is|has))?\s*$", "", LYING_WORDS.sub(" ", phrase))
    phrase = re.sub(r"\s+(?:on\s+its\s+side)\b", " ", phrase)
    return re.sub(r"\s+", " ", phrase).strip()


def _split_where(phrase: str) -> tuple[str, str | None]:
    """ "bin on the left" → ("bin", "left"); "left bin" → ("bin", "left"); "bin next to the box" → ("bin",
    "near box"); anything else is returned as it is, with ``None``."""
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
    return phrase, None


def _refuse_unsupported_skill(text: str, prompt: str) -> None:
    for words, skill_name in UNSUPPORTED_SKILLS:
        if words.search(text):
            raise GroundingError(
                f"prompt {prompt!r} asks for {skill_name}; the pipeline plans pick-and-place, push, "
                f"stand-upright, pour and sweep tasks only so far: {EXPECTED_FORM}"
            )


def _read_phrase(phrase: str, prompt: str, role: str, goal: bool) -> tuple[tuple[str, ...], str]:
    """Split "big red soda can" into colours ("red",) and noun "soda can" (the longest known noun at the end).

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
        known = sorted({n for n in known_nouns if " " not in n})
        raise GroundingError(
            f"prompt {prompt!r}: the {role}, {phrase.strip()!r}, is not a kind of object perception can "
            f"recognise; use one of: {', '.join(known)}"
        )
    colours = [c for c in (normalise_colour_word(w) for w in words[: len(words) - len(noun.split())]) if c]
    colours = list(dict.fromkeys(colours))
    if len(colours) > 1 and not (goal and noun in REGION_NOUNS):
        raise GroundingError(
            f"prompt {prompt!r}: the {role}, {phrase.strip()!r}, names several colours ({', '.join(colours)}); "
            "name one"
        )
    return tuple(colours), noun
