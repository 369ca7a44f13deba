"""How the procedural video moves the object: its planned trajectory, and the generic motion every skill builds
on (lift, carry, lower; or slide along the table).

A skill's own motion (a bottle tipped up, a cup tipped over a bowl, a brush's stroke) lives in its folder
(``physworld_core/skills/<skill>/video.py``) and is made of the pieces here: minimum-jerk segments
(:func:`min_jerk`, :func:`segment_frames`), rigid turns about an axis (:func:`about_axis`) and the hold at the
end of the clip (:func:`hold_to_end`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

REST_GAP_M = 0.002
"""A set-down object's lowest point ends this far above what it rests on (a container's floor, a top, the
table)."""

if TYPE_CHECKING:  # types only: the hooks module imports this one
    from physworld_core.perception.perceive import Perception
    from physworld_core.video.procedural import ProceduralVideoConfig
    from physworld_core.video.skill import SkillVideo


@dataclass(frozen=True, eq=False)
class ObjectTrajectory:
    """The planned motion of the target.

    Args:
        transforms_world: T×4×4 rigid transforms; a point ``p`` of the object at rest is at ``T[t] @ p`` in
            frame ``t`` (world frame). ``T[0]`` is the identity.
        phases: name → [first, last] frame index (inclusive) of each part of the motion: hold_start, lift,
            carry, lower, hold_end for a carry; a skill's own motion names its own (tip, tilt, sweep...).
        carry_height: height (m above the table) of the object's bottom while carried (a tipped object: its
            lowest point at the start of the turn).
        final_height: height of the object's bottom at the end (the container floor, the table).
        obstacles: indices of the objects near the carry path (passed over, or through).
        cut_through: indices of the obstacles the carry path goes through (only with ``through_obstacle``).
        payload: what a skill's motion records beyond these, of its own type (the way a cup is tipped, the
            stroke of a brush), read by its own hooks; ``None`` for a carry.
    """

    transforms_world: np.ndarray
    phases: dict[str, list[int]]
    carry_height: float
    final_height: float
    obstacles: tuple[int, ...]
    cut_through: tuple[int, ...] = ()
    payload: Any = None


@dataclass(frozen=True, eq=False)
class ContentsMotion:
    """How what moves apart from the target moves: what was seen inside a poured vessel (with it, then out over
    its lip into the goal), or the scraps a brush sweeps (still, then pushed ahead of it into the dustpan).

    Args:
        labels: M ints, the part each point is of: for a pour the clump (connected patch of its pixels) of each
            of ``PourView.contents_points``, for a sweep the scrap of each of the ``SweepView.scraps``' points
            (concatenated in order).
        transforms_world: T×B×4×4, per frame and part, the rigid motion of the part's points from where they
            were seen (a pour's contents: the vessel's own transform until ``release_frame``).
        release_frame: the first frame they no longer move with the vessel (a sweep: the first a scrap moves).
        landed_frame: the first frame they rest on the goal's floor (a sweep: from which none moves).
    """

    labels: np.ndarray
    transforms_world: np.ndarray
    release_frame: int
    landed_frame: int


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk time scaling: 0→1 with zero velocity and acceleration at both ends (how hands move)."""
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10 - 15 * s + 6 * s**2)


