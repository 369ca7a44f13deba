"""The twin as data: JSON-serialisable, validated, with mesh files referenced by URI (content-addressed)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from physworld_core.errors import TwinError
from physworld_core.skills.registry import DEFAULT_SKILL, check_skill
from physworld_core.twin.goals import GoalKind, Volume, goal_kind, goals_of


def _range_ok(name: str, value: float, lo_hi: tuple[float, float]) -> None:
    lo, hi = lo_hi
    if not (0 < lo <= value <= hi):
        raise TwinError(f"{name}: estimate {value} must lie in its positive uncertainty range [{lo}, {hi}]")


@dataclass(frozen=True)
class TwinObject:
    """Args:
    name, role, label: as in the reconstruction.
    pose: [x, y, z, qw, qx, qy, qz] world pose of the object frame at rest.
    visual_mesh: URI of the display mesh (object frame).
    collision_meshes: URIs of convex collision parts (object frame); empty when ``collision_boxes`` given.
    collision_boxes: (centre xyz, half size xyz) boxes in the object frame (containers).
    rgba: display colour.
    mass, mass_range: kg estimate and the range domain randomization draws from.
    friction, friction_range: Coulomb friction estimate and range.
    fixed: a fixture (kinematic), e.g. a large container.
    grip_parts: indices of the collision parts the hand must hold the object by (the prompt said "by its
        handle"); empty: anywhere it can.
    """

    name: str
    role: str
    label: str
    pose: tuple[float, ...]
    visual_mesh: str
    collision_meshes: tuple[str, ...]
    collision_boxes: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...]
    rgba: tuple[float, float, float, float]
    mass: float
    mass_range: tuple[float, float]
    friction: float
    friction_range: tuple[float, float]
    fixed: bool = False
    grip_parts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if any(not 0 <= i < len(self.collision_meshes) for i in self.grip_parts):
            raise TwinError(
                f"twin object {self.name}: grip parts {self.grip_parts} are not among its "
                f"{len(self.collision_meshes)} collision parts"
            )
        if len(self.pose) != 7 or not np.all(np.isfinite(self.pose)):
            raise TwinError(f"twin object {self.name}: pose must be 7 finite numbers")
        if not self.collision_meshes and not self.collision_boxes:
            raise TwinError(f"twin object {self.name}: has no collision geometry")
        _range_ok(f"twin object {self.name} mass", self.mass, self.mass_range)
        _range_ok(f"twin object {self.name} friction", self.friction, self.friction_range)


@dataclass(frozen=True)
class GoalRegion:
    """Where the target must end: an upright region of the world, a box or a disc seen from above.

    Args:
        center: centre on the table (world).
        half_extents: half sizes along the region's yaw axes; a disc's radius is ``half_extents[0]``.
        yaw: turn of the region about z.
        top_z: the object's lowest point must be below this (a container's rim; the table plus
            :data:`~physworld_core.twin.goals.SURFACE_REST_TOLERANCE_M` for a marking).
        kind: the goal's kind (:mod:`physworld_core.twin.goals`: "volume", "surface", "top", or a skill's own),
            which says how the goal is tested.
        shape: "box" or "disc".
        rgba: display colour of a surface marking (the twin draws it; it has no collision).
        on: for a goal that rests on a movable body (a block), that object's name: the region moves with it, so
            a base nudged during the placement still counts.
        max_tilt_deg: the object must also stand within this angle of how it stood at the start (a book stood
            in a shelf's slot, not leaning across it), or of the axis the kind names
            (:meth:`~physworld_core.twin.goals.GoalKind.up_local`); ``None``: any attitude.
        details: what a goal of this kind carries besides its region, of the kind's own type (the axis of a
            bottle that must stand up, the floor of a dustpan); ``None`` for the generic kinds.
    """

    center: tuple[float, float, float]
    half_extents: tuple[float, float]
    yaw: float
    top_z: float
    kind: str = Volume.name
    shape: str = "box"
    rgba: tuple[float, float, float, float] | None = None
    on: str | None = None
    max_tilt_deg: float | None = None
    details: Any = None

    def __post_init__(self) -> None:
        kind = goal_kind(self.kind)
        if self.shape not in ("box", "disc"):
            raise TwinError(f"goal shape must be 'box' or 'disc', got {self.shape!r}")
        if self.max_tilt_deg is not None and not 0 < self.max_tilt_deg < 90:
            raise TwinError(f"goal max_tilt_deg must lie in (0, 90), got {self.max_tilt_deg!r}")
        if self.on is not None and not kind.rests_on:
            raise TwinError(f"only a 'top' goal rests on an object; a {self.kind!r} goal has on={self.on!r}")
        kind.check(self)

    @property
    def goal_kind(self) -> GoalKind:
        """How this goal is tested."""
        return goal_kind(self.kind)

    def contains(self, p: np.ndarray, margin: float = 0.005, shift: np.ndarray | None = None) -> bool:
        """``p``: (x, y) of the object's centre and z of its lowest point. ``shift``: how far the body the goal
        rests on (``on``) has moved since the spec was made."""
        d = np.zeros(3) if shift is None else np.asarray(shift, dtype=np.float64)
        return self.goal_kind.contains(self, p, margin, d)

    def to_dict(self) -> dict:
        """The JSON form: the region's fields and, beside them, the kind's details' (as first stored)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "details"}
        d = json.loads(json.dumps(d))
        return {**d, **self.goal_kind.details_to_dict(self.details)}

    @classmethod
    def from_dict(cls, d: dict) -> GoalRegion:
        """Inverse of :meth:`to_dict` (fields another kind stored are ignored: older specs stored every
        kind's as null)."""
        kind = goal_kind(d.get("kind", Volume.name))
        return cls(
            center=tuple(d["center"]),
            half_extents=tuple(d["half_extents"]),
            yaw=d["yaw"],
            top_z=d["top_z"],
            kind=kind.name,
            shape=d.get("shape", "box"),
            rgba=None if d.get("rgba") is None else tuple(d["rgba"]),
            on=d.get("on"),
            max_tilt_deg=d.get("max_tilt_deg"),
            details=kind.details_from_dict(d),
        )


