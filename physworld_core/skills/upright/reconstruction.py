"""A fallen bottle as a body of revolution about the axis it lies along, read from one view's top surface.

Why this exists: the default completion turns the seen half about a *vertical* line, which suits things standing
on the table. A bottle lying along the camera's line of sight shows its top and one end; turned about a vertical
line, that becomes a slab several times as wide as the bottle (regression test: ``test_upright_0013_…``), and
a tracker fitting that slab to a bottle being stood up cannot follow the turn. A fallen bottle is round about
its own axis, and perception already found that axis and the base's radius
(:class:`~physworld_core.skills.upright.perception.StandingAxis`). Along the axis, the body's radius is how far
its top surface stands above the axis, which a camera above the table sees whole from any side. Revolving that
profile gives the whole bottle, neck and shoulder included.

An object that is not round about its axis (a lying box: its seen points stand farther from the axis at its
edges than its top does) gets no model here; the caller keeps the default completion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from scipy import ndimage

from physworld_core.errors import ReconstructionError
from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.reconstruction.skill import SkillReconstruction, TargetModel
from physworld_core.reconstruction.tracking import TrackingConfig
from physworld_core.reconstruction.types import ReconstructedObject, Trajectory
from physworld_core.skills.registry import skill_of
from physworld_core.skills.upright.perception import PROFILE_BIN_M, StandingAxis

SECTIONS = 24
"""Facets around the axis: a 24-gon's flats are within 0.9 % of the circle."""
MIN_RADIUS_M = 0.004
"""No slice of the body is modelled thinner than this (a neck seen as a few pixels)."""
ROUND_RATIO = 1.2
"""A round body's seen points stand at most about its top's height off the axis (the 90th percentile of their
distance over the radius the top gives, ~1.0–1.1); a square box's edges stand √2 ≈ 1.4 times as far."""
MIN_SLICES = 4
"""Fewer seen slices along the axis than this say nothing about a profile."""


def radius_profile(points_world: np.ndarray, standing: StandingAxis):
    """(slice positions along the axis from the base end, radius per slice) of a body lying round about
    ``standing``'s axis, or ``None`` when the seen points are not round about it.

    A slice's radius is its top surface's height (90th percentile, as perception reads it) above the axis;
    slices no point fell in are interpolated between their neighbours, and the profile is smoothed over three
    slices so one noisy slice does not make a ring."""
    points = np.asarray(points_world, dtype=np.float64)
    points = points[np.all(np.isfinite(points), axis=1)]
    axis_height = float(standing.centre[2])
    rel = points - standing.base_end
    s = rel @ standing.axis
    count = max(MIN_SLICES, int(np.ceil(standing.length / PROFILE_BIN_M)))
    edges = np.linspace(0.0, standing.length, count + 1)
    index = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, count - 1)
    tops = np.full(count, np.nan)
    for i in np.unique(index):
        tops[i] = np.percentile(points[index == i, 2], 90) - axis_height
    seen = np.isfinite(tops)
    if seen.sum() < MIN_SLICES:
        return None
    centres = 0.5 * (edges[:-1] + edges[1:])
    radii = np.interp(centres, centres[seen], tops[seen])
    radii = np.clip(ndimage.median_filter(radii, size=3, mode="nearest"), MIN_RADIUS_M, standing.radius)
    # Round: the seen points of the body (not its neck) stand about its top's height off the axis.
    off_axis = rel - np.outer(s, standing.axis)
    ratio = np.linalg.norm(off_axis, axis=1) / radii[index]
    body = radii[index] >= 0.7 * standing.radius
    if body.sum() < MIN_SLICES or np.percentile(ratio[body], 90) > ROUND_RATIO:
        return None
    return centres, radii


