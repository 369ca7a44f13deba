"""Where an object's footprint has an arm: a narrow part sticking out sideways from its body (a pan's handle).

Why: one convex hull of a pan and its handle is a fan from the rim to the handle's tip, 15-25 cm wide, which
no parallel gripper can hold, although the handle is made to be held; and the half turn that completes the
unseen back of a round body (``geometry.mirror_points``) would grow a second handle on the other side. Seen
from above, a morphological opening of the footprint with a disc a little wider than a handle keeps the body
and removes the arm; what it removes, where it is long and narrow, is the arm. The body is then completed
as before (mirrored, layered), and the arm from its own points: extruded down by its own seen thickness, not
to the table, because a handle is held off the table by the body it sticks out of.

A box, a can or a shoe loses only small rounded corners to the opening; these are neither long nor a good
share of the hull's area, so such objects stay one body, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class ArmConfig:
    """Args:
    cell: footprint raster resolution (m).
    opening_radius: radius of the disc the footprint is opened with (m): an arm narrower than its diameter
        is removed, a body wider than it stays. 2 cm: handles are 1.5-3 cm wide, bodies a gripper cannot
        span are over 8 cm.
    min_length: an arm reaches at least this far out of the body (m): shorter is a rounded corner, noise or
        a strip along the body's own outline.
    max_width: an arm is at most this wide (m): wider is part of the body seen at an angle.
    min_body_area: the body keeps at least this share of the footprint (an object that is all arm, a thin
        bar, is one body).
    min_points: fewer points than this on an arm are noise.
    min_thickness, max_thickness: clip of the arm's thickness as seen (m): a handle seen only from above
        shows no side, and one seen edge-on can look as deep as the body.
    """

    cell: float = 0.003
    opening_radius: float = 0.02
    min_length: float = 0.04
    max_width: float = 0.045
    min_body_area: float = 0.3
    min_points: int = 12
    min_thickness: float = 0.008
    max_thickness: float = 0.04

    def __post_init__(self) -> None:
        if self.cell <= 0 or self.opening_radius < 2 * self.cell:
            raise ValueError(f"cell {self.cell} must be positive and opening_radius at least two cells")
        if self.min_length <= 0 or self.max_width <= 0:
            raise ValueError("min_length and max_width must be positive")
        if not 0 < self.min_body_area < 1:
            raise ValueError(f"min_body_area must be in (0, 1), got {self.min_body_area}")
        if not 0 < self.min_thickness <= self.max_thickness:
            raise ValueError("need 0 < min_thickness <= max_thickness")


def _disc(radius_cells: int) -> np.ndarray:
    r = np.arange(-radius_cells, radius_cells + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius_cells**2


def _footprint(xy: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupancy raster of the points' footprint, each point splatted as a disc of the points' spacing (so a
    sparse scan is one connected area), each point's cell and the raster's origin."""
    # The third neighbour's distance: points can come in near-duplicate pairs (two video samples' first
    # frames), which would make the nearest neighbour's distance say nothing of the scan's spacing.
    spacing = float(np.median(cKDTree(xy).query(xy, k=4)[0][:, 3])) if len(xy) > 4 else cell
    splat = max(1, int(np.ceil(spacing / cell)))
    origin = xy.min(0) - (splat + 2) * cell
    ij = np.floor((xy - origin) / cell).astype(int)
    grid = np.zeros(ij.max(0) + splat + 3, dtype=bool)
    grid[ij[:, 0], ij[:, 1]] = True
    grid = ndimage.binary_dilation(grid, _disc(splat))
    grid = ndimage.binary_erosion(grid, _disc(max(1, splat - 1)), border_value=0)
    return grid, ij, origin


