"""The baseline's plan for one task: where to grasp and which path the object should follow.

Everything here comes from the twin spec (reconstruction + estimated physics), never from a world.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
from transforms3d.quaternions import quat2mat

from physworld_core.policy.grasp import GraspConfig, best_grasp
from physworld_core.policy.hand import rotate_z, wrap_angle
from physworld_core.skills.place.twin import SLOT_SEAT_M
from physworld_core.twin.goals import resting_base_centre
from physworld_core.twin.spec import TwinSpec

PLAN_SKILLS = ("place", "push", "upright", "pour", "sweep")


@dataclass(frozen=True)
class PourPlan:
    """Args:
    direction: world unit vector (horizontal) the cup's mouth turns towards; it tilts about
        ``cross(up, direction)``.
    lip_target: world point the lip is held over while pouring.
    tilt_deg: how far the cup is tipped from upright.
    clear_z: world height the cup's lowest point keeps above while over the bowl.
    cup_radius, cup_height: the cup's outer radius and height (m).
    hold_steps: control steps the full tilt is held for the contents to roll out.
    """

    direction: tuple[float, float, float]
    lip_target: tuple[float, float, float]
    tilt_deg: float
    clear_z: float
    cup_radius: float
    cup_height: float
    hold_steps: int = 25

    def __post_init__(self) -> None:
        d = np.asarray(self.direction, dtype=np.float64)
        if d.shape != (3,) or abs(float(np.linalg.norm(d)) - 1.0) > 1e-6 or abs(d[2]) > 1e-6:
            raise ValueError(f"pour direction must be a horizontal unit vector, got {self.direction!r}")
        if not 0 < self.tilt_deg < 180:
            raise ValueError(f"pour tilt_deg must lie in (0, 180), got {self.tilt_deg!r}")
        if self.cup_radius <= 0 or self.cup_height <= 0 or self.hold_steps <= 0:
            raise ValueError(f"pour cup sizes and hold_steps must be positive, got {self}")
        if not np.all(np.isfinite(self.lip_target)) or not np.isfinite(self.clear_z):
            raise ValueError(f"pour lip_target and clear_z must be finite, got {self}")

    @property
    def tilt_axis(self) -> np.ndarray:
        """Tilting about this by a positive angle turns the cup's top towards ``direction``."""
        return np.cross([0.0, 0.0, 1.0], np.asarray(self.direction, dtype=np.float64))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PourPlan:
        return cls(**{**d, "direction": tuple(d["direction"]), "lip_target": tuple(d["lip_target"])})


@dataclass(frozen=True)
class SweepPlan:
    """Args:
    direction: world unit vector (horizontal) of the stroke: into the dustpan.
    stroke_from: index of the first waypoint of the stroke (the head down behind the scraps); the waypoints
        before it lift, turn and carry the brush over there.
    head_width: the brush head's width (m).
    closed_loop: during the stroke, measure the hand-to-brush offset again every step (the physical plan);
        ``False``: follow the path open-loop from the offset at the grasp (visual imitation).
    """

    direction: tuple[float, float, float]
    stroke_from: int
    head_width: float
    closed_loop: bool = True

    def __post_init__(self) -> None:
        d = np.asarray(self.direction, dtype=np.float64)
        if d.shape != (3,) or abs(float(np.linalg.norm(d)) - 1.0) > 1e-6 or abs(d[2]) > 1e-6:
            raise ValueError(f"sweep direction must be a horizontal unit vector, got {self.direction!r}")
        if self.stroke_from < 1 or self.head_width <= 0:
            raise ValueError(f"sweep stroke_from must be >= 1 and head_width positive, got {self}")

    @classmethod
    def from_dict(cls, d: dict) -> SweepPlan:
        return cls(**{**d, "direction": tuple(d["direction"])})


