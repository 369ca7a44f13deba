"""The default offline image-to-video backend: move the grounded object in 3D and re-render the RGB-D frame.

Why this exists: the pipeline needs a task video on a CPU with no weights. The depth image already says where
every visible surface is, so a plausible video of "put the red can in the bin" is: cut the can's points out,
fill the hole it leaves with table, and replay a lift–carry–lower motion of those points into the bin,
projecting them every frame with a z-buffer so the bin's near wall hides the can as it goes in.

What it is not: physics. Like a learned video model, it shows a goal, not a feasible robot motion; the later
stages reconstruct and re-plan from it. The motion is recorded in ``plan`` only so tracking can be scored.

Rendering. Once: the target's back-projected pixels are resampled into a dense surface (grazing sides
span few pixels but much surface), the unseen back side is added as a mirror image of the visible side
(bridged to it at the silhouette) so the object does not look hollow when it turns or crosses the image, and
the background is made by filling the target's pixels from the surrounding table. Per frame:
1. move the points by the frame's rigid transform and project them;
2. splat them into a z-buffer (splats grow when the object comes nearer the camera), close pinholes and
   pixels where a back point shows through a gap in the front surface;
3. composite over the background wherever the object is nearer than the background depth, so nearer scenery
   (the container's front wall) hides it.

Upright (a lying object stood up on its base, ``standing_of(perception)``): the object is lifted until it can
swing clear of the table, turned about the horizontal axis across its long axis (through the axis centre) until
its base points down, and lowered onto its base where it lay. Its unseen back is then the seen half turned
half a turn about the object's own axis (exact for a lying bottle, can or box), so the stood-up object shows
a closed surface from every side.

Pour (an open vessel tipped into a container, ``pour_of(perception)``): the vessel is lifted clear of the
container's rim, carried until its lip (the rim point facing the container) is over the container's middle,
and tipped by :data:`POUR_TILT_DEG` about the horizontal axis across the pouring direction, its lip held over
the container and its whole body above the rim. What was seen inside it (``PourView.contents_points``) is cut
out of it and rendered apart: it rides in the vessel until the tilt passes :data:`RELEASE_TILT_DEG`, then
leaves over the lip and falls, each clump of it (a connected patch of its pixels) onto its own spot of the
container's floor. The unseen bottom of the vessel and its floor under the contents are filled with discs of
its own colour, so the tipped vessel shows a closed body.

Sweep (a brush pushing scraps into a dustpan, ``sweep_of(perception)``): the brush is lifted, carried over the start
of the stroke while it turns about the vertical through its head until the head faces into the pan (the
handle trailing), put down behind the farthest scrap, pushed along the lane at an even pace until its head is
inside the pan, and lifted away (up and back, so the pan's inside shows). The scraps (``SweepView.scraps``) are
cut out of the image and rendered apart, like a pour's contents: each lies still until the head (or a scrap
the head pushes) reaches it, then rides in front of it, up the lip and onto the pan's floor.

Realism (:mod:`.realism`, off by default): ``config.realism`` adds the artefacts learned video models show, each
seeded by ``config.seed``. The path may cut through the obstacles and the object may drift in scale or pop out
for a frame (applied here, in the plan and the renderer); a hand, flicker and camera shake are drawn on the
rendered frames afterwards. Frame 0 stays the input image; ``plan["realism"]`` records what was applied.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation, Slerp

from physworld_core.errors import GroundingError
from physworld_core.perception._skill_views import pour_of, slot_of, standing_of, sweep_of
from physworld_core.perception.perceive import Perception, perceive
from physworld_core.perception.segment import SceneObject
from physworld_core.scene import ScenePackage
from physworld_core.video.base import GeneratedVideo, VideoBackend
from physworld_core.video.realism import (
    RealismConfig,
    RealismSamples,
    apply_gain,
    as_realism_config,
    draw_hand,
    sample_realism,
    samples_to_dict,
    shake_frame,
)

MIN_FRAMES = 24


@dataclass(frozen=True)
class ProceduralVideoConfig:
    """Settings of the procedural backend.

    Args:
        num_frames: frames in the video (≥ 24, so tracking has enough motion to fit).
        fps: playback rate.
        lift_height: the object's bottom rises at least this far (m) above where it rested.
        clearance: margin (m) kept above the tallest object under the carry path, the container included.
        hold_frames: still frames at the start and at the end (the input image, then the result).
        splat_size: splat side in pixels at the object's original depth (grows as it nears the camera).
        mirror_back: add a mirrored copy of the visible side as the unseen back side.
        fill_iterations: smoothing passes over the disoccluded background after nearest-table filling.
        yaw_jitter_deg: the object turns by up to this much about its vertical axis on the way (random).
        arc_jitter: the carry path bows sideways by up to this much (m, random).
        seed: seeds the jitters and the realism artefacts; different seeds give different plausible videos
            of the same task.
        realism: artefacts of real video models to add (hand occluder, flicker, scale drift, camera shake,
            a path through obstacles, popping); a :class:`~physworld_core.video.realism.RealismConfig`, a
            preset name of :data:`~physworld_core.video.realism.REALISM_PRESETS` ("none", "mild", "harsh")
            or a dict of its fields. Default: none.
    """

    num_frames: int = 32
    fps: float = 8.0
    lift_height: float = 0.10
    clearance: float = 0.03
    hold_frames: int = 2
    splat_size: int = 1
    mirror_back: bool = True
    fill_iterations: int = 20
    yaw_jitter_deg: float = 15.0
    arc_jitter: float = 0.03
    seed: int = 0
    realism: RealismConfig = field(default_factory=RealismConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "realism", as_realism_config(self.realism))
        if int(self.num_frames) != self.num_frames or self.num_frames < MIN_FRAMES:
            raise ValueError(f"num_frames must be an integer >= {MIN_FRAMES}, got {self.num_frames!r}")
        if not (np.isfinite(self.fps) and 0 < self.fps <= 120):
            raise ValueError(f"fps must lie in (0, 120], got {self.fps!r}")
        if not (np.isfinite(self.lift_height) and 0 < self.lift_height <= 1.0):
            raise ValueError(f"lift_height must lie in (0, 1] metres, got {self.lift_height!r}")
        if not (np.isfinite(self.clearance) and 0 <= self.clearance <= 0.5):
            raise ValueError(f"clearance must lie in [0, 0.5] metres, got {self.clearance!r}")
        if not 0 <= self.hold_frames <= (self.num_frames - 12) // 2:
            raise ValueError(
                f"hold_frames must lie in [0, {(self.num_frames - 12) // 2}] so at least 12 frames move, "
                f"got {self.hold_frames!r}"
            )
        if not 1 <= self.splat_size <= 5:
            raise ValueError(f"splat_size must lie in [1, 5] pixels, got {self.splat_size!r}")
        if not 0 <= self.fill_iterations <= 500:
            raise ValueError(f"fill_iterations must lie in [0, 500], got {self.fill_iterations!r}")
        if not 0 <= self.yaw_jitter_deg <= 90:
            raise ValueError(f"yaw_jitter_deg must lie in [0, 90], got {self.yaw_jitter_deg!r}")
        if not 0 <= self.arc_jitter <= 0.2:
            raise ValueError(f"arc_jitter must lie in [0, 0.2] metres, got {self.arc_jitter!r}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")


@dataclass(frozen=True, eq=False)
class ObjectTrajectory:
    """The planned motion of the target.

    Args:
        transforms_world: T×4×4 rigid transforms; a point ``p`` of the object at rest is at ``T[t] @ p`` in
            frame ``t`` (world frame). ``T[0]`` is the identity.
        phases: name → [first, last] frame index (inclusive) of hold_start, lift, carry, lower, hold_end; for
            the upright skill hold_start, lift, tip, lower, hold_end.
        carry_height: height (m above the table) of the object's bottom while carried (upright: while it
            turns, its lowest point at the start of the turn).
        final_height: height of the object's bottom at the end (the container floor; upright: the table).
        obstacles: indices of the objects near the carry path (passed over, or through).
        cut_through: indices of the obstacles the carry path goes through (only with ``through_obstacle``).
        pour_direction: for the pour skill, the horizontal world unit vector from the vessel towards the
            goal, the way its mouth is tipped (phases hold_start, lift, carry, tilt, hold_end); else ``None``.
        sweep_stroke: for the sweep skill, 2×3: where the brush head's footprint centre starts and ends its
            stroke along the table (phases hold_start, lift, carry, lower, sweep, raise, hold_end); else
            ``None``.
    """

    transforms_world: np.ndarray
    phases: dict[str, list[int]]
    carry_height: float
    final_height: float
    obstacles: tuple[int, ...]
    cut_through: tuple[int, ...] = ()
    pour_direction: np.ndarray | None = None
    sweep_stroke: np.ndarray | None = None


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk time scaling: 0→1 with zero velocity and acceleration at both ends (how hands move)."""
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10 - 15 * s + 6 * s**2)


