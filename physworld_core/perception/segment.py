"""Split the scene into the objects standing on the table, and describe each one.

A pixel belongs to an object when its 3D point is clearly above the support plane. Neighbouring object pixels
are linked only when their 3D points are close, so a can in front of a bin splits from it at the depth jump
even where their image regions touch. Objects that touch without a depth jump (a can on a box, a pitcher
against one) are parted where their surfaces meet in a concave crease between two paints
(:mod:`physworld_core.perception.clutter`, LCCP-style); ``split_touching=False`` keeps the path without it. Each object is then described by what grounding and planning need:
a colour name (prompts name colours), a shape class from geometry (prompts name kinds: can, box, bin), and a
footprint on the table (where to grasp from and where to drop into).

Holes in the depth (0 or NaN, where the sensor saw nothing) are handled in two ways. Thin ones (cracks and
specks at most two pixels across) are filled from the nearest valid depth: left alone, a crack would split an
object in two. Larger ones are measured against the objects they touch: each object carries the share of its
region that lacks depth (``missing_depth_fraction``), and :func:`depth_hole_report` names the objects over
:data:`MAX_MISSING_DEPTH_FRACTION` and the object-sized holes on the table in the robot's workspace that touch
no object. Without depth there an object would be built from its few remaining pixels (a can missing its top
becomes a short stub) or, missing its lower half, be dropped as floating. Whether that refuses the scene
depends on which objects the task needs: real sensors always leave holes at depth edges and on dark or shiny
surfaces, so the perception pass refuses only when the target or goal is unmeasurable
(:func:`~physworld_core.perception.perceive.perceive`); :func:`segment_objects` alone refuses any such hole
unless asked to report them.

Limitations, on purpose: one view sees only the front of an object, so the footprint is the top-view extent of
the *visible* points; a container is recognised only when some of its interior floor is visible (true for the
usual downward-looking tabletop camera).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, QhullError, cKDTree

from physworld_core.errors import SceneError
from physworld_core.perception.clutter import SAME_PAINT_CHROMA, chromaticity_distance, lccp_labels
from physworld_core.perception.colour import PALETTE, object_colours
from physworld_core.perception.plane import Plane
from physworld_core.robot import PANDA, RobotSetup
from physworld_core.scene import ScenePackage, depth_to_points_world

SHAPES: tuple[str, ...] = ("box", "cylinder", "container", "region")
"""Shape classes geometry can tell apart from one RGB-D view ("region": a flat marking on the table, found by
:mod:`physworld_core.perception.regions`)."""

FLOATING_MIN_GAP_M = 0.02
"""A segment whose visible points all lie this far (and over half its height) above the table is floating."""

THIN_HOLE_MAX_DISTANCE_PX = 1.5
"""A depth hole whose every pixel lies within this distance of valid depth (at most two pixels across) is
filled with the nearest valid depth: cracks and specks carry no shape, and the surfaces around them continue
through them."""

MAX_MISSING_DEPTH_FRACTION = 0.25
"""An object whose pixels plus the larger depth holes touching them lack depth over more than this share is
refused. Measured on the 94-pixel can of the bin benchmark (seed 3): with a quarter of its top missing its
tracked end point is 17 mm off (7 mm with full depth), with 35 % missing 52 mm. A hole touching the object
counts whole: it may cover the object more than the table, and one frame cannot tell."""

ROUND_FOOTPRINT_MAX_FILL = 0.88
"""Footprint hull area / its minimum-area rectangle: π/4 ≈ 0.79 for a disc, 1 for a rectangle."""


@dataclass(frozen=True, eq=False)
class SceneObject:
    """One object standing on the table, as seen from the single view.

    Args:
        index: position in the list returned by :func:`segment_objects` (left to right in the image).
        mask: H×W bool, the object's pixels.
        pixels: N×2 int (row, col) of the pixels with valid depth, aligned with ``points_world``.
        points_world: N×3 back-projected points (world frame, metres).
        mean_rgb: mean colour of the masked pixels, 0–255.
        colour: palette name of ``mean_rgb`` (see :mod:`physworld_core.perception.colour`).
        shape: "container" (hollow), "cylinder" (round footprint) or "box".
        centre_world: footprint centre, on the support plane, world frame.
        top_height: height of the top above the plane, metres (robust 98th percentile).
        extents: (length, width, height) in metres: footprint rectangle sides (length ≥ width) and top height.
        yaw: angle of the footprint's long axis in the plane frame, radians in (-π/2, π/2].
        roundness: footprint hull area / minimum-area rectangle area (≈0.79 disc, ≈1 rectangle).
        floor_height: for containers, the interior floor height above the plane; ``None`` otherwise.
        colours: every palette colour covering a good share of the pixels, most common first (a patterned
            marking is "red and white"); defaults to ``(colour,)``.
        missing_depth_fraction: share of the object's region (its pixels plus the larger depth holes touching
            them) without depth; over :data:`MAX_MISSING_DEPTH_FRACTION` its size and position are guessed.
    """

    index: int
    mask: np.ndarray
    pixels: np.ndarray
    points_world: np.ndarray
    mean_rgb: tuple[float, float, float]
    colour: str
    shape: str
    centre_world: tuple[float, float, float]
    top_height: float
    extents: tuple[float, float, float]
    yaw: float
    roundness: float
    floor_height: float | None = None
    colours: tuple[str, ...] = ()
    missing_depth_fraction: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "colours", tuple(self.colours) or (self.colour,))
        if not 0.0 <= self.missing_depth_fraction <= 1.0:
            raise ValueError(
                f"SceneObject.missing_depth_fraction must lie in [0, 1], got {self.missing_depth_fraction!r}"
            )
        if self.index < 0:
            raise ValueError(f"SceneObject.index must be non-negative, got {self.index}")
        mask = np.asarray(self.mask)
        if mask.ndim != 2 or mask.dtype != bool:
            raise ValueError(f"SceneObject.mask must be an H×W bool array, got {mask.shape} {mask.dtype}")
        points = np.asarray(self.points_world, dtype=np.float64)
        pixels = np.asarray(self.pixels, dtype=np.int64)
        if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
            raise ValueError(f"SceneObject.points_world must be a non-empty N×3 array, got {points.shape}")
        if pixels.shape != (len(points), 2):
            raise ValueError(f"SceneObject.pixels must be N×2 matching points_world, got {pixels.shape}")
        if self.colour not in PALETTE:
            raise ValueError(f"SceneObject.colour {self.colour!r} is not one of {', '.join(PALETTE)}")
        if self.shape not in SHAPES:
            raise ValueError(f"SceneObject.shape {self.shape!r} is not one of {', '.join(SHAPES)}")
        flat = self.shape == "region"
        if not (np.isfinite(self.top_height) and (self.top_height >= 0 if flat else self.top_height > 0)):
            raise ValueError(f"SceneObject.top_height must be positive, got {self.top_height!r}")
        if any(c not in PALETTE for c in self.colours):
            raise ValueError(f"SceneObject.colours {self.colours!r} must be palette names")
        if len(self.extents) != 3 or not all(np.isfinite(e) and e >= 0 for e in self.extents):
            raise ValueError(f"SceneObject.extents must be 3 non-negative lengths, got {self.extents!r}")
        if (self.shape == "container") != (self.floor_height is not None):
            raise ValueError("SceneObject.floor_height is set exactly for containers")
        for array in (mask, points, pixels):
            array.setflags(write=False)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "points_world", points)
        object.__setattr__(self, "pixels", pixels)
        object.__setattr__(self, "mean_rgb", tuple(float(v) for v in self.mean_rgb))
        object.__setattr__(self, "centre_world", tuple(float(v) for v in self.centre_world))
        object.__setattr__(self, "extents", tuple(float(v) for v in self.extents))

    @property
    def description(self) -> str:
        """What a person would call it from its appearance, e.g. "red cylinder", "red and white region"."""
        return f"{' and '.join(self.colours)} {self.shape}"

    @property
    def pixel_count(self) -> int:
        return int(self.mask.sum())

    @property
    def image_centroid(self) -> tuple[float, float]:
        """Mean (row, col) of the mask."""
        rows, cols = np.nonzero(self.mask)
        return float(rows.mean()), float(cols.mean())

    @property
    def footprint_radius(self) -> float:
        """Half the footprint diagonal: a circle that surely contains the object seen from above."""
        return 0.5 * float(np.hypot(self.extents[0], self.extents[1]))

    def to_dict(self) -> dict:
        """JSON-friendly summary (no arrays except the image bounding box)."""
        rows, cols = np.nonzero(self.mask)
        return {
            "index": self.index,
            "description": self.description,
            "colour": self.colour,
            "colours": list(self.colours),
            "shape": self.shape,
            "mean_rgb": list(self.mean_rgb),
            "centre_world": list(self.centre_world),
            "top_height": self.top_height,
            "extents": list(self.extents),
            "yaw": self.yaw,
            "roundness": self.roundness,
            "floor_height": self.floor_height,
            "pixel_count": self.pixel_count,
            "missing_depth_fraction": self.missing_depth_fraction,
            "bbox_rc": [int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1],
        }


def segment_objects(
    scene: ScenePackage,
    plane: Plane,
    *,
    min_height_m: float = 0.008,
    min_pixels: int | None = None,
    neighbour_gap_m: float = 0.015,
    neighbour_gap_px: float = 3.0,
    robot: RobotSetup | None = PANDA,
    refuse_depth_holes: bool = True,
    split_touching: bool = True,
) -> list[SceneObject]:
    """Find and describe the objects standing on ``plane``.

    Args:
        scene: the RGB-D observation.
        plane: the fitted support plane (:func:`physworld_core.perception.plane.fit_support_plane`).
        min_height_m: a point counts as "on an object" this far above the plane (sensor noise and the table's
            own unevenness stay below it).
        min_pixels: components smaller than this are noise (flying pixels, specks); default 0.1% of the image,
            at least 15 pixels.
        neighbour_gap_m, neighbour_gap_px: two neighbouring pixels belong together when their 3D points are
            closer than max(neighbour_gap_m, neighbour_gap_px × the pixel's footprint at its depth); larger
            jumps are occlusion boundaries between objects.
        robot: the robot setup whose workspace box crops the point cloud, as real pipelines do, so the
            robot's own base and arm, or the floor past the table edge, never become "objects". ``None``
            keeps every point (a capture in a frame without a calibrated robot).
        split_touching: also part objects that touch without a depth jump, where their surfaces meet in a
            concave crease between two paints (:func:`~physworld_core.perception.clutter.lccp_labels`);
            ``False`` makes every continuous surface one object (the fallback: the path before clutter was
            handled).
        refuse_depth_holes: raise on a depth hole over an object or on the table (below); ``False`` only
            measures them (``missing_depth_fraction``; :func:`depth_hole_report`), for a caller that knows
            which objects matter.

    Returns:
        Objects ordered left to right by image centroid, ``index`` matching the position.

    Raises:
        SceneError: with ``refuse_depth_holes``, the depth has a hole over an object (see
            :data:`MAX_MISSING_DEPTH_FRACTION`) or an object-sized hole on the table inside the workspace where
            no object could be measured.
    """
    if min_height_m <= 0:
        raise ValueError(f"min_height_m must be positive, got {min_height_m}")
    height_px, width_px = scene.height, scene.width
    if min_pixels is None:
        min_pixels = max(15, int(0.001 * height_px * width_px))
    depth, holes, grid, heights, points_world, pixels = _measured(scene, plane)
    valid = depth > 0
    above = valid & (np.nan_to_num(heights, nan=-np.inf) > min_height_m)
    if robot is not None:
        outside = ~robot.in_workspace(points_world)
        above[pixels[outside, 0], pixels[outside, 1]] = False

    pixel_size = depth / min(scene.camera.fx, scene.camera.fy)
    tolerance = np.maximum(neighbour_gap_m, neighbour_gap_px * pixel_size)
    cut_pairs: set[tuple[int, int]] = set()
    if split_touching:
        labels, cut_pairs = _lccp(
            grid, scene.rgb, above, pixel_size, tolerance, scene.camera.extrinsic[:3, 3]
        )
    else:
        labels = _connected_by_distance(grid, above, tolerance)
    counts = np.bincount(labels[above], minlength=labels.max() + 1)
    kept = [label for label in np.nonzero(counts >= min_pixels)[0]]
    table_noise = _table_noise(plane)
    # Flat pieces (a bin's floor plate seen from high above, split from the walls at the rim's depth jump)
    # may be claimed by the component that encloses them; solid objects are never flat, so a can standing
    # in a bin stays its own object.
    present = np.nonzero(counts)[0]
    height_spread = ndimage.labeled_comprehension(
        heights, labels, present, lambda h: np.percentile(h, 95) - np.percentile(h, 5), float, np.inf
    )
    claimable = (labels < 0) | np.isin(labels, present[height_spread < 0.01])

    objects: list[tuple[tuple[float, float], dict]] = []
    claimed = np.zeros_like(above)
    for label in sorted(kept, key=lambda lab: -counts[lab]):  # big first: a bin claims its floor before the
        mask = (labels == label) & ~claimed  # floor could stand alone as an object
        if mask.sum() < min_pixels:
            continue
        available = ~claimed & ~mask
        described = _describe(
            scene,
            plane,
            mask,
            grid,
            heights,
            np.where(available, labels, -1),
            claimable & available,
            table_noise,
        )
        if described is not None:
            objects.append(described)
            claimed |= described[1]["mask"]
    objects = _merge_container_interiors(scene, plane, grid, heights, objects, table_noise)
    objects = _merge_same_colour_pieces(
        scene, plane, grid, heights, objects, table_noise, cut=(labels, cut_pairs) if cut_pairs else None
    )
    objects = [item for item in objects if not _is_fringe(item[1], min_height_m)]
    object_findings, table_findings = _depth_holes(
        scene, plane, holes, [fields for _, fields in objects], min_pixels, robot
    )
    if refuse_depth_holes:
        for message in table_findings + [message for _, message in object_findings if message]:
            raise SceneError(message)
    for (_, fields), (fraction, _) in zip(objects, object_findings):
        fields["missing_depth_fraction"] = fraction
    objects.sort(key=lambda item: (item[0][1], item[0][0]))
    return [SceneObject(index=i, **fields) for i, (_, fields) in enumerate(objects)]


def _measured(scene: ScenePackage, plane: Plane):
    """(depth with thin holes filled, the holes, H×W×3 world points (NaN where no depth), H×W heights above
    ``plane``, the valid points, their pixels)."""
    depth, holes = _fill_thin_holes(scene.depth_m)
    points_world, pixels = depth_to_points_world(depth, scene.camera)
    grid = np.full((scene.height, scene.width, 3), np.nan)
    grid[pixels[:, 0], pixels[:, 1]] = points_world
    heights = np.full((scene.height, scene.width), np.nan)
    heights[pixels[:, 0], pixels[:, 1]] = plane.signed_height(points_world)
    return depth, holes, grid, heights, points_world, pixels


def _table_noise(plane: Plane) -> float:
    """The table's height noise as segmentation allows for it: three times the plane fit's RMS, at least 5 mm."""
    return max(0.005, 3.0 * plane.rms)


def _fill_thin_holes(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill thin depth holes (see :data:`THIN_HOLE_MAX_DISTANCE_PX`) with the nearest valid depth.

    Returns the filled depth and the labels (8-connected, > 0) of the holes left, 0 elsewhere.
    """
    invalid = ~(depth > 0)
    if not invalid.any():
        return depth, np.zeros(depth.shape, dtype=np.int64)
    distance, (nearest_rows, nearest_cols) = ndimage.distance_transform_edt(invalid, return_indices=True)
    labels, count = ndimage.label(invalid, structure=np.ones((3, 3)))
    widest = np.asarray(ndimage.maximum(distance, labels, np.arange(1, count + 1)))
    thin = np.isin(labels, 1 + np.nonzero(widest <= THIN_HOLE_MAX_DISTANCE_PX)[0])
    filled = depth.copy()
    filled[thin] = depth[nearest_rows[thin], nearest_cols[thin]]
    return filled, np.where(thin, 0, labels)


def _span(rows: np.ndarray, cols: np.ndarray) -> str:
    return f"rows {rows.min()}-{rows.max()}, cols {cols.min()}-{cols.max()}"


@dataclass(frozen=True)
class DepthHoleReport:
    """The depth holes that hide an object or most of one (module docstring), each as a one-line reason.

    Args:
        object_errors: object index → why its size and position would be guessed (over
            :data:`MAX_MISSING_DEPTH_FRACTION` of it has no depth).
        table_errors: object-sized holes on the table in the workspace touching no object: something standing
            there could not be measured.
    """

    object_errors: dict[int, str]
    table_errors: tuple[str, ...]


def depth_hole_report(
    scene: ScenePackage,
    plane: Plane,
    objects: list[SceneObject],
    *,
    min_pixels: int | None = None,
    robot: RobotSetup | None = PANDA,
) -> DepthHoleReport:
    """Measure the depth holes against ``objects`` (from :func:`segment_objects` with the same ``robot`` and
    ``min_pixels``) without refusing anything: the caller decides which objects must be measurable."""
    if min_pixels is None:
        min_pixels = max(15, int(0.001 * scene.height * scene.width))
    _, holes = _fill_thin_holes(scene.depth_m)
    fields = [{"mask": o.mask, "colour": o.colour, "shape": o.shape} for o in objects]
    object_findings, table_findings = _depth_holes(scene, plane, holes, fields, min_pixels, robot)
    return DepthHoleReport(
        object_errors={o.index: message for o, (_, message) in zip(objects, object_findings) if message},
        table_errors=tuple(table_findings),
    )


def _depth_holes(
    scene: ScenePackage,
    plane: Plane,
    holes: np.ndarray,
    objects: list[dict],
    min_pixels: int,
    robot: RobotSetup | None,
) -> tuple[list[tuple[float, str | None]], list[str]]:
    """Depth holes that hide an object, or most of one (module docstring): per object, the share of it without
    depth and, over :data:`MAX_MISSING_DEPTH_FRACTION`, why that is refused; and the refusals of holes on the
    table.

    A hole touching an object counts against that object, as far as it reaches within the object's own
    size of it (:func:`_hole_within_reach`). A hole touching none is refused when it is
    object-sized (``min_pixels``), does not reach the image border (the edge of the sensor's range, not a
    spot on the table) and its pixels look at the table inside the robot's workspace.
    """
    if not holes.any():
        return [(0.0, None) for _ in objects], []
    table_findings: list[str] = []
    object_findings: list[tuple[float, str | None]] = []
    missing = np.zeros(len(objects), dtype=np.int64)
    missing_pixels: list[list[np.ndarray]] = [[] for _ in objects]
    height_px, width_px = holes.shape
    for hole_id, where in enumerate(ndimage.find_objects(holes), start=1):
        if where is None:
            continue
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in where)  # one pixel around the hole
        hole = holes[grown] == hole_id
        ring = ndimage.binary_dilation(hole, structure=np.ones((3, 3)))
        rows, cols = np.nonzero(hole)
        rows, cols = rows + grown[0].start, cols + grown[1].start
        touching = [i for i, fields in enumerate(objects) if (ring & fields["mask"][grown]).any()]
        for i in touching:
            near = _hole_within_reach(objects[i]["mask"], rows, cols)
            missing[i] += int(near.sum())
            missing_pixels[i].append(np.stack([rows[near], cols[near]], 1))
        at_border = (
            min(rows.min(), cols.min()) == 0 or rows.max() == height_px - 1 or cols.max() == width_px - 1
        )
        if touching or len(rows) < min_pixels or at_border:
            continue
        camera = scene.camera
        rays_cam = np.stack(
            [(cols + 0.5 - camera.cx) / camera.fx, (rows + 0.5 - camera.cy) / camera.fy, np.ones(len(rows))],
            1,
        )
        rays_world = rays_cam @ camera.extrinsic[:3, :3].T
        origin = camera.extrinsic[:3, 3]
        t = plane.intersect_rays(np.broadcast_to(origin, rays_world.shape), rays_world)
        on_table = origin + t[np.isfinite(t), None] * rays_world[np.isfinite(t)]
        in_reach = len(on_table) if robot is None else int(robot.in_workspace(on_table).sum())
        if in_reach >= min_pixels:
            table_findings.append(
                f"task {scene.task_id}: depth is missing (0 or NaN) over {len(rows)} pixels at "
                f"{_span(rows, cols)}, on the table where no object could be measured (an object whose "
                "lower part has no depth looks like it floats): anything standing there would be left out of "
                "the twin; re-capture the depth frame or fill the hole"
            )
    for i, fields in enumerate(objects):
        seen = int(fields["mask"].sum())
        fraction = float(missing[i] / (missing[i] + seen))
        object_findings.append((fraction, None))
        if fraction > MAX_MISSING_DEPTH_FRACTION:
            hole_pixels = np.concatenate(missing_pixels[i])
            hole_span = _span(hole_pixels[:, 0], hole_pixels[:, 1])
            object_span = _span(*np.nonzero(fields["mask"]))
            object_findings[-1] = (
                fraction,
                (
                    f"task {scene.task_id}: depth is missing (0 or NaN) over {missing[i]} pixels at "
                    f"{hole_span}, on the object at {object_span} (read as a {fields['colour']} "
                    f"{fields['shape']} from its {seen} pixels with depth): {fraction:.0%} of it has no depth, "
                    f"more than {MAX_MISSING_DEPTH_FRACTION:.0%}, so its size and position would be guessed; "
                    "re-capture the depth frame or fill the hole"
                ),
            )
    return object_findings, table_findings


