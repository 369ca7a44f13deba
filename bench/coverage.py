"""What the pipeline covers, per world family: does each task get through (or which stage refuses it, and
why), and how do the untrained methods do in the twin and in the true world.

    .venv/bin/python -m bench.coverage --families bin,push,stack,lid,shoe,pan --seeds 60-64 --trials 5

Each task runs the core stages the Dagster assets call (scene → 2 video samples → reconstruction → twin →
plan) on a temporary lake, then ``--trials`` trials of ``planner_only`` and ``visual_imitation`` in the
twin and in the true world. No PPO: this is the quick map of where the pipeline stands; ``bench.methods_table``
adds the learned methods. A refusal is reported by its error class and first words, so a family the grammar
does not read yet shows up as "GroundingError: … asks for pouring …" rather than as a silent zero.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds
from bench.methods_table import task_id_for

METHODS = ("planner_only", "visual_imitation")


def run_core(store, source: str, trials: int) -> dict:
    """One task through the core stages; planner and imitation success in the twin and the world."""
    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.evaluation.worlds import parse_world
    from physworld_core.ingest import ingest_scene, register_task
    from physworld_core.policy.stage import closing_axis_at_rest, make_plan
    from physworld_core.policy.train import PolicyTrainConfig, make_actor, twin_success_rates
    from physworld_core.twin.selection import run_reconstruction_stage
    from physworld_core.twin.stage import load_twin, localize, run_twin_stage
    from physworld_core.video.stage import run_video_stage

    task_id = task_id_for(source)
    out: dict = {"source": source}
    start = time.time()
    try:
        register_task(store, task_id, source, None, force=True)  # the bench owns its lake: a rerun replaces
        for stage in (ingest_scene, run_video_stage, run_reconstruction_stage, run_twin_stage):
            stage(store, task_id)
        spec, _ = load_twin(store, task_id)
        local = localize(store, spec)
        axis = closing_axis_at_rest(local)
        plans = {"planner_only": make_plan(local, closing_axis=axis)}
        plans["visual_imitation"] = make_plan(local, physical=False, closing_axis=axis)
        cfg = PolicyTrainConfig()
        out["twin"] = {
            m: twin_success_rates(local.to_json(), plan, cfg, {"plan": make_actor(None, None)})["plan"]
            for m, plan in plans.items()
        }
        world = parse_world(source)
        out["world"], out["failures"] = {}, {}
        for m, plan in plans.items():
            rows = run_trials(world, m, plan, config=TrialConfig(trials=trials))
            out["world"][m] = float(np.mean([r["success"] for r in rows]))
            out["failures"][m] = dict(Counter(r["failure"] for r in rows if r["failure"]))
        out["goal"] = spec.goal.kind
    except PhysworldError as error:
        out["error"] = f"{type(error).__name__}: {str(error)[:140]}"
    out["seconds"] = round(time.time() - start, 1)
    return out


def _mean(rows: list[dict], key: str, method: str) -> str:
    """Mean success over ``rows``; a task the pipeline refused counts 0."""
    if not rows:
        return "–"
    return f"{np.mean([r[key][method] if key in r else 0.0 for r in rows]):.0%}"


def print_table(results: list[dict]) -> None:
    by_family = defaultdict(list)
    for r in results:
        by_family[r["source"].split(":")[1]].append(r)
    print(
        "\n| family | tasks | built | planner twin | planner world | imitation world | world failures (planner) "
        "| refusals |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for family, rows in by_family.items():
        built = [r for r in rows if "error" not in r]
        refusals = Counter(r["error"].split(":")[0] for r in rows if "error" in r)

        failures = Counter()
        for r in built:
            failures.update(r["failures"]["planner_only"])
        print(
            f"| {family} | {len(rows)} | {len(built)} | {_mean(built, 'twin', 'planner_only')} | "
            f"{_mean(rows, 'world', 'planner_only')} | {_mean(rows, 'world', 'visual_imitation')} | "
            f"{', '.join(f'{k} {v}' for k, v in failures.most_common()) or 'none'} | "
            f"{', '.join(f'{k} {v}' for k, v in refusals.most_common()) or 'none'} |"
        )
    print("\n(world success over every task, a refused task counting 0; twin success over the tasks built)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default="bin,push,stack,lid,shoe,pan")
    parser.add_argument("--seeds", default="60-64")
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    from physworld_core.store import Store

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-coverage-") as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        for family in args.families.split(","):
            for seed in parse_seeds(args.seeds):
                r = run_core(store, f"benchmark:{family}:{seed}", args.trials)
                results.append(r)
                print(r, flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
