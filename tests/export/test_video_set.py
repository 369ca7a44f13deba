"""Video-model training shards: captioned clips with scores and lineage, selectable by feasibility, read back
with the ``webdataset`` package itself and a plain torch ``DataLoader`` over it."""

from __future__ import annotations

import json

import pytest
import torch
import webdataset as wds

from physworld_core.errors import ExportError
from physworld_core.export.selection import Selection
from physworld_core.export.video_set import VideoSetConfig, export_video_set
from physworld_core.video.codec import decode_mp4, mp4_fps


def _read(out) -> tuple[dict, list[tuple]]:
    """Every sample as ``(key, mp4, caption, sidecar)``, the way a trainer reads the shards."""
    manifest = json.loads((out / "manifest.json").read_text())
    shards = [str(out / shard["name"]) for shard in manifest["shards"]]
    dataset = (
        wds.WebDataset(shards, shardshuffle=False)
        .to_tuple("__key__", "mp4", "txt", "json")
        .map_tuple(str, bytes, bytes.decode, json.loads)
    )
    return manifest, list(torch.utils.data.DataLoader(dataset, batch_size=None))


def test_shards_read_as_webdataset_samples(export_store, tmp_path):
    out = tmp_path / "clips"
    config = VideoSetConfig(min_feasibility=0.0, samples_per_shard=3)
    result = export_video_set(export_store, str(out), config=config, progress=False)
    manifest, samples = _read(out)
    rollouts = {r["trial"]: r for r in export_store.lake.read_partition("rollouts", "bin-0003").to_dicts()}
    # 3 recorded rollouts + 2 generated clips, each one sample of three fields
    assert len(samples) == manifest["samples"] == result.summary["samples"] == 5
    assert [key for key, *_ in samples] == manifest["keys"] and "." not in "".join(manifest["keys"])
    assert len(manifest["shards"]) == 2 and manifest["sources"] == {"rollout": 3, "generated": 2}
    prompt = export_store.one_row("tasks", "bin-0003")["prompt"]
    scores = {
        r["sample"]: r["feasibility"]
        for r in export_store.lake.read_partition("video_scores", "bin-0003").to_dicts()
    }
    for _key, mp4, caption, meta in samples:
        frames = decode_mp4(mp4)
        assert caption == prompt == meta["caption"]
        assert meta["fps"] == mp4_fps(mp4) and meta["frames"] == len(frames) > 5
        assert (meta["height"], meta["width"]) == frames.shape[1:3]
        if meta["source"] == "generated":  # never executed: neither a success nor a failure
            assert meta["success"] is None
            assert meta["feasibility"] == pytest.approx(scores[meta["lineage"]["sample"]])
        else:
            rollout = rollouts[meta["lineage"]["trial"]]
            assert meta["success"] is rollout["success"] and meta["fps"] == rollout["fps"]
            assert meta["feasibility"] == 1.0 and meta["lineage"]["method"] == "planner_only"
    fps = {meta["source"]: meta["fps"] for *_, meta in samples}
    assert fps["rollout"] != fps["generated"]  # why the sidecar says it
    assert sorted(manifest["fps"]["rollout"]) == [10.0, 20.0]


def test_default_threshold_drops_implausible_generated_clips(export_store, tmp_path):
    scores = export_store.lake.read_partition("video_scores", "bin-0003")["feasibility"].to_list()
    assert VideoSetConfig().min_feasibility == 0.5
    result = export_video_set(export_store, str(tmp_path / "clips"), progress=False)
    assert result.summary["generated"] == sum(s >= 0.5 for s in scores) and result.summary["rollout"] == 3


def test_feasibility_threshold_and_idempotence(export_store, tmp_path):
    scores = export_store.lake.read_partition("video_scores", "bin-0003")["feasibility"].to_list()
    threshold = (min(scores) + max(scores)) / 2 if max(scores) > min(scores) else max(scores)
    out = tmp_path / "clips"
    config = VideoSetConfig(sources=("generated",), min_feasibility=threshold)
    first = export_video_set(export_store, str(out), config=config, progress=False)
    kept = [s for s in scores if s >= threshold]
    assert first.summary["samples"] == len(kept)
    shard = (out / "shard-00000.tar").read_bytes()
    again = export_video_set(export_store, str(out), config=config, progress=False)
    assert not again.written and (out / "shard-00000.tar").read_bytes() == shard
    assert max(scores) < 1.0
    above_all = VideoSetConfig(sources=("generated",), min_feasibility=max(scores) + 1e-9)
    with pytest.raises(ExportError, match="no clip"):
        export_video_set(export_store, str(tmp_path / "none"), config=above_all, progress=False)
    assert not (tmp_path / "none").exists()
    with pytest.raises(ExportError, match="unknown column"):
        export_video_set(export_store, str(tmp_path / "bad"), Selection({"feasability": 1}), progress=False)
    assert not (tmp_path / "bad").exists()


def test_filters_on_rollout_columns_select_only_rollouts(export_store, tmp_path):
    result = export_video_set(export_store, str(tmp_path / "c"), Selection({"trial": 1}), progress=False)
    assert result.summary == {"samples": 1, "shards": 1, "rollout": 1, "generated": 0}
