"""Video-model training sets ("the virtuous cycle"): captioned clips in WebDataset tar shards + a manifest.

Two sources, selectable together:

- ``rollouts``: simulated executions. Physically consistent by construction (feasibility 1.0).
- ``generated``: samples of the video stage, each with the physics feasibility score the reconstruction stage
  gave it (``video_scores``). A threshold keeps only the physically plausible ones.

Each sample is ``<key>.mp4`` + ``<key>.txt`` (the caption: the prompt) + ``<key>.json`` (score, success,
lineage ids). Tar members carry fixed mtimes/owners, so the same selection gives byte-identical shards.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from tqdm.auto import tqdm

from physworld_core.errors import ExportError
from physworld_core.export.destination import ExportResult, default_destination, write_export
from physworld_core.export.selection import Selection

SOURCES = ("rollouts", "generated")
FORMAT = "physworld-video-set/1"


@dataclass(frozen=True)
class VideoSetConfig:
    """Args:
    sources: which clips to take (``rollouts``, ``generated``).
    min_feasibility: drop clips scored below this (generated clips without a score count as 0).
    samples_per_shard: shard size in clips.
    """

    sources: tuple[str, ...] = SOURCES
    min_feasibility: float = 0.0
    samples_per_shard: int = 256

    def __post_init__(self) -> None:
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown or not self.sources:
            raise ExportError(f"video set sources must be among {SOURCES}, got {self.sources}")
        if not 0.0 <= self.min_feasibility <= 1.0:
            raise ExportError(f"min_feasibility must lie in [0, 1], got {self.min_feasibility}")
        if self.samples_per_shard < 1:
            raise ExportError(f"samples_per_shard must be >= 1, got {self.samples_per_shard}")


def select_clips(store, selection: Selection, config: VideoSetConfig) -> list[dict]:
    """One dict per clip: key, video uri/sha, caption, feasibility, success and lineage."""
    tables = {"rollouts": "rollouts", "generated": "videos"}
    selection.check_columns(tuple(tables[s] for s in config.sources))
    clips = []
    if "rollouts" in config.sources and selection.applies_to("rollouts") and store.lake.exists("rollouts"):
        for r in selection.apply(store.lake, "rollouts", allow_empty=True).to_dicts():
            if not r["video_uri"]:
                continue
            clips.append(
                {
                    "key": f"{r['task_id']}.rollout.{r['method']}.{r['trial']:03d}",
                    "source": "rollout",
                    "video_uri": r["video_uri"],
                    "video_sha256": r["video_sha256"],
                    "caption": r["prompt"],
                    "feasibility": 1.0,
                    "success": bool(r["success"]),
                    "lineage": {
                        "task_id": r["task_id"],
                        "method": r["method"],
                        "trial": r["trial"],
                        **json.loads(r["lineage_json"]),
                    },
                }
            )
    if "generated" in config.sources and selection.applies_to("videos") and store.lake.exists("videos"):
        videos = selection.apply(store.lake, "videos", allow_empty=True)
        scores = (
            store.lake.scan("video_scores").select("task_id", "sample", "feasibility", "selected").collect()
        )
        joined = videos.join(scores, on=["task_id", "sample"], how="left")
        outcome = _task_success(store)
        prompts = _task_prompts(store)
        for r in joined.to_dicts():
            clips.append(
                {
                    "key": f"{r['task_id']}.generated.{r['sample']:03d}",
                    "source": "generated",
                    "video_uri": r["video_uri"],
                    "video_sha256": r["video_sha256"],
                    "caption": prompts.get(r["task_id"], ""),
                    "feasibility": float(r["feasibility"] or 0.0),
                    "success": outcome.get(r["task_id"]),
                    "lineage": {
                        "task_id": r["task_id"],
                        "sample": r["sample"],
                        "backend": r["backend"],
                        "seed": r["seed"],
                        "selected_for_policy": bool(r["selected"]),
                    },
                }
            )
    clips = [c for c in clips if c["feasibility"] >= config.min_feasibility]
    if not clips:
        raise ExportError(
            f"no clip from {', '.join(config.sources)} matches {selection.describe()} with feasibility >= "
            f"{config.min_feasibility}"
        )
    return sorted(clips, key=lambda c: c["key"])


def _task_prompts(store) -> dict[str, str]:
    frame = store.lake.scan("tasks").select("task_id", "prompt").collect()
    return dict(zip(frame["task_id"], frame["prompt"], strict=True))


def _task_success(store) -> dict[str, bool]:
    """Did the pipeline's own policy succeed in the world for this task (any ground-truth trial)?"""
    if not store.lake.exists("evaluations"):
        return {}
    frame = (
        store.lake.scan("evaluations")
        .filter(pl.col("method") == "physworld")
        .group_by("task_id")
        .agg(pl.col("success").mean())
        .collect()
    )
    return {t: bool(s >= 0.5) for t, s in zip(frame["task_id"], frame["success"], strict=True)}


def export_video_set(
    store,
    out_uri: str | None,
    selection: Selection = Selection(),
    config: VideoSetConfig = VideoSetConfig(),
    storage_options: dict | None = None,
    progress: bool = True,
    log_fn: Callable[[str], None] | None = None,
) -> ExportResult:
    """Write the selected clips as tar shards + ``manifest.json`` at ``out_uri`` (local or ``s3://``;
    ``None``: ``<lake>/exports/videos/<fingerprint>``)."""
    clips = select_clips(store, selection, config)
    digest = hashlib.sha256(f"{FORMAT}:{config}".encode())
    for c in clips:
        digest.update(
            f"{c['key']}|{c['video_sha256']}|{c['caption']}|{c['feasibility']}|{c['success']}\n".encode()
        )
    out_uri, storage_options = default_destination(
        store, out_uri, "videos", digest.hexdigest(), storage_options
    )
    return write_export(
        out_uri,
        digest.hexdigest(),
        lambda root: _build(store, clips, root, config, progress, log_fn),
        storage_options,
        describe={"format": FORMAT, **selection.describe(), "config": repr(config)},
    )


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "", ""
    tar.addfile(info, io.BytesIO(data))


def _build(store, clips: list[dict], root: Path, config: VideoSetConfig, progress: bool, log_fn=None) -> dict:
    shards = []
    bar = tqdm(total=len(clips), desc="video set export", unit="clip", disable=not progress)
    for start in range(0, len(clips), config.samples_per_shard):
        batch = clips[start : start + config.samples_per_shard]
        name = f"shard-{len(shards):05d}.tar"
        with tarfile.open(root / name, "w", format=tarfile.USTAR_FORMAT) as tar:
            for clip in batch:
                meta = {k: clip[k] for k in ("source", "caption", "feasibility", "success", "lineage")}
                _member(tar, f"{clip['key']}.mp4", store.blobs.get_bytes(clip["video_uri"]))
                _member(tar, f"{clip['key']}.txt", clip["caption"].encode())
                _member(tar, f"{clip['key']}.json", json.dumps(meta, sort_keys=True).encode())
                bar.update(1)
        if log_fn:
            log_fn(f"video set export: shard {name} ({start + len(batch)}/{len(clips)} clips)")
        data = (root / name).read_bytes()
        shards.append(
            {
                "name": name,
                "samples": len(batch),
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    bar.close()
    manifest = {
        "format": FORMAT,
        "samples": len(clips),
        "sources": {s: sum(c["source"] == s for c in clips) for s in ("rollout", "generated")},
        "min_feasibility": config.min_feasibility,
        "shards": shards,
        "keys": [c["key"] for c in clips],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return {"samples": len(clips), "shards": len(shards), **manifest["sources"]}
