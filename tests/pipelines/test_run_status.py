"""The run-status sensors record each task's latest run with a failure class, and the nightly schedule skips
a task whose input is wrong (until it is registered again) while retrying one that failed for other reasons."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from physworld_core.errors import GroundingError
from physworld_core.lake.retry import StorageUnavailableError
from physworld_core.store import Store
from pipelines.resources import StoreResource
from pipelines.run_status import classify_failure, record_run, retryable

PARTITIONS = dg.DynamicPartitionsDefinition(name="tasks")


def _failing_run(instance, task_id: str, error: Exception | None):
    @dg.asset(name="step", partitions_def=PARTITIONS)
    def step(context):
        if error is not None:
            raise error

    instance.add_dynamic_partitions("tasks", [task_id])
    result = dg.materialize([step], instance=instance, partition_key=task_id, raise_on_error=False)
    return instance.get_run_by_id(result.run_id)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (GroundingError("prompt asks for 'yellow can' but the scene has: red can"), "input"),
        (
            StorageUnavailableError("the lake's storage at s3://b (http://127.0.0.1:1) did not answer"),
            "storage",
        ),
        (RuntimeError("segfault in the planner"), "internal"),
    ],
)
def test_a_failure_is_classified_by_its_innermost_error(error, kind):
    instance = dg.DagsterInstance.ephemeral()
    run = _failing_run(instance, "t-1", error)
    found, step, reason = classify_failure(instance, run.run_id)
    assert (found, step) == (kind, "step") and type(error).__name__ in reason and "\n" not in reason


def test_records_count_failures_in_a_row_and_a_success_resets_them(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    store = Store.at(str(tmp_path / "lake"))
    for _ in range(2):
        row = record_run(store, instance, _failing_run(instance, "t-1", RuntimeError("flaky")))
    assert (row["status"], row["failure_class"], row["failures"]) == ("failure", "internal", 2)
    row = record_run(store, instance, _failing_run(instance, "t-1", None))
    assert (row["status"], row["failures"]) == ("success", 0)
    assert store.lake.read_partition("task_status", "t-1").height == 1


def test_the_failure_sensor_writes_the_status_and_its_asset_event(tmp_path):
    from pipelines.sensors import task_status_on_failure

    instance = dg.DagsterInstance.ephemeral()
    run = _failing_run(instance, "t-2", GroundingError("no yellow can"))
    failure = next(iter(instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)))
    context = dg.build_run_status_sensor_context(
        sensor_name="task_status_on_failure",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure.dagster_event,
        resources={"store": StoreResource(root=str(tmp_path / "lake"))},
    ).for_run_failure()
    task_status_on_failure(context)
    status = Store.at(str(tmp_path / "lake")).one_row("task_status", "t-2")
    assert status["failure_class"] == "input" and "no yellow can" in status["reason"]
    events = instance.fetch_materializations(dg.AssetKey("task_status"), limit=5).records
    assert [e.partition_key for e in events] == ["t-2"]


def test_the_nightly_schedule_skips_wrong_inputs_until_registered_again(tmp_path, monkeypatch):
    from pipelines.definitions import build_definitions
    from pipelines.tasks import add_task

    monkeypatch.setenv("PHYSWORLD_LAKE", str(tmp_path / "lake"))
    defs = build_definitions("local")
    store = defs.resources["store"].store()
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"))  # schedules need a persistent instance
    for task_id, seed in (("bin-0001", 1), ("bin-0002", 2), ("bin-0003", 3)):
        add_task(instance, store, task_id, f"benchmark:bin:{seed}")
    failures = {"bin-0001": GroundingError("absent"), "bin-0002": StorageUnavailableError("s3 down")}
    for task_id, error in failures.items():
        record_run(store, instance, _failing_run(instance, task_id, error))

    schedule = defs.resolve_schedule_def("nightly_generation")

    def nightly() -> list[str]:
        when = dt.datetime(2026, 12, 8, 2, tzinfo=dt.UTC)
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            repository_def=defs.get_repository_def(),
            resources={"store": defs.resources["store"]},
        ) as context:
            return sorted(r.partition_key for r in schedule.evaluate_tick(context).run_requests)

    assert nightly() == ["bin-0002", "bin-0003"]  # the wrong input waits; the outage and the new task run
    add_task(instance, store, "bin-0001", "benchmark:bin:1", "put the blue box in the bin", force=True)
    assert nightly() == ["bin-0001", "bin-0002", "bin-0003"]


def test_the_nightly_runs_generate_with_the_backend_the_operator_names(tmp_path, monkeypatch):
    """Closing the loop: with PHYSWORLD_NIGHTLY_VIDEO_BACKEND=learned the night's runs generate their videos
    with the world model trained on earlier data; a name no backend has skips the tick, saying so."""
    from pipelines.definitions import build_definitions
    from pipelines.tasks import add_task

    monkeypatch.setenv("PHYSWORLD_LAKE", str(tmp_path / "lake"))
    defs = build_definitions("local")
    store = defs.resources["store"].store()
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"))
    add_task(instance, store, "bin-0001", "benchmark:bin:1")
    schedule = defs.resolve_schedule_def("nightly_generation")

    def tick():
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 12, 8, 2, tzinfo=dt.UTC),
            repository_def=defs.get_repository_def(),
            resources={"store": defs.resources["store"]},
        ) as context:
            return schedule.evaluate_tick(context)

    [request] = tick().run_requests
    assert request.run_config == {}  # the asset's default backend
    monkeypatch.setenv("PHYSWORLD_NIGHTLY_VIDEO_BACKEND", "learned")
    [request] = tick().run_requests
    assert request.run_config == {"ops": {"videos": {"config": {"backend": "learned"}}}}
    assert dg.validate_run_config(defs.resolve_job_def("physworld"), request.run_config)  # the job takes it
    monkeypatch.setenv("PHYSWORLD_NIGHTLY_VIDEO_BACKEND", "sora")
    result = tick()
    assert not result.run_requests
    assert "PHYSWORLD_NIGHTLY_VIDEO_BACKEND='sora' names no video backend" in result.skip_message
    assert "learned" in result.skip_message and "procedural" in result.skip_message


def test_retry_rules():
    assert retryable(None) and retryable({"status": "success"})
    assert not retryable({"status": "failure", "failure_class": "input", "failures": 1})
    assert retryable({"status": "failure", "failure_class": "worker", "failures": 5})
    assert retryable({"status": "failure", "failure_class": "internal", "failures": 2})
    assert not retryable({"status": "failure", "failure_class": "internal", "failures": 3})