def _parted_at_a_crease(cut, mask_a: np.ndarray, mask_b: np.ndarray) -> bool:
    """Whether a label under ``mask_a`` and one under ``mask_b`` were cut apart (``cut`` = labels, pairs)."""
    labels, cut_pairs = cut
    in_a = set(np.unique(labels[mask_a & (labels >= 0)]).tolist())
    in_b = set(np.unique(labels[mask_b & (labels >= 0)]).tolist())
    return any((min(a, b), max(a, b)) in cut_pairs for a in in_a for b in in_b)


def _hole_within_reach(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Which hole pixels (``rows``, ``cols``) lie within the object's own width (its image bounding box's
    shorter side) of its mask: a hole hides the object's continuation, a band about as thick as the object,
    not everything beyond it. Without this cap a sensor's out-of-range region (the floor past a table edge,
    40 % of a frame) or a dark neighbour's hole that an object touches would count whole against it."""
    object_rows, object_cols = np.nonzero(mask)
    reach = min(np.ptp(object_rows), np.ptp(object_cols)) + 1
    top, left = max(object_rows.min() - reach, 0), max(object_cols.min() - reach, 0)
    bottom, right = object_rows.max() + reach + 1, object_cols.max() + reach + 1
    window = mask[top:bottom, left:right]
    distance = ndimage.distance_transform_edt(~window)
    inside = (rows >= top) & (rows < top + window.shape[0]) & (cols >= left) & (cols < left + window.shape[1])
    near = np.zeros(len(rows), dtype=bool)
    near[inside] = distance[rows[inside] - top, cols[inside] - left] <= reach
    return near