@dataclass(frozen=True)
class TaskPlan:
    """Args:
    grasp_offset: TCP position minus object position at the grasp (world axes, m).
    grasp_width: object width between the fingers (m).
    waypoints: K×3 object positions to pass through after the grasp (world), ending in the goal.
    release_position: object position at which to open the gripper.
    goal_center: centre of the goal region (world), for observations.
    pregrasp_height: approach height above the grasp (m).
    skill: "place" (grasp, carry, release) or "push" (the closed gripper pushes the object along the
        waypoints on the table; ``grasp_offset`` and ``grasp_width`` are then unused).
    push_standoff: for a push, how far the object reaches from its centre on the table (its footprint
        radius): the pusher is parked this far behind the centre, plus the fingertips' clearance.
    grasp_turn: turn of the hand about the vertical from its rest orientation at the grasp (rad), so the
        fingers close across the object.
    carry_turn: further turn of the hand (and the held object) during the carry (rad): a shoe turned to lie
        along its box.
    release_tol: how close (m) the hand must be to its release point before letting go.
    precise_from: index of the first waypoint the hand must reach precisely (the baseline's ``precise_tol``)
        rather than pass near: over a slot and down into it, where cutting the corner puts the object on a
        neighbour. ``None``: every waypoint may be passed near.
    search_offsets: xy offsets (m) to try, one after another, each time the descent from ``precise_from`` is
        blocked above the release point: along a shelf's row, as a person slides a book along the gap until
        it drops in, since a few millimetres of error in where the object is seen is the slot's clearance.
    tip_yaw: for skill "upright" (stand a lying object up, :mod:`physworld_core.policy.upright`): the
        direction (world yaw) the fingers point once the hand has tipped the object base-down at the last
        waypoint (the station); ``release_position`` is then where its centre is let go, standing.
    up_axis: for skill "upright": the object's base → top axis in the world, as it lies at rest. Not in the
        object's own frame: a world and its twin frame the same object differently, and the plan runs in both;
        the controller turns it by how far the object has turned since the episode began.
    pour: for skill "pour" (tip a held cup's contents into a bowl, :mod:`physworld_core.policy.pour`): which
        way, how far and over where; the waypoints then end with the upright cup over the bowl, where the tilt
        begins (nothing is let go).
    sweep: for skill "sweep" (push scraps into a dustpan with a held brush, :mod:`physworld_core.policy.sweep`):
        the stroke; the waypoints are the brush's, ending with its head inside the pan (nothing is let go).
    """

    grasp_offset: tuple[float, float, float]
    grasp_width: float
    waypoints: tuple[tuple[float, float, float], ...]
    release_position: tuple[float, float, float]
    goal_center: tuple[float, float, float]
    pregrasp_height: float = 0.08
    skill: str = "place"
    push_standoff: float = 0.0
    grasp_turn: float = 0.0
    carry_turn: float = 0.0
    release_tol: float = 0.012
    precise_from: int | None = None
    search_offsets: tuple[tuple[float, float], ...] = ()
    tip_yaw: float | None = None
    up_axis: tuple[float, float, float] | None = None
    pour: PourPlan | None = None
    sweep: SweepPlan | None = None

    def __post_init__(self) -> None:
        if self.release_tol <= 0:
            raise ValueError(f"plan release_tol must be positive, got {self.release_tol}")
        for name in ("grasp_turn", "carry_turn"):
            if not abs(getattr(self, name)) <= np.pi:
                raise ValueError(f"plan {name} must be a turn within ±pi rad, got {getattr(self, name)}")
        if self.skill not in PLAN_SKILLS:
            raise ValueError(f"plan skill must be one of {PLAN_SKILLS}, got {self.skill!r}")
        if (self.skill == "upright") != (self.tip_yaw is not None and self.up_axis is not None):
            raise ValueError("tip_yaw and up_axis are given for an 'upright' plan, and only for one")
        if (self.skill == "pour") != (self.pour is not None):
            raise ValueError("a pour plan is given for a 'pour' plan, and only for one")
        if (self.skill == "sweep") != (self.sweep is not None):
            raise ValueError("a sweep plan is given for a 'sweep' plan, and only for one")
        if self.sweep is not None and self.sweep.stroke_from >= len(self.waypoints):
            raise ValueError(f"the sweep's stroke starts at waypoint {self.sweep.stroke_from}, past the last")
        if self.skill == "push" and self.push_standoff <= 0:
            raise ValueError("a push plan needs a positive push_standoff (the object's footprint radius)")
        if len(self.waypoints) < 2:
            raise ValueError("a plan needs at least two waypoints")
        if not np.all(np.isfinite(np.asarray(self.waypoints))):
            raise ValueError("plan waypoints must be finite")
        if self.precise_from is not None and not 0 <= self.precise_from < len(self.waypoints):
            raise ValueError(f"plan precise_from must index a waypoint, got {self.precise_from}")
        if self.search_offsets and self.precise_from is None:
            raise ValueError("plan search_offsets are tried on a precise descent: set precise_from")
        if any(len(o) != 2 or not np.all(np.isfinite(o)) for o in self.search_offsets):
            raise ValueError("plan search_offsets must be finite (x, y) pairs")

    @property
    def waypoints_array(self) -> np.ndarray:
        return np.asarray(self.waypoints, dtype=np.float64)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TaskPlan:
        d = json.loads(text)
        d["waypoints"] = tuple(tuple(w) for w in d["waypoints"])
        d["search_offsets"] = tuple(tuple(o) for o in d.get("search_offsets", ()))
        if d.get("up_axis") is not None:
            d["up_axis"] = tuple(d["up_axis"])
        if d.get("pour") is not None:
            d["pour"] = PourPlan.from_dict(d["pour"])
        if d.get("sweep") is not None:
            d["sweep"] = SweepPlan.from_dict(d["sweep"])
        for k in ("grasp_offset", "release_position", "goal_center"):
            d[k] = tuple(d[k])
        return cls(**d)


