"""The generic goal regions a twin gets from its reconstructed goal object: a container's interior or rim, a flat
marking, the top of a solid body."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull

from physworld_core.reconstruction.types import ReconstructedObject
from physworld_core.twin.goals import SURFACE_REST_TOLERANCE_M, Surface, Top
from physworld_core.twin.spec import GoalRegion

FIT_INSIDE_CLEARANCE_M = 0.005
"""A target put "on" a container fits inside it when its footprint radius is this much under the opening's
half width; otherwise it rests on the rim (a lid on a pot)."""
ROUND_FOOTPRINT_FILL = 0.85
"""Footprint hull area / bounding-box area below this reads as round (a disc fills pi/4 of its box)."""


def footprint(vertices: np.ndarray) -> tuple[str, tuple[float, float], float]:
    """(shape, half extents, radius) of a mesh's outline seen from above, in its own (world-axis) frame."""
    xy = vertices[:, :2] - 0.5 * (vertices[:, :2].min(0) + vertices[:, :2].max(0))
    half = 0.5 * (xy.max(0) - xy.min(0))
    fill = ConvexHull(xy).volume / max(4 * half[0] * half[1], 1e-12)
    radius = float(np.linalg.norm(xy, axis=1).max())
    if fill < ROUND_FOOTPRINT_FILL:
        r = float(half.min())
        return "disc", (r, r), radius
    return "box", (float(half[0]), float(half[1])), radius


def goal_region(
    goal: ReconstructedObject,
    table_height: float,
    target: ReconstructedObject | None = None,
    relation: str = "in",
) -> GoalRegion:
    """The twin's success region from the reconstructed goal: a container's interior ("volume"), a flat marking
    ("surface"), the top of a solid (``role == "support"``: "top"), or a container's rim when the target is put
    "on" it and is too wide to go in (a lid: "top"). A skill's own fixture (a shelf, a dustpan) is its own
    goal (:meth:`~physworld_core.twin.skill.SkillTwin.goal`)."""
    T = goal.pose_world
    yaw = float(np.arctan2(T[1, 0], T[0, 0]))
    centre = (float(T[0, 3]), float(T[1, 3]), table_height)
    if goal.role == "region":
        return GoalRegion(
            center=centre,
            half_extents=tuple(map(float, goal.region.half_extents)),
            yaw=yaw,
            top_z=table_height + SURFACE_REST_TOLERANCE_M,
            kind=Surface.name,
            shape=goal.region.shape,
            rgba=(*map(float, goal.rgb), 1.0),
        )
    if goal.role == "support":
        shape, half, _ = footprint(goal.vertices)
        centre_xy = T[:2, 3] + 0.5 * (goal.vertices[:, :2].min(0) + goal.vertices[:, :2].max(0))
        height = float(np.ptp(goal.vertices[:, 2]))
        return GoalRegion(
            center=(float(centre_xy[0]), float(centre_xy[1]), table_height),
            half_extents=half,
            yaw=0.0,  # an object mesh's frame has world axes
            top_z=table_height + height + 0.0005,  # build_twin rests every body 0.5 mm above the plane
            kind=Top.name,
            shape=shape,
            on=goal.name,
        )
    geom = goal.container
    if relation == "on" and target is not None:
        _, _, radius = footprint(target.vertices)
        opening = float(min(geom.inner_half))
        if radius > opening - FIT_INSIDE_CLEARANCE_M:
            # It covers the opening: its centre may wander as far as still leaves the rim under it all round.
            slack = max(radius - opening, 0.0) + 0.005
            return GoalRegion(
                center=centre,
                half_extents=(slack, slack),
                yaw=yaw,
                top_z=table_height + float(geom.wall_height),
                kind=Top.name,
                shape="disc",
            )
    return GoalRegion(
        center=centre,
        half_extents=(float(geom.inner_half[0]), float(geom.inner_half[1])),
        yaw=yaw,
        top_z=table_height + float(geom.wall_height),
    )
