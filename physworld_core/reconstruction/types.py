"""What the reconstruction stage produces: object models in a gravity-aligned world frame and the target's
object-centric trajectory. Plain arrays + frozen dataclasses; JSON for the lake, meshes as blobs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ROLES = ("target", "container", "region", "support", "obstacle", "contents")
"""A "support" is a solid goal the target is put on top of (a block to stack on, a plate): a movable object
with a mesh like the target's, unlike a container (a fixture with walls) or a region (drawn, no body). "contents"
are what the target holds, to be poured out (balls in a cup)."""


@dataclass(frozen=True)
class ContainerGeometry:
    """An open-top box container in its own frame (origin: centre of the floor's underside, z up)."""

    inner_half: tuple[float, float]
    wall_height: float
    wall_thickness: float

    def __post_init__(self) -> None:
        if min(self.inner_half) <= 0 or self.wall_height <= 0 or self.wall_thickness <= 0:
            raise ValueError(f"container geometry must be positive, got {self}")

    def boxes(self) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
        """(centre, half size) of floor + four walls, in the container frame."""
        ix, iy = self.inner_half
        t, h = self.wall_thickness, self.wall_height
        return [
            ((0.0, 0.0, t / 2), (ix + t, iy + t, t / 2)),
            ((ix + t / 2, 0.0, h / 2), (t / 2, iy + t, h / 2)),
            ((-(ix + t / 2), 0.0, h / 2), (t / 2, iy + t, h / 2)),
            ((0.0, iy + t / 2, h / 2), (ix, t / 2, h / 2)),
            ((0.0, -(iy + t / 2), h / 2), (ix, t / 2, h / 2)),
        ]

    def to_dict(self) -> dict:
        return {
            "kind": "box",
            "inner_half": list(self.inner_half),
            "wall_height": self.wall_height,
            "wall_thickness": self.wall_thickness,
        }


Box = tuple[tuple[float, float, float], tuple[float, float, float]]
"""(centre, half size) of an axis-aligned box in a fixture's frame."""


@dataclass(frozen=True)
class ShelfGeometry:
    """A board with things standing on it in a row (bookends, books), and the row's free gap, in its own frame
    (origin: the footprint centre on the table, x along the row, z up).

    Args:
        board_half: half sizes of the board along and across the row.
        board_height: the board's top above the table.
        blocks: what stands on the board, as boxes from the board's top up (one per run along the row).
        slot_x: the free gap's middle along the row.
        slot_half_width: half its free width along the row.
    """

    board_half: tuple[float, float]
    board_height: float
    blocks: tuple[Box, ...]
    slot_x: float
    slot_half_width: float

    def __post_init__(self) -> None:
        if min(self.board_half) <= 0 or self.board_height <= 0 or self.slot_half_width <= 0:
            raise ValueError(f"shelf geometry must be positive, got {self}")
        if abs(self.slot_x) > self.board_half[0]:
            raise ValueError(f"the shelf's slot at x={self.slot_x:.3f} is off its board ({self.board_half})")

    @property
    def wall_height(self) -> float:
        """The highest point of the fixture above the table (what a carry must clear)."""
        return max([self.board_height] + [c[2] + h[2] for c, h in self.blocks])

    def boxes(self) -> list[Box]:
        h = self.board_height
        return [((0.0, 0.0, h / 2), (self.board_half[0], self.board_half[1], h / 2)), *self.blocks]

    def to_dict(self) -> dict:
        return {
            "kind": "shelf",
            "board_half": list(self.board_half),
            "board_height": self.board_height,
            "blocks": [[list(c), list(h)] for c, h in self.blocks],
            "slot_x": self.slot_x,
            "slot_half_width": self.slot_half_width,
        }


@dataclass(frozen=True)
class DustpanGeometry:
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
            "kind": "dustpan",
            "inner_width": self.inner_width,
            "depth": self.depth,
            "floor_height": self.floor_height,
            "lip_length": self.lip_length,
            "wall_height": self.wall_height,
            "wall_thickness": self.wall_thickness,
        }


DUSTPAN_MOUTH_WALL_FRACTION = 0.4
"""A dustpan's side walls at its mouth, as a share of the back wall's height (they slope down to the mouth)."""

FixtureGeometry = ContainerGeometry | ShelfGeometry | DustpanGeometry


def fixture_from_dict(d: dict) -> FixtureGeometry:
    """Inverse of ``to_dict`` of any fixture (a dict without "kind" is a box container, as first stored)."""
    if d.get("kind") == "dustpan":
        return DustpanGeometry(**{k: v for k, v in d.items() if k != "kind"})
    if d.get("kind", "box") == "shelf":
        return ShelfGeometry(
            board_half=tuple(d["board_half"]),
            board_height=d["board_height"],
            blocks=tuple((tuple(c), tuple(h)) for c, h in d["blocks"]),
            slot_x=d["slot_x"],
            slot_half_width=d["slot_half_width"],
        )
    return ContainerGeometry(
        inner_half=tuple(d["inner_half"]), wall_height=d["wall_height"], wall_thickness=d["wall_thickness"]
    )