@dataclass(frozen=True)
class TwinSpec:
    """Everything needed to build the twin scene and its task.

    ``trajectory`` is the object-centric target: times (s) and world positions/quaternions of the target.
    ``skill`` is how the prompt asks for it to get there: a registered skill, whose twins may have goals of
    the kinds it names (:attr:`~physworld_core.twin.goals.SkillGoals.goal_kinds`) and hold contents only if it
    moves some into the goal.
    """

    task_id: str
    table_height: float
    table_rgba: tuple[float, float, float, float]
    objects: tuple[TwinObject, ...]
    goal: GoalRegion
    trajectory_times: tuple[float, ...]
    trajectory_poses: tuple[tuple[float, ...], ...]
    camera_json: str
    notes: dict = field(default_factory=dict)
    skill: str = DEFAULT_SKILL

    def __post_init__(self) -> None:
        try:
            check_skill(self.skill)
        except ValueError as error:
            raise TwinError(f"twin {self.task_id}: {error}") from None
        skill = goals_of(self.skill)
        if self.goal.kind not in skill.goal_kinds:
            raise TwinError(
                f"twin {self.task_id}: a {self.skill!r} twin has a goal of kind {', '.join(skill.goal_kinds)}, "
                f"got kind {self.goal.kind!r}"
            )
        roles = [o.role for o in self.objects]
        if skill.has_contents != ("contents" in roles):
            raise TwinError(
                f"twin {self.task_id}: a skill that moves something into the goal (a cup's balls, the scraps to "
                f"sweep) needs it as objects of role 'contents', and only such a skill has any; skill "
                f"{self.skill!r} with {roles.count('contents')} contents"
            )
        if roles.count("target") != 1:
            raise TwinError(
                f"twin {self.task_id}: needs exactly one target object, has {roles.count('target')}"
            )
        if len(self.trajectory_times) != len(self.trajectory_poses) or len(self.trajectory_times) < 2:
            raise TwinError(f"twin {self.task_id}: trajectory needs >= 2 timed poses")

    @property
    def target(self) -> TwinObject:
        return next(o for o in self.objects if o.role == "target")

    @property
    def contents(self) -> tuple[TwinObject, ...]:
        """What the target moves into the goal: what it holds, to be poured out, or the scraps it sweeps."""
        return tuple(o for o in self.objects if o.role == "contents")

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "goal": self.goal.to_dict()})

    @classmethod
    def from_json(cls, text: str) -> TwinSpec:
        d = json.loads(text)
        objects = tuple(
            TwinObject(
                **{
                    **o,
                    "pose": tuple(o["pose"]),
                    "collision_meshes": tuple(o["collision_meshes"]),
                    "collision_boxes": tuple((tuple(c), tuple(h)) for c, h in o["collision_boxes"]),
                    "rgba": tuple(o["rgba"]),
                    "mass_range": tuple(o["mass_range"]),
                    "friction_range": tuple(o["friction_range"]),
                    "grip_parts": tuple(o.get("grip_parts", ())),
                }
            )
            for o in d["objects"]
        )
        goal = GoalRegion.from_dict(d["goal"])
        return cls(
            task_id=d["task_id"],
            table_height=d["table_height"],
            table_rgba=tuple(d["table_rgba"]),
            objects=objects,
            goal=goal,
            trajectory_times=tuple(d["trajectory_times"]),
            trajectory_poses=tuple(tuple(p) for p in d["trajectory_poses"]),
            camera_json=d["camera_json"],
            notes=d.get("notes", {}),
            skill=d.get("skill", DEFAULT_SKILL),
        )

    def map_uris(self, fn) -> TwinSpec:
        """A copy with every mesh URI passed through ``fn`` (e.g. blob URI → local cached path)."""
        objects = tuple(
            replace(
                o, visual_mesh=fn(o.visual_mesh), collision_meshes=tuple(fn(u) for u in o.collision_meshes)
            )
            for o in self.objects
        )
        return replace(self, objects=objects)


@dataclass(frozen=True)
class PhysicsDraw:
    """One sample of the uncertain physical properties, per object name (for domain randomization)."""

    mass: dict[str, float]
    friction: dict[str, float]

    @classmethod
    def nominal(cls, spec: TwinSpec) -> PhysicsDraw:
        return cls({o.name: o.mass for o in spec.objects}, {o.name: o.friction for o in spec.objects})

    @classmethod
    def sample(cls, spec: TwinSpec, rng: np.random.Generator) -> PhysicsDraw:
        """Log-uniform mass and uniform friction inside each object's range."""
        mass = {o.name: float(np.exp(rng.uniform(*np.log(o.mass_range)))) for o in spec.objects}
        friction = {o.name: float(rng.uniform(*o.friction_range)) for o in spec.objects}
        return cls(mass, friction)
