"""The open reader (#24 item 1): any phrasing a person might use, any noun, grounded by what the prompt says
about the object and by elimination. The phrasings below were written for the development envs (PushCube,
PullCube, PullCubeTool, StackPyramid, PlugCharger) and the project's own families, the way people say them."""

from __future__ import annotations

import pytest

from physworld_core.errors import GroundingError
from physworld_core.perception import nlp
from physworld_core.perception.language import parse_instruction
from physworld_core.perception.perceive import perceive

READ = [
    # (prompt, (skill, object noun, relation, goal noun))
    # unknown nouns inside the skills' own wordings
    ("put the banana in the bowl", ("place", "banana", "in", "bowl")),
    ("put the red banana in the bin", ("place", "banana", "in", "bin")),
    ("place the wooden spoon into the drawer", ("place", "spoon", "in", "drawer")),
    ("drop the tennis ball into the basket", ("place", "tennis ball", "in", "basket")),
    ("put the small teddy bear in the box", ("place", "teddy bear", "in", "box")),
    ("move the apples into the bowl", ("place", "apple", "in", "bowl")),
    ("put the orange in the bowl", ("place", "object", "in", "bowl")),
    ("put the stapler on the book", ("place", "stapler", "on", "book")),
    # the sentence's grammar, outside the wordings
    ("could you grab the mug and drop it into the basket for me", ("place", "mug", "in", "basket")),
    ("I want you to put the lemon in the bowl", ("place", "lemon", "in", "bowl")),
    ("tidy the spoon into the drawer", ("place", "spoon", "in", "drawer")),
    ("put the banana in the bowl quickly", ("place", "banana", "in", "bowl")),
    ("I'd like the red cube on top of the green cube", ("place", "cube", "on", "cube")),
    ("hold the pan by its handle and put it on the plate", ("place", "pan", "on", "plate")),
    ("pop the charger into the socket", ("place", "charger", "in", "socket")),
    ("plug the charger into the socket", ("place", "charger", "in", "socket")),
    ("insert the peg into the hole", ("place", "peg", "in", "hole")),
    ("I need the mug standing up", ("upright", "mug", "on", "table")),
    ("get the bottle upright", ("upright", "bottle", "on", "table")),
    ("lift the apple 10 cm higher", ("lift", "apple", "above", "table")),
    # clauses about where it ends, the thing as the subject, idioms, rows of nouns, tools and sources
    ("gently push the hex block until it reaches the blue pad", ("push", "hex block", "on", "pad")),
    (
        "can you move the paperback so it sits on top of the book rack",
        ("place", "paperback", "on", "book rack"),
    ),
    ("slide the cube so that it ends up on the target", ("push", "cube", "on", "target")),
    ("the purple block should go into the basket", ("place", "block", "in", "basket")),
    ("the cube belongs in the bin", ("place", "cube", "in", "bin")),
    ("turn the blue bottle right side up", ("upright", "bottle", "on", "table")),
    ("tidy the purple block away into the basket, please", ("place", "block", "in", "basket")),
    ("pick the blue pot lid up and place it onto the pot", ("place", "pot lid", "on", "pot")),
    ("I want the blue pot lid on the pot", ("place", "pot lid", "on", "pot")),
    (
        "get the orange hand brush and sweep the scraps into the dust pan",
        ("sweep", "hand brush", "in", "dust pan"),
    ),
    ("pour the beads out of the purple beaker and into the dish", ("pour", "beaker", "in", "dish")),
    # development envs, their goals visible to the camera
    ("push the cube to the goal", ("push", "cube", "on", "goal")),
    ("push the cube onto the red and white target", ("push", "cube", "on", "target")),
    ("slide the block over to the target", ("push", "block", "on", "target")),
    ("pull the cube onto the target", ("push", "cube", "on", "target")),
    ("drag the cube back to the red target", ("push", "cube", "on", "target")),
    ("stack the red cube on the blue cube", ("place", "cube", "on", "cube")),
    ("put the green cube on top of the blue one", ("place", "cube", "on", "one")),
    ("could you place the blue cube onto the red cube", ("place", "cube", "on", "cube")),
    ("pick up the charger and plug it into the socket", ("place", "charger", "in", "socket")),
]


@pytest.mark.parametrize(("prompt", "expected"), READ)
def test_phrasings_are_read(prompt, expected):
    got = parse_instruction(prompt)
    assert (got.skill, got.object_noun, got.relation, got.goal_noun) == expected


