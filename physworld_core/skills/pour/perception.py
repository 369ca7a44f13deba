"""The vessel to pour from, as one view sees it: where its axis stands, how wide and tall it is, and what lies
inside it.

Why this exists: to pour, the video must lift the cup over the bowl and tip it so its lip stays over the bowl,
and show what was in it falling out; the reconstruction and the twin need the same cup. Segmentation already
says the cup is a container (it sees its floor through its mouth); this module measures it as a cup.

- The axis and the outer radius come from a circle fitted to the outline of the cup's points on the table
  plane: per sector of directions around the footprint centre, the point farthest out. A camera above the
  table sees the rim's whole top, so the outline goes all round even where the wall faces away. The outermost
  point of a sector is a pixel centre, a fraction of a pixel inside the true outline: the radius reads about
  a quarter of a pixel small (1–2 mm at the benchmark camera's 6.5 mm pixels), and is not corrected.
- The height is the rim's (the cup's top height), the floor the lowest surfaces seen through its mouth
  (segmentation's floor height: the floor, or the top of what covers it).
- The contents are the points seen inside the mouth, below the rim, whose chromaticity differs from every
  point of the cup's upper half (:data:`CONTENTS_CHROMA_DISTANCE`). Chromaticity, not colour: the inside of a
  cup is in its own shadow, which changes how bright its wall looks but not its hue. The upper half is the
  cup's own colour as long as the contents fill less than half of it; a cup filled higher reads as its
  contents' colour there, and its contents are then not seen apart from it.

Heights are measured above the support plane; every point is in the world frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from physworld_core.errors import GroundingError
from physworld_core.perception.grounding import Grounding
from physworld_core.perception.language import Instruction
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject
from physworld_core.perception.skill import SkillPerception
from physworld_core.robot import PANDA
from physworld_core.scene import ScenePackage
from physworld_core.skills.registry import skill_of

HAND_HELD_MAX_WIDTH_M = PANDA.gripper_max_width
"""A vessel to pour from is lifted and tipped in one hand, its fingers closed across it: its footprint is at
most the gripper's opening wide."""


def pouring_shape_score(asked: str | None, seen: SceneObject) -> float | None:
    """Agreement of a vessel to pour from (pour skill) with a seen object.

    An open container the hand can close across fits best; a wider one (a basin, more likely the container
    poured into) fits less, so that a cup whose colour reads like the bowl's (an orange mug in shadow reads
    brown, like a brown bowl) is told from the bowl by its size. A solid round object still qualifies, at half
    the score, so that a vessel whose inside the camera does not see is grounded and refused with that reason
    (:func:`pour_view`) rather than reported missing."""
    if asked is None:
        return 0.0
    if seen.shape == "container":
        return 1.0 if seen.extents[1] <= HAND_HELD_MAX_WIDTH_M else 0.75
    if seen.shape == "cylinder":
        return 0.5
    return None


OUTLINE_SECTORS = 24
"""Directions around the footprint centre in which the outermost point is taken for the circle fit."""

MIN_OUTLINE_SECTORS = 8
"""Fewer sectors holding points than this do not pin a circle down (a sliver of a cup)."""

MOUTH_FRACTION = 0.85
"""Points within this fraction of the outer radius from the axis are inside the mouth (a cup's wall is a
tenth to a sixth of its radius thick); points farther out are its wall."""

RIM_BAND_M = 0.005
"""Points this close below the rim are the rim itself, not something inside."""

CONTENTS_CHROMA_DISTANCE = 0.05
"""A point inside the mouth is contents when its chromaticity (r, g, b) / (r + g + b) is at least this far from
that of every point of the cup's upper half. Distinct palette colours lie 0.09 (yellow marbles in an orange
mug) to 0.47 apart; shading moves a surface's chromaticity by far less (the cup's floor and wall: 0.00 in the
pour benchmark's renders)."""

MIN_CHROMA_BRIGHTNESS = 60.0
"""Pixels darker than this (sum of r, g, b) have no reliable chromaticity and are never called contents."""