def plan_trajectory(
    perception: Perception, config: ProceduralVideoConfig, through_obstacle: bool = False
) -> ObjectTrajectory:
    """Lift the target, carry it above the goal's interior centre, lower it onto the goal's floor; or, for a
    push (or a flat marking as the goal), slide it along the table onto the goal's centre; or, for a shelf,
    lower it onto the board in the row's free gap (``slot_of(perception)``), turned so its thin side runs along
    the row (a slot admits one turn, so that turn gets no jitter).

    The carry height clears every object whose footprint comes near the path (the goal's rim included) by
    ``config.clearance``; the jitters (seeded) add a sideways bow and a turn so samples differ.

    With ``through_obstacle`` (a realism artefact) the path is what a video model often shows instead: a
    straight line (no bow) at half the tallest obstacle's height, or ``config.lift_height`` if lower, through
    whatever stands in the way.
    """
    if standing_of(perception) is not None:
        return plan_standing_up(perception, config)
    if pour_of(perception) is not None:
        return plan_pouring(perception, config)
    if sweep_of(perception) is not None:
        return plan_sweeping(perception, config)
    rng = np.random.default_rng(config.seed)
    plane = perception.plane
    target, goal = perception.target, perception.goal
    up = plane.normal_array
    start_uv = plane.to_plane_coords(np.asarray([target.centre_world]))[0, :2]
    slot = slot_of(perception)
    goal_point = goal_point_world(perception)
    goal_uv = plane.to_plane_coords(goal_point[None])[0, :2]
    arc = float(rng.uniform(-1.0, 1.0) * config.arc_jitter)

    obstacles = []
    for other in perception.objects:
        if other.index == target.index:
            continue
        other_uv = plane.to_plane_coords(np.asarray([other.centre_world]))[0, :2]
        corridor = other.footprint_radius + target.footprint_radius + abs(arc)
        if other.index == goal.index or _distance_to_segment(other_uv, start_uv, goal_uv) < corridor:
            obstacles.append(other)
    tallest = max((o.top_height for o in obstacles), default=0.0)
    carry_height = max(config.lift_height, tallest + config.clearance)
    cut_through: tuple[int, ...] = ()
    if through_obstacle:
        arc = 0.0
        carry_height = min(config.lift_height, 0.5 * tallest) if tallest > 0 else config.lift_height
        cut_through = tuple(o.index for o in obstacles if o.top_height > carry_height)
    if goal.floor_height is not None and perception.instruction.relation == "in":
        final_height = goal.floor_height + 0.002
    else:
        final_height = goal.top_height + 0.002  # "on": rest on top of it
    if perception.instruction.skill == "push" or goal.shape == "region":
        # Pushed, or put on a flat marking: the object slides along the table, neither lifted nor lowered.
        carry_height = final_height = 0.0
        cut_through = ()
    final_yaw = float(np.deg2rad(rng.uniform(-1.0, 1.0) * config.yaw_jitter_deg))
    if slot is not None:
        final_height = slot.board_height + 0.002
        final_yaw = turn_into_row(target.yaw, slot.row_yaw)

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
            transforms[frame] = _about_vertical_axis(yaw, up, centre, offset)
            frame += 1
    _hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=float(carry_height),
        final_height=float(final_height),
        obstacles=tuple(o.index for o in obstacles),
        cut_through=cut_through,
    )


TIP_CLEARANCE_M = 0.01
"""While it turns, the object's lowest point stays at least this far above the table."""

REST_GAP_M = 0.002
"""A set-down object's lowest point ends this far above the table (as a placed one above its support)."""


def plan_standing_up(perception: Perception, config: ProceduralVideoConfig) -> ObjectTrajectory:
    """Stand the lying target up (upright skill, ``standing_of(perception)``): lift, tip, lower.

    Lift: straight up until the object can swing clear of the table, i.e. its axis centre is
    ``√((length/2)² + radius²)`` + :data:`TIP_CLEARANCE_M` above the table (the farthest its outline reaches
    from the centre across the turn), so it rises by at least its radius plus a centimetre. Tip: a quarter turn
    about the horizontal axis across its long axis, through the axis centre, base end going down. Lower: onto
    its base, lowest point :data:`REST_GAP_M` above the table, standing where its axis centre was.

    The seeded jitters: a little more lift (up to ``arc_jitter / 2``) and a sideways sway during the lift and
    the turn that returns to nothing; the end pose is exact. No yaw jitter: a bottle's turn about its own axis
    does not show, a box's would only be noise.
    """
    rng = np.random.default_rng(config.seed)
    standing = standing_of(perception)
    plane = perception.plane
    up = plane.normal_array
    centre = standing.centre
    half_length, radius = standing.length / 2, standing.radius
    centre_height = float(plane.signed_height(centre[None])[0])
    swing_height = float(np.hypot(half_length, radius)) + TIP_CLEARANCE_M
    swing_height += float(rng.uniform(0.0, 0.5) * config.arc_jitter)
    final_centre_height = half_length + REST_GAP_M
    sway = float(rng.uniform(-1.0, 1.0) * config.arc_jitter / 3)
    turn_axis = np.cross(standing.axis, up)
    turn_axis /= np.linalg.norm(turn_axis)
    tilt = float(np.arccos(np.clip(standing.axis @ up, -1.0, 1.0)))  # π/2 for an axis along the table

    # Keyframes: (height of the axis centre above the table, turn angle).
    keys = [(centre_height, 0.0), (swing_height, 0.0), (swing_height, tilt), (final_centre_height, tilt)]
    lengths = np.array(
        [abs(b[0] - a[0]) + abs(b[1] - a[1]) * half_length for a, b in itertools.pairwise(keys)]
    )
    segment_frames = _segment_frames(lengths, config)
    total, hold = config.num_frames, config.hold_frames

    transforms = np.tile(np.eye(4), (total, 1, 1))
    phases = {"hold_start": [0, hold - 1] if hold else []}
    frame = hold
    for segment, (name, count) in enumerate(zip(("lift", "tip", "lower"), segment_frames.tolist())):
        phases[name] = [frame, frame + count - 1]
        (h0, a0), (h1, a1) = keys[segment], keys[segment + 1]
        for step in range(count):
            s = float(min_jerk(np.asarray((step + 1) / count)))
            height, angle = h0 + s * (h1 - h0), a0 + s * (a1 - a0)
            swayed = sway * np.sin(np.pi * (segment + s) / 2) if segment < 2 else 0.0
            offset = up * (height - centre_height) + turn_axis * swayed
            transforms[frame] = _about_axis(angle, turn_axis, centre, offset)
            frame += 1
    _hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=float(swing_height - np.hypot(half_length, radius)),
        final_height=REST_GAP_M,
        obstacles=(),
    )


POUR_TILT_DEG = 120.0
"""How far the vessel is tipped to pour. Past 90° its mouth faces down and what lies on its floor rolls out;
at 120° the lip is the vessel's lowest point, so everything leaves it over the lip, which is held over the
goal, while a hand holding the vessel near its top still can (the pour world's oracle arm reaches about 125°
wherever the bowl is). Much further, a held cup's rim turns into the hand."""

POUR_CLEARANCE_M = 0.02
"""While carried and tipped, the vessel's lowest point stays at least this far above the goal's rim (and above
anything near its path)."""

POUR_LIP_ABOVE_RIM_M = 0.04
"""At full tilt the lip is this far above the goal's rim, unless the clearance asks for more."""

POUR_LIP_BEFORE_CENTRE_M = 0.02
"""The lip is held this far short of the goal's centre (at most a third of its inner radius): what falls off
it, still moving away from the vessel, lands about the middle."""