def _resample_path(points: np.ndarray, spacing: float) -> np.ndarray:
    """Even spacing along the polyline, so the controller's progress is geometric, not the video's timing."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] < 1e-6:
        return points[[0, -1]]
    n = max(2, int(np.ceil(s[-1] / spacing)) + 1)
    t = np.linspace(0, s[-1], n)
    return np.stack([np.interp(t, s, points[:, i]) for i in range(3)], 1)


def plan_from_twin(
    spec: TwinSpec,
    vertices: np.ndarray,
    faces: np.ndarray,
    closing_axis: np.ndarray,
    grasp_config: GraspConfig = GraspConfig(),
    spacing: float = 0.02,
    physical: bool = True,
    parts: list[np.ndarray] | None = None,
) -> TaskPlan:
    """Grasp on the twin's target mesh (object frame ``vertices``) and the tracked object path as waypoints.

    Positions are of the target's bounding-box centre (see ``TabletopEnv.target_pose_world``).

    ``parts``: the target's convex parts (object frame), grasped one by one (see :func:`best_grasp`).

    ``physical=False`` is the RIGVid-style ``visual_imitation`` plan: the object follows the tracked video
    trajectory as it is, down to where the video left it, and is released there; the twin's container
    geometry is not consulted.
    """
    target = spec.target
    centre_local = 0.5 * (vertices.min(0) + vertices.max(0))
    poses = np.asarray(spec.trajectory_poses, dtype=np.float64)
    rest_R = quat2mat(target.pose[3:])
    position = rest_R @ centre_local + np.asarray(target.pose[:3])
    verts_world = vertices @ rest_R.T + np.asarray(target.pose[:3])
    path = np.array([quat2mat(p[3:]) @ centre_local + p[:3] for p in poses])
    path = path - path[0] + position  # the trajectory starts where the twin's object rests
    goal = np.asarray(spec.goal.center, float)
    if spec.skill == "push":
        return _push_plan(path, position, verts_world, goal, spacing, physical)
    if spec.skill == "upright":
        from physworld_core.policy.upright import plan_upright

        return plan_upright(spec, vertices, faces, closing_axis, grasp_config, spacing, physical)
    if spec.skill == "pour":
        from physworld_core.policy.pour import plan_pour

        return plan_pour(spec, vertices, closing_axis, spacing, physical)
    if spec.skill == "sweep":
        from physworld_core.policy.sweep import plan_sweep

        if parts is None:
            raise ValueError("a sweep plan needs the brush's convex parts (its head and its handle)")
        return plan_sweep(spec, vertices, parts, closing_axis, spacing, physical)
    parts_world = None if parts is None else [p @ rest_R.T + np.asarray(target.pose[:3]) for p in parts]
    half_height = float(centre_local[2] - vertices[:, 2].min())
    slot = _slot_heights(spec, half_height) if physical and spec.goal.kind == "slot" else None
    grasp = best_grasp(
        verts_world,
        faces,
        position,
        closing_axis,
        spec.table_height,
        grasp_config,
        parts=parts_world,
        grip_parts=target.grip_parts,
        # Into a slot, the finger pads stay above its neighbours when the object is let go.
        min_tcp_z=-np.inf if slot is None else position[2] + slot.lowest_tcp - slot.release_z,
    )
    if slot is not None:
        carry_turn = aligning_turn(verts_world, spec.goal, squared_to=rotate_z(closing_axis, grasp.turn))
    elif physical:
        carry_turn = aligning_turn(verts_world, spec.goal)
    else:  # the object turns as the video shows it turning
        carry_turn = wrap_angle(_yaw(quat2mat(poses[-1, 3:])) - _yaw(quat2mat(poses[0, 3:])))
    grasp_turn = hand_turn_for(grasp.turn, carry_turn)
    # The video lowers the object into the container; a parallel gripper cannot push it through the floor or
    # past a wall it brushes, so the path is kept above the rim and the object is dropped from there (the
    # video's final frames say where it ends, not how the hand gets it there).
    radius = float(np.linalg.norm(vertices[:, :2] - centre_local[:2], axis=1).max())
    if slot is not None:
        path = _slot_path(path, goal, slot.release_z, slot.carry_z)
        release = path[-1].copy()
    elif physical:
        near_goal = (
            np.linalg.norm(path[:, :2] - goal[:2], axis=1) < max(spec.goal.half_extents) + radius + 0.03
        )
        if spec.goal.kind == "top":
            # Onto a top (a rim, a block): carried at the drop height from the lift on, so the object's edge
            # clears the rim and anything around it; a "top" goal's extent is the slack, not the body's size.
            near_goal[1:] = True
        # Released just above the rim or the top it lands on: lower onto a top, so it does not bounce off.
        drop_height = spec.goal.top_z + (0.01 if spec.goal.kind == "top" else 0.02) + half_height
        path[near_goal, 2] = np.maximum(path[near_goal, 2], drop_height)
        aim = goal[:2]
        if (
            spec.goal.kind == "top"
        ):  # what the object stands on lands on the top (a pan's body, not its handle)
            base_offset = resting_base_centre(verts_world) - position
            aim = goal[:2] - rotate_z(np.array([*base_offset[:2], 0.0]), carry_turn)[:2]
        release = np.array([aim[0], aim[1], max(drop_height, path[-1, 2])])
        path = np.vstack([path, release])
    else:
        release = path[-1].copy()
    lift = path[0] + np.array([0.0, 0.0, max(0.05, path[:, 2].max() - path[0, 2])])
    if path[1:, 2].max() < lift[2] - 1e-3:
        path = np.vstack([path[:1], lift, path[1:]])
    waypoints = _resample_path(path, spacing)
    precise_from, search = None, ()
    if slot is not None:  # from over the slot down: every waypoint above its centre
        over = np.all(np.abs(waypoints[:, :2] - goal[:2]) < 1e-6, axis=1)
        precise_from = int(len(over) - np.argmin(over[::-1])) if not over.all() else 0
        search = slot_search_offsets(spec.goal)
    return TaskPlan(
        grasp_offset=tuple(map(float, grasp.tcp_in_object)),
        grasp_width=float(grasp.width),
        waypoints=tuple(tuple(map(float, w)) for w in waypoints),
        release_position=tuple(map(float, release)),
        goal_center=tuple(map(float, goal)),
        grasp_turn=grasp_turn,
        carry_turn=carry_turn,
        release_tol=release_tolerance(spec.goal) if physical else TaskPlan.release_tol,
        precise_from=precise_from,
        search_offsets=search,
    )


SLOT_SEARCH_STEP_M = 0.003
"""Step of the search along a slot's row when the descent is blocked: under the slot's clearance a side."""


def slot_search_offsets(goal) -> tuple[tuple[float, float], ...]:
    """Offsets along the slot's row (its region's x axis), alternating sides and growing by
    :data:`SLOT_SEARCH_STEP_M`, never more than half the slot's half width (the object stays over the gap)."""
    axis = np.array([np.cos(goal.yaw), np.sin(goal.yaw)])
    reach = 0.5 * goal.half_extents[0]
    steps = np.arange(SLOT_SEARCH_STEP_M, reach + 1e-9, SLOT_SEARCH_STEP_M)
    return tuple(tuple(map(float, sign * k * axis)) for k in steps for sign in (1.0, -1.0))


