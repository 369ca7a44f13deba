"""Antipodal grasp candidates sampled on the reconstructed mesh, for a top-down parallel gripper.

The hand points down and may turn about the vertical, so a grasp is a TCP position relative to the object and
a turn of the hand from its rest orientation. Candidates are scored by how antipodal the two contacts are
(surface normals along the closing axis), how much of the gripper's width they leave free, how close to the
object's mass centre they pinch and how little the hand must turn; candidates whose fingertips would hit the
table are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

from physworld_core.errors import PhysworldError
from physworld_core.policy.hand import rotate_z


@dataclass(frozen=True)
class GraspConfig:
    """Args:
    max_width: gripper opening (m); contacts must be closer than this minus ``clearance`` on each side.
    clearance: free space kept between each open finger and the object (m).
    table_clearance: lowest allowed TCP height above the surface under the grasped part (the table, or the
        lid under a knob); the fingertips reach about 10 mm below the TCP.
    finger_depth: how far below the object's top under the fingers the TCP may go (m).
    num_offsets, num_heights: candidate grid size.
    min_antipodal: cosine of the widest angle allowed between a contact's normal and the closing axis,
        and of the angle by which the two contact normals may miss facing each other (0.8: 37°, inside the
        friction cone of the frictions physworld estimates).
    num_turns: hand turns tried, evenly over a half turn (the gripper is symmetric under a half turn).
    turn_penalty: score lost per radian the hand must turn: between equally good grasps, the one that
        needs least turning wins.
    centre_weight: score lost for pinching at the end of the object rather than across its middle. A skill
        that turns the held object over (standing a bottle up) weighs this far more: held by its neck, a
        bottle swings in the fingers as it is tipped.
    """

    max_width: float = 0.08
    clearance: float = 0.006
    table_clearance: float = 0.012
    finger_depth: float = 0.035
    num_offsets: int = 9
    num_heights: int = 5
    num_turns: int = 12
    turn_penalty: float = 0.1
    min_antipodal: float = 0.8
    centre_weight: float = 0.4

    def __post_init__(self) -> None:
        if self.max_width <= 2 * self.clearance:
            raise ValueError(f"max_width {self.max_width} leaves no room after clearance {self.clearance}")
        if self.num_offsets < 1 or self.num_heights < 1 or self.num_turns < 1:
            raise ValueError("num_offsets, num_heights and num_turns must be >= 1")


@dataclass(frozen=True)
class Grasp:
    tcp_in_object: np.ndarray  # TCP position relative to the object frame origin, in world axes
    width: float
    score: float
    turn: float = 0.0  # the hand's turn about the vertical from its rest orientation (rad)


FINGER_HALF_WIDTH = 0.01
"""Half the Panda finger pad's width across the closing axis (m)."""


def _chord(normals: np.ndarray, offsets: np.ndarray, along: np.ndarray, p: np.ndarray):
    """Where the line ``p + t * axis`` enters and leaves the hull (``t_in``, ``t_out``, all face ``t``), or
    ``None`` if it misses. Points inside satisfy n.(p + t a) + d <= 0 for every face."""
    dist = normals @ p + offsets
    if np.any((np.abs(along) < 1e-9) & (dist > 0)):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -dist / along
    t_in = t[along < -1e-9].max(initial=-np.inf)
    t_out = t[along > 1e-9].min(initial=np.inf)
    if not np.isfinite(t_in) or not np.isfinite(t_out) or t_out <= t_in:
        return None
    return t_in, t_out, t


def sample_grasps(
    vertices_world: np.ndarray,
    faces: np.ndarray | None,
    closing_axis: np.ndarray,
    table_height: float,
    config: GraspConfig = GraspConfig(),
    min_tcp_z: float = -np.inf,
) -> list[Grasp]:
    """Grasps ranked best first. ``vertices_world`` is the target mesh in world coordinates (its origin is
    taken as the object position); ``closing_axis`` the horizontal direction the fingers close along;
    ``min_tcp_z`` the lowest TCP height allowed (fingers that must stay above a slot's neighbours)."""
    # Parallel fingers touch the convex hull, so contacts are line-hull intersections: exact and cheap.
    hull = ConvexHull(vertices_world)
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    axis = np.asarray(closing_axis, float).copy()
    axis[2] = 0.0
    axis /= np.linalg.norm(axis)
    lateral = np.array([-axis[1], axis[0], 0.0])
    centre = vertices_world[hull.vertices].mean(0)
    top = float(vertices_world[:, 2].max())
    lateral_extent = float(np.abs((vertices_world - centre) @ lateral).max())
    offsets_lateral = np.linspace(-0.6, 0.6, config.num_offsets) * lateral_extent
    along = normals @ axis
    levels = np.linspace(table_height, top, 48)

    def local_top(s: float) -> float:
        """Highest level at which the fingers' footprint around lateral offset ``s`` meets the object: where
        the palm would stop (a shoe's toe is lower than its heel)."""
        highest = table_height
        for ds in (-FINGER_HALF_WIDTH, 0.0, FINGER_HALF_WIDTH):
            for z in levels[::-1]:
                if z <= highest:
                    break
                q = centre + (s + ds) * lateral
                q[2] = z
                if _chord(normals, offsets, along, q) is not None:
                    highest = float(z)
                    break
        return highest

    grasps = []
    for s in offsets_lateral:
        roof = local_top(s)
        lowest = max(table_height + config.table_clearance, roof - config.finger_depth, min_tcp_z)
        highest = roof - 0.008
        if highest < lowest:  # a short part (a knob): one height if the fingers still reach its side
            if roof - 0.003 < lowest:
                continue
            highest = lowest
        heights = np.linspace(lowest, highest, config.num_heights)
        for z in heights:
            p = centre + s * lateral
            p[2] = z
            chord = _chord(normals, offsets, along, p)
            if chord is None:
                continue
            t_in, t_out, t = chord
            width = float(t_out - t_in)
            if width > config.max_width - 2 * config.clearance:
                continue
            n_in = normals[np.argmax(np.where(along < -1e-9, t, -np.inf))]
            n_out = normals[np.argmin(np.where(along > 1e-9, t, np.inf))]
            antipodal = min(abs(float(n_in @ axis)), abs(float(n_out @ axis)))
            # Both contacts inside a friction cone about the closing axis, and facing each other: a pinch
            # across a corner (two faces at right angles) slips out however hard the fingers close.
            if antipodal < config.min_antipodal or float(n_in @ n_out) > -config.min_antipodal:
                continue
            tcp = p + 0.5 * (t_in + t_out) * axis
            off_centre = abs(s) / max(lateral_extent, 1e-6)
            depth = (roof - z) / max(config.finger_depth, 1e-6)
            score = (
                antipodal
                + 0.3 * (1 - width / config.max_width)
                - config.centre_weight * off_centre
                + 0.2 * min(depth, 1.0)
            )
            grasps.append(Grasp(tcp_in_object=tcp, width=width, score=float(score)))
    grasps.sort(key=lambda g: -g.score)
    return grasps


