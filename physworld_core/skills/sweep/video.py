"""The sweep skill's video: a brush lifted, turned into the dustpan, put down behind the scraps and pushed until
they are in; and the check that a video shows them swept in.

Motion (:func:`plan_sweeping`): the brush is lifted, carried over the start of the stroke while it turns about
the vertical through its head until the head faces into the pan (the handle trailing), put down behind the
farthest scrap, pushed along the lane at an even pace until its head is inside the pan, and lifted away (up and
back, so the pan's inside shows). The scraps (``SweepView.scraps``) are cut out of the image and rendered apart,
like a pour's contents (:func:`plan_scraps`): each lies still until the head (or a scrap the head pushes)
reaches it, then rides in front of it, up the lip and onto the pan's floor.

Check (:func:`_swept`): the brush is followed by its colour like any target; it sweeps when, in the last frame,
the image of the dustpan's inside shows the scraps' colours where it did not (at least ``min_swept_fraction``
of the scraps' pixels in the input) and where the scraps lay they no longer show (at most
``max_left_fraction`` of them). A brush that sits still, or goes through the motion while the scraps stay where
they lay, does not sweep. In the procedural videos of the sweep benchmark's seeds 0–7 the pan's inside newly
showed 0.53–0.84 of the scraps' input pixels and none were left.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.scene import ScenePackage
from physworld_core.skills.registry import skill_of
from physworld_core.video.config import ProceduralVideoConfig
from physworld_core.video.motion import (
    ContentsMotion,
    ObjectTrajectory,
    about_vertical_axis,
    frames_per_segment,
    hold_to_end,
    min_jerk,
)
from physworld_core.video.silhouettes import project_pixels
from physworld_core.video.skill import ColourTrack, ContentsParts, SkillVideo
from physworld_core.video.surfaces import densified_surface

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
    sweep, plane = perception.view, perception.plane
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
    """Sweep (sweep skill, ``perception.view``): lift, carry, lower, sweep, raise, then hold.

    Lift: the brush straight up by :data:`SWEEP_LIFT_M`. Carry: its head over the stroke's start
    (:func:`sweep_stroke`), turning about the vertical through the head until the head faces along the stroke
    (the handle trails), along a path bowed sideways by a seeded amount. Lower: the head's bottom down to
    :data:`SWEEP_HOVER_M` above the pan's floor height. Sweep: straight along the stroke until the head is
    inside the pan. Raise: up by :data:`SWEEP_LIFT_M` and back by :data:`SWEEP_BACK_OFF_M`. Then it holds to the end of the clip. What the head
    meets on the way moves with it (:func:`plan_scraps`).
    """
    rng = np.random.default_rng(config.seed)
    sweep, plane = perception.view, perception.plane
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
    segment_frames = frames_per_segment(lengths, config)
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
            transforms[frame] = about_vertical_axis(a0 + s * (a1 - a0), up, head, position - head)
            frame += 1
    hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=SWEEP_LIFT_M,
        final_height=float(hover + SWEEP_LIFT_M),
        obstacles=(),
        payload=SweepMotion(np.stack([start, end])),
    )


def head_positions(perception: Perception, trajectory: ObjectTrajectory) -> np.ndarray:
    """Per frame, where the brush head's footprint centre is (world)."""
    head = perception.view.head_centre
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
    sweep, plane = perception.view, perception.plane
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