def test_a_rephrased_prompt_keeps_its_part_size_and_colours():
    got = parse_instruction("hold the pan by its handle and put it on the white plate")
    assert (got.hold, got.goal_colour) == ("handle", "white")
    got = parse_instruction("please drop the big red thingamajig into the bin")
    assert (got.object_noun, got.object_colour, got.object_where, got.object_shape) == (
        "thingamajig",
        "red",
        "big",
        None,
    )


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        # read, but asking for what no skill plans yet: the message says what was read
        (
            "use the hook to pull the cube towards you",
            r"pull the 'cube' closer to the robot \(tool: 'hook'\)",
        ),
        ("move the cube 10 cm to the left", "move the 'cube' 10 cm left; no skill plans a goal given as a"),
        ("pull the cube closer to the robot", "pull the 'cube' closer to the robot; no skill plans"),
        ("put the banana 20 cm to the left of the plate", "20 cm left of the plate"),
        ("push the cube using the stick", "no skill plans using a tool"),
        # refusals a skill makes stand: the fallback verb does not turn them into something else
        ("push the can into the bin", "a push ends with the object lying on a flat marking"),
        ("stand the bottle upright and put it in the bin", "more than one task"),
        ("put the red can on the table", "already stands on the table"),
        ("make me a sandwich", "cannot read the prompt"),
    ],
)
def test_what_no_skill_plans_is_refused_saying_what_was_read(prompt, message):
    with pytest.raises(GroundingError, match=message):
        parse_instruction(prompt)


@pytest.mark.parametrize(
    ("prompt", "offset"),
    [
        ("move the cube 10 cm to the left", ("left", 0.10, None)),
        ("put the banana 20 cm to the left of the plate", ("left", 0.20, "plate")),
        ("shift the block 5 centimetres to the right", ("right", 0.05, None)),
        ("move the cube forward by 50 mm", ("away", 0.05, None)),
        ("pull the cube towards you", ("closer", None, "robot")),
        ("bring the mug closer to me", ("closer", None, "robot")),
        ("lift the can 3 inches higher", ("up", 0.0762, None)),
    ],
)
def test_metric_and_relative_goals(prompt, offset):
    got = nlp.parse(prompt).offset
    assert got is not None
    assert (
        got.direction,
        got.metres and round(got.metres, 4),
        got.reference and got.reference.noun,
    ) == offset


def test_tools_and_parts():
    parsed = nlp.parse("use the hook to pull the red cube towards the robot")
    assert (parsed.verb, parsed.object.noun, parsed.tool.noun) == ("pull", "cube", "hook")
    assert parsed.object.modifiers == ("red",)
    parsed = nlp.parse("sweep the crumbs into the dustpan with the brush")
    assert (parsed.object.noun, parsed.relation, parsed.goal.noun, parsed.tool.noun) == (
        "crumb",
        "into",
        "dustpan",
        "brush",
    )
    assert nlp.parse("put the pan on the stove holding it by its handle").part == "handle"


@pytest.mark.parametrize(
    ("phrase", "noun", "modifiers"),
    [
        ("big red soda can", "soda can", ("big", "red")),
        ("orange ball", "ball", ("orange",)),
        ("small teddy bear", "teddy bear", ("small",)),
        ("apples", "apple", ()),
        ("wooden spoon", "spoon", ("wooden",)),
    ],
)
def test_noun_phrases(phrase, noun, modifiers):
    got = nlp.noun_phrase(phrase)
    assert (got.noun, got.modifiers, got.plain) == (noun, modifiers, True)
    assert not nlp.noun_phrase("basket for me").plain


# Grounding on a rendered scene: red can, blue box, grey bin (tests/perception/synthetic_scenes.py).


def test_an_unknown_noun_is_grounded_by_elimination(synth):
    """Two objects on the table: the bin is the goal, so the "gizmo" is the other one."""
    can, _box, *bin_parts = synth.default_shapes()
    perception = perceive(synth.render([can, *bin_parts], prompt="put the gizmo in the bin").scene)
    assert perception.target.description == "red cylinder"
    assert perception.goal.shape == "container"


def test_an_unknown_noun_among_several_candidates_is_refused_listing_them(synth):
    with pytest.raises(GroundingError, match=r"'gizmo' but 2 objects match it equally well: .*red cylinder"):
        perceive(synth.render(synth.default_shapes(), prompt="put the gizmo in the bin").scene)


def test_an_unknown_noun_is_grounded_by_its_colour(synth):
    perception = perceive(synth.render(synth.default_shapes(), prompt="put the blue gadget in the bin").scene)
    assert perception.target.description == "blue box"


def test_a_size_word_settles_a_tie(synth):
    shapes = synth.default_shapes() + [synth.Cylinder("big", (-0.12, 0.0), 0.05, 0.1, rgb=synth.RED)]
    with pytest.raises(GroundingError, match="2 objects match"):
        perceive(synth.render(shapes, prompt="put the red can in the bin").scene)
    big = perceive(synth.render(shapes, prompt="put the big red can in the bin").scene).target
    small = perceive(synth.render(shapes, prompt="put the small red can in the bin").scene).target
    assert big.extents[0] * big.extents[1] > 1.5 * small.extents[0] * small.extents[1]
    assert big.centre_world[0] == pytest.approx(-0.12, abs=0.02)


def test_a_landmark_with_an_unknown_noun_is_found_by_its_colour(synth):
    shapes = synth.default_shapes() + [synth.Cylinder("can2", (-0.12, 0.0), 0.03, 0.1, rgb=synth.RED)]
    near = perceive(
        synth.render(shapes, prompt="put the red can next to the blue gadget into the bin").scene
    ).target
    assert near.centre_world[0] == pytest.approx(-0.12, abs=0.02)
