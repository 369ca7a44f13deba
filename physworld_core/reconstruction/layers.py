"""Where to cut an object into layers: a protrusion standing up from its top (a knob, a stem) as its own part.

Why: one convex hull of a lid with a knob is a cone from the rim to the knob's top. It fills air the real
lid does not, and no two of its faces are both steep and close enough for a parallel gripper, so the lid
cannot be grasped in the plan although its knob is made to be held. Seen from above, the footprint of an
object's points above a height z shrinks slowly over a box, a can, a shoe or a dome, but drops at once where
the body ends and a narrow protrusion goes on. The object is cut there into layers, bottom up; each layer is
the convex hull of its points extruded down onto the top of the layer below (the lowest onto the table), and
the object is the union of those hulls (see ``geometry.object_mesh``). A cut is kept only when it carves a
good share of the single hull's volume away, so an object without such a step stays one hull, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError


@dataclass(frozen=True)
class LayerConfig:
    """Args:
    step: height resolution of the footprint profile (m).
    window: height over which the footprint must drop for a cut (m): a dome's or a shoulder's gentle slope
        drops less over it, a ledge drops all at once.
    max_area_ratio: footprint above a cut / footprint ``window`` below it, at most (0.5: it halves).
    min_layer_height: a protrusion shorter than this stays in the hull (m): too short to hold, and within a
        sensor's noise of a flat top.
    min_layer_points: fewer points than this on either side of a cut are noise, not a part (the points are
        the mirrored completion: half of them were seen).
    min_volume_gain: single hull volume / layered volume, at least: the cut must carve real air away (a lid
        with a knob: 1.5-1.9; a jar's shoulder or a pan's raised handle: under 1.2).
    """

    step: float = 0.001
    window: float = 0.002
    max_area_ratio: float = 0.5
    min_layer_height: float = 0.01
    min_layer_points: int = 16
    min_volume_gain: float = 1.3

    def __post_init__(self) -> None:
        if self.step <= 0 or self.window < self.step:
            raise ValueError(f"step {self.step} must be positive and window {self.window} at least the step")
        if not 0 < self.max_area_ratio < 1:
            raise ValueError(f"max_area_ratio must be in (0, 1), got {self.max_area_ratio}")
        if self.min_layer_height <= 0 or self.min_layer_points < 4:
            raise ValueError("min_layer_height must be positive and min_layer_points at least 4")
        if self.min_volume_gain <= 1:
            raise ValueError(f"min_volume_gain must exceed 1, got {self.min_volume_gain}")


def _areas_above(points: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Footprint area of the points at or above each of the increasing ``levels``: the area of their bounding
    rectangle along the footprint's principal axes. It halves where a hull's area does, and all levels cost
    one sort (a 2-D hull per level costs a tenth of a millisecond each)."""
    xy = points[:, :2] - points[:, :2].mean(0)
    _, axes = np.linalg.eigh(np.cov(xy.T))
    uv = xy @ axes
    order = np.argsort(-points[:, 2])  # top down
    extent = np.maximum.accumulate(uv[order], axis=0) - np.minimum.accumulate(uv[order], axis=0)
    areas = extent[:, 0] * extent[:, 1]
    count = len(points) - np.searchsorted(np.sort(points[:, 2]), levels)  # points at or above each level
    return np.where(count > 0, areas[np.maximum(count, 1) - 1], 0.0)


def _prism_volume(points: np.ndarray, floor: float) -> float:
    """Volume of the convex hull of ``points`` extruded down to height ``floor``."""
    try:
        base = points[ConvexHull(points[:, :2]).vertices]  # the footprint's corners: all the shadow adds
        base[:, 2] = floor
        return float(ConvexHull(np.concatenate([points, base])).volume)
    except QhullError:  # flat or a line: no volume to save
        return 0.0


def _best_cut(points: np.ndarray, floor: float, config: LayerConfig) -> float | None:
    """The height at which to cut ``points`` (resting on ``floor``) into a body and what stands on it."""
    z = points[:, 2]
    levels = np.arange(floor, float(z.max()) - config.min_layer_height + 1e-9, config.step)
    lag = round(config.window / config.step)
    if len(levels) <= lag:
        return None
    areas = _areas_above(points, levels)
    above = len(z) - np.searchsorted(np.sort(z), levels[lag:])
    enough = (above >= config.min_layer_points) & (len(z) - above >= config.min_layer_points)
    sharp = (areas[lag:] <= config.max_area_ratio * areas[:-lag]) & enough
    if not sharp.any():
        return None
    # A dome's slope just before the protrusion drops sharply too. A run of sharp levels ends ``lag - 1``
    # steps after the footprint has shrunk to the protrusion's own, so only its last ``lag`` levels count.
    run_end = sharp & ~np.append(sharp[1:], False)
    near_end = np.convolve(run_end[::-1].astype(int), np.ones(lag, int))[: len(sharp)][::-1] > 0
    cuts = levels[lag:][sharp & near_end]

    def layered_volume(level: float) -> float:
        below, above = points[z < level], points[z >= level]
        return _prism_volume(below, floor) + _prism_volume(above, float(below[:, 2].max()))

    volumes = [layered_volume(level) for level in cuts]
    best = int(np.argmin(volumes))
    if _prism_volume(points, floor) < config.min_volume_gain * volumes[best]:
        return None
    return float(cuts[best])


def layer_cuts(points: np.ndarray, floor: float, config: LayerConfig = LayerConfig()) -> list[float]:
    """Heights at which to cut the object into layers, bottom up; empty when nothing stands up from its top.

    ``points`` are the object's (completed) surface points with z up, ``floor`` the height it rests on. A
    layer's points are those from its cut up to the next; it rests on the highest point of the layer below.
    """
    points = np.asarray(points, float)
    cuts = []
    while (cut := _best_cut(points, floor, config)) is not None:
        cuts.append(cut)
        floor = float(points[points[:, 2] < cut, 2].max())
        points = points[points[:, 2] >= cut]
    return cuts
