"""LeRobot v3 export, read back by pyarrow + the video decoder, by LeRobot's own ``LeRobotDataset`` and checked
by ``lerobot-doctor``."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from physworld_core.errors import ExportError
from physworld_core.evaluation.rollouts import load_arrays
from physworld_core.export.lerobot import (
    CAMERA_KEY,
    DEFAULT_SELECTION,
    LeRobotExportConfig,
    export_lerobot,
)
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
    rollouts = [r for r in rollouts if r["success"]]  # the default selection: demonstrations only
    assert DEFAULT_SELECTION.where == {"success": "true"}  # read as the column's bool when applied
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
    # only what a policy normalises: a constant bookkeeping column would read as a zero-std feature
    assert set(stats) == {
        CAMERA_KEY,
        "observation.state",
        "observation.environment_state",
        "action",
        "next.done",
    }
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
        (Selection(), "mixes fps values"),  # the failed trial was recorded at 10 fps
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


def test_lerobot_reads_the_dataset_and_an_act_chunk_fits(export_store, tmp_path):
    """LeRobot's ``LeRobotDataset`` (the ``lerobot`` package, installed without its dependencies: with them
    it pulls a CUDA torch and torchvision) loads the export, decodes its frames with torchcodec, and serves a
    full 100-step action chunk (ACT's default) from the first frame of every episode without padding."""
    # Installed by infra/setup.sh: a missing reader is a failure, not a skip.
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    for module in ("lerobot", "torchcodec"):
        assert importlib.util.find_spec(module), f"{module} is not installed: run infra/setup.sh"
    out = tmp_path / "ds"
    export_lerobot(export_store, str(out), progress=False)
    reader = Path(__file__).with_name("lerobot_reader.py")
    run = subprocess.run(
        [sys.executable, str(reader), str(out), "100", CAMERA_KEY],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    read = json.loads(run.stdout.strip().splitlines()[-1])
    rollouts = [
        r
        for r in export_store.lake.read_partition("rollouts", "bin-0003").sort("trial").to_dicts()
        if r["success"]
    ]
    assert read["episodes"] == len(rollouts) and read["fps"] == 20
    assert read["frames"] == sum(r["frames"] for r in rollouts)
    for item, rollout in zip(read["items"], rollouts, strict=True):
        arrays = load_arrays(export_store.blobs.get_bytes(rollout["data_uri"]))
        np.testing.assert_allclose(item["action"], arrays["action"][0], atol=1e-6)
        np.testing.assert_allclose(item["state"], arrays["state"][0], atol=1e-6)
        first = decode_mp4(export_store.blobs.get_bytes(rollout["video_uri"]))[0]
        picture = np.transpose(np.array(item["image"]), (1, 2, 0)) * 255  # CHW in [0, 1]
        assert np.abs(picture - first).mean() < 4  # the episode's own first frame, re-encoded
        assert item["task"] == rollout["prompt"]
        assert item["chunk_shape"] == [100, 5] and item["chunk_padded"] == 0
        np.testing.assert_allclose(item["chunk_last_action"], arrays["action"][99], atol=1e-6)


def test_lerobot_doctor_finds_the_dataset_ready_for_act(export_store, tmp_path):
    """``lerobot-doctor``'s checks and its ACT training gate. What it may still warn about is the data itself:
    the gripper dimension (action[4]) is an open/close command, mostly closed while carrying; the can's
    orientation wobbles by a degree as it lands; two episodes are fewer than the ten it recommends."""
    from lerobot_doctor.dataset_loader import load_dataset
    from lerobot_doctor.gate import gate_check
    from lerobot_doctor.runner import Severity, run_checks

    out = tmp_path / "ds"
    export_lerobot(export_store, str(out), progress=False)
    report = run_checks(load_dataset(str(out)))
    severity = {r.name: r.severity for r in report.results}
    assert Severity.FAIL not in severity.values(), report.results
    for format_check in (
        "Metadata & Format Compliance",
        "Temporal Consistency",
        "Video Integrity",
        "Episode Health",  # no episode shorter than ACT's chunk
        "Feature Consistency",
        "Training Readiness",
    ):
        assert severity[format_check] == Severity.PASS, [r for r in report.results if r.name == format_check]
    gate = gate_check(out, "act")
    assert gate.passed, gate.blockers
    assert [w for w in gate.warnings if "episodes (recommended" not in w] == []  # no zero-std feature
