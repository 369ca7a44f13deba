"""The sweep skill's scene, as one view sees it: the brush (head, handle, which way it faces), the dustpan
(mouth, which way is in, how big) and the scraps lying in front of it.

Why this exists: to sweep, the video must lift the brush by its handle, put its head down behind the farthest
scrap, facing into the pan, and push along the lane until the head is inside the pan; the reconstruction and the
twin need the same brush, pan and scraps. Segmentation finds the brush and the pan as objects, but not the
scraps: at the benchmark camera's 6.5 mm pixels a scrap is two to four pixels across, below its noise floor.
This module measures the three as what the skill needs.

- The brush is a T: a wide head and a narrow handle behind it. Its facing (handle → head) is the direction
  along which the width of its footprint steps from narrow (the handle) to wide (the head) at the front: of all
  directions (1° apart), the one whose per-slice footprint widths (slices one pixel thick) are best fitted by
  a wide front run and a narrow rest, counting also the area the slices span (a T sliced along its own axes
  spans exactly its area, sliced askew it fills its corners). The head is then the points beside the
  handle's band, the handle the points behind the head.
- The dustpan's mouth faces away from its back wall: of the four sides of its footprint rectangle, the back
  is the one whose band of points stands highest compared with the opposite side's. The mouth is where its
  side walls begin (the front of its points higher than the floor); the lip is the pan-coloured ramp in front
  of it (table-height pixels the pan's colour rather than the table's). Inner width and floor height come from
  the floor seen between the walls.
- The scraps are found in the height map, not among the segmented objects: pixels at least
  :data:`SCRAP_MIN_HEIGHT_M` above the table, in the lane in front of the mouth (as wide as the pan plus
  :data:`LANE_MARGIN_M` each side), outside the brush and the pan; 8-connected pieces, split where their pixels
  name different palette colours. A scrap the dustpan's colour (the world never samples one: scraps take
  palette hues, dustpans neutral colours) is still found: the pan's own pixels are taken by colour only below
  scrap height, and only where they join its walls.

A point's pixel is a footprint about one pixel wide, and points are pixel centres, so the span of a part's
points reads about one pixel short: every extent here adds one pixel footprint (half at each end).

Accuracy on the sweep benchmark's seeds 0–7 (128×128 renders, 6.5–7 mm pixels), against the world's truth,
largest error over the seeds (mean signed error in brackets): brush facing 4.4° (−0.2°), head centre 8.7 mm
(4.9 mm; this includes the brush's reset jitter of a few millimetres, which the truth does not know), head
width 3.1 mm (+0.8), head depth 5.6 mm (+1.3), head height 3.6 mm (+0.6), handle length 3.4 mm (−0.9), handle
width 3.8 mm (+1.2), handle height 0.3 mm; dustpan mouth 3.2 mm (2.2), into-pan direction 0.8° (+0.1°), inner
width 0.9 mm, depth 3.1 mm (+1.6), wall height 0.2 mm, floor height 0.4 mm, lip length 11.2 mm (−1.5: a brown
lip on brown wood is hardly told from the table, seeds 4 and 5; elsewhere ≤ 2.8 mm); scrap count exact on 8 of
8 (3–6 scraps each), every true scrap within 10.9 mm of a seen one (8.0 mm mean of the worst per seed,
jitter included).

Heights are measured above the support plane; points and directions are in the world frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from physworld_core.errors import GroundingError
from physworld_core.perception.colour import colour_name, colour_similarity
from physworld_core.perception.grounding import Grounding
from physworld_core.perception.language import Instruction
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject
from physworld_core.perception.skill import SkillPerception
from physworld_core.scene import ScenePackage, depth_to_points_world
from physworld_core.skills.registry import skill_of

SCRAP_MIN_HEIGHT_M = 0.005
"""A pixel this far above the table (outside the brush and the pan) is part of a scrap."""

LANE_MARGIN_M = 0.03
"""Scraps are looked for this far beyond the pan's outer width on each side of the lane in front of it."""

LANE_LENGTH_M = 0.3
"""... and up to this far in front of its mouth."""

MIN_SCRAP_PIXELS = 2
"""Pieces of fewer pixels are specks, not scraps."""

MIN_HEAD_CONTRAST_M = 0.015
"""A brush's head is at least this much wider than its handle (else it shows no head and handle)."""

