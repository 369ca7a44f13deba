"""Lake test fixtures: a local lake with fast back-off, row factories, and a concurrent-writer runner."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from physworld_core.lake import Lake

RowFactory = Callable[..., list[dict[str, Any]]]


def _evaluation_rows(
    task_id: str, trials: int = 3, steps: int = 10, method: str = "residual_ppo"
) -> list[dict[str, Any]]:
    return [
        {
            "task_id": task_id,
            "method": method,
            "trial": trial,
            "success": trial % 2 == 0,
            "failure": None if trial % 2 == 0 else "dropped",
            "env_seed": 1000 + trial,
            "steps": steps,
            "final_distance": 0.01 * trial,
            "seconds": 0.5,
        }
        for trial in range(trials)
    ]


def _task_rows(task_id: str, prompt: str = "put the cube in the bowl") -> list[dict[str, Any]]:
    return [{"task_id": task_id, "source": "benchmark", "prompt": prompt, "family": "pick_place", "seed": 7}]


@pytest.fixture
def evaluation_rows() -> RowFactory:
    """Factory of rows for ``evaluations`` (key: task_id, method, trial): ``(task_id, trials=3, steps=10)``."""
    return _evaluation_rows


@pytest.fixture
def task_rows() -> RowFactory:
    """Factory of the single ``tasks`` row of a task: ``(task_id, prompt=...)``."""
    return _task_rows


def _policy_rows(task_id: str, deployed: str | None = None, **missing: bool) -> list[dict[str, Any]]:
    row = {
        "task_id": task_id,
        "method": "physworld",
        "plan_json": "{}",
        "checkpoint_uri": None,
        "checkpoint_sha256": None,
        "env_steps": 0,
        "twin_success": 1.0,
        "curve_json": "[]",
        "seconds": 0.0,
        "deployed": deployed,
    }
    return [{k: v for k, v in row.items() if not missing.get(f"without_{k}")}]


@pytest.fixture
def policy_rows() -> RowFactory:
    """Factory of one ``policies`` row: ``(task_id, deployed=None, without_<column>=False)``."""
    return _policy_rows


def _lake_before_added_columns(lake: Lake, name: str, task_id: str) -> None:
    """Create ``name`` as a release before its ``added`` columns made it, holding one old row of ``task_id``."""
    import datetime as dt

    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from physworld_core.lake import TABLES

    spec = TABLES[name]
    old_schema = pa.schema(list(spec.schema)[: -len(spec.added)])
    uri, options = lake.table_uri(name), lake._options()
    DeltaTable.create(uri, old_schema, partition_by=["task_id"], storage_options=options)
    row = {**_policy_rows(task_id)[0], "created_at": dt.datetime.now(dt.UTC)}
    old = pa.Table.from_pylist([{k: row[k] for k in old_schema.names}], schema=old_schema)
    write_deltalake(uri, old, mode="append", storage_options=options)


@pytest.fixture
def lake_before_added_columns() -> Callable[[Lake, str, str], None]:
    """``(lake, table, task_id)``: the table as an older release wrote it, one row of ``task_id``."""
    return _lake_before_added_columns


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """An empty local lake; back-off kept tiny so retry tests are fast."""
    return Lake(str(tmp_path / "lake"), backoff_initial_s=0.001, backoff_max_s=0.01)


ConcurrentRun = Callable[..., dict[str, list[int]]]


@pytest.fixture
def run_concurrent_writers(tmp_path: Path) -> ConcurrentRun:
    """Run one OS process per task id, each rewriting its partition of ``evaluations`` ``writes`` times, all
    released at once; returns ``{task_id: [committed version of each write]}``."""

    def run(
        root: str,
        storage_options: dict[str, str] | None,
        task_ids: list[str],
        writes: int,
        trials: int,
        timeout_s: float = 120.0,
    ) -> dict[str, list[int]]:
        barrier = tmp_path / f"barrier-{time.monotonic_ns()}"
        barrier.mkdir()
        script = Path(__file__).with_name("concurrent_writer.py")
        processes = {}
        for task_id in task_ids:
            config = {
                "root": root,
                "storage_options": storage_options,
                "task_id": task_id,
                "writes": writes,
                "trials": trials,
                "barrier_dir": str(barrier),
            }
            processes[task_id] = subprocess.Popen(
                [sys.executable, str(script), json.dumps(config)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        try:
            deadline = time.monotonic() + 60
            while not all((barrier / f"ready-{t}").exists() for t in task_ids):
                failed = {t: p.returncode for t, p in processes.items() if p.poll() is not None}
                assert not failed, f"writer exited before the start signal: {failed}"
                assert time.monotonic() < deadline, "writers did not get ready within 60 s"
                time.sleep(0.02)
            (barrier / "go").touch()
            results = {}
            for task_id, process in processes.items():
                stdout, stderr = process.communicate(timeout=timeout_s)
                assert process.returncode == 0, f"writer {task_id} failed:\n{stderr[-3000:]}"
                results[task_id] = json.loads(stdout.strip().splitlines()[-1])["versions"]
            return results
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()

    return run


@pytest.fixture
def verify_concurrent_writes() -> Callable[[Lake, dict[str, list[int]], int, int], None]:
    """Assert that concurrent writers lost nothing: latest rows per task, and every commit in history."""
    import polars as pl

    from physworld_core.lake.delta import COMMIT_OPERATION, COMMIT_TASK_ID

    def verify(lake: Lake, versions: dict[str, list[int]], writes: int, trials: int) -> None:
        frame = lake.scan("evaluations").collect()
        per_task = frame.group_by("task_id").agg(
            pl.len().alias("rows"),
            pl.col("steps").min().alias("min_steps"),
            pl.col("steps").max().alias("max_steps"),
        )
        expected = {task: (trials, writes - 1, writes - 1) for task in versions}
        actual = {row[0]: tuple(row[1:]) for row in per_task.iter_rows()}
        assert actual == expected, f"latest rows per task (rows, min steps, max steps): {actual}"

        # One create commit plus one commit per write; every write got its own version.
        all_versions = sorted(v for task_versions in versions.values() for v in task_versions)
        total_writes = writes * len(versions)
        assert all_versions == list(range(1, total_writes + 1)), all_versions
        assert lake.version("evaluations") == total_writes
        history = lake.history("evaluations")
        assert len(history) == total_writes + 1
        for task, task_versions in versions.items():
            commits = [
                h
                for h in history
                if h.get(COMMIT_TASK_ID) == task and h.get(COMMIT_OPERATION) == "write_partition"
            ]
            assert len(commits) == writes, (
                f"{task}: {len(commits)} write commits in history, expected {writes}"
            )
            assert sorted(h["version"] for h in commits) == sorted(task_versions)

    return verify
