"""Video-model training sets ("the virtuous cycle"): captioned clips in WebDataset tar shards + a manifest.

Two sources, selectable together:

- ``rollouts``: simulated executions, recorded at the control rate. Physically consistent by construction
  (feasibility 1.0); ``success`` says whether the execution met the world's success test.
- ``generated``: samples of the video stage, each with the physics feasibility score the reconstruction stage
  gave it (``video_scores``). A threshold keeps only the physically plausible ones. Nothing was executed in a
  generated clip, so its ``success`` is ``null``; how the policy learnt from it fared is lineage.

Each sample is ``<key>.mp4`` + ``<key>.txt`` (the caption: the prompt) + ``<key>.json`` (source, fps, frames,
width, height, feasibility, success, lineage). WebDataset takes a sample's key up to the first dot of a member's
name, so keys hold no dot. The two sources differ in frame rate (a generated clip runs at its backend's rate),
which is why every sidecar carries ``fps``. Tar members carry fixed mtimes/owners, so the same selection gives
byte-identical shards.
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
FORMAT = "physworld-video-set/2"
DEFAULT_MIN_FEASIBILITY = 0.5
"""Generated clips the reconstruction scored below this are left out unless asked for: half of the physics
checks failing means the clip shows motion the physical twin could not reproduce."""


@dataclass(frozen=True)
class VideoSetConfig:
    """Args:
    sources: which clips to take (``rollouts``, ``generated``).
    min_feasibility: drop clips scored below this (generated clips without a score count as 0; rollouts
        score 1.0).
    samples_per_shard: shard size in clips.
    """

    sources: tuple[str, ...] = SOURCES
    min_feasibility: float = DEFAULT_MIN_FEASIBILITY
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
    """One dict per clip: key, video uri/sha, caption, source, fps, frames, size, feasibility, success and
    lineage (sorted by key)."""
    tables = {"rollouts": "rollouts", "generated": "videos"}
    selection.check_columns(tuple(tables[s] for s in config.sources))
    clips = []
    if "rollouts" in config.sources and selection.applies_to("rollouts") and store.lake.exists("rollouts"):
        for r in selection.apply(store.lake, "rollouts", allow_empty=True).to_dicts():
            if not r["video_uri"]:
                continue
            camera = json.loads(r["camera_json"]) if r["camera_json"] else {}
            clips.append(
                {
                    "key": f"{r['task_id']}_rollout_{r['method']}_{r['trial']:03d}",
                    "source": "rollout",
                    "video_uri": r["video_uri"],
                    "video_sha256": r["video_sha256"],
                    "caption": r["prompt"],
                    "fps": float(r["fps"]),
                    "frames": int(r["frames"]),
                    "width": camera.get("width"),
                    "height": camera.get("height"),
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
        policy_success = _policy_success_rate(store)
        prompts = _task_prompts(store)
        for r in joined.to_dicts():
            clips.append(
                {
                    "key": f"{r['task_id']}_generated_{r['sample']:03d}",
                    "source": "generated",
                    "video_uri": r["video_uri"],
                    "video_sha256": r["video_sha256"],
                    "caption": prompts.get(r["task_id"], ""),
                    "fps": float(r["fps"]),
                    "frames": int(r["num_frames"]),
                    "width": int(r["width"]),
                    "height": int(r["height"]),
                    "feasibility": float(r["feasibility"] or 0.0),
                    "success": None,  # a generated clip was never executed: it neither succeeded nor failed
                    "lineage": {
                        "task_id": r["task_id"],
                        "sample": r["sample"],
                        "backend": r["backend"],
                        "seed": r["seed"],
                        "selected_for_policy": bool(r["selected"]),
                        "task_policy_success_rate": policy_success.get(r["task_id"]),
                    },
                }
            )
    clips = [c for c in clips if c["feasibility"] >= config.min_feasibility]
    if not clips:
        raise ExportError(
            f"no clip from {', '.join(config.sources)} matches {selection.describe()} with feasibility >= "
            f"{config.min_feasibility}"
        )
    keys = [c["key"] for c in clips]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ExportError(
            f"two clips share the sample key {twice[0]}; narrow the selection to tell them apart"
        )
    return sorted(clips, key=lambda c: c["key"])


def _task_prompts(store) -> dict[str, str]:
    frame = store.lake.scan("tasks").select("task_id", "prompt").collect()
    return dict(zip(frame["task_id"], frame["prompt"], strict=True))


def _policy_success_rate(store) -> dict[str, float]:
    """The fraction of ground-truth trials in which the pipeline's own policy for the task succeeded: how the
    policy learnt from a task's videos fared, not whether any one generated clip shows a success."""
    if not store.lake.exists("evaluations"):
        return {}
    frame = (
        store.lake.scan("evaluations")
        .filter(pl.col("method") == "physworld")
        .group_by("task_id")
        .agg(pl.col("success").mean())
        .collect()
    )
    return {t: float(s) for t, s in zip(frame["task_id"], frame["success"], strict=True)}


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
        digest.update(f"{c['key']}|{c['video_sha256']}|{json.dumps(_sidecar(c), sort_keys=True)}\n".encode())
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


SIDECAR_FIELDS = (
    "source",
    "caption",
    "fps",
    "frames",
    "width",
    "height",
    "feasibility",
    "success",
    "lineage",
)


def _sidecar(clip: dict) -> dict:
    """A sample's ``.json``: what a trainer filters or resamples on, without opening the mp4."""
    return {k: clip[k] for k in SIDECAR_FIELDS}


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
                meta = _sidecar(clip)
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
        "fps": {s: sorted({c["fps"] for c in clips if c["source"] == s}) for s in ("rollout", "generated")},
        "min_feasibility": config.min_feasibility,
        "shards": shards,
        "keys": [c["key"] for c in clips],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return {"samples": len(clips), "shards": len(shards), **manifest["sources"]}