def revolved(along: np.ndarray, radii: np.ndarray, sections: int = SECTIONS) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of the closed surface of revolution about the x axis with radius ``radii[i]`` at
    ``x = along[i]``, capped flat at both ends.

    The rings are polygons whose flats touch the circle, one flat at the bottom (-z): the body rests on a flat,
    as a real bottle's facets of mould or the world's polygonal one do. Resting on an edge, the twin's bottle
    rolls away from the fingers as they close (regression test: ``test_upright_0008_…``)."""
    theta = np.linspace(0.0, 2 * np.pi, sections, endpoint=False) + np.pi / sections - np.pi / 2
    corner = radii / np.cos(np.pi / sections)
    rings = np.stack(
        [
            np.repeat(along, sections),
            (corner[:, None] * np.cos(theta)).ravel(),
            (corner[:, None] * np.sin(theta)).ravel(),
        ],
        axis=1,
    )
    n = len(along)
    caps = np.array([[along[0], 0.0, 0.0], [along[-1], 0.0, 0.0]])
    vertices = np.vstack([rings, caps])
    faces = []
    for i in range(n - 1):
        for j in range(sections):
            a, b = i * sections + j, i * sections + (j + 1) % sections
            c, d = a + sections, b + sections
            faces += [[a, b, c], [b, d, c]]
    first, last = n * sections, n * sections + 1
    for j in range(sections):
        a, b = j, (j + 1) % sections
        faces.append([first, b, a])
        faces.append([last, (n - 1) * sections + a, (n - 1) * sections + b])
    return vertices, np.asarray(faces, dtype=np.int64)


def lying_body_model(points_world: np.ndarray, standing: StandingAxis, table_height: float):
    """(vertices, faces, pose) of the fallen body, or ``None`` when it is not round about its axis.

    Object frame: origin on the table under the axis's middle, x along the axis from base to top, z up (the
    frame every completed mesh has: origin at its footprint centre on the table)."""
    profile = radius_profile(points_world, standing)
    if profile is None:
        return None
    along, radii = profile
    # The ends of the body are the ends of the seen slices: close the profile there.
    along = np.concatenate([[0.0], along, [standing.length]])
    radii = np.concatenate([radii[:1], radii, radii[-1:]])
    vertices, faces = revolved(along - standing.length / 2, radii)
    vertices[:, 2] += standing.centre[2] - table_height
    x = standing.axis * [1.0, 1.0, 0.0]
    x /= np.linalg.norm(x)
    z = np.array([0.0, 0.0, 1.0])
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = [standing.centre[0], standing.centre[1], table_height]
    return vertices, faces, pose


STAND_UP_MAX_TURN_DEG = 110.0
"""A stand-up turns the object a quarter turn, base or top down: the tracker never follows it much past that."""


UPRIGHT_VIDEO_TILT_DEG = 30.0
"""A video that stands the object up leaves its base → top axis within this of vertical in the last frame."""


def _standing(target, trajectory: Trajectory, standing) -> dict:
    """Which of the target's own axes must end pointing up (``up_local``, base → top), and how upright the
    tracked video leaves it. A video whose last frame leaves that axis far from vertical (stood on its top,
    or not stood up at all) is refused: the twin's goal would then contradict what the video shows."""
    up_local = target.pose_world[:3, :3].T @ standing.axis
    final = trajectory.poses_world[-1][:3, :3] @ up_local
    video_tilt = float(np.degrees(np.arccos(np.clip(final[2], -1.0, 1.0))))
    if video_tilt > UPRIGHT_VIDEO_TILT_DEG:
        raise ReconstructionError(
            f"the prompt asks to stand the {target.label} up, but the tracked video leaves its base-to-top axis "
            f"{video_tilt:.0f} deg from vertical at the end (at most {UPRIGHT_VIDEO_TILT_DEG:.0f} expected): "
            "the video does not stand it on its base"
        )
    return {
        "up_local": [float(v) for v in up_local],
        "standing_axis": standing.to_dict(),
        "video_final_tilt_deg": video_tilt,
    }


class UprightReconstruction(SkillReconstruction):
    """A round lying object as a body of revolution about its axis; the tracker fits the stand-up turn only."""

    name = skill_of(__name__)

    def target_model(
        self,
        seen: SceneObject,
        perception: Perception,
        table_height: float,
        complete: Callable[[], TargetModel],
    ) -> TargetModel:
        """A fallen bottle: round about the axis it lies along (see :func:`lying_body_model`), where the
        generic completion made a half turn of it; a box, or a mesh from a file, is kept."""
        model = complete()
        if not model.half_turn:
            return model
        lying = lying_body_model(seen.points_world, perception.view, table_height)
        if lying is None:
            return model
        v, f, pose = lying
        return TargetModel(v, f, pose, None, (), False, "lying body of revolution")

    def tracking(self, perception: Perception, tracking: TrackingConfig) -> TrackingConfig:
        """A fallen object stood up turns a quarter turn about the horizontal axis square to its own: the
        tracker fits the turn about that axis, never much past a quarter turn. Fitting all three angles, the
        fit of a 30-pixel bottle ended 100° from vertical where the video stands it up (see the regression
        test named after the task)."""
        axis = np.cross(perception.view.axis, perception.plane.normal_array)
        turn_range = tuple(float(np.radians(t)) for t in (-STAND_UP_MAX_TURN_DEG, STAND_UP_MAX_TURN_DEG))
        return replace(tracking, rotation="axis", turn_axis=tuple(map(float, axis)), turn_range=turn_range)

    def finish(
        self, target: ReconstructedObject, trajectory: Trajectory, perception: Perception, table_height: float
    ) -> tuple[list[ReconstructedObject], dict]:
        """Perception's base → top axis, the reading the video was made from, kept in the target's frame: read
        again on the completed mesh, the mirrored half can swap which end looks wider, and the twin would then
        be told to stand it on its top (see the regression test named after the task)."""
        return [], _standing(target, trajectory, perception.view)


HOOKS = UprightReconstruction()
