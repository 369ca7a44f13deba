"""LeRobot v3 export, read back by an independent reader (pyarrow + the video decoder)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from physworld_core.errors import ExportError
from physworld_core.evaluation.rollouts import load_arrays
from physworld_core.export.lerobot import CAMERA_KEY, LeRobotExportConfig, export_lerobot
from physworld_core.export.selection import Selection
from physworld_core.video.codec import decode_mp4


def test_dataset_layout_matches_the_rollouts(export_store, tmp_path):
    out = tmp_path / "ds"
    result = export_lerobot(export_store, str(out), progress=False)
    assert result.written and result.summary["episodes"] == 2
    info = json.loads((out / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 20.0
    assert info["total_episodes"] == 2 and info["splits"] == {"train": "0:2"}
    assert info["features"][CAMERA_KEY]["shape"] == [64, 64, 3]
    assert info["features"]["action"]["shape"] == [5]

    episodes = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    rollouts = export_store.lake.read_partition("rollouts", "bin-0003").sort("trial").to_dicts()
    data = pq.read_table(out / info["data_path"].format(chunk_index=0, file_index=0)).to_pydict()
    video = decode_mp4(
        (out / info["video_path"].format(video_key=CAMERA_KEY, chunk_index=0, file_index=0)).read_bytes()
    )
    assert len(video) == info["total_frames"] == len(data["index"])  # one picture per parquet row
    assert data["index"] == list(range(info["total_frames"]))
    for episode, rollout in zip(episodes, rollouts, strict=True):
        lo, hi = episode["dataset_from_index"], episode["dataset_to_index"]
        arrays = load_arrays(export_store.blobs.get_bytes(rollout["data_uri"]))
        assert hi - lo == episode["length"] == rollout["frames"]
        np.testing.assert_allclose(np.array(data["action"][lo:hi]), arrays["action"], atol=1e-6)
        np.testing.assert_allclose(np.array(data["observation.state"][lo:hi]), arrays["state"], atol=1e-6)
        assert data["frame_index"][lo:hi] == list(range(hi - lo))
        assert set(data["episode_index"][lo:hi]) == {episode["episode_index"]}
        # the episode's slice of the concatenated video is its own clip
        f0 = round(episode[f"videos/{CAMERA_KEY}/from_timestamp"] * info["fps"])
        f1 = round(episode[f"videos/{CAMERA_KEY}/to_timestamp"] * info["fps"])
        own = decode_mp4(export_store.blobs.get_bytes(rollout["video_uri"]))
        assert f1 - f0 == len(own)
        assert np.abs(video[f0:f1].astype(int) - own.astype(int)).mean() < 4  # re-encoded, not another clip
        assert episode["physworld/task_id"] == "bin-0003" and episode["tasks"] == [rollout["prompt"]]

    stats = json.loads((out / "meta/stats.json").read_text())
    actions = np.array(data["action"])
    np.testing.assert_allclose(stats["action"]["mean"], actions.mean(0), atol=1e-5)
    np.testing.assert_allclose(stats["action"]["max"], actions.max(0), atol=1e-6)
    assert stats["action"]["count"] == [len(actions)]
    assert np.array(stats[CAMERA_KEY]["mean"]).shape == (3, 1, 1)
    tasks = pq.read_table(out / "meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == [rollouts[0]["prompt"]]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]


def test_reexport_is_idempotent_and_other_content_is_not_overwritten(export_store, tmp_path):
    out = tmp_path / "ds"
    first = export_lerobot(export_store, str(out), progress=False)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    again = export_lerobot(export_store, str(out), progress=False)
    assert not again.written and again.fingerprint == first.fingerprint
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamp

    with pytest.raises(ExportError, match="different export"):
        export_lerobot(export_store, str(out), Selection({"trial": 0}), progress=False)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="other files"):
        export_lerobot(export_store, str(occupied), progress=False)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (Selection({"colour": "red"}), "unknown column"),
        (Selection({"method": "physworld"}), "matches no row"),
        (Selection({"task_id": "bin-9999"}), "matches no row"),
    ],
)
def test_bad_selections_write_nothing(export_store, tmp_path, selection, message):
    out = tmp_path / "ds"
    with pytest.raises(ExportError, match=message):
        export_lerobot(export_store, str(out), selection, progress=False)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_small_file_limits_split_data_and_videos(export_store, tmp_path):
    out = tmp_path / "ds"
    config = LeRobotExportConfig(data_files_size_in_mb=1e-6, video_files_size_in_mb=1e-6)
    export_lerobot(export_store, str(out), config=config, progress=False)
    assert len(list((out / "data/chunk-000").glob("*.parquet"))) == 2
    assert len(list((out / f"videos/{CAMERA_KEY}/chunk-000").glob("*.mp4"))) == 2
    episodes = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e[f"videos/{CAMERA_KEY}/from_timestamp"] for e in episodes] == [0.0, 0.0]


def test_export_to_s3(export_store, s3_root, s3_options):
    import fsspec

    from physworld_core.lake.storage import s3fs_kwargs

    uri = f"{s3_root}/exports/ds"
    result = export_lerobot(export_store, uri, storage_options=s3_options, progress=False)
    fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_options))
    path = uri[len("s3://") :]
    assert fs.exists(f"{path}/meta/info.json") and fs.exists(f"{path}/physworld_export.json")
    assert json.loads(fs.cat(f"{path}/meta/info.json"))["total_episodes"] == 2
    again = export_lerobot(export_store, uri, storage_options=s3_options, progress=False)
    assert not again.written and again.fingerprint == result.fingerprint
