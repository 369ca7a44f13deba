"""The cup to pour from, and what it holds, as bodies: an open cylinder made of convex parts and a layer of balls
on its floor.

A completed mesh of the seen points is closed: its top is a lid over the cup's mouth, and nothing could pour out
of it in the twin. A cup is the one shape whose hollow matters here, and it is simple: a floor disc and a ring of
wall segments (each convex, so the simulator collides with the hollow, not its hull), sized from what perception
measured of its outside. Its wall and floor thickness cannot be seen from one view above an angle; they are
priors (:data:`WALL_M`, :data:`FLOOR_M`).

The contents are seen, if at all, as a few pixels through the mouth. They are modelled as one layer of equal
balls on the floor, a ring against the wall and one in the middle where it fits: the radius from how far the
contents' top stands above the floor when that is seen, else :data:`BALL_RADIUS_PRIOR_M`. How many there are
matters less than that they lie where the cup's tilt rolls them out; a full layer is the harder case (more to
pour), so that is what the twin gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import trimesh

from physworld_core.errors import ReconstructionError
from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.reconstruction.skill import SkillReconstruction, TargetModel
from physworld_core.reconstruction.tracking import TrackingConfig
from physworld_core.reconstruction.types import ReconstructedObject, Trajectory
from physworld_core.skills.pour.perception import pour_direction
from physworld_core.skills.registry import skill_of

WALL_M = 0.005
"""Prior wall thickness of a cup (household cups and beakers: 3–6 mm)."""
FLOOR_M = 0.006
"""Prior floor thickness of a cup."""
WALL_SEGMENTS = 12
"""Convex wall segments around the cup: a 12-gon's flats are within 1.7 % of the circle."""
BALL_RADIUS_PRIOR_M = 0.009
"""Radius of the contents when nothing of them is seen (marbles and beads: 6–12 mm)."""
BALL_RADIUS_RANGE_M = (0.005, 0.014)
"""What a seen layer's height may set the balls' radius to."""
BALL_GAP_M = 0.0005
"""Gap left between modelled balls, and between them and the wall, so none starts in contact."""


def open_cup(outer_radius: float, height: float, wall: float = WALL_M, floor: float = FLOOR_M):
    """(vertices, faces, face_part) of an open cup standing on z = 0 with its axis on z: part 0 the floor disc,
    parts 1.. the wall segments. Every part is convex."""
    if not (0 < 2 * wall < outer_radius and 0 < floor < height):
        raise ValueError(
            f"an open cup needs 0 < 2 x wall < radius and 0 < floor < height, got radius {outer_radius}, "
            f"height {height}, wall {wall}, floor {floor}"
        )
    meshes = [trimesh.creation.cylinder(radius=outer_radius, height=floor, sections=2 * WALL_SEGMENTS)]
    meshes[0].apply_translation([0.0, 0.0, floor / 2])
    inner = outer_radius - wall
    step = 2 * np.pi / WALL_SEGMENTS
    for i in range(WALL_SEGMENTS):
        a, b = i * step, (i + 1) * step
        ring = [r * np.array([np.cos(t), np.sin(t)]) for t in (a, b) for r in (inner, outer_radius)]
        corners = [[*xy, z] for xy in ring for z in (floor, height)]
        meshes.append(trimesh.convex.convex_hull(np.asarray(corners)))
    vertices, faces, parts, offset = [], [], [], 0
    for k, m in enumerate(meshes):
        vertices.append(np.asarray(m.vertices))
        faces.append(np.asarray(m.faces) + offset)
        parts.append(np.full(len(m.faces), k))
        offset += len(m.vertices)
    return np.vstack(vertices), np.vstack(faces), np.concatenate(parts)


def ball_radius(floor_top: float | None, floor: float = FLOOR_M) -> float:
    """The balls' radius from the height (above the cup's bottom) of the top of what lies on its floor."""
    if floor_top is None:
        return BALL_RADIUS_PRIOR_M
    return float(np.clip((floor_top - floor) / 2, *BALL_RADIUS_RANGE_M))


def ball_layer(inner_radius: float, radius: float, floor: float = FLOOR_M) -> np.ndarray:
    """Centres (cup frame) of one layer of balls of ``radius`` on the floor: as many as fit in a ring against
    the wall, and one in the middle when the ring leaves room for it."""
    ring = inner_radius - radius - BALL_GAP_M
    if ring < 0:
        raise ValueError(
            f"a ball of radius {radius * 1000:.1f} mm does not fit in a cup {inner_radius * 1000:.1f} mm"
        )
    z = floor + radius + BALL_GAP_M
    if ring < radius + BALL_GAP_M:  # no room for a ring: one ball in the middle
        return np.array([[0.0, 0.0, z]])
    count = int(np.floor(np.pi / np.arcsin(min(1.0, (radius + BALL_GAP_M / 2) / ring))))
    angles = 2 * np.pi * np.arange(count) / count
    centres = [[ring * np.cos(t), ring * np.sin(t), z] for t in angles]
    if ring >= 2 * radius + BALL_GAP_M:
        centres.append([0.0, 0.0, z])
    return np.asarray(centres)


