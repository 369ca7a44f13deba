"""Physics feasibility of a video: can a simulated copy of the object actually follow its trajectory?

A generated video's physics is hallucinated: objects pass through obstacles, pop in and out, jump. The
twin knows the scene's geometry, so we drive the twin's target along the tracked trajectory with a bounded
"ghost hand" (velocity commands capped at a plausible speed, collisions resolved by the simulator) and
measure:

- the largest gap between where the object should be and where physics lets it be (an obstacle in the
  way, a wall it must cross);
- the deepest penetration of the object into anything while being driven;
- the peak acceleration the trajectory demands (teleports and popping show up here).

The score is a product of soft pass factors in [0, 1]; 1 means "physically followable".
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from physworld_core.twin.build import build_twin
from physworld_core.twin.factory import make_twin_env
from physworld_core.twin.settle import deepest_contact

GRAVITY = 9.81


@dataclass(frozen=True)
class FeasibilityConfig:
    """Args:
    max_speed: cap on the commanded object speed (m/s): faster than a hand carries a can.
    gap_scale: pose gap (m) at which the gap factor drops to 1/e.
    penetration_scale: penetration depth (m) at which its factor drops to 1/e.
    max_accel: accelerations (m/s²) up to this are plausible for a carried object; beyond it the factor
        decays with the excess.
    """

    max_speed: float = 0.6
    gap_scale: float = 0.03
    penetration_scale: float = 0.005
    max_accel: float = 6.0

    def __post_init__(self) -> None:
        for name in ("max_speed", "gap_scale", "penetration_scale", "max_accel"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FeasibilityConfig.{name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class FeasibilityReport:
    score: float
    max_gap_m: float
    max_penetration_m: float
    peak_accel: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def trajectory_peak_accel(times: np.ndarray, positions: np.ndarray) -> float:
    """Largest finite-difference acceleration along the trajectory (m/s²)."""
    if len(times) < 3:
        return 0.0
    velocity = np.diff(positions, axis=0) / np.diff(times)[:, None]
    mid_times = 0.5 * (times[1:] + times[:-1])
    accel = np.diff(velocity, axis=0) / np.diff(mid_times)[:, None]
    return float(np.linalg.norm(accel, axis=1).max())


def score_trajectory(
    env, times: np.ndarray, positions: np.ndarray, config: FeasibilityConfig = FeasibilityConfig()
) -> FeasibilityReport:
    """Drive ``env``'s target (a TwinEnv, robot tucked away) along ``positions`` (box-centre, world) at ``times``."""
    # torch (~3 s cold) only where a twin env is driven (the env brings it anyway): importing this module for
    # its config or the numpy-only trajectory_peak_accel stays torch-free.
    import torch

    u = env.unwrapped
    env.reset(seed=0)
    dt = 1.0 / u.control_freq
    steps = max(2, int(np.ceil(times[-1] / dt)) + 1)
    sample_times = np.linspace(times[0], times[-1], steps)
    targets = np.stack([np.interp(sample_times, times, positions[:, i]) for i in range(3)], 1)
    offset = targets[0] - u.target_pose_world()[:3]  # the trajectory starts at the object's rest pose
    targets -= offset
    hold = np.zeros(env.action_space.shape, dtype=np.float32)
    body = u.target_object
    max_gap, max_pen = 0.0, 0.0
    for target in targets:
        error = target - u.target_pose_world()[:3]
        velocity = error / dt
        speed = np.linalg.norm(velocity)
        if speed > config.max_speed:
            velocity *= config.max_speed / speed
        velocity[2] += 0.5 * GRAVITY * dt  # the hand carries the weight: cancel the sag over one control step
        body.set_linear_velocity(torch.tensor(velocity[None], dtype=torch.float32))
        body.set_angular_velocity(torch.zeros((1, 3)))
        env.step(hold)
        max_gap = max(max_gap, float(np.linalg.norm(target - u.target_pose_world()[:3])))
        max_pen = max(max_pen, deepest_contact(u.scene, involving=body.name)[0])
    peak = trajectory_peak_accel(times, positions)
    factors = {
        "gap": np.exp(-max_gap / config.gap_scale),
        "penetration": np.exp(-max_pen / config.penetration_scale),
        "acceleration": 1.0
        if peak <= config.max_accel
        else float(np.exp(-(peak - config.max_accel) / config.max_accel)),
    }
    reasons = []
    if factors["gap"] < 0.5:
        reasons.append(
            f"the object cannot follow the path: {1000 * max_gap:.0f} mm behind where the video puts it"
        )
    if factors["penetration"] < 0.5:
        reasons.append(f"the path pushes the object {1000 * max_pen:.1f} mm into another body")
    if factors["acceleration"] < 0.5:
        reasons.append(f"the path demands {peak:.1f} m/s^2 (teleport or popping)")
    return FeasibilityReport(float(np.prod(list(factors.values()))), max_gap, max_pen, peak, tuple(reasons))


def score_reconstructions(
    reconstructions: dict, camera_json: str, config: FeasibilityConfig = FeasibilityConfig()
) -> dict[int, FeasibilityReport]:
    """Score each video sample's tracked trajectory in one twin of the (shared, static) scene.

    ``reconstructions`` maps sample index → Reconstruction of that sample; the scene geometry is taken from
    the first (every sample starts from the same RGB-D frame), the trajectories from each.
    """
    first = reconstructions[min(reconstructions)]
    built = build_twin(first, camera_json, (0.5, 0.5, 0.5))
    reports = {}
    with tempfile.TemporaryDirectory(prefix="physworld-feasibility-") as tmp:
        for name, data in built.files.items():
            (Path(tmp) / name).write_bytes(data)
        spec = built.spec.map_uris(lambda name: str(Path(tmp) / name))
        env = make_twin_env(spec.to_json(), robot_pose="capture")  # the robot stays out of the object's way
        try:
            centre = env.unwrapped.target_center_local()
            for sample, recon in sorted(reconstructions.items()):
                poses = recon.trajectory.poses_world
                positions = poses[:, :3, :3] @ centre + poses[:, :3, 3]
                reports[sample] = score_trajectory(env, recon.trajectory.times, positions, config)
        finally:
            env.close()
    return reports
