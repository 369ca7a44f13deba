"""Delta partition writes on a local lake: replace semantics, validation, retries, concurrency."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

import physworld_core.lake.delta as delta_module
from physworld_core.errors import LakeError
from physworld_core.lake import TABLES, Lake


def test_write_then_read_roundtrip_with_declared_types(lake: Lake, evaluation_rows) -> None:
    result = lake.write_partition("evaluations", evaluation_rows("t1"), "t1")
    assert (result.table, result.task_id, result.num_rows, result.version) == ("evaluations", "t1", 3, 1)

    frame = lake.read_partition("evaluations", "t1")
    assert frame.columns == list(TABLES["evaluations"].columns)
    assert frame.schema["trial"] == pl.Int32 and frame.schema["env_seed"] == pl.Int64
    assert frame.schema["created_at"] == pl.Datetime("us", "UTC")
    assert frame.sort("trial")["failure"].to_list() == [None, "dropped", None]
    assert frame["created_at"].null_count() == 0
    assert DeltaTable(lake.table_uri("evaluations")).metadata().partition_columns == ["task_id"]


def test_rewrite_replaces_the_partition_without_duplicates(lake: Lake, evaluation_rows) -> None:
    lake.write_partition("evaluations", evaluation_rows("t1", trials=3, steps=1), "t1")
    lake.write_partition("evaluations", evaluation_rows("t1", trials=3, steps=1), "t1")
    assert lake.read_partition("evaluations", "t1").height == 3

    lake.write_partition("evaluations", evaluation_rows("t1", trials=2, steps=99), "t1")
    frame = lake.read_partition("evaluations", "t1")
    assert frame.height == 2
    assert frame["steps"].to_list() == [99, 99]


def test_partitions_are_independent(lake: Lake, evaluation_rows) -> None:
    lake.write_partition("evaluations", evaluation_rows("a", trials=2, steps=1), "a")
    lake.write_partition("evaluations", evaluation_rows("b", trials=4, steps=2), "b")
    lake.write_partition("evaluations", evaluation_rows("a", trials=1, steps=3), "a")

    counts = dict(lake.scan("evaluations").group_by("task_id").agg(pl.len()).collect().iter_rows())
    assert counts == {"a": 1, "b": 4}
    assert lake.read_partition("evaluations", "b")["steps"].unique().to_list() == [2]


def test_polars_and_arrow_inputs(lake: Lake, evaluation_rows) -> None:
    frame = pl.DataFrame(evaluation_rows("p"))  # trial/steps are Int64 here; they fit Int32
    assert frame.schema["trial"] == pl.Int64
    lake.write_partition("evaluations", frame, "p")
    lake.write_partition("evaluations", frame.to_arrow(), "p")
    assert lake.read_partition("evaluations", "p").height == 3


def test_caller_created_at_is_kept_and_nulls_are_stamped(lake: Lake, task_rows) -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    lake.write_partition("tasks", [{**task_rows("a")[0], "created_at": when}], "a")
    lake.write_partition("tasks", [{**task_rows("b")[0], "created_at": None}], "b")
    stored = {r["task_id"]: r["created_at"] for r in lake.scan("tasks").collect().iter_rows(named=True)}
    assert stored["a"] == when
    assert stored["b"] is not None and stored["b"] > when


def test_empty_write_clears_the_partition_and_creates_the_table(lake: Lake, evaluation_rows) -> None:
    lake.write_partition("evaluations", [], "a")
    assert lake.exists("evaluations")
    assert lake.read_partition("evaluations", "a").height == 0
    lake.write_partition("evaluations", evaluation_rows("a"), "a")
    lake.write_partition("evaluations", [], "a")
    assert lake.read_partition("evaluations", "a").height == 0


def test_delete_partition(lake: Lake, evaluation_rows) -> None:
    assert lake.delete_partition("evaluations", "a") == 0  # table does not exist yet: no-op
    lake.write_partition("evaluations", evaluation_rows("a"), "a")
    lake.write_partition("evaluations", evaluation_rows("b"), "b")
    assert lake.delete_partition("evaluations", "a") == 3
    assert sorted(lake.scan("evaluations").collect()["task_id"].unique()) == ["b"]
    assert lake.delete_partition("evaluations", "a") == 0


def test_scan_is_lazy_and_pinned_to_the_version_it_was_taken_at(lake: Lake, evaluation_rows) -> None:
    lake.write_partition("evaluations", evaluation_rows("a", steps=1), "a")
    scan = lake.scan("evaluations")
    assert isinstance(scan, pl.LazyFrame)
    lake.write_partition("evaluations", evaluation_rows("a", steps=2), "a")  # after the scan was built

    query = scan.filter(pl.col("task_id") == "a").select("steps")
    assert isinstance(query, pl.LazyFrame)
    assert query.collect()["steps"].unique().to_list() == [1]
    assert lake.scan("evaluations").collect()["steps"].unique().to_list() == [2]


def test_missing_table_errors_name_the_table(lake: Lake) -> None:
    with pytest.raises(LakeError, match="'videos' does not exist yet"):
        lake.scan("videos")
    with pytest.raises(LakeError, match="'videos' does not exist yet"):
        lake.read_partition("videos", "a")
    with pytest.raises(LakeError, match="unknown lake table 'nope'"):
        lake.write_partition("nope", [], "a")


def _bad_rows(evaluation_rows) -> list[tuple[str, Any, str]]:
    base = evaluation_rows("a")

    def with_row0(**changes: Any) -> list[dict[str, Any]]:
        return [{**base[0], **changes}, *base[1:]]

    without_steps = [{k: v for k, v in row.items() if k != "steps"} for row in base]
    frame_wrong_dtype = pl.DataFrame(base).with_columns(pl.col("steps").cast(pl.String))
    return [
        ("missing column", without_steps, r"missing column\(s\) \['steps'\]"),
        ("extra column", with_row0(colour="red"), r"undeclared column\(s\) \['colour'\]"),
        ("string for int", with_row0(steps="10"), "column 'steps' expects int"),
        ("bool for int", with_row0(steps=True), "column 'steps' expects int"),
        ("float for int", with_row0(trial=1.5), "column 'trial' expects int"),
        ("int32 overflow", with_row0(steps=2**31), "outside the int32 range"),
        ("int for bool", with_row0(success=1), "column 'success' expects bool"),
        ("NaN float", with_row0(final_distance=float("nan")), "NaN is not allowed"),
        ("naive datetime", with_row0(created_at=dt.datetime(2024, 1, 1)), "naive datetime"),
        ("null value", with_row0(seconds=None), "column 'seconds' is null in row 0"),
        ("null key", with_row0(trial=None), "key column 'trial' is null in row 0"),
        (
            "foreign task",
            with_row0(task_id="b"),
            "row 0 has task_id 'b' but this write replaces partition 'a'",
        ),
        (
            "duplicate key",
            [*base, dict(base[1])],
            r"duplicate key \(task_id='a', method='residual_ppo', trial=1\)",
        ),
        ("not a dict", [("a", 1)], "row 0 is a tuple"),
        ("not rows", "abc", "rows must be a list of dicts"),
        ("polars dtype", frame_wrong_dtype, "column 'steps' expects an integer column"),
    ]


def test_schema_violations_raise_and_leave_the_table_unchanged(lake: Lake, evaluation_rows) -> None:
    lake.write_partition("evaluations", evaluation_rows("a", steps=5), "a")
    version = lake.version("evaluations")
    before = lake.scan("evaluations").collect()

    for label, rows, message in _bad_rows(evaluation_rows):
        with pytest.raises(LakeError, match=message) as caught:
            lake.write_partition("evaluations", rows, "a")
        assert "'evaluations'" in str(caught.value), label
        assert lake.version("evaluations") == version, label

    assert lake.scan("evaluations").collect().equals(before)


@pytest.mark.parametrize("task_id", ["a'; DROP", "a b", "", "x/y"])
def test_invalid_task_ids_are_refused(lake: Lake, task_id: str) -> None:
    with pytest.raises(LakeError, match="task_id"):
        lake.write_partition("tasks", [], task_id)
    with pytest.raises(LakeError, match="task_id"):
        lake.delete_partition("tasks", task_id)


def test_schema_drift_on_disk_is_reported(lake: Lake) -> None:
    other = pa.table({"task_id": ["a"], "something_else": [1]})
    write_deltalake(lake.table_uri("tasks"), other, partition_by=["task_id"])
    with pytest.raises(LakeError, match="'tasks' .* has schema .*migrate"):
        lake.write_partition("tasks", [], "a")
    with pytest.raises(LakeError, match="migrate"):
        lake.scan("tasks")


def test_commit_conflicts_are_retried_then_succeed(
    lake: Lake, task_rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = delta_module.write_deltalake
    calls = {"n": 0}

    def flaky_write(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise CommitFailedError("Failed to commit transaction: simulated concurrent writer")
        real_write(*args, **kwargs)

    monkeypatch.setattr(delta_module, "write_deltalake", flaky_write)
    result = lake.write_partition("tasks", task_rows("a"), "a")
    assert calls["n"] == 3
    assert result.version == 1
    assert lake.read_partition("tasks", "a").height == 1


def test_persistent_commit_conflicts_fail_loudly(
    tmp_path: Path, task_rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path / "lake"), max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002)

    def always_conflicts(*args: Any, **kwargs: Any) -> None:
        raise CommitFailedError("Failed to commit transaction: simulated")

    monkeypatch.setattr(delta_module, "write_deltalake", always_conflicts)
    with pytest.raises(LakeError, match=r"'tasks'.*failed 3 attempts in a row.*simulated"):
        lake.write_partition("tasks", task_rows("a"), "a")


def test_lake_config_validation(tmp_path: Path) -> None:
    assert Lake(str(tmp_path) + "/x/").root == str(tmp_path / "x")
    assert Lake("s3://bucket/prefix/").root == "s3://bucket/prefix"
    assert Lake("s3://bucket/p").table_uri("videos") == "s3://bucket/p/videos"
    for bad in (
        {"root": ""},
        {"root": "gs://b"},
        {"root": "s3://"},
        {"root": "x", "max_attempts": 0},
        {"root": "x", "storage_options": {"A": 1}},
        {"root": "x", "backoff_initial_s": 3.0},
    ):
        with pytest.raises(ValueError):
            Lake(**bad)


def test_two_processes_writing_different_partitions_lose_no_commit(
    tmp_path: Path, run_concurrent_writers, verify_concurrent_writes
) -> None:
    root = str(tmp_path / "lake")
    writes, trials = 10, 3
    versions = run_concurrent_writers(root, None, ["alpha", "beta"], writes=writes, trials=trials)
    verify_concurrent_writes(Lake(root), versions, writes, trials)


def test_a_table_created_before_an_added_column_is_read_with_nulls_and_upgraded_by_a_write(
    lake: Lake, policy_rows, lake_before_added_columns
) -> None:
    spec = TABLES["policies"]
    assert spec.added == ("deployed",)
    lake_before_added_columns(lake, "policies", "old")
    uri = lake.table_uri("policies")

    frame = lake.read_partition("policies", "old")
    assert frame.columns == list(spec.columns)
    assert frame["deployed"].to_list() == [None] and frame.schema["deployed"] == pl.String
    assert len(DeltaTable(uri).schema().fields) == len(spec.columns) - 1  # reading wrote nothing

    lake.write_partition("policies", policy_rows("new", deployed="planner"), "new")
    assert [f.name for f in DeltaTable(uri).schema().fields] == list(spec.columns)
    operations = [entry.get("physworld.operation") for entry in lake.history("policies")]
    assert operations[:2] == ["write_partition", "add_columns"]
    both = lake.scan("policies").sort("task_id").collect()
    assert both["task_id"].to_list() == ["new", "old"] and both["deployed"].to_list() == ["planner", None]


def test_a_write_must_bring_the_added_columns(lake: Lake, policy_rows) -> None:
    with pytest.raises(LakeError, match="missing column.*deployed"):
        lake.write_partition("policies", policy_rows("t", without_deployed=True), "t")