RELEASE_TILT_DEG = 70.0
"""The contents leave the vessel once it is tipped this far. A cup about as tall as it is wide drops its lip
below the far edge of its floor at about 50° (atan(height / diameter)); what lies on the floor then rolls to
the lip, and over it a little later."""

FALL_SECONDS = 0.4
"""How long the contents take from the lip to the goal's floor (at least three frames)."""


def pour_direction(perception: Perception) -> np.ndarray:
    """The horizontal world unit vector from the vessel's axis towards the goal's centre: the way it pours."""
    up = perception.plane.normal_array
    towards = np.asarray(perception.goal.centre_world) - pour_of(perception).centre_array
    towards -= (towards @ up) * up
    norm = float(np.linalg.norm(towards))
    if norm < 0.005:
        raise GroundingError(
            f"the {perception.target.description} to pour from stands on the centre of the "
            f"{perception.goal.description} to pour into, so there is no way to pour it"
        )
    return towards / norm


def goal_inner_radius(goal: SceneObject) -> float:
    """A container's inner radius as seen: half its footprint's width less a wall of a tenth of that (at least
    5 mm)."""
    half_width = 0.5 * float(min(goal.extents[0], goal.extents[1]))
    return max(half_width - max(0.005, 0.1 * half_width), 0.5 * half_width)


def vessel_outline(perception: Perception, sections: int = 48) -> np.ndarray:
    """The vessel's outline at rest (world): rings of its outer radius at its foot and its rim."""
    pour, up = pour_of(perception), perception.plane.normal_array
    e1 = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    angles = np.linspace(0.0, 2.0 * np.pi, sections, endpoint=False)
    ring = pour.outer_radius * (np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2)
    return np.concatenate([pour.centre_array + ring, pour.centre_array + ring + pour.height * up])


def vessel_lip(perception: Perception) -> np.ndarray:
    """The vessel's lip at rest (world): the rim point facing the goal."""
    pour = pour_of(perception)
    return (
        pour.centre_array
        + pour.height * perception.plane.normal_array
        + pour.outer_radius * pour_direction(perception)
    )


def plan_pouring(perception: Perception, config: ProceduralVideoConfig) -> ObjectTrajectory:
    """Pour (pour skill, ``pour_of(perception)``): lift, carry, tilt, then hold.

    Lift: straight up until the vessel's bottom is ``max(config.lift_height, tallest + clearance)`` above the
    table, the tallest being the highest object near the path (the goal included) and the clearance
    ``config.clearance`` but at least :data:`POUR_CLEARANCE_M`. Carry: upright, until its lip is over the
    goal, :data:`POUR_LIP_BEFORE_CENTRE_M` short of its centre (a seeded sideways offset of up to a centimetre
    and a seeded bow of the path make samples differ). Tilt: by :data:`POUR_TILT_DEG` about ``k = up × d``
    (``d``: :func:`pour_direction`; a positive turn about ``k`` takes the top towards ``d``), the lip staying
    over that point and coming down to :data:`POUR_LIP_ABOVE_RIM_M` above the goal's rim, but never so low
    that any point of the vessel's outline comes within :data:`POUR_CLEARANCE_M` of the rim. Then it holds
    still, tipped, to the end of the clip.
    """
    rng = np.random.default_rng(config.seed)
    plane, goal, pour = perception.plane, perception.goal, pour_of(perception)
    up = plane.normal_array
    direction = pour_direction(perception)
    tilt_axis = np.cross(up, direction)
    inner = goal_inner_radius(goal)
    goal_centre = np.asarray(goal.centre_world, dtype=np.float64)
    goal_centre -= float(plane.signed_height(goal_centre[None])[0]) * up
    sideways = float(rng.uniform(-1.0, 1.0)) * min(0.01, 0.2 * inner)
    arc = float(rng.uniform(-1.0, 1.0) * config.arc_jitter)
    lip_foot = goal_centre - min(POUR_LIP_BEFORE_CENTRE_M, inner / 3) * direction + sideways * tilt_axis
    lip_rest = vessel_lip(perception)
    outline = vessel_outline(perception)
    rim = float(goal.top_height)
    clearance = max(POUR_CLEARANCE_M, config.clearance)

    start_uv = plane.to_plane_coords(pour.centre_array[None])[0, :2]
    end_uv = plane.to_plane_coords(lip_foot[None])[0, :2]
    obstacles = [goal]
    for other in perception.objects:
        if other.index in (perception.target.index, goal.index):
            continue
        other_uv = plane.to_plane_coords(np.asarray([other.centre_world]))[0, :2]
        corridor = other.footprint_radius + pour.outer_radius + abs(arc)
        if _distance_to_segment(other_uv, start_uv, end_uv) < corridor:
            obstacles.append(other)
    carry_height = max(config.lift_height, max(o.top_height for o in obstacles) + clearance)
    lip_carried = carry_height + pour.height  # lip height above the table while carried upright
    lip_poured = rim + POUR_LIP_ABOVE_RIM_M

    def tipped(angle: float, lip_height: float) -> np.ndarray:
        """Turned by ``angle`` about the tilt axis, lip over its pouring point at least ``lip_height`` up,
        and the whole outline at least the clearance above the goal's rim."""
        turn = _about_axis(angle, tilt_axis, lip_rest, np.zeros(3))[:3, :3]
        lowest = float(plane.signed_height((outline - lip_rest) @ turn.T + lip_foot).min())
        height = max(lip_height, rim + clearance - lowest)
        transform = np.eye(4)
        transform[:3, :3] = turn
        transform[:3, 3] = lip_foot + height * up - turn @ lip_rest
        return transform

    lift_offset = up * carry_height
    carry_offset = lip_foot + lip_carried * up - lip_rest
    bow = np.cross(up, carry_offset - lift_offset)
    bow = bow / np.linalg.norm(bow) if np.linalg.norm(bow) > 1e-9 else np.zeros(3)
    tilt = np.deg2rad(POUR_TILT_DEG)
    lengths = np.array(
        [
            carry_height,
            float(np.linalg.norm(carry_offset - lift_offset)),
            tilt * 0.5 * pour.height + abs(lip_carried - lip_poured),
        ]
    )
    segment_frames = _segment_frames(lengths, config)
    total, hold = config.num_frames, config.hold_frames

    transforms = np.tile(np.eye(4), (total, 1, 1))
    phases = {"hold_start": [0, hold - 1] if hold else []}
    frame = hold
    for name, count in zip(("lift", "carry", "tilt"), segment_frames.tolist()):
        phases[name] = [frame, frame + count - 1]
        for step in range(count):
            s = float(min_jerk(np.asarray((step + 1) / count)))
            if name == "lift":
                transforms[frame][:3, 3] = s * lift_offset
            elif name == "carry":
                transforms[frame][:3, 3] = (
                    lift_offset + s * (carry_offset - lift_offset) + bow * arc * np.sin(np.pi * s)
                )
            else:
                transforms[frame] = tipped(s * tilt, lip_carried + s * (lip_poured - lip_carried))
            frame += 1
    _hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=float(carry_height),
        final_height=float(
            plane.signed_height(outline @ transforms[-1][:3, :3].T + transforms[-1][:3, 3]).min()
        ),
        obstacles=tuple(o.index for o in obstacles),
        pour_direction=direction,
    )


def tilt_angles_deg(trajectory: ObjectTrajectory, up: np.ndarray) -> np.ndarray:
    """Per frame, how far (degrees) the moved object's rest-pose up direction is tipped from up."""
    return np.rad2deg(np.arccos(np.clip(trajectory.transforms_world[:, :3, :3] @ up @ up, -1.0, 1.0)))


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