LOW_PART_MIN_HEIGHT_M = 0.0015
"""A pixel beside the dustpan this far above the table, though the table's colour, is its lip or floor."""

SCRAP_CORE_HEIGHT_M = 0.008
"""Scraps (14–22 mm tall in the benchmark) are told apart by their pixels at least this high: two scraps a
pixel apart in the image are joined only through the low feet of their sides, which then join the piece they
touch."""

SCRAP_CHROMA_SPLIT = 0.08
"""Neighbouring pixels of a raised piece whose chromaticities (r, g, b) / (r + g + b) differ by more than this
belong to different scraps (touching scraps of different colours). Chromaticity, not colour: a scrap's shaded
side has its top's hue (a lit and a shaded face of an orange scrap: 0.01 apart)."""

MAX_HANDLE_FRACTION = 0.6
"""A handle is at most this share of its head's width (hand brushes: a quarter to a third); a block, or a box
seen askew, whose narrower part is wider is no brush."""

BACK_BAND_M = 0.015
"""The dustpan's back wall is measured on its points within this distance of its back."""


@dataclass(frozen=True, eq=False)
class ScrapView:
    """One scrap as seen.

    Args:
        centre: (3,) world point of its footprint centre, on the table.
        half_size: (3,) half extents along its own x, y (its footprint rectangle, x the longer side, turned by
            ``yaw``) and its half height.
        yaw: angle of its x axis from world x about the table normal, radians in (-π/2, π/2].
        rgb: (3,) its mean colour, 0–255.
        points: N×3 world points seen on it.
    """

    centre: np.ndarray
    half_size: np.ndarray
    yaw: float
    rgb: np.ndarray
    points: np.ndarray

    def __post_init__(self) -> None:
        for name, size in (("centre", 3), ("half_size", 3), ("rgb", 3)):
            value = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            if value.shape != (size,) or not np.all(np.isfinite(value)):
                raise ValueError(
                    f"ScrapView.{name} must be {size} finite numbers, got {getattr(self, name)!r}"
                )
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if not np.all(self.half_size > 0):
            raise ValueError(f"ScrapView.half_size must be positive, got {self.half_size!r}")
        points = np.asarray(self.points, dtype=np.float64).reshape(-1, 3)
        if len(points) == 0 or not np.all(np.isfinite(points)):
            raise ValueError("ScrapView.points must be a non-empty N×3 finite array")
        points.setflags(write=False)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "yaw", float(self.yaw))

    def to_dict(self) -> dict:
        return {
            "centre": self.centre.tolist(),
            "half_size": self.half_size.tolist(),
            "yaw": self.yaw,
            "rgb": self.rgb.tolist(),
            "point_count": len(self.points),
        }


@dataclass(frozen=True, eq=False)
class SweepView:
    """The brush, the dustpan and the scraps, as seen (world frame, metres; "on the table": on the plane).

    Args:
        head_centre: (3,) centre of the brush head's footprint, on the table.
        facing: (2,) world xy unit vector from the handle towards the head.
        head_width: the head's extent across ``facing``.
        head_depth: the head's extent along ``facing``.
        head_height: the head's top above the table.
        handle_length: the handle's extent along ``facing``, from the head's back to its end.
        handle_width: the handle's extent across ``facing``.
        handle_height: the handle's top above the table.
        mouth: (3,) the middle of the dustpan's mouth (where its lip meets its floor), on the table.
        into_pan: (2,) world xy unit vector from the mouth into the pan, towards its back wall.
        pan_inner_width: between its side walls.
        pan_depth: from the mouth to the inside of the back wall.
        pan_wall_height: the back wall's top above the table.
        pan_floor_height: the top of its floor above the table.
        pan_lip_length: the ramp in front of the mouth, along ``into_pan``.
        scraps: what lies in front of the mouth to be swept, nearest the mouth first.
    """

    head_centre: np.ndarray
    facing: np.ndarray
    head_width: float
    head_depth: float
    head_height: float
    handle_length: float
    handle_width: float
    handle_height: float
    mouth: np.ndarray
    into_pan: np.ndarray
    pan_inner_width: float
    pan_depth: float
    pan_wall_height: float
    pan_floor_height: float
    pan_lip_length: float
    scraps: tuple[ScrapView, ...]

    def __post_init__(self) -> None:
        for name, size in (("head_centre", 3), ("mouth", 3), ("facing", 2), ("into_pan", 2)):
            value = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            if value.shape != (size,) or not np.all(np.isfinite(value)):
                raise ValueError(
                    f"SweepView.{name} must be {size} finite numbers, got {getattr(self, name)!r}"
                )
            if size == 2 and abs(np.linalg.norm(value) - 1.0) > 1e-6:
                raise ValueError(f"SweepView.{name} must be a unit vector, got {value.tolist()}")
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        for name in _SIZES:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"SweepView.{name} must be positive, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not self.pan_floor_height < self.pan_wall_height:
            raise ValueError(
                f"SweepView.pan_floor_height ({self.pan_floor_height}) must lie below its wall height "
                f"({self.pan_wall_height})"
            )
        object.__setattr__(self, "scraps", tuple(self.scraps))
        if not self.scraps or not all(isinstance(s, ScrapView) for s in self.scraps):
            raise ValueError("SweepView.scraps must be one or more ScrapView")

    def to_dict(self) -> dict:
        """JSON-friendly: vectors as lists, each scrap without its points (their count instead)."""
        return {
            "head_centre": self.head_centre.tolist(),
            "facing": self.facing.tolist(),
            **{name: getattr(self, name) for name in _SIZES},
            "mouth": self.mouth.tolist(),
            "into_pan": self.into_pan.tolist(),
            "scraps": [s.to_dict() for s in self.scraps],
        }


