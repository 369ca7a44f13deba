"""Recording settings: episodes at least one action chunk long, a chosen frame rate, every frame paired."""

from __future__ import annotations

import json

import pytest

from physworld_core.evaluation.rollouts import DEFAULT_MIN_FRAMES, RecordConfig, load_arrays
from physworld_core.video.codec import decode_mp4, mp4_fps
from tests.export.conftest import SHORT_STEPS, TASK


def _rollouts(store) -> dict[int, dict]:
    return {r["trial"]: r for r in store.lake.read_partition("rollouts", TASK).to_dicts()}


def test_recorded_episodes_reach_the_minimum_length(export_store):
    rollouts = _rollouts(export_store)
    for trial in (0, 1):
        row = rollouts[trial]
        assert row["success"] and row["fps"] == 20.0
        arrays = load_arrays(export_store.blobs.get_bytes(row["data_uri"]))
        video = export_store.blobs.get_bytes(row["video_uri"])
        frames = decode_mp4(video)
        assert len(frames) == len(arrays["action"]) == len(arrays["state"]) == row["frames"]
        assert row["frames"] >= DEFAULT_MIN_FRAMES and mp4_fps(video) == 20.0
        ended = json.loads(row["lineage_json"])["trial_frames"]
        assert ended <= row["frames"]  # the scored trial, then the policy acting on until the minimum


def test_a_lower_frame_rate_records_every_other_step(export_store):
    row = _rollouts(export_store)[3]
    assert not row["success"] and row["failure"] is not None  # 15 steps cannot place the can
    assert row["fps"] == 10.0
    arrays = load_arrays(export_store.blobs.get_bytes(row["data_uri"]))
    video = export_store.blobs.get_bytes(row["video_uri"])
    assert mp4_fps(video) == 10.0
    assert len(decode_mp4(video)) == len(arrays["action"]) == row["frames"] == -(-SHORT_STEPS // 2)
    assert json.loads(row["lineage_json"])["trial_frames"] == row["frames"]  # no minimum length asked


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 7.0}, "must divide the control rate 20 Hz"),
        ({"fps": 40.0}, "must divide the control rate"),
        ({"fps": 0.0}, "must divide the control rate"),
        ({"min_frames": -1}, "min_frames must be 0..10000"),
    ],
)
def test_bad_record_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RecordConfig(**kwargs)


def test_record_defaults_fit_an_act_chunk():
    config = RecordConfig()
    assert config.min_frames >= 100 and config.recorded_fps() == 20.0 and config.frame_step() == 1
    assert RecordConfig(fps=5.0).frame_step() == 4
