"""The brush, the dustpan and the scraps of a sweep, as bodies.

Why not the general completion: a brush is a tool whose use depends on which end is which, and a completed hull
of its seen points would be one convex lump with no head to sweep with and no handle to hold. Perception measures
it as a head and a handle (:func:`~physworld_core.skills.sweep.perception.sweep_view`), so it is modelled as exactly those two
boxes, in a frame whose +x is the way the head faces. The world and the twin then frame the brush the same way,
and the centre of its bounding box (what plans speak of) is the same point in both. A dustpan is a fixture
whose ramp matters (the scraps are pushed up it onto the floor): it is modelled as its convex parts, not as box
walls. A scrap is a small box standing on the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from physworld_core.errors import ReconstructionError
from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.reconstruction.geometry import convex_mesh
from physworld_core.reconstruction.skill import Fixture3D, SkillReconstruction, TargetModel
from physworld_core.reconstruction.types import Fixture, ReconstructedObject, Trajectory
from physworld_core.skills.registry import skill_of


@dataclass(frozen=True)
class DustpanGeometry(Fixture):
    """A dustpan lying on the table, in its own frame: origin on the table at the middle of its mouth (where the
    ramp of its lip meets its floor), +x into the pan towards its back wall, z up.

    Args:
        inner_width: between its side walls.
        depth: from the mouth to the back wall's inner face.
        floor_height: the floor's top above the table (the ramp rises to it).
        lip_length: how far the ramp reaches out in front of the mouth (-x).
        wall_height: the back wall's top above the table; the side walls taper from it to
            :data:`DUSTPAN_MOUTH_WALL_FRACTION` of it at the mouth.
        wall_thickness: of every wall.
    """

    kind: ClassVar[str] = "dustpan"
    inner_width: float
    depth: float
    floor_height: float
    lip_length: float
    wall_height: float
    wall_thickness: float

    def __post_init__(self) -> None:
        sizes = (self.inner_width, self.depth, self.floor_height, self.lip_length, self.wall_thickness)
        if min(sizes) <= 0 or self.wall_height <= self.floor_height:
            raise ValueError(f"dustpan geometry must be positive, its walls above its floor, got {self}")

    @property
    def inner_half(self) -> tuple[float, float]:
        """Half the interior along x (mouth to back wall) and across."""
        return (self.depth / 2, self.inner_width / 2)

    def part_points(self) -> list[np.ndarray]:
        """Corner points of each convex part (floor, ramp, back wall, two side walls) in the dustpan frame: the
        ramp is what lets a brush push a scrap up onto the floor, which a box-walled model would block."""
        w, t, f, h = self.inner_width / 2, self.wall_thickness, self.floor_height, self.wall_height
        h_mouth = max(DUSTPAN_MOUTH_WALL_FRACTION * h, f + 0.002)
        back_x = self.depth + t

        def prism(xz: list[tuple[float, float]], y0: float, y1: float) -> np.ndarray:
            return np.array([[x, y, z] for x, z in xz for y in (y0, y1)], dtype=np.float64)

        side = [(0.0, 0.0), (self.depth, 0.0), (self.depth, h), (0.0, h_mouth)]
        return [
            prism([(0.0, 0.0), (back_x, 0.0), (back_x, f), (0.0, f)], -w - t, w + t),
            prism([(-self.lip_length, 0.0), (0.0, 0.0), (0.0, f)], -w - t, w + t),
            prism([(self.depth, 0.0), (back_x, 0.0), (back_x, h), (self.depth, h)], -w - t, w + t),
            prism(side, w, w + t),
            prism(side, -w - t, -w),
        ]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "inner_width": self.inner_width,
            "depth": self.depth,
            "floor_height": self.floor_height,
            "lip_length": self.lip_length,
            "wall_height": self.wall_height,
            "wall_thickness": self.wall_thickness,
        }

    def convex_parts(self) -> list[np.ndarray]:
        return self.part_points()

    @classmethod
    def from_dict(cls, d: dict) -> DustpanGeometry:
        return cls(**{k: v for k, v in d.items() if k != "kind"})


DUSTPAN_MOUTH_WALL_FRACTION = 0.4
"""A dustpan's side walls at its mouth, as a share of the back wall's height (they slope down to the mouth)."""


SCRAP_MIN_HALF_M = 0.003
"""A scrap is modelled at least this big along each axis: smaller, and the simulator's contact offsets are a
large part of it."""


def _box_points(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _union(point_sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices, faces, face_part) of the convex hulls of ``point_sets``, one part each."""
    vertices, faces, parts, offset = [], [], [], 0
    for k, points in enumerate(point_sets):
        v, f = convex_mesh(np.asarray(points, dtype=np.float64))
        vertices.append(v)
        faces.append(f + offset)
        parts.append(np.full(len(f), k, dtype=np.int64))
        offset += len(v)
    return np.vstack(vertices), np.vstack(faces), np.concatenate(parts)