SLOT_RELEASE_GAP_M = 0.006
"""Into a slot, the object is let go with its underside this far above the slot's floor."""
SLOT_REACH_M = 0.04
"""Fixture parts this far around a slot (beyond its own extent) are its neighbours."""
SLOT_CARRY_CLEARANCE_M = 0.03
"""The object's underside passes this far above a slot's neighbours until it is over the slot."""
SLOT_CARRY_SPAN_M = 0.05
"""…and at most this much higher, or to either side of the straight line to the slot."""
FINGER_PAD_CLEARANCE_M = 0.02
"""The TCP stays this far above a slot's neighbours when the object is let go: the pads reach ~10 mm below it."""


class _SlotHeights(NamedTuple):
    """Heights (world z) of a slot approach: the object's centre when it is let go and while it is carried
    over the neighbours, and the lowest the TCP may be when it is let go."""

    release_z: float
    carry_z: float
    lowest_tcp: float


def _slot_heights(spec: TwinSpec, half_height: float) -> _SlotHeights:
    goal = spec.goal
    neighbours = fixture_top_near(spec, np.asarray(goal.center[:2]), max(goal.half_extents) + SLOT_REACH_M)
    return _SlotHeights(
        release_z=goal.top_z - SLOT_SEAT_M + SLOT_RELEASE_GAP_M + half_height,
        carry_z=neighbours + SLOT_CARRY_CLEARANCE_M + half_height,
        lowest_tcp=neighbours + FINGER_PAD_CLEARANCE_M,
    )


