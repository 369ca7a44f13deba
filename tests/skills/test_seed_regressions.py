"""Regression tests named after the benchmark seeds that shaped a skill's geometry (the comments in the skills
say the general reason; the case that showed it is kept here)."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.skills.place.policy import SLOT_CARRY_SPAN_M, _slot_path
from physworld_core.skills.upright.reconstruction import SECTIONS, revolved


def test_book_0001_the_carry_into_a_slot_narrows_to_it_and_does_not_swing_past():
    """book-0001: the tracked path swung to one side near the slot and back; with the same side-to-side slack
    all the way, the carry followed the swing and cost ten of the episode's 150 steps. The slack narrows to
    nothing at the slot: no waypoint is farther to the side than it is from the slot along the way."""
    start, goal = np.array([0.0, 0.0, 0.05]), np.array([0.3, 0.0, 0.1])
    t = np.linspace(0.0, 1.0, 21)
    swing = 0.04 * np.exp(-(((t - 0.9) / 0.06) ** 2))  # 4 cm to the side, 3 cm before the slot
    tracked = np.stack([0.3 * t, swing, np.full_like(t, 0.12)], axis=1)
    tracked[0] = start
    path = _slot_path(tracked, goal, release_z=0.1, clear_z=0.11)
    carry = path[: len(tracked)]
    along, across = carry[:, 0], carry[:, 1]
    assert np.all(np.abs(across) <= np.minimum(SLOT_CARRY_SPAN_M, 0.3 - along) + 1e-9)
    assert abs(across[np.argmin(np.abs(t - 0.9))]) < 0.031  # the swing, cut to its distance from the slot
    assert np.allclose(path[-2:, :2], goal[:2]) and path[-1, 2] == 0.1  # over the slot, then straight down


def test_upright_0008_a_revolved_body_rests_on_a_flat_not_an_edge():
    """upright-0008: the twin's bottle, resting on an edge of its polygonal rings, rolled 28 cm away from the
    fingers as they closed. Each ring has a flat at the bottom that touches the circle of its radius."""
    radii = np.array([0.02, 0.022, 0.012])
    vertices, _ = revolved(np.array([0.0, 0.06, 0.1]), radii)
    for x, radius in zip((0.0, 0.06, 0.1), radii, strict=True):
        ring = vertices[np.isclose(vertices[:, 0], x) & (np.linalg.norm(vertices[:, 1:], axis=1) > 1e-9)]
        assert len(ring) == SECTIONS
        lowest = np.sort(ring[:, 2])[:2]
        assert lowest[1] - lowest[0] < 1e-12  # two corners level: a flat
        assert lowest[0] == pytest.approx(-radius, abs=1e-12)  # touching the circle: the body's true height
        assert np.sort(ring[:, 2])[2] - lowest[0] > 1e-4  # and only two: a flat, not a wider face


@pytest.mark.slow
def test_upright_0013_a_bottle_lying_along_the_line_of_sight_is_modelled_round():
    """upright-0013: seen along the line of sight, a lying bottle shows its top and one end; the generic
    completion (a half turn about a vertical line) made it a 17 × 11.5 × 4.5 cm slab for a bottle 4.4 cm
    across. Revolved about the axis it lies along, it has the bottle's length and girth."""
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.perception.perceive import perceive
    from physworld_core.skills.upright.reconstruction import lying_body_model
    from physworld_core.world.upright import sample_layout

    perception = perceive(capture_scene(BenchmarkTask("upright", 13)))
    bottle = sample_layout(13).bottle
    vertices, _, _ = lying_body_model(perception.grounding.target.points_world, perception.view, 0.0)
    girth = 2 * np.linalg.norm(vertices[:, 1:] - vertices[:, 1:].mean(0), axis=1).max()
    assert np.ptp(vertices[:, 0]) == pytest.approx(bottle.height, abs=0.012)
    assert girth == pytest.approx(2 * bottle.body_radius, abs=0.006)
