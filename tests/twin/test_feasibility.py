"""Physics feasibility: a followable video scores high; paths through obstacles or teleports score low."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.twin.factory import make_twin_env
from physworld_core.twin.feasibility import FeasibilityConfig, score_trajectory, trajectory_peak_accel


@pytest.fixture(scope="module")
def twin_env(bin_twin_local):
    env = make_twin_env(bin_twin_local.to_json(), robot_pose="capture")
    yield env
    env.close()


def _positions(env, reconstruction):
    centre = env.unwrapped.target_center_local()
    poses = reconstruction.trajectory.poses_world
    return reconstruction.trajectory.times, poses[:, :3, :3] @ centre + poses[:, :3, 3]


def test_tracked_video_is_feasible(twin_env, bin_reconstruction):
    times, positions = _positions(twin_env, bin_reconstruction)
    report = score_trajectory(twin_env, times, positions)
    assert report.score > 0.6, report
    assert report.max_gap_m < 0.01


def test_path_through_the_container_wall_is_not(twin_env, bin_reconstruction):
    times, positions = _positions(twin_env, bin_reconstruction)
    straight = np.linspace(positions[0], positions[-1], len(positions))
    straight[:, 2] = positions[0, 2]  # slide along the table straight into the bin's wall
    report = score_trajectory(twin_env, times, straight)
    assert report.score < 0.2 and report.max_gap_m > 0.05, report
    assert any("cannot follow" in r for r in report.reasons)


def test_teleport_is_caught_by_acceleration(twin_env, bin_reconstruction):
    times, positions = _positions(twin_env, bin_reconstruction)
    jumpy = positions.copy()
    jumpy[len(jumpy) // 2] += [0.0, 0.0, 0.15]
    report = score_trajectory(twin_env, times, jumpy)
    assert report.peak_accel > FeasibilityConfig().max_accel
    assert report.score < score_trajectory(twin_env, times, positions).score


def test_peak_accel_of_uniform_motion_is_zero():
    times = np.linspace(0, 1, 11)
    assert trajectory_peak_accel(times, np.outer(times, [0.1, 0.0, 0.0])) == pytest.approx(0.0, abs=1e-9)
