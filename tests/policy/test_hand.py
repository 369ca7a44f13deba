"""The hand's turn about the vertical: controller signs, grasps at any turn, and turning the object to fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import trimesh

from physworld_core.policy.baseline import BaselineController, Phase
from physworld_core.policy.grasp import best_grasp
from physworld_core.policy.hand import arm_action, hand_yaw, rotate_z, wrap_angle
from physworld_core.policy.plan import TaskPlan, hand_turn_for
from physworld_core.skills.place.policy import aligning_turn
from physworld_core.twin.spec import GoalRegion


def test_turn_and_level_commands_move_the_real_arm_the_way_they_say():
    """Pins the sign of ManiSkill's rotation commands: +dyaw turns the closing axis counter-clockwise seen
    from above, and a tilted hand is brought back to pointing straight down."""
    from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env

    env = make_world_env(BenchmarkTask("bin", 0))
    try:
        env.reset(seed=0)
        u = env.unwrapped
        tilt = np.zeros(7, np.float32)
        tilt[[3, 4, 6]] = (1.0, -0.5, 1.0)
        for _ in range(5):
            env.step(tilt)
        assert u.tcp_rotation()[2, 2] > -0.99  # tilted by the raw command
        start = hand_yaw(u.tcp_rotation())
        for _ in range(20):
            env.step(arm_action(np.array([0.0, 0.0, 0.0, 1.0, 1.0]), u.tcp_rotation()))
        assert wrap_angle(hand_yaw(u.tcp_rotation()) - start) > np.radians(20)
        assert u.tcp_rotation()[2, 2] < -0.999  # level again
    finally:
        env.close()


def test_arm_action_rejects_a_position_only_action():
    with pytest.raises(ValueError, match="dyaw"):
        arm_action(np.zeros(4), np.eye(3))


def test_an_elongated_object_is_grasped_across_its_width_at_any_yaw():
    box = trimesh.creation.box(extents=[0.12, 0.04, 0.05])
    box.apply_transform(trimesh.transformations.rotation_matrix(np.radians(60), [0, 0, 1]))
    box.apply_translation([0.1, 0.0, 0.025])
    rest_axis = np.array([0.0, -1.0, 0.0])
    grasp = best_grasp(box.vertices, box.faces, np.array([0.1, 0.0, 0.0]), rest_axis, 0.0)
    closing = rotate_z(rest_axis, grasp.turn)
    width_axis = rotate_z(np.array([0.0, 1.0, 0.0]), np.radians(60))
    assert abs(closing @ width_axis) > 0.96  # closes across the 4 cm side, within 15 degrees
    assert grasp.width == pytest.approx(0.04, abs=0.004)


def test_an_elongated_object_is_turned_to_lie_along_its_box():
    shoe = trimesh.creation.box(extents=[0.13, 0.05, 0.05])
    shoe.apply_transform(trimesh.transformations.rotation_matrix(np.radians(70), [0, 0, 1]))
    box = GoalRegion(center=(0.2, 0.1, 0.0), half_extents=(0.08, 0.05), yaw=np.radians(-20), top_z=0.06)
    turn = aligning_turn(np.asarray(shoe.vertices), box)
    assert np.degrees(turn) == pytest.approx(90.0, abs=1.0) or np.degrees(turn) == pytest.approx(-90, abs=1.0)
    round_bin = GoalRegion(center=(0.2, 0.1, 0.0), half_extents=(0.08, 0.08), yaw=0.0, top_z=0.06)
    assert aligning_turn(np.asarray(shoe.vertices), round_bin) == 0.0
    can = trimesh.creation.cylinder(radius=0.03, height=0.1)
    assert aligning_turn(np.asarray(can.vertices), box) == 0.0


def test_the_hand_takes_the_shorter_of_two_equivalent_grasp_turns():
    # closing at +80 deg or -100 deg is the same grasp; with a +60 deg carry, -100 keeps the wrist within 40
    assert hand_turn_for(np.radians(80), np.radians(60)) == pytest.approx(np.radians(-100))
    assert hand_turn_for(np.radians(10), np.radians(20)) == pytest.approx(np.radians(10))


def _plan(grasp_turn: float, carry_turn: float) -> TaskPlan:
    return TaskPlan(
        grasp_offset=(0.0, 0.0, 0.0),
        grasp_width=0.04,
        waypoints=((0.0, 0.0, 0.05), (0.0, 0.0, 0.15), (0.2, 0.0, 0.15)),
        release_position=(0.2, 0.0, 0.15),
        goal_center=(0.2, 0.0, 0.0),
        grasp_turn=grasp_turn,
        carry_turn=carry_turn,
    )


def test_the_baseline_turns_before_it_descends_and_carries_the_turned_offset():
    controller = BaselineController(_plan(np.radians(45), np.radians(-30)))
    obj = np.array([0.0, 0.0, 0.05])
    above = obj + [0.0, 0.0, 0.08]
    action = controller.act(above, obj, hand_turn=0.0)
    assert controller.phase == Phase.APPROACH  # in place but not turned: no descent yet
    assert action[3] > 0.5  # turning towards +45 deg
    controller.act(above, obj, hand_turn=np.radians(45))
    assert controller.phase == Phase.DESCEND
    # grasped with the TCP 2 cm beside the object's centre; once the hand has turned 90 deg further, the
    # object sits 2 cm along the turned direction, so the hand aims there
    controller.phase, controller.carry_offset = Phase.CARRY, np.array([0.02, 0.0, 0.0])
    controller.turn_at_grasp = np.radians(45)
    controller.waypoint_index = 2
    tcp = np.array([0.2, 0.02, 0.15])  # the last waypoint plus the offset turned by 90 deg
    action = controller.act(tcp, np.array([0.2, 0.0, 0.15]), hand_turn=np.radians(135))
    assert np.allclose(action[:3], 0.0, atol=1e-6)  # unturned, it would move 2 cm sideways
    assert action[3] < 0  # heading back towards the planned 45 - 30 = 15 deg


def test_over_a_slot_the_baseline_puts_the_object_itself_on_the_waypoint_and_reaches_it_closely():
    """From ``precise_from`` on, the hand aims so that the object as seen (not as it was held at the grasp)
    reaches each waypoint, and moves on only within ``precise_tol``: a book swinging 9 mm in the fingers had
    landed on its neighbour instead of in the gap."""
    plan = dataclasses.replace(
        _plan(0.0, 0.0),
        waypoints=((0.0, 0.0, 0.05), (0.2, 0.0, 0.15), (0.2, 0.0, 0.10)),
        release_position=(0.2, 0.0, 0.10),
        precise_from=1,
    )
    controller = BaselineController(plan)
    controller.phase, controller.carry_offset = Phase.CARRY, np.array([0.0, 0.0, 0.03])
    controller.turn_at_grasp, controller.waypoint_index = 0.0, 1
    held_off = np.array([0.209, 0.0, 0.15])  # the object swung 9 mm in the fingers
    tcp = held_off + [0.0, 0.0, 0.03] - [0.009, 0.0, 0.0]  # ...so the hand sits where the grasp said
    action = controller.act(tcp, held_off, hand_turn=0.0)
    assert controller.waypoint_index == 1  # 9 mm off is not there yet
    assert action[0] < 0  # the hand moves back to bring the object over the waypoint
    loose = BaselineController(dataclasses.replace(plan, precise_from=None))
    loose.phase, loose.carry_offset, loose.waypoint_index = Phase.CARRY, np.array([0.0, 0.0, 0.03]), 1
    loose.act(tcp, held_off, hand_turn=0.0)
    assert loose.waypoint_index == 2  # within 2 cm: passed


def test_a_blocked_descent_into_a_slot_searches_along_the_row():
    """Each time the way down is blocked above the release point (the object on a neighbour's edge), the hand
    backs up clear of it and comes down again shifted to the plan's next offset along the row."""
    from physworld_core.skills.place.policy import slot_search_offsets

    goal = GoalRegion(
        center=(0.2, 0.0, 0.0), half_extents=(0.02, 0.05), yaw=np.pi / 2, top_z=0.02, kind="slot"
    )
    offsets = slot_search_offsets(goal)
    assert (
        len(offsets) == 6 and np.allclose(offsets[0], (0.0, 0.003)) and np.allclose(offsets[1], (0.0, -0.003))
    )
    assert max(np.linalg.norm(o) for o in offsets) <= 0.01 + 1e-9  # half the slot's half width
    plan = dataclasses.replace(
        _plan(0.0, 0.0),
        waypoints=((0.0, 0.0, 0.05), (0.2, 0.0, 0.15), (0.2, 0.0, 0.125), (0.2, 0.0, 0.08)),
        release_position=(0.2, 0.0, 0.08),
        precise_from=1,
        search_offsets=offsets,
    )
    assert TaskPlan.from_json(plan.to_json()) == plan
    controller = BaselineController(plan)
    controller.phase, controller.carry_offset = Phase.CARRY, np.array([0.0, 0.0, 0.03])
    stuck_object = np.array([0.2, 0.0, 0.12])  # 4 cm above the release point, getting no lower
    tried = []
    for _ in range(3):
        controller.waypoint_index = 3  # down again, and blocked again
        for step in range(controller.config.stall_steps + 2):
            # Resting on the neighbour's edge, the object slides sideways as the hand presses down.
            creeping = stuck_object + [0.001 * step, 0.0, 0.0]
            controller.act(creeping + [0.0, 0.0, 0.03], creeping, hand_turn=0.0)
        # Backed up clear of where it is stuck: the waypoint at 12.5 cm is still within 1 cm of it.
        assert controller.waypoint_index == 1
        tried.append(controller.search_offset[:2].copy())
    assert controller.phase == Phase.CARRY  # it never let go on the neighbour
    np.testing.assert_allclose(tried, offsets[:3])
    with pytest.raises(ValueError, match="precise_from"):
        dataclasses.replace(plan, precise_from=None)


def test_one_angle_wrap_for_the_controllers_and_the_oracles():
    """The policy layer and the world's oracles had a copy each; the oracles now use the policy's. It wraps
    into [-pi, pi): a half turn either way is -pi, so two readings of one turn never differ by 2 pi."""
    from physworld_core.world import scripted

    assert scripted.wrap_angle is wrap_angle
    assert wrap_angle(np.pi) == -np.pi and wrap_angle(-np.pi) == -np.pi
    assert np.isclose(wrap_angle(3 * np.pi / 2), -np.pi / 2) and np.isclose(
        wrap_angle(-7.0), -7.0 + 2 * np.pi
    )
    assert isinstance(wrap_angle(np.float32(1.0)), float)
