"""Where each task stands: its rows per stage in the lake and its latest Dagster run.

The lake says what exists (a stage's rows, when they were written); the Dagster instance says what happened
last (a run that failed at some step, one still running). ``physworld list`` and ``physworld status`` print both.
"""

from __future__ import annotations

import json

import dagster as dg
import polars as pl

from physworld_core.store import Store

#: Pipeline stages in order, each with the lake table it writes.
STAGE_TABLES = (
    ("scenes", "scenes"),
    ("videos", "videos"),
    ("reconstructions", "reconstructions"),
    ("twins", "twins"),
    ("policies", "policies"),
    ("evaluations", "evaluations"),
)
_PARTITION_TAG = "dagster/partition"


def _rows_per_task(store: Store, table: str) -> dict[str, tuple[int, object]]:
    if not store.lake.exists(table):
        return {}
    frame = (
        store.lake.scan(table)
        .group_by("task_id")
        .agg(pl.len().alias("rows"), pl.col("created_at").max().alias("written"))
        .collect()
    )
    return {r["task_id"]: (r["rows"], r["written"]) for r in frame.iter_rows(named=True)}


def _physworld_success(store: Store) -> dict[str, float]:
    if not store.lake.exists("evaluations"):
        return {}
    frame = (
        store.lake.scan("evaluations")
        .filter(pl.col("method") == "physworld")
        .group_by("task_id")
        .agg(pl.col("success").mean())
        .collect()
    )
    return dict(zip(frame["task_id"], frame["success"], strict=True))


def latest_run(instance: dg.DagsterInstance | None, task_id: str) -> dict | None:
    """The newest run of ``task_id``'s partition: id, job, status and, when it failed, the failing step."""
    if instance is None:
        return None
    records = instance.get_run_records(dg.RunsFilter(tags={_PARTITION_TAG: task_id}), limit=1)
    if not records:
        return None
    run = records[0].dagster_run
    summary = {"run_id": run.run_id, "job": run.job_name, "status": run.status.value.lower()}
    if run.status == dg.DagsterRunStatus.FAILURE:
        from pipelines.tasks import failure_reason

        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            event = record.dagster_event
            summary["failed_step"] = event.step_key
            summary["reason"] = failure_reason(event.event_specific_data.error)
            break
        else:
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
                summary["reason"] = record.dagster_event.message
    return summary


def list_tasks(store: Store, instance: dg.DagsterInstance | None) -> list[dict]:
    """One row per registered task: source, prompt, the last stage with rows, success, latest run."""
    tasks = store.lake.scan("tasks").select("task_id", "source", "prompt").sort("task_id").collect()
    per_stage = {stage: _rows_per_task(store, table) for stage, table in STAGE_TABLES}
    success = _physworld_success(store)
    rows = []
    for task in tasks.iter_rows(named=True):
        done = [stage for stage, _ in STAGE_TABLES if task["task_id"] in per_stage[stage]]
        run = latest_run(instance, task["task_id"])
        rows.append(
            {
                "task": task["task_id"],
                "prompt": task["prompt"],
                "stages": f"{len(done)}/{len(STAGE_TABLES)}",
                "last stage": done[-1] if done else None,
                "physworld success": None
                if task["task_id"] not in success
                else f"{success[task['task_id']]:.0%}",
                "last run": None if run is None else run["status"],
                "failed step": None if run is None else run.get("failed_step"),
            }
        )
    return rows


def task_status(store: Store, instance: dg.DagsterInstance | None, task_id: str) -> list[tuple[str, object]]:
    """``physworld status TASK``: the task, each stage's rows and the figures a person checks first."""
    task = store.one_row("tasks", task_id)
    pairs: list[tuple[str, object]] = [
        ("task", task_id),
        ("source", task["source"]),
        ("prompt", task["prompt"]),
    ]
    for stage, table in STAGE_TABLES:
        frame = store.lake.read_partition(table, task_id) if store.lake.exists(table) else None
        if frame is None or frame.height == 0:
            pairs.append((stage, "not materialized"))
            continue
        written = frame["created_at"].max()
        pairs.append(
            (stage, f"{frame.height} row(s), written {written:%Y-%m-%d %H:%M:%S} UTC{_figure(table, frame)}")
        )
    run = latest_run(instance, task_id)
    if run is None:
        pairs.append(("last run", "none in this Dagster instance"))
    else:
        pairs.append(("last run", f"{run['status']} ({run['job']}, {run['run_id']})"))
        if "failed_step" in run:
            pairs.append(("failed step", run["failed_step"]))
        if "reason" in run:
            pairs.append(("reason", run["reason"]))
    return pairs


def _figure(table: str, frame: pl.DataFrame) -> str:
    """The one figure of a stage worth printing next to it."""
    if table == "videos":
        return f"; {int(frame['passed'].sum())}/{frame.height} samples passed their checks"
    if table == "reconstructions":
        score = frame["feasibility"][0]
        if score is None:  # written before the figure had a column
            score = json.loads(frame["metrics_json"][0]).get("feasibility", {}).get("score")
        return "" if score is None else f"; sample {frame['sample'][0]}, physics feasibility {score:.2f}"
    if table == "twins":
        return "; settles" if frame["passed"][0] else "; does NOT settle"
    if table == "policies":
        parts = [f"{m} {s:.0%}" for m, s in zip(frame["method"], frame["twin_success"], strict=True)]
        return "; twin success " + ", ".join(parts)
    if table == "evaluations":
        by_method = frame.group_by("method").agg(pl.col("success").mean()).sort("method")
        parts = [f"{m} {s:.0%}" for m, s in zip(by_method["method"], by_method["success"], strict=True)]
        return "; ground-truth success " + ", ".join(parts)
    return ""
