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

Upright (a lying object stood up on its base, ``perception.standing``): the object is lifted until it can
swing clear of the table, turned about the horizontal axis across its long axis (through the axis centre) until
its base points down, and lowered onto its base where it lay. Its unseen back is then the seen half turned
half a turn about the object's own axis (exact for a lying bottle, can or box), so the stood-up object shows
a closed surface from every side.

Realism (:mod:`.realism`, off by default): ``config.realism`` adds the artefacts learned video models show, each
seeded by ``config.seed``. The path may cut through the obstacles and the object may drift in scale or pop out
for a frame (applied here, in the plan and the renderer); a hand, flicker and camera shake are drawn on the
rendered frames afterwards. Frame 0 stays the input image; ``plan["realism"]`` records what was applied.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

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
    """

    transforms_world: np.ndarray
    phases: dict[str, list[int]]
    carry_height: float
    final_height: float
    obstacles: tuple[int, ...]
    cut_through: tuple[int, ...] = ()


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk time scaling: 0→1 with zero velocity and acceleration at both ends (how hands move)."""
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10 - 15 * s + 6 * s**2)


def plan_trajectory(
    perception: Perception, config: ProceduralVideoConfig, through_obstacle: bool = False
) -> ObjectTrajectory:
    """Lift the target, carry it above the goal's interior centre, lower it onto the goal's floor; or, for a
    push (or a flat marking as the goal), slide it along the table onto the goal's centre; or, for a shelf,
    lower it onto the board in the row's free gap (``perception.slot``), turned so its thin side runs along
    the row (a slot admits one turn, so that turn gets no jitter).

    The carry height clears every object whose footprint comes near the path (the goal's rim included) by
    ``config.clearance``; the jitters (seeded) add a sideways bow and a turn so samples differ.

    With ``through_obstacle`` (a realism artefact) the path is what a video model often shows instead: a
    straight line (no bow) at half the tallest obstacle's height, or ``config.lift_height`` if lower, through
    whatever stands in the way.
    """
    if perception.standing is not None:
        return plan_standing_up(perception, config)
    rng = np.random.default_rng(config.seed)
    plane = perception.plane
    target, goal = perception.target, perception.goal
    up = plane.normal_array
    start_uv = plane.to_plane_coords(np.asarray([target.centre_world]))[0, :2]
    slot = perception.slot
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
    """Stand the lying target up (upright skill, ``perception.standing``): lift, tip, lower.

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
    standing = perception.standing
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
    durations = np.sqrt(lengths + 1e-3)
    total, hold = config.num_frames, config.hold_frames
    moving = total - 2 * hold
    segment_frames = np.maximum(3, np.round(moving * durations / durations.sum())).astype(int)
    segment_frames[np.argmax(segment_frames)] += moving - segment_frames.sum()

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
    renderer = SplatRenderer(scene, perception, config)
    frames = np.empty((config.num_frames, scene.height, scene.width, 3), dtype=np.uint8)
    for index, transform in enumerate(trajectory.transforms_world):
        scale = float(artefacts.scale_factors[index])
        if index in artefacts.popped_frames:
            frames[index] = renderer.background_rgb
        elif scale == 1.0 and np.allclose(transform, np.eye(4)):
            # Frames where the object has not moved are the input image itself: an I2V model reproduces its
            # conditioning frame, and the reconstruction stage pairs frame 0 with the real depth.
            frames[index] = scene.rgb
        else:
            frames[index] = renderer.render(transform, scale)
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
        "slot": None if perception.slot is None else perception.slot.to_dict(),
        "standing_axis": None if perception.standing is None else perception.standing.to_dict(),
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
    carried = range(phases["lift"][0], phases["lower"][1] + 1)
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
        points, colours = _densified_surface(scene, target)
        if config.mirror_back and perception.standing is not None:
            # A lying object: its back is the seen half turned about its own axis (bottom and far side).
            back = _about_axis(np.pi, perception.standing.axis, perception.standing.centre, np.zeros(3))
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
        # Neighbouring pixels of one (convex-ish) object differ in depth by less than a fraction of its width.
        self.see_through_gap = max(0.01, 0.25 * min(target.extents[0], target.extents[1]))
        self.background_rgb, self.background_depth = _background_without(
            scene, perception, config.fill_iterations
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

    def render(self, transform_world: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """One frame with the target's points scaled by ``scale`` about its centre, then moved by
        ``transform_world`` (4×4)."""
        height, width = self.scene.height, self.scene.width
        camera = self.scene.camera
        points_cam = self._to_camera(self._moved(transform_world, scale))
        depth = points_cam[:, 2]
        in_front = depth > 1e-3
        points_cam, depth, colours = points_cam[in_front], depth[in_front], self.colours[in_front]
        if len(depth) == 0:
            return self.background_rgb.copy()
        uv = camera.project(points_cam)
        cols, rows = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)

        # Splat size: the object covers ~1 point per pixel at rest; nearer the camera its points spread out.
        magnification = float(np.percentile(self.rest_depth[in_front] / depth, 90)) * max(scale, 1.0)
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
    scene: ScenePackage, perception: Perception, fill_iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """The image and depth with the target removed: its pixels become table.

    Colour: nearest visible table pixel (via the distance transform's indices), then a few rounds of
    diffusion restricted to table pixels to soften the streaks nearest-neighbour filling leaves. Depth: the
    table plane along each pixel's ray, so the moving object is z-tested against the table it uncovered.
    """
    target = perception.target
    height_px, width_px = scene.height, scene.width
    others = np.zeros((height_px, width_px), dtype=bool)
    for obj in perception.objects:
        if obj.index != target.index:
            others |= obj.mask
    # Dilate: the object's last few millimetres above the table were below the segmentation margin.
    hole = ndimage.binary_dilation(target.mask, iterations=2) & ~others
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
    if perception.standing is not None:
        centre = perception.standing.centre
        return centre - float(perception.plane.signed_height(centre[None])[0]) * perception.plane.normal_array
    if perception.slot is not None:
        return perception.slot.centre_world(perception.plane)
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