def plan_contents(
    perception: Perception, trajectory: ObjectTrajectory, config: ProceduralVideoConfig
) -> ContentsMotion:
    """The contents of a poured vessel (``pour_of(perception)``) ride in it until the tilt reaches
    :data:`RELEASE_TILT_DEG`, then each clump travels over the lip (a quadratic Bézier from where it is,
    through the lip, to its resting spot, speeding up as it falls: the path parameter goes as time squared)
    in :data:`FALL_SECONDS` (at least three frames; sooner if the clip ends), turning back to how it was seen.
    It rests on the goal's floor with its lowest seen point just above it, spread about the goal's centre:
    the clumps' offsets from their middle are scaled up to reach half the goal's inner radius (at most 2.5×).
    """
    pour, plane, goal = pour_of(perception), perception.plane, perception.goal
    up = plane.normal_array
    total = len(trajectory.transforms_world)
    labels = _contents_clumps(pour, perception.target.mask.shape)
    count = int(labels.max()) + 1 if len(labels) else 0
    angles = tilt_angles_deg(trajectory, up)
    tilt_start = trajectory.phases["tilt"][0]
    past = np.flatnonzero(angles[tilt_start:] >= RELEASE_TILT_DEG - 1e-6)
    release = tilt_start + (int(past[0]) if len(past) else len(angles[tilt_start:]) - 1)
    landed = min(release + max(3, round(FALL_SECONDS * config.fps)), total - 1)
    landed = max(landed, release + 1) if release < total - 1 else release
    transforms = np.repeat(trajectory.transforms_world[:, None], count, axis=1)
    if count == 0:
        return ContentsMotion(labels, transforms.reshape(total, 0, 4, 4), release, landed)

    points = pour.contents_points
    centres = np.stack([points[labels == b].mean(axis=0) for b in range(count)])
    lowest = np.array([float(plane.signed_height(points[labels == b]).min()) for b in range(count)])
    flat = centres - np.outer(centres @ up, up)
    offsets = flat - flat.mean(axis=0)
    reach = float(np.linalg.norm(offsets, axis=1).max())
    inner = goal_inner_radius(goal)
    spread = float(np.clip(0.5 * inner / reach, 1.0, 2.5)) if reach > 1e-6 else 1.0
    goal_foot = (
        np.asarray(goal.centre_world) - float(plane.signed_height(np.asarray([goal.centre_world]))[0]) * up
    )
    floor = float(goal.floor_height if goal.floor_height is not None else 0.0) + REST_GAP_M
    rest = goal_foot + spread * offsets + np.outer(floor - lowest + centres @ up - goal_foot @ up, up)
    # rest[b]: where clump b's centre rests; its lowest seen point is then `floor` above the table.
    release_transform = trajectory.transforms_world[release]
    lip = release_transform[:3, :3] @ vessel_lip(perception) + release_transform[:3, 3]
    start = centres @ release_transform[:3, :3].T + release_transform[:3, 3]
    start_rotation = Rotation.from_matrix(release_transform[:3, :3])
    turn_back = Slerp([0.0, 1.0], Rotation.concatenate([start_rotation, Rotation.identity()]))
    for frame in range(release + 1, total):
        u = min(1.0, (frame - release) / max(landed - release, 1)) ** 2
        rotation = turn_back([u]).as_matrix()[0]
        for b in range(count):
            position = (1 - u) ** 2 * start[b] + 2 * u * (1 - u) * lip + u**2 * rest[b]
            transforms[frame, b] = np.eye(4)
            transforms[frame, b, :3, :3] = rotation
            transforms[frame, b, :3, 3] = position - rotation @ centres[b]
    return ContentsMotion(labels, transforms, release, landed)


SWEEP_LIFT_M = 0.06
"""The brush is lifted this far (its lowest point above the table) to be carried and turned, and at the end."""

SWEEP_BEHIND_M = 0.02
"""The head comes down this far behind the farthest scrap (its front face to the scrap's back)."""

SWEEP_SHORT_OF_BACK_M = 0.01
"""The stroke ends with the head's front face this far, plus the widest scrap's width, short of the dustpan's
back wall: the scraps it pushed end between it and the wall."""

SWEEP_BACK_OFF_M = 0.08
"""At the end the brush is lifted away: up by :data:`SWEEP_LIFT_M` and back along the stroke by this much, so it
no longer hides the pan's inside."""

SWEEP_HOVER_M = 0.002
"""During the stroke the head's bottom is this far above the pan's floor height (it clears the lip)."""


def sweep_stroke(perception: Perception) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, direction): where the brush head's footprint centre starts and ends its stroke (on the
    table, world) and the unit direction along the table it pushes (``SweepView.into_pan``, in 3D).

    It starts :data:`SWEEP_BEHIND_M` behind the farthest scrap (measured along the stroke through the mouth's
    middle, from the scrap's back), and ends with the head's front face :data:`SWEEP_SHORT_OF_BACK_M` plus the
    widest scrap short of the back wall (so the head is inside the pan, the scraps ahead of it), but never
    with the head's back out of the mouth."""
    sweep, plane = sweep_of(perception), perception.plane
    up = plane.normal_array
    direction = np.r_[sweep.into_pan, 0.0]
    direction -= (direction @ up) * up
    direction /= np.linalg.norm(direction)
    behind = max(float((sweep.mouth - s.centre) @ direction) + _scrap_reach(s) for s in sweep.scraps)
    start = sweep.mouth - direction * (max(behind, 0.0) + SWEEP_BEHIND_M + 0.5 * sweep.head_depth)
    short = SWEEP_SHORT_OF_BACK_M + 2.0 * max(_scrap_reach(s) for s in sweep.scraps)
    end = sweep.mouth + direction * max(
        sweep.pan_depth - short - 0.5 * sweep.head_depth, 0.5 * sweep.head_depth
    )
    return start, end, direction


def _scrap_reach(scrap) -> float:
    """How far a scrap reaches from its centre in any direction along the table."""
    return float(np.hypot(scrap.half_size[0], scrap.half_size[1]))


def plan_sweeping(perception: Perception, config: ProceduralVideoConfig) -> ObjectTrajectory:
    """Sweep (sweep skill, ``sweep_of(perception)``): lift, carry, lower, sweep, raise, then hold.

    Lift: the brush straight up by :data:`SWEEP_LIFT_M`. Carry: its head over the stroke's start
    (:func:`sweep_stroke`), turning about the vertical through the head until the head faces along the stroke
    (the handle trails), along a path bowed sideways by a seeded amount. Lower: the head's bottom down to
    :data:`SWEEP_HOVER_M` above the pan's floor height. Sweep: straight along the stroke until the head is
    inside the pan. Raise: up by :data:`SWEEP_LIFT_M` and back by :data:`SWEEP_BACK_OFF_M`. Then it holds to the end of the clip. What the head
    meets on the way moves with it (:func:`plan_scraps`).
    """
    rng = np.random.default_rng(config.seed)
    sweep, plane = sweep_of(perception), perception.plane
    up = plane.normal_array
    start, end, direction = sweep_stroke(perception)
    head = sweep.head_centre
    facing = np.r_[sweep.facing, 0.0]
    turn = float(np.arctan2(np.cross(facing, direction) @ up, facing @ direction))
    hover = sweep.pan_floor_height + SWEEP_HOVER_M
    arc = float(rng.uniform(-1.0, 1.0) * config.arc_jitter)
    # Keyframes of the head's footprint centre (world, at its bottom's height) and the turn.
    keys = [
        (head, 0.0),
        (head + SWEEP_LIFT_M * up, 0.0),
        (start + SWEEP_LIFT_M * up, turn),
        (start + hover * up, turn),
        (end + hover * up, turn),
        (end + (hover + SWEEP_LIFT_M) * up - SWEEP_BACK_OFF_M * direction, turn),
    ]
    lengths = np.array(
        [
            np.linalg.norm(b[0] - a[0]) + abs(b[1] - a[1]) * 0.5 * sweep.handle_length
            for a, b in itertools.pairwise(keys)
        ]
    )
    segment_frames = _segment_frames(lengths, config)
    total, hold = config.num_frames, config.hold_frames
    sideways = np.cross(up, start - head)
    sideways = sideways / np.linalg.norm(sideways) if np.linalg.norm(sideways) > 1e-9 else np.zeros(3)
    transforms = np.tile(np.eye(4), (total, 1, 1))
    phases = {"hold_start": [0, hold - 1] if hold else []}
    frame = hold
    names = ("lift", "carry", "lower", "sweep", "raise")
    for segment, (name, count) in enumerate(zip(names, segment_frames.tolist())):
        phases[name] = [frame, frame + count - 1]
        (p0, a0), (p1, a1) = keys[segment], keys[segment + 1]
        for step in range(count):
            u = (step + 1) / count
            s = float(min_jerk(np.asarray(u))) if name != "sweep" else u  # a stroke at an even pace
            position = p0 + s * (p1 - p0)
            if name == "carry":
                position = position + sideways * arc * np.sin(np.pi * s)
            transforms[frame] = _about_vertical_axis(a0 + s * (a1 - a0), up, head, position - head)
            frame += 1
    _hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=SWEEP_LIFT_M,
        final_height=float(hover + SWEEP_LIFT_M),
        obstacles=(),
        sweep_stroke=np.stack([start, end]),
    )


