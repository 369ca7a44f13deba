"""Point-cloud geometry through open3d: the one module that imports it.

The import is lazy (inside :func:`open3d_module`) because it costs about 0.6 s (0.59 s, median of three fresh
interpreters with numpy and scipy already imported) and many processes never need it: the Dagster webserver
and daemon, the video, policy, rollout and export stages, every test that never fits a plane. Callers go
through the functions here, never ``import open3d`` themselves, so the cost is paid where the geometry is
used and open3d's random generator is seeded in one place.

What comes from open3d was decided by measurement (``python -m bench.open3d_geometry``): an operation moved
here only where open3d was at least as accurate and faster than the hand-written version on the benchmark
worlds' captures and the real captures. Only the plane's RANSAC did (:mod:`~physworld_core.perception.plane`);
the registration of views (:func:`~physworld_core.reconstruction.views.register`), pixel normals
(:mod:`~physworld_core.perception.clutter`) and the fusion of views (:mod:`~physworld_core.reconstruction.
views`) stay hand-written, each docstring saying by how much open3d lost.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np


def open3d_module(seed: int | None = None) -> ModuleType:
    """The open3d module, its RANSAC generator seeded with ``seed`` when given (results repeat run to run)."""
    import open3d  # lazy: ~0.6 s at import, needed only by the geometry below (see the module docstring)

    if seed is not None:
        open3d.utility.random.seed(int(seed))
    return open3d


def point_cloud(points: np.ndarray):
    """An open3d point cloud of N×3 points (float64)."""
    o3d = open3d_module()
    return o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(points, dtype=np.float64)))


def ransac_plane(
    points: np.ndarray,
    threshold_m: float,
    max_iterations: int,
    max_tilt_deg: float,
    seed: int,
    *,
    probability: float = 0.99999999,
    batch: int = 32,
    attempts: int = 4,
) -> tuple[np.ndarray, float] | None:
    """open3d's RANSAC plane of N×3 finite points: (unit normal with positive z, offset ``normal · p``), or
    ``None`` when none of the ``attempts`` largest planes lies within ``max_tilt_deg`` of +z.

    Hypotheses are drawn in batches of ``batch`` until the standard RANSAC bound says a plane holding the
    best plane's share of the points would have been drawn with ``probability`` (open3d's own default), at
    most ``max_iterations``. open3d can stop early by itself, but its threads race to the stop, so the
    hypotheses it scores (and the plane) change from run to run; within a batch run in full
    (``probability=1``) the triples drawn depend on the seed alone. open3d returns the plane with the most
    inliers whatever its direction, so a plane tilted more than ``max_tilt_deg`` (a wall, a box side) has its
    inliers removed and the search runs again.
    """
    open3d_module(seed)
    cloud = point_cloud(points)
    for _ in range(attempts):
        total = len(cloud.points)
        if total < 3:
            break
        best, best_inliers, drawn, needed = None, [], 0, max_iterations
        while drawn < needed:
            model, inliers = cloud.segment_plane(threshold_m, 3, min(batch, needed - drawn), probability=1.0)
            drawn += min(batch, needed - drawn)
            if best is None or len(inliers) > len(best_inliers):
                best, best_inliers = model, inliers
            share = len(best_inliers) / total
            if 0 < share < 1:
                needed = min(max_iterations, math.ceil(math.log(1 - probability) / math.log(1 - share**3)))
            elif share == 1:
                needed = drawn
        normal, offset = np.asarray(best[:3], dtype=np.float64), -float(best[3])
        length = float(np.linalg.norm(normal))
        if not length > 0:  # every triple drawn was degenerate (collinear points)
            return None
        normal, offset = normal / length, offset / length
        if normal[2] < 0:
            normal, offset = -normal, -offset
        if normal[2] >= np.cos(np.deg2rad(max_tilt_deg)):
            return normal, offset
        cloud = cloud.select_by_index(best_inliers, invert=True)
    return None
