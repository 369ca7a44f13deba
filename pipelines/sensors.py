"""The inbox sensor: each scene package dropped into ``<lake>/inbox/`` becomes a task partition and a run.

An accepted package is also observed as its ``tasks`` partition, with the data version ``physworld add-task``
gives a task (:func:`pipelines.tasks.observe_task`), so the lineage of its stages starts at the package.
"""

import dagster as dg

from pipelines.jobs import physworld_job
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource


@dg.sensor(
    job=physworld_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Accept or reject scene packages in the lake's inbox/; accepted ones run the pipeline.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, store: StoreResource):
    from physworld_core.inbox import process_inbox
    from pipelines.tasks import observe_task

    decisions = process_inbox(store.store(), limit=20)
    for d in decisions:
        if d.accepted:
            context.log.info(f"inbox: accepted {d.name!r} as task {d.task_id} ({d.prompt!r})")
        else:
            context.log.warning(f"inbox: rejected {d.name!r}: {d.reason}")
    accepted = [d for d in decisions if d.accepted]
    if not decisions:
        return dg.SkipReason("inbox is empty")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"inbox:{d.task_id}:{d.source}", partition_key=d.task_id) for d in accepted
        ],
        dynamic_partitions_requests=[tasks_partitions.build_add_request([d.task_id for d in accepted])]
        if accepted
        else [],
        asset_events=[
            observe_task({"task_id": d.task_id, "source": d.source, "prompt": d.prompt}) for d in accepted
        ],
    )


def _record(context, store: StoreResource) -> None:
    from pipelines.run_status import record_run

    row = record_run(store.store(), context.instance, context.dagster_run)
    if row is None:
        return
    context.instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "task_status",
            partition=row["task_id"],
            metadata={k: dg.MetadataValue.text(str(v)) for k, v in row.items() if v is not None},
        )
    )
    context.log.info(f"task {row['task_id']}: {row['status']} ({row['failure_class'] or 'ok'})")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[physworld_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records a successful physworld run in task_status (the task's failures in a row go to 0).",
)
def task_status_on_success(context: dg.RunStatusSensorContext, store: StoreResource):
    _record(context, store)


@dg.run_failure_sensor(
    monitored_jobs=[physworld_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Records a failed physworld run in task_status with its failure class (input, storage, lake, worker, "
        "internal), so the nightly schedule skips a task whose input is wrong and retries the others."
    ),
)
def task_status_on_failure(context: dg.RunFailureSensorContext, store: StoreResource):
    _record(context, store)