def head_positions(perception: Perception, trajectory: ObjectTrajectory) -> np.ndarray:
    """Per frame, where the brush head's footprint centre is (world)."""
    head = sweep_of(perception).head_centre
    return trajectory.transforms_world[:, :3, :3] @ head + trajectory.transforms_world[:, :3, 3]


def plan_scraps(perception: Perception, trajectory: ObjectTrajectory) -> ContentsMotion:
    """How the scraps move as the brush sweeps: each stays where it lies until something pushes it along the
    stroke, then rides in front of its pusher (slid along the stroke, its back against the pusher's front).

    A pusher is the head while it is down for the stroke (a scrap across whose path the head's width reaches),
    or a scrap pushed already that it overlaps across the stroke. Along the stroke it climbs the lip as a ramp
    up to the pan's floor height and rests on the floor inside, held short of the back wall. Labels number the
    points of ``SweepView.scraps`` (concatenated in order) by scrap; ``release_frame`` is the first frame a
    scrap moves, ``landed_frame`` the first frame from which none does.
    """
    sweep, plane = sweep_of(perception), perception.plane
    up = plane.normal_array
    total = len(trajectory.transforms_world)
    labels = np.concatenate([np.full(len(s.points), i) for i, s in enumerate(sweep.scraps)])
    count = len(sweep.scraps)
    _, _, direction = sweep_stroke(perception)
    across = np.cross(up, direction)
    rest_s = np.array([float((s.centre - sweep.mouth) @ direction) for s in sweep.scraps])
    rest_t = np.array([float((s.centre - sweep.mouth) @ across) for s in sweep.scraps])
    reach = np.array([_scrap_reach(s) for s in sweep.scraps])
    heads = head_positions(perception, trajectory)
    head_s = (heads - sweep.mouth) @ direction
    head_t = (heads - sweep.mouth) @ across
    stroke = range(trajectory.phases["sweep"][0], trajectory.phases["sweep"][1] + 1)
    order = np.argsort(rest_s)  # farthest from the mouth (nearest the coming head) first
    position_s = rest_s.copy()
    transforms = np.tile(np.eye(4), (total, count, 1, 1))
    first_move, last_move = None, None
    for frame in range(total):
        if frame in stroke:
            front = head_s[frame] + 0.5 * sweep.head_depth
            for i in order:
                pushed_to = position_s[i]
                if abs(rest_t[i] - head_t[frame]) < 0.5 * sweep.head_width + 0.5 * reach[i]:
                    pushed_to = max(pushed_to, front + reach[i])
                for j in order:
                    overlap = abs(rest_t[i] - rest_t[j]) < reach[i] + reach[j]
                    if j != i and overlap and position_s[j] > rest_s[j] and position_s[j] < position_s[i]:
                        pushed_to = max(pushed_to, position_s[j] + reach[j] + reach[i])
                pushed_to = min(pushed_to, sweep.pan_depth - reach[i])
                if pushed_to > position_s[i] + 1e-9:
                    first_move = frame if first_move is None else first_move
                    last_move = frame
                position_s[i] = max(position_s[i], pushed_to)
        lift = np.clip((position_s + sweep.pan_lip_length) / sweep.pan_lip_length, 0.0, 1.0)
        lift = np.where(position_s > rest_s, lift * sweep.pan_floor_height, 0.0)
        for i in range(count):
            transforms[frame, i, :3, 3] = direction * (position_s[i] - rest_s[i]) + up * lift[i]
    release = first_move if first_move is not None else total - 1
    landed = min(last_move + 1, total - 1) if last_move is not None else total - 1
    return ContentsMotion(labels, transforms, release, landed)


def _contents_clumps(pour, image_shape: tuple[int, int]) -> np.ndarray:
    """Per contents point, the index of the 8-connected patch of contents pixels it was seen in."""
    if len(pour.contents_pixels) == 0:
        return np.zeros(0, dtype=np.int64)
    mask = np.zeros(image_shape, dtype=bool)
    mask[pour.contents_pixels[:, 0], pour.contents_pixels[:, 1]] = True
    patches, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    found = patches[pour.contents_pixels[:, 0], pour.contents_pixels[:, 1]]
    return np.unique(found, return_inverse=True)[1].astype(np.int64)


def _segment_frames(lengths: np.ndarray, config: ProceduralVideoConfig) -> np.ndarray:
    """Frames for each moving segment of a clip (between its start and end holds): in proportion to the square
    root of each segment's length (a longer move is faster, not proportionally longer), at least 3 each."""
    durations = np.sqrt(np.asarray(lengths, dtype=np.float64) + 1e-3)
    moving = config.num_frames - 2 * config.hold_frames
    frames = np.maximum(3, np.round(moving * durations / durations.sum())).astype(int)
    frames[np.argmax(frames)] += moving - frames.sum()
    return frames


def _hold_to_end(transforms: np.ndarray, frame: int, phases: dict) -> None:
    """The object stays where the last moving frame (``frame - 1``) left it until the clip ends."""
    total = len(transforms)
    transforms[frame:] = transforms[frame - 1]
    phases["hold_end"] = [frame, total - 1] if frame < total else []


def generate(scene: ScenePackage, config: ProceduralVideoConfig | None = None) -> GeneratedVideo:
    """Render a video of the scene's prompt being carried out.

    Raises:
        GroundingError: the prompt cannot be read or matched to the objects in the scene.
        SceneError: the depth has no table plane.
    """
    config = config or ProceduralVideoConfig()
    perception = perceive(scene)
    artefacts = sample_realism(config.realism, config.seed, config.num_frames, config.hold_frames)
    trajectory = plan_trajectory(perception, config, through_obstacle=artefacts.through_obstacle)
    contents = None
    if pour_of(perception) is not None:
        contents = plan_contents(perception, trajectory, config)
    elif sweep_of(perception) is not None:
        contents = plan_scraps(perception, trajectory)
    renderer = SplatRenderer(scene, perception, config)
    frames = np.empty((config.num_frames, scene.height, scene.width, 3), dtype=np.uint8)
    for index, transform in enumerate(trajectory.transforms_world):
        scale = float(artefacts.scale_factors[index])
        contents_transforms = None if contents is None else contents.transforms_world[index]
        if index in artefacts.popped_frames:
            frames[index] = renderer.background_rgb
        elif (
            scale == 1.0
            and np.allclose(transform, np.eye(4))
            and (contents_transforms is None or np.allclose(contents_transforms, np.eye(4)))
        ):
            # Frames where the object has not moved are the input image itself: an I2V model reproduces its
            # conditioning frame, and the reconstruction stage pairs frame 0 with the real depth.
            frames[index] = scene.rgb
        else:
            frames[index] = renderer.render(transform, scale, contents_transforms)
    hand_frames = _add_post_effects(frames, config.realism, artefacts, trajectory, renderer)
    start = np.asarray(perception.target.centre_world)
    goal = perception.goal
    centres = trajectory.transforms_world[:, :3, :3] @ start + trajectory.transforms_world[:, :3, 3]
    plan = {
        "backend": "procedural",
        "prompt": scene.prompt,
        "fps": float(config.fps),
        "num_frames": int(config.num_frames),
        "instruction": perception.instruction.to_dict(),
        "target": perception.target.to_dict(),
        "goal": None if goal is None else goal.to_dict(),
        "target_description": perception.target.description,
        "goal_description": None if goal is None else goal.description,
        "target_centre_world": [float(v) for v in start],
        "goal_centre_world": None if goal is None else [float(v) for v in goal_point_world(perception)],
        "slot": None if slot_of(perception) is None else slot_of(perception).to_dict(),
        "standing_axis": None if standing_of(perception) is None else standing_of(perception).to_dict(),
        "pour": None if pour_of(perception) is None else pour_of(perception).to_dict(),
        "pour_direction": (
            None if trajectory.pour_direction is None else [float(v) for v in trajectory.pour_direction]
        ),
        "pour_tilt_deg": None if pour_of(perception) is None else POUR_TILT_DEG,
        "sweep": None if sweep_of(perception) is None else sweep_of(perception).to_dict(),
        **_sweep_plan(trajectory),
        "contents_transforms_world": None if contents is None else contents.transforms_world.tolist(),
        "contents_release_frame": None if contents is None else contents.release_frame,
        "contents_landed_frame": None if contents is None else contents.landed_frame,
        "object_transforms_world": trajectory.transforms_world.tolist(),
        "target_centre_path_world": centres.tolist(),
        "phases": trajectory.phases,
        "carry_height_m": trajectory.carry_height,
        "final_height_m": trajectory.final_height,
        "obstacles": [perception.objects[i].description for i in trajectory.obstacles],
        "plane": perception.plane.to_dict(),
        "config": asdict(config),
        "realism": {
            **samples_to_dict(config.realism, artefacts),
            "cut_through": [perception.objects[i].description for i in trajectory.cut_through],
            "hand_frames": hand_frames,
        },
    }
    return GeneratedVideo(frames=frames, fps=config.fps, plan=plan)


