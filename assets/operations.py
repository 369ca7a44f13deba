"""Operations: what the platform records about its own runs (table `task_status`), outside any stage."""

import dagster as dg

from assets.metadata import OWNERS, declared_here, table_metadata
from pipelines.partitions import tasks_partitions

task_status = dg.AssetSpec(
    "task_status",
    partitions_def=tasks_partitions,
    group_name="operations",
    owners=OWNERS,
    kinds={"deltalake"},
    tags={"stage": "operations"},
    metadata={**table_metadata("task_status"), **declared_here()},
    description=(
        "Each task's latest physworld run: success, or the failure's class (input, storage, lake, worker, "
        "internal), step and reason, and its failures in a row. Written by the run-status sensors; the nightly "
        "schedule reads it to skip a task whose input is wrong and retry the others."
    ),
)