@dataclass(frozen=True, eq=False)
class PourView:
    """The open container to pour from, as seen, and what is seen inside it.

    Args:
        centre: world point where the cup's axis meets the table plane.
        outer_radius: radius of the cup's outer wall, metres (circle fitted to its outline).
        height: the rim's height above the plane, metres.
        floor_height: the interior floor's height above the plane, or of the top of what lies on it, metres.
        contents_points: M×3 world points seen inside the mouth that are not the cup's own colour (M may be 0).
        contents_pixels: M×2 (row, col) image pixels of ``contents_points``, aligned with them.
        contents_rgb: their mean colour 0–255, ``None`` when none are seen.
        contents_top: robust top (90th percentile) height of the contents above the plane, ``None`` when none
            are seen.
    """

    centre: tuple[float, float, float]
    outer_radius: float
    height: float
    floor_height: float
    contents_points: np.ndarray
    contents_pixels: np.ndarray
    contents_rgb: tuple[float, float, float] | None
    contents_top: float | None

    def __post_init__(self) -> None:
        centre = tuple(float(v) for v in self.centre)
        if len(centre) != 3 or not all(np.isfinite(centre)):
            raise ValueError(f"PourView.centre must be 3 finite numbers, got {self.centre!r}")
        object.__setattr__(self, "centre", centre)
        for name in ("outer_radius", "height"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"PourView.{name} must be positive, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not (np.isfinite(self.floor_height) and 0 <= self.floor_height < self.height):
            raise ValueError(
                f"PourView.floor_height must lie in [0, height={self.height}), got {self.floor_height!r}"
            )
        object.__setattr__(self, "floor_height", float(self.floor_height))
        points = np.asarray(self.contents_points, dtype=np.float64).reshape(-1, 3)
        pixels = np.asarray(self.contents_pixels, dtype=np.int64).reshape(-1, 2)
        if len(pixels) != len(points) or not np.all(np.isfinite(points)):
            raise ValueError(
                f"PourView.contents_points (M×3, finite) and contents_pixels (M×2) must align, got "
                f"{points.shape} and {pixels.shape}"
            )
        seen = len(points) > 0
        if (self.contents_rgb is not None) != seen or (self.contents_top is not None) != seen:
            raise ValueError(
                "PourView.contents_rgb and contents_top are given exactly when contents are seen"
            )
        for array in (points, pixels):
            array.setflags(write=False)
        object.__setattr__(self, "contents_points", points)
        object.__setattr__(self, "contents_pixels", pixels)
        if seen:
            object.__setattr__(self, "contents_rgb", tuple(float(v) for v in self.contents_rgb))
            object.__setattr__(self, "contents_top", float(self.contents_top))

    @property
    def contents_seen(self) -> bool:
        return len(self.contents_points) > 0

    @property
    def centre_array(self) -> np.ndarray:
        return np.asarray(self.centre, dtype=np.float64)

    def to_dict(self) -> dict:
        """JSON-friendly: the contents as a count and their bounds, not every point."""
        points = self.contents_points
        return {
            "centre": list(self.centre),
            "outer_radius": self.outer_radius,
            "height": self.height,
            "floor_height": self.floor_height,
            "contents_count": len(points),
            "contents_rgb": None if self.contents_rgb is None else list(self.contents_rgb),
            "contents_top": self.contents_top,
            "contents_bounds_world": (
                None if len(points) == 0 else [points.min(axis=0).tolist(), points.max(axis=0).tolist()]
            ),
        }


def pour_view(target: SceneObject, plane: Plane, scene: ScenePackage, name: str) -> PourView:
    """Measure the vessel ``target`` to pour from and what is seen inside it (see the module docstring).

    Args:
        target: the grounded vessel.
        plane: the support plane.
        scene: the RGB-D frame the target was segmented from (its colours tell contents from the cup).
        name: how to name the vessel in errors.

    Raises:
        GroundingError: the target is not an open container (no inside seen: nothing to pour out of), is too
            wide for the hand to hold across, or shows too little of its outline to measure.
    """
    size = " × ".join(f"{100 * e:.1f}" for e in target.extents)
    if target.shape != "container":
        raise GroundingError(
            f"the {name} is not an open container, so there is nothing to pour out of: it reads as a solid "
            f"{target.shape} ({size} cm) whose inside the camera does not see"
        )
    if target.extents[1] > HAND_HELD_MAX_WIDTH_M:
        raise GroundingError(
            f"the {name} is {100 * target.extents[1]:.1f} cm across, wider than the gripper opens "
            f"({100 * HAND_HELD_MAX_WIDTH_M:.0f} cm): it cannot be lifted and tipped to pour"
        )
    uvh = plane.to_plane_coords(target.points_world)
    uv, heights = uvh[:, :2], uvh[:, 2]
    centre_uv, outer_radius = _fit_outline_circle(
        uv, plane.to_plane_coords(np.asarray([target.centre_world]))[0, :2], name
    )
    height = float(target.top_height)
    floor_height = float(min(max(target.floor_height, 0.0), 0.9 * height))

    rgb = scene.rgb[target.pixels[:, 0], target.pixels[:, 1]].astype(np.float64)
    brightness = rgb.sum(axis=1)
    chroma = rgb / np.maximum(brightness, 1.0)[:, None]
    radial = np.linalg.norm(uv - centre_uv, axis=1)
    own = (heights >= 0.5 * height) & (brightness >= MIN_CHROMA_BRIGHTNESS)
    inside = (radial < MOUTH_FRACTION * outer_radius) & (heights < height - RIM_BAND_M)
    inside &= brightness >= MIN_CHROMA_BRIGHTNESS
    contents = np.zeros(len(heights), dtype=bool)
    if own.any() and inside.any():
        distance = cKDTree(chroma[own]).query(chroma[inside])[0]
        contents[np.nonzero(inside)[0][distance >= CONTENTS_CHROMA_DISTANCE]] = True
    seen = bool(contents.any())
    return PourView(
        centre=tuple(plane.from_plane_coords(np.array([[centre_uv[0], centre_uv[1], 0.0]]))[0]),
        outer_radius=outer_radius,
        height=height,
        floor_height=floor_height,
        contents_points=target.points_world[contents],
        contents_pixels=target.pixels[contents],
        contents_rgb=tuple(rgb[contents].mean(axis=0)) if seen else None,
        contents_top=float(np.percentile(heights[contents], 90)) if seen else None,
    )


def _fit_outline_circle(uv: np.ndarray, start: np.ndarray, name: str) -> tuple[np.ndarray, float]:
    """(centre, radius) of the circle through the outermost point of each sector around the centre, refitted
    three times about the new centre; sector points far off the circle (a stray pixel) are dropped once."""
    centre = np.asarray(start, dtype=np.float64)
    radius = 0.0
    for _ in range(3):
        offsets = uv - centre
        distances = np.linalg.norm(offsets, axis=1)
        sectors = (
            np.floor(
                (np.arctan2(offsets[:, 1], offsets[:, 0]) + np.pi) / (2 * np.pi) * OUTLINE_SECTORS
            ).astype(int)
            % OUTLINE_SECTORS
        )
        outermost = np.array(
            [np.flatnonzero(sectors == s)[np.argmax(distances[sectors == s])] for s in np.unique(sectors)]
        )
        if len(outermost) < MIN_OUTLINE_SECTORS:
            raise GroundingError(
                f"the {name} shows its outline in only {len(outermost)} of {OUTLINE_SECTORS} directions; at "
                f"least {MIN_OUTLINE_SECTORS} are needed to measure it as a cup"
            )
        centre, radius = _circle_through(uv[outermost])
        residual = np.abs(np.linalg.norm(uv[outermost] - centre, axis=1) - radius)
        spread = 1.4826 * float(np.median(residual)) + 1e-4
        kept = outermost[residual <= 3.0 * spread]
        if MIN_OUTLINE_SECTORS <= len(kept) < len(outermost):
            centre, radius = _circle_through(uv[kept])
    if not (np.isfinite(radius) and radius > 0):
        raise GroundingError(f"the {name}'s outline does not fit a circle")
    return centre, float(radius)


def _circle_through(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares circle (Kåsa): |p|² = 2 c·p + (r² − |c|²), linear in c and r² − |c|²."""
    design = np.c_[2.0 * points, np.ones(len(points))]
    solution = np.linalg.lstsq(design, (points**2).sum(axis=1), rcond=None)[0]
    centre = solution[:2]
    return centre, float(np.sqrt(max(solution[2] + centre @ centre, 0.0)))


POUR_MIN_OFFSET_M = 0.005
"""A vessel standing closer than this to the goal's centre has no way to pour into it."""


def pour_direction(view: PourView, goal: SceneObject, plane: Plane) -> np.ndarray:
    """The horizontal world unit vector from the vessel's axis towards the goal's centre: the way it pours (the
    video tips it that way, and reconstruction fits the tip about the axis square to it).

    Raises:
        GroundingError: the vessel stands within :data:`POUR_MIN_OFFSET_M` of the goal's centre.
    """
    up = plane.normal_array
    towards = np.asarray(goal.centre_world) - view.centre_array
    towards -= (towards @ up) * up
    norm = float(np.linalg.norm(towards))
    if norm < POUR_MIN_OFFSET_M:
        raise GroundingError(
            f"the vessel to pour from stands on the centre of the {goal.description} to pour into, so there is "
            "no way to pour it"
        )
    return towards / norm


class PourPerception(SkillPerception):
    """The vessel to pour from is judged as an open container the hand can hold (:func:`pouring_shape_score`);
    the view measures it as a cup and tells what it holds by colour through its mouth (:func:`pour_view`). A
    vessel whose inside is not seen is refused here, with what was seen."""

    name = skill_of(__name__)
    target_scorer = staticmethod(pouring_shape_score)
    view_type = PourView

    def view(
        self,
        scene: ScenePackage,
        plane: Plane,
        objects: list[SceneObject],
        instruction: Instruction,
        grounding: Grounding,
    ) -> PourView:
        return pour_view(
            grounding.target,
            plane,
            scene,
            name=f"{grounding.target.description} (the {instruction.object_phrase})",
        )


HOOKS = PourPerception()
