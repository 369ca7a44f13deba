"""What the reconstruction stage produces: object models in a gravity-aligned world frame and the target's
object-centric trajectory. Plain arrays + frozen dataclasses; JSON for the lake, meshes as blobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

ROLES = ("target", "container", "region", "support", "obstacle", "contents")
"""A "support" is a solid goal the target is put on top of (a block to stack on, a plate): a movable object
with a mesh like the target's, unlike a container (a fixture with walls) or a region (drawn, no body). "contents"
are what the target holds, to be poured out (balls in a cup)."""


class Fixture:
    """A goal modelled as a fixture (kinematic in the twin): an open box, or a skill's own (a shelf's board and
    row, a dustpan). Subclasses are frozen dataclasses that set ``kind`` (stored in ``to_dict``) and read their
    dict back in ``from_dict``; a skill lists its own in
    :attr:`~physworld_core.reconstruction.skill.SkillReconstruction.fixture_types`."""

    kind: ClassVar[str]
    wall_height: float
    """The highest point of the fixture above the table (what a carry must clear): a field or a property."""

    def boxes(self) -> list[Box]:
        """(centre, half size) of the boxes it collides as, in its frame; none when :meth:`convex_parts`."""
        return []

    def convex_parts(self) -> list[np.ndarray]:
        """Corner points of each convex part it collides as, in its frame (when it is not made of boxes)."""
        return []

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict) -> Fixture:
        raise NotImplementedError


@dataclass(frozen=True)
class ContainerGeometry(Fixture):
    """An open-top box container in its own frame (origin: centre of the floor's underside, z up)."""

    kind: ClassVar[str] = "box"

    inner_half: tuple[float, float]
    wall_height: float
    wall_thickness: float

    def __post_init__(self) -> None:
        if min(self.inner_half) <= 0 or self.wall_height <= 0 or self.wall_thickness <= 0:
            raise ValueError(f"container geometry must be positive, got {self}")

    def boxes(self) -> list[Box]:
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
            "kind": self.kind,
            "inner_half": list(self.inner_half),
            "wall_height": self.wall_height,
            "wall_thickness": self.wall_thickness,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ContainerGeometry:
        return cls(
            inner_half=tuple(d["inner_half"]),
            wall_height=d["wall_height"],
            wall_thickness=d["wall_thickness"],
        )


Box = tuple[tuple[float, float, float], tuple[float, float, float]]
"""(centre, half size) of an axis-aligned box in a fixture's frame."""


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
    container: set for role "container", a fixture (:class:`Fixture`): an open box, or a skill's own (a
        shelf's board and row, a dustpan); the mesh is then only for display.
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
    container: Fixture | None = None
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
