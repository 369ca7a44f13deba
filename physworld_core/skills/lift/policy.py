"""The lift skill's plan and baseline: grasp the object, raise it straight up, carry it over the named object if
there is one, and hold it there at the asked height, never letting go.

The plan is the place skill's grasp with a path of its own: up from where the object rests to the higher of the
goal band's middle (:class:`~physworld_core.skills.lift.twin.LiftGoal`) and the tracked video's highest point
(the video cleared whatever stands near the way), across to over the goal's centre, then to the band's middle.
The ``visual_imitation`` plan follows the tracked path as it is. The controller
(:class:`LiftController`) is the place baseline with its release taken out: where that one would let go, this one
holds (the RETREAT phase, with the fingers closed).
"""

from __future__ import annotations

import numpy as np
from transforms3d.quaternions import quat2mat

from physworld_core.policy.baseline import BaselineConfig, BaselineController
from physworld_core.policy.grasp import GraspConfig, best_grasp
from physworld_core.policy.plan import TaskPlan, hand_turn_for, resample_path
from physworld_core.policy.skill import SkillPolicy
from physworld_core.skills.registry import skill_of
from physworld_core.twin.spec import TwinSpec


def plan_lift(
    spec: TwinSpec,
    vertices: np.ndarray,
    faces: np.ndarray,
    closing_axis: np.ndarray,
    grasp_config: GraspConfig = GraspConfig(),
    spacing: float = 0.02,
    physical: bool = True,
    parts: list[np.ndarray] | None = None,
) -> TaskPlan:
    """Grasp on the twin's target mesh (object frame ``vertices``) and the path up to the goal band (see the
    module's docstring); positions are of the target's bounding-box centre."""
    target = spec.target
    centre_local = 0.5 * (vertices.min(0) + vertices.max(0))
    rest_R, rest_p = quat2mat(target.pose[3:]), np.asarray(target.pose[:3])
    position = rest_R @ centre_local + rest_p
    verts_world = vertices @ rest_R.T + rest_p
    poses = np.asarray(spec.trajectory_poses, dtype=np.float64)
    tracked = np.array([quat2mat(p[3:]) @ centre_local + p[:3] for p in poses])
    tracked = tracked - tracked[0] + position  # the trajectory starts where the twin's object rests
    goal = spec.goal
    if physical:
        under_centre = position[2] - float(verts_world[:, 2].min())  # from the underside up to the centre
        end_z = 0.5 * (goal.details.bottom_z + goal.top_z) + under_centre
        carry_z = max(end_z, float(tracked[:, 2].max()))
        path = np.array(
            [
                position,
                [position[0], position[1], carry_z],
                [goal.center[0], goal.center[1], carry_z],
                [goal.center[0], goal.center[1], end_z],
            ]
        )
        path = path[np.r_[True, np.linalg.norm(np.diff(path, axis=0), axis=1) > 1e-6]]
    else:  # as the video shows it
        path = tracked
    parts_world = None if parts is None else [p @ rest_R.T + rest_p for p in parts]
    grasp = best_grasp(
        verts_world,
        faces,
        position,
        closing_axis,
        spec.table_height,
        grasp_config,
        parts=parts_world,
        grip_parts=target.grip_parts,
    )
    waypoints = resample_path(path, spacing)
    return TaskPlan(
        grasp_offset=tuple(map(float, grasp.tcp_in_object)),
        grasp_width=float(grasp.width),
        waypoints=tuple(tuple(map(float, w)) for w in waypoints),
        release_position=tuple(map(float, waypoints[-1])),  # never let go: where it is held
        goal_center=tuple(map(float, goal.center)),
        grasp_turn=hand_turn_for(grasp.turn, 0.0),
        skill=HOOKS.name,
    )


class LiftController(BaselineController):
    """The place baseline (approach, descend, close, carry) that holds at the end of the path instead of letting
    go: where the place baseline would switch to RELEASE (at the last waypoint, blocked, or out of time), this
    one switches to RETREAT and stays there holding, aiming at that last carry target with the fingers closed."""

    releases = False


class LiftPolicy(SkillPolicy):
    name = skill_of(__name__)

    def plan(self, spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts) -> TaskPlan:
        return plan_lift(spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts)

    def controller(self, plan: TaskPlan, config: BaselineConfig) -> LiftController:
        return LiftController(plan, config)


HOOKS = LiftPolicy()