def _merge_container_interiors(scene, plane, grid, heights, objects, table_noise):
    """Give a container back its interior when that split off as a separate "object".

    A container's floor and lower inner walls can separate from the rim at its depth jump with several
    centimetres of height spread, too much to count as a flat plate. Such a piece lies inside the
    container's footprint and stays well below its rim. Only part of the floor is visible, so its area says
    little; its height does. Trade-off: something small lying flat in the bin becomes part of the bin (it is
    the bin's content, not an obstacle on the table); anything standing as tall as the rim stays separate.
    """

    def pairs(objects):
        for ci, (_, c_fields) in enumerate(objects):
            if c_fields["shape"] != "container":
                continue
            for oi, (_, o_fields) in enumerate(objects):
                if oi != ci and o_fields["shape"] != "container":
                    yield ci, oi

    def joins(c_fields, o_fields) -> bool:
        c_hull = _footprint(plane.to_plane_coords(c_fields["points_world"])[:, :2])
        if c_hull is None or o_fields["top_height"] > INTERIOR_TOP * c_fields["top_height"]:
            return False
        o_uv = plane.to_plane_coords(o_fields["points_world"])[:, :2]
        inside = np.max(o_uv @ c_hull[0].equations[:, :2].T + c_hull[0].equations[:, 2], axis=1) <= 0.005
        return inside.mean() >= 0.9

    return _merge_while(scene, plane, grid, heights, objects, table_noise, pairs, joins)


