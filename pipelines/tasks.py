"""Registering a task: its lake row and its Dagster partition, together."""

from __future__ import annotations

import dagster as dg

from physworld_core.ingest import register_task
from physworld_core.store import Store
from pipelines.partitions import tasks_partitions


def add_task(
    instance: dg.DagsterInstance, store: Store, task_id: str, source: str, prompt: str | None = None
) -> dict:
    row = register_task(store, task_id, source, prompt)
    if not instance.has_dynamic_partition(tasks_partitions.name, task_id):
        instance.add_dynamic_partitions(tasks_partitions.name, [task_id])
    return row


def failure_reason(error) -> str:
    """The user-facing message of a failed step: the innermost cause (our PhysworldError), not Dagster's wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return (
        f"{error.cls_name}: {error.message.strip()}"
        if getattr(error, "cls_name", None)
        else error.message.strip()
    )
