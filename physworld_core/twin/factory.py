"""Picklable env factories for twins (AsyncVectorEnv with ``spawn`` pickles them into worker processes)."""

from __future__ import annotations

import gymnasium as gym

from physworld_core.twin.spec import TwinSpec


def make_twin_env(
    spec_json: str,
    randomize_physics: bool = False,
    dr_seed: int = 0,
    reconfiguration_freq: int | None = None,
    obs_mode: str = "none",
    robot_pose: str = "ready",
) -> gym.Env:
    """Build the twin env from a spec whose mesh fields are local file paths.

    ``obs_mode="none"``: policies read object-centric state through the env's accessors, so ManiSkill need
    not assemble its own observation dict every step.
    """
    # Function-level: the env module loads ManiSkill (~6 s cold); stages import this factory and pickle it
    # into spawn workers without needing a simulator until an env is made.
    import physworld_core.twin.env  # noqa: F401  (registers the env id)

    kwargs = {
        "twin_spec": TwinSpec.from_json(spec_json),
        "randomize_physics": randomize_physics,
        "robot_pose": robot_pose,
        "dr_seed": dr_seed,
        "obs_mode": obs_mode,
    }
    if reconfiguration_freq:
        kwargs["reconfiguration_freq"] = reconfiguration_freq
    return gym.make("PhysWorld-Twin-v0", **kwargs)