def best_grasp(
    vertices_world: np.ndarray,
    faces: np.ndarray,
    object_position: np.ndarray,
    closing_axis: np.ndarray,
    table_height: float,
    config: GraspConfig = GraspConfig(),
    parts: list[np.ndarray] | None = None,
    grip_parts: tuple[int, ...] = (),
    min_tcp_z: float = -np.inf,
    across: np.ndarray | None = None,
) -> Grasp:
    """The best grasp over ``config.num_turns`` turns of the hand; ``closing_axis`` is the fingers' closing
    direction at rest (turn 0).

    ``across``: a direction in the table plane the fingers must close across (within 30° of square to it):
    a lying bottle's axis, which the hand tips about the closing axis to stand it up.
    ``parts``: the object's convex parts (world vertices) when it has several (a lid and its knob): each is
    grasped on its own, above whatever part lies under it, since the hull of the whole would swallow the knob.
    ``grip_parts``: indices into ``parts`` of the only parts to grasp (the prompt said "by its handle").
    ``min_tcp_z``: the lowest TCP height at rest (see :func:`sample_grasps`).
    """
    parts = [np.asarray(vertices_world)] if not parts else [np.asarray(p) for p in parts]
    turns = (np.arange(config.num_turns) - (config.num_turns - 1) // 2) * np.pi / config.num_turns
    candidates = []
    for index, part in enumerate(parts):
        if grip_parts and index not in grip_parts:
            continue
        floor = _floor_under(part, parts, table_height)
        for turn in turns:
            axis = rotate_z(np.asarray(closing_axis, dtype=np.float64), float(turn))
            if across is not None and abs(axis[:2] @ across[:2]) > 0.5 * np.linalg.norm(across[:2]):
                continue
            for g in sample_grasps(part, None, axis, floor, config, min_tcp_z)[:1]:
                score = g.score - config.turn_penalty * abs(float(turn))
                candidates.append(Grasp(g.tcp_in_object, g.width, score, float(turn)))
    if not candidates:
        extent = vertices_world.max(0) - vertices_world.min(0)
        if grip_parts:
            extent = np.ptp(np.concatenate([parts[i] for i in grip_parts]), axis=0)
            raise PhysworldError(
                f"no feasible grasp on the part the prompt names: it is {1000 * extent[0]:.0f}x"
                f"{1000 * extent[1]:.0f}x{1000 * extent[2]:.0f} mm and the gripper opens "
                f"{1000 * config.max_width:.0f} mm, at any turn of the hand"
            )
        high = (
            ""
            if not np.isfinite(min_tcp_z)
            else f", holding it at least {1000 * (min_tcp_z - vertices_world[:, 2].min()):.0f} mm above its "
            "bottom (the fingers must clear the goal's neighbours)"
        )
        turns_tried = "at any turn of the hand" if across is None else "closing across its axis"
        raise PhysworldError(
            f"no feasible grasp: the object is {1000 * extent[0]:.0f}x{1000 * extent[1]:.0f}x"
            f"{1000 * extent[2]:.0f} mm and the gripper opens {1000 * config.max_width:.0f} mm, "
            f"{turns_tried}{high}"
        )
    g = max(candidates, key=lambda c: c.score)
    return Grasp(
        tcp_in_object=g.tcp_in_object - np.asarray(object_position), width=g.width, score=g.score, turn=g.turn
    )


def _floor_under(part: np.ndarray, parts: list[np.ndarray], table_height: float) -> float:
    """Top of the highest other part right under ``part`` (footprints overlapping, below its bottom), or the
    table: the surface the fingertips must stay above."""
    lo, hi = part.min(0), part.max(0)
    floor = table_height
    for other in parts:
        if other is part:
            continue
        o_lo, o_hi = other.min(0), other.max(0)
        overlaps = np.all(o_lo[:2] < hi[:2]) and np.all(lo[:2] < o_hi[:2])
        if overlaps and o_hi[2] <= lo[2] + 0.002:
            floor = max(floor, float(o_hi[2]))
    return floor