@dataclass(frozen=True)
class RegionGeometry:
    """A flat goal marking on the table, in its own frame (origin at its centre on the plane, z up).

    Args:
        shape: "disc" (``half_extents[0]`` is the radius) or "box".
        half_extents: half sizes along the frame's x and y.
    """

    shape: str
    half_extents: tuple[float, float]

    def __post_init__(self) -> None:
        if self.shape not in ("disc", "box"):
            raise ValueError(f"region shape must be 'disc' or 'box', got {self.shape!r}")
        if min(self.half_extents) <= 0:
            raise ValueError(f"region half extents must be positive, got {self.half_extents}")

    def to_dict(self) -> dict:
        return {"shape": self.shape, "half_extents": list(self.half_extents)}


@dataclass(frozen=True)
class ReconstructedObject:
    """Args:
    name: unique within the scene ("target", "container", "obstacle_0", ...).
    role: one of ROLES.
    label: what grounding called it, e.g. "red cylinder".
    vertices, faces: watertight mesh in the object frame (origin at the footprint centre on the
        support plane, z up along the plane normal).
    pose_world: 4×4 object-to-world transform at the first frame.
    rgb: mean colour in [0, 1].
    container: set for role "container", a fixture: an open box, a shelf's board and row, or a dustpan (the
        mesh is then only for display).
    region: set for role "region" (a flat marking; the mesh is a thin plate for display, no collision).
    face_part: when the mesh is a union of convex parts (a lid and its knob, see ``reconstruction.layers``),
        the part each face belongs to; None for one part, or a mesh whose parts nobody knows.
    arm_parts: which of those parts are arms sticking out sideways from the body (a pan's handle, see
        ``reconstruction.arms``): what a prompt means by "by its handle".
    """

    name: str
    role: str
    label: str
    vertices: np.ndarray
    faces: np.ndarray
    pose_world: np.ndarray
    rgb: tuple[float, float, float]
    container: FixtureGeometry | None = None
    region: RegionGeometry | None = None
    face_part: np.ndarray | None = None
    arm_parts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"object {self.name}: role must be one of {ROLES}, got {self.role!r}")
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3 or len(self.vertices) < 4:
            raise ValueError(f"object {self.name}: needs >= 4 vertices, got {self.vertices.shape}")
        if self.pose_world.shape != (4, 4):
            raise ValueError(f"object {self.name}: pose_world must be 4x4")
        if self.role == "container" and self.container is None:
            raise ValueError(f"object {self.name}: a container needs its fixture geometry")
        if self.role == "region" and self.region is None:
            raise ValueError(f"object {self.name}: a region needs RegionGeometry")
        if self.face_part is not None and self.face_part.shape != (len(self.faces),):
            raise ValueError(
                f"object {self.name}: face_part needs one part index per face ({len(self.faces)}), "
                f"got shape {self.face_part.shape}"
            )
        if self.arm_parts and (
            self.face_part is None or not set(self.arm_parts) <= set(self.face_part.tolist())
        ):
            raise ValueError(f"object {self.name}: arm parts {self.arm_parts} are not parts of its mesh")

    def convex_parts(self) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """(vertices, faces) of each convex part, in the object frame, or None if the parts are not known."""
        if self.face_part is None:
            return None
        parts = []
        for part in np.unique(self.face_part):
            faces = self.faces[self.face_part == part]
            used, compact = np.unique(faces, return_inverse=True)
            parts.append((self.vertices[used], compact.reshape(faces.shape)))
        return parts


@dataclass(frozen=True)
class Trajectory:
    """Object-centric target trajectory: world poses (T×4×4) of the target's frame at ``times`` seconds."""

    times: np.ndarray
    poses_world: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        T = len(self.times)
        if T < 2 or self.poses_world.shape != (T, 4, 4) or self.confidence.shape != (T,):
            raise ValueError(f"trajectory shapes disagree: times {T}, poses {self.poses_world.shape}")
        if np.any(np.diff(self.times) <= 0):
            raise ValueError("trajectory times must increase")

    @property
    def positions(self) -> np.ndarray:
        return self.poses_world[:, :3, 3]

    def to_json_dict(self) -> dict:
        return {
            "times": self.times.tolist(),
            "poses_world": self.poses_world.tolist(),
            "confidence": self.confidence.tolist(),
        }

    @classmethod
    def from_json_dict(cls, d: dict) -> Trajectory:
        return cls(
            np.asarray(d["times"], float),
            np.asarray(d["poses_world"], float),
            np.asarray(d["confidence"], float),
        )


@dataclass(frozen=True)
class Reconstruction:
    """The support plane is ``{p : plane_normal · p = plane_offset}`` in the gravity-aligned world frame."""

    task_id: str
    plane_normal: tuple[float, float, float]
    plane_offset: float
    objects: tuple[ReconstructedObject, ...]
    trajectory: Trajectory
    metrics: dict = field(default_factory=dict)

    def by_role(self, role: str) -> list[ReconstructedObject]:
        return [o for o in self.objects if o.role == role]

    @property
    def target(self) -> ReconstructedObject:
        return self.by_role("target")[0]

    @property
    def container(self) -> ReconstructedObject:
        return self.by_role("container")[0]

    @property
    def goal(self) -> ReconstructedObject | None:
        """Where the target goes: the container, the flat marking, or the solid it is put on; ``None`` when the
        goal is the table under it (a fallen object stood up, see ``metrics["up_local"]``)."""
        goals = self.by_role("container") + self.by_role("region") + self.by_role("support")
        return goals[0] if goals else None

    @property
    def goal_label(self) -> str:
        return "table" if self.goal is None else self.goal.label
