"""A lake is movable: copied to another path and to S3, old (absolute-path) lakes migrated, then exported
from the copy; and the export's --where filters read values as their column's type."""

from __future__ import annotations

import json
import shutil

import pytest

from pipelines.cli import main


def _absolutize(store) -> None:
    """Rewrite the lake's rows the way lakes were written before lake:// references (absolute blob paths)."""
    import re

    for table in ("rollouts", "videos", "scenes"):
        frame = store.lake.scan(table).collect()
        for task_id in frame["task_id"].unique():
            rows = frame.filter(frame["task_id"] == task_id).to_dicts()
            for row in rows:
                for key, value in row.items():
                    if isinstance(value, str) and "lake://" in value:
                        row[key] = re.sub(r"lake://", store.lake.root + "/", value)
            store.lake.write_partition(table, rows, task_id)


@pytest.fixture
def old_lake(export_store, tmp_path):
    """A copy of the export lake as an older release wrote it: absolute paths under its first root."""
    from physworld_core.store import Store

    first = Store.at(str(shutil.copytree(export_store.lake.root, tmp_path / "first")))
    _absolutize(first)
    assert first.lake.scan("rollouts").collect()["data_uri"][0].startswith(first.lake.root)
    return first


def test_a_copied_lake_exports_and_migrates(old_lake, tmp_path, monkeypatch, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(old_lake.lake.root, moved)
    shutil.rmtree(old_lake.lake.root)  # the original is gone: nothing may be read from it
    monkeypatch.setenv("PHYSWORLD_LAKE", str(moved))
    monkeypatch.setenv("PHYSWORLD_ENV", "local")
    assert main(["export", "videos", "--out", str(tmp_path / "v1"), "--min-feasibility", "0"]) == 0
    assert main(["lake", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "rewrote" in out and "lake:// references" in out
    from physworld_core.store import Store

    store = Store.at(str(moved))
    for uri in store.lake.scan("rollouts").collect()["data_uri"]:
        assert uri.startswith("lake://blobs/sha256/")
    assert str(tmp_path / "first") not in json.dumps(
        store.lake.scan("rollouts").collect()["lineage_json"].to_list()
    )
    assert main(["export", "lerobot", "--out", str(tmp_path / "ds")]) == 0
    assert (tmp_path / "ds" / "meta" / "info.json").is_file()
    assert main(["lake", "check"]) == 0 and "no problem found" in capsys.readouterr().out


@pytest.mark.s3
def test_a_lake_synced_to_s3_exports_from_s3(old_lake, s3_root, s3_options, tmp_path, monkeypatch, capsys):
    import fsspec

    from physworld_core.lake.storage import s3fs_kwargs

    fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_options))
    fs.put(old_lake.lake.root + "/", s3_root[len("s3://") :] + "/", recursive=True)
    monkeypatch.setenv("PHYSWORLD_ENV", "prod")
    monkeypatch.setenv("PHYSWORLD_LAKE", s3_root)
    for key, value in s3_options.items():
        monkeypatch.setenv(key, value)
    assert main(["lake", "migrate"]) == 0
    assert main(["export", "lerobot", "--out", f"{s3_root}/exports/ds"]) == 0
    assert fs.exists(f"{s3_root[5:]}/exports/ds/meta/info.json")
    assert main(["export", "videos", "--min-feasibility", "0"]) == 0
    assert f"{s3_root}/exports/videos/" in capsys.readouterr().out
    assert main(["lake", "check"]) == 0


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("success=yes", "success=yes: success is true or false"),
        ("trial=zero", "trial=zero: trial takes whole numbers"),
        ("colour=red", "unknown column(s) colour"),
        ("success", "must look like column=value"),
    ],
)
def test_where_mistakes_are_one_line(export_store, monkeypatch, capsys, tmp_path, where, expected):
    monkeypatch.setenv("PHYSWORLD_LAKE", export_store.lake.root)
    monkeypatch.setenv("PHYSWORLD_ENV", "local")
    for kind in ("lerobot", "videos"):
        assert main(["export", kind, "--out", str(tmp_path / kind), "--where", where]) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and "\n" not in err and "Traceback" not in err, err
        assert not (tmp_path / kind).exists()


def test_where_values_are_read_as_their_column_type(export_store, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PHYSWORLD_LAKE", export_store.lake.root)
    monkeypatch.setenv("PHYSWORLD_ENV", "local")
    argv = [
        "export",
        "lerobot",
        "--out",
        str(tmp_path / "a"),
        "--where",
        "task_id=bin-0003",
        "--where",
        "trial=0,1",
    ]
    assert main(argv) == 0
    assert "episodes 2" in capsys.readouterr().out
