"""Residual PPO (on the planner) vs the same PPO from scratch: env steps to 80 % success, same seeds.

    .venv/bin/python -m bench.residual_vs_scratch --families bin,book,sweep --seeds 20-21 --env-steps 8192
    .venv/bin/python -m bench.residual_vs_scratch --families sweep --seeds 20-21 --env-steps 8192 \
        --scratch-env-steps 65536

Per family and seed: the pipeline's own twin (capture → video → reconstruction → twin → plan), then both
learners with the same config and seed, and the same budget unless ``--scratch-env-steps`` says. Prints the
env steps and wall time at which each learner's training episodes first reach 80 % success (or "not
reached"), final nominal-twin success, and the ratio; writes the learning curves to
``bench/out/residual_vs_scratch.png``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.bin_family import local_twin, parse_seeds

TARGET = 0.8


def first_reaching(curve: list[dict], target: float) -> dict | None:
    """The curve point (env steps, training wall seconds) of the first update whose training episodes
    succeed at least ``target`` of the time."""
    for point in curve:
        if point.get("success_rate") is not None and point["success_rate"] >= target:
            return point
    return None


def main() -> None:
    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.policy.stage import make_plan
    from physworld_core.policy.train import PolicyTrainConfig, train_policy
    from physworld_core.reconstruction.reconstruct import reconstruct
    from physworld_core.video import backends

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="bin")
    parser.add_argument("--seeds", default="20-22")
    parser.add_argument("--env-steps", type=int, default=8192)
    parser.add_argument(
        "--scratch-env-steps",
        type=int,
        default=None,
        help="scratch PPO's budget when it should differ from --env-steps (a longer one tells whether it "
        "reaches 80 %% at all)",
    )
    args = parser.parse_args()
    defaults = PolicyTrainConfig()
    budgets = {True: args.env_steps, False: args.scratch_env_steps or args.env_steps}
    configs = {
        residual: replace(defaults, ppo=replace(defaults.ppo, total_env_steps=steps))
        for residual, steps in budgets.items()
    }
    rows, curves = [], {}
    tasks = [(family, seed) for family in args.families.split(",") for seed in parse_seeds(args.seeds)]
    refused = {}
    for family, seed in tasks:
        try:  # a task the pipeline refuses has no twin to learn in: say so and go on
            scene = capture_scene(BenchmarkTask(family, seed))
            video = backends.load("procedural").generate(scene)
            spec, _ = local_twin(
                scene, reconstruct(scene, video.frames, video.fps), f"bench-rvs-{family}-{seed}-"
            )
            plan = make_plan(spec)
        except PhysworldError as error:
            refused[f"{family}-{seed}"] = f"{type(error).__name__}: {str(error)[:160]}"
            print(f"{family}-{seed}: refused, {refused[f'{family}-{seed}']}", flush=True)
            continue
        for residual in (True, False):
            with tempfile.TemporaryDirectory() as work:
                start = time.perf_counter()
                result = train_policy(
                    spec.to_json(), plan, configs[residual], Path(work), residual=residual, progress=False
                )
                wall = time.perf_counter() - start
            reached = first_reaching(result.curve, TARGET)
            name = "residual" if residual else "scratch"
            curves[(f"{family}-{seed}", name)] = result.curve
            rows.append(
                {
                    "task": f"{family}-{seed}",
                    "learner": name,
                    "steps_to_80": reached["env_steps"] if reached else None,
                    "wall_to_80": reached["wall_s"] if reached else None,
                    "twin_success": result.twin_success,
                    "planner_twin_success": result.baseline_twin_success,
                    "wall_s": wall,
                    "env_steps": result.env_steps,
                }
            )
            print(rows[-1], flush=True)

    print(
        f"\n## Residual vs scratch PPO ({budgets[True]} and {budgets[False]} env steps), seeds {args.seeds}\n"
    )
    print(
        "| task | learner | env steps to 80 % | wall s to 80 % | final twin success | planner twin success "
        "| train wall s |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        reached = r["steps_to_80"] if r["steps_to_80"] is not None else f"not in {r['env_steps']}"
        wall = f"{r['wall_to_80']:.0f}" if r["wall_to_80"] is not None else "-"
        print(
            f"| {r['task']} | {r['learner']} | {reached} | {wall} | {r['twin_success']:.0%} | "
            f"{r['planner_twin_success']:.0%} | {r['wall_s']:.0f} |"
        )
    for task, reason in refused.items():
        print(f"| {task} | refused | {reason} | | | | |")
    ratios = []
    for task in dict.fromkeys(r["task"] for r in rows):
        res = next(r for r in rows if r["task"] == task and r["learner"] == "residual")
        scr = next(r for r in rows if r["task"] == task and r["learner"] == "scratch")
        scratch_steps = scr["steps_to_80"] or scr["env_steps"]  # lower bound when scratch never got there
        if res["steps_to_80"]:
            ratios.append(scratch_steps / res["steps_to_80"])
    if ratios:
        print(
            f"\nscratch / residual env steps to 80 %: median {np.median(ratios):.1f}x "
            "(a lower bound where scratch never reached 80 %)"
        )
    _plot(curves, Path("bench/out/residual_vs_scratch.png"))


def _plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for (task, name), curve in sorted(curves.items()):
        steps = [c["env_steps"] for c in curve]
        success = [np.nan if c.get("success_rate") is None else c["success_rate"] for c in curve]
        ax.plot(steps, success, linestyle="-" if name == "residual" else "--", label=f"{name} {task}")
    ax.axhline(TARGET, color="grey", linewidth=0.8)
    ax.set_xlabel("env steps")
    ax.set_ylabel("training-episode success")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    print(f"learning curves: {path}")


if __name__ == "__main__":
    main()
