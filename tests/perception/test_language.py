from __future__ import annotations

import pytest

from physworld_core.errors import GroundingError
from physworld_core.perception.language import parse_instruction


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("put the red can in the bin", ("red", "can", "cylinder", None, "bin", "container", "in")),
        (
            "drop the soda can into the trash bin",
            (None, "soda can", "cylinder", None, "trash bin", "container", "in"),
        ),
        (
            "place the blue box inside the green basket",
            ("blue", "box", "box", "green", "basket", "container", "in"),
        ),
        ("move the mug into the container", (None, "mug", "cylinder", None, "container", "container", "in")),
        ("Please put the Gray block in the tray.", ("grey", "block", "box", None, "tray", "container", "in")),
        (
            "pick up the yellow bottle and put it in the blue crate",
            ("yellow", "bottle", "cylinder", "blue", "crate", "container", "in"),
        ),
        ("toss a tin in the bin", (None, "tin", "cylinder", None, "bin", "container", "in")),
        (
            "put the small orange cube on top of the tray",
            ("orange", "cube", "box", None, "tray", "container", "on"),
        ),
        ("put the can in the trash can", (None, "can", "cylinder", None, "trash can", "container", "in")),
    ],
)
def test_phrasings(prompt, expected):
    got = parse_instruction(prompt)
    assert (
        got.object_colour,
        got.object_noun,
        got.object_shape,
        got.goal_colour,
        got.goal_noun,
        got.goal_shape,
        got.relation,
    ) == expected


def test_phrases_are_kept():
    got = parse_instruction("drop the big red soda can into the trash bin")
    assert got.object_phrase == "big red soda can"
    assert got.goal_phrase == "trash bin"


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("make me a sandwich", "expected an instruction like 'put the red can in the bin'"),
        ("   ", "empty"),
        ("put the red can on the table", "already stands on the table; name where on it"),
        ("put the red blue can in the bin", "several colours"),
        ("the red can", "expected an instruction like"),
        ("put the red can with the blue can", "expected an instruction like"),  # "with" only covers
    ],
)
def test_unreadable_prompts_explain_the_expected_form(prompt, message):
    with pytest.raises(GroundingError, match=message):
        parse_instruction(prompt)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("push the cube onto the red and white target", ("push", None, "box", ("red", "white"), "region")),
        ("slide the green puck onto the yellow square", ("push", "green", "cylinder", ("yellow",), "region")),
        ("move the blue board onto the red pad by pushing it", ("push", "blue", "box", ("red",), "region")),
        ("nudge the hex block to the orange circle", ("push", None, "cylinder", ("orange",), "region")),
        ("put the red can on the blue mat", ("place", "red", "cylinder", ("blue",), "region")),
        ("pull the cube onto the target", ("push", None, "box", (), "region")),
    ],
)
def test_push_and_region_phrasings(prompt, expected):
    got = parse_instruction(prompt)
    assert (got.skill, got.object_colour, got.object_shape, got.goal_colours, got.goal_shape) == expected


def test_a_push_must_end_on_a_flat_marking():
    with pytest.raises(GroundingError, match="say 'put the can into the bin'"):
        parse_instruction("push the can into the bin")


def test_only_a_region_may_be_named_by_several_colours():
    with pytest.raises(GroundingError, match="several colours"):
        parse_instruction("push the red and white cube onto the target")
    with pytest.raises(GroundingError, match="several colours"):
        parse_instruction("put the can in the red and white bin")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # stacking: "on" a solid names a support, whatever the verb
        ("stack the pink cube on top of the purple box", ("pink", "cube", "purple", "box", "box", "on")),
        (
            "pick up the yellow brick and set it down on the blue drum",
            ("yellow", "brick", "blue", "drum", "cylinder", "on"),
        ),
        ("place the orange puck onto the green base", ("orange", "puck", "green", "base", None, "on")),
        # covering: the object goes on the goal
        ("cover the stockpot with the red pot lid", ("red", "pot lid", None, "stockpot", "container", "on")),
        (
            "pick up the purple cover and close the cooking pot with it",
            ("purple", "cover", None, "cooking pot", "container", "on"),
        ),
        # "in the box" asks for an open box: only a hollow thing holds an object
        ("pack the pink baby shoe into the box", ("pink", "baby shoe", None, "box", "container", "in")),
        (
            "pick up the purple sneaker and put it away in the shoebox",
            ("purple", "sneaker", None, "shoebox", "container", "in"),
        ),
    ],
)
def test_stack_cover_and_pack_phrasings(prompt, expected):
    got = parse_instruction(prompt)
    assert (
        got.object_colour,
        got.object_noun,
        got.goal_colour,
        got.goal_noun,
        got.goal_shape,
        got.relation,
    ) == expected


