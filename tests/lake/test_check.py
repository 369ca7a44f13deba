"""lake check finds what readers cannot see: a rolled-back table, a lost write, a missing or corrupt blob;
lake migrate rewrites absolute blob paths in one commit per table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from physworld_core.lake.check import check_lake
from physworld_core.lake.migrate import migrate_blob_references
from physworld_core.store import Store


def _task(task_id: str, prompt: str = "put the can in the bin") -> dict:
    return {"task_id": task_id, "source": "benchmark:bin:1", "prompt": prompt, "family": "bin", "seed": 1}


def _twin(store: Store, task_id: str, mesh: bytes) -> dict:
    mesh_ref = store.blobs.put_bytes(mesh, ".ply")
    spec = store.blobs.put_bytes(json.dumps({"meshes": [mesh_ref.uri]}).encode(), ".json")
    return {
        "task_id": task_id,
        "spec_json": json.dumps({"target_mesh": mesh_ref.uri}),
        "spec_uri": spec.uri,
        "settle_json": "{}",
        "passed": True,
        "seconds": 1.0,
        "max_penetration_m": 0.001,
        "max_drift_m": 0.002,
    }


def _newest_commit(store: Store, table: str) -> Path:
    return max(Path(store.lake.root, table, "_delta_log").glob("*.json"))


def test_a_healthy_lake_has_no_problem(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    for task in ("a", "b"):
        store.lake.write_partition("tasks", [_task(task)], task)
        store.lake.write_partition("twins", [_twin(store, task, task.encode() * 10)], task)
    report = check_lake(store, progress=False)
    assert report.problems == () and report.partitions == 4 and report.blobs == 4


def test_a_deleted_newest_commit_is_reported_as_a_rollback_and_a_rewrite_repairs_it(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    store.lake.write_partition("tasks", [_task("a")], "a")
    store.lake.write_partition("tasks", [_task("b")], "b")
    store.lake.write_partition("tasks", [_task("a", "put the red can in the bin")], "a")
    _newest_commit(store, "tasks").unlink()
    # Readers do not notice: the table reads as of the version before, with the old prompt.
    assert store.lake.read_partition("tasks", "a")["prompt"][0] == "put the can in the bin"
    [problem] = check_lake(store, progress=False).problems
    assert (problem.kind, problem.table, problem.task_id) == ("rolled back", "tasks", "a")
    assert "version 3" in problem.detail and "version 2" in problem.detail

    store.lake.write_partition("tasks", [_task("a", "put the red can in the bin")], "a")  # what repair does
    assert check_lake(store, progress=False).problems == ()


def test_a_commit_replaced_after_a_rollback_is_a_lost_write(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    store.lake.write_partition("tasks", [_task("a")], "a")
    store.lake.write_partition("tasks", [_task("b")], "b")
    _newest_commit(store, "tasks").unlink()
    store.lake.write_partition("tasks", [_task("c")], "c")  # takes version 2 again
    problems = check_lake(store, progress=False).problems
    assert [(p.kind, p.task_id) for p in problems] == [("lost write", "b")]
    assert check_lake(store, tasks=["a", "c"], progress=False).problems == ()


def test_missing_and_corrupt_blobs_are_found_also_inside_json(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    row = _twin(store, "a", b"mesh of a" * 10)
    store.lake.write_partition("twins", [row], "a")
    mesh_uri = json.loads(row["spec_json"])["target_mesh"]
    mesh_path = Path(store.blobs.resolve(mesh_uri))
    mesh_path.write_bytes(b"x" * mesh_path.stat().st_size)  # same size, other bytes
    Path(store.blobs.resolve(row["spec_uri"])).unlink()
    kinds = sorted((p.kind, p.table, p.task_id) for p in check_lake(store, progress=False).problems)
    assert kinds == [("corrupt blob", "twins", "a"), ("missing blob", "twins", "a")]
    assert check_lake(store, blobs=False, progress=False).problems == ()


def test_migrate_rewrites_absolute_paths_once_per_table_and_the_copy_keeps_working(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    row = _twin(store, "a", b"mesh" * 10)
    legacy = {  # as lakes wrote rows before lake:// references
        **row,
        "spec_uri": store.blobs.resolve(row["spec_uri"]),
        "spec_json": json.dumps(
            {"target_mesh": store.blobs.resolve(json.loads(row["spec_json"])["target_mesh"])}
        ),
    }
    store.lake.write_partition("twins", [legacy], "a")
    store.lake.write_partition("tasks", [_task("a")], "a")
    before = store.lake.read_partition("twins", "a")

    moved = Store.at(str(shutil.copytree(store.lake.root, tmp_path / "moved")))
    shutil.rmtree(store.lake.root)
    assert moved.blobs.get_bytes(
        moved.lake.read_partition("twins", "a")["spec_uri"][0]
    )  # reads before migrating

    dry = {c.table: c.rows for c in migrate_blob_references(moved.lake, dry_run=True)}
    assert dry == {"tasks": 0, "twins": 1}
    assert moved.lake.read_partition("twins", "a")["spec_uri"][0] == legacy["spec_uri"]
    version = moved.lake.version("twins")
    changes = {c.table: c for c in migrate_blob_references(moved.lake)}
    assert changes["twins"].rows == 1 and changes["twins"].version == version + 1
    assert changes["tasks"].version is None  # nothing to rewrite: no commit
    after = moved.lake.read_partition("twins", "a")
    assert after["spec_uri"][0] == row["spec_uri"] and json.loads(after["spec_json"][0]) == json.loads(
        row["spec_json"]
    )
    assert after["created_at"][0] == before["created_at"][0]
    assert "blobs/sha256" not in after["spec_json"][0].replace("lake://blobs/sha256", "")
    assert check_lake(moved, progress=False).problems == ()
    assert [c.rows for c in migrate_blob_references(moved.lake)] == [0, 0]  # idempotent


@pytest.mark.s3
def test_check_on_s3_finds_a_rollback(s3_root, s3_options):
    import fsspec

    from physworld_core.lake.storage import s3fs_kwargs

    store = Store.at(s3_root, s3_options)
    store.lake.write_partition("tasks", [_task("a")], "a")
    store.lake.write_partition("tasks", [_task("b")], "b")
    fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_options))
    log = sorted(p for p in fs.find(f"{s3_root[5:]}/tasks/_delta_log") if p.endswith(".json"))
    fs.rm(log[-1])
    [problem] = check_lake(store, progress=False).problems
    assert (problem.kind, problem.task_id) == ("rolled back", "b")