_SIZES = (
    "head_width",
    "head_depth",
    "head_height",
    "handle_length",
    "handle_width",
    "handle_height",
    "pan_inner_width",
    "pan_depth",
    "pan_wall_height",
    "pan_floor_height",
    "pan_lip_length",
)


def sweep_view(
    brush: SceneObject,
    pan: SceneObject,
    objects: list[SceneObject] | tuple[SceneObject, ...],
    plane: Plane,
    scene: ScenePackage,
    *,
    brush_name: str,
    pan_name: str,
    scraps_colour: str | None = None,
) -> SweepView:
    """Measure the brush, the dustpan and the scraps in front of it (see the module docstring).

    Args:
        brush: the grounded brush (the target).
        pan: the grounded dustpan (the goal).
        objects: every segmented object (their pixels are not scraps unless small and in the lane).
        plane: the support plane.
        scene: the RGB-D frame they were segmented from.
        brush_name, pan_name: how to name them in errors.
        scraps_colour: the palette colour the prompt gives the scraps, if any: only the scraps whose colour
            reads as it are kept (if none does, those whose colour reads as a neighbour of it).

    Raises:
        GroundingError: the brush shows no head and handle, the pan no back wall higher than its mouth, or no
            scrap (of the asked colour) is seen in front of the pan's mouth.
    """
    pixel = _pixel_footprint(scene, brush)
    basis = plane.basis()
    head_uv, facing_uv, brush_sizes = _measure_brush(brush, plane, pixel, brush_name)
    pan_frame = _measure_pan(pan, objects, plane, scene, pixel, pan_name)
    mouth_uv, into_uv = pan_frame["mouth_uv"], pan_frame["into_uv"]
    scraps = _find_scraps(brush, pan, objects, plane, scene, pixel, pan_frame)
    if (
        scraps_colour is not None
    ):  # those named by it, else by a neighbour of it (a shaded yellow reads orange)
        similarity = [colour_similarity(scraps_colour, colour_name(s.rgb)) for s in scraps]
        best = max(similarity, default=0.0)
        scraps = [s for s, value in zip(scraps, similarity, strict=True) if value == best > 0]
    if not scraps:
        asked = f"{scraps_colour} " if scraps_colour else ""
        raise GroundingError(
            f"no {asked}scraps are seen in front of the mouth of the {pan_name} (nothing at least "
            f"{100 * SCRAP_MIN_HEIGHT_M:.1f} cm high in the {100 * LANE_LENGTH_M:.0f} cm before it, outside the "
            f"{brush_name}): there is nothing to sweep"
        )

    def world_direction(d_uv: np.ndarray) -> np.ndarray:
        d = np.asarray(d_uv) @ basis[:2]
        return d[:2] / np.linalg.norm(d[:2])

    return SweepView(
        head_centre=plane.from_plane_coords(np.r_[head_uv, 0.0][None])[0],
        facing=world_direction(facing_uv),
        **brush_sizes,
        mouth=plane.from_plane_coords(np.r_[mouth_uv, 0.0][None])[0],
        into_pan=world_direction(into_uv),
        pan_inner_width=pan_frame["inner_width"],
        pan_depth=pan_frame["depth"],
        pan_wall_height=pan_frame["wall_height"],
        pan_floor_height=pan_frame["floor_height"],
        pan_lip_length=pan_frame["lip_length"],
        scraps=tuple(
            sorted(scraps, key=lambda s: float(plane.to_plane_coords(s.centre[None])[0, :2] @ -into_uv))
        ),
    )