def _merge_while(scene, plane, grid, heights, objects, table_noise, pairs, joins):
    """Merge the first pair of pieces that ``joins`` (of those ``pairs(objects)`` lists, as (kept, absorbed)
    indices), re-describing their union as one object, until no pair does."""
    while True:
        for a, b in pairs(objects):
            if joins(objects[a][1], objects[b][1]):
                merged = _merged(scene, plane, grid, heights, objects, a, b, table_noise)
                if merged is not None:
                    objects = merged
                    break
        else:
            return objects


def _merged(scene, plane, grid, heights, objects, a: int, b: int, table_noise):
    """``objects`` with pieces ``a`` and ``b`` replaced by one object described afresh from both masks, or
    None when the union has no footprint."""
    union = objects[a][1]["mask"] | objects[b][1]["mask"]
    no_labels = np.full(union.shape, -1)
    described = _describe(scene, plane, union, grid, heights, no_labels, np.zeros_like(union), table_noise)
    if described is None:
        return None
    return [item for k, item in enumerate(objects) if k not in (a, b)] + [described]


INTERIOR_TOP = 0.6
"""A piece inside a container's footprint whose top is below this share of the rim height is its interior."""

SAME_COLOUR_RGB = 35.0
"""Two pieces whose mean colours are closer than this (RGB, 0-255) are the same paint."""
SAME_COLOUR_GAP_M = 0.025
"""Pieces of one colour this close in 3D are one object (the two halves of a pan's rim around a floor too low
to be seen as "above the table"), though farther apart than ``neighbour_gap_m`` joins any two pieces."""
FRINGE_RISE_M = 0.003
FRINGE_WIDTH_M = 0.012
"""A piece rising at most ``FRINGE_RISE_M`` above the object threshold and narrower than ``FRINGE_WIDTH_M`` is a
fringe (the bevelled edge of a flat plate poking over the threshold), not an object: nothing so thin and low can
be grasped or told apart by its shape."""


