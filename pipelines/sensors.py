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
