"""A stock ManiSkill env through the whole pipeline, scored by the env's own ``evaluate()``.

    .venv/bin/python -m bench.stock_adapter --env PushCube-v1 --seeds 0-2 \
        --prompt "push the cube onto the red and white target" --env-steps 4096 --trials 10

Each seed: capture the env's sensor camera at ``--size`` → procedural video (2 samples) → reconstruction →
twin → planner + residual PPO in the twin → ``--trials`` trials per method in the stock env itself (the stages
the Dagster assets call, on a temporary lake; see :mod:`bench.methods_table`). Nothing here or in the adapter
knows the env id: another Panda tabletop env with a visible goal runs by changing ``--env`` and ``--prompt``.

    .venv/bin/python -m bench.stock_adapter --survey

instead lists every registered stock tabletop env (ManiSkill's ``tasks.tabletop`` package) as accepted by the
adapter (with the robot it drives and the camera it captures from) or refused (with the adapter's one-line
reason), then the count.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds
from bench.methods_table import markdown_table, run_task

TABLETOP_PACKAGE = "mani_skill.envs.tasks.tabletop"
"""Where ManiSkill keeps its tabletop tasks: the envs the adapter is for (the survey's population)."""


def survey(size: int = 64) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(accepted, refused): ``(env id, robot uid and capture camera)`` for every stock tabletop env the adapter
    builds at seed 0 with a ``size``² capture, ``(env id, reason)`` for the others."""
    # heavy imports (ManiSkill, the renderer) only when surveying
    from mani_skill.utils.registration import REGISTERED_ENVS

    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.stock import StockTask

    accepted, refused = [], []
    env_ids = sorted(
        e for e, spec in REGISTERED_ENVS.items() if spec.cls.__module__.startswith(TABLETOP_PACKAGE)
    )
    for env_id in env_ids:
        task = StockTask(env_id, 0, size, size)
        try:
            env = task.make_env()
            robot = env.unwrapped.agent.uid
            env.close()
            scene = task.capture(prompt="survey")
        except PhysworldError as error:
            refused.append((env_id, str(error)))
            continue
        camera = np.round(np.asarray(scene.camera.cam_to_world)[:3, 3], 2).tolist()
        accepted.append((env_id, f"{robot}, camera at {camera}"))
    return accepted, refused


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="PushCube-v1")
    parser.add_argument("--prompt", default="push the cube onto the red and white target")
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--env-steps", type=int, default=4096)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument(
        "--oracle", action="store_true", help="also train residual PPO in the stock env itself"
    )
    parser.add_argument(
        "--survey",
        action="store_true",
        help="list which stock tabletop envs the adapter accepts, and why not",
    )
    args = parser.parse_args()
    if args.survey:
        accepted, refused = survey()
        for env_id, what in accepted:
            print(f"accepted  {env_id}: {what}")
        for env_id, reason in refused:
            print(f"refused   {env_id}: {reason}")
        print(f"\n{len(accepted)} of {len(accepted) + len(refused)} stock tabletop envs accepted")
        return
    from physworld_core.store import Store

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stock-") as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        for seed in parse_seeds(args.seeds):
            source = f"maniskill:{args.env}:{seed}:{args.size}x{args.size}"
            r = run_task(store, source, args.prompt, args.env_steps, args.trials, oracle=args.oracle)
            results.append(r)
            print(r, flush=True)
    print(f"\n{args.env}, prompt {args.prompt!r}")
    print(markdown_table(results, args.trials))


if __name__ == "__main__":
    main()
