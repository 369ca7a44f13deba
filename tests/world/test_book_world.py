"""The book world: valid layouts, a slot the book fits, a success test that means "standing in the slot"."""

from __future__ import annotations

import numpy as np

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.book import sample_layout
from physworld_core.world.scripted import OPEN
from tests.world.helpers import put_at_rest, settle


def test_layouts_fit_the_workspace_and_the_slot_fits_the_book():
    for seed in range(40):
        layout = sample_layout(seed)
        book, shelf = layout.book, layout.shelf
        assert book.thickness < 0.06  # the gripper closes across the thickness
        assert 0.012 <= shelf.slot_width - book.thickness <= 0.02
        assert book.depth < shelf.depth
        # Everything on the shelf stays 4 cm below the top of a shelved book: the fingers clear it.
        assert shelf.top - shelf.base_thickness <= book.height - 0.04 + 1e-9
        assert all(b.colour_name != book.colour_name for b in shelf.books)
        xs = sorted([(b.x - b.thickness / 2, b.x + b.thickness / 2) for b in shelf.books])
        left = [b for b in xs if b[1] <= shelf.slot_x]
        right = [b for b in xs if b[0] >= shelf.slot_x]
        assert left and right  # a neighbour on each side
        assert np.isclose(right[0][0] - left[-1][1], shelf.slot_width)
        assert np.hypot(*np.subtract(book.xy, shelf.xy)) > shelf.footprint_radius + book.footprint_radius


def test_prompts_name_the_book_and_the_shelf():
    family = get_family("book")
    layout = sample_layout(2)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert f"{layout.book.colour_name} {layout.book.noun}" in prompt and layout.shelf.noun in prompt


def test_success_means_standing_in_the_slot():
    env = make_world_env(BenchmarkTask("book", 1), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        book, shelf = world.layout.book, world.layout.shelf
        assert world.truth()["book"]["mass"] > 0
        assert not bool(settle(env, 3, OPEN)["success"][0])
        slot = shelf.slot_world()
        put_at_rest(world.target_object, slot + [0, 0, book.height / 2 + 0.002], yaw=shelf.yaw)
        assert bool(settle(env, gripper=OPEN)["success"][0])
        # Lying flat across the tops of the shelved books is not shelved.
        top = shelf.top + book.thickness / 2 + 0.002
        put_at_rest(world.target_object, [slot[0], slot[1], top], roll=np.pi / 2, yaw=shelf.yaw + np.pi / 2)
        assert not bool(settle(env, 5, OPEN)["success"][0])
    finally:
        env.close()
