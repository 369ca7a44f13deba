"""What the last run of each task says about the next one: the ``task_status`` table and its failure classes.

A nightly run over thousands of tasks should not re-run, every night, a task whose prompt names an object the
scene does not have, and should retry one that failed because S3 was down. The run-status sensors record each
``physworld`` run's outcome per task with a failure class; :func:`retryable` is what the nightly schedule asks.

Failure classes (from the innermost error of the failed step, or the run's own failure when no step failed):

- ``input`` — the task itself is wrong (a bad scene, a prompt naming an absent object, a video the twin cannot
  follow): the same run fails the same way, so it is not retried until the task is registered again.
- ``storage`` — the lake did not answer for the whole retry window: retried.
- ``lake`` — the lake answered with damage (a corrupt blob, a drifted schema): retried, ``lake check`` says more.
- ``worker`` — the run's process died (killed, out of memory): retried.
- ``internal`` — anything else: retried up to :data:`MAX_INTERNAL_FAILURES` times in a row.
"""

from __future__ import annotations

import dagster as dg

from physworld_core.store import Store

#: Error classes whose failure says the task's input is wrong (the same input fails the same way).
INPUT_ERRORS = frozenset(
    {"SceneError", "TaskExistsError", "GroundingError", "ReconstructionError", "TwinError"}
)
STORAGE_ERRORS = frozenset({"StorageUnavailableError"})
LAKE_ERRORS = frozenset({"LakeError"})
MAX_INTERNAL_FAILURES = 2


def _innermost(error):
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error


def classify_failure(instance: dg.DagsterInstance, run_id: str) -> tuple[str, str | None, str]:
    """``(failure class, failed step, one-line reason)`` of a failed run."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = _innermost(event.event_specific_data.error)
        name = getattr(error, "cls_name", None) or ""
        reason = " ".join(f"{name}: {error.message}".split())[:500]
        if name in INPUT_ERRORS:
            return "input", event.step_key, reason
        if name in STORAGE_ERRORS:
            return "storage", event.step_key, reason
        if name in LAKE_ERRORS:
            return "lake", event.step_key, reason
        return "internal", event.step_key, reason
    message = ""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        message = record.dagster_event.message or ""
    kind = "worker" if "is gone" in message or "worker" in message.lower() else "internal"
    return kind, None, " ".join(message.split())[:500]


def record_run(store: Store, instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict | None:
    """Write the ``task_status`` row of ``run``'s task (None for runs of no task partition)."""
    task_id = run.tags.get("dagster/partition")
    if not task_id:
        return None
    previous = store.lake.read_partition("task_status", task_id) if store.lake.exists("task_status") else None
    failures = int(previous["failures"][0]) if previous is not None and previous.height else 0
    if run.status == dg.DagsterRunStatus.SUCCESS:
        row = {"status": "success", "failure_class": None, "failed_step": None, "reason": None, "failures": 0}
    else:
        kind, step, reason = classify_failure(instance, run.run_id)
        row = {
            "status": "failure",
            "failure_class": kind,
            "failed_step": step,
            "reason": reason,
            "failures": failures + 1,
        }
    row = {"task_id": task_id, "run_id": run.run_id, **row}
    store.lake.write_partition("task_status", [row], task_id)
    return row


def retryable(status: dict | None) -> bool:
    """Should the nightly run try this task again, given its latest status?"""
    if status is None or status["status"] == "success":
        return True
    if status["failure_class"] == "input":
        return False
    if status["failure_class"] == "internal":
        return status["failures"] <= MAX_INTERNAL_FAILURES
    return True


def statuses(store: Store) -> dict[str, dict]:
    """Every task's latest status, by task id."""
    if not store.lake.exists("task_status"):
        return {}
    return {row["task_id"]: row for row in store.lake.scan("task_status").collect().iter_rows(named=True)}