def _sweep_plan(trajectory: ObjectTrajectory) -> dict:
    """The sweep's stroke as plan metadata: where the head's footprint centre starts and ends it, and which way
    it pushes (all ``None`` for other skills)."""
    if trajectory.sweep_stroke is None:
        return dict.fromkeys(("sweep_start", "sweep_end", "sweep_direction"))
    start, end = trajectory.sweep_stroke
    return {
        "sweep_start": [float(v) for v in start],
        "sweep_end": [float(v) for v in end],
        "sweep_direction": [float(v) for v in (end - start) / np.linalg.norm(end - start)],
    }


def _add_post_effects(
    frames: np.ndarray,
    settings: RealismConfig,
    samples: RealismSamples,
    trajectory: ObjectTrajectory,
    renderer: SplatRenderer,
) -> list[int]:
    """Draw the hand (while the object moves), then flicker, then shake, on every frame but frame 0 (in place).

    Returns the frames the hand was drawn on. The hand follows the planned object even in popped frames: a
    video model that drops the object usually keeps the hand moving.
    """
    phases = trajectory.phases
    carried = range(phases["lift"][0], phases["hold_end"][0] if phases["hold_end"] else len(frames))
    hand_frames = []
    for index in range(1, len(frames)):
        frame = frames[index]
        if settings.hand_occluder > 0 and index in carried:
            box = renderer.image_box(trajectory.transforms_world[index], float(samples.scale_factors[index]))
            if box is not None:
                frame = draw_hand(
                    frame,
                    box,
                    settings.hand_occluder,
                    samples.hand_angle_deg,
                    samples.hand_side,
                    samples.skin_rgb,
                )
                hand_frames.append(index)
        if settings.flicker > 0:
            frame = apply_gain(frame, samples.gains_rgb[index])
        if settings.shake_px > 0 or settings.shake_deg > 0:
            dx, dy, angle_deg = (float(v) for v in samples.shake[index])
            frame = shake_frame(frame, dx, dy, angle_deg)
        frames[index] = frame
    return hand_frames


class ProceduralBackend(VideoBackend):
    """Registry entry for :func:`generate` (name "procedural")."""

    name = "procedural"
    config_class = ProceduralVideoConfig

    def generate(self, scene: ScenePackage) -> GeneratedVideo:
        return generate(scene, self.config)


class SplatRenderer:
    """Re-renders the scene with the target moved by a rigid transform (see the module docstring)."""

    def __init__(self, scene: ScenePackage, perception: Perception, config: ProceduralVideoConfig) -> None:
        self.scene = scene
        self.config = config
        camera = scene.camera
        self.cam_to_world = camera.extrinsic
        self.camera_position = self.cam_to_world[:3, 3]
        target = perception.target
        # Scale drift (realism) grows or shrinks the object about the middle of its height above its footprint.
        self.scale_centre = (
            np.asarray(target.centre_world) + 0.5 * target.top_height * perception.plane.normal_array
        )
        pour = pour_of(perception)
        # A poured vessel's contents are rendered apart from it (they fall out): cut them out of its body.
        self.contents_points = np.empty((0, 3))
        self.contents_colours = np.empty((0, 3), dtype=np.uint8)
        self.contents_labels = np.empty(0, dtype=np.int64)
        if pour is not None and pour.contents_seen:
            seen_inside = np.zeros(target.mask.shape, dtype=bool)
            seen_inside[pour.contents_pixels[:, 0], pour.contents_pixels[:, 1]] = True
            body = ~seen_inside[target.pixels[:, 0], target.pixels[:, 1]]
            contents = replace(
                target,
                mask=seen_inside,
                pixels=pour.contents_pixels,
                points_world=pour.contents_points,
            )
            self.contents_points, self.contents_colours = _densified_surface(scene, contents)
            nearest = cKDTree(pour.contents_points).query(self.contents_points)[1]
            self.contents_labels = _contents_clumps(pour, target.mask.shape)[nearest]
            target = replace(
                target,
                mask=target.mask & ~seen_inside,
                pixels=target.pixels[body],
                points_world=target.points_world[body],
            )
        self.extra_hole = np.zeros(target.mask.shape, dtype=bool)
        if sweep_of(perception) is not None:  # the scraps the brush sweeps move apart from it, each on its own
            self.contents_points, self.contents_colours, self.contents_labels, self.extra_hole = (
                _scrap_surfaces(scene, perception)
            )
        points, colours = _densified_surface(scene, target)
        if pour is not None:
            bottom_points, bottom_colours = _vessel_discs(scene, perception, target)
            points = np.concatenate([points, bottom_points])
            colours = np.concatenate([colours, bottom_colours])
        if config.mirror_back and standing_of(perception) is not None:
            # A lying object: its back is the seen half turned about its own axis (bottom and far side).
            back = _about_axis(np.pi, standing_of(perception).axis, standing_of(perception).centre, np.zeros(3))
            points = np.concatenate([points, points @ back[:3, :3].T + back[:3, 3]])
            colours = np.concatenate([colours, colours])
        elif config.mirror_back:
            target_depth = float(
                np.median((target.points_world - self.camera_position) @ self.cam_to_world[:3, 2])
            )
            back_points, back_colours = _mirrored_back(
                points,
                colours,
                scene.rgb,
                target,
                perception,
                self.camera_position,
                target_depth / min(camera.fx, camera.fy),
            )
            points = np.concatenate([points, back_points])
            colours = np.concatenate([colours, back_colours])
        self.points = points
        self.colours = colours
        self.rest_depth = self._to_camera(points)[:, 2]
        self.contents_rest_depth = self._to_camera(self.contents_points)[:, 2]
        # Neighbouring pixels of one (convex-ish) object differ in depth by less than a fraction of its width.
        self.see_through_gap = max(0.01, 0.25 * min(target.extents[0], target.extents[1]))
        self.background_rgb, self.background_depth = _background_without(
            scene, perception, config.fill_iterations, also=self.extra_hole
        )

    def _to_camera(self, points_world: np.ndarray) -> np.ndarray:
        return (points_world - self.camera_position) @ self.cam_to_world[:3, :3]

    def _moved(self, transform_world: np.ndarray, scale: float) -> np.ndarray:
        points = (
            self.points if scale == 1.0 else self.scale_centre + scale * (self.points - self.scale_centre)
        )
        return points @ transform_world[:3, :3].T + transform_world[:3, 3]

    def image_box(
        self, transform_world: np.ndarray, scale: float = 1.0
    ) -> tuple[float, float, float, float] | None:
        """(row_min, row_max, col_min, col_max) the moved target spans in the image (None: behind the camera)."""
        points_cam = self._to_camera(self._moved(transform_world, scale))
        points_cam = points_cam[points_cam[:, 2] > 1e-3]
        if len(points_cam) == 0:
            return None
        uv = self.scene.camera.project(points_cam)
        return float(uv[:, 1].min()), float(uv[:, 1].max()), float(uv[:, 0].min()), float(uv[:, 0].max())

    def render(
        self,
        transform_world: np.ndarray,
        scale: float = 1.0,
        contents_transforms: np.ndarray | None = None,
    ) -> np.ndarray:
        """One frame with the target's points scaled by ``scale`` about its centre, then moved by
        ``transform_world`` (4×4).

        A poured vessel's contents (seen inside it) move with it, or, given ``contents_transforms`` (B×4×4,
        one per clump: :class:`ContentsMotion`), each clump by its own transform."""
        height, width = self.scene.height, self.scene.width
        camera = self.scene.camera
        moved = self._moved(transform_world, scale)
        colours, rest_depth = self.colours, self.rest_depth
        if len(self.contents_points):
            if contents_transforms is None:
                contents = self.contents_points
                if scale != 1.0:
                    contents = self.scale_centre + scale * (contents - self.scale_centre)
                contents = contents @ transform_world[:3, :3].T + transform_world[:3, 3]
            else:
                per_point = np.asarray(contents_transforms)[self.contents_labels]
                contents = np.einsum("nij,nj->ni", per_point[:, :3, :3], self.contents_points)
                contents = contents + per_point[:, :3, 3]
            moved = np.concatenate([moved, contents])
            colours = np.concatenate([colours, self.contents_colours])
            rest_depth = np.concatenate([rest_depth, self.contents_rest_depth])
        points_cam = self._to_camera(moved)
        depth = points_cam[:, 2]
        in_front = depth > 1e-3
        points_cam, depth, colours = points_cam[in_front], depth[in_front], colours[in_front]
        if len(depth) == 0:
            return self.background_rgb.copy()
        uv = camera.project(points_cam)
        cols, rows = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)

        # Splat size: the object covers ~1 point per pixel at rest; nearer the camera its points spread out.
        magnification = float(np.percentile(rest_depth[in_front] / depth, 90)) * max(scale, 1.0)
        side = max(self.config.splat_size, int(np.ceil(self.config.splat_size * magnification - 0.25)))
        offsets = np.arange(side) - (side - 1) // 2
        d_rows, d_cols = np.meshgrid(offsets, offsets, indexing="ij")
        rows = (rows[:, None] + d_rows.reshape(1, -1)).reshape(-1)
        cols = (cols[:, None] + d_cols.reshape(1, -1)).reshape(-1)
        depth = np.repeat(depth, side * side)
        colours = np.repeat(colours, side * side, axis=0)
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        flat, depth, colours = rows[inside] * width + cols[inside], depth[inside], colours[inside]

        # Z-buffer: per pixel keep the nearest point.
        order = np.lexsort((depth, flat))
        first = np.unique(flat[order], return_index=True)[1]
        nearest = order[first]
        object_depth = np.full(height * width, np.inf)
        object_rgb = np.zeros((height * width, 3), dtype=np.uint8)
        object_depth[flat[nearest]] = depth[nearest]
        object_rgb[flat[nearest]] = colours[nearest]
        object_depth = object_depth.reshape(height, width)
        object_rgb = object_rgb.reshape(height, width, 3)

        # Pinholes between splats: pixels enclosed by the object's coverage take the nearest covered value.
        # A pinhole through which a back-side point shows counts too: it is far behind its neighbours.
        covered = np.isfinite(object_depth)
        closed = ndimage.binary_closing(np.pad(covered, 2), structure=np.ones((3, 3), bool))[2:-2, 2:-2]
        nearest_around = ndimage.minimum_filter(object_depth, size=3, mode="constant", cval=np.inf)
        see_through = covered & (object_depth > nearest_around + self.see_through_gap)
        holes = (closed & ~covered) | see_through
        if holes.any():
            sources = covered & ~see_through
            _, (near_rows, near_cols) = ndimage.distance_transform_edt(~sources, return_indices=True)
            object_depth[holes] = object_depth[near_rows[holes], near_cols[holes]]
            object_rgb[holes] = object_rgb[near_rows[holes], near_cols[holes]]

        visible = object_depth <= self.background_depth + 0.003  # the object wins ties with what it rests on
        frame = self.background_rgb.copy()
        frame[visible] = object_rgb[visible]
        return frame


