"""The jobs (the per-task pipeline, the export, the world model) and the nightly schedule."""

from __future__ import annotations

import os

import dagster as dg

from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource

physworld_job = dg.define_asset_job(
    "physworld",
    # Every table a task's run writes (video_scores and rollouts included); `tasks` is registered outside runs.
    selection=dg.AssetSelection.groups(
        "scenes", "generation", "reconstruction", "learning", "evaluation"
    ).materializable(),
    description="Scene → video → reconstruction → twin → policy → ground-truth evaluation, for one task.",
)

export_job = dg.define_asset_job(
    "export",
    selection=dg.AssetSelection.groups("export"),
    description="LeRobot dataset and video-model training set from everything evaluated so far.",
)

world_model_job = dg.define_asset_job(
    "train_world_model",
    # Its own job, unpartitioned, not part of `export`: training takes minutes to an hour where an export takes
    # seconds, and it reads the latest export materializations (or roots given in its config) rather than
    # the tables, so a model can be retrained, resumed after a kill or ablated without exporting again.
    selection=dg.AssetSelection.groups("worldmodel"),
    description=(
        "The world-action model trained on the latest LeRobot dataset and video clip set (run `export` first); "
        "the evaluation's `world_model` method and the `learned` video backend use its newest checkpoint."
    ),
)


NIGHTLY_VIDEO_BACKEND = "PHYSWORLD_NIGHTLY_VIDEO_BACKEND"
"""Names the video backend of the nightly runs (``learned``: the latest world model, trained on earlier
verified data, generates the night's videos); unset, the ``videos`` asset's default."""


def nightly_run_config() -> dict:
    """The nightly runs' run config: the video backend ``PHYSWORLD_NIGHTLY_VIDEO_BACKEND`` names, if any.

    Raises:
        ValueError: no video backend is registered under that name (the message lists those that are).
    """
    name = os.environ.get(NIGHTLY_VIDEO_BACKEND, "").strip()
    if not name:
        return {}
    # The registry is complete once the definitions are loaded (assets/video.py registers `learned`).
    from physworld_core.video.backends import BACKENDS, DEFERRED

    if name not in BACKENDS and name not in DEFERRED:
        known = ", ".join(sorted({*BACKENDS, *DEFERRED}))
        raise ValueError(f"{NIGHTLY_VIDEO_BACKEND}={name!r} names no video backend; registered: {known}")
    return {"ops": {"videos": {"config": {"backend": name}}}}


@dg.schedule(
    job=physworld_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Nightly at 02:00 UTC (off until started): one run per registered task that is not evaluated yet, "
        "was re-registered (add-task --force) since, or last failed for a reason worth retrying (storage, a "
        "dead worker, twice at most for an internal error); a task whose input is wrong waits until it is "
        "registered again. PHYSWORLD_NIGHTLY_VIDEO_BACKEND picks the video backend (e.g. learned)."
    ),
)
def nightly_generation(context: dg.ScheduleEvaluationContext, store: StoreResource):
    """Every night, run the pipeline for each registered task that needs it (see the description)."""
    from pipelines.run_status import retryable, statuses
    from pipelines.tasks import registered_since, stale_tasks

    instance = context.instance
    done = instance.get_materialized_partitions(dg.AssetKey("evaluations"))
    registered = instance.get_dynamic_partitions(tasks_partitions.name)
    stale = set(stale_tasks(instance, [key for key in registered if key in done]))
    status = statuses(store.store())
    pending, waiting = [], []
    for key in registered:
        if key in done and key not in stale:
            continue
        last = status.get(key)
        if retryable(last) or key in stale or registered_since(instance, key, last["run_id"]):
            pending.append(key)
        else:
            waiting.append(key)
    try:
        run_config = nightly_run_config()
    except ValueError as error:
        return dg.SkipReason(str(error))
    if not pending:
        reason = "every registered task is evaluated and up to date"
        if waiting:
            reason += f"; {len(waiting)} wait for a new registration after a failure of their input"
        return dg.SkipReason(reason)
    return [
        dg.RunRequest(
            run_key=f"{context.scheduled_execution_time:%Y-%m-%d}-{key}",
            partition_key=key,
            run_config=run_config,
        )
        for key in pending
    ]
