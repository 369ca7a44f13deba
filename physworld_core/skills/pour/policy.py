"""Pouring: the plan and the baseline controller that tips a held cup's contents into a bowl.

The cup is grasped from above across its rim (the fingers close across the pouring direction, on the outside of
its wall just below the rim), lifted until its lowest point clears the bowl's rim, carried until its *lip* (the
rim point facing the pouring direction) is a few centimetres above a point just short of the bowl's centre, and
tilted about the fingers' closing axis while the hand moves so that the lip stays over that point and the
whole cup stays above the rim. The tilt is held until the contents have rolled out; the cup is never let go
over the bowl (dropped onto what it poured, it would count as a failure).

Which way to pour is the plan's choice, not the video's: a video pours from wherever the cup stands, but the
Panda tips a held cup past ~125° only when it pours across the table towards the robot's midline (measured on
ManiSkill's Panda over bowl positions across the workspace: pouring away from the robot or towards it stalls
the wrist at 40–100°; see ``world/pour.py``'s oracle, which solves the benchmark the same way with privileged
state). The ``visual_imitation`` plan pours the way the video does.

Everything comes from the twin spec (the cup's collision parts, the goal's bowl), never from a world.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from transforms3d.axangles import axangle2mat
from transforms3d.quaternions import quat2mat

from physworld_core.errors import PhysworldError
from physworld_core.policy.baseline import BaselineConfig, BaselineController, Phase
from physworld_core.policy.hand import wrap_angle
from physworld_core.policy.plan import TaskPlan, resample_path
from physworld_core.policy.skill import SkillPolicy
from physworld_core.robot import PANDA
from physworld_core.skills.pour.twin import Pour
from physworld_core.skills.registry import skill_of
from physworld_core.twin.spec import TwinSpec

POUR_TILT_DEG = 130.0
"""How far the cup is tipped: past the ~100° at which balls lying on its floor roll over the rim, with margin
for the grip to slip (the oracle's angle)."""
LIP_RISE_M = 0.07
"""While pouring, the lip is this far above the bowl's rim: the contents fall clear of the rim, into the bowl."""
LIP_INSET_M = 0.02
"""…over a point this far short of the bowl's centre along the pouring direction: what rolls off the lip
carries on a little."""
APPROACH_RISE_M = 0.03
"""Before tipping, the upright cup's lip is carried to this far above its pouring point."""
CLEAR_M = 0.015
"""The cup's lowest point stays this far above the bowl's rim while over it."""
GRASP_BELOW_RIM_M = 0.018
"""The TCP (the middle of the finger pads) this far below the rim: the pads hold the wall's top, the palm stays
above the mouth, out of the contents' way."""
GRASP_SEARCH_STEP_M = 0.004
"""A descent stopped on the rim is tried again shifted this much along the closing axis: the open fingers
clear the widest cup by 2-4 mm a side, under the error of where the cup is seen (a few millimetres), so a finger
may land on the rim."""
GRASP_SEARCH_TRIES = 8
"""…at most this many times, then it closes where it is."""
GRASP_LEAN_DEG = 3.0
"""A cup that leant more than this (along the closing axis) while the descent stalled shows which finger is on
its rim."""
GRASP_STALL_STEPS = 4
"""A descent that got less than the baseline's ``stall_m`` lower over this many steps has stopped."""
MAX_GRASP_WIDTH_M = 0.078
"""The widest cup the Panda's open fingers (80 mm apart) close across."""


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


def midline_direction(bowl_xy: np.ndarray, robot_xy: np.ndarray | None = None) -> np.ndarray:
    """Across the table towards the robot's midline (the line through its base along x), from the bowl's side
    of it: the one pouring direction the wrist tips far enough everywhere (see the module docstring)."""
    robot = np.asarray(PANDA.base_xyz[:2] if robot_xy is None else robot_xy, dtype=np.float64)
    return np.array([0.0, -1.0 if bowl_xy[1] > robot[1] else 1.0, 0.0])


def lowest_point_z(bottom: np.ndarray, axis: np.ndarray, radius: float, height: float) -> float:
    """Lowest height of a cylinder whose bottom face is centred at ``bottom`` with unit ``axis`` (bottom → top)."""
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    spread = radius * float(np.sqrt(max(0.0, 1.0 - a[2] ** 2)))
    return float(min(bottom[2], bottom[2] + height * a[2]) - spread)


def plan_pour(
    spec: TwinSpec,
    vertices: np.ndarray,
    closing_axis: np.ndarray,
    spacing: float = 0.02,
    physical: bool = True,
) -> TaskPlan:
    """Plan pouring the twin's target (an upright cup, object-frame ``vertices``) into the goal's bowl.

    ``physical=False`` is the RIGVid-style ``visual_imitation`` plan: the cup pours the way the video tips it
    (its final tracked attitude), as far as it tips it, its lip where the video leaves it.

    Raises:
        PhysworldError: the goal is not a pour goal, or the cup is wider than the open hand.
    """
    goal = spec.goal
    if goal.kind != Pour.name:
        raise PhysworldError(f"twin {spec.task_id}: pouring needs a 'pour' goal, got {goal.kind!r}")
    target = spec.target
    rest_R, rest_p = quat2mat(np.asarray(target.pose[3:], float)), np.asarray(target.pose[:3], float)
    verts_world = vertices @ rest_R.T + rest_p
    lo, hi = verts_world.min(0), verts_world.max(0)
    position = 0.5 * (lo + hi)
    axis_xy = position[:2]
    radius = float(np.linalg.norm(verts_world[:, :2] - axis_xy, axis=1).max())
    height = float(hi[2] - lo[2])
    if 2 * radius > MAX_GRASP_WIDTH_M:
        raise PhysworldError(
            f"twin {spec.task_id}: the cup is {2 * radius * 1000:.0f} mm across, wider than the open hand "
            f"({MAX_GRASP_WIDTH_M * 1000:.0f} mm): it cannot be held across its rim"
        )
    bowl = np.asarray(goal.center, dtype=np.float64)
    clear_z = float(goal.top_z + CLEAR_M)
    if physical:
        d = midline_direction(bowl[:2])
        lip_target = np.array([*(bowl[:2] - LIP_INSET_M * d[:2]), goal.top_z + LIP_RISE_M])
        tilt = POUR_TILT_DEG
    else:
        d, tilt, lip_target = _video_pour(spec, vertices, radius, height)
    k = np.cross([0.0, 0.0, 1.0], d)
    # The fingers close along the tilt axis: of the hand's two turns that do so, the one nearer rest.
    rest_yaw = float(np.arctan2(closing_axis[1], closing_axis[0]))
    turn = wrap_angle(float(np.arctan2(k[1], k[0])) - rest_yaw)
    grasp_turn = min((turn, wrap_angle(turn + np.pi)), key=abs)
    grasp_offset = np.array([0.0, 0.0, hi[2] - GRASP_BELOW_RIM_M - position[2]])
    # Waypoints of the cup's centre: straight up until its bottom clears the rim, then to where its lip is
    # APPROACH_RISE_M above the pouring point, still upright.
    lip_from_centre = radius * d + np.array([0.0, 0.0, height / 2])
    over = lip_target + np.array([0.0, 0.0, APPROACH_RISE_M]) - lip_from_centre
    over[2] = max(over[2], clear_z + CLEAR_M + height / 2)
    lifted = np.array([*position[:2], max(over[2], position[2] + 0.05)])
    waypoints = resample_path(np.array([position, lifted, over]), spacing)
    pour = PourPlan(
        direction=tuple(map(float, d)),
        lip_target=tuple(map(float, lip_target)),
        tilt_deg=float(tilt),
        clear_z=clear_z,
        cup_radius=radius,
        cup_height=height,
    )
    return TaskPlan(
        grasp_offset=tuple(map(float, grasp_offset)),
        grasp_width=2 * radius,
        waypoints=tuple(tuple(map(float, w)) for w in waypoints),
        release_position=tuple(map(float, waypoints[-1])),
        goal_center=tuple(map(float, bowl)),
        pregrasp_height=0.06,
        skill=HOOKS.name,
        grasp_turn=grasp_turn,
        payload=pour,
    )


def _video_pour(spec: TwinSpec, vertices: np.ndarray, radius: float, height: float):
    """(direction, tilt in degrees, lip point) the tracked video ends with: its cup's axis at the last frame,
    turned from the first, gives which way and how far it tipped; its lip is the rim point that way."""
    first, last = (np.asarray(spec.trajectory_poses[i], float) for i in (0, -1))
    turn = quat2mat(last[3:]) @ quat2mat(first[3:]).T
    axis = turn @ np.array([0.0, 0.0, 1.0])
    tilt = float(np.degrees(np.arccos(np.clip(axis[2], -1.0, 1.0))))
    if np.linalg.norm(axis[:2]) < 1e-6:
        raise PhysworldError(f"twin {spec.task_id}: the tracked video never tips the cup; nothing to imitate")
    d = np.array([*(axis[:2] / np.linalg.norm(axis[:2])), 0.0])
    # The video's end pose applied to the twin's rest pose (both frame the same object).
    rest_R, rest_p = quat2mat(np.asarray(spec.target.pose[3:], float)), np.asarray(spec.target.pose[:3])
    centre_local = 0.5 * (vertices.min(0) + vertices.max(0))
    bottom_local = np.array([centre_local[0], centre_local[1], vertices[:, 2].min()])
    start_centre = quat2mat(first[3:]) @ centre_local + first[:3]
    end_bottom = quat2mat(last[3:]) @ bottom_local + last[:3]
    rest_centre = rest_R @ centre_local + rest_p
    bottom = end_bottom - start_centre + rest_centre
    lip = bottom + height * axis + radius * (d * abs(axis[2]) - np.array([0, 0, 1.0]) * np.hypot(*axis[:2]))
    return d, min(tilt, 179.0), lip


class PourController(BaselineController):
    """The baseline for pouring: the place baseline's approach, grasp and carry (to over the bowl), then tip
    the cup about the fingers' closing axis with the lip held over its pouring point, then hold it tipped.

    The hand's rotation during the tilt is commanded whole (see :func:`~physworld_core.policy.hand.arm_action`)
    and its position follows from the rotation reached so far: the cup, held rigidly, is described in the
    hand's frame once it is grasped (its bottom centre, axis and lip), so wherever the tilt has got to, the
    hand is placed to keep the lip over the pouring point and the cup's lowest point above the rim."""

    def __init__(self, plan: TaskPlan, config: BaselineConfig = BaselineConfig()):
        if plan.skill != skill_of(__name__):
            raise ValueError(f"PourController runs a 'pour' plan, got skill {plan.skill!r}")
        super().__init__(plan, config)

    def reset(self) -> None:
        super().reset()
        self.grasp_tries = 0
        self._lean_shift = self._blind_shift = 0.0  # along the closing axis (m)
        self._blind_tries = 0
        self._descent: list[float] = []
        self.stage = "carry"
        self.stage_steps = 0
        self.hand_rotation = None
        self._held: dict[str, np.ndarray] | None = None
        self._start_rotation: np.ndarray | None = None

    def _take_hold(self, tcp, object_position, hand_turn, turn_error):
        """The place baseline's approach, descent and close, feeling for the grasp: a descent that stops well
        above the grasp height has a finger on the rim, pressing that side of the cup down so that it leans
        towards it. The finger on the rim is the one too far in: the hand goes back up and comes down again
        shifted towards the side the cup leant to (see :data:`GRASP_SEARCH_STEP_M`)."""
        if self.phase != Phase.DESCEND or self.tcp_rotation is None:
            self._descent.clear()
            return super()._take_hold(tcp, object_position, hand_turn, turn_error)
        closing = np.asarray(self.tcp_rotation, dtype=np.float64)[:, 1] * [1.0, 1.0, 0.0]
        closing /= np.linalg.norm(closing)
        lean = 0.0
        if self.object_rotation is not None:  # the cup's axis along the closing axis, as observed
            lean = float((np.asarray(self.object_rotation, dtype=np.float64) @ [0.0, 0.0, 1.0]) @ closing)
        self._descent.append(np.array([*tcp, lean]))
        grasp_z = float(object_position[2] + self.plan.grasp_offset[2])
        steps = GRASP_STALL_STEPS
        stalled = (
            len(self._descent) > steps
            and self._descent[-1 - steps][2] - tcp[2] < self.config.stall_m
            and tcp[2] > grasp_z + 0.01
        )
        if stalled and self.grasp_tries < GRASP_SEARCH_TRIES:
            self.grasp_tries += 1
            leant = max((d[3] - self._descent[0][3] for d in self._descent), key=abs)
            if abs(leant) > np.sin(np.radians(GRASP_LEAN_DEG)):
                self._lean_shift += float(np.sign(leant)) * GRASP_SEARCH_STEP_M
            else:  # it did not lean: try either side in turn, further each time (+1, -1, +2, -2 steps)
                self._blind_tries += 1
                k = self._blind_tries
                self._blind_shift = (k + 1) // 2 * (1.0 if k % 2 else -1.0) * GRASP_SEARCH_STEP_M
            self.grasp_shift = (self._lean_shift + self._blind_shift) * closing
            self._descent.clear()
            self._advance(Phase.APPROACH)
        return super()._take_hold(tcp, object_position, hand_turn, turn_error)

    def _measure(self, tcp: np.ndarray, object_position: np.ndarray) -> dict[str, np.ndarray]:
        """The held cup in the hand's frame: its bottom centre, axis and lip, from where it is seen now (upright,
        as it was just lifted)."""
        p = self.plan.payload
        R = np.asarray(self.tcp_rotation, dtype=np.float64)
        d = np.asarray(p.direction, dtype=np.float64)
        bottom = np.asarray(object_position, dtype=np.float64) - np.array([0.0, 0.0, p.cup_height / 2])
        lip = bottom + np.array([0.0, 0.0, p.cup_height]) + p.cup_radius * d
        return {
            "bottom": R.T @ (bottom - tcp),
            "axis": R.T @ np.array([0.0, 0.0, 1.0]),
            "lip": R.T @ (lip - tcp),
        }

    def _pour_target(self, rise: float = 0.0) -> np.ndarray:
        """The TCP position that puts the lip ``rise`` above its pouring point and keeps the whole cup above
        the bowl's rim, for the hand's current rotation."""
        p, held = self.plan.payload, self._held
        R = np.asarray(self.tcp_rotation, dtype=np.float64)
        lip = R @ held["lip"]
        low = lowest_point_z(R @ held["bottom"], R @ held["axis"], p.cup_radius, p.cup_height)
        target = np.asarray(p.lip_target, dtype=np.float64)
        z = max(target[2] + rise - lip[2], p.clear_z - low)
        return np.array([target[0] - lip[0], target[1] - lip[1], z])

    def _carry(self, tcp, object_position, hand_turn, turn_error):
        self.stage_steps += 1
        if self.stage == "carry":
            target, gripper = super()._carry(tcp, object_position, hand_turn, turn_error)
            if self.phase != Phase.RELEASE:
                return target, gripper
            # Over the bowl: tip, do not let go.
            self.phase, self.stage, self.stage_steps = Phase.CARRY, "tilt", 0
            if self.tcp_rotation is None:
                raise ValueError("pouring needs the hand's rotation: pass tcp_rotation to act()")
            self._held = self._measure(tcp, object_position)
            self._start_rotation = np.asarray(self.tcp_rotation, dtype=np.float64).copy()
        p = self.plan.payload
        self.target_turn = hand_turn  # the hand's whole rotation is commanded from here on
        self.hand_rotation = axangle2mat(p.tilt_axis, np.radians(p.tilt_deg)) @ self._start_rotation
        if self.stage == "tilt":
            reached = self._tilt_reached()
            if reached < 2.0 or self.stage_steps > self.config.phase_timeout:
                self.stage, self.stage_steps = "hold", 0
        elif self.stage_steps >= p.hold_steps:
            self._advance(Phase.RETREAT)  # poured: hold still (see _retreat_target)
        return self._pour_target(), -1.0

    def _tilt_reached(self) -> float:
        """Degrees between the hand's rotation and its full-tilt rotation."""
        R = np.asarray(self.tcp_rotation, dtype=np.float64)
        cosine = (np.trace(self.hand_rotation @ R.T) - 1.0) / 2.0
        return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))

    def act(self, tcp, object_position, hand_turn=0.0, *, tcp_rotation=None, object_rotation=None):
        action = super().act(
            tcp, object_position, hand_turn, tcp_rotation=tcp_rotation, object_rotation=object_rotation
        )
        if self.phase == Phase.RETREAT:
            action[4] = -1.0  # the cup stays in hand: let go over the bowl, it would land on what it poured
        return action

    def _retreat_target(self) -> np.ndarray:
        """Poured: the hand holds the tipped cup where it is (the lip over the bowl, the cup above its rim)."""
        return self._pour_target()


class PourPolicy(SkillPolicy):
    name = skill_of(__name__)
    payload_type = PourPlan
    extra_steps = 80
    """Pouring carries the cup over the bowl, tips it and holds it tipped while the contents roll out: the
    scripted oracle takes 142–153 steps over 8 worlds, the baseline 172–188 feeling for its grasp."""

    def plan(self, spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts) -> TaskPlan:
        return plan_pour(spec, vertices, closing_axis, spacing, physical)

    def controller(self, plan: TaskPlan, config: BaselineConfig) -> PourController:
        return PourController(plan, config)

    def payload_to_dict(self, payload: PourPlan) -> dict:
        return {"pour": payload.to_dict()}

    def payload_from_dict(self, d: dict) -> PourPlan | None:
        return None if d.get("pour") is None else PourPlan.from_dict(d["pour"])


HOOKS = PourPolicy()