def brush_parts(
    head_width: float,
    head_depth: float,
    head_height: float,
    handle_length: float,
    handle_width: float,
    handle_height: float,
) -> list[np.ndarray]:
    """Corner points of the head (part 0) and the handle (part 1) in the brush frame: origin on the table at
    the head's footprint centre, +x the way the head faces, the handle behind it along -x overlapping the head's
    back by a millimetre (so the union is one body)."""
    sizes = (head_width, head_depth, head_height, handle_length, handle_width, handle_height)
    if min(sizes) <= 0:
        raise ValueError(f"brush sizes must be positive, got {sizes}")
    head = _box_points(
        np.array([-head_depth / 2, -head_width / 2, 0.0]),
        np.array([head_depth / 2, head_width / 2, head_height]),
    )
    back = -head_depth / 2 - handle_length
    handle = _box_points(
        np.array([back, -handle_width / 2, 0.0]),
        np.array([-head_depth / 2 + 0.001, handle_width / 2, handle_height]),
    )
    return [head, handle]


def brush_model(head_centre: np.ndarray, facing: np.ndarray, **sizes: float):
    """(vertices, faces, face_part, pose) of the brush standing at ``head_centre`` (world, on the table), its
    head facing the horizontal direction ``facing``. ``sizes``: as :func:`brush_parts`."""
    v, f, part = _union(brush_parts(**sizes))
    return v, f, part, _yawed_pose(head_centre, facing)


def dustpan_model(geometry: DustpanGeometry, mouth: np.ndarray, into_pan: np.ndarray):
    """(geometry, display vertices, faces, pose) of the dustpan with its mouth's middle at ``mouth`` (world, on
    the table), ``into_pan`` the horizontal direction from the mouth to its back wall."""
    v, f, _ = _union(geometry.part_points())
    return geometry, v, f, _yawed_pose(mouth, into_pan)


def scrap_model(centre: np.ndarray, half_size: np.ndarray, yaw: float, table_height: float):
    """(vertices, faces, pose) of a scrap as a box on the table (its frame: origin at its footprint centre on
    the table, turned by ``yaw``): a puck is modelled by the box around it, which slides the same way."""
    h = np.maximum(np.asarray(half_size, dtype=np.float64), SCRAP_MIN_HALF_M)
    v, f = convex_mesh(_box_points(np.array([-h[0], -h[1], 0.0]), np.array([h[0], h[1], 2 * h[2]])))
    base = np.array([centre[0], centre[1], table_height])
    return v, f, _yawed_pose(base, np.array([np.cos(yaw), np.sin(yaw)]))


