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


def test_a_new_world_renders_at_once_once_the_renderer_is_kept():
    """SAPIEN sets its renderer up again (5-11 s on CPU) for the first frame of a world built after the last
    rendering one is gone; ``keep_renderer`` keeps it up, so a world per method or per task costs no more."""
    import gc
    import time

    from physworld_core.evaluation.rollouts import keep_renderer
    from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
    from physworld_core.sim.base_env import DEFAULT_CAMERA

    camera = DEFAULT_CAMERA.resized(32, 32)
    env = make_world_env(BenchmarkTask("bin", 1), camera=camera, render_mode="rgb_array")
    keep_renderer(env)
    env.reset(seed=0)
    env.render()
    env.close()
    del env
    gc.collect()  # the first world is gone, as between two methods' trials
    env = make_world_env(BenchmarkTask("bin", 2), camera=camera, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        start = time.perf_counter()
        frame = env.render()
        assert time.perf_counter() - start < 3.0
        assert frame.shape[1:3] == (32, 32)
    finally:
        env.close()
