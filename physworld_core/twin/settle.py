"""Is the twin physically plausible before anyone touches it? Nothing interpenetrates; everything rests."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class SettleConfig:
    """Args:
    seconds: simulated time to let the scene settle with the robot holding its rest pose.
    max_penetration_m: deepest allowed contact penetration at the start (a few mm is contact noise).
    max_drift_m: how far any movable object may move while settling.
    max_final_speed: linear speed (m/s) above which an object is "not at rest" at the end.
    """

    seconds: float = 1.0
    max_penetration_m: float = 0.004
    max_drift_m: float = 0.01
    max_final_speed: float = 0.02

    def __post_init__(self) -> None:
        if (
            self.seconds <= 0
            or self.max_penetration_m <= 0
            or self.max_drift_m <= 0
            or self.max_final_speed <= 0
        ):
            raise ValueError(f"SettleConfig values must be positive: {self}")


@dataclass(frozen=True)
class SettleReport:
    passed: bool
    max_penetration_m: float
    penetrating_pair: str
    max_drift_m: float
    drifting_object: str
    max_final_speed: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def deepest_contact(scene, involving: str | None = None) -> tuple[float, str]:
    """Deepest penetration among contacts (robot links ignored), optionally only those of one body."""
    deepest, pair = 0.0, ""
    for contact in scene.px.get_contacts():
        names = {contact.bodies[0].entity.name, contact.bodies[1].entity.name}
        if any(n.startswith("panda") for n in names) or (involving is not None and involving not in names):
            continue
        for point in contact.points:
            if -point.separation > deepest:
                deepest, pair = -float(point.separation), " / ".join(sorted(names))
    return deepest, pair


def settle_twin(env, config: SettleConfig = SettleConfig()) -> SettleReport:
    """Reset ``env`` (a TwinEnv or any TabletopEnv with ``actors``), step with a hold action, measure."""
    env.reset(seed=0)
    u = env.unwrapped
    u.scene.px.step()  # contacts are reported after a simulation step
    penetration, pair = deepest_contact(u.scene)
    movable = {name: a for name, a in u.actors.items() if getattr(a, "px_body_type", "") != "kinematic"}
    start = {n: a.pose.p[0].cpu().numpy().copy() for n, a in movable.items()}
    hold = np.zeros(env.action_space.shape, dtype=np.float32)
    hold[-1] = 1.0  # gripper open
    for _ in range(round(config.seconds * u.control_freq)):
        env.step(hold)
    drift, drifting, speed = 0.0, "", 0.0
    for n, a in movable.items():
        d = float(np.linalg.norm(a.pose.p[0].cpu().numpy() - start[n]))
        if d > drift:
            drift, drifting = d, n
        speed = max(speed, float(np.linalg.norm(a.linear_velocity[0].cpu().numpy())))
    reasons = []
    if penetration > config.max_penetration_m:
        reasons.append(
            f"{pair} interpenetrate by {1000 * penetration:.1f} mm (> {1000 * config.max_penetration_m:.0f} mm)"
        )
    if drift > config.max_drift_m:
        reasons.append(
            f"{drifting} moved {1000 * drift:.1f} mm while settling (> {1000 * config.max_drift_m:.0f} mm)"
        )
    if speed > config.max_final_speed:
        reasons.append(f"objects still moving at {speed:.3f} m/s after {config.seconds} s")
    return SettleReport(not reasons, penetration, pair, drift, drifting, speed, tuple(reasons))
