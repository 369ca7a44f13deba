"""A run launcher whose run workers can be health-checked, so run monitoring clears runs whose process died.

Dagster's run monitoring marks a ``STARTED`` run failed when the launcher reports its worker gone — but the
default launcher cannot tell, and runs started in-process by ``physworld run`` have no launcher at all. A run
killed with ``kill -9`` then stays ``STARTED`` for ever and, with ``max_concurrent_runs``, blocks every queued
run. :class:`MonitoredRunLauncher` launches exactly like :class:`dagster.DefaultRunLauncher` and answers the
health check from the worker's process: its host and pid come from the run's tags (``physworld run`` sets
them with :func:`worker_tags`) or, for runs it launched itself, from the worker's "Started process for run"
event. A worker on another host, or one not yet known, is reported running: only a process seen dead on this
host fails a run.
"""

from __future__ import annotations

import json
import socket

import psutil
from dagster import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

HOST_TAG = "physworld/worker_host"
PID_TAG = "physworld/worker_pid"
STARTED_TAG = "physworld/worker_started"  # the process's create time: a reused pid is not our worker
_GRPC_INFO_TAG = "dagster/grpc_info"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_CREATE_TIME_SLACK_S = 1.0


def worker_tags() -> dict[str, str]:
    """Tags naming this process as a run's worker (for runs executed in this process)."""
    me = psutil.Process()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(me.pid), STARTED_TAG: f"{me.create_time():.3f}"}


def _alive(pid: int, started: float | None, not_after: float | None) -> bool:
    """Whether ``pid`` is still the worker: alive, not a zombie, and not a newer process reusing the pid."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True  # it exists; we may not look at it
    if started is not None:
        return abs(created - started) <= _CREATE_TIME_SLACK_S
    return not_after is None or created <= not_after + _CREATE_TIME_SLACK_S


class MonitoredRunLauncher(DefaultRunLauncher):
    """:class:`dagster.DefaultRunLauncher` plus a process-level worker health check (see the module doc)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def _launched_worker(self, run) -> tuple[str, int] | None:
        """Host and pid of a worker this launcher started through a code server on this machine."""
        grpc = json.loads(run.tags.get(_GRPC_INFO_TAG, "{}"))
        host = grpc.get("host")
        if not (grpc.get("socket") or host in _LOCAL_HOSTS or host == socket.gethostname()):
            return None
        from dagster import DagsterEventType

        for record in self._instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
            data = record.dagster_event.event_specific_data
            pid = getattr(data, "metadata", {}).get("pid") if data is not None else None
            if pid is not None and "Started process for run" in (record.dagster_event.message or ""):
                return socket.gethostname(), int(pid.value)
        return None

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        return worker_health(self._instance, run, self._launched_worker)

    def launch_run(self, context) -> None:
        # pipelines.pools checks workers with this module's worker_health: imported here, not at the top.
        from pipelines.pools import prepare_pools

        # Before a run starts: the simulator pool sized to this machine, no slot held by a dead run.
        prepare_pools(self._instance, self._launched_worker)
        super().launch_run(context)


def worker_health(instance, run, launched_worker=None) -> CheckRunHealthResult:
    """Is ``run``'s worker process alive? RUNNING when it is, or when it cannot be told from this host."""
    started = None
    if PID_TAG in run.tags:
        host, pid = run.tags.get(HOST_TAG, ""), int(run.tags[PID_TAG])
        started = float(run.tags[STARTED_TAG]) if STARTED_TAG in run.tags else None
    else:
        worker = launched_worker(run) if launched_worker is not None else None
        if worker is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker not known yet or not on this host")
        host, pid = worker
    if host != socket.gethostname():
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker on {host}, not checked from here")
    record = instance.get_run_record_by_id(run.run_id)
    not_after = record.start_time if record is not None else None
    if _alive(pid, started, not_after):
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker process {pid} is alive")
    return CheckRunHealthResult(
        WorkerStatus.FAILED,
        f"the run's worker process {pid} on {host} is gone (killed or crashed); marking the run failed",
    )
