"""A run whose process is killed is marked failed by run monitoring, and the queue behind it moves.

Everything is real: the instance is configured from ``infra/dagster.local.yaml`` (one run at a time, the
monitored launcher), ``physworld run`` is killed with SIGKILL while its run is STARTED, a second run waits in
the queue, and ``dagster-daemon`` does the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _wait(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _runs(instance: dg.DagsterInstance, **filters) -> list:
    return [r.dagster_run for r in instance.get_run_records(dg.RunsFilter(**filters))]


def test_the_local_instance_monitors_runs():
    config = yaml.safe_load((REPO / "infra" / "dagster.local.yaml").read_text())
    assert config["run_monitoring"]["enabled"] and config["run_launcher"]["class"] == "MonitoredRunLauncher"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    prod = yaml.safe_load((REPO / "infra" / "dagster.prod.yaml").read_text())
    assert prod["run_monitoring"]["enabled"] and prod["run_launcher"] == config["run_launcher"]


def test_a_killed_run_is_failed_by_monitoring_and_the_queue_moves(home, tmp_path):
    home, env = home
    from pipelines.cli import main

    assert main(["add-task", "bin-0003", "benchmark:bin:3"]) == 0
    worker = subprocess.Popen(
        [
            str(BIN / "python"),
            "-m",
            "pipelines.cli",
            "run",
            "bin-0003",
            "--env-steps",
            "256",
            "--trials",
            "2",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    daemon = None
    try:
        with dg.DagsterInstance.get() as instance:
            killed = _wait(
                lambda: _runs(instance, statuses=[dg.DagsterRunStatus.STARTED]), 120, "the run to start"
            )[0]
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            time.sleep(1)
            assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED  # left behind

            # A second run is submitted to the queue; the dead run holds the only slot.
            launch = subprocess.run(
                [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", "export"],
                check=False,
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert launch.returncode == 0, launch.stderr[-2000:]
            [queued] = _runs(instance, statuses=[dg.DagsterRunStatus.QUEUED])

            with open(tmp_path / "daemon.log", "wb") as log:
                daemon = subprocess.Popen(
                    [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            poll = yaml.safe_load((home / "dagster.yaml").read_text())["run_monitoring"][
                "poll_interval_seconds"
            ]
            started = time.monotonic()
            failed = _wait(
                lambda: (
                    (r := instance.get_run_by_id(killed.run_id)).status == dg.DagsterRunStatus.FAILURE and r
                ),
                poll + 90,  # the daemon's start-up and one poll
                "monitoring to fail the killed run",
            )
            cleared_after = time.monotonic() - started
            messages = [
                e.message or ""
                for e in instance.all_logs(failed.run_id)
                if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
            ]
            assert any("is gone" in m for m in messages), messages
            _wait(
                lambda: instance.get_run_by_id(queued.run_id).status != dg.DagsterRunStatus.QUEUED,
                120,
                "the queued run to be launched",
            )
            print(f"dead run cleared {cleared_after:.0f} s after the daemon started (poll {poll} s)")
    finally:
        for process in (worker, daemon):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
