"""Antipodal grasp candidates sampled on the reconstructed mesh, for a top-down parallel gripper.

The controller keeps the hand pointing down with a fixed closing axis (``pd_ee_delta_pos``), so a grasp is
a TCP position relative to the object. Candidates are scored by how antipodal the two contacts are (surface
normals along the closing axis), how much of the gripper's width they leave free, and how close to the
object's mass centre they pinch; candidates whose fingertips would hit the table are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.errors import PhysworldError


@dataclass(frozen=True)
class GraspConfig:
    """Args:
    max_width: gripper opening (m); contacts must be closer than this minus ``clearance`` on each side.
    clearance: free space kept between each open finger and the object (m).
    table_clearance: lowest allowed TCP height above the support plane (fingertips sit at the TCP).
    finger_depth: how far below the top surface the TCP may go (m); grasps deeper are rejected.
    num_offsets, num_heights: candidate grid size.
    """

    max_width: float = 0.08
    clearance: float = 0.006
    table_clearance: float = 0.012
    finger_depth: float = 0.035
    num_offsets: int = 9
    num_heights: int = 5

    def __post_init__(self) -> None:
        if self.max_width <= 2 * self.clearance:
            raise ValueError(f"max_width {self.max_width} leaves no room after clearance {self.clearance}")
        if self.num_offsets < 1 or self.num_heights < 1:
            raise ValueError("num_offsets and num_heights must be >= 1")


@dataclass(frozen=True)
class Grasp:
    tcp_in_object: np.ndarray  # TCP position relative to the object frame origin, in world axes
    width: float
    score: float


def sample_grasps(
    vertices_world: np.ndarray,
    faces: np.ndarray,
    closing_axis: np.ndarray,
    table_height: float,
    config: GraspConfig = GraspConfig(),
) -> list[Grasp]:
    """Grasps ranked best first. ``vertices_world`` is the target mesh in world coordinates (its origin is
    taken as the object position); ``closing_axis`` the horizontal direction the fingers close along."""
    from scipy.spatial import ConvexHull

    # Parallel fingers touch the convex hull, so contacts are line-hull intersections: exact and cheap.
    hull = ConvexHull(vertices_world)
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    axis = np.asarray(closing_axis, float).copy()
    axis[2] = 0.0
    axis /= np.linalg.norm(axis)
    lateral = np.array([-axis[1], axis[0], 0.0])
    centre = vertices_world[hull.vertices].mean(0)
    top = float(vertices_world[:, 2].max())
    lateral_extent = float(np.abs((vertices_world - centre) @ lateral).max())
    heights = np.linspace(
        max(table_height + config.table_clearance, top - config.finger_depth), top - 0.008, config.num_heights
    )
    offsets_lateral = np.linspace(-0.6, 0.6, config.num_offsets) * lateral_extent
    along = normals @ axis
    grasps = []
    for z in heights:
        for s in offsets_lateral:
            p = centre + s * lateral
            p[2] = z
            # Points p + t*axis inside the hull satisfy n.(p + t a) + d <= 0 for every face.
            dist = normals @ p + offsets
            with np.errstate(divide="ignore", invalid="ignore"):
                t = -dist / along
            if np.any((np.abs(along) < 1e-9) & (dist > 0)):
                continue
            t_in = t[along < -1e-9].max(initial=-np.inf)
            t_out = t[along > 1e-9].min(initial=np.inf)
            if not np.isfinite(t_in) or not np.isfinite(t_out) or t_out <= t_in:
                continue
            width = float(t_out - t_in)
            if width > config.max_width - 2 * config.clearance:
                continue
            n_in = normals[np.argmax(np.where(along < -1e-9, t, -np.inf))]
            n_out = normals[np.argmin(np.where(along > 1e-9, t, np.inf))]
            antipodal = min(abs(float(n_in @ axis)), abs(float(n_out @ axis)))
            if antipodal < 0.5:
                continue
            tcp = p + 0.5 * (t_in + t_out) * axis
            off_centre = abs(s) / max(lateral_extent, 1e-6)
            depth = (top - z) / max(config.finger_depth, 1e-6)
            score = (
                antipodal + 0.3 * (1 - width / config.max_width) - 0.4 * off_centre + 0.2 * min(depth, 1.0)
            )
            grasps.append(Grasp(tcp_in_object=tcp, width=width, score=float(score)))
    grasps.sort(key=lambda g: -g.score)
    return grasps


def best_grasp(
    vertices_world: np.ndarray,
    faces: np.ndarray,
    object_position: np.ndarray,
    closing_axis: np.ndarray,
    table_height: float,
    config: GraspConfig = GraspConfig(),
) -> Grasp:
    grasps = sample_grasps(vertices_world, faces, closing_axis, table_height, config)
    if not grasps:
        extent = vertices_world.max(0) - vertices_world.min(0)
        raise PhysworldError(
            f"no feasible grasp: the object is {1000 * extent[0]:.0f}x{1000 * extent[1]:.0f}x{1000 * extent[2]:.0f} mm "
            f"and the gripper opens {1000 * config.max_width:.0f} mm along {np.round(closing_axis, 2).tolist()}"
        )
    g = grasps[0]
    return Grasp(tcp_in_object=g.tcp_in_object - np.asarray(object_position), width=g.width, score=g.score)
