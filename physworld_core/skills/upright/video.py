"""The upright skill's video: a lying object lifted, tipped base-down and set standing where it lay; and the check
that a video shows it stood up.

Motion (:func:`plan_standing_up`): the object is lifted until it can swing clear of the table, turned about the
horizontal axis across its long axis (through the axis centre) until its base points down, and lowered onto its
base where it lay. Its unseen back is then the seen half turned half a turn about the object's own axis (exact
for a lying bottle, can or box), so the stood-up object shows a closed surface from every side.

Check: with no goal object, the final blob is compared with two silhouettes the scene's perception predicts,
the object lying as in the input image and a closed cylinder of the object's length and base radius standing on
the table under its axis centre (``perception.view``). The video passes when the blob overlaps the standing
silhouette well and covers more of what only the standing silhouette covers than of what only the lying one
covers. Neither its image aspect nor plain overlaps would do: a bottle lying along the line of sight looks about
as tall in the image as standing, and its two silhouettes overlap a lot. An object stood up where it lay hardly
moves across the image, so it counts as moving when its silhouette changes (half of it new or gone at some
frame) as well as when its blob travels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.scene import ScenePackage
from physworld_core.skills.registry import skill_of
from physworld_core.skills.upright.perception import StandingAxis
from physworld_core.video.config import ProceduralVideoConfig
from physworld_core.video.motion import (
    REST_GAP_M,
    ObjectTrajectory,
    about_axis,
    frames_per_segment,
    hold_to_end,
    min_jerk,
)
from physworld_core.video.silhouettes import cylinder_silhouette, iou
from physworld_core.video.skill import ColourTrack, SkillVideo

TIP_CLEARANCE_M = 0.01
"""While it turns, the object's lowest point stays at least this far above the table."""