def _merge_same_colour_pieces(scene, plane, grid, heights, objects, table_noise, cut=None):
    """Join pieces of one colour that nearly touch in 3D: one object that the height threshold or a depth jump
    cut in two. A piece is merged into the larger one; two separate objects of one paint this close could not
    be told apart by a prompt anyway.

    ``cut`` (labels and label pairs from :func:`~physworld_core.perception.clutter.lccp_labels`) keeps apart
    pieces that the over-segmentation parted at a concave crease between two paints (two touching objects
    whose mean colours happen to be close) where they meet without a depth jump. Pieces split by a depth
    jump (a pan's rim around a floor too low to count as above the table, its handle) still join."""

    def pairs(objects):
        order = sorted(range(len(objects)), key=lambda k: -objects[k][1]["mask"].sum())
        return ((big, small) for i, big in enumerate(order) for small in order[i + 1 :])

    def joins(big, small) -> bool:
        if np.linalg.norm(np.subtract(big["mean_rgb"], small["mean_rgb"])) > SAME_COLOUR_RGB:
            return False
        if chromaticity_distance(big["mean_rgb"], small["mean_rgb"]) >= SAME_PAINT_CHROMA:
            return False  # two paints of one brightness: touching objects that clutter.lccp_labels cut apart
        if cut is not None and _parted_at_a_crease(cut, big["mask"], small["mask"]):
            return False
        gaps = cKDTree(big["points_world"]).query(
            small["points_world"], distance_upper_bound=SAME_COLOUR_GAP_M
        )[0]
        return bool(gaps.min() <= SAME_COLOUR_GAP_M)

    return _merge_while(scene, plane, grid, heights, objects, table_noise, pairs, joins)