def _densified_surface(scene: ScenePackage, target: SceneObject) -> tuple[np.ndarray, np.ndarray]:
    """The target's surface as points dense enough to re-render from a nearer or different viewpoint.

    One point per pixel is enough only for the view it was taken from: a side seen at a grazing angle spans
    few pixels but much surface, and shows as a comb of gaps once the object turns or moves across the image.
    Every 2×2 block of object pixels whose 3D corners are close (one surface, no depth jump) is resampled
    bilinearly, with more samples the longer its 3D edges are compared with one pixel's footprint.
    """
    camera = scene.camera
    height_px, width_px = target.mask.shape
    grid = np.full((height_px, width_px, 3), np.nan)
    grid[target.pixels[:, 0], target.pixels[:, 1]] = target.points_world
    colour_grid = scene.rgb.astype(np.float64)
    points = [np.asarray(target.points_world)]
    colours = [scene.rgb[target.pixels[:, 0], target.pixels[:, 1]].astype(np.float64)]

    corners = [grid[:-1, :-1], grid[:-1, 1:], grid[1:, :-1], grid[1:, 1:]]
    corner_colours = [colour_grid[:-1, :-1], colour_grid[:-1, 1:], colour_grid[1:, :-1], colour_grid[1:, 1:]]
    complete = np.all([np.isfinite(c[..., 0]) for c in corners], axis=0)
    if complete.any():
        quad = [c[complete] for c in corners]
        quad_colours = [c[complete] for c in corner_colours]
        edges = np.stack(
            [np.linalg.norm(quad[a] - quad[b], axis=1) for a, b in ((0, 1), (0, 2), (1, 3), (2, 3))], axis=1
        )
        footprint = quad[0] @ camera.extrinsic[:3, 2] - camera.extrinsic[:3, 3] @ camera.extrinsic[:3, 2]
        footprint = np.abs(footprint) / min(camera.fx, camera.fy)  # metres per pixel at the quad's depth
        longest = edges.max(axis=1) / np.maximum(footprint, 1e-9)
        one_surface = longest < 12.0  # a longer edge is a depth jump inside the mask, not a surface
        samples_per_side = np.clip(np.ceil(1.5 * longest), 2, 8).astype(int)
        for count in np.unique(samples_per_side[one_surface]):
            chosen = one_surface & (samples_per_side == count)
            steps = (np.arange(count) + 0.5) / count
            a, b = (g.reshape(-1) for g in np.meshgrid(steps, steps, indexing="ij"))
            weights = np.stack([(1 - a) * (1 - b), (1 - a) * b, a * (1 - b), a * b], axis=1)  # per sample
            for corner_values, out in ((quad, points), (quad_colours, colours)):
                stacked = np.stack([c[chosen] for c in corner_values], axis=1)  # Q×4×3
                out.append(np.einsum("sk,qkd->qsd", weights, stacked).reshape(-1, 3))
    all_colours = np.clip(np.round(np.concatenate(colours)), 0, 255).astype(np.uint8)
    return np.concatenate(points), all_colours


