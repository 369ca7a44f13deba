"""The lake against a real S3 server (SeaweedFS): tables, blobs and concurrent writers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import fsspec
import polars as pl
import pytest

from physworld_core.errors import LakeError
from physworld_core.lake import BlobStore, Lake
from physworld_core.lake.storage import s3fs_kwargs

pytestmark = pytest.mark.s3


def test_write_replace_scan_on_s3(s3_root: str, s3_options: dict[str, str], evaluation_rows) -> None:
    lake = Lake(s3_root, storage_options=s3_options)
    with pytest.raises(LakeError, match="does not exist yet"):
        lake.scan("evaluations")

    lake.write_partition("evaluations", evaluation_rows("a", trials=3, steps=1), "a")
    lake.write_partition("evaluations", evaluation_rows("b", trials=2, steps=1), "b")
    lake.write_partition("evaluations", evaluation_rows("a", trials=2, steps=7), "a")

    scan = lake.scan("evaluations")
    assert isinstance(scan, pl.LazyFrame)
    counts = dict(scan.group_by("task_id").agg(pl.len()).collect().iter_rows())
    assert counts == {"a": 2, "b": 2}
    assert lake.read_partition("evaluations", "a")["steps"].to_list() == [7, 7]
    assert lake.version("evaluations") == 3  # create + three writes
    assert lake.delete_partition("evaluations", "b") == 2
    assert lake.scan("evaluations").collect()["task_id"].unique().to_list() == ["a"]


def test_a_table_from_before_an_added_column_is_upgraded_on_s3(
    s3_root: str, s3_options: dict[str, str], policy_rows, lake_before_added_columns
) -> None:
    lake = Lake(s3_root, storage_options=s3_options)
    lake_before_added_columns(lake, "policies", "old")
    assert lake.read_partition("policies", "old")["deployed"].to_list() == [None]
    lake.write_partition("policies", policy_rows("new", deployed="residual"), "new")
    both = lake.scan("policies").sort("task_id").collect()
    assert both["deployed"].to_list() == ["residual", None]


def test_blob_round_trip_on_s3(s3_root: str, s3_options: dict[str, str], tmp_path: Path) -> None:
    store = BlobStore(s3_root, storage_options=s3_options, cache_dir=str(tmp_path / "cache"))
    data = b"mesh bytes" * 100
    ref = store.put_bytes(data, ".ply")
    assert ref.uri.startswith(f"lake://blobs/sha256/{ref.sha256[:2]}/{ref.sha256[2:4]}/")
    assert store.resolve(ref.uri).startswith(f"{s3_root}/blobs/sha256/")
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get_bytes(ref.uri) == data
    assert store.put_bytes(data, ".ply") == ref  # dedupe

    local = store.local_path(ref.uri)
    assert local.read_bytes() == data and str(local).startswith(str(tmp_path / "cache"))
    assert store.local_path(ref.uri) == local  # cached by hash

    source = tmp_path / "policy.safetensors"
    source.write_bytes(b"\x07" * 4096)
    file_ref = store.put_file(source)
    assert store.get_bytes(file_ref.uri) == source.read_bytes()
    assert store.local_path(file_ref.uri).read_bytes() == source.read_bytes()  # adopted into the cache

    # Corrupt the remote object behind the store's back: reads must notice.
    fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_options))
    fs.pipe_file(store.resolve(ref.uri), b"tampered")
    with pytest.raises(LakeError, match="corrupt"):
        store.get_bytes(ref.uri)
    fresh_cache = BlobStore(s3_root, storage_options=s3_options, cache_dir=str(tmp_path / "other-cache"))
    with pytest.raises(LakeError, match="corrupt"):
        fresh_cache.local_path(ref.uri)
    assert not any(p.is_file() for p in (tmp_path / "other-cache").rglob("*"))

    # Other bytes of the same size: the next put sees a wrong hash, not a present blob, and heals it.
    fs.pipe_file(store.resolve(ref.uri), b"x" * len(data))
    assert store.put_bytes(data, ".ply") == ref
    assert store.get_bytes(ref.uri) == data


def test_wrong_credentials_fail_with_lake_error(s3_root: str, s3_options: dict[str, str], task_rows) -> None:
    lake = Lake(s3_root, storage_options={**s3_options, "AWS_SECRET_ACCESS_KEY": "wrong"}, max_attempts=1)
    with pytest.raises(LakeError, match="'tasks'"):
        lake.write_partition("tasks", task_rows("a"), "a")


def test_two_processes_writing_different_partitions_on_s3_lose_no_commit(
    s3_root: str, s3_options: dict[str, str], run_concurrent_writers, verify_concurrent_writes
) -> None:
    writes, trials = 10, 3
    versions = run_concurrent_writers(s3_root, s3_options, ["alpha", "beta"], writes=writes, trials=trials)
    verify_concurrent_writes(Lake(s3_root, storage_options=s3_options), versions, writes, trials)