def carry_trajectory(
    perception: Perception, config: ProceduralVideoConfig, hooks: SkillVideo, through_obstacle: bool = False
) -> ObjectTrajectory:
    """Lift the target, carry it above the goal (``hooks.goal_point``), lower it onto the goal's floor (or its
    top, for "on"); or, where the skill slides it (``hooks.slides``: a push, or a flat marking as the goal),
    slide it along the table onto the goal's centre. The skill may change where and how it lands
    (``hooks.landing``: a shelf's board in its row's free gap, turned so its thin side runs along the row).

    The carry height clears every object whose footprint comes near the path (the goal's rim included) by
    ``config.clearance``; the jitters (seeded) add a sideways bow and a turn so samples differ.

    With ``through_obstacle`` (a realism artefact) the path is what a video model often shows instead: a
    straight line (no bow) at half the tallest obstacle's height, or ``config.lift_height`` if lower, through
    whatever stands in the way.
    """
    rng = np.random.default_rng(config.seed)
    plane = perception.plane
    target, goal = perception.target, perception.goal
    up = plane.normal_array
    start_uv = plane.to_plane_coords(np.asarray([target.centre_world]))[0, :2]
    goal_point = hooks.goal_point(perception)
    goal_uv = plane.to_plane_coords(goal_point[None])[0, :2]
    arc = float(rng.uniform(-1.0, 1.0) * config.arc_jitter)

    obstacles = []
    for other in perception.objects:
        if other.index == target.index:
            continue
        other_uv = plane.to_plane_coords(np.asarray([other.centre_world]))[0, :2]
        corridor = other.footprint_radius + target.footprint_radius + abs(arc)
        if other.index == goal.index or distance_to_segment(other_uv, start_uv, goal_uv) < corridor:
            obstacles.append(other)
    tallest = max((o.top_height for o in obstacles), default=0.0)
    carry_height = max(config.lift_height, tallest + config.clearance)
    cut_through: tuple[int, ...] = ()
    if through_obstacle:
        arc = 0.0
        carry_height = min(config.lift_height, 0.5 * tallest) if tallest > 0 else config.lift_height
        cut_through = tuple(o.index for o in obstacles if o.top_height > carry_height)
    if goal.floor_height is not None and perception.instruction.relation == "in":
        final_height = goal.floor_height + REST_GAP_M
    else:
        final_height = goal.top_height + REST_GAP_M  # "on": rest on top of it
    if hooks.slides(perception):
        # Pushed, or put on a flat marking: the object slides along the table, neither lifted nor lowered.
        carry_height = final_height = 0.0
        cut_through = ()
    final_yaw = float(np.deg2rad(rng.uniform(-1.0, 1.0) * config.yaw_jitter_deg))
    final_height, final_yaw = hooks.landing(perception, final_height, final_yaw)

    # Waypoints of the footprint centre, as displacements from rest (world frame).
    travel_world = goal_point - np.asarray(target.centre_world)
    travel_world -= (travel_world @ up) * up
    distance = float(np.linalg.norm(travel_world))
    waypoints = [
        np.zeros(3),
        up * carry_height,
        travel_world + up * carry_height,
        travel_world + up * final_height,
    ]
    sideways = np.cross(up, travel_world / distance) if distance > 1e-6 else np.zeros(3)

    total = config.num_frames
    hold = config.hold_frames
    moving = total - 2 * hold
    lengths = np.array([np.linalg.norm(b - a) for a, b in itertools.pairwise(waypoints)]) + 1e-3
    durations = np.sqrt(lengths)  # min-jerk at bounded acceleration: duration grows like sqrt(distance)
    segment_frames = np.maximum(3, np.round(moving * durations / durations.sum())).astype(int)
    segment_frames[np.argmax(segment_frames)] += moving - segment_frames.sum()

    transforms = np.tile(np.eye(4), (total, 1, 1))
    centre = np.asarray(target.centre_world)
    phases = {"hold_start": [0, hold - 1] if hold else []}
    frame = hold
    for segment, (name, count) in enumerate(zip(("lift", "carry", "lower"), segment_frames.tolist())):
        phases[name] = [frame, frame + count - 1]
        for step in range(count):
            s = min_jerk(np.asarray((step + 1) / count))
            offset = waypoints[segment] + s * (waypoints[segment + 1] - waypoints[segment])
            yaw = 0.0
            if name == "carry":
                offset = offset + sideways * arc * np.sin(np.pi * s)
                yaw = final_yaw * s
            elif name == "lower":
                yaw = final_yaw
            transforms[frame] = about_vertical_axis(yaw, up, centre, offset)
            frame += 1
    hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=float(carry_height),
        final_height=float(final_height),
        obstacles=tuple(o.index for o in obstacles),
        cut_through=cut_through,
    )


def frames_per_segment(lengths: np.ndarray, config: ProceduralVideoConfig) -> np.ndarray:
    """Frames for each moving segment of a clip (between its start and end holds): in proportion to the square
    root of each segment's length (a longer move is faster, not proportionally longer), at least 3 each."""
    durations = np.sqrt(np.asarray(lengths, dtype=np.float64) + 1e-3)
    moving = config.num_frames - 2 * config.hold_frames
    frames = np.maximum(3, np.round(moving * durations / durations.sum())).astype(int)
    frames[np.argmax(frames)] += moving - frames.sum()
    return frames


def hold_to_end(transforms: np.ndarray, frame: int, phases: dict) -> None:
    """The object stays where the last moving frame (``frame - 1``) left it until the clip ends."""
    total = len(transforms)
    transforms[frame:] = transforms[frame - 1]
    phases["hold_end"] = [frame, total - 1] if frame < total else []


def tilt_angles_deg(trajectory: ObjectTrajectory, up: np.ndarray) -> np.ndarray:
    """Per frame, how far (degrees) the moved object's rest-pose up direction is tipped from up."""
    return np.rad2deg(np.arccos(np.clip(trajectory.transforms_world[:, :3, :3] @ up @ up, -1.0, 1.0)))


def about_vertical_axis(yaw: float, up: np.ndarray, centre: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """4×4: rotate by ``yaw`` about the vertical axis through ``centre``, then translate by ``offset``."""
    return about_axis(yaw, up, centre, offset)


def about_axis(angle: float, axis: np.ndarray, centre: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """4×4: rotate by ``angle`` (right-handed) about the unit ``axis`` through ``centre``, then translate by
    ``offset``."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    rotation = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)  # Rodrigues
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = centre + offset - rotation @ centre
    return transform


def distance_to_segment(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    denom = float(ab @ ab)
    s = 0.0 if denom < 1e-12 else float(np.clip((point - a) @ ab / denom, 0.0, 1.0))
    return float(np.linalg.norm(point - (a + s * ab)))