def fixture_top_near(spec: TwinSpec, xy: np.ndarray, radius: float) -> float:
    """Height of the highest fixed collision box whose footprint comes within ``radius`` of ``xy`` (the
    table's height if none does)."""
    top = spec.table_height
    for obj in spec.objects:
        if not obj.fixed:
            continue
        R, p = quat2mat(obj.pose[3:]), np.asarray(obj.pose[:3])
        for centre, half in obj.collision_boxes:
            corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
            world = (corners + centre) @ R.T + p
            lo, hi = world[:, :2].min(0), world[:, :2].max(0)
            gap = np.linalg.norm(np.maximum(0.0, np.maximum(lo - xy, xy - hi)))
            if gap <= radius:
                top = max(top, float(world[:, 2].max()))
    return top


def _slot_path(path: np.ndarray, goal: np.ndarray, release_z: float, clear_z: float) -> np.ndarray:
    """Into a slot: the tracked path, kept between ``clear_z`` and :data:`SLOT_CARRY_SPAN_M` above it from the
    lift on and within as much of the straight line from its start to the slot (never past either end, and
    narrowing to it at the slot), then
    straight over the slot's centre and straight down to ``release_z``. A video ends with the
    object somewhere in the gap, hidden by its neighbours, so the gap's centre is known better; and a path
    tracked too far along the camera's rays climbs out of the arm's reach with the hand turned (measured on
    book-0003: 29 cm up, 14 cm past the shelf), where a carry at the clearance height goes through."""
    path = path.copy()
    path[1:, 2] = np.clip(path[1:, 2], clear_z, clear_z + SLOT_CARRY_SPAN_M)
    start, travel = path[0, :2], goal[:2] - path[0, :2]
    length = max(float(np.linalg.norm(travel)), 1e-6)
    along_unit = travel / length
    across_unit = np.array([-along_unit[1], along_unit[0]])
    offsets = path[:, :2] - start
    along = np.clip(offsets @ along_unit, 0.0, length)
    # The side-to-side slack narrows to nothing at the slot (a cone), so the path does not swing past it and
    # back: that had cost book-0001 ten of its 150 steps.
    span = np.minimum(SLOT_CARRY_SPAN_M, length - along)
    across = np.clip(offsets @ across_unit, -span, span)
    path[:, :2] = start + along[:, None] * along_unit + across[:, None] * across_unit
    above = np.array([goal[0], goal[1], max(clear_z, path[-1, 2])])
    return np.vstack([path, above, [goal[0], goal[1], release_z]])


