"""Find flat markings on the table: a target drawn or taped on it ("push the cube onto the red target").

A marking has no height, so :func:`~physworld_core.perception.segment.segment_objects` (which looks for points
above the plane) cannot see it. Here a pixel belongs to a marking when its 3D point lies *on* the support plane
but its colour is far from the table's own colour distribution. Tables are often textured (wood grain), so the
table model is robust: the median colour of the on-plane pixels in CIELAB and a spread from the median
absolute deviation; grain stays within it, paint and tape do not. Patterned markings (concentric rings, a
chequered pad) are closed and hole-filled into one region, and every colour that covers a good share of it is
kept, so a prompt can say "the red and white target".

Limitations, on purpose: a marking the same colour as the table is invisible to this (as it would be to a
person); a marking partly hidden by an object keeps only its visible part's footprint, and the hidden part is
filled only when it lies inside the visible outline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from physworld_core.perception.colour import pixel_colour_names
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject, _footprint
from physworld_core.robot import PANDA, RobotSetup
from physworld_core.scene import ScenePackage, depth_to_points_world

MIN_COLOUR_DISTANCE = 22.0
"""CIELAB ΔE below which a pixel is table whatever the table's spread: ~5× the just-noticeable difference,
so lighting gradients and grain never become markings."""
SPREAD_FACTOR = 3.5
"""Robust standard deviations (1.4826 × MAD) of the table's colour distance beyond which a pixel is paint."""
NAMED_COLOUR_DISTANCE = 12.0
"""ΔE a pixel needs when its palette name is one the table itself never shows (~2.5× the noticeable step)."""
TABLE_NAME_SHARE = 0.05
"""A palette name belongs to the table when at least this share of the table's pixels carry it."""
MIN_SOLIDITY = 0.6
"""Region pixels / their convex hull's pixels: a disc or pad is near 1; a grain streak or shadow edge is not."""
MIN_SHARE = 0.15
"""A colour names the region when it covers at least this share of the region's marked pixels."""


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """N×3 sRGB in 0–255 → CIELAB (D65). Euclidean distance in Lab approximates perceived difference."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array(
        [
            [0.4124564, 0.2126729, 0.0193339],
            [0.3575761, 0.7151522, 0.1191920],
            [0.1804375, 0.0721750, 0.9503041],
        ]
    )
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def segment_regions(
    scene: ScenePackage,
    plane: Plane,
    objects: list[SceneObject] | tuple[SceneObject, ...] = (),
    *,
    first_index: int = 0,
    min_area_m2: float = 4e-4,
    robot: RobotSetup | None = PANDA,
) -> list[SceneObject]:
    """Markings on ``plane`` (shape "region"), indexed from ``first_index``, largest first.

    Args:
        objects: objects already found standing on the table; their pixels (and a 2-pixel rim, where their
            bases meet the table) are never part of a marking.
        min_area_m2: smaller marks are specks or stains (4 cm² ≈ a 2 cm square).
        robot: crops to the robot's workspace, as :func:`segment_objects` does.
    """
    height_px, width_px = scene.height, scene.width
    points_world, pixels = depth_to_points_world(scene.depth_m, scene.camera)
    heights = plane.signed_height(points_world)
    table_noise = max(0.005, 3.0 * plane.rms)
    on_plane = np.abs(heights) < table_noise
    if robot is not None:
        on_plane &= robot.in_workspace(points_world)
    occupied = np.zeros((height_px, width_px), bool)
    for obj in objects:
        occupied |= obj.mask
    occupied = ndimage.binary_dilation(occupied, iterations=2)
    on_plane &= ~occupied[pixels[:, 0], pixels[:, 1]]
    if on_plane.sum() < 50:
        return []
    rows, cols = pixels[on_plane, 0], pixels[on_plane, 1]
    table = np.zeros((height_px, width_px), bool)
    table[rows, cols] = True
    lab = srgb_to_lab(scene.rgb[rows, cols])
    names = pixel_colour_names(scene.rgb[rows, cols])
    # Two passes: the first finds the markings that stand out against the whole on-plane colour distribution;
    # the second re-learns the table without them, so a big marking cannot make its own colour (the red of a
    # red and white target filling a fifth of the table) count as a table colour.
    excluded = np.zeros(len(rows), bool)
    for _ in range(2):
        marked = _paint(lab, names, excluded, rows, cols, (height_px, width_px))
        closed = ndimage.binary_closing(marked, structure=np.ones((3, 3)), iterations=2)
        filled = ndimage.binary_fill_holes(closed) & table
        labels, count = ndimage.label(filled)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        big = np.isin(labels, np.nonzero(sizes >= 20)[0][1:]) if count else np.zeros_like(table)
        excluded = ndimage.binary_dilation(big, iterations=2)[rows, cols]
    grid = np.full((height_px, width_px, 3), np.nan)
    grid[pixels[:, 0], pixels[:, 1]] = points_world
    found = []
    for label in range(1, count + 1):
        mask = labels == label
        region_points = grid[mask]
        footprint = _footprint(plane.to_plane_coords(region_points)[:, :2])
        if footprint is None:
            continue
        hull, centre_uv, (length, width), yaw, roundness = footprint
        area = float(hull.volume)
        if area < min_area_m2:
            continue
        if _image_solidity(mask) < MIN_SOLIDITY:
            continue
        paint = mask & marked
        values, counts = np.unique(pixel_colour_names(scene.rgb[paint]), return_counts=True)
        order = np.argsort(-counts)
        colours = tuple(str(values[i]) for i in order if counts[i] >= MIN_SHARE * counts.sum())
        mean_rgb = scene.rgb[paint].astype(np.float64).mean(axis=0)
        centre = plane.from_plane_coords(np.array([[centre_uv[0], centre_uv[1], 0.0]]))[0]
        r, c = np.nonzero(mask)
        found.append(
            {
                "mask": mask,
                "pixels": np.stack([r, c], 1),
                "points_world": region_points,
                "mean_rgb": tuple(mean_rgb),
                "colour": colours[0],
                "colours": colours,
                "shape": "region",
                "centre_world": tuple(centre),
                "top_height": 0.0,
                "extents": (length, width, 0.0),
                "yaw": yaw,
                "roundness": roundness,
                "area": area,
            }
        )
    found.sort(key=lambda f: -f.pop("area"))
    return [SceneObject(index=first_index + i, **fields) for i, fields in enumerate(found)]


def _paint(lab, names, excluded, rows, cols, shape) -> np.ndarray:
    """H×W mask of on-plane pixels whose colour is not the table's, the table being modelled from the pixels
    not ``excluded``.

    A pixel is paint when its ΔE from the table's median colour is past the table's own robust spread, or
    when its palette name is one the table never shows (red on orange wood) and it is a little apart: a
    person sees a colour change of name even when it is within the grain's range of ΔE."""
    table_lab, table_names = lab[~excluded], names[~excluded]
    if len(table_lab) < 50:
        table_lab, table_names = lab, names
    median = np.median(table_lab, axis=0)
    distance = np.linalg.norm(lab - median, axis=1)
    table_distance = np.linalg.norm(table_lab - median, axis=1)
    spread = 1.4826 * np.median(np.abs(table_distance - np.median(table_distance)))
    threshold = max(MIN_COLOUR_DISTANCE, float(np.median(table_distance)) + SPREAD_FACTOR * spread)
    values, counts = np.unique(table_names, return_counts=True)
    own = values[counts >= TABLE_NAME_SHARE * len(table_names)]
    paint = (distance > threshold) | (~np.isin(names, own) & (distance > NAMED_COLOUR_DISTANCE))
    marked = np.zeros(shape, bool)
    marked[rows[paint], cols[paint]] = True
    return marked


def _image_solidity(mask: np.ndarray) -> float:
    """Mask area / its convex hull's area, in the image (a perspective view keeps a convex shape convex)."""
    rows, cols = np.nonzero(mask)
    if len(rows) < 3:
        return 0.0
    try:
        hull = ConvexHull(np.stack([rows, cols], 1).astype(np.float64))
    except QhullError:
        return 0.0
    return float(len(rows) / max(hull.volume, 1.0))