def arm_labels(points: np.ndarray, config: ArmConfig = ArmConfig()) -> np.ndarray:
    """Per point: 0 for the body, k >= 1 for the k-th arm. All zeros when the footprint has no arm.

    ``points`` are an object's seen surface points, z up. The footprint is closed and filled first (see
    :func:`_star_fill`): one view sees a pan's rim but little of its floor, and the body is what the rim
    encloses."""
    pts = np.asarray(points, float)
    labels = np.zeros(len(pts), dtype=np.int64)
    if len(pts) < 2 * config.min_points:
        return labels
    grid, ij, _ = _footprint(pts[:, :2], config.cell)
    radius = round(config.opening_radius / config.cell)
    pad = 2 * radius
    grid = np.pad(grid, pad)
    ij = ij + pad
    grid = ndimage.binary_fill_holes(ndimage.binary_closing(grid, _disc(radius // 2 + 1)) | _star_fill(grid))
    body = ndimage.binary_opening(grid, _disc(radius))
    if body.sum() < config.min_body_area * grid.sum():
        return labels
    # Cells within a few cells of the body belong to it: the opening shaves the body's own outline too.
    near_body = ndimage.binary_dilation(body, _disc(2))
    out_of_body = ndimage.distance_transform_edt(~body) * config.cell
    pieces, count = ndimage.label(grid & ~near_body)
    point_piece = pieces[ij[:, 0], ij[:, 1]]
    arm = 0
    for piece in range(1, count + 1):
        mine = point_piece == piece
        reach = float(out_of_body[pieces == piece].max())
        if mine.sum() < config.min_points or reach < config.min_length or not _narrow(pts[mine, :2], config):
            continue
        arm += 1
        labels[mine] = arm
    return labels


def _star_fill(grid: np.ndarray, sectors: int = 36) -> np.ndarray:
    """The footprint's interior as seen from its median cell: in each direction, out to the nearest occupied
    cells (their 10th percentile of distance; a direction with none takes its neighbours').

    Why: from one view a pan shows its rim but not always its floor (a floor a few millimetres above the table
    is table to the segmentation), and a rim seen at 128 pixels has gaps several centimetres wide, which no
    morphological closing bridges without also filling the inside of the ring's gap-free neighbours. Reaching
    only to the nearest cells, the fill stays inside what was seen and never follows a handle outwards."""
    cells = np.argwhere(grid).astype(float)
    if len(cells) < sectors:
        return np.zeros_like(grid)
    centre = np.median(cells, axis=0)
    offsets = cells - centre
    sector = ((np.arctan2(offsets[:, 1], offsets[:, 0]) + np.pi) / (2 * np.pi) * sectors).astype(
        int
    ) % sectors
    distance = np.hypot(offsets[:, 0], offsets[:, 1])
    reach = np.full(sectors, np.nan)
    for k in np.unique(sector):
        reach[k] = np.percentile(distance[sector == k], 10)
    seen = np.isfinite(reach)
    if seen.sum() < sectors // 2:  # the centre is off to one side: not an enclosed footprint
        return np.zeros_like(grid)
    index = np.arange(sectors)
    reach = np.interp(index, index[seen], reach[seen], period=sectors)
    rows, cols = np.indices(grid.shape)
    dr, dc = rows - centre[0], cols - centre[1]
    cell_sector = ((np.arctan2(dc, dr) + np.pi) / (2 * np.pi) * sectors).astype(int) % sectors
    return np.hypot(dr, dc) <= reach[cell_sector]


def _narrow(xy: np.ndarray, config: ArmConfig) -> bool:
    """Narrow across its own main axis, and longer than wide."""
    centred = xy - xy.mean(0)
    _, axes = np.linalg.eigh(np.cov(centred.T))
    along, across = centred @ axes[:, 1], centred @ axes[:, 0]
    length = np.percentile(along, 98) - np.percentile(along, 2)
    width = np.percentile(across, 98) - np.percentile(across, 2)
    return bool(width <= config.max_width and length >= 1.5 * width)


def arm_underside(points: np.ndarray, config: ArmConfig = ArmConfig()) -> np.ndarray:
    """Per point of an arm, the height of the arm's underside below it.

    The arm is cut into 1 cm slices along its length (a tilted handle rises along it, so one underside for the
    whole arm would be its rise, not its thickness). A slice whose side the camera saw reaches down to the
    underside; one seen only from above shows no thickness, and gets ``min_thickness``. No slice is thicker
    than ``max_thickness`` (an arm seen edge-on can look as deep as the body behind it)."""
    pts = np.asarray(points, float)
    centred = pts[:, :2] - pts[:, :2].mean(0)
    _, axes = np.linalg.eigh(np.cov(centred.T))
    along = centred @ axes[:, 1]
    slices = np.floor((along - along.min()) / 0.01).astype(int)
    underside = np.empty(len(pts))
    for s in np.unique(slices):
        mine = slices == s
        top, low = pts[mine, 2].max(), pts[mine, 2].min()
        underside[mine] = np.clip(low, top - config.max_thickness, top - config.min_thickness)
    return underside