def _pixel_footprint(scene: ScenePackage, near: SceneObject) -> float:
    """Metres one pixel spans on the table about ``near``."""
    camera = scene.camera
    depth = float((np.asarray(near.centre_world) - camera.extrinsic[:3, 3]) @ camera.extrinsic[:3, 2])
    return abs(depth) / min(camera.fx, camera.fy)


def _frame(uv: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, t): coordinates of ``uv`` along ``direction`` and across it (t: a quarter turn to its left)."""
    across = np.array([-direction[1], direction[0]])
    return uv @ direction, uv @ across


def _slice_widths(s: np.ndarray, t: np.ndarray, step: float) -> np.ndarray:
    """Per slice of thickness ``step`` along s, front (highest s) first: the span of t in it (0 if empty)."""
    slices = np.floor((s.max() - s) / step).astype(int)
    count = int(slices.max()) + 1
    high = np.full(count, -np.inf)
    low = np.full(count, np.inf)
    np.maximum.at(high, slices, t)
    np.minimum.at(low, slices, t)
    return np.where(np.isfinite(high), high - low, 0.0)


def _t_fit(widths: np.ndarray, step: float) -> tuple[float, int] | None:
    """How well per-slice widths (front first) read as a T's head and handle: (cost, head slices) of the best
    split into a wide front run (at most half the slices) and a narrow rest, or ``None`` if no split has a
    front at least :data:`MIN_HEAD_CONTRAST_M` wider than the rest. The cost is the area the slices span plus
    how far the widths stray from the two levels (both in m²)."""
    best = None
    for head in range(1, max(2, len(widths) // 2 + 1)):
        if head >= len(widths):
            break
        front, rest = widths[:head], widths[head:]
        front_level, rest_level = float(np.median(front)), float(np.median(rest))
        if front_level < rest_level + MIN_HEAD_CONTRAST_M or rest_level > MAX_HANDLE_FRACTION * front_level:
            continue
        cost = step * (widths.sum() + np.abs(front - front_level).sum() + np.abs(rest - rest_level).sum())
        if best is None or cost < best[0]:
            best = (float(cost), head)
    return best


def _measure_brush(
    brush: SceneObject, plane: Plane, pixel: float, name: str
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(head centre uv, facing uv, sizes) of the brush: see the module docstring."""
    uvh = plane.to_plane_coords(brush.points_world)
    uvh = uvh[uvh[:, 2] > 0.5 * SCRAP_MIN_HEIGHT_M]
    uv, heights = uvh[:, :2], uvh[:, 2]
    fits = []
    for angle in np.deg2rad(np.arange(0.0, 360.0, 1.0)):
        direction = np.array([np.cos(angle), np.sin(angle)])
        s, t = _frame(uv, direction)
        fit = _t_fit(_slice_widths(s, t, pixel), pixel)
        if fit is not None:
            fits.append((fit[0], angle))
    if not fits:
        size = " × ".join(f"{100 * e:.1f}" for e in brush.extents)
        raise GroundingError(
            f"the {name} ({size} cm) shows no head and handle: no direction across its footprint has a front "
            f"at least {100 * MIN_HEAD_CONTRAST_M:.1f} cm wider than the rest and under {MAX_HANDLE_FRACTION:.0%} "
            "as wide behind it, so it cannot be told which way it sweeps"
        )
    _, angle = min(fits)
    facing = np.array([np.cos(angle), np.sin(angle)])
    s, t = _frame(uv, facing)
    front = s.max()
    # The handle is the narrow run behind the head: its band across is what the back half of the points span.
    behind = s < np.median(s)
    handle_low, handle_high = np.percentile(t[behind], [5, 95])
    beside = (t < handle_low - pixel) | (t > handle_high + pixel)
    if beside.sum() < 2:
        raise GroundingError(
            f"the {name} shows no head wider than its handle, so it cannot be told which way it sweeps"
        )
    head_back = float(s[beside].min())
    head = s >= head_back
    handle = ~head
    if handle.sum() < 2:
        raise GroundingError(
            f"the {name} shows a head but no handle behind it, so it cannot be held to sweep"
        )
    head_t = t[head]
    if np.ptp(t[handle]) > MAX_HANDLE_FRACTION * np.ptp(head_t):
        raise GroundingError(
            f"the {name} shows no head and handle: its narrower part is {100 * np.ptp(t[handle]):.1f} cm wide, "
            f"more than {MAX_HANDLE_FRACTION:.0%} of its wider part ({100 * np.ptp(head_t):.1f} cm), so it "
            "cannot be told which way it sweeps"
        )
    sizes = {
        "head_width": float(np.ptp(head_t)) + 0.5 * pixel,
        "head_depth": float(front - head_back) + 0.5 * pixel,
        "head_height": float(np.percentile(heights[head], 95)),
        "handle_length": float(head_back - s[handle].min()),
        "handle_width": float(np.ptp(t[handle])),
        "handle_height": float(np.percentile(heights[handle], 95)),
    }
    across = np.array([-facing[1], facing[0]])
    head_s = front + 0.25 * pixel - 0.5 * sizes["head_depth"]
    head_centre = head_s * facing + 0.5 * (head_t.min() + head_t.max()) * across
    return head_centre, facing, sizes


