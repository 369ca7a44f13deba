"""Nightly throughput: N benchmark tasks through the real nightly path, with 1 and then 2 concurrent runs.

For each concurrency the bench makes a fresh lake and Dagster instance (``infra/dagster.local.yaml`` with
``max_concurrent_runs`` set to it), registers the tasks, evaluates the ``nightly_generation`` schedule's tick,
queues exactly the runs it requests (``dagster job backfill`` over those partitions) and lets ``dagster-daemon``
launch them. It reports wall time, tasks per hour, CPU utilisation over the run, each stage's mean seconds, lost
or duplicated rows, and projects machine-hours for 1,000 and 10,000 tasks a night from the measured cost.

    .venv/bin/python -m bench.throughput --tasks 8 --families bin,push --concurrency 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ("scenes", "videos", "reconstructions", "twins", "policies", "evaluations")
#: Rows one task's run writes per table at the default evaluation settings, for the lost/duplicated count.
KEY_TABLES = (
    "scenes",
    "videos",
    "video_scores",
    "reconstructions",
    "twins",
    "policies",
    "evaluations",
    "rollouts",
)


def _environment(work: Path, concurrency: int) -> dict[str, str]:
    home = work / "home"
    home.mkdir(parents=True)
    config = yaml.safe_load((REPO / "infra" / "dagster.local.yaml").read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = concurrency
    config["concurrency"]["pools"]["default_limit"] = concurrency
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PHYSWORLD_LAKE": str(work / "lake"),
        "PHYSWORLD_ENV": "local",
    }


def _queue_the_nightly_tick(env: dict[str, str], task_ids: list[str]) -> list[str]:
    """Register the tasks, evaluate the schedule's tick as the daemon would, queue the runs it asks for."""
    import dagster as dg

    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "PHYSWORLD_LAKE", "PHYSWORLD_ENV")})
    from pipelines.definitions import build_definitions
    from pipelines.tasks import add_task

    defs = build_definitions("local")
    store = defs.resources["store"].store()
    import datetime as dt

    with dg.DagsterInstance.get() as instance:
        for task_id in task_ids:
            family, seed = task_id.rsplit("-", 1)
            add_task(instance, store, task_id, f"benchmark:{family}:{int(seed)}")
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime.now(dt.UTC),
            repository_def=defs.get_repository_def(),
            resources={"store": defs.resources["store"]},
        ) as context:
            requests = defs.resolve_schedule_def("nightly_generation").evaluate_tick(context).run_requests
    pending = [r.partition_key for r in requests]
    subprocess.run(
        [
            str(BIN / "dagster"),
            "job",
            "backfill",
            "-w",
            "workspace.yaml",
            "-j",
            "physworld",
            "--partitions",
            ",".join(pending),
            "--noprompt",
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return pending


def _wait_for_runs(env: dict[str, str], count: int, timeout_s: float) -> list:
    import dagster as dg

    finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout_s
    with dg.DagsterInstance.get() as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs()
            if len(runs) >= count and all(r.status in finished for r in runs):
                return runs
            time.sleep(5)
    raise TimeoutError(f"{count} runs did not finish in {timeout_s:.0f} s")


def _stage_seconds(run_ids: list[str]) -> dict[str, float]:
    import dagster as dg

    from pipelines.demo import step_durations

    totals, counts = defaultdict(float), defaultdict(int)
    with dg.DagsterInstance.get() as instance:
        for run_id in run_ids:
            for step, seconds in step_durations(instance, run_id).items():
                if step in STAGES:
                    totals[step] += seconds
                    counts[step] += 1
    return {s: totals[s] / counts[s] for s in STAGES if counts[s]}


def _row_check(env: dict[str, str], task_ids: list[str]) -> tuple[int, int]:
    """(tasks with a table missing its rows, duplicated keys) over the lake."""
    import polars as pl

    from physworld_core.lake.tables import TABLES
    from physworld_core.store import Store

    store = Store.at(env["PHYSWORLD_LAKE"])
    lost = duplicated = 0
    for table in KEY_TABLES:
        if not store.lake.exists(table):
            lost += len(task_ids)
            continue
        frame = store.lake.scan(table).collect()
        have = set(frame["task_id"].unique())
        lost += sum(1 for t in task_ids if t not in have)
        keys = list(TABLES[table].keys)
        duplicated += frame.height - frame.select(pl.struct(keys)).unique().height
    return lost, duplicated


def measure(task_ids: list[str], concurrency: int, timeout_s: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"physworld-throughput-{concurrency}-"))
    env = _environment(work, concurrency)
    try:
        pending = _queue_the_nightly_tick(env, task_ids)
        cpu_before = psutil.cpu_times()
        start = time.monotonic()
        with open(work / "daemon.log", "wb") as log:
            daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            runs = _wait_for_runs(env, len(pending), timeout_s)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
        wall = time.monotonic() - start
        cpu_after = psutil.cpu_times()
        busy = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        utilisation = busy / (wall * psutil.cpu_count())
        succeeded = sum(r.status.value == "SUCCESS" for r in runs)
        lost, duplicated = _row_check(
            env, [r.tags["dagster/partition"] for r in runs if r.status.value == "SUCCESS"]
        )
        return {
            "concurrency": concurrency,
            "tasks": len(pending),
            "succeeded": succeeded,
            "wall_s": wall,
            "tasks_per_hour": 3600 * succeeded / wall,
            "cpu_utilisation": utilisation,
            "stage_s": _stage_seconds([r.run_id for r in runs]),
            "lost": lost,
            "duplicated": duplicated,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def projection(results: list[dict], nodes: tuple[int, ...] = (1, 10, 50)) -> list[str]:
    """Machine-hours for 1,000 and 10,000 tasks a night from the best measured rate per 2-core machine."""
    best = max(results, key=lambda r: r["tasks_per_hour"])
    rate = best["tasks_per_hour"]
    lines = [
        (
            f"Assumptions: a node is this machine (2 cores, 24 GiB) running {best['concurrency']} run(s) at once "
            f"at the measured {rate:.1f} tasks/hour; tasks cost what these did (same families, default PPO "
            "budget); the lake's storage and the Dagster instance are not the bottleneck."
        ),
        "",
        "| tasks a night | machine-hours | hours on 1 node | on 10 nodes | on 50 nodes |",
        "|---|---|---|---|---|",
    ]
    for tasks in (1000, 10000):
        hours = tasks / rate
        lines.append(f"| {tasks:,} | {hours:.0f} | " + " | ".join(f"{hours / n:.1f}" for n in nodes) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tasks", type=int, default=8, help="benchmark tasks per measurement (>= 8 for the report)"
    )
    parser.add_argument("--families", default="bin,push", help="families the tasks are drawn from, in turn")
    parser.add_argument(
        "--first-seed", type=int, default=200, help="seeds from here on (not used in development)"
    )
    parser.add_argument("--concurrency", default="1,2", help="concurrent runs to measure, comma-separated")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds to wait for one measurement")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "throughput.md"))
    args = parser.parse_args(argv)
    families = args.families.split(",")
    task_ids = [f"{families[i % len(families)]}-{args.first_seed + i:04d}" for i in range(args.tasks)]
    results = []
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        print(f"[throughput] {len(task_ids)} tasks, {concurrency} concurrent run(s)…", flush=True)
        results.append(measure(task_ids, concurrency, args.timeout))
        print(json.dumps(results[-1], indent=1), flush=True)
    base = results[0]["tasks_per_hour"]
    lines = [
        f"# Nightly throughput ({len(task_ids)} tasks: {', '.join(task_ids)})",
        "",
        "| concurrent runs | succeeded | wall s | tasks/hour | vs 1 run | CPU used | lost | duplicated | "
        + " | ".join(f"{s} s" for s in STAGES)
        + " |",
        "|---" * (8 + len(STAGES)) + "|",
    ]
    for r in results:
        stages = " | ".join(f"{r['stage_s'].get(s, float('nan')):.0f}" for s in STAGES)
        lines.append(
            f"| {r['concurrency']} | {r['succeeded']}/{r['tasks']} | {r['wall_s']:.0f} | {r['tasks_per_hour']:.1f} | "
            f"{r['tasks_per_hour'] / base:.2f}x | {r['cpu_utilisation']:.0%} | {r['lost']} | {r['duplicated']} | {stages} |"
        )
    lines += ["", *projection(results)]
    report = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
