"""The book world: valid layouts, a slot the book fits, a success test that means "standing in the slot"."""

from __future__ import annotations

import numpy as np
import torch
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.book import sample_layout


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


def _put_book(world, xyz, yaw: float, roll: float = 0.0):
    p = torch.tensor([list(xyz)], dtype=torch.float32)
    q = torch.tensor(np.asarray([euler2quat(roll, 0, yaw)]), dtype=torch.float32)
    world.target_object.set_pose(Pose.create_from_pq(p, q))
    world.target_object.set_linear_velocity(torch.zeros((1, 3)))
    world.target_object.set_angular_velocity(torch.zeros((1, 3)))


def _settle(env, steps: int = 15):
    for _ in range(steps):
        _, _, _, _, info = env.step(np.array([0, 0, 0, 0, 0, 0, 1], np.float32))
    return info


def test_success_means_standing_in_the_slot():
    env = make_world_env(BenchmarkTask("book", 1), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        book, shelf = world.layout.book, world.layout.shelf
        assert world.truth()["book"]["mass"] > 0
        assert not bool(_settle(env, 3)["success"][0])
        slot = shelf.slot_world()
        _put_book(world, slot + [0, 0, book.height / 2 + 0.002], shelf.yaw)
        assert bool(_settle(env)["success"][0])
        # Lying flat across the tops of the shelved books is not shelved.
        top = shelf.top + book.thickness / 2 + 0.002
        _put_book(world, [slot[0], slot[1], top], shelf.yaw + np.pi / 2, roll=np.pi / 2)
        assert not bool(_settle(env, 5)["success"][0])
    finally:
        env.close()