def _measure_pan(
    pan: SceneObject,
    objects: list[SceneObject] | tuple[SceneObject, ...],
    plane: Plane,
    scene: ScenePackage,
    pixel: float,
    name: str,
) -> dict:
    """The dustpan's frame and sizes: mouth (uv), into-pan direction (uv), lip length, inner width, depth,
    wall and floor heights, and its footprint's across-centre and outer width."""
    walls_uvh = plane.to_plane_coords(pan.points_world)
    low_uvh = _pan_coloured_low_points(pan, objects, plane, scene)
    all_uvh = np.concatenate([walls_uvh, low_uvh])
    uv, heights = all_uvh[:, :2], all_uvh[:, 2]
    axis = np.array([np.cos(pan.yaw), np.sin(pan.yaw)])
    candidates = [axis, -axis, np.array([-axis[1], axis[0]]), np.array([axis[1], -axis[0]])]

    def band_height(direction: np.ndarray) -> float:
        """How high the walls stand along the side of the footprint ``direction`` points to."""
        s = walls_uvh[:, :2] @ direction
        return float(np.percentile(walls_uvh[s > s.max() - BACK_BAND_M, 2], 75))

    contrast = [band_height(d) - band_height(-d) for d in candidates]
    best = int(np.argmax(contrast))
    if contrast[best] < 0.005:
        raise GroundingError(
            f"the {name} shows no back wall higher than its open side, so it cannot be told which way its mouth "
            "faces"
        )
    into = candidates[best]
    s, t = _frame(uv, into)
    wall_s, wall_t = _frame(walls_uvh[:, :2], into)
    back = float(wall_s.max()) + 0.5 * pixel
    wall_height = float(np.percentile(walls_uvh[wall_s > back - BACK_BAND_M, 2], 95))
    # Where the side walls begin: the front of the points standing clearly above the floor.
    standing = walls_uvh[:, 2] > max(0.008, 0.25 * wall_height)
    mouth_s = float(wall_s[standing].min()) - 0.5 * pixel
    # The lip: the pan-coloured low points in front of the mouth, in the walls' band across.
    low_s, low_t = _frame(low_uvh[:, :2], into)
    in_front = (low_s < mouth_s) & (low_t > wall_t.min()) & (low_t < wall_t.max())
    front = float(low_s[in_front].min()) - 0.5 * pixel if in_front.any() else mouth_s
    outer_low, outer_high = float(wall_t.min()) - 0.5 * pixel, float(wall_t.max()) + 0.5 * pixel
    centre_t = 0.5 * (outer_low + outer_high)
    outer_width = outer_high - outer_low
    # The floor: points between the mouth and the back wall, below half the walls' height at the mouth.
    inside = (s > mouth_s + pixel) & (s < back - BACK_BAND_M) & (heights < 0.2 * wall_height)
    inside &= heights > 0.001
    # Inner width: the gap between the side walls' standing points (their tops' inner edges, the far wall's
    # inner face).
    sides = standing & (wall_s < back - BACK_BAND_M)
    left, right = sides & (wall_t < centre_t), sides & (wall_t > centre_t)
    if left.any() and right.any():
        inner_width = float(wall_t[right].min() - wall_t[left].max())
    else:
        inner_width = outer_width - 2 * 0.006
    inner_width = float(np.clip(inner_width, 0.5 * outer_width, outer_width - 2 * 0.003))
    inside &= np.abs(t - centre_t) < 0.5 * inner_width
    if inside.sum() >= 3:
        floor_height = float(np.median(heights[inside]))
    else:  # the floor hidden behind the near wall
        floor_height = float(pan.floor_height) if pan.floor_height is not None else 0.004
    wall_thickness = 0.5 * (outer_width - inner_width)
    floor_height = float(np.clip(floor_height, 0.001, 0.5 * wall_height))
    across = np.array([-into[1], into[0]])
    return {
        "mouth_uv": mouth_s * into + centre_t * across,
        "into_uv": into,
        "lip_length": max(mouth_s - front, 0.5 * pixel),
        "inner_width": inner_width,
        "depth": back - wall_thickness - mouth_s,
        "wall_height": wall_height,
        "floor_height": floor_height,
        "centre_t": centre_t,
        "outer_width": outer_width,
        "mouth_s": mouth_s,
    }


