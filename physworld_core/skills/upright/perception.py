"""Which way a lying object stands up: its long axis on the table and which end is its base.

Why this exists: to stand a fallen bottle upright, the video, the twin and the policy must agree on the turn
that puts it on its base, not on its cap. The video stage calls :func:`standing_axis` on the points one view
sees of the object; the reconstruction stage calls it on the completed mesh's vertices (world frame) to pick
the object-frame axis that must end up pointing up. Both read the same cue, so they agree: a bottle's base is
its widest end, and lying on its side the widest end is also the highest one (its top is the body's diameter
above the table, while the neck is lower). The height of an end is read from the object's top surface, which
a camera above the table sees whole, so one view gives the same answer as a closed point cloud.

Heights are measured above the support plane ``{p : up · p = plane_offset}``; for a fitted
:class:`~physworld_core.perception.plane.Plane` pass ``plane.normal_array, plane.offset``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.errors import GroundingError
from physworld_core.perception.grounding import Grounding
from physworld_core.perception.language import Instruction
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject
from physworld_core.perception.skill import SkillPerception
from physworld_core.scene import ScenePackage
from physworld_core.skills.registry import skill_of

MIN_POINTS = 20
"""Fewer points than this say nothing reliable about an axis or its ends."""

MIN_ELONGATION = 1.3
"""A lying object's footprint is at least this many times longer than wide; a standing can's is about round."""

END_FRACTION = 0.25
"""Share of the length, at each end, whose top-surface height is compared to find the base."""

SAME_HEIGHT_M = 0.002
"""Ends whose heights differ by less than this are the same (a lying can or box): either may go down."""

PROFILE_BIN_M = 0.004
"""Length of the slices along the axis over which the top surface's height is read."""

FACE_DEPTH_M = 0.004
"""Depth along the axis of the end slab that a flat end face seen by the camera crowds with points."""
FACE_CROWDING = 2.0
"""An end slab holding this many times a typical slab's points shows a flat face: a base seen face-on while the
neck hides behind the body crowds its slab about 11×, a rounded or hidden end about 1× or less (regression
test: ``test_upright_0065_…``)."""


