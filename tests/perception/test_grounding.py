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