def _pan_coloured_low_points(
    pan: SceneObject, objects: list[SceneObject] | tuple[SceneObject, ...], plane: Plane, scene: ScenePackage
) -> np.ndarray:
    """(u, v, height) of the pan's low parts (lip, floor) that segmentation leaves out, being below its
    height threshold: pixels joined to the pan's mask, under scrap height, nearer the pan's colour than the
    table's."""
    others = np.zeros_like(pan.mask)
    for other in objects:
        if other.index != pan.index:
            others |= other.mask
    near = ndimage.binary_dilation(pan.mask, iterations=6) & ~pan.mask & ~others & (scene.depth_m > 0)
    if not near.any():
        return np.empty((0, 3))
    points, pixels = depth_to_points_world(np.where(near, scene.depth_m, 0.0), scene.camera)
    uvh = plane.to_plane_coords(points)
    rgb = scene.rgb[pixels[:, 0], pixels[:, 1]].astype(np.float64)
    pan_rgb = np.asarray(pan.mean_rgb, dtype=np.float64)
    table_mask = ndimage.binary_dilation(pan.mask, iterations=12) & ~ndimage.binary_dilation(
        pan.mask, iterations=8
    )
    table_mask &= ~others
    table_rgb = (
        np.median(scene.rgb[table_mask].astype(np.float64), axis=0) if table_mask.any() else np.full(3, 128.0)
    )
    pan_like = np.linalg.norm(rgb - pan_rgb, axis=1) < np.linalg.norm(rgb - table_rgb, axis=1)
    pan_like |= uvh[:, 2] > LOW_PART_MIN_HEIGHT_M  # a lip the table's colour (brown on wood) still rises
    low = (uvh[:, 2] < SCRAP_MIN_HEIGHT_M) & (uvh[:, 2] > -0.003) & pan_like
    # Keep only those joined to the pan (through other pan-coloured low pixels).
    chosen = np.zeros_like(pan.mask)
    chosen[pixels[low, 0], pixels[low, 1]] = True
    labels, _ = ndimage.label(chosen | pan.mask, structure=np.ones((3, 3), dtype=bool))
    joined = np.isin(labels, np.unique(labels[pan.mask]))
    keep = low & joined[pixels[:, 0], pixels[:, 1]]
    return uvh[keep]


