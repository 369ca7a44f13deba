"""Repairing a damaged lake: materialize again the stages whose rows or blobs ``physworld lake check`` found
damaged, for each damaged task, through the same job a normal run uses."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from physworld_core.lake.check import CheckReport
from physworld_core.store import Store

#: The asset that writes each table (a table written as a side output belongs to its stage's step).
TABLE_ASSETS = {
    "scenes": "scenes",
    "videos": "videos",
    "video_scores": "reconstructions",
    "reconstructions": "reconstructions",
    "twins": "twins",
    "policies": "policies",
    "evaluations": "evaluations",
    "rollouts": "evaluations",
}
STAGE_ORDER = ("scenes", "videos", "reconstructions", "twins", "policies", "evaluations")


def repair_lake(
    store: Store,
    instance: dg.DagsterInstance,
    report: CheckReport,
    run_config: dict | None = None,
    log: Callable[[str], None] = print,
) -> list[str]:
    """Re-run, for each damaged task, its earliest damaged stage and everything after it; returns the tasks
    whose run succeeded. ``run_config`` is the config to re-run with (the same the task was run with: the
    job's defaults otherwise). A damaged ``tasks`` row cannot be re-run: it is what ``add-task`` wrote."""
    from pipelines.definitions import build_definitions
    from pipelines.launcher import worker_tags
    from pipelines.partitions import tasks_partitions
    from pipelines.tasks import failure_reason

    defs = build_definitions()
    job = defs.resolve_job_def("physworld")
    graph = defs.resolve_asset_graph()
    repaired = []
    for task_id, tables in sorted(report.damaged_tasks().items()):
        if "tasks" in tables:
            log(
                f"{task_id}: its tasks row was lost; register it again with `physworld add-task` (then run it)"
            )
            continue
        stages = {TABLE_ASSETS[t] for t in tables if t in TABLE_ASSETS}
        first = min(stages, key=STAGE_ORDER.index)
        selection = _downstream_in_job(graph, dg.AssetKey(first), job)
        if not instance.has_dynamic_partition(tasks_partitions.name, task_id):
            instance.add_dynamic_partitions(tasks_partitions.name, [task_id])
        log(
            f"{task_id}: re-running {first} and after ({', '.join(sorted(k.to_user_string() for k in selection))})"
        )
        result = job.execute_in_process(
            partition_key=task_id,
            instance=instance,
            asset_selection=sorted(selection),
            run_config=run_config or {},
            raise_on_error=False,
            tags={**worker_tags(), "physworld/repair": ",".join(sorted(tables))},
        )
        if result.success:
            repaired.append(task_id)
            continue
        for event in result.all_events:
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                log(
                    f"{task_id}: step {event.step_key} failed: {failure_reason(event.event_specific_data.error)}"
                )
    return repaired


def _downstream_in_job(graph, first: dg.AssetKey, job) -> set[dg.AssetKey]:
    """``first`` and every asset downstream of it that the job materializes, with the other outputs of any
    step that writes two tables (a multi-asset cannot run for one of them)."""
    in_job = set(job.asset_layer.selected_asset_keys)
    selected, frontier = {first}, [first]
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            if child in in_job and child not in selected:
                selected.add(child)
                frontier.append(child)
    whole_steps = dg.AssetSelection.assets(*selected).required_multi_asset_neighbors().resolve(graph)
    return set(whole_steps) & in_job
