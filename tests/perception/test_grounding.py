from __future__ import annotations

import pytest

from physworld_core.errors import GroundingError
from physworld_core.perception.perceive import perceive


def test_grounds_target_and_goal(default_scene):
    perception = perceive(default_scene.scene)
    assert perception.target.description == "red cylinder"
    assert perception.goal.description == "grey container"
    assert perception.grounding.scores["target"][perception.target.index] > 0
    assert perception.to_dict()["grounding"]["target"]["description"] == "red cylinder"


@pytest.mark.parametrize(
    "prompt",
    [
        "drop the soda can into the trash bin",
        "move the red thing into the container",
        "put the crimson tin in the grey tray",
    ],
)
def test_other_phrasings_ground_the_same(synth, default_scene, prompt):
    scene = synth.render(default_scene.shapes, prompt=prompt)
    perception = perceive(scene.scene)
    assert perception.target.description == "red cylinder"
    assert perception.goal.shape == "container"


def test_colour_and_shape_pick_the_box(synth):
    scene = synth.render(
        synth.default_shapes(bin_rgb=synth.GREEN), prompt="place the blue box inside the green basket"
    )
    perception = perceive(scene.scene)
    assert perception.target.description == "blue box"
    assert perception.goal.description == "green container"


def test_absent_object_names_what_was_asked_and_seen(synth, default_scene):
    scene = synth.render(default_scene.shapes, prompt="put the yellow can in the bin")
    with pytest.raises(GroundingError) as error:
        perceive(scene.scene)
    message = str(error.value)
    assert message.startswith("prompt asks for 'yellow can' but the scene has: ")
    for seen in ("red cylinder", "blue box", "grey container"):
        assert seen in message


def test_absent_goal(synth, default_scene):
    scene = synth.render(default_scene.shapes, prompt="put the red can in the purple bin")
    with pytest.raises(GroundingError, match="prompt asks for 'purple bin' but the scene has"):
        perceive(scene.scene)


def test_ambiguous_object_is_refused(synth):
    shapes = synth.default_shapes() + [synth.Cylinder("can2", (-0.14, -0.02), 0.03, 0.1, rgb=synth.RED)]
    scene = synth.render(shapes, prompt="put the red can in the bin")
    with pytest.raises(
        GroundingError, match=r"'red can' but 2 objects match it equally well: red cylinder \(#\d"
    ):
        perceive(scene.scene)


def test_colour_disambiguates(synth):
    shapes = synth.default_shapes() + [synth.Cylinder("can2", (-0.14, -0.02), 0.03, 0.1, rgb=synth.YELLOW)]
    with pytest.raises(GroundingError, match="2 objects match"):
        perceive(synth.render(shapes, prompt="put the can in the bin").scene)
    perception = perceive(synth.render(shapes, prompt="put the yellow can in the bin").scene)
    assert perception.target.description == "yellow cylinder"


def test_where_the_prompt_places_an_object_settles_a_tie(synth):
    """Two red cans: "the can on the left" is the one left in the image, "the can next to the box" the one
    nearer the blue box; with no such words the prompt stays ambiguous."""
    shapes = synth.default_shapes() + [synth.Cylinder("can2", (-0.12, 0.0), 0.03, 0.1, rgb=synth.RED)]
    scene = synth.render(shapes, prompt="put the red can in the bin")
    with pytest.raises(GroundingError, match="2 objects match"):
        perceive(scene.scene)
    cans = {}
    for side in ("left", "right"):
        perception = perceive(synth.render(shapes, prompt=f"put the red can on the {side} in the bin").scene)
        cans[side] = perception.target
        assert perception.goal.shape == "container"
    assert cans["left"].image_centroid[1] < cans["right"].image_centroid[1]
    near_box = perceive(
        synth.render(shapes, prompt="put the red can next to the box into the bin").scene
    ).target
    assert near_box.centre_world[0] == pytest.approx(-0.12, abs=0.02)


def test_a_two_tone_object_whose_mean_reads_neutral_is_known_by_its_hue_too(synth):
    """A pink paperback seen from above shows its off-white pages as much as its cover; the mean reads grey.
    It still answers to "pink", but an object pink through and through wins over it."""
    import dataclasses

    import numpy as np

    from physworld_core.perception.colour import object_colours
    from physworld_core.perception.grounding import ground
    from physworld_core.perception.language import parse_instruction

    pink, grey, pages = [205, 105, 150], [120, 120, 122], [225, 222, 212]
    assert object_colours(np.array([pink] * 30 + [grey] * 35 + [pages] * 35)) == ("grey", "pink")
    assert object_colours(np.array([pink] * 10 + [grey] * 45 + [pages] * 45)) == ("grey",)  # a label
    assert object_colours(np.array([pink] * 100)) == ("pink",)

    objects = perceive(
        synth.render(synth.default_shapes(), prompt="put the red can in the bin").scene
    ).objects
    can = next(o for o in objects if o.description == "red cylinder")
    two_tone = dataclasses.replace(can, colour="grey", colours=("grey", "pink"))
    others = [o for o in objects if o is not can]
    instruction = parse_instruction("put the pink can in the bin")
    assert ground(instruction, [two_tone, *others]).target is two_tone
    pink_can = dataclasses.replace(can, index=99, colour="pink", colours=("pink",))
    assert ground(instruction, [two_tone, pink_can, *others]).target is pink_can
    with pytest.raises(GroundingError, match="'green can'"):
        ground(parse_instruction("put the green can in the bin"), [two_tone, *others])