def _scrap_surfaces(
    scene: ScenePackage, perception: Perception
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scraps' surfaces, densified like the target's: (points, colours, labels: the scrap each point is of,
    the image mask of their pixels). A scrap's points are back-projected pixel centres: projecting them finds
    its pixels again."""
    camera, target = scene.camera, perception.target
    all_points, all_colours, all_labels = [], [], []
    mask = np.zeros(target.mask.shape, dtype=bool)
    for index, scrap in enumerate(perception.view.scraps):
        points_cam = (scrap.points - camera.extrinsic[:3, 3]) @ camera.extrinsic[:3, :3]
        uv = np.floor(camera.project(points_cam)).astype(np.int64)
        pixels = np.clip(uv[:, ::-1], 0, [scene.height - 1, scene.width - 1])
        own = np.zeros(target.mask.shape, dtype=bool)
        own[pixels[:, 0], pixels[:, 1]] = True
        mask |= own
        piece = replace(target, mask=own, pixels=pixels, points_world=scrap.points)
        points, colours = densified_surface(scene, piece)
        all_points.append(points)
        all_colours.append(colours)
        all_labels.append(np.full(len(points), index, dtype=np.int64))
    return np.concatenate(all_points), np.concatenate(all_colours), np.concatenate(all_labels), mask


@dataclass(frozen=True, eq=False)
class SweepMotion:
    """What the sweep's motion records (:attr:`ObjectTrajectory.payload`): ``stroke``, 2×3, where the brush
    head's footprint centre starts and ends its stroke along the table (phases hold_start, lift, carry, lower,
    sweep, raise, hold_end)."""

    stroke: np.ndarray


@dataclass(frozen=True)
class SweepCheckConfig:
    """Thresholds of the sweep skill's video check.

    Args:
        min_swept_fraction: the scraps count as swept in when, in the last frame, pixels of the image of the
            dustpan's inside newly of a scrap's colour number at least this share of the scraps' pixels in the
            input (and at least ``min_contents_pixels``).
        max_left_fraction: ... and at most this share of the scraps' input pixels still shows a scrap's colour
            there (the lane is cleared: the world asks for two thirds of them in the pan).
        min_contents_pixels: the fewest pixels of scraps that count as some in the pan.
    """

    min_swept_fraction: float = 0.4
    max_left_fraction: float = 0.34
    min_contents_pixels: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.min_swept_fraction <= 1:
            raise ValueError(f"min_swept_fraction must lie in (0, 1], got {self.min_swept_fraction}")
        if not 0 <= self.max_left_fraction < 1:
            raise ValueError(f"max_left_fraction must lie in [0, 1), got {self.max_left_fraction}")
        if self.min_contents_pixels < 1:
            raise ValueError(f"min_contents_pixels must be positive, got {self.min_contents_pixels}")


class SweepVideo(SkillVideo):
    name = skill_of(__name__)
    check_config_type = SweepCheckConfig

    def plan_motion(
        self, perception: Perception, config: ProceduralVideoConfig, through_obstacle: bool = False
    ) -> ObjectTrajectory:
        return plan_sweeping(perception, config)

    def contents_motion(
        self, perception: Perception, trajectory: ObjectTrajectory, config: ProceduralVideoConfig
    ) -> ContentsMotion:
        return plan_scraps(perception, trajectory)

    def plan_fields(self, perception: Perception, trajectory: ObjectTrajectory) -> dict:
        return {"sweep": perception.view.to_dict(), **_sweep_plan(trajectory)}

    def split_contents(
        self, scene: ScenePackage, perception: Perception, target: SceneObject
    ) -> ContentsParts:
        """The scraps the brush sweeps move apart from it, each on its own."""
        points, colours, labels, hole = _scrap_surfaces(scene, perception)
        return ContentsParts(target, points, colours, labels, hole)

    def not_done(self) -> dict:
        return dict(_NOT_SWEPT)

    def ends_in_goal(self, track: ColourTrack) -> tuple[dict, bool]:
        figures = _swept(track.frames, track.scene, track.perception, track.skill_config)
        return figures, figures["target_sweeps"]


HOOKS = SweepVideo()


def _sweep_plan(trajectory: ObjectTrajectory) -> dict:
    """The sweep's stroke as plan metadata: where the head's footprint centre starts and ends it, and which way
    it pushes."""
    start, end = trajectory.payload.stroke
    return {
        "sweep_start": [float(v) for v in start],
        "sweep_end": [float(v) for v in end],
        "sweep_direction": [float(v) for v in (end - start) / np.linalg.norm(end - start)],
    }


_NOT_SWEPT: dict[str, bool | float] = {
    "scraps_in_goal": False,
    "scraps_in_goal_px": 0,
    "scraps_left_px": 0,
    "scraps_seen_px": 0,
    "lane_cleared": False,
    "target_sweeps": False,
}

SCRAPS_TOP_M = 0.025
"""The image of the dustpan's inside reaches this high above its floor (scraps resting on it stand lower)."""