@dataclass(frozen=True)
class StandingAxis:
    """The axis a lying object turns about to stand up, in the world frame.

    Args:
        centre: (3,) the middle of the object's axis, on the axis (one base radius above the table).
        axis: (3,) unit vector from the base end to the top end, parallel to the table.
        length: end-to-end length along the axis, metres.
        radius: the base end's radius: half its height above the table, metres.
        base_end: (3,) the point of the axis at the base end (``centre - axis * length / 2``).
    """

    centre: np.ndarray
    axis: np.ndarray
    length: float
    radius: float
    base_end: np.ndarray

    def __post_init__(self) -> None:
        for name in ("centre", "axis", "base_end"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (3,) or not np.all(np.isfinite(value)):
                raise ValueError(f"StandingAxis.{name} must be 3 finite numbers, got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        if abs(float(np.linalg.norm(self.axis)) - 1.0) > 1e-6:
            raise ValueError(f"StandingAxis.axis must be a unit vector, got {self.axis.tolist()}")
        if not (np.isfinite(self.length) and self.length > 0):
            raise ValueError(f"StandingAxis.length must be positive, got {self.length!r}")
        if not (np.isfinite(self.radius) and self.radius > 0):
            raise ValueError(f"StandingAxis.radius must be positive, got {self.radius!r}")
        object.__setattr__(self, "length", float(self.length))
        object.__setattr__(self, "radius", float(self.radius))

    def to_dict(self) -> dict:
        return {
            "centre": self.centre.tolist(),
            "axis": self.axis.tolist(),
            "length": self.length,
            "radius": self.radius,
            "base_end": self.base_end.tolist(),
        }


def standing_axis(
    points_world: np.ndarray, up: np.ndarray, plane_offset: float = 0.0, *, name: str = "object"
) -> StandingAxis:
    """Find the long axis of a lying object's N×3 world points and which end of it is the base.

    The axis is the principal direction of the points projected on the table plane (normal ``up``, through
    the points ``p`` with ``up · p = plane_offset``). Along it, the object's top-surface height is read per
    slice (a high percentile of the heights in it); the mean over the end quarter at each end is that end's
    height, and the higher end is the base. Across the axis, the axis lies under the crest of the base end's
    top surface (a round body's ridge, a box's top face), which one view sees as well as a closed cloud.

    When both ends are within :data:`SAME_HEIGHT_M` of each other (a lying can or box: either end may go
    down), the choice is still deterministic: the higher of the two, and on an exact tie the end at the larger
    coordinate along the axis oriented towards the plane frame's first in-plane direction. The caller cannot
    know better from geometry alone.

    Args:
        points_world: N×3 points of the object (one view's points, or a completed cloud or mesh vertices).
        up: unit normal of the table plane, pointing up.
        plane_offset: the plane's offset along ``up`` (``Plane.offset``).
        name: how to name the object in errors.

    Raises:
        GroundingError: too few points, or the object does not lie on its side (its footprint is not
            elongated, or it stands taller than it is long), so it cannot be stood up.
    """
    points = np.asarray(points_world, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"standing_axis expects N×3 points, got shape {points.shape}")
    points = points[np.all(np.isfinite(points), axis=1)]
    up = np.asarray(up, dtype=np.float64)
    if up.shape != (3,) or abs(float(np.linalg.norm(up)) - 1.0) > 1e-6:
        raise ValueError(f"standing_axis: up must be a unit 3-vector, got {up!r}")
    if len(points) < MIN_POINTS:
        raise GroundingError(
            f"the {name} has only {len(points)} points; at least {MIN_POINTS} are needed to tell whether it "
            "lies on its side and which end is its base"
        )
    e1, e2 = _in_plane_basis(up)
    uv = np.stack([points @ e1, points @ e2], axis=1)
    heights = points @ up - plane_offset
    mean_uv, direction = _principal_line(uv)
    along = (uv - mean_uv) @ direction
    length = float(along.max() - along.min())
    width = float(np.ptp((uv - mean_uv) @ np.array([-direction[1], direction[0]])))
    top = float(np.percentile(heights, 98))
    if length < MIN_ELONGATION * width:
        raise GroundingError(
            f"the {name} does not lie on its side, so it cannot be stood up: its footprint is "
            f"{100 * length:.1f} × {100 * width:.1f} cm (a lying object's is at least {MIN_ELONGATION}× longer "
            "than wide)"
        )
    if top > length:
        raise GroundingError(
            f"the {name} does not lie on its side, so it cannot be stood up: it stands {100 * top:.1f} cm "
            f"tall over a footprint {100 * length:.1f} cm long"
        )

    # One view sees the half of a lying bottle facing the camera, which leans the principal axis of all its
    # points (the wide body's seen half sits farther off the axis than the neck's). The crest of its top
    # surface lies right above the axis, seen from any side: refit the axis to the crest.
    crest = heights >= 0.95 * _slice_top(along, heights)
    if crest.sum() >= MIN_POINTS // 2:
        mean_uv, direction = _principal_line(uv[crest])
    across = np.array([-direction[1], direction[0]])
    along_s = (uv - mean_uv) @ direction
    across_t = (uv - mean_uv) @ across
    s_min, s_max = float(along_s.min()), float(along_s.max())
    length = s_max - s_min

    profile_s, profile_h = _top_profile(along_s, heights, s_min, s_max)
    end = END_FRACTION * length
    low_end = float(profile_h[profile_s <= s_min + end].mean())
    high_end = float(profile_h[profile_s >= s_max - end].mean())
    # The higher end is the base. On a tie (within noise: the neck hidden behind the body, or a can), the end
    # the camera sees a flat face at is: a face square to the axis crowds points at its end, and a bottle's
    # flat end is its base (its top narrows). Failing that, still the higher one, and on an exact tie +s.
    base_at_high = high_end >= low_end
    if abs(high_end - low_end) < SAME_HEIGHT_M:
        faces = _end_face_crowding(along_s, s_min, s_max)
        if max(faces) >= FACE_CROWDING and abs(faces[1] - faces[0]) >= 1.0:
            base_at_high = faces[1] > faces[0]
    base_height = high_end if base_at_high else low_end
    axis_2d = -direction if base_at_high else direction
    radius = base_height / 2
    if radius <= 0:
        raise GroundingError(f"the {name} has no height above the table ({100 * base_height:.1f} cm)")

    # Across: under the crest of the base end's top surface (symmetric about the axis for a round or box body).
    base_side = along_s >= s_max - end if base_at_high else along_s <= s_min + end
    crest = base_side & (heights >= 0.9 * base_height)
    t_centre = (
        float(np.median(across_t[crest])) if crest.any() else 0.5 * float(across_t.max() + across_t.min())
    )
    centre_uv = mean_uv + direction * (0.5 * (s_min + s_max)) + across * t_centre
    centre = centre_uv[0] * e1 + centre_uv[1] * e2 + (plane_offset + radius) * up
    axis = axis_2d[0] * e1 + axis_2d[1] * e2
    axis /= np.linalg.norm(axis)
    return StandingAxis(
        centre=centre, axis=axis, length=length, radius=radius, base_end=centre - axis * (length / 2)
    )


def _end_face_crowding(along_s: np.ndarray, s_min: float, s_max: float) -> tuple[float, float]:
    """(low end, high end): how many times more points lie within :data:`FACE_DEPTH_M` of each end than in
    a typical slice of that depth along the body. A face square to the axis seen by the camera is several
    times a slice's worth; a rounded or hidden end is about one or less."""
    count = max(4, int(np.ceil((s_max - s_min) / FACE_DEPTH_M)))
    typical = max(float(np.median(np.histogram(along_s, bins=count, range=(s_min, s_max))[0])), 1.0)
    low = float((along_s <= s_min + FACE_DEPTH_M).sum()) / typical
    high = float((along_s >= s_max - FACE_DEPTH_M).sum()) / typical
    return low, high


def _principal_line(uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, unit direction) of 2D points' principal axis, its sign fixed (first nonzero component positive)
    so that ties between the ends are broken the same way for the same points."""
    mean = uv.mean(axis=0)
    _, _, vt = np.linalg.svd(uv - mean, full_matrices=False)
    direction = vt[0] if (vt[0][0], vt[0][1]) > (0.0, 0.0) else -vt[0]
    return mean, direction


def _slice_top(along_s: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Per point, the top-surface height (90th percentile) of its slice along the axis."""
    s_min, s_max = float(along_s.min()), float(along_s.max())
    count = max(4, int(np.ceil((s_max - s_min) / PROFILE_BIN_M)))
    index = np.clip(((along_s - s_min) / max(s_max - s_min, 1e-9) * count).astype(int), 0, count - 1)
    tops = np.full(count, np.inf)
    for slice_index in np.unique(index):
        tops[slice_index] = np.percentile(heights[index == slice_index], 90)
    return tops[index]


def _in_plane_basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e1, e2) spanning the plane, e1 being world x projected on it (as ``Plane.basis``)."""
    reference = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = reference - (reference @ up) * up
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(up, e1)


def _top_profile(
    along_s: np.ndarray, heights: np.ndarray, s_min: float, s_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Height of the top surface per slice along the axis: (slice centres, 90th-percentile heights) of the
    slices holding points. A high percentile, not the maximum: one stray point must not lift an end."""
    count = max(4, int(np.ceil((s_max - s_min) / PROFILE_BIN_M)))
    edges = np.linspace(s_min, s_max, count + 1)
    index = np.clip(np.searchsorted(edges, along_s, side="right") - 1, 0, count - 1)
    centres, tops = [], []
    for slice_index in range(count):
        in_slice = heights[index == slice_index]
        if len(in_slice):
            centres.append(0.5 * (edges[slice_index] + edges[slice_index + 1]))
            tops.append(float(np.percentile(in_slice, 90)))
    return np.asarray(centres), np.asarray(tops)


def lying_shape_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of an asked shape class with an object the prompt says lies on its side (upright skill).

    From above, a lying cylinder's footprint is a rectangle, so a fallen bottle reads as a "box": any solid
    (box or cylinder footprint) may be a lying can, bottle or carton, and a long footprint fits best. A round
    footprint still qualifies, at half the score, so that an object standing already is grounded and refused
    with that reason (perception checks it lies) rather than reported missing. Hollow objects and markings
    do not qualify."""
    if asked is None:
        return 0.0
    if asked not in ("cylinder", "box") or seen.shape not in ("cylinder", "box"):
        return None
    length, width = seen.extents[0], seen.extents[1]
    return 1.0 if length >= MIN_ELONGATION * max(width, 1e-9) else 0.5


class UprightPerception(SkillPerception):
    """The object to stand up is judged as a lying solid (:func:`lying_shape_score`); its view is the axis it
    turns about and which end is its base (:func:`standing_axis`). An object standing already is refused here,
    with its sizes."""

    name = skill_of(__name__)
    target_scorer = staticmethod(lying_shape_score)
    view_type = StandingAxis

    def view(
        self,
        scene: ScenePackage,
        plane: Plane,
        objects: list[SceneObject],
        instruction: Instruction,
        grounding: Grounding,
    ) -> StandingAxis:
        target = grounding.target
        return standing_axis(
            target.points_world,
            plane.normal_array,
            plane.offset,
            name=f"{target.description} (the {instruction.object_phrase})",
        )


HOOKS = UprightPerception()
