"""Video-model training shards: captioned clips with scores and lineage, selectable by feasibility."""

from __future__ import annotations

import json
import tarfile

import pytest

from physworld_core.errors import ExportError
from physworld_core.export.selection import Selection
from physworld_core.export.video_set import VideoSetConfig, export_video_set
from physworld_core.video.codec import decode_mp4


def _samples(out):
    manifest = json.loads((out / "manifest.json").read_text())
    samples = {}
    for shard in manifest["shards"]:
        with tarfile.open(out / shard["name"]) as tar:
            for member in tar.getmembers():
                key, ext = member.name.rsplit(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return manifest, samples


def test_shards_hold_captioned_scored_clips(export_store, tmp_path):
    out = tmp_path / "clips"
    result = export_video_set(
        export_store, str(out), config=VideoSetConfig(samples_per_shard=3), progress=False
    )
    manifest, samples = _samples(out)
    assert manifest["samples"] == len(samples) == 4 == result.summary["samples"]  # 2 rollouts + 2 generated
    assert len(manifest["shards"]) == 2 and manifest["sources"] == {"rollout": 2, "generated": 2}
    prompt = export_store.one_row("tasks", "bin-0003")["prompt"]
    scores = {
        r["sample"]: r["feasibility"]
        for r in export_store.lake.read_partition("video_scores", "bin-0003").to_dicts()
    }
    for parts in samples.values():
        assert set(parts) == {"mp4", "txt", "json"}
        meta = json.loads(parts["json"])
        assert parts["txt"].decode() == prompt == meta["caption"]
        assert len(decode_mp4(parts["mp4"])) > 10
        if meta["source"] == "generated":
            assert meta["feasibility"] == pytest.approx(scores[meta["lineage"]["sample"]])
        else:
            assert meta["feasibility"] == 1.0 and meta["lineage"]["method"] == "planner_only"


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
