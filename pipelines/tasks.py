"""Registering a task: its lake row, its Dagster partition and its data version, together.

The ``tasks`` asset is external (rows are written by ``physworld add-task`` and the inbox sensor, outside any
run). Each registration reports an observation of the task's partition whose data version is a hash of its
source and prompt. ``scenes`` records the version it read, so re-registering a task with ``--force`` (a new
source or prompt) makes Dagster show ``scenes`` and everything after it as stale, and :func:`stale_tasks`
lets the nightly schedule re-run them.
"""

from __future__ import annotations

import hashlib

import dagster as dg

from physworld_core.ingest import register_task
from physworld_core.store import Store
from pipelines.partitions import tasks_partitions

TASKS_ASSET = dg.AssetKey("tasks")
#: Where ``scenes`` keeps the storage id of the ``tasks`` event it consumed (written by Dagster).
_CONSUMED_TAG = "dagster/input_event_pointer/tasks"


def task_data_version(row: dict) -> str:
    """What identifies a registered task's content: its source and its prompt."""
    return hashlib.sha256(f"{row['source']}\n{row['prompt']}".encode()).hexdigest()[:16]


def observe_task(row: dict) -> dg.AssetObservation:
    """The observation of a task's partition of ``tasks``, carrying its data version."""
    from dagster._core.definitions.data_version import DATA_VERSION_TAG  # no public name for the tag

    return dg.AssetObservation(
        asset_key=TASKS_ASSET,
        partition=row["task_id"],
        tags={DATA_VERSION_TAG: task_data_version(row)},
        metadata={"source": row["source"], "prompt": row["prompt"]},
    )


def add_task(
    instance: dg.DagsterInstance,
    store: Store,
    task_id: str,
    source: str,
    prompt: str | None = None,
    *,
    force: bool = False,
) -> dict:
    """Register (or, with ``force``, replace) a task: lake row, partition, observed data version.

    Registering the same source and prompt again changes nothing. A different one is refused unless
    ``force``; then the new data version makes the task's downstream assets stale so they re-run.
    """
    row = register_task(store, task_id, source, prompt, force=force)
    if not instance.has_dynamic_partition(tasks_partitions.name, task_id):
        instance.add_dynamic_partitions(tasks_partitions.name, [task_id])
    if latest_task_version(instance, task_id) != task_data_version(row):
        instance.report_runless_asset_event(observe_task(row))
    return row


def _latest_observation(instance: dg.DagsterInstance, task_id: str):
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=TASKS_ASSET, asset_partitions=[task_id]), limit=1
    ).records
    return records[0] if records else None


def latest_task_version(instance: dg.DagsterInstance, task_id: str) -> str | None:
    """The data version of the newest observation of ``task_id`` (None if it was never observed)."""
    from dagster._core.definitions.data_version import DATA_VERSION_TAG

    record = _latest_observation(instance, task_id)
    if record is None:
        return None
    return (record.asset_observation.tags or {}).get(DATA_VERSION_TAG)


def registered_since(instance: dg.DagsterInstance, task_id: str, run_id: str) -> bool:
    """Whether ``task_id`` was registered again (a new data version observed) after ``run_id`` was created."""
    observed = _latest_observation(instance, task_id)
    run = instance.get_run_record_by_id(run_id)
    return observed is not None and run is not None and observed.timestamp > run.create_timestamp.timestamp()


def stale_tasks(instance: dg.DagsterInstance, task_ids: list[str]) -> list[str]:
    """Tasks re-registered since their ``scenes`` were last materialized (their outputs describe an older
    source or prompt)."""
    stale = []
    for task_id in task_ids:
        observed = _latest_observation(instance, task_id)
        if observed is None:
            continue
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("scenes"), asset_partitions=[task_id]), limit=1
        ).records
        if not records:
            continue
        consumed = records[0].event_log_entry.asset_materialization.tags.get(_CONSUMED_TAG)
        if consumed is None or int(consumed) < observed.storage_id:
            stale.append(task_id)
    return stale


def failure_reason(error) -> str:
    """The user-facing message of a failed step: the innermost cause (our PhysworldError), not Dagster's wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return (
        f"{error.cls_name}: {error.message.strip()}"
        if getattr(error, "cls_name", None)
        else error.message.strip()
    )
