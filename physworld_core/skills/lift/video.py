"""The lift skill's video: the object rises straight up from where it rests, is carried over the named object if
there is one, and stays held in the air to the end of the clip; and the check that a video shows it held there.

Motion (:func:`plan_lift`): up until its underside is clear of everything near the way (or at the asked height,
if higher), across to above the named object, then up or down to the asked height (its underside
:attr:`~physworld_core.skills.lift.language.LiftDetails.height_m` above the table, or above the named object's
top), where it stays. No lowering: a lift ends held.

Check (:meth:`LiftVideo.ends_in_goal`): the scene's perception predicts where the object's middle shows in the
image at rest and where it shows once lifted; the video passes when the target's final blob lies nearer the
lifted point than the resting one, within :attr:`LiftCheckConfig.max_offset_fraction` of the distance between
the two.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from physworld_core.perception.perceive import Perception
from physworld_core.skills.lift.language import LiftDetails
from physworld_core.skills.registry import skill_of
from physworld_core.video.config import ProceduralVideoConfig
from physworld_core.video.motion import (
    ObjectTrajectory,
    about_vertical_axis,
    distance_to_segment,
    frames_per_segment,
    hold_to_end,
    min_jerk,
)
from physworld_core.video.silhouettes import project_pixels
from physworld_core.video.skill import ColourTrack, SkillVideo


@dataclass(frozen=True)
class LiftCheckConfig:
    """Args:
    max_offset_fraction: the final blob's centroid may lie at most this share of the image distance between
        the object's resting and lifted middles from the lifted one.
    """

    max_offset_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.max_offset_fraction < 1:
            raise ValueError(f"max_offset_fraction must lie in (0, 1), got {self.max_offset_fraction}")


def end_height(perception: Perception) -> float:
    """How high (m above the table) the object's underside ends: the asked height above the table, or above the
    named object's top."""
    details: LiftDetails = perception.instruction.details
    base = 0.0 if perception.goal is None else float(perception.goal.top_height)
    return base + details.height_m


def end_offset(perception: Perception) -> np.ndarray:
    """Where the object's footprint centre ends, as a displacement along the table from where it rests (world):
    over the named object's centre, or nowhere (straight up)."""
    if perception.goal is None:
        return np.zeros(3)
    up = perception.plane.normal_array
    travel = np.asarray(perception.goal.centre_world) - np.asarray(perception.target.centre_world)
    return travel - (travel @ up) * up


def plan_lift(perception: Perception, config: ProceduralVideoConfig) -> ObjectTrajectory:
    """Lift the target (see the module's docstring). The seeded jitter turns it a little about the vertical on
    the way, so samples differ; where it ends is exact."""
    rng = np.random.default_rng(config.seed)
    plane, target = perception.plane, perception.target
    up = plane.normal_array
    centre = np.asarray(target.centre_world)
    travel = end_offset(perception)
    final_height = end_height(perception)
    start_uv = plane.to_plane_coords(centre[None])[0, :2]
    end_uv = plane.to_plane_coords((centre + travel)[None])[0, :2]
    obstacles = []
    for other in perception.objects:
        if other.index == target.index:
            continue
        other_uv = plane.to_plane_coords(np.asarray([other.centre_world]))[0, :2]
        corridor = other.footprint_radius + target.footprint_radius
        if distance_to_segment(other_uv, start_uv, end_uv) < corridor:
            obstacles.append(other)
    tallest = max((o.top_height for o in obstacles), default=0.0)
    carry_height = max(final_height, tallest + config.clearance) if obstacles else final_height
    waypoints = [np.zeros(3), up * carry_height, travel + up * carry_height, travel + up * final_height]
    names = ("lift", "carry", "settle")
    lengths = np.array([np.linalg.norm(b - a) for a, b in itertools.pairwise(waypoints)])
    final_yaw = float(np.deg2rad(rng.uniform(-1.0, 1.0) * config.yaw_jitter_deg))

    transforms = np.tile(np.eye(4), (config.num_frames, 1, 1))
    hold = config.hold_frames
    phases = {"hold_start": [0, hold - 1] if hold else []}
    frame = hold
    counts = frames_per_segment(lengths, config)
    for segment, (name, count) in enumerate(zip(names, counts.tolist())):
        phases[name] = [frame, frame + count - 1]
        for step in range(count):
            s = min_jerk(np.asarray((step + 1) / count))
            offset = waypoints[segment] + s * (waypoints[segment + 1] - waypoints[segment])
            turned = final_yaw * (frame - hold + 1) / counts.sum()
            transforms[frame] = about_vertical_axis(turned, up, centre, offset)
            frame += 1
    hold_to_end(transforms, frame, phases)
    return ObjectTrajectory(
        transforms_world=transforms,
        phases=phases,
        carry_height=float(carry_height),
        final_height=float(final_height),
        obstacles=tuple(o.index for o in obstacles),
    )


def middle_pixels(perception: Perception, scene) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) in the image of the target's middle at rest and once lifted, as the perception predicts."""
    target = perception.target
    up = perception.plane.normal_array
    rest = np.asarray(target.centre_world) + up * (0.5 * target.top_height)
    lifted = rest + end_offset(perception) + up * end_height(perception)
    rest_px, lifted_px = project_pixels(scene, np.stack([rest, lifted])).astype(np.float64)
    return rest_px, lifted_px


class LiftVideo(SkillVideo):
    name = skill_of(__name__)
    check_config_type = LiftCheckConfig

    def plan_motion(
        self, perception: Perception, config: ProceduralVideoConfig, through_obstacle: bool = False
    ) -> ObjectTrajectory:
        """The lift (:func:`plan_lift`). A path through an obstacle is a carry's artefact: a lift rises first."""
        return plan_lift(perception, config)

    def goal_point(self, perception: Perception) -> np.ndarray:
        """Where the object's footprint centre ends, on the table: over the named object, or where it rests."""
        return np.asarray(perception.target.centre_world) + end_offset(perception)

    def slides(self, perception: Perception) -> bool:
        return False

    def plan_fields(self, perception: Perception, trajectory: ObjectTrajectory) -> dict:
        return {
            "lift_height_m": perception.instruction.details.height_m,
            "lift_end_height_m": end_height(perception),
        }

    def not_done(self) -> dict:
        return {"lift_offset_px": -1.0, "lift_travel_px": -1.0, "target_ends_lifted": False}

    def ends_in_goal(self, track: ColourTrack) -> tuple[dict, bool]:
        """The final blob's centroid nearer the lifted middle than the resting one, and near it (see
        :class:`LiftCheckConfig`)."""
        rest_px, lifted_px = middle_pixels(track.perception, track.scene)
        last = np.nonzero(track.visible)[0][-1]
        rows, cols = np.nonzero(track.moving[last])
        centroid = np.array([rows.mean(), cols.mean()])
        offset = float(np.linalg.norm(centroid - lifted_px))
        travel = float(np.linalg.norm(lifted_px - rest_px))
        lifted = bool(
            offset < float(np.linalg.norm(centroid - rest_px))
            and offset <= track.skill_config.max_offset_fraction * travel
        )
        return {"lift_offset_px": offset, "lift_travel_px": travel, "target_ends_lifted": lifted}, lifted


HOOKS = LiftVideo()