@pytest.mark.parametrize(
    ("prompt", "skill"),
    [
        ("clean the table by sweeping it", "sweeping in this wording"),
    ],
)
def test_skills_the_pipeline_cannot_plan_are_named(prompt, skill):
    with pytest.raises(
        GroundingError, match=f"asks for .*{skill}.*pick-and-place, push, stand-upright"
    ) as info:
        parse_instruction(prompt)
    # every registered skill is offered, each with an example
    from physworld_core.skills.base import all_skills

    for registered in all_skills():
        assert registered.phrases.example in str(info.value), registered.name


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("stand the red bottle upright", ("red bottle", "red", "bottle", None)),
        ("set the red water bottle upright on the table", ("red water bottle", "red", "bottle", None)),
        ("pick up the fallen red bottle and stand it up", ("red bottle", "red", "bottle", None)),
        ("turn the fallen red plastic bottle upright again", ("red plastic bottle", "red", "bottle", None)),
        ("stand the yellow can up", ("yellow can", "yellow", "can", None)),
        ("put the tipped over blue box upright", ("blue box", "blue", "box", None)),
        ("place the lying green bottle upright on the desk", ("green bottle", "green", "bottle", None)),
        ("stand up the fallen bottle", ("bottle", None, "bottle", None)),
        ("please set the bottle on the left back upright", ("bottle", None, "bottle", "left")),
        ("pick up the tipped-over can and set it upright on the table", ("can", None, "can", None)),
        ("stand the bottle that fell over back up on its base", ("bottle", None, "bottle", None)),
    ],
)
def test_standing_an_object_upright(prompt, expected):
    got = parse_instruction(prompt)
    assert (got.object_phrase, got.object_colour, got.object_noun, got.object_where) == expected
    assert got.skill == "upright"
    assert (got.goal_noun, got.goal_phrase, got.goal_colour, got.goal_shape, got.relation, got.hold) == (
        "table",
        "table",
        None,
        "table",
        "on",
        None,
    )
    assert got.to_dict()["goal_shape"] == "table"


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (
            "stand the red bottle upright in the bin",
            "upright in the bin; an object is stood upright on the table",
        ),
        ("set the can upright on the blue box", "upright on the blue box; .*say 'stand the can upright'"),
        ("stand the bottle upright and put it in the bin", "more than one task"),
        ("stand the pan upright by its handle", "does not say how to hold it"),
    ],
)
def test_standing_upright_elsewhere_than_the_table_is_refused(prompt, message):
    with pytest.raises(GroundingError, match=message):
        parse_instruction(prompt)


def test_a_book_upright_in_a_shelf_is_a_placement():
    got = parse_instruction("put the red book upright on the shelf")
    assert (got.skill, got.object_phrase, got.goal_shape) == ("place", "red book", "shelf")


def test_only_the_upright_skill_has_the_table_as_its_goal():
    from physworld_core.perception.language import Instruction

    with pytest.raises(ValueError, match="is the table everything stands on"):
        Instruction("can", None, "can", "table", None, "table", "on", skill="place")
    with pytest.raises(ValueError, match="upright Instruction stands the object on the table"):
        Instruction("can", None, "can", "bin", None, "bin", "in", skill="upright")
    assert (
        Instruction("can", None, "can", "table", None, "table", "on", skill="upright").goal_shape == "table"
    )


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "move the pink skillet onto the white platter by its handle",
            ("pink", "skillet", "white", "platter"),
        ),
        (
            "pick up the green pan by the handle and put it on the white plate",
            ("green", "pan", "white", "plate"),
        ),
        (
            "grab the handle of the red frying pan and set it down on the blue dish",
            ("red", "frying pan", "blue", "dish"),
        ),
        ("place the pan on the plate, holding it by its handle", (None, "pan", None, "plate")),
        ("move the skillet to the dish holding its handle", (None, "skillet", None, "dish")),
        ("using its handle, put the pan on the plate", (None, "pan", None, "plate")),
        ("grab the pan's handle and put it on the plate", (None, "pan", None, "plate")),
        ("hold the pan by the handle and move it onto the plate", (None, "pan", None, "plate")),
    ],
)
def test_holding_by_the_handle_is_read_as_the_part_to_grasp(prompt, expected):
    got = parse_instruction(prompt)
    assert (got.object_colour, got.object_noun, got.goal_colour, got.goal_noun) == expected
    assert (got.hold, got.relation, got.skill) == ("handle", "on", "place")
    assert parse_instruction("put the red pan on the blue plate").hold is None