ROW_GAP_M = 0.06
"""Pieces of one row are at most this far apart in 3D: the part of the row between them that no depth was
measured on (book-0064: 18 mm from the near bookend to the rest; book-0034: 19 mm; book-0033: 40 mm). The
book to be shelved can lie as close (book-0013: 55 mm, in line with the row), so it is kept apart by name."""
ROW_SLACK_M = 0.01
"""Joined pieces continue one line: the union is at most this much wider across its row than the wider piece."""


def join_row_pieces(
    scene: ScenePackage, plane: Plane, objects: list[SceneObject], keep_apart: Collection[int] = ()
) -> list[SceneObject]:
    """``objects`` (from :func:`segment_objects`) with the pieces of a row of things standing side by side
    joined (see :func:`_join_row_pieces`); the objects indexed in ``keep_apart`` (what the prompt asks to
    move) are never joined. Asked for when the prompt's goal is a shelf.

    A shelf's books and bookends touch and differ in colour, so the clutter cut (``split_touching``) parts
    them; a shelf is their union. The row is therefore read from the fallback segmentation (every continuous
    surface one object): an object there made of one piece in ``keep_apart`` stays apart."""
    _, _, grid, heights, _, _ = _measured(scene, plane)
    keep_apart = set(keep_apart)
    whole = segment_objects(scene, plane, split_touching=False, refuse_depth_holes=False)
    covered = np.zeros(scene.depth_m.shape, dtype=bool)
    apart, rest = [], []
    for fallback in whole:
        pieces = [o for o in objects if (o.mask & fallback.mask).sum() > 0.5 * o.pixel_count]
        item = (fallback.image_centroid, _fields_of(fallback))
        alone = len(pieces) == 1 and pieces[0].index in keep_apart
        (apart if alone else rest).append(item)
        covered |= fallback.mask
    for o in objects:  # anything the fallback did not find stays as it was
        if (o.mask & covered).sum() <= 0.5 * o.pixel_count:
            (apart if o.index in keep_apart else rest).append((o.image_centroid, _fields_of(o)))
    joined = _join_row_pieces(scene, plane, grid, heights, rest, _table_noise(plane)) + apart
    joined.sort(key=lambda item: (item[0][1], item[0][0]))
    return [SceneObject(index=i, **f) for i, (_, f) in enumerate(joined)]


def _fields_of(o: SceneObject) -> dict:
    return {f.name: getattr(o, f.name) for f in dataclasses.fields(o) if f.name != "index"}


def _join_row_pieces(scene, plane, grid, heights, objects, table_noise):
    """Join two pieces of one row of things standing side by side on a board (a shelf's bookends and books).

    Seen along the camera's line of sight, such a row is cut where a tall near part hides the board behind
    it: the near bookend comes out as a thin box beside the rest (book-0064), or the row as two "containers"
    (book-0100). Two pieces join when they nearly touch (:data:`ROW_GAP_M`), continue one line (the union is
    no wider across its long axis than the wider piece, :data:`ROW_SLACK_M`), and their union is a container
    with a floor: the board. Trade-off: something standing in line with a shelf's row and close to its end
    becomes part of the shelf, as an obstacle it would be anyway."""

    def across_extent(points: np.ndarray, yaw: float) -> float:
        uv = plane.to_plane_coords(points)[:, :2]
        t = uv @ np.array([-np.sin(yaw), np.cos(yaw)])
        lo, hi = np.percentile(t, [2, 98])
        return float(hi - lo)

    def join(objects):
        order = sorted(range(len(objects)), key=lambda k: -objects[k][1]["mask"].sum())
        for i, a in enumerate(order):
            for b in order[i + 1 :]:
                pa, pb = objects[a][1]["points_world"], objects[b][1]["points_world"]
                if cKDTree(pa).query(pb, distance_upper_bound=ROW_GAP_M)[0].min() > ROW_GAP_M:
                    continue
                merged = _merged(scene, plane, grid, heights, objects, a, b, table_noise)
                if merged is None:
                    continue
                union = merged[-1][1]
                if union["shape"] != "container" or union["floor_height"] is None:
                    continue
                wider = max(across_extent(pa, union["yaw"]), across_extent(pb, union["yaw"]))
                if across_extent(union["points_world"], union["yaw"]) <= wider + ROW_SLACK_M:
                    return merged
        return None

    while (joined := join(objects)) is not None:
        objects = joined
    return objects