def _swept(
    frames: np.ndarray, scene: ScenePackage, perception: Perception, config: SweepCheckConfig
) -> dict[str, bool | float]:
    """Does the video end with the scraps in the dustpan and gone from where they lay?

    A pixel is of a scrap's colour when it lies within a tolerance (from the spread of that scrap's own pixels
    in the input, 25–70) of its mean colour and nearer it than the dustpan's, the brush's and the table's
    colours (the table's: the median of the input around the scraps; an orange scrap on orange wood). In the
    pan: pixels of the image of its inside (the box over its floor, mouth to back wall, between its side
    walls, :data:`SCRAPS_TOP_M` high) of a scrap's colour in the last frame and not in the first; they must
    number ``min_swept_fraction`` of the scraps' input pixels. Left: the scraps' input pixels still of a
    scrap's colour in the last frame, at most ``max_left_fraction`` of them."""
    sweep = perception.view
    scrap_mask = np.zeros(frames.shape[1:3], dtype=bool)
    references = []
    for scrap in sweep.scraps:
        pixels = project_pixels(scene, scrap.points)
        scrap_mask[pixels[:, 0], pixels[:, 1]] = True
        seen = scene.rgb[pixels[:, 0], pixels[:, 1]].astype(np.float32)
        spread = np.linalg.norm(seen - scrap.rgb, axis=1)
        references.append(
            (scrap.rgb.astype(np.float32), float(np.clip(1.5 * np.percentile(spread, 80), 25, 70)))
        )
    around = ndimage.binary_dilation(scrap_mask, iterations=3) & ~ndimage.binary_dilation(scrap_mask)
    for obj in perception.objects:
        around &= ~obj.mask
    table = np.median(scene.rgb[around].astype(np.float32), axis=0) if around.any() else np.full(3, -1e3)
    others = [
        np.asarray(perception.goal.mean_rgb, np.float32),
        np.asarray(perception.target.mean_rgb, np.float32),
        table,
    ]

    def scrap_coloured(frame: np.ndarray) -> np.ndarray:
        pixels = frame.astype(np.float32)
        nearest_other = np.min([np.linalg.norm(pixels - o, axis=-1) for o in others], axis=0)
        found = np.zeros(frame.shape[:2], dtype=bool)
        for rgb, tolerance in references:
            distance = np.linalg.norm(pixels - rgb, axis=-1)
            found |= (distance < tolerance) & (distance < nearest_other)
        return found

    inside = _pan_inside_silhouette(scene, perception)
    first, last = scrap_coloured(frames[0]), scrap_coloured(frames[-1])
    seen_px = int(scrap_mask.sum())
    in_goal_px = int((last & ~first & inside).sum())
    left_px = int((last & scrap_mask).sum())
    in_goal = in_goal_px >= max(config.min_contents_pixels, config.min_swept_fraction * seen_px)
    cleared = left_px <= config.max_left_fraction * seen_px
    return {
        "scraps_in_goal": bool(in_goal),
        "scraps_in_goal_px": in_goal_px,
        "scraps_left_px": left_px,
        "scraps_seen_px": seen_px,
        "lane_cleared": bool(cleared),
        "target_sweeps": bool(in_goal and cleared),
    }


def _pan_inside_silhouette(scene: ScenePackage, perception: Perception) -> np.ndarray:
    """H×W bool: the image of the box over the dustpan's floor, from its mouth to its back wall, between its
    side walls, :data:`SCRAPS_TOP_M` high (the convex hull of its corners' images)."""
    sweep, up = perception.view, perception.plane.normal_array
    into = np.r_[sweep.into_pan, 0.0]
    into -= (into @ up) * up
    into /= np.linalg.norm(into)
    across = np.cross(up, into)
    corners = np.array(
        [
            sweep.mouth + a * into * sweep.pan_depth + b * across * 0.5 * sweep.pan_inner_width + h * up
            for a in (0.0, 1.0)
            for b in (-1.0, 1.0)
            for h in (sweep.pan_floor_height, sweep.pan_floor_height + SCRAPS_TOP_M)
        ]
    )
    camera = scene.camera
    points_cam = (corners - camera.extrinsic[:3, 3]) @ camera.extrinsic[:3, :3]
    uv = camera.project(points_cam)
    rows, cols = np.mgrid[0 : scene.height, 0 : scene.width]
    centres = np.c_[cols.reshape(-1) + 0.5, rows.reshape(-1) + 0.5]
    try:
        hull = ConvexHull(uv)
    except QhullError:
        return np.zeros((scene.height, scene.width), dtype=bool)
    inside = np.all(centres @ hull.equations[:, :2].T + hull.equations[:, 2] <= 0, axis=1)
    return inside.reshape(scene.height, scene.width)