def plan_standing_up(perception: Perception, config: ProceduralVideoConfig) -> ObjectTrajectory:
    """Stand the lying target up (``perception.view``: the :class:`~physworld_core.skills.upright.perception.StandingAxis`): lift, tip, lower.

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
    standing = perception.view
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
    segment_frames = frames_per_segment(lengths, config)
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
            transforms[frame] = about_axis(angle, turn_axis, centre, offset)
            frame += 1
    hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=float(swing_height - np.hypot(half_length, radius)),
        final_height=REST_GAP_M,
        obstacles=(),
    )


@dataclass(frozen=True)
class UprightCheckConfig:
    """Thresholds of the upright skill's video check.

    Args:
        min_upright_iou: the least overlap (intersection over union) of the target's final blob with the
            silhouette of the object standing where it lay.
        min_silhouette_change: the target also moves when, at some frame, its blob's overlap with its input
            silhouette is at most ``1 - min_silhouette_change``.
    """

    min_upright_iou: float = 0.4
    min_silhouette_change: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.min_upright_iou <= 1:
            raise ValueError(f"min_upright_iou must lie in (0, 1], got {self.min_upright_iou}")
        if not 0 < self.min_silhouette_change <= 1:
            raise ValueError(f"min_silhouette_change must lie in (0, 1], got {self.min_silhouette_change}")


class UprightVideo(SkillVideo):
    name = skill_of(__name__)
    check_config_type = UprightCheckConfig

    def plan_motion(
        self, perception: Perception, config: ProceduralVideoConfig, through_obstacle: bool = False
    ) -> ObjectTrajectory:
        return plan_standing_up(perception, config)

    def goal_point(self, perception: Perception) -> np.ndarray:
        """The point of the table under the axis centre, where it stands up."""
        centre = perception.view.centre
        return centre - float(perception.plane.signed_height(centre[None])[0]) * perception.plane.normal_array

    def plan_fields(self, perception: Perception, trajectory: ObjectTrajectory) -> dict:
        return {"standing_axis": perception.view.to_dict()}

    def add_unseen(
        self,
        scene: ScenePackage,
        perception: Perception,
        target: SceneObject,
        points: np.ndarray,
        colours: np.ndarray,
        config: ProceduralVideoConfig,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A lying object: its back is the seen half turned about its own axis (bottom and far side)."""
        if not config.mirror_back:
            return points, colours
        back = about_axis(np.pi, perception.view.axis, perception.view.centre, np.zeros(3))
        return np.concatenate([points, points @ back[:3, :3].T + back[:3, 3]]), np.concatenate(
            [colours, colours]
        )

    def blobs(
        self, frames: np.ndarray, scene: ScenePackage, perception: Perception, moving: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """It stays on the table it was cut from: see :func:`_upright_blobs`."""
        return _upright_blobs(frames, scene, perception)

    def not_done(self) -> dict:
        return {**dict.fromkeys(_UPRIGHT_NUMBERS, 0.0), "target_ends_upright": False}

    def ends_in_goal(self, track: ColourTrack) -> tuple[dict, bool]:
        figures = _stood_up(track.moving, track.extra, track.perception.target.mask, track.skill_config)
        return figures, figures["target_ends_upright"]

    def moves_in_place(self, figures: dict, skill_config: UprightCheckConfig) -> bool:
        return figures.get("silhouette_change", 0.0) >= skill_config.min_silhouette_change


HOOKS = UprightVideo()


_UPRIGHT_NUMBERS = (
    "upright_iou",
    "lying_iou",
    "standing_only_covered",
    "lying_only_covered",
    "silhouette_change",
)


def _upright_blobs(
    frames: np.ndarray, scene: ScenePackage, perception: Perception
) -> tuple[np.ndarray, np.ndarray]:
    """T×H×W pixels showing the target near where it lies or would stand, and the standing silhouette.

    The target is told from the table by its nearest colour, among the target's own pixels and the table
    pixels around it in the input image, not by a distance to its mean colour: an object stood up where it lay
    stays over the table it was cut from, and a red bottle on orange wood is within the tolerance its shading
    needs of the wood. Only pixels near the lying or the standing silhouette count: anything elsewhere is not
    this object standing here."""
    target, lying = perception.target, perception.target.mask
    standing = _standing_silhouette(scene, perception, perception.view)
    others = np.zeros_like(lying)
    for obj in perception.objects:
        if obj.index != target.index:
            others |= obj.mask
    near = ndimage.binary_dilation(standing | lying, iterations=3) & ~others
    ring = (
        ndimage.binary_dilation(lying, iterations=6) & ~ndimage.binary_dilation(lying, iterations=1) & ~others
    )
    if not ring.any():
        ring = ~lying & ~others
    rng = np.random.default_rng(0)  # subsampled colours: the classifier must not depend on the pixel count
    object_rgb, table_rgb = (
        colours[rng.choice(len(colours), min(len(colours), 500), replace=False)]
        for colours in (scene.rgb[lying].astype(np.float32), scene.rgb[ring].astype(np.float32))
    )
    pixels = frames[:, near].astype(np.float32).reshape(-1, 3)
    to_object = cKDTree(object_rgb).query(pixels)[0]
    to_table = cKDTree(table_rgb).query(pixels)[0]
    blobs = np.zeros(frames.shape[:3], dtype=bool)
    blobs[:, near] = (to_object < to_table).reshape(len(frames), -1)
    return blobs, standing


def _stood_up(
    blobs: np.ndarray, standing: np.ndarray, lying: np.ndarray, config: UprightCheckConfig
) -> dict[str, bool | float]:
    """Does the target's final blob look like the object standing where it lay, rather than still lying?"""
    final_blob = blobs[-1]
    standing_only, lying_only = standing & ~lying, lying & ~standing
    standing_covered = float((final_blob & standing_only).sum() / max(int(standing_only.sum()), 1))
    lying_covered = float((final_blob & lying_only).sum() / max(int(lying_only.sum()), 1))
    upright_iou = iou(final_blob, standing)
    # Frames showing much of the object (not one it popped out of, nor one a hand hides).
    shown = [index for index in range(1, len(blobs)) if blobs[index].sum() >= 0.25 * lying.sum()]
    change = 1.0 - min((iou(blobs[index], lying) for index in shown), default=1.0)
    return {
        "target_ends_upright": bool(
            upright_iou >= config.min_upright_iou and standing_covered > lying_covered
        ),
        "upright_iou": upright_iou,
        "lying_iou": iou(final_blob, lying),
        "standing_only_covered": standing_covered,
        "lying_only_covered": lying_covered,
        "silhouette_change": float(change) if shown else 0.0,
    }


def _standing_silhouette(scene: ScenePackage, perception: Perception, standing: StandingAxis) -> np.ndarray:
    """H×W bool: the image of a closed cylinder of the object's length and base radius standing on the table
    under its axis centre (convex, like the silhouette of a bottle, can or box seen from a tabletop camera)."""
    plane = perception.plane
    up = plane.normal_array
    foot = standing.centre - float(plane.signed_height(standing.centre[None])[0]) * up
    return cylinder_silhouette(scene, foot, up, standing.radius, standing.length, np.cross(up, standing.axis))
