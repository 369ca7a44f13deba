"""Layout helpers shared by the world families: where things may stand, how far apart, and how a prompt reads.

Every family draws its world from one seeded generator, so these helpers never draw numbers themselves unless
they say so (``sample_in_workspace``), and those that do draw them in the order the families always have:
the same seed still makes the same world.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import TypeVar

import numpy as np

from physworld_core.robot import PANDA

# Everything on the table lies in this box: reachable by the Panda and seen by the default scene camera.
WORKSPACE_X, WORKSPACE_Y = (-0.15, 0.17), (-0.25, 0.25)
ROBOT_BASE_XY = np.asarray(PANDA.base_xyz[:2], dtype=np.float64)

T = TypeVar("T")


class Record:
    """Mixin for a family's frozen layout dataclass: ``to_dict()`` gives the hidden truth as plain nested
    dicts (scored against, written as JSON)."""

    def to_dict(self) -> dict:
        return asdict(self)


def placed_at(truth: T, xy, **changes) -> T:
    """A sampled object moved to its accepted table position ``xy`` (kept as plain floats, so a layout's repr
    and JSON do not depend on whether numpy drew it), with any other ``changes``."""
    return replace(truth, xy=tuple(map(float, xy)), **changes)


def points_in_workspace(points_xy, margin: float = 0.0) -> bool:
    """Do all these table points lie in the workspace shrunk by ``margin`` on every side? (A disc of radius r
    fits when its centre passes with ``margin=r``.)"""
    p = np.atleast_2d(np.asarray(points_xy, dtype=np.float64))
    return bool(
        np.all(p[:, 0] >= WORKSPACE_X[0] + margin)
        and np.all(p[:, 0] <= WORKSPACE_X[1] - margin)
        and np.all(p[:, 1] >= WORKSPACE_Y[0] + margin)
        and np.all(p[:, 1] <= WORKSPACE_Y[1] - margin)
    )


def sample_in_workspace(rng: np.random.Generator, margin: float = 0.0) -> np.ndarray:
    """A uniform table point at least ``margin`` inside the workspace (draws two numbers: x, then y)."""
    return rng.uniform(
        [WORKSPACE_X[0] + margin, WORKSPACE_Y[0] + margin], [WORKSPACE_X[1] - margin, WORKSPACE_Y[1] - margin]
    )


def rectangle_corners(half_x: float, half_y: float, xy, yaw: float) -> np.ndarray:
    """The four table corners of a rectangle (half sizes along its own axes) centred at ``xy``, turned by
    ``yaw``: a shelf or a box is inside the workspace when all four are."""
    c, s = np.cos(yaw), np.sin(yaw)
    corners = np.array([[x * c - y * s, x * s + y * c] for x in (-half_x, half_x) for y in (-half_y, half_y)])
    return corners + np.asarray(xy)


def rotation_2d(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s], [s, c]])


def to_world_xy(local_xy, xy, yaw: float) -> np.ndarray:
    """Table points from a frame at ``xy`` turned by ``yaw`` into the world."""
    return np.asarray(local_xy) @ rotation_2d(yaw).T + np.asarray(xy)


def to_local_xy(world_xy, xy, yaw: float) -> np.ndarray:
    """World table points into a frame at ``xy`` turned by ``yaw`` (a container's or a dustpan's frame)."""
    return (np.asarray(world_xy) - np.asarray(xy)) @ rotation_2d(yaw)


def discs_apart(a_xy, a_radius: float, b_xy, b_radius: float, gap: float) -> bool:
    """Are two footprint discs more than ``gap`` apart (room for the fingers between them)?"""
    return bool(np.hypot(a_xy[0] - b_xy[0], a_xy[1] - b_xy[1]) > a_radius + b_radius + gap)


def separated(placed: Sequence[tuple[Sequence[float], float]], clearance: float) -> bool:
    """Is every pair of ``(xy, footprint radius)`` discs more than ``clearance`` apart?"""
    return all(
        discs_apart(a[0], a[1], b[0], b[1], clearance) for i, a in enumerate(placed) for b in placed[i + 1 :]
    )


def segment_distance(p, a, b) -> float:
    """Distance from point ``p`` to the segment a–b: how close a distractor comes to a pushing corridor or to
    a lying bottle's axis."""
    p, a, b = (np.asarray(v, dtype=np.float64) for v in (p, a, b))
    t = np.clip(np.dot(p - a, b - a) / max(np.dot(b - a, b - a), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * (b - a))))


def within_reach(xy, reach: float) -> bool:
    """Is a table point within ``reach`` of the robot base (the Panda's measured reach at a given height)?"""
    return bool(np.linalg.norm(np.asarray(xy) - ROBOT_BASE_XY) <= reach)


def pack_balls(
    count: int, radius: float, inner_radius: float, floor_z: float, rng: np.random.Generator
) -> list[tuple[float, float, float]] | None:
    """Resting centres for ``count`` balls on a cup's floor: one against the middle if there is room for it,
    the rest evenly spaced in a ring against the wall (draws one number: the ring's phase). One layer only: a
    ball resting on two others wedges them apart (they roll) and drops, so stacked packings are not rest
    poses. None if the balls do not fit.
    """
    ring = inner_radius - radius - 0.0003
    if ring <= radius:
        return None
    centre = ring >= 2 * radius + 0.001 and count > 3
    in_ring = count - int(centre)
    if 2 * ring * np.sin(np.pi / in_ring) < 2 * radius + 0.001:  # neighbours in the ring would overlap
        return None
    phase = float(rng.uniform(0, 2 * np.pi))
    z = floor_z + radius
    centres = [(0.0, 0.0, z)] if centre else []
    for k in range(in_ring):
        a = phase + 2 * np.pi * k / in_ring
        centres.append((ring * np.cos(a), ring * np.sin(a), z))
    return centres


def rejection_sample(draw: Callable[[], T | None], tries: int, failure: str) -> T:
    """Call ``draw`` (which consumes the world's generator and returns None for a rejected candidate) until it
    accepts one. The ranges of every family always admit a layout, so running out of tries is a bug in the
    family, raised with ``failure`` as the reason."""
    for _ in range(tries):
        candidate = draw()
        if candidate is not None:
            return candidate
    raise RuntimeError(failure)


def phrase(phrasings: Sequence[str], layout, phrasing: int | None = None, **names: str) -> str:
    """Fill one of a family's instruction templates: the layout's own phrasing, or the ``phrasing``-th
    (wrapping round) when a caller asks for a particular one."""
    template = phrasings[layout.phrasing if phrasing is None else phrasing % len(phrasings)]
    return template.format(**names)


def colour_noun(obj) -> str:
    """How a prompt names an object: its colour and its noun ("red soda can")."""
    return f"{obj.colour_name} {obj.noun}"