def _find_scraps(
    brush: SceneObject,
    pan: SceneObject,
    objects: list[SceneObject] | tuple[SceneObject, ...],
    plane: Plane,
    scene: ScenePackage,
    pixel: float,
    pan_frame: dict,
) -> list[ScrapView]:
    """Scraps: raised pixels in the lane in front of the pan's mouth, outside the brush and the pan, in
    8-connected pieces split by palette colour."""
    points, pixels = depth_to_points_world(scene.depth_m, scene.camera)
    uvh = plane.to_plane_coords(points)
    into = pan_frame["into_uv"]
    s, t = _frame(uvh[:, :2], into)
    in_lane = (
        (s < pan_frame["mouth_s"])
        & (s > pan_frame["mouth_s"] - LANE_LENGTH_M)
        & (np.abs(t - pan_frame["centre_t"]) < 0.5 * pan_frame["outer_width"] + LANE_MARGIN_M)
    )
    raised = in_lane & (uvh[:, 2] > SCRAP_MIN_HEIGHT_M)
    excluded = ndimage.binary_dilation(brush.mask | pan.mask, iterations=1)
    large = [o for o in objects if o.index not in (brush.index, pan.index) and o.extents[0] > 0.06]
    for other in large:  # something big in the lane is not a scrap
        excluded |= other.mask
    mask = np.zeros(scene.depth_m.shape, dtype=bool)
    core = np.zeros(scene.depth_m.shape, dtype=bool)
    keep = raised & ~excluded[pixels[:, 0], pixels[:, 1]]
    mask[pixels[keep, 0], pixels[keep, 1]] = True
    tops = keep & (uvh[:, 2] > SCRAP_CORE_HEIGHT_M)
    core[pixels[tops, 0], pixels[tops, 1]] = True
    index_of = np.full(scene.depth_m.shape, -1)
    index_of[pixels[:, 0], pixels[:, 1]] = np.arange(len(pixels))
    pieces = _split_by_chromaticity(core, scene.rgb)
    # The lower raised pixels (a scrap's sides near the table) join the piece next to them.
    distance, (near_rows, near_cols) = ndimage.distance_transform_edt(pieces == 0, return_indices=True)
    fringe = mask & ~core & (distance <= 1.5)
    pieces[fringe] = pieces[near_rows[fringe], near_cols[fringe]]
    scraps = []
    for label in range(1, int(pieces.max()) + 1):
        rows, cols = np.nonzero(pieces == label)
        if len(rows) < MIN_SCRAP_PIXELS:
            continue
        chosen = index_of[rows, cols]
        scraps.append(_scrap(points[chosen], uvh[chosen], scene.rgb[rows, cols], plane, pixel))
    return scraps