def _scrap_surfaces(
    scene: ScenePackage, perception: Perception
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scraps' surfaces, densified like the target's: (points, colours, labels: the scrap each point is of,
    the image mask of their pixels). A scrap's points are back-projected pixel centres: projecting them finds
    its pixels again."""
    camera, target = scene.camera, perception.target
    all_points, all_colours, all_labels = [], [], []
    mask = np.zeros(target.mask.shape, dtype=bool)
    for index, scrap in enumerate(sweep_of(perception).scraps):
        points_cam = (scrap.points - camera.extrinsic[:3, 3]) @ camera.extrinsic[:3, :3]
        uv = np.floor(camera.project(points_cam)).astype(np.int64)
        pixels = np.clip(uv[:, ::-1], 0, [scene.height - 1, scene.width - 1])
        own = np.zeros(target.mask.shape, dtype=bool)
        own[pixels[:, 0], pixels[:, 1]] = True
        mask |= own
        piece = replace(target, mask=own, pixels=pixels, points_world=scrap.points)
        points, colours = _densified_surface(scene, piece)
        all_points.append(points)
        all_colours.append(colours)
        all_labels.append(np.full(len(points), index, dtype=np.int64))
    return np.concatenate(all_points), np.concatenate(all_colours), np.concatenate(all_labels), mask


def _vessel_discs(
    scene: ScenePackage, perception: Perception, body: SceneObject
) -> tuple[np.ndarray, np.ndarray]:
    """Points closing a poured vessel where one view cannot see it: its bottom (a disc of its outer radius on
    the table), shaded as a face turned away from the light, and its floor under the contents (a disc
    just under the lowest surface seen inside), as shaded as the inside of a cup. Their colour is the
    median of its upper half, which is its own colour (:mod:`~physworld_core.perception.pouring`)."""
    pour, plane = pour_of(perception), perception.plane
    up = plane.normal_array
    upper = plane.signed_height(body.points_world) >= 0.5 * pour.height
    own = np.median(scene.rgb[body.pixels[upper, 0], body.pixels[upper, 1]].astype(np.float64), axis=0)
    depth = float((pour.centre_array - scene.camera.extrinsic[:3, 3]) @ scene.camera.extrinsic[:3, 2])
    spacing = 0.5 * abs(depth) / min(scene.camera.fx, scene.camera.fy)  # half a pixel's footprint
    e1 = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    seen_inside = [pour.floor_height]
    if pour.contents_seen:
        seen_inside.append(float(plane.signed_height(pour.contents_points).min()))
    floor = max(0.002, min(seen_inside) - 0.002)
    discs, colours = [], []
    for radius, height, shade in ((pour.outer_radius, 0.001, 0.55), (0.85 * pour.outer_radius, floor, 0.7)):
        rings = np.arange(0.0, radius + 1e-9, spacing)
        for ring in rings:
            count = max(1, int(np.ceil(2 * np.pi * ring / spacing)))
            angles = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
            discs.append(
                pour.centre_array
                + height * up
                + ring * (np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2)
            )
            colours.append(np.tile(np.clip(np.round(shade * own), 0, 255), (count, 1)))
    return np.concatenate(discs), np.concatenate(colours).astype(np.uint8)


def _mirrored_back(
    points: np.ndarray,
    colours: np.ndarray,
    scene_rgb: np.ndarray,
    target: SceneObject,
    perception: Perception,
    camera_position: np.ndarray,
    metres_per_pixel: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The unseen back side: the visible side mirrored about the object's vertical axis, plus bridges.

    The mirror plane contains the vertical axis through the footprint centre and faces the camera: exact for
    cylinders, close for boxes. Only the sides are mirrored (the top is fully visible already and a doubled
    top would speckle in the z-buffer).

    Near the silhouette a single view misses a band of surface (the last pixel column hits the object well
    inside its outline), which opens as a see-through slit once the object moves across the image. Each
    silhouette point of the side is therefore joined to its mirror image by a straight bridge of points: the
    chord runs just inside the true surface of a round object and along the unseen side face of a box.
    """
    plane = perception.plane
    up = plane.normal_array
    centre = np.asarray(target.centre_world)
    view = centre - camera_position
    view -= (view @ up) * up
    norm = np.linalg.norm(view)
    if norm < 1e-6:  # camera straight above: the back side is never seen
        return np.empty((0, 3)), np.empty((0, 3), dtype=np.uint8)
    view /= norm
    side_limit = target.top_height - max(0.005, 0.05 * target.top_height)

    towards = (points - centre) @ view
    front = (plane.signed_height(points) < side_limit) & (towards < 0)
    mirrored = points[front] - 2.0 * towards[front, None] * view[None, :]
    back_colours = colours[front]

    outline = target.mask & ~ndimage.binary_erosion(target.mask)
    on_outline = outline[target.pixels[:, 0], target.pixels[:, 1]]
    rim = np.asarray(target.points_world)[on_outline]
    rim_colours = scene_rgb[target.pixels[on_outline, 0], target.pixels[on_outline, 1]]
    rim_towards = (rim - centre) @ view
    keep = (plane.signed_height(rim) < side_limit) & (rim_towards < 0)
    rim, rim_colours, rim_towards = rim[keep], rim_colours[keep], rim_towards[keep]
    counts = np.clip(np.ceil(2.0 * np.abs(rim_towards) / metres_per_pixel), 1, 64).astype(int)
    owner = np.repeat(np.arange(len(rim)), counts)
    fraction = (np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5) / counts[owner]
    bridges = rim[owner] - (2.0 * fraction * rim_towards[owner])[:, None] * view[None, :]
    return np.concatenate([mirrored, bridges]), np.concatenate([back_colours, rim_colours[owner]])


def _background_without(
    scene: ScenePackage, perception: Perception, fill_iterations: int, also: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The image and depth with the target (and the pixels of ``also``: things that move apart from it, such
    as the scraps a brush sweeps) removed: its pixels become table.

    Colour: nearest visible table pixel (via the distance transform's indices), then a few rounds of
    diffusion restricted to table pixels to soften the streaks nearest-neighbour filling leaves. Depth: the
    table plane along each pixel's ray, so the moving object is z-tested against the table it uncovered.
    """
    target = perception.target
    height_px, width_px = scene.height, scene.width
    also = np.zeros((height_px, width_px), dtype=bool) if also is None else also
    others = np.zeros((height_px, width_px), dtype=bool)
    for obj in perception.objects:
        if obj.index != target.index:
            others |= obj.mask
    others &= ~also
    # Dilate: the object's last few millimetres above the table were below the segmentation margin.
    hole = ndimage.binary_dilation(target.mask, iterations=2) & ~others
    hole |= ndimage.binary_dilation(also, iterations=1) & ~others
    table = (scene.depth_m > 0) & ~hole & ~others
    for obj in perception.objects:
        table &= ~obj.mask
    if not table.any():
        table = ~hole
    rgb = scene.rgb.astype(np.float64)
    _, (near_rows, near_cols) = ndimage.distance_transform_edt(~table, return_indices=True)
    rgb[hole] = rgb[near_rows[hole], near_cols[hole]]
    weight = (table | hole).astype(np.float64)
    for _ in range(fill_iterations):
        summed = ndimage.uniform_filter(rgb * weight[..., None], size=(3, 3, 1), mode="nearest")
        counts = ndimage.uniform_filter(weight, size=3, mode="nearest")
        rgb[hole] = summed[hole] / np.maximum(counts[hole], 1e-9)[:, None]
    background_rgb = np.clip(np.round(rgb), 0, 255).astype(np.uint8)

    camera = scene.camera
    rows, cols = np.nonzero(hole)
    rays_cam = np.stack(
        [(cols + 0.5 - camera.cx) / camera.fx, (rows + 0.5 - camera.cy) / camera.fy, np.ones(len(rows))], 1
    )
    cam_to_world = camera.extrinsic
    t = perception.plane.intersect_rays(
        np.broadcast_to(cam_to_world[:3, 3], rays_cam.shape), rays_cam @ cam_to_world[:3, :3].T
    )
    background_depth = np.where(scene.depth_m > 0, scene.depth_m, np.inf).astype(np.float64)
    background_depth[rows, cols] = t  # rays have unit z in the camera, so t is the z-depth
    return background_rgb, background_depth


def goal_point_world(perception: Perception) -> np.ndarray:
    """Where the object's footprint centre goes: the free gap of a shelf's row, the goal's centre, or, stood
    upright, the point of the table under its axis centre (where it stands up)."""
    if standing_of(perception) is not None:
        centre = standing_of(perception).centre
        return centre - float(perception.plane.signed_height(centre[None])[0]) * perception.plane.normal_array
    if slot_of(perception) is not None:
        return slot_of(perception).centre_world(perception.plane)
    return np.asarray(perception.goal.centre_world, dtype=np.float64)


def turn_into_row(object_yaw: float, row_yaw: float) -> float:
    """The smallest turn (radians, in (-π/2, π/2]) that puts an object's long footprint axis across a row, so
    its thin side runs along it (a book into a shelf)."""
    turn = row_yaw + np.pi / 2 - object_yaw
    return float(turn - np.pi * np.round(turn / np.pi))


def _about_vertical_axis(yaw: float, up: np.ndarray, centre: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """4×4: rotate by ``yaw`` about the vertical axis through ``centre``, then translate by ``offset``."""
    return _about_axis(yaw, up, centre, offset)


def _about_axis(angle: float, axis: np.ndarray, centre: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """4×4: rotate by ``angle`` (right-handed) about the unit ``axis`` through ``centre``, then translate by
    ``offset``."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    rotation = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)  # Rodrigues
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = centre + offset - rotation @ centre
    return transform


def _distance_to_segment(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    denom = float(ab @ ab)
    s = 0.0 if denom < 1e-12 else float(np.clip((point - a) @ ab / denom, 0.0, 1.0))
    return float(np.linalg.norm(point - (a + s * ab)))
