"""The readers on what the platform exports, and the bad inputs they must refuse before any training."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from physworld_core.errors import PhysworldError
from physworld_core.worldmodel.data import (
    Episode,
    WorldModelDataError,
    fit_episode,
    fit_frames,
    open_lerobot,
    read_clip_set,
    read_lerobot,
)
from physworld_core.worldmodel.model import WorldModelConfig
from physworld_core.worldmodel.train import prepare_data
from tests.worldmodel.conftest import moving_square


def _by_actions(episodes: list[Episode]) -> dict[bytes, Episode]:
    return {e.actions.round(4).tobytes(): e for e in episodes}


def test_lerobot_export_reads_back_by_its_own_metadata(tiny_lake):
    _, lerobot_root, _, written = tiny_lake
    meta = open_lerobot(lerobot_root)
    assert meta.camera_key == "observation.images.scene" and meta.fps == 20.0
    assert meta.action_names == ("delta_x", "delta_y", "delta_z", "delta_yaw", "gripper")
    assert meta.frame_shape == (32, 32) and len(meta.episodes) == 8

    episodes = read_lerobot(lerobot_root)
    assert len(episodes) == 8
    originals = _by_actions(written)
    for episode in episodes:
        original = originals[episode.actions.round(4).tobytes()]  # every episode is one that was written
        np.testing.assert_allclose(episode.actions, original.actions, atol=1e-6)
        assert episode.frames.shape == original.frames.shape == (24, 32, 32, 3)
        # its own frames, re-encoded once by the exporter (H.264 is lossy), not a neighbour's
        assert np.abs(episode.frames.astype(int) - original.frames.astype(int)).mean() < 3
        assert episode.task == "move the red square to its goal"
    assert [e.key for e in read_lerobot(lerobot_root, episodes=[3, 1])] == ["lerobot#3", "lerobot#1"]


def test_clip_set_reads_every_clip_with_its_rate(tiny_lake):
    _, _, clips_root, written = tiny_lake
    clips = read_clip_set(clips_root)
    assert len(clips) == 8 and all(c.actions is None and c.fps == 20.0 for c in clips)
    assert all("." not in c.key for c in clips)
    for clip in clips:  # <task>_rollout_<method>_<trial>: trial k of the two tasks' 4 episodes each
        task, trial = clip.key.split("_")[0], int(clip.key.rsplit("_", 1)[1])
        original = written[trial + (4 if task == "square-0002" else 0)]
        assert clip.frames.shape == original.frames.shape == (24, 32, 32, 3)
        assert np.abs(clip.frames.astype(int) - original.frames.astype(int)).mean() < 3


def test_fitting_sums_moves_and_keeps_the_gripper():
    (episode,) = moving_square(1, 10, 32, fps=20.0)
    fitted = fit_episode(episode, 16, 10.0, action_dim=5)
    assert fitted.frames.shape == (5, 16, 16, 3) and fitted.fps == 10.0
    np.testing.assert_allclose(fitted.actions[:, :4], episode.actions.reshape(5, 2, 5)[:, :, :4].sum(1))
    np.testing.assert_array_equal(fitted.actions[:, 4], episode.actions[1::2, 4])
    # 32² frames averaged 2×2 down to 16²
    block = episode.frames[0, :2, :2].reshape(-1, 3).mean(0).round()
    np.testing.assert_array_equal(fitted.frames[0, 0, 0], block)
    clip = fit_episode(Episode(episode.frames, None, 8.0, "clip"), 32, 10.0)
    assert len(clip.frames) == 13  # 10 frames at 8 fps = 1.25 s, resampled at 10 fps


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda root: (root / "meta/info.json").unlink(), "no meta/info.json"),
        (
            lambda root: (root / "meta/info.json").write_text(
                json.dumps({**json.loads((root / "meta/info.json").read_text()), "codebase_version": "v2.1"})
            ),
            "codebase_version 'v2.1' is not supported",
        ),
        (lambda root: _drop_last_row(root), "says 3 frames but .* holds 2 rows"),
        (lambda root: _stretch_video_slice(root), "frame and row counts must match"),
    ],
)
def test_broken_datasets_are_refused(tiny_lake, tmp_path, break_it, message):
    _, lerobot_root, _, _ = tiny_lake
    root = tmp_path / "broken"
    shutil.copytree(lerobot_root, root)
    _shorten_episode_zero(root)
    break_it(root)
    with pytest.raises(WorldModelDataError, match=message):
        read_lerobot(root)


def _shorten_episode_zero(root) -> None:
    """Leave the dataset valid but make episode 0 three frames long everywhere (rows, table, video slice):
    the breakages below then have small numbers to name."""
    data_path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data_path)
    keep = [
        not (e == 0 and f >= 3)
        for e, f in zip(table["episode_index"].to_pylist(), table["frame_index"].to_pylist(), strict=True)
    ]
    pq.write_table(table.filter(keep), data_path)
    episodes_path = root / "meta/episodes/chunk-000/file-000.parquet"
    rows = pq.read_table(episodes_path).to_pylist()
    key = "videos/observation.images.scene"
    rows[0]["length"] = 3
    rows[0][f"{key}/to_timestamp"] = rows[0][f"{key}/from_timestamp"] + 3 / 20.0
    pq.write_table(pq.read_table(episodes_path).from_pylist(rows), episodes_path)
    read_lerobot(root)  # still a valid dataset


def _drop_last_row(root) -> None:
    data_path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data_path)
    keep = [
        not (e == 0 and f == 2)
        for e, f in zip(table["episode_index"].to_pylist(), table["frame_index"].to_pylist(), strict=True)
    ]
    pq.write_table(table.filter(keep), data_path)
    episodes_path = root / "meta/episodes/chunk-000/file-000.parquet"
    assert pq.read_table(episodes_path).to_pylist()[0]["length"] == 3


def _stretch_video_slice(root) -> None:
    episodes_path = root / "meta/episodes/chunk-000/file-000.parquet"
    rows = pq.read_table(episodes_path).to_pylist()
    rows[0]["videos/observation.images.scene/to_timestamp"] += 2 / 20.0  # 5 video frames for 3 rows
    pq.write_table(pq.read_table(episodes_path).from_pylist(rows), episodes_path)


def test_empty_selections_are_refused(tiny_lake):
    _, lerobot_root, _, _ = tiny_lake
    with pytest.raises(WorldModelDataError, match="selection is empty"):
        read_lerobot(lerobot_root, episodes=[])
    with pytest.raises(WorldModelDataError, match="no episode 99"):
        read_lerobot(lerobot_root, episodes=[99])
    with pytest.raises(WorldModelDataError, match="selection is empty"):
        prepare_data(WorldModelConfig(image_size=32, latent_grid=4), [])


def test_a_resolution_the_model_was_not_built_for_is_refused(tiny_lake):
    _, lerobot_root, _, _ = tiny_lake
    episodes = read_lerobot(lerobot_root)
    small = WorldModelConfig(image_size=16, latent_grid=4)
    assert prepare_data(small, episodes).train[0].frames.shape[1:] == (16, 16, 3)  # 32² averaged down
    for size, grid in ((24, 3), (48, 3), (64, 4)):  # 32 is no whole multiple of these sides
        with pytest.raises(WorldModelDataError, match=f"built for {size}x{size}"):
            prepare_data(WorldModelConfig(image_size=size, latent_grid=grid), episodes)
    with pytest.raises(WorldModelDataError, match="square"):
        fit_frames(np.zeros((1, 32, 64, 3), np.uint8), 32, "wide")


def test_other_rates_and_action_sizes_are_refused(tiny_lake):
    _, lerobot_root, _, _ = tiny_lake
    episodes = read_lerobot(lerobot_root)
    with pytest.raises(WorldModelDataError, match="no whole multiple of the model's 15 fps"):
        prepare_data(WorldModelConfig(image_size=32, latent_grid=4, fps=15.0), episodes)
    with pytest.raises(WorldModelDataError, match="built for 7"):
        prepare_data(WorldModelConfig(image_size=32, latent_grid=4, action_dim=7), episodes)
    nameless = [Episode(e.frames, e.actions, e.fps, e.key) for e in episodes]
    with pytest.raises(WorldModelDataError, match="no names"):
        prepare_data(WorldModelConfig(image_size=32, latent_grid=4, fps=10.0), nameless)
    assert isinstance(WorldModelDataError("x"), PhysworldError)