def _split_by_chromaticity(mask: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Label image of the pieces of ``mask``: 8-connected pixels whose chromaticities differ by at most
    :data:`SCRAP_CHROMA_SPLIT`; pieces under :data:`MIN_SCRAP_PIXELS` (a blended edge pixel) join the
    neighbouring piece they touch most."""
    colour = rgb.astype(np.float64)
    chroma = colour / np.maximum(colour.sum(axis=2, keepdims=True), 1.0)
    height, width = mask.shape
    parent = np.arange(height * width)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows, cols = np.nonzero(mask)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
            rr, cc = r + dr, c + dc
            inside = 0 <= rr < height and 0 <= cc < width and mask[rr, cc]
            if inside and np.linalg.norm(chroma[r, c] - chroma[rr, cc]) <= SCRAP_CHROMA_SPLIT:
                parent[root(rr * width + cc)] = root(r * width + c)
    labels = np.zeros(mask.shape, dtype=np.int64)
    roots = np.array([root(r * width + c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)])
    _, labels[rows, cols] = np.unique(roots, return_inverse=True)
    labels[rows, cols] += 1
    # Small pieces (blended edges) join the neighbouring piece they touch most.
    sizes = np.bincount(labels.reshape(-1))
    for small in np.flatnonzero((sizes > 0) & (sizes < MIN_SCRAP_PIXELS)):
        if small == 0:
            continue
        around = ndimage.binary_dilation(labels == small, structure=np.ones((3, 3), dtype=bool))
        neighbours = labels[around & (labels != small) & (labels > 0)]
        if len(neighbours):
            labels[labels == small] = np.bincount(neighbours).argmax()
    return labels


def _scrap(points: np.ndarray, uvh: np.ndarray, rgb: np.ndarray, plane: Plane, pixel: float) -> ScrapView:
    """A scrap's footprint rectangle (along the principal axes of its points, each side widened by half a
    pixel), height (its top) and colour (of its upper half: its sides near the table blend with it)."""
    uv = uvh[:, :2]
    axis = np.array([1.0, 0.0])
    if len(uv) >= 3:
        axis = np.linalg.eigh(np.cov((uv - uv.mean(axis=0)).T))[1][:, -1]
    s, t = _frame(uv, axis)
    if np.ptp(t) > np.ptp(s):  # x is the longer side
        axis = np.array([-axis[1], axis[0]])
        s, t = _frame(uv, axis)
    middle = 0.5 * (s.min() + s.max()) * axis + 0.5 * (t.min() + t.max()) * np.array([-axis[1], axis[0]])
    top = float(np.percentile(uvh[:, 2], 95))
    world_axis = axis @ plane.basis()[:2]
    yaw = float(np.arctan2(world_axis[1], world_axis[0]))
    yaw = float((yaw + np.pi / 2) % np.pi - np.pi / 2)  # a footprint axis has no direction: (-π/2, π/2]
    if yaw <= -np.pi / 2 + 1e-12:
        yaw += np.pi
    upper = uvh[:, 2] >= 0.5 * top
    return ScrapView(
        centre=plane.from_plane_coords(np.r_[middle, 0.0][None])[0],
        half_size=np.array([0.5 * (np.ptp(s) + pixel), 0.5 * (np.ptp(t) + pixel), 0.5 * top]),
        yaw=yaw,
        rgb=rgb[upper].astype(np.float64).mean(axis=0),
        points=points,
    )


SWEEP_TOOL_MIN_LENGTH_M = 0.06
"""A brush to sweep with is at least this long (head and handle): smaller things on the table are what is
swept."""

T_FOOTPRINT_MAX_FILL = 0.92
"""A brush's footprint is a T (a wide head, a narrow handle): its hull fills less of its minimum-area rectangle
than a tray's or a box's does (≈1)."""


def sweeping_tool_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of a brush to sweep with (sweep skill) with a seen object.

    Whatever its noun, a brush is judged by size and outline: a solid at least
    :data:`SWEEP_TOOL_MIN_LENGTH_M` long whose footprint is not a full rectangle fits best (a T reads as a
    "cylinder" or, its head and handle making a corner, as a "container"); a rectangle that long still
    qualifies at half the score, so that a brush is found, then measured (and refused there if it has no
    head and handle, :func:`sweep_view`). Small things are what is swept,
    never the tool."""
    if seen.shape == "region" or seen.extents[0] < SWEEP_TOOL_MIN_LENGTH_M:
        return None
    return 1.0 if seen.roundness < T_FOOTPRINT_MAX_FILL else 0.5


def dustpan_shape_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of a dustpan to sweep into (sweep skill) with a seen object: a tray at least
    :data:`SWEEP_TOOL_MIN_LENGTH_M` long. Its floor is a few millimetres thick, so it reads as a container
    (walls around a lower floor) or, where the camera sees little of the floor, as a low box (less)."""
    if seen.extents[0] < SWEEP_TOOL_MIN_LENGTH_M:
        return None
    return {"container": 1.0, "box": 0.75}.get(seen.shape)


class SweepPerception(SkillPerception):
    """The brush is judged by size and outline (:func:`sweeping_tool_score`), the dustpan as a low tray
    (:func:`dustpan_shape_score`); the view measures both and finds the scraps in front of the pan's mouth
    (:func:`sweep_view`). A brush with no head and handle, or no scraps, is refused here."""

    name = skill_of(__name__)
    target_scorer = staticmethod(sweeping_tool_score)
    goal_scorer = staticmethod(dustpan_shape_score)
    view_type = SweepView
    stored_types = (ScrapView,)

    def view(
        self,
        scene: ScenePackage,
        plane: Plane,
        objects: list[SceneObject],
        instruction: Instruction,
        grounding: Grounding,
    ) -> SweepView:
        return sweep_view(
            grounding.target,
            grounding.goal,
            objects,
            plane,
            scene,
            brush_name=f"{grounding.target.description} (the {instruction.object_phrase})",
            pan_name=f"{grounding.goal.description} (the {instruction.goal_phrase})",
            scraps_colour=instruction.contents_colour,
        )


HOOKS = SweepPerception()