def release_tolerance(goal) -> float:
    """Let go within half the goal's slack (a lid on a rim may be off-centre by only 1–3 cm), never looser
    than the baseline's reach tolerance nor tighter than the arm settles (4 mm)."""
    return float(np.clip(0.5 * min(goal.half_extents), 0.004, TaskPlan.release_tol))


ELONGATED = 1.15
"""Length / width above which a footprint has a long axis worth aligning (a shoe, a box; not a can)."""


def _yaw(R: np.ndarray) -> float:
    return float(np.arctan2(R[1, 0], R[0, 0]))


def _long_axis(points_xy: np.ndarray) -> tuple[float, float]:
    """(angle of the long axis, length / width) of a footprint, by principal axes."""
    centred = points_xy - points_xy.mean(0)
    _, vectors = np.linalg.eigh(np.cov(centred.T))
    major = vectors[:, -1]
    angle = float(np.arctan2(major[1], major[0]))
    along = centred @ major
    across = centred @ np.array([-major[1], major[0]])
    return angle, float(np.ptp(along) / max(np.ptp(across), 1e-6))


def aligning_turn(verts_world: np.ndarray, goal, squared_to: np.ndarray | None = None) -> float:
    """How far to turn the object (rad, within ±pi/2) so that its long axis lies along an elongated goal's:
    a shoe goes into its box lengthwise. Zero when either has no long axis (a can, a round bin or plate).

    ``squared_to``: the closing axis of the grasp. Flat pads closing on a box turn it until its faces lie
    flat against them, so after the grasp its long axis is the hand axis (closing, or across it) nearest to
    where it pointed: the turn is reckoned from there. A slot that leaves millimetres a side needs this; the
    grasp's turn is sampled every 15°, so the object may turn by half that as the fingers close."""
    if goal.shape != "box" or goal.kind == "surface":
        return 0.0
    half = np.asarray(goal.half_extents, dtype=np.float64)
    if max(half) / max(min(half), 1e-6) < ELONGATED:
        return 0.0
    angle, elongation = _long_axis(verts_world[:, :2])
    if elongation < ELONGATED:
        return 0.0
    if squared_to is not None:
        closing = float(np.arctan2(squared_to[1], squared_to[0]))
        off = (angle - closing + np.pi / 2) % np.pi - np.pi / 2
        angle = closing + (0.0 if abs(off) < np.pi / 4 else np.pi / 2)
    goal_axis = goal.yaw + (0.0 if half[0] >= half[1] else np.pi / 2)
    return float((goal_axis - angle + np.pi / 2) % np.pi - np.pi / 2)  # the axis is a line: mod pi


def hand_turn_for(grasp_turn: float, carry_turn: float) -> float:
    """The parallel gripper closes the same way turned by pi: pick the one of ``grasp_turn`` and its
    half-turn twins that keeps the hand's largest turn, at the grasp or after the carry, smallest (the wrist's
    range is finite)."""
    options = [grasp_turn + k * np.pi for k in (-1, 0, 1)]
    return float(min(options, key=lambda t: max(abs(t), abs(t + carry_turn))))


def _push_plan(
    path: np.ndarray,
    position: np.ndarray,
    verts_world: np.ndarray,
    goal: np.ndarray,
    spacing: float,
    physical: bool,
) -> TaskPlan:
    """A push keeps the object on the table: the tracked path, flattened to the object's resting height.

    The physical plan ends on the goal's centre (the twin's region, which the object must lie in); the
    ``visual_imitation`` plan ends where the video left the object."""
    path = path.copy()
    path[:, 2] = position[2]
    if physical:
        path = np.vstack([path, [goal[0], goal[1], position[2]]])
    waypoints = _resample_path(path, spacing)
    radius = float(np.linalg.norm(verts_world[:, :2] - position[:2], axis=1).max())
    return TaskPlan(
        grasp_offset=(0.0, 0.0, 0.0),
        grasp_width=0.0,
        waypoints=tuple(tuple(map(float, w)) for w in waypoints),
        release_position=tuple(map(float, waypoints[-1])),
        goal_center=tuple(map(float, goal)),
        skill="push",
        push_standoff=radius,
    )
