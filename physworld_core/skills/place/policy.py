"""The place skill's plan: grasp the object, lift it, carry it along the tracked path and let it go over (or
into) its goal; for a shelf's slot, carried at a bounded height over the neighbours and lowered straight in,
searching along the row when the descent is blocked. The place baseline
(:class:`~physworld_core.policy.baseline.BaselineController`) executes it."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from transforms3d.quaternions import quat2mat

from physworld_core.policy.baseline import BaselineConfig, BaselineController
from physworld_core.policy.grasp import GraspConfig, best_grasp
from physworld_core.policy.hand import rotate_z, wrap_angle
from physworld_core.policy.plan import TaskPlan, hand_turn_for, release_tolerance, resample_path
from physworld_core.policy.skill import SkillPolicy
from physworld_core.skills.place.twin import SLOT_SEAT_M, Slot
from physworld_core.skills.registry import skill_of
from physworld_core.twin.goals import Surface, Top, resting_base_centre
from physworld_core.twin.spec import TwinSpec

NEAR_GOAL_MARGIN_M = 0.03
"""Path points within the goal's extent, the object's footprint radius and this margin of the goal's centre are
over the goal: they are kept at the drop height."""
DROP_INTO_M = 0.02
"""The object's underside is let go this far above a container's rim: it drops in."""
DROP_ONTO_TOP_M = 0.01
"""…and this far above a top it lands on (a rim, a block): lowered onto it, so it does not bounce off."""
MIN_LIFT_M = 0.05
"""The object is lifted at least this far straight up before the carry (higher if the path climbs higher)."""


def plan_place(
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
    parts_world = None if parts is None else [p @ rest_R.T + np.asarray(target.pose[:3]) for p in parts]
    half_height = float(centre_local[2] - vertices[:, 2].min())
    slot = _slot_heights(spec, half_height) if physical and spec.goal.kind == Slot.name else None
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
            np.linalg.norm(path[:, :2] - goal[:2], axis=1)
            < max(spec.goal.half_extents) + radius + NEAR_GOAL_MARGIN_M
        )
        if spec.goal.kind == Top.name:
            # Onto a top (a rim, a block): carried at the drop height from the lift on, so the object's edge
            # clears the rim and anything around it; a "top" goal's extent is the slack, not the body's size.
            near_goal[1:] = True
        # Released just above the rim or the top it lands on: lower onto a top, so it does not bounce off.
        onto_top = spec.goal.kind == Top.name
        drop_height = spec.goal.top_z + (DROP_ONTO_TOP_M if onto_top else DROP_INTO_M) + half_height
        path[near_goal, 2] = np.maximum(path[near_goal, 2], drop_height)
        aim = goal[:2]
        if onto_top:  # what the object stands on lands on the top (a pan's body, not its handle)
            base_offset = resting_base_centre(verts_world) - position
            aim = goal[:2] - rotate_z(np.array([*base_offset[:2], 0.0]), carry_turn)[:2]
        release = np.array([aim[0], aim[1], max(drop_height, path[-1, 2])])
        path = np.vstack([path, release])
    else:
        release = path[-1].copy()
    lift = path[0] + np.array([0.0, 0.0, max(MIN_LIFT_M, path[:, 2].max() - path[0, 2])])
    if path[1:, 2].max() < lift[2] - 1e-3:
        path = np.vstack([path[:1], lift, path[1:]])
    waypoints = resample_path(path, spacing)
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
    a book task: 29 cm up, 14 cm past the shelf), where a carry at the clearance height goes through."""
    path = path.copy()
    path[1:, 2] = np.clip(path[1:, 2], clear_z, clear_z + SLOT_CARRY_SPAN_M)
    start, travel = path[0, :2], goal[:2] - path[0, :2]
    length = max(float(np.linalg.norm(travel)), 1e-6)
    along_unit = travel / length
    across_unit = np.array([-along_unit[1], along_unit[0]])
    offsets = path[:, :2] - start
    along = np.clip(offsets @ along_unit, 0.0, length)
    # The side-to-side slack narrows to nothing at the slot (a cone), so the path does not swing past it and
    # back, steps an episode cannot spare (regression test: test_book_0001_...).
    span = np.minimum(SLOT_CARRY_SPAN_M, length - along)
    across = np.clip(offsets @ across_unit, -span, span)
    path[:, :2] = start + along[:, None] * along_unit + across[:, None] * across_unit
    above = np.array([goal[0], goal[1], max(clear_z, path[-1, 2])])
    return np.vstack([path, above, [goal[0], goal[1], release_z]])


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
    if goal.shape != "box" or goal.kind == Surface.name:
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


class PlacePolicy(SkillPolicy):
    name = skill_of(__name__)

    def plan(self, spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts) -> TaskPlan:
        return plan_place(spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts)

    def controller(self, plan: TaskPlan, config: BaselineConfig) -> BaselineController:
        return BaselineController(plan, config)


HOOKS = PlacePolicy()
