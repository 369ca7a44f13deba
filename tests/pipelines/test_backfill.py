"""A backfill over the dynamic task partitions from the command line (Dagster's own ``dagster job backfill``):
one queued run per task, picked up by the daemon like the nightly schedule's runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]


def test_backfill_queues_one_run_per_task(home):
    from pipelines.cli import main

    home, env = home
    for task_id, seed in (("bin-0001", 1), ("bin-0002", 2)):
        assert main(["add-task", task_id, f"benchmark:bin:{seed}"]) == 0
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [
            str(dagster),
            "job",
            "backfill",
            "-w",
            "workspace.yaml",
            "-j",
            "physworld",
            "--partitions",
            "bin-0001,bin-0002",
            "--noprompt",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with dg.DagsterInstance.get() as instance:
        [backfill] = instance.get_backfills()
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert sorted(r.tags["dagster/partition"] for r in runs) == ["bin-0001", "bin-0002"]
    assert {r.status for r in runs} == {dg.DagsterRunStatus.QUEUED}  # the daemon launches them, one at a time