def _yawed_pose(origin: np.ndarray, heading: np.ndarray) -> np.ndarray:
    heading = np.asarray(heading, dtype=np.float64)[:2]
    c, s = heading / np.linalg.norm(heading)
    pose = np.eye(4)
    pose[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    pose[:3, 3] = np.asarray(origin, dtype=np.float64)[:3]
    return pose


DUSTPAN_WALL_M = 0.007
"""A dustpan's wall thickness (a prior: from above, a 6–9 mm wall is one pixel)."""
SWEEP_VIDEO_MIN_TRAVEL_M = 0.05
"""A video that sweeps carries the brush at least this far towards the dustpan."""


def _is_scrap(seen: SceneObject, perception: Perception) -> bool:
    """A segmented object that is one of the scraps the sweep's view found (a camera with finer pixels than
    the benchmark's segments them): modelled once, as a scrap."""
    centre = np.asarray(seen.centre_world)[:2]
    return any(
        np.linalg.norm(centre - scrap.centre[:2]) < float(max(scrap.half_size[:2])) + 0.005
        for scrap in perception.view.scraps
    )


def _sweep(trajectory: Trajectory, perception: Perception, table_height: float) -> tuple[list, dict]:
    """The scraps as bodies (boxes standing on the table, see :mod:`.sweeping`), and how far the tracked video
    carries the brush towards the dustpan. A video that does not bring it at least
    :data:`SWEEP_VIDEO_MIN_TRAVEL_M` nearer is refused: the twin's goal would contradict what the video shows."""
    view = perception.view
    positions = trajectory.positions
    mouth = np.asarray(view.mouth)[:2]
    travel = float(np.linalg.norm(positions[0, :2] - mouth) - np.linalg.norm(positions[-1, :2] - mouth))
    if travel < SWEEP_VIDEO_MIN_TRAVEL_M:
        raise ReconstructionError(
            f"the prompt asks to sweep with the {perception.target.description}, but the tracked video brings it "
            f"only {travel * 1000:.0f} mm nearer the {perception.goal.description} (at least "
            f"{SWEEP_VIDEO_MIN_TRAVEL_M * 1000:.0f} mm expected): the video does not sweep"
        )
    noun = perception.instruction.contents_noun
    contents = []
    for i, scrap in enumerate(view.scraps):
        v, f, pose = scrap_model(scrap.centre, scrap.half_size, scrap.yaw, table_height)
        rgb = tuple(np.asarray(scrap.rgb) / 255.0)
        contents.append(ReconstructedObject(f"contents_{i}", "contents", noun or "scraps", v, f, pose, rgb))
    metrics = {
        "contents_noun": noun,
        "sweep": {
            "video_travel_m": travel,
            "scraps_count": len(contents),
            "head_width_m": float(view.head_width),
            "pan_inner_width_m": float(view.pan_inner_width),
            "pan_depth_m": float(view.pan_depth),
        },
    }
    return contents, metrics


class SweepReconstruction(SkillReconstruction):
    """The brush as a head and a handle, the dustpan as a fixture of convex parts, the scraps as boxes."""

    name = skill_of(__name__)
    fixture_types: ClassVar[dict] = {DustpanGeometry.kind: DustpanGeometry}

    def models_apart(self, seen: SceneObject, perception: Perception) -> bool:
        """A segmented scrap is modelled with the others, from the sweep's view (see :func:`_is_scrap`)."""
        return seen is not perception.target and _is_scrap(seen, perception)

    def goal_fixture(self, goal: SceneObject, perception: Perception, table_height: float) -> Fixture3D:
        view = perception.view
        geometry = DustpanGeometry(
            inner_width=view.pan_inner_width,
            depth=view.pan_depth,
            floor_height=view.pan_floor_height,
            lip_length=view.pan_lip_length,
            wall_height=view.pan_wall_height,
            wall_thickness=DUSTPAN_WALL_M,
        )
        mouth = np.array([view.mouth[0], view.mouth[1], table_height])
        return dustpan_model(geometry, mouth, view.into_pan)

    def target_model(
        self,
        seen: SceneObject,
        perception: Perception,
        table_height: float,
        complete: Callable[[], TargetModel],
    ) -> TargetModel:
        """A brush: its head and its handle as two boxes, in a frame facing the way the head does."""
        sweep = perception.view
        v, f, face_part, pose = brush_model(
            sweep.head_centre,
            sweep.facing,
            head_width=sweep.head_width,
            head_depth=sweep.head_depth,
            head_height=sweep.head_height,
            handle_length=sweep.handle_length,
            handle_width=sweep.handle_width,
            handle_height=sweep.handle_height,
        )
        return TargetModel(v, f, pose, face_part, (), False, "brush (head and handle)")

    def finish(
        self, target: ReconstructedObject, trajectory: Trajectory, perception: Perception, table_height: float
    ) -> tuple[list[ReconstructedObject], dict]:
        return _sweep(trajectory, perception, table_height)


HOOKS = SweepReconstruction()