def ball_mesh(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """A convex sphere mesh centred on the origin."""
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=radius)
    return np.asarray(sphere.vertices), np.asarray(sphere.faces)


POUR_MAX_TURN_DEG = 170.0
"""A cup poured is tipped past horizontal, but never turned upside down and beyond…"""
POUR_BACK_TURN_DEG = 10.0
"""…and towards the goal: never more than this the other way (a wobble as it is lifted)."""
POUR_VIDEO_MIN_TILT_DEG = 60.0
"""A video that pours tips the cup at least this far: less, and nothing would roll out of it."""


def _pour(target, trajectory: Trajectory, perception: Perception) -> tuple[list, dict]:
    """The cup's contents as bodies (one layer of balls on its floor, see :mod:`.pouring`), and how far the
    tracked video tips the cup. A video that does not tip it far enough to pour is refused: the twin's goal
    would contradict what the video shows."""
    final = trajectory.poses_world[-1][:3, :3] @ np.linalg.inv(trajectory.poses_world[0][:3, :3])
    tilt = float(np.degrees(np.arccos(np.clip(final[2, 2], -1.0, 1.0))))
    if tilt < POUR_VIDEO_MIN_TILT_DEG:
        raise ReconstructionError(
            f"the prompt asks to pour from the {target.label}, but the tracked video tips it only {tilt:.0f} deg "
            f"by the end (at least {POUR_VIDEO_MIN_TILT_DEG:.0f} expected): the video does not pour"
        )
    view = perception.view
    radius = ball_radius(view.contents_top)
    centres = ball_layer(view.outer_radius - WALL_M, radius)
    v, f = ball_mesh(radius)
    rgb = (0.5, 0.5, 0.5) if view.contents_rgb is None else tuple(np.asarray(view.contents_rgb) / 255.0)
    noun = perception.instruction.contents_noun
    label = noun or "contents"
    contents = []
    for i, c in enumerate(centres):
        pose = target.pose_world.copy()
        pose[:3, 3] = target.pose_world[:3, :3] @ c + target.pose_world[:3, 3]
        contents.append(ReconstructedObject(f"contents_{i}", "contents", label, v, f, pose, rgb))
    metrics = {
        "contents_noun": noun,
        "pour": {
            "video_final_tilt_deg": tilt,
            "contents_count": len(centres),
            "contents_radius_m": radius,
            "contents_radius_from": "prior" if view.contents_top is None else "seen layer height",
            "cup_outer_radius_m": float(view.outer_radius),
            "cup_height_m": float(view.height),
        },
    }
    return contents, metrics


class PourReconstruction(SkillReconstruction):
    """The cup as an open cylinder of convex parts, its contents as a layer of balls; the tracker fits the tip
    towards the goal."""

    name = skill_of(__name__)

    def target_model(
        self,
        seen: SceneObject,
        perception: Perception,
        table_height: float,
        complete: Callable[[], TargetModel],
    ) -> TargetModel:
        """A cup to pour from: an open cylinder of convex parts (a completed mesh would close its mouth)."""
        v, f, face_part = open_cup(perception.view.outer_radius, perception.view.height)
        pose = np.eye(4)
        pose[:3, 3] = perception.view.centre
        return TargetModel(v, f, pose, face_part, (), False, "open cup")

    def tracking(self, perception: Perception, tracking: TrackingConfig) -> TrackingConfig:
        """A cup poured tips about the horizontal axis square to the way it pours, towards the goal only: a
        silhouette seen from above cannot tell a tilt towards the camera from one away from it, and the fit
        took the mirror turn (away from the bowl) where all turns were open to it (see the regression test
        named after the task)."""
        normal = perception.plane.normal_array
        axis = np.cross(normal, pour_direction(perception.view, perception.goal, perception.plane))
        turn_range = tuple(float(np.radians(t)) for t in (-POUR_BACK_TURN_DEG, POUR_MAX_TURN_DEG))
        return replace(tracking, rotation="axis", turn_axis=tuple(map(float, axis)), turn_range=turn_range)

    def finish(
        self, target: ReconstructedObject, trajectory: Trajectory, perception: Perception, table_height: float
    ) -> tuple[list[ReconstructedObject], dict]:
        return _pour(target, trajectory, perception)


HOOKS = PourReconstruction()