def test_a_push_cannot_hold_a_handle():
    with pytest.raises(GroundingError, match="a push does not hold the object"):
        parse_instruction("push the red pan onto the blue target by its handle")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("drop the red soda can in the trash", ("red soda can", None, "trash", None)),
        ("pick the red can and drop it in the bin", ("red can", None, "bin", None)),
        ("set the mug down on the coaster", ("mug", None, "coaster", None)),
        ("put the lid back on the pot", ("lid", None, "pot", None)),
        ("pick up the red can, then put it in the bin", ("red can", None, "bin", None)),
        ("place the red can into the bin on the left", ("red can", None, "bin", "left")),
        ("put the red can in the rightmost bin", ("red can", None, "bin", "right")),
        ("put the can on the right in the left bin", ("can", "right", "bin", "left")),
        ("put the red can next to the box into the bin", ("red can", "near box", "bin", None)),
        ("put the can in the blue bin next to the green box", ("can", None, "blue bin", "near green box")),
    ],
)
def test_more_ways_people_say_it(prompt, expected):
    got = parse_instruction(prompt)
    assert (got.object_phrase, got.object_where, got.goal_phrase, got.goal_where) == expected


def test_two_tasks_in_one_prompt_are_refused():
    with pytest.raises(GroundingError, match="more than one task"):
        parse_instruction("put the red can in the bin and then push the block onto the target")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("put the pink paperback on the bookcase", ("pink", "paperback", "bookcase")),
        ("shelve the purple book on the shelf", ("purple", "book", "shelf")),
        ("place the red notebook in the empty slot of the book rack", ("red", "notebook", "book rack")),
        ("slide the green hardcover into the gap on the bookshelf", ("green", "hardcover", "bookshelf")),
        ("pick up the yellow paperback and stand it on the bookcase", ("yellow", "paperback", "bookcase")),
        ("insert the blue book into the free space in the shelf", ("blue", "book", "shelf")),
    ],
)
def test_a_book_goes_into_a_shelf_whatever_the_wording(prompt, expected):
    """A shelf's free gap is the goal whatever the preposition, and sliding a book in there is a placement:
    the board is raised, so the book is lifted in, not pushed along the table."""
    got = parse_instruction(prompt)
    assert (got.object_colour, got.object_noun, got.goal_noun) == expected
    assert (got.object_shape, got.goal_shape, got.skill) == ("box", "shelf", "place")


def test_a_slot_is_only_looked_for_in_a_shelf():
    with pytest.raises(GroundingError, match="slot or gap in the bin.*row of a shelf only"):
        parse_instruction("put the red can in the empty slot of the bin")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # the four phrasings of the pour world
        ("pour the balls from the red cup into the bowl", ("red cup", "red", "cup", "bowl", None, "balls")),
        (
            "tip the marbles out of the blue mug into the dish",
            ("blue mug", "blue", "mug", "dish", None, "marbles"),
        ),
        (
            "empty the yellow beaker into the basin",
            ("yellow beaker", "yellow", "beaker", "basin", None, None),
        ),
        (
            "pick up the pink beaker and pour its beads into the dish",
            ("pink beaker", "pink", "beaker", "dish", None, "beads"),
        ),
        # and ways people vary them
        ("pour the marbles in the red mug into the bowl", ("red mug", "red", "mug", "bowl", None, "marbles")),
        ("empty the blue cup into the dish", ("blue cup", "blue", "cup", "dish", None, None)),
        ("empty the cup in the grey bowl", ("cup", None, "cup", "grey bowl", "grey", None)),
        ("pick up the cup and empty it into the bowl", ("cup", None, "cup", "bowl", None, None)),
        (
            "pour the contents of the green cup into the bowl",
            ("green cup", "green", "cup", "bowl", None, None),
        ),
        (
            "please tip out the beads from the mug into the basin",
            ("mug", None, "mug", "basin", None, "beads"),
        ),
        (
            "pick up the red mug and pour the balls into the dish",
            ("red mug", "red", "mug", "dish", None, "balls"),
        ),
    ],
)
def test_pouring(prompt, expected):
    got = parse_instruction(prompt)
    assert (
        got.object_phrase,
        got.object_colour,
        got.object_noun,
        got.goal_phrase,
        got.goal_colour,
        got.contents_noun,
    ) == expected
    assert (got.skill, got.relation, got.hold, got.object_shape, got.goal_shape) == (
        "pour",
        "in",
        None,
        "container",
        "container",
    )
    assert got.to_dict()["contents_noun"] == expected[-1]


