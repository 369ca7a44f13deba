"""A stock ManiSkill env through the whole pipeline, scored by the env's own ``evaluate()``.

    .venv/bin/python -m bench.stock_adapter --env PushCube-v1 --seeds 0-2 \
        --prompt "push the cube onto the red and white target" --env-steps 4096 --trials 10

Each seed: capture the env's sensor camera at ``--size`` → procedural video (2 samples) → reconstruction →
twin → planner + residual PPO in the twin → ``--trials`` trials per method in the stock env itself. The same
stage functions the Dagster assets call, on a temporary lake. Nothing here (or in the adapter) knows the env
id: another Panda tabletop env with a visible goal runs by changing ``--env`` and ``--prompt``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds


def run_seed(store, env_id: str, seed: int, size: int, prompt: str, env_steps: int, trials: int) -> dict:
    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.rollouts import RecordConfig
    from physworld_core.evaluation.stage import run_evaluation_stage
    from physworld_core.evaluation.trials import TrialConfig
    from physworld_core.ingest import ingest_scene, register_task
    from physworld_core.policy.stage import run_policy_stage
    from physworld_core.policy.train import PolicyTrainConfig
    from physworld_core.reconstruction.stage import run_reconstruction_stage
    from physworld_core.twin.stage import run_twin_stage
    from physworld_core.video.stage import run_video_stage

    source = f"maniskill:{env_id}:{seed}:{size}x{size}"
    task_id = f"stock-{seed:04d}"
    out: dict = {"seed": seed, "source": source}
    times = {}
    try:
        register_task(store, task_id, source, prompt)
        for name, stage in (
            ("scenes", lambda: ingest_scene(store, task_id)),
            ("videos", lambda: run_video_stage(store, task_id)),
            ("reconstructions", lambda: run_reconstruction_stage(store, task_id)),
            ("twins", lambda: run_twin_stage(store, task_id)),
        ):
            t0 = time.time()
            stage()
            times[name] = time.time() - t0
        cfg = PolicyTrainConfig()
        cfg = replace(cfg, ppo=replace(cfg.ppo, total_env_steps=env_steps))
        t0 = time.time()
        policy = run_policy_stage(store, task_id, cfg, progress=False)
        times["policies"] = time.time() - t0
        out["twin_success"] = {
            "physworld": policy.residual.twin_success,
            "planner_only": policy.residual.baseline_twin_success,
        }
        out["train_seconds"] = policy.seconds
        t0 = time.time()
        result = run_evaluation_stage(store, task_id, TrialConfig(trials=trials), RecordConfig(trials=0))
        times["evaluations"] = time.time() - t0
    except PhysworldError as error:
        out["error"] = f"{type(error).__name__}: {error}"
        return out
    out["success"] = result.success
    out["failures"] = {
        m: dict(Counter(r["failure"] for r in result.rows if r["method"] == m and r["failure"]))
        for m in result.success
    }
    out["seconds"] = times
    return out


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
    args = parser.parse_args()
    from physworld_core.store import Store

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stock-") as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        for seed in parse_seeds(args.seeds):
            r = run_seed(store, args.env, seed, args.size, args.prompt, args.env_steps, args.trials)
            results.append(r)
            print(r, flush=True)
    ok = [r for r in results if "error" not in r]
    print(
        f"\n{args.env} ({args.prompt!r}), {len(results)} seeds, {args.trials} trials each, pipeline errors "
        f"{len(results) - len(ok)}"
    )
    print("| method | success by the env's evaluate() | failures |\n|---|---|---|")
    methods = sorted({m for r in ok for m in r["success"]})
    for m in methods:
        values = [r["success"][m] for r in ok] + [0.0] * (len(results) - len(ok))
        failures = Counter()
        for r in ok:
            failures.update(r["failures"][m])
        print(f"| {m} | {np.mean(values):.0%} | {dict(failures) or '-'} |")


if __name__ == "__main__":
    main()
