"""The twin as data: JSON-serialisable, validated, with mesh files referenced by URI (content-addressed)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from physworld_core.errors import TwinError


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


GOAL_KINDS = ("volume", "surface", "top", "slot", "upright", "pour", "sweep")
""""volume": inside a container (below its rim); "surface": resting on the table on a flat marking; "top":
resting on top of another body (a block to stack on, a pot's rim under a lid); "slot": standing in a gap
between fixed neighbours (a shelf's row), seated on its floor: like "volume" to test, but lowered in rather than
dropped, with the fingers kept above the neighbours; "upright": standing on its base on the table (a fallen bottle
stood up), its axis ``up_local`` within ``max_tilt_deg`` of vertical, its lowest point within
:data:`SURFACE_REST_TOLERANCE_M` of the table, anywhere in a generous disc around where the video stands it;
"pour": what the target holds (the spec's objects of role "contents") must end inside the region like a
"volume" (a bowl's interior, below its rim), at least :data:`POUR_FRACTION` of it, and the target (the cup) must
not: poured, not dropped in with them; "sweep": the contents (scraps lying on the table) must end inside the
region (a dustpan's interior: past its mouth, between its walls, below their tops), at least
:data:`SWEEP_FRACTION` of them, wherever the target (the brush that swept them) is."""
POUR_FRACTION = 0.75
"""Share of the contents that must land in the goal for a pour to count (three balls in four)."""
SWEEP_FRACTION = 2 / 3
"""Share of the scraps that must end in the dustpan for a sweep to count (two in three, rounded up): a scrap
that slips past the head's end is swept by a second stroke in life, not by this one."""
CONTENTS_FRACTION = {"pour": POUR_FRACTION, "sweep": SWEEP_FRACTION}
"""Goal kinds scored on the contents rather than the target, and the share of them that must end in the goal."""
SURFACE_REST_TOLERANCE_M = 0.005
"""On a surface goal the object's lowest point must be within this of the table: pushed, not held above."""
SLOT_SEAT_M = 0.01
"""In a slot the object's underside must be within this of the slot's floor (a shelf's board): all the way in."""
BASE_BAND_M = 0.005
"""Points within this of an object's lowest point are what it stands on (see :func:`resting_base_centre`)."""


def resting_base_centre(points: np.ndarray) -> np.ndarray:
    """Middle (x, y) of what an upright object stands on, at its lowest height: of its points within
    :data:`BASE_BAND_M` of the lowest.

    On a "top" goal it is this that must land over the support: a pan rests on its body, while the middle of
    its bounding box lies under its raised handle, 4-6 cm aside; for a box, a can or a lid the two agree."""
    pts = np.asarray(points, dtype=np.float64)
    base = pts[pts[:, 2] <= pts[:, 2].min() + BASE_BAND_M]
    return np.array([*(0.5 * (base[:, :2].min(0) + base[:, :2].max(0))), pts[:, 2].min()])


TOP_REST_TOLERANCE_M = 0.008
"""On a "top" goal the object's lowest point must be within this of the top: resting on it, not held above it
and not sunk past it (a lid that fell into the pot, a block that slid off the edge)."""


@dataclass(frozen=True)
class GoalRegion:
    """Where the target must end: an upright region of the world, a box or a disc seen from above.

    Args:
        center: centre on the table (world).
        half_extents: half sizes along the region's yaw axes; a disc's radius is ``half_extents[0]``.
        yaw: turn of the region about z.
        top_z: the object's lowest point must be below this (a container's rim; the table plus
            :data:`SURFACE_REST_TOLERANCE_M` for a marking).
        kind: one of :data:`GOAL_KINDS`.
        shape: "box" or "disc".
        rgba: display colour of a surface marking (the twin draws it; it has no collision).
        on: for a "top" goal on a movable body (a block), that object's name: the region moves with it, so a
            base nudged during the placement still counts.
        max_tilt_deg: the object must also stand within this angle of how it stood at the start (a book stood
            in a shelf's slot, not leaning across it), or, with ``up_local``, with that axis within this angle
            of vertical; ``None``: any attitude.
        up_local: the object's own axis (its frame) that must point up: base → top of a bottle to stand up.
            ``None``: its frame's z, which points up as it stood at the start.
        floor_z: for a "sweep" goal, the top of the dustpan's floor where its mouth meets the lip: what the
            brush's head must clear as it pushes the scraps in (the region's +x points into the pan, its
            -x edge is the mouth).
    """

    center: tuple[float, float, float]
    half_extents: tuple[float, float]
    yaw: float
    top_z: float
    kind: str = "volume"
    shape: str = "box"
    rgba: tuple[float, float, float, float] | None = None
    on: str | None = None
    max_tilt_deg: float | None = None
    up_local: tuple[float, float, float] | None = None
    floor_z: float | None = None

    def __post_init__(self) -> None:
        if (self.kind == "sweep") != (self.floor_z is not None):
            raise TwinError(
                "a 'sweep' goal gives the dustpan's floor height (floor_z), and only a sweep goal does"
            )
        if self.floor_z is not None and not (np.isfinite(self.floor_z) and self.floor_z < self.top_z):
            raise TwinError(f"goal floor_z {self.floor_z!r} must be finite and below its top {self.top_z}")
        if self.up_local is not None:
            up = np.asarray(self.up_local, dtype=np.float64)
            if up.shape != (3,) or not np.all(np.isfinite(up)) or np.linalg.norm(up) < 1e-6:
                raise TwinError(f"goal up_local must be a non-zero 3-vector, got {self.up_local!r}")
            object.__setattr__(self, "up_local", tuple(map(float, up / np.linalg.norm(up))))
        if self.kind == "upright" and (self.up_local is None or self.max_tilt_deg is None):
            raise TwinError("an 'upright' goal needs up_local (which axis stands up) and max_tilt_deg")
        if self.kind not in GOAL_KINDS:
            raise TwinError(f"goal kind must be one of {GOAL_KINDS}, got {self.kind!r}")
        if self.shape not in ("box", "disc"):
            raise TwinError(f"goal shape must be 'box' or 'disc', got {self.shape!r}")
        if self.max_tilt_deg is not None and not 0 < self.max_tilt_deg < 90:
            raise TwinError(f"goal max_tilt_deg must lie in (0, 90), got {self.max_tilt_deg!r}")
        if self.on is not None and self.kind != "top":
            raise TwinError(f"only a 'top' goal rests on an object; a {self.kind!r} goal has on={self.on!r}")

    def contains(self, p: np.ndarray, margin: float = 0.005, shift: np.ndarray | None = None) -> bool:
        """``p``: (x, y) of the object's centre and z of its lowest point. ``shift``: how far the body the goal
        rests on (``on``) has moved since the spec was made."""
        d = np.zeros(3) if shift is None else np.asarray(shift, dtype=np.float64)
        c, s = np.cos(-self.yaw), np.sin(-self.yaw)
        dx, dy = p[0] - self.center[0] - d[0], p[1] - self.center[1] - d[1]
        if self.shape == "disc":
            inside = np.hypot(dx, dy) <= self.half_extents[0] - margin
        else:
            local = np.array([c * dx - s * dy, s * dx + c * dy])
            inside = np.all(np.abs(local) <= np.asarray(self.half_extents) - margin)
        if self.kind == "top":
            return bool(inside and abs(p[2] - self.top_z - d[2]) <= TOP_REST_TOLERANCE_M)
        return bool(inside and p[2] < self.top_z)


TWIN_SKILLS = ("place", "push", "upright", "pour", "sweep")
"""How the prompt asks the target to get to its goal: grasp and carry, push along the table, stand it up, tip
what it holds into the goal, or hold it as a tool and sweep the contents into the goal with it."""
SKILL_GOAL_KINDS = {"upright": "upright", "pour": "pour", "sweep": "sweep"}
"""Skills that have a goal kind of their own, and only they."""


@dataclass(frozen=True)
class TwinSpec:
    """Everything needed to build the twin scene and its task.

    ``trajectory`` is the object-centric target: times (s) and world positions/quaternions of the target.
    ``skill`` is how the prompt asks for it to get there: one of :data:`TWIN_SKILLS`.
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
    skill: str = "place"

    def __post_init__(self) -> None:
        if self.skill not in TWIN_SKILLS:
            raise TwinError(f"twin {self.task_id}: skill must be one of {TWIN_SKILLS}, got {self.skill!r}")
        for skill, kind in SKILL_GOAL_KINDS.items():
            if (self.skill == skill) != (self.goal.kind == kind):
                raise TwinError(
                    f"twin {self.task_id}: a goal of kind {kind!r} goes with skill {skill!r} and only with it, "
                    f"got kind {self.goal.kind!r} with skill {self.skill!r}"
                )
        roles = [o.role for o in self.objects]
        if (self.skill in CONTENTS_FRACTION) != ("contents" in roles):
            raise TwinError(
                f"twin {self.task_id}: a pour or a sweep needs what it moves into the goal (objects of role "
                f"'contents': a cup's balls, the scraps to sweep), and only they have any; skill {self.skill!r} "
                f"with {roles.count('contents')} contents"
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
        """What the target holds, to be poured out (skill "pour"), or the scraps it sweeps (skill "sweep")."""
        return tuple(o for o in self.objects if o.role == "contents")

    @property
    def trajectory_positions(self) -> np.ndarray:
        return np.asarray(self.trajectory_poses, dtype=np.float64)[:, :3]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

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
        goal = GoalRegion(
            **{
                **d["goal"],
                "center": tuple(d["goal"]["center"]),
                "half_extents": tuple(d["goal"]["half_extents"]),
                "rgba": None if d["goal"].get("rgba") is None else tuple(d["goal"]["rgba"]),
                "up_local": None if d["goal"].get("up_local") is None else tuple(d["goal"]["up_local"]),
            }
        )
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
            skill=d.get("skill", "place"),
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
