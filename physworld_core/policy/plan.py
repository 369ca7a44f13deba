"""The baseline's plan for one task: where to grasp and which path the object should follow.

Everything here comes from the twin spec (reconstruction + estimated physics), never from a world. How a task
is planned is its skill's (``physworld_core/skills/<skill>/policy.py``, :class:`~physworld_core.policy.skill.
SkillPolicy`); this module holds the plan every skill makes (:class:`TaskPlan`) and what their planners share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from physworld_core.policy.grasp import GraspConfig
from physworld_core.policy.skill import SkillPolicy, policy_of
from physworld_core.skills.registry import DEFAULT_SKILL, check_skill
from physworld_core.twin.spec import TwinSpec


@dataclass(frozen=True)
class TaskPlan:
    """Args:
    grasp_offset: TCP position minus object position at the grasp (world axes, m).
    grasp_width: object width between the fingers (m).
    waypoints: K×3 object positions to pass through after the grasp (world), ending in the goal.
    release_position: object position at which to open the gripper.
    goal_center: centre of the goal region (world), for observations.
    pregrasp_height: approach height above the grasp (m).
    skill: the registered skill whose controller executes the plan (``physworld_core/skills/<skill>/``).
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
    payload: what the skill's plan carries besides these, of its own type
        (:attr:`~physworld_core.policy.skill.SkillPolicy.payload_type`: a push's standoff, where a tip or a pour
        goes, a sweep's stroke); ``None`` when it carries nothing more.
    """

    grasp_offset: tuple[float, float, float]
    grasp_width: float
    waypoints: tuple[tuple[float, float, float], ...]
    release_position: tuple[float, float, float]
    goal_center: tuple[float, float, float]
    pregrasp_height: float = 0.08
    skill: str = DEFAULT_SKILL
    grasp_turn: float = 0.0
    carry_turn: float = 0.0
    release_tol: float = 0.012
    precise_from: int | None = None
    search_offsets: tuple[tuple[float, float], ...] = ()
    payload: Any = None

    def __post_init__(self) -> None:
        if self.release_tol <= 0:
            raise ValueError(f"plan release_tol must be positive, got {self.release_tol}")
        for name in ("grasp_turn", "carry_turn"):
            if not abs(getattr(self, name)) <= np.pi:
                raise ValueError(f"plan {name} must be a turn within ±pi rad, got {getattr(self, name)}")
        check_skill(self.skill, "plan skill")
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
        self.hooks.check_plan(self)

    @property
    def hooks(self) -> SkillPolicy:
        """The policy hooks of the plan's skill."""
        return policy_of(self.skill)

    @property
    def waypoints_array(self) -> np.ndarray:
        return np.asarray(self.waypoints, dtype=np.float64)

    def to_json(self) -> str:
        generic = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "payload"}
        return json.dumps({**generic, **self.hooks.payload_to_dict(self.payload)})

    @classmethod
    def from_json(cls, text: str) -> TaskPlan:
        d = json.loads(text)
        skill = d.get("skill", DEFAULT_SKILL)
        return cls(
            grasp_offset=tuple(d["grasp_offset"]),
            grasp_width=d["grasp_width"],
            waypoints=tuple(tuple(w) for w in d["waypoints"]),
            release_position=tuple(d["release_position"]),
            goal_center=tuple(d["goal_center"]),
            pregrasp_height=d.get("pregrasp_height", cls.pregrasp_height),
            skill=skill,
            grasp_turn=d.get("grasp_turn", 0.0),
            carry_turn=d.get("carry_turn", 0.0),
            release_tol=d.get("release_tol", cls.release_tol),
            precise_from=d.get("precise_from"),
            search_offsets=tuple(tuple(o) for o in d.get("search_offsets", ())),
            payload=policy_of(check_skill(skill, "plan skill")).payload_from_dict(d),
        )


def resample_path(points: np.ndarray, spacing: float) -> np.ndarray:
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
    """The plan of the twin's task, as its skill makes it: the grasp on the twin's target mesh (object frame
    ``vertices``) and the path the object should follow, from the tracked trajectory.

    Positions are of the target's bounding-box centre (see ``TabletopEnv.target_pose_world``).

    ``parts``: the target's convex parts (object frame), grasped one by one (see
    :func:`~physworld_core.policy.grasp.best_grasp`).

    ``physical=False`` is the RIGVid-style ``visual_imitation`` plan: the object follows the tracked video
    trajectory as it is, down to where the video left it; the twin's goal geometry is not consulted.
    """
    return policy_of(spec.skill).plan(
        spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts
    )


def release_tolerance(goal) -> float:
    """Let go within half the goal's slack (a lid on a rim may be off-centre by only 1–3 cm), never looser
    than the baseline's reach tolerance nor tighter than the arm settles (4 mm)."""
    return float(np.clip(0.5 * min(goal.half_extents), 0.004, TaskPlan.release_tol))


def hand_turn_for(grasp_turn: float, carry_turn: float) -> float:
    """The parallel gripper closes the same way turned by pi: pick the one of ``grasp_turn`` and its
    half-turn twins that keeps the hand's largest turn, at the grasp or after the carry, smallest (the wrist's
    range is finite)."""
    options = [grasp_turn + k * np.pi for k in (-1, 0, 1)]
    return float(min(options, key=lambda t: max(abs(t), abs(t + carry_turn))))
