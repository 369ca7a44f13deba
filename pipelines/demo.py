"""`make demo`: register one benchmark task, materialize the whole pipeline for it, print a summary table.

Runs on the embedded default: a Delta lake under .physworld/lake and a SQLite Dagster instance in
$DAGSTER_HOME, so the run and its metadata are browsable afterwards with `make ui`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict

import dagster as dg


def step_durations(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    starts, durations = {}, defaultdict(float)
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            durations[event.step_key] += record.timestamp - starts.get(event.step_key, record.timestamp)
    return dict(durations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--family", default="bin")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--env-steps", type=int, default=8192, help="residual PPO budget")
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args(argv)

    from pipelines.definitions import build_definitions
    from pipelines.jobs import physworld_job
    from pipelines.launcher import worker_tags
    from pipelines.pools import prepare_pools
    from pipelines.tasks import add_task, failure_reason

    os.makedirs(
        os.environ.setdefault("DAGSTER_HOME", os.path.abspath(".physworld/dagster_home")), exist_ok=True
    )
    instance = dg.DagsterInstance.get()
    defs = build_definitions("local")
    store = defs.resources["store"].store()
    task_id = f"{args.family}-{args.seed:04d}"
    task = add_task(instance, store, task_id, f"benchmark:{args.family}:{args.seed}")
    print(f"[demo] task {task_id}: {task['prompt']!r}; lake {store.lake.root}", flush=True)
    run_config = {
        "ops": {
            "policies": {"config": {"total_env_steps": args.env_steps}},
            "evaluations": {"config": {"trials": args.trials}},
        },
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    prepare_pools(instance)  # the simulator pool sized to this machine; no slot held by a killed run
    start = time.time()
    result = defs.resolve_job_def(physworld_job.name).execute_in_process(
        partition_key=task_id,
        instance=instance,
        run_config=run_config,
        raise_on_error=False,
        tags=worker_tags(),  # run monitoring can tell this process died
    )
    total = time.time() - start
    if not result.success:
        for event in result.all_events:
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                print(
                    f"[demo] step {event.step_key} failed: {failure_reason(event.event_specific_data.error)}",
                    file=sys.stderr,
                )
        return 1
    print_summary(store, task_id, step_durations(instance, result.run_id), total)
    return 0


def print_summary(store, task_id: str, durations: dict[str, float], total: float) -> None:
    recon_row = store.one_row("reconstructions", task_id)
    videos = store.lake.read_partition("videos", task_id)
    video = videos.filter(videos["sample"] == recon_row["sample"]).row(0, named=True)
    recon = json.loads(recon_row["metrics_json"])
    policies = store.lake.read_partition("policies", task_id)
    evals = store.lake.read_partition("evaluations", task_id)
    twin_success = dict(zip(policies["method"].to_list(), policies["twin_success"].to_list()))
    methods = ("physworld", "planner_only", "visual_imitation")
    gt = {m: evals.filter(evals["method"] == m)["success"].mean() for m in methods}
    n = {m: evals.filter(evals["method"] == m).height for m in methods}
    physworld_row = policies.filter(policies["method"] == "physworld").row(0, named=True)
    steps = int(physworld_row["env_steps"])
    gate = (
        " (below the planner: physworld deploys the planner)"
        if physworld_row["deployed"] == "planner"
        else ""
    )
    track = recon.get("tracking_vs_rendered", {})
    from physworld_core.evaluation.stage import reconstruction_error
    from physworld_core.evaluation.worlds import parse_world

    truth_error = reconstruction_error(store, task_id, parse_world(store.one_row("tasks", task_id)["source"]))
    rows = [
        ("task", task_id),
        ("prompt", store.one_row("tasks", task_id)["prompt"]),
        (
            "video frames",
            (
                f"{video['num_frames']} @ {video['fps']:.0f} fps (sample {video['sample']} of {videos.height}, "
                f"physics feasibility {recon['feasibility']['score']:.2f})"
            ),
        ),
        (
            "reconstruction error",
            (
                f"target {truth_error['target_position_mm']:.1f} mm (height "
                f"{truth_error['target_height_mm']:.1f} mm) vs truth, goal found: "
                f"{truth_error['goal_found']}; tracking "
                f"{track.get('mean_mm', float('nan')):.1f} mm mean vs rendered motion"
            ),
        ),
        (
            "twin success",
            (
                f"physworld {twin_success['physworld']:.0%}, planner_only {twin_success['planner_only']:.0%} "
                f"({steps} PPO env steps){gate}"
            ),
        ),
        ("ground truth physworld", f"{gt['physworld']:.0%} of {n['physworld']} trials"),
        ("ground truth planner_only", f"{gt['planner_only']:.0%} of {n['planner_only']} trials"),
        ("ground truth visual_imitation", f"{gt['visual_imitation']:.0%} of {n['visual_imitation']} trials"),
    ]
    for stage in ("scenes", "perceptions", "videos", "reconstructions", "twins", "policies", "evaluations"):
        checks = sum(v for k, v in durations.items() if k.startswith(stage + "_"))
        rows.append((f"time {stage}", f"{durations.get(stage, float('nan')):.1f} s (+{checks:.1f} s checks)"))
    rows.append(("time total", f"{total:.1f} s"))
    width = max(len(k) for k, _ in rows)
    print("\n" + "\n".join(f"{k.ljust(width)} | {v}" for k, v in rows))


if __name__ == "__main__":
    sys.exit(main())
