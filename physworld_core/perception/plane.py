"""The support plane: the table every object stands on.

Everything downstream measures relative to it: what is "above the table" is an object, an object's height is
its distance from the plane, a trajectory lifts along its normal. The plane is fitted, never assumed (a user's
table is not at z = 0 and may be slightly tilted in their calibration), with RANSAC because object surfaces
are outliers and then a least-squares refine on the inliers because RANSAC alone is only as good as its three
best points.

The RANSAC is numpy, not open3d's ``segment_plane``, by measurement (``python -m bench.open3d_geometry``, same
sample, same refine). open3d finds the same planes (benchmark captures, 11 families × 4 seeds × 2 sensors:
normal error median 0.034°, height error median 1.1 mm, both; the real captures with a labelled table: 0.003°,
0.01 mm, both) and, drawing hypotheses in seeded batches until the standard bound (p = 1 − 1e-8) says the
table was drawn, fits a benchmark capture 2.3-2.5× faster (11 ms against 26 ms). But importing open3d costs
0.6-0.9 s (1.6 s on a loaded machine), paid by every process that fits a plane, for about 15-20 ms saved a
plane: a process would need some 30-80 planes to gain, and perceiving one benchmark scene in a fresh process
took 850 ms instead of 120 ms. On the five real captures at the calibration's settings (10 mm, a 75° gate)
it is slower (0.89×): a table holding half the points needs about 180 hypotheses, and open3d scores one in
0.25 ms against numpy's 0.1 ms. open3d's own early stop is faster, but its threads race to it: the plane of
one real capture changed between runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.errors import SceneError
from physworld_core.scene import ScenePackage, depth_to_points_world

MIN_PLANE_POINTS = 50
MIN_INLIER_FRACTION = 0.1
"""Below this the "plane" is a coincidence of a few points, not a table."""


@dataclass(frozen=True)
class Plane:
    """The plane ``{p : normal · p = offset}`` with ``normal`` pointing up (towards +z).

    Args:
        normal: unit normal, oriented so its z component is positive (the side objects stand on).
        offset: signed distance of the plane from the world origin along ``normal`` (≈ table height for a
            horizontal table).
        rms: root-mean-square distance of the inliers from the plane, metres (sensor noise + table flatness).
        inlier_fraction: share of the fitted points within the inlier threshold, in [0, 1].
    """

    normal: tuple[float, float, float]
    offset: float
    rms: float
    inlier_fraction: float

    def __post_init__(self) -> None:
        normal = np.asarray(self.normal, dtype=np.float64)
        if normal.shape != (3,) or not np.all(np.isfinite(normal)):
            raise ValueError(f"Plane.normal must be 3 finite numbers, got {self.normal!r}")
        length = float(np.linalg.norm(normal))
        if abs(length - 1.0) > 1e-6:
            raise ValueError(f"Plane.normal must be a unit vector, has length {length:.6f}")
        if normal[2] <= 0:
            raise ValueError(f"Plane.normal must point up (positive z), got {tuple(normal)}")
        if not np.isfinite(self.offset):
            raise ValueError(f"Plane.offset must be finite, got {self.offset!r}")
        if not (np.isfinite(self.rms) and self.rms >= 0):
            raise ValueError(f"Plane.rms must be a non-negative number, got {self.rms!r}")
        if not 0.0 <= self.inlier_fraction <= 1.0:
            raise ValueError(f"Plane.inlier_fraction must lie in [0, 1], got {self.inlier_fraction!r}")
        object.__setattr__(self, "normal", tuple(float(v) for v in normal))
        object.__setattr__(self, "offset", float(self.offset))

    @property
    def normal_array(self) -> np.ndarray:
        return np.asarray(self.normal, dtype=np.float64)

    @property
    def origin(self) -> np.ndarray:
        """The point of the plane closest to the world origin."""
        return self.normal_array * self.offset

    def signed_height(self, points_world: np.ndarray) -> np.ndarray:
        """Distance of each of N×3 points above (positive) or below (negative) the plane."""
        points = np.asarray(points_world, dtype=np.float64)
        return points @ self.normal_array - self.offset

    def basis(self) -> np.ndarray:
        """3×3 rows (e1, e2, normal): an in-plane frame whose e1 is world x projected onto the plane.

        Footprints, yaws and extents are measured in this frame, so a tilted calibration does not skew them,
        while for a level table e1/e2 are world x/y and yaw reads as a world yaw.
        """
        n = self.normal_array
        reference = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        e1 = reference - (reference @ n) * n
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        return np.stack([e1, e2, n])

    def to_plane_coords(self, points_world: np.ndarray) -> np.ndarray:
        """N×3 world points → N×3 (u, v, height) in :meth:`basis` coordinates about :attr:`origin`."""
        return (np.asarray(points_world, dtype=np.float64) - self.origin) @ self.basis().T

    def from_plane_coords(self, uvh: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_plane_coords`."""
        return np.asarray(uvh, dtype=np.float64) @ self.basis() + self.origin

    def intersect_rays(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Ray parameter t (``origin + t·direction`` on the plane) per ray; ``inf`` for rays that miss."""
        n = self.normal_array
        directions = np.asarray(directions, dtype=np.float64)
        denom = directions @ n
        numer = self.offset - np.asarray(origins, dtype=np.float64) @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = numer / denom
        return np.where((np.abs(denom) > 1e-12) & (t > 0), t, np.inf)

    def to_dict(self) -> dict:
        return {
            "normal": list(self.normal),
            "offset": self.offset,
            "rms": self.rms,
            "inlier_fraction": self.inlier_fraction,
        }


def fit_plane(
    points_world: np.ndarray,
    *,
    inlier_threshold_m: float = 0.005,
    iterations: int = 256,
    max_tilt_deg: float = 30.0,
    max_ransac_points: int = 20000,
    refine_steps: int = 3,
    seed: int = 0,
) -> Plane:
    """Fit the dominant roughly-horizontal plane of N×3 world points.

    RANSAC hypotheses whose normal is more than ``max_tilt_deg`` from world up are discarded: the table is
    the support surface under gravity, and without this gate a large box side or bin wall could win.

    Raises:
        SceneError: too few valid points, or no plane holds at least 10% of them.
    """
    if inlier_threshold_m <= 0:
        raise ValueError(f"inlier_threshold_m must be positive, got {inlier_threshold_m}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    points = np.asarray(points_world, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"fit_plane expects N×3 points, got shape {points.shape}")
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) < MIN_PLANE_POINTS:
        raise SceneError(
            f"only {len(points)} valid depth points; at least {MIN_PLANE_POINTS} are needed to find the table"
        )
    rng = np.random.default_rng(seed)
    sample = points
    if len(points) > max_ransac_points:
        sample = points[rng.choice(len(points), max_ransac_points, replace=False)]

    # Hypotheses from random triples, all at once.
    triples = sample[rng.integers(0, len(sample), size=(iterations, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    usable = lengths > 1e-12
    normals = normals[usable] / lengths[usable, None]
    normals *= np.where(normals[:, 2] < 0, -1.0, 1.0)[:, None]
    level = normals[:, 2] >= np.cos(np.deg2rad(max_tilt_deg))
    normals = normals[level]
    offsets = np.einsum("ij,ij->i", normals, triples[usable][level, 0])
    if len(normals) == 0:
        raise SceneError(
            f"no roughly horizontal plane (within {max_tilt_deg:.0f} deg of world up) found in the depth; "
            "is camera.cam_to_world expressed in a z-up world frame?"
        )
    counts = np.zeros(len(normals), dtype=np.int64)
    for start in range(0, len(normals), 64):  # chunks keep the residual matrix small
        block = np.abs(sample @ normals[start : start + 64].T - offsets[start : start + 64])
        counts[start : start + 64] = (block < inlier_threshold_m).sum(axis=0)
    best = int(np.argmax(counts))
    normal, offset = normals[best], float(offsets[best])

    inliers = np.abs(points @ normal - offset) < inlier_threshold_m
    for _ in range(refine_steps):
        if inliers.sum() < 3:
            break
        normal, offset = _least_squares_plane(points[inliers])
        inliers = np.abs(points @ normal - offset) < inlier_threshold_m
    fraction = float(inliers.mean())
    if fraction < MIN_INLIER_FRACTION or inliers.sum() < MIN_PLANE_POINTS:
        raise SceneError(
            f"no support plane: the best horizontal plane holds only {100 * fraction:.1f}% of the depth points "
            f"(need {100 * MIN_INLIER_FRACTION:.0f}%); the table must be visible in the depth image"
        )
    residuals = points[inliers] @ normal - offset
    return Plane(
        normal=tuple(normal),
        offset=offset,
        rms=float(np.sqrt(np.mean(residuals**2))),
        inlier_fraction=fraction,
    )


def _least_squares_plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Total-least-squares plane through points: the smallest principal axis is the normal."""
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1]
    if normal[2] < 0:
        normal = -normal
    normal = normal / np.linalg.norm(normal)
    return normal, float(normal @ centroid)


def fit_support_plane(scene: ScenePackage, **kwargs) -> Plane:
    """Fit the table plane of a scene package from its depth image (see :func:`fit_plane` for kwargs)."""
    points_world, _ = depth_to_points_world(scene.depth_m, scene.camera)
    return fit_plane(points_world, **kwargs)
