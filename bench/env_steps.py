"""Env steps/s of the twin vs ManiSkill's stock PickCube-v1, measured in the same run on this machine.

Both run one CPU env, state observations, random actions, no rendering; the figure that matters is the ratio.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np


def steps_per_second(env: gym.Env, steps: int = 600) -> float:
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(
            rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        )
        if bool(terminated.any()) or bool(truncated.any()):
            env.reset(seed=i)
    return steps / (time.perf_counter() - start)


def main() -> None:
    import tempfile
    from pathlib import Path

    import mani_skill.envs  # noqa: F401

    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.reconstruction.reconstruct import reconstruct
    from physworld_core.twin.build import build_twin
    from physworld_core.twin.factory import make_twin_env
    from physworld_core.video import backends

    scene = capture_scene(BenchmarkTask("bin", 11))
    video = backends.load("procedural").generate(scene)
    built = build_twin(reconstruct(scene, video.frames, video.fps), scene.camera.to_json(), (0.6, 0.4, 0.3))
    folder = Path(tempfile.mkdtemp(prefix="physworld-bench-"))
    for name, data in built.files.items():
        (folder / name).write_bytes(data)
    spec = built.spec.map_uris(lambda name: str(folder / name))

    results = {}
    for name, make in (
        (
            "PickCube-v1 (pd_joint_delta_pos)",
            lambda: gym.make("PickCube-v1", obs_mode="state", render_backend="none"),
        ),
        (
            "PickCube-v1 (pd_ee_delta_pose)",
            lambda: gym.make(
                "PickCube-v1", obs_mode="state", render_backend="none", control_mode="pd_ee_delta_pose"
            ),
        ),
        ("physworld twin (pd_ee_delta_pose)", lambda: make_twin_env(spec.to_json())),
    ):
        env = make()
        steps_per_second(env, 50)  # warm-up
        results[name] = steps_per_second(env)
        env.close()
    reference = results["PickCube-v1 (pd_ee_delta_pose)"]
    print("| env | steps/s | ratio to PickCube-v1 (same controller) |")
    print("|---|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value:.0f} | {value / reference:.2f} |")


if __name__ == "__main__":
    main()