def _is_fringe(fields: dict, min_height_m: float) -> bool:
    length, width, top = fields["extents"]
    return top <= min_height_m + FRINGE_RISE_M and min(length, width) < FRINGE_WIDTH_M


def _lccp(grid, rgb, above, pixel_size, tolerance, camera_position):
    """:func:`lccp_labels`, with the few pixels it leaves unlabelled given their nearest patch's label."""
    labels, cut_pairs = lccp_labels(grid, rgb, above, pixel_size, tolerance, camera_position)
    missing = above & (labels < 0)
    if missing.any() and (labels >= 0).any():
        _, (nearest_rows, nearest_cols) = ndimage.distance_transform_edt(labels < 0, return_indices=True)
        labels = np.where(missing, labels[nearest_rows, nearest_cols], labels)
    return labels, cut_pairs


def _connected_by_distance(grid: np.ndarray, above: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Label 8-connected components of ``above`` whose neighbouring 3D points are within ``tolerance``.

    8-connectivity keeps thin walls (a bin rim one or two pixels wide) in one piece at their corners.
    Returns H×W int labels, -1 outside ``above``.
    """
    height_px, width_px = above.shape
    ids = np.arange(height_px * width_px).reshape(height_px, width_px)
    sources, targets = [], []
    everything, drop_last, drop_first = slice(None), slice(None, -1), slice(1, None)
    for a, b in (
        ((everything, drop_last), (everything, drop_first)),  # right
        ((drop_last, everything), (drop_first, everything)),  # below
        ((drop_last, drop_last), (drop_first, drop_first)),  # below right
        ((drop_last, drop_first), (drop_first, drop_last)),  # below left
    ):
        both = above[a] & above[b]
        gap = np.linalg.norm(np.nan_to_num(grid[a] - grid[b], nan=np.inf), axis=-1)
        linked = both & (gap < np.minimum(tolerance[a], tolerance[b]))
        sources.append(ids[a][linked])
        targets.append(ids[b][linked])
    sources_all, targets_all = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix(
        (np.ones(len(sources_all), dtype=np.int8), (sources_all, targets_all)),
        shape=(height_px * width_px, height_px * width_px),
    )
    _, labels = connected_components(graph, directed=False)
    labels = labels.reshape(height_px, width_px)
    return np.where(above, labels, -1)


def _describe(
    scene: ScenePackage,
    plane: Plane,
    mask: np.ndarray,
    grid: np.ndarray,
    heights: np.ndarray,
    other_labels: np.ndarray,
    claimable: np.ndarray,
    table_noise: float,
) -> tuple[tuple[float, float], dict] | None:
    """Measure one component; ``None`` when it is too degenerate to have a footprint (a sliver).

    ``other_labels`` holds the labels of the pieces not yet given to an object (-1 elsewhere); pieces that
    hug this component's footprint outline join it. ``claimable`` marks pixels the component may take over
    when it encloses them in the image and they lie inside its footprint (table-level or flat pieces: a
    container's floor).
    """
    footprint = _footprint(plane.to_plane_coords(grid[mask])[:, :2])
    if footprint is None:
        return None

    # Outer wall faces seen at grazing angles split off at the rim when the camera looks steeply down on a
    # bin. A piece touching the object in the image whose points all lie on its footprint outline is such
    # a face; a separate object (even one standing inside a bin) spans more than the outline.
    viewing_range = float(np.median(np.linalg.norm(grid[mask] - scene.camera.extrinsic[:3, 3], axis=1)))
    skin = max(0.01, 2.0 * viewing_range / min(scene.camera.fx, scene.camera.fy))  # ≥ two pixel footprints
    touching = np.unique(other_labels[ndimage.binary_dilation(mask, iterations=2)])
    merged = False
    for piece in touching[touching >= 0]:
        piece_mask = other_labels == piece
        piece_uv = plane.to_plane_coords(grid[piece_mask])[:, :2]
        outline_distance = np.max(
            piece_uv @ footprint[0].equations[:, :2].T + footprint[0].equations[:, 2], axis=1
        )
        if np.all(np.abs(outline_distance) <= skin):
            mask = mask | piece_mask
            merged = True
    if merged:
        footprint = _footprint(plane.to_plane_coords(grid[mask])[:, :2])
    hull, centre_uv, (length, width), yaw, roundness = footprint
    points_world = grid[mask]

    # A container's interior floor can sit within min_height of the table (thin-floored bins), or split off
    # at the rim's depth jump. Those pixels are enclosed by the rim in the image and lie inside the
    # footprint: claim them for this object.
    enclosed = ndimage.binary_fill_holes(mask) & claimable & (np.nan_to_num(heights, nan=-1) > -table_noise)
    if enclosed.any():
        enclosed_uv = plane.to_plane_coords(grid[enclosed])[:, :2]
        inside = _inside_hull(hull, enclosed_uv, margin=0.0)
        rows, cols = np.nonzero(enclosed)
        mask = mask.copy()
        mask[rows[inside], cols[inside]] = True
        points_world = grid[mask]

    uvh = plane.to_plane_coords(points_world)
    point_heights = uvh[:, 2]
    top_height = float(np.percentile(point_heights, 98))
    if top_height <= 0:
        return None
    # Nothing seen in the lower half of its height: it hangs above the table (the robot's own tucked hand
    # at the edge of the workspace), it does not stand on it. An object whose base a nearer one hides still
    # shows most of its height. The lowest percent, not the lowest 5 %: a round object lying on its side shows
    # mostly its upper half, and only a sliver of its flank comes down towards the table (at 5 % a fallen
    # bottle 5 cm thick read as floating in 4 of 14 upright worlds).
    if float(np.percentile(point_heights, 1)) > max(FLOATING_MIN_GAP_M, 0.5 * top_height):
        return None

    # Hollow: the camera sees points well below the rim *through the inside* of the footprint. On a solid
    # object a ray never crosses the object before reaching a visible point, so stepping back along the ray
    # from a visible side point leaves the footprint; from a bin's inner wall or floor it stays inside, below
    # the rim. This works whether the floor or only the far inner wall is visible.
    camera_position = scene.camera.extrinsic[:3, 3]
    rays = points_world - camera_position
    ranges = np.linalg.norm(rays, axis=1, keepdims=True)
    step_back = np.maximum(0.015, 2.0 * ranges / min(scene.camera.fx, scene.camera.fy))
    behind_uvh = plane.to_plane_coords(points_world - step_back * rays / ranges)
    low = point_heights < top_height - max(0.02, 0.3 * top_height)
    seen_through_inside = (
        low & _inside_hull(hull, behind_uvh[:, :2], margin=0.003) & (behind_uvh[:, 2] < top_height - 0.01)
    )
    floor_height = None
    if seen_through_inside.sum() >= max(8, 0.05 * len(point_heights)):
        shape = "container"
        # The lowest surfaces seen inside; an upper bound on the floor when only the far wall is visible.
        floor_height = float(max(np.percentile(point_heights[seen_through_inside], 5), 0.0))
    elif roundness < ROUND_FOOTPRINT_MAX_FILL:
        shape = "cylinder"
    else:
        shape = "box"

    rows, cols = np.nonzero(mask)
    pixels_rgb = scene.rgb[mask].reshape(-1, 3).astype(np.float64)
    mean_rgb = pixels_rgb.mean(axis=0)
    colours = object_colours(pixels_rgb)
    centre_world = plane.from_plane_coords(np.array([[centre_uv[0], centre_uv[1], 0.0]]))[0]
    fields = {
        "mask": mask,
        "pixels": np.stack([rows, cols], 1),
        "points_world": points_world,
        "mean_rgb": tuple(mean_rgb),
        "colour": colours[0],
        "colours": colours,
        "shape": shape,
        "centre_world": tuple(centre_world),
        "top_height": top_height,
        "extents": (length, width, top_height),
        "yaw": yaw,
        "roundness": roundness,
        "floor_height": floor_height,
    }
    return (float(rows.mean()), float(cols.mean())), fields


def _footprint(uv: np.ndarray):
    """Convex hull, minimum-area rectangle (centre, (length, width), yaw) and fill ratio of 2D points."""
    if len(uv) < 3:
        return None
    try:
        hull = ConvexHull(uv)
    except QhullError:
        return None  # collinear points: a one-pixel sliver
    vertices = uv[hull.vertices]
    edges = np.roll(vertices, -1, axis=0) - vertices
    angles = np.arctan2(edges[:, 1], edges[:, 0])
    best = None
    for angle in angles:
        c, s = np.cos(angle), np.sin(angle)
        local = vertices @ np.array([[c, -s], [s, c]])  # coordinates along (angle, angle + 90°)
        low, high = local.min(axis=0), local.max(axis=0)
        area = float(np.prod(high - low))
        if best is None or area < best[0]:
            best = (area, angle, low, high)
    area, angle, low, high = best
    mid = (low + high) / 2.0
    c, s = np.cos(angle), np.sin(angle)
    centre = np.array([c * mid[0] - s * mid[1], s * mid[0] + c * mid[1]])
    sides = high - low
    if sides[1] > sides[0]:
        sides = sides[::-1]
        angle += np.pi / 2
    yaw = float((angle + np.pi / 2) % np.pi - np.pi / 2)  # (-π/2, π/2]: a footprint axis has no direction
    if yaw <= -np.pi / 2 + 1e-12:
        yaw += np.pi
    roundness = float(hull.volume / area) if area > 0 else 1.0  # 2D hull "volume" is its area
    return hull, centre, (float(sides[0]), float(sides[1])), yaw, roundness


def _inside_hull(hull: ConvexHull, uv: np.ndarray, margin: float) -> np.ndarray:
    """Points inside the hull at least ``margin`` from every edge (hull equations have unit normals)."""
    signed = uv @ hull.equations[:, :2].T + hull.equations[:, 2]
    return np.all(signed <= -margin, axis=1)
