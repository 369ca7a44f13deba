"""Sweeping: the plan and the baseline controller that holds a brush and pushes scraps into a dustpan with it.

The brush is grasped from above across its handle, lifted, turned so that its head faces into the dustpan, put
down behind the scrap farthest from the pan's mouth with its head just above the pan's floor, and pushed
straight along the pan's axis until the head is well inside; then lifted away, still held (a person sweeping
keeps the brush in hand; the task is scored on the scraps).

Plans speak of the brush's bounding-box centre (what the controller observes), so every point on the head is
turned into a centre position through the head's offset from the centre at rest, turned with the hand: the
brush is held rigidly. During the stroke the hand's offset to the brush is measured again every step from where
the brush is seen, so a brush that slipped in the fingers as it was lifted and turned still sweeps at the
planned height.

Everything comes from the twin spec (the brush's two collision parts, the scraps, the goal's dustpan), never
from a world.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from transforms3d.quaternions import quat2mat

from physworld_core.errors import PhysworldError
from physworld_core.policy.baseline import BaselineConfig, BaselineController, Phase
from physworld_core.policy.hand import rotate_z, wrap_angle
from physworld_core.policy.plan import TaskPlan, hand_turn_for, resample_path
from physworld_core.policy.skill import SkillPolicy
from physworld_core.skills.registry import skill_of
from physworld_core.skills.sweep.twin import Sweep
from physworld_core.twin.spec import TwinSpec

HOVER_M = 0.004
"""The head's underside this far above the dustpan's floor during the stroke: it clears the ramp and the floor
with the few millimetres the brush is seen off by, and still meets every scrap (they stand 14 mm and up)."""
BEHIND_M = 0.025
"""The head comes down this far behind the farthest scrap (its front face to the scrap's far edge)."""
INSIDE_M = 0.02
"""The stroke ends with the head's front face this far short of the pan's back wall."""
LIFT_M = 0.06
"""The brush is lifted this far before it turns."""
OVER_M = 0.05
"""…and carried to this far above its stroke's start before coming down."""
GRASP_ALONG = 0.6
"""The grasp is this share of the handle's length back from the head: far enough from the head for the fingers
to clear it, near enough that the held brush does not sag much."""
GRASP_BELOW_TOP_M = 0.012
"""The TCP this far below the handle's top (the finger pads on its sides)."""
DROPPED_M = 0.03
"""A brush seen this far from where the grasp held it has slipped out of the fingers."""
STROKE_TOL_M = 0.004
"""The head must be within this of its stroke height before the stroke starts."""


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


def brush_layout(parts_world: list[np.ndarray]) -> dict[str, np.ndarray | float]:
    """Which of the brush's two parts is its head (the wider across the line joining them) and how it lies:
    the horizontal direction from handle to head, the head's bottom centre, its width and depth, and the
    handle's length."""
    if len(parts_world) != 2:
        raise PhysworldError(
            f"a brush is modelled as a head and a handle (2 parts); this target has {len(parts_world)}"
        )
    centres = [0.5 * (p.min(0) + p.max(0)) for p in parts_world]
    line = (centres[1] - centres[0]) * [1.0, 1.0, 0.0]
    if np.linalg.norm(line) < 1e-4:
        raise PhysworldError("the brush's head and handle are not side by side: no way to tell its facing")
    line /= np.linalg.norm(line)
    across = np.array([-line[1], line[0], 0.0])
    widths = [float(np.ptp(p @ across)) for p in parts_world]
    head, handle = (0, 1) if widths[0] >= widths[1] else (1, 0)
    facing = line if head == 1 else -line
    h, g = parts_world[head], parts_world[handle]
    head_bottom = np.array([*(0.5 * (h.min(0) + h.max(0)))[:2], h[:, 2].min()])
    return {
        "facing": facing,
        "head_bottom": head_bottom,
        "head_width": widths[head],
        "head_depth": float(np.ptp(h @ facing)),
        "handle": g,
        "handle_length": float(np.ptp(g @ facing)),
    }


def plan_sweep(
    spec: TwinSpec,
    vertices: np.ndarray,
    parts: list[np.ndarray],
    closing_axis: np.ndarray,
    spacing: float = 0.02,
    physical: bool = True,
) -> TaskPlan:
    """Plan sweeping the twin's scraps (its contents) into the goal's dustpan with its target (the brush:
    object-frame ``vertices`` and its two convex ``parts``).

    ``physical=False`` is the RIGVid-style ``visual_imitation`` plan: the brush follows the tracked video's path
    and turn as they are, open-loop; the dustpan's floor and the scraps are not consulted.

    Raises:
        PhysworldError: the goal is not a sweep goal, there are no scraps, or the brush is not a head and a
            handle.
    """
    goal = spec.goal
    if goal.kind != Sweep.name:
        raise PhysworldError(f"twin {spec.task_id}: sweeping needs a 'sweep' goal, got {goal.kind!r}")
    if not spec.contents:
        raise PhysworldError(f"twin {spec.task_id}: nothing to sweep (no contents)")
    target = spec.target
    rest_R, rest_p = quat2mat(np.asarray(target.pose[3:], float)), np.asarray(target.pose[:3], float)
    # What the controller observes: the centre of the brush's bounding box in its own frame (not in the world's
    # axes, which differ for a brush lying askew).
    position = rest_R @ (0.5 * (vertices.min(0) + vertices.max(0))) + rest_p
    brush = brush_layout([p @ rest_R.T + rest_p for p in parts])
    facing = brush["facing"]
    # The grasp: on the handle's axis, GRASP_ALONG of its length back from the head, fingers across it.
    handle = brush["handle"]
    along = handle @ facing
    at = along.max() - GRASP_ALONG * np.ptp(along) - brush["head_bottom"] @ facing
    axis_point = brush["head_bottom"] + facing * at
    grasp = np.array([axis_point[0], axis_point[1], handle[:, 2].max() - GRASP_BELOW_TOP_M])
    d = np.array([np.cos(goal.yaw), np.sin(goal.yaw), 0.0])
    if physical:
        carry_turn = wrap_angle(float(np.arctan2(d[1], d[0]) - np.arctan2(facing[1], facing[0])))
    else:  # the brush turns as the video turns it
        first, last = (quat2mat(np.asarray(spec.trajectory_poses[i][3:], float)) for i in (0, -1))
        turn = last @ first.T
        carry_turn = wrap_angle(float(np.arctan2(turn[1, 0], turn[0, 0])))
    rest_yaw = float(np.arctan2(closing_axis[1], closing_axis[0]))
    across = float(np.arctan2(facing[1], facing[0])) + np.pi / 2
    grasp_turn = hand_turn_for(wrap_angle(across - rest_yaw), carry_turn)
    head_from_centre = brush["head_bottom"] - position
    lifted = position + [0.0, 0.0, LIFT_M]
    if physical:
        head_path = _stroke(spec, brush, d)
        centres = head_path - rotate_z(head_from_centre, carry_turn)
        over = centres[0] + [0.0, 0.0, OVER_M]
        travel = resample_path(np.array([position, lifted, over]), spacing)
        stroke = resample_path(centres, spacing)
        waypoints = np.vstack([travel, stroke])
        stroke_from = len(travel)
    else:
        poses = np.asarray(spec.trajectory_poses, dtype=np.float64)
        centre_local = rest_R.T @ (position - rest_p)
        path = np.array([quat2mat(p[3:]) @ centre_local + p[:3] for p in poses])
        waypoints = resample_path(np.vstack([position, lifted, path - path[0] + position]), spacing)
        stroke_from = len(waypoints) - 1
    sweep = SweepPlan(
        direction=tuple(map(float, d)),
        stroke_from=int(stroke_from),
        head_width=float(brush["head_width"]),
        closed_loop=physical,
    )
    return TaskPlan(
        grasp_offset=tuple(map(float, grasp - position)),
        grasp_width=float(np.ptp(handle @ np.cross([0.0, 0.0, 1.0], facing))),
        waypoints=tuple(tuple(map(float, w)) for w in waypoints),
        release_position=tuple(map(float, waypoints[-1])),
        goal_center=tuple(map(float, goal.center)),
        pregrasp_height=0.06,
        skill=HOOKS.name,
        grasp_turn=grasp_turn,
        carry_turn=carry_turn,
        payload=sweep,
    )


def _stroke(spec: TwinSpec, brush: dict, d: np.ndarray) -> np.ndarray:
    """The head's bottom centre at the stroke's start (down behind the farthest scrap) and end (inside the pan),
    along the pan's axis, shifted across it to cover the scraps as far as the pan's side walls allow."""
    goal = spec.goal
    half_depth, half_width = goal.half_extents
    mouth = np.asarray(goal.center, dtype=np.float64) - half_depth * d
    side = np.array([-d[1], d[0], 0.0])
    # The twin env module loads ManiSkill (~6 s cold); this module is also loaded (by name) to read a sweep plan
    # or build its controller, which need no simulator, so ManiSkill comes only with a stroke being planned.
    from physworld_core.twin.env import collision_points

    behind, lateral = [], []
    for scrap in spec.contents:
        R, p = quat2mat(np.asarray(scrap.pose[3:], float)), np.asarray(scrap.pose[:3], float)
        pts = collision_points(scrap) @ R.T + p
        behind.append(float(-((pts - mouth) @ d).min()))
        lateral += list((pts - mouth) @ side)
    slack = max(half_width - brush["head_width"] / 2 - 0.003, 0.0)
    across = float(np.clip(0.5 * (min(lateral) + max(lateral)), -slack, slack))
    hover = goal.details.floor_z + HOVER_M
    depth = brush["head_depth"]
    start = mouth - d * (max(behind) + BEHIND_M + depth / 2) + side * across
    end = mouth + d * (2 * half_depth - depth / 2 - INSIDE_M) + side * across
    start[2] = end[2] = hover
    return np.array([start, end])


class SweepController(BaselineController):
    """The baseline for sweeping: the place baseline's approach, grasp and carry (lift, turn, over the stroke's
    start, down behind the scraps), then the stroke into the pan, then lift away with the brush still in hand.

    From the stroke's first waypoint on, the hand-to-brush offset is the one seen at each step (see the module
    docstring), and the stroke starts only once the head is down at its height."""

    def __init__(self, plan: TaskPlan, config: BaselineConfig = BaselineConfig()):
        if plan.skill != skill_of(__name__):
            raise ValueError(f"SweepController runs a 'sweep' plan, got skill {plan.skill!r}")
        super().__init__(plan, config)

    def _carry_turn_target(self) -> float:
        """The whole turn is made while the brush is lifted and carried to over the stroke's start."""
        done = min(1.0, self.waypoint_index / max(self.plan.payload.stroke_from - 1, 1))
        return self.plan.grasp_turn + done * self.plan.carry_turn

    def _offset(self, tcp, object_position, hand_turn) -> np.ndarray:
        """TCP minus brush centre to steer by: as held at the grasp, turned with the hand; during the stroke
        of a closed-loop plan, as seen now, unless the brush is so far from where the grasp held it that it is
        no longer in hand (steering by it would chase a dropped brush across the table)."""
        held = rotate_z(self.carry_offset, wrap_angle(hand_turn - self.turn_at_grasp))
        seen = tcp - object_position
        stroking = self.waypoint_index >= self.plan.payload.stroke_from and self.plan.payload.closed_loop
        return seen if stroking and np.linalg.norm(seen - held) < DROPPED_M else held

    def _carry(self, tcp, object_position, hand_turn, turn_error):
        c = self.config
        target = self.current_waypoint() + self._offset(tcp, object_position, hand_turn)
        while self.waypoint_index < len(self.waypoints) - 1 and self._reached(tcp, target, object_position):
            self.waypoint_index += 1
            target = self.current_waypoint() + self._offset(tcp, object_position, hand_turn)
        self.target_turn = self._carry_turn_target()
        last = self.waypoint_index == len(self.waypoints) - 1
        if last:  # the stroke's end; scraps squeezed against the back wall may stop it short
            self._last_tcp.append(tcp.copy())
        blocked = len(self._last_tcp) > c.stall_steps and self._stalled(target)
        if (
            (last and np.linalg.norm(tcp - target) < c.reach_tol)
            or blocked
            or self.phase_steps > 4 * c.phase_timeout
        ):
            self.release_anchor = tcp.copy()
            self._advance(Phase.RETREAT)
        return target, -1.0

    def _reached(self, tcp, target, object_position=None) -> bool:
        """Near the waypoint; at the one where the stroke begins, also down at the stroke's height (the head,
        not the hand, by the brush as seen) and turned to face the pan."""
        if not super()._reached(tcp, target):
            return False
        if self.waypoint_index == self.plan.payload.stroke_from and object_position is not None:
            return abs(object_position[2] - self.current_waypoint()[2]) < STROKE_TOL_M
        return True

    def act(self, tcp, object_position, hand_turn=0.0, *, tcp_rotation=None, object_rotation=None):
        action = super().act(
            tcp, object_position, hand_turn, tcp_rotation=tcp_rotation, object_rotation=object_rotation
        )
        if self.phase == Phase.RETREAT:
            action[4] = -1.0  # the brush stays in hand
        return action


class SweepPolicy(SkillPolicy):
    name = skill_of(__name__)
    payload_type = SweepPlan
    extra_steps = 80
    """Sweeping lifts and turns the brush, carries it behind the scraps and strokes them into the pan: the
    baseline takes 86–149 steps over 10 worlds with a perfect twin."""

    def plan(self, spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts) -> TaskPlan:
        if parts is None:
            raise ValueError("a sweep plan needs the brush's convex parts (its head and its handle)")
        return plan_sweep(spec, vertices, parts, closing_axis, spacing, physical)

    def controller(self, plan: TaskPlan, config: BaselineConfig) -> SweepController:
        return SweepController(plan, config)

    def check_plan(self, plan: TaskPlan) -> None:
        super().check_plan(plan)
        if plan.payload.stroke_from >= len(plan.waypoints):
            raise ValueError(
                f"the sweep's stroke starts at waypoint {plan.payload.stroke_from}, past the last"
            )

    def payload_to_dict(self, payload: SweepPlan) -> dict:
        return {"sweep": asdict(payload)}

    def payload_from_dict(self, d: dict) -> SweepPlan | None:
        return None if d.get("sweep") is None else SweepPlan.from_dict(d["sweep"])


HOOKS = SweepPolicy()
