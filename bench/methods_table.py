"""Every method on the same worlds in one run: ground-truth success per family, with failure classes.

    .venv/bin/python -m bench.methods_table --families bin,push --seeds 60-62 --env-steps 8192 --trials 10
    .venv/bin/python -m bench.methods_table --sources maniskill:PushCube-v1:0:256x256 \
        --prompt "push the cube onto the red and white target"

Each task runs the stages the Dagster assets call (scene → 2 video samples → reconstruction → twin →
planner, residual PPO, and with ``--scratch`` / ``--oracle`` scratch PPO and residual PPO in the true world)
on a temporary lake, then ``--trials`` trials per method in the true world. A task the pipeline cannot read
or build counts as a failure of every method (class ``pipeline``). Seeds 60+ were never used in development.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds

METHOD_ORDER = ("physworld", "planner_only", "visual_imitation", "scratch_rl", "oracle_twin")
STAGE_ORDER = ("scenes", "videos", "reconstructions", "twins", "policies", "evaluations")


def task_id_for(source: str) -> str:
    """A task id (a lake partition) named after its source."""
    return "t-" + "".join(c if c.isalnum() else "-" for c in source.lower())[:60]


def run_task(
    store,
    source: str,
    prompt: str | None,
    env_steps: int,
    trials: int,
    scratch: bool = False,
    oracle: bool = False,
) -> dict:
    """One task through every stage; success and failure classes per method, and seconds per stage."""
    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.oracle_twin import oracle_world
    from physworld_core.evaluation.rollouts import RecordConfig
    from physworld_core.evaluation.stage import run_evaluation_stage
    from physworld_core.evaluation.trials import TrialConfig
    from physworld_core.ingest import ingest_scene, register_task
    from physworld_core.policy.stage import run_policy_stage
    from physworld_core.policy.train import PolicyTrainConfig
    from physworld_core.twin.selection import run_reconstruction_stage
    from physworld_core.twin.stage import run_twin_stage
    from physworld_core.video.stage import run_video_stage

    task_id = task_id_for(source)
    out: dict = {"source": source, "seconds": {}}
    cfg = PolicyTrainConfig()
    cfg = replace(cfg, ppo=replace(cfg.ppo, total_env_steps=env_steps))
    stages = (
        ("scenes", lambda: ingest_scene(store, task_id)),
        ("videos", lambda: run_video_stage(store, task_id)),
        ("reconstructions", lambda: run_reconstruction_stage(store, task_id)),
        ("twins", lambda: run_twin_stage(store, task_id)),
        (
            "policies",
            lambda: run_policy_stage(
                store, task_id, cfg, False, None, scratch, oracle_world(store, task_id) if oracle else None
            ),
        ),
        (
            "evaluations",
            lambda: run_evaluation_stage(store, task_id, TrialConfig(trials=trials), RecordConfig(0)),
        ),
    )
    try:
        # The bench owns its lake: a rerun with another phrasing replaces the task.
        out["prompt"] = register_task(store, task_id, source, prompt, force=True)["prompt"]
        for name, stage in stages:
            t0 = time.time()
            result = stage()
            out["seconds"][name] = round(time.time() - t0, 1)
            if name == "policies":
                out["skill"] = result.plan.skill
                out["twin_success"] = {"physworld": result.residual.twin_success}
                out["twin_success"]["planner_only"] = result.residual.baseline_twin_success
                out["physworld_deploys"] = result.residual.deployed
                if result.scratch is not None:
                    out["twin_success"]["scratch_rl"] = result.scratch.twin_success
    except PhysworldError as error:
        out["error"] = f"{type(error).__name__}: {str(error)[:160]}"
        return out
    out["success"] = result.success
    out["failures"] = {
        m: dict(Counter(r["failure"] for r in result.rows if r["method"] == m and r["failure"]))
        for m in result.success
    }
    return out


def family_of(source: str) -> str:
    kind, name, *_ = source.split(":")
    return name if kind in ("benchmark", "maniskill") else kind


def markdown_table(results: list[dict], trials: int) -> str:
    """Success per method and family, with failure classes counted over trials; a failed pipeline counts
    as ``trials`` failures of every method."""
    methods = [m for m in METHOD_ORDER if any(m in r.get("success", {}) for r in results)]
    by_family = defaultdict(list)
    for r in results:
        by_family[family_of(r["source"])].append(r)
    lines = ["| family | tasks | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    overall = defaultdict(list)
    for family, rows in by_family.items():
        cells = []
        for m in methods:
            values = [r["success"][m] if "success" in r else 0.0 for r in rows]
            overall[m] += values
            failures = Counter()
            for r in rows:
                if "success" in r:
                    failures.update({k: v for k, v in r["failures"].get(m, {}).items()})
                else:
                    failures["pipeline"] += trials
            detail = ", ".join(f"{k} {v}" for k, v in failures.most_common()) or "none"
            cells.append(f"{np.mean(values):.0%} ({detail})")
        lines.append(f"| {family} | {len(rows)} | " + " | ".join(cells) + " |")
    lines.append(
        f"| **mean** | {len(results)} | "
        + " | ".join(f"**{np.mean(overall[m]):.0%}**" for m in methods)
        + " |"
    )
    lines.append(
        f"\n(success by each world's own test, {trials} trials per task; failure classes counted over trials)"
    )
    gated = [r["source"] for r in results if r.get("physworld_deploys") == "planner"]
    decided = sum(1 for r in results if r.get("physworld_deploys"))
    if decided:
        lines.append(
            f"\nphysworld deployed the planner on {len(gated)} of {decided} tasks, where its residual did worse "
            "in the twin" + (f": {', '.join(gated)}" if gated else "")
        )
    return "\n".join(lines)


def timing_table(results: list[dict]) -> str:
    """Median and max seconds per stage over the tasks that reached it."""
    stages = [s for s in STAGE_ORDER if any(s in r.get("seconds", {}) for r in results)]
    lines = ["| stage | tasks | median s | max s |", "|---|---|---|---|"]
    for stage in stages:
        values = [r["seconds"][stage] for r in results if stage in r.get("seconds", {})]
        lines.append(f"| {stage} | {len(values)} | {np.median(values):.0f} | {max(values):.0f} |")
    return "\n".join(lines)


def run_settings(args: argparse.Namespace) -> dict:
    """What a saved task result depends on besides its source; ``--resume`` reuses only exact matches."""
    return {
        "prompt": args.prompt,
        "env_steps": args.env_steps,
        "trials": args.trials,
        "scratch": args.scratch,
        "oracle": args.oracle,
    }


def load_done(path: Path, settings: dict) -> dict[str, dict]:
    """Task results already in ``path`` (one JSON object per line) run with the same settings."""
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("settings") == settings:
                    done[record["result"]["source"]] = record["result"]
    return done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default="bin,push")
    parser.add_argument("--seeds", default="60-62")
    parser.add_argument(
        "--sources", default="", help="comma-separated task sources instead of families x seeds"
    )
    parser.add_argument("--prompt", default=None, help="prompt for --sources that have none (maniskill:)")
    parser.add_argument(
        "--sensor",
        default="ideal",
        help="depth sensor preset of the benchmark captures (physworld_core/evaluation/sensor.py): ideal, realistic",
    )
    parser.add_argument("--env-steps", type=int, default=8192)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--scratch", action="store_true", help="also train scratch PPO (same budget)")
    parser.add_argument("--oracle", action="store_true", help="also train residual PPO in the true world")
    parser.add_argument(
        "--out", default="bench/out/methods_table.md", help="markdown report; per-task results beside it"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the tasks already in the results file that ran with the same settings",
    )
    args = parser.parse_args()
    from physworld_core.store import Store

    sources = [s for s in args.sources.split(",") if s] or [
        f"benchmark:{family}:{seed}" + ("" if args.sensor == "ideal" else f":{args.sensor}")
        for family in args.families.split(",")
        for seed in parse_seeds(args.seeds)
    ]
    settings = run_settings(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_suffix(".jsonl")
    done = load_done(log, settings) if args.resume else {}
    if not args.resume:
        log.write_text("")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-methods-") as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        for source in sources:
            if source in done:
                print(f"{source}: kept from {log}", flush=True)
                results.append(done[source])
                continue
            r = run_task(store, source, args.prompt, args.env_steps, args.trials, args.scratch, args.oracle)
            results.append(r)
            with log.open("a") as f:
                f.write(json.dumps({"settings": settings, "result": r}) + "\n")
            print(r, flush=True)
    report = (
        f"## Methods on {len(results)} tasks ({args.env_steps} env steps per learner)\n\n"
        + markdown_table(results, args.trials)
        + "\n\n### Seconds per stage\n\n"
        + timing_table(results)
        + "\n"
    )
    out.write_text(report)
    print("\n" + report + f"\nwritten to {out} (per-task results in {log})")


if __name__ == "__main__":
    main()