def test_a_pour_keeps_the_colour_and_side_it_is_given():
    got = parse_instruction("tip the red beads out of the cup on the left into the bowl")
    assert (got.contents_colour, got.contents_noun, got.object_phrase, got.object_where) == (
        "red",
        "beads",
        "cup",
        "left",
    )


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (
            "pour the balls out of the cup",
            "pours out of the cup onto nothing.*into a container that catches it",
        ),
        ("pick up the cup and pour it out", "onto nothing"),
        ("empty the mug", "onto nothing"),
        ("pour the balls from the cup onto the table", "pours onto the table.*not onto the table"),
        ("empty the cup on the desk", "pours onto the desk"),
        (
            "pick up the mug by its handle and pour its balls into the bowl",
            "a pour grasps the mug across its body.*not planned",
        ),
        ("pour the balls from the cup into the plate", "pours into the plate, which is not a container"),
        ("pour the balls from the cup onto the red target", "red target, which is not a container"),
        ("pour the balls into the bowl", "names what to pour \\('balls'\\) but not the vessel it is in"),
        ("pour the balls from the box into the bowl", "a box is not one the pipeline pours from"),
        ("pour the water from the cup into the bowl", "'water' is not something a pour is planned for"),
        ("pour the banana from the cup into the bowl", "'banana' is not something a pour is planned for"),
        ("empty the cup into the bowl and put the cup in the bin", "more than one task"),
        ("put the can in the bin and then empty the cup into the bowl", "more than one task"),
        ("please pour", "cannot read the prompt 'please pour' as a pour: a pour reads"),
    ],
)
def test_pours_the_pipeline_does_not_plan_are_refused_with_the_reason(prompt, message):
    with pytest.raises(GroundingError, match=message):
        parse_instruction(prompt)


@pytest.mark.parametrize(
    "prompt",
    ["turn the fallen bottle upright", "stand the tipped-over bottle up", "tip the fallen can upright again"],
)
def test_tipping_something_upright_is_not_a_pour(prompt):
    assert parse_instruction(prompt).skill == "upright"


def test_only_a_pour_names_what_is_poured():
    from physworld_core.perception.language import Instruction

    with pytest.raises(ValueError, match="'place' Instruction names no contents"):
        Instruction("cup", None, "cup", "bin", None, "bin", "in", contents_noun="balls")
    with pytest.raises(ValueError, match="pour Instruction pours into a container"):
        Instruction("cup", None, "cup", "plate", None, "plate", "in", skill="pour")
    with pytest.raises(ValueError, match="pours from one of"):
        Instruction("can", None, "can", "bowl", None, "bowl", "in", skill="pour")
    with pytest.raises(ValueError, match="contents_noun must be one of"):
        Instruction("cup", None, "cup", "bowl", None, "bowl", "in", skill="pour", contents_noun="water")
    pour = Instruction("cup", None, "cup", "dish", None, "dish", "in", skill="pour", contents_noun="beads")
    assert (pour.object_shape, pour.goal_shape) == ("container", "container")
    # "dish" is a plate when something is set on it
    assert parse_instruction("put the cup on the dish").goal_shape == "cylinder"


@pytest.mark.parametrize("brush", ["brush", "hand brush", "sweeping brush"])
@pytest.mark.parametrize("scraps", ["scraps", "bits", "crumbs", "pieces"])
@pytest.mark.parametrize("pan", ["dustpan", "dust pan"])
@pytest.mark.parametrize(
    "phrasing",
    [
        # the four phrasings of the sweep world
        "sweep the {scraps} into the {pan} with the {brush}",
        "use the {brush} to sweep the {scraps} into the {pan}",
        "brush the {scraps} into the {pan} using the {brush}",
        "pick up the {brush} and push the {scraps} into the {pan}",
    ],
)
def test_sweeping(phrasing, brush, scraps, pan):
    got = parse_instruction(phrasing.format(brush=f"pink {brush}", scraps=scraps, pan=pan))
    assert (got.skill, got.object_noun, got.object_colour, got.object_phrase) == (
        "sweep",
        brush,
        "pink",
        f"pink {brush}",
    )
    assert (got.goal_noun, got.goal_colour, got.contents_noun, got.contents_colour) == (
        pan,
        None,
        scraps,
        None,
    )
    assert (got.relation, got.hold, got.goal_shape) == ("in", None, "container")
    uncoloured = parse_instruction(phrasing.format(brush=brush, scraps=scraps, pan=pan))
    assert (uncoloured.skill, uncoloured.object_colour, uncoloured.object_noun) == ("sweep", None, brush)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("please sweep up the crumbs into the dustpan with the red brush", ("red", "brush", None, "crumbs")),
        (
            "sweep the crumbs with the hand brush into the blue dustpan",
            (None, "hand brush", "blue", "crumbs"),
        ),
        ("sweep all the green bits into the dustpan with the brush", (None, "brush", None, "bits")),
        ("take the brush and sweep the scraps into the dust pan", (None, "brush", None, "scraps")),
    ],
)
def test_sweeping_variants(prompt, expected):
    got = parse_instruction(prompt)
    assert got.skill == "sweep"
    assert (got.object_colour, got.object_noun, got.goal_colour, got.contents_noun) == expected


def test_a_sweep_keeps_the_colour_of_what_is_swept():
    assert parse_instruction("sweep the red crumbs into the dustpan with the brush").contents_colour == "red"


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # a push with no brush keeps its reading
        ("push the red block to the target", ("push", "block", "target")),
        ("pick up the red brush and put it in the bin", ("place", "brush", "bin")),
        ("put the can in the dustpan", ("place", "can", "dustpan")),
        ("take the red can and put it in the bin", ("place", "can", "bin")),
    ],
)
def test_brushes_and_pushes_outside_a_sweep_keep_their_reading(prompt, expected):
    got = parse_instruction(prompt)
    assert (got.skill, got.object_noun, got.goal_noun) == expected


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("sweep the floor", "cannot read the prompt 'sweep the floor' as a sweep: a sweep reads"),
        ("sweep the scraps into the bin with the brush", "sweeps into the bin; .*only into a dustpan"),
        (
            "sweep the balls into the dustpan with the brush",
            "'balls' is not something a sweep is planned for",
        ),
        (
            "use the cup to sweep the crumbs into the dustpan",
            "a sweep pushes with a brush, and a cup is not one",
        ),
        (
            "pick up the cup and push the balls into the bowl",
            r"no skill plans using a tool \(the cup\)",
        ),
        ("sweep the scraps into the dustpan with the brush by its handle", "always holds the brush by its"),
        (
            "sweep the scraps into the dustpan with the brush and put the brush in the bin",
            "more than one task",
        ),
        ("sweep the red and blue bits into the dustpan with the brush", "names several colours"),
    ],
)
def test_sweeps_the_pipeline_does_not_plan_are_refused_with_the_reason(prompt, message):
    with pytest.raises(GroundingError, match=message):
        parse_instruction(prompt)


def test_only_a_sweep_sweeps_with_a_brush_into_a_dustpan():
    from physworld_core.perception.language import Instruction

    with pytest.raises(ValueError, match="sweeps with one of"):
        Instruction("cup", None, "cup", "dustpan", None, "dustpan", "in", skill="sweep", contents_noun="bits")
    with pytest.raises(ValueError, match="sweeps into one of"):
        Instruction("brush", None, "brush", "bin", None, "bin", "in", skill="sweep", contents_noun="bits")
    with pytest.raises(ValueError, match="names what is swept"):
        Instruction("brush", None, "brush", "dustpan", None, "dustpan", "in", skill="sweep")
    sweep = Instruction(
        "brush", None, "brush", "dustpan", None, "dustpan", "in", skill="sweep", contents_noun="bits"
    )
    assert sweep.to_dict()["contents_noun"] == "bits" and sweep.goal_shape == "container"
