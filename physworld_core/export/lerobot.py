"""LeRobot v3.0 datasets from the ``rollouts`` table.

Layout (LeRobot's ``codebase_version`` "v3.0"): many episodes per parquet/mp4 file, files grouped in chunks::

    meta/info.json   meta/stats.json   meta/tasks.parquet   meta/episodes/chunk-000/file-000.parquet
    data/chunk-000/file-000.parquet    videos/<camera key>/chunk-000/file-000.mp4

Per-frame columns: ``timestamp``, ``frame_index``, ``episode_index``, ``index``, ``task_index``,
``observation.state``, ``observation.environment_state``, ``action``, ``next.done``. An episode's frames in a
concatenated video are found through its ``from_timestamp``/``to_timestamp`` in the episodes table. Every
selected episode must share fps, camera size and state/action sizes: a dataset has one feature schema.

By default only successful rollouts are exported (:data:`DEFAULT_WHERE`): a dataset for imitation holds
demonstrations, and the CLI and the asset take this one default. ``meta/stats.json`` holds the statistics of the
features a policy may read (observations, action, done flag, camera); LeRobot's bookkeeping columns (indices,
timestamps) are never normalised, and a constant one (one task: ``task_index`` always 0) would read as a
feature that normalisation turns into NaN.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from physworld_core.errors import ExportError
from physworld_core.evaluation.rollouts import ENV_STATE_NAMES, STATE_NAMES, load_arrays
from physworld_core.export.destination import ExportResult, default_destination, write_export
from physworld_core.export.selection import Selection
from physworld_core.video.codec import Mp4Writer, decode_mp4

CODEBASE_VERSION = "v3.0"
CAMERA_KEY = "observation.images.scene"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
ACTION_NAMES_BY_SIZE = {
    4: ("delta_x", "delta_y", "delta_z", "gripper"),
    5: ("delta_x", "delta_y", "delta_z", "delta_yaw", "gripper"),
    7: ("delta_x", "delta_y", "delta_z", "delta_rx", "delta_ry", "delta_rz", "gripper"),
}
_QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
_WRITER = "physworld-lerobot/2"  # part of the fingerprint: a change in what is written is a new export
STATS_FEATURES = ("observation.state", "observation.environment_state", "action", "next.done")
"""Per-frame columns with statistics (plus the camera): the ones a policy may read, not LeRobot's bookkeeping."""
DEFAULT_WHERE: tuple[str, ...] = ("success=true",)
"""The default filter on the ``rollouts`` table, in ``column=value`` form (the CLI's ``--where``, the asset's
``where``): successful executions only."""
DEFAULT_SELECTION = Selection.parse(list(DEFAULT_WHERE))


@dataclass(frozen=True)
class LeRobotExportConfig:
    """Args:
    chunks_size: files per chunk directory (LeRobot's default 1000).
    data_files_size_in_mb, video_files_size_in_mb: a new file starts once the current one exceeds this.
    robot_type: written to info.json.
    crf: H.264 quality of the concatenated camera stream (re-encoded once from the stored clips).
    """

    chunks_size: int = 1000
    data_files_size_in_mb: float = 100.0
    video_files_size_in_mb: float = 200.0
    robot_type: str = "panda"
    crf: int = 20

    def __post_init__(self) -> None:
        if self.chunks_size < 1:
            raise ValueError(f"chunks_size must be >= 1, got {self.chunks_size}")
        if self.data_files_size_in_mb <= 0 or self.video_files_size_in_mb <= 0:
            raise ValueError("file size limits must be positive")


def fingerprint(rows: list[dict], config: LeRobotExportConfig) -> str:
    """Hash of what the export would contain: the episodes' content hashes and the export options."""
    digest = hashlib.sha256(f"lerobot:{CODEBASE_VERSION}:{_WRITER}:{config}".encode())
    for r in rows:
        digest.update(
            f"{r['task_id']}|{r['method']}|{r['trial']}|{r['data_sha256']}|{r['video_sha256']}|"
            f"{r['prompt']}|{r['success']}\n".encode()
        )
    return digest.hexdigest()


def export_lerobot(
    store,
    out_uri: str | None,
    selection: Selection = DEFAULT_SELECTION,
    config: LeRobotExportConfig = LeRobotExportConfig(),
    storage_options: dict | None = None,
    progress: bool = True,
    log_fn: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export the selected rollouts as a LeRobot v3.0 dataset at ``out_uri`` (local path or ``s3://``;
    ``None``: ``<lake>/exports/lerobot/<fingerprint>``, so every distinct selection has its own home). The
    default selection is :data:`DEFAULT_SELECTION` (successful rollouts); ``Selection()`` takes every one.

    Raises:
        ExportError: empty selection, unknown filter column, mixed feature shapes, or ``out_uri`` holds
            something else (nothing is written in any of these cases).
    """
    rows = selection.apply(store.lake, "rollouts").to_dicts()
    missing = [f"{r['task_id']}/{r['method']}/{r['trial']}" for r in rows if not r["video_uri"]]
    if missing:
        raise ExportError(
            f"{len(missing)} selected rollouts have no camera stream (e.g. {missing[0]}); LeRobot episodes "
            "need one: filter them out or re-run the evaluation with record_trials > 0"
        )
    for key in ("fps", "camera_json"):
        values = {r[key] for r in rows}
        if len(values) > 1:
            raise ExportError(f"the selection mixes {key} values ({len(values)} distinct); filter to one")
    digest = fingerprint(rows, config)
    out_uri, storage_options = default_destination(store, out_uri, "lerobot", digest, storage_options)
    return write_export(
        out_uri,
        digest,
        lambda root: _build(store, rows, root, config, progress, log_fn),
        storage_options,
        describe={"format": f"lerobot {CODEBASE_VERSION}", **selection.describe()},
    )


class _FilePacker:
    """Assigns consecutive episodes to (chunk, file) indices, starting a new file past a size limit."""

    def __init__(self, limit_bytes: float, chunks_size: int):
        self.limit, self.chunks_size = limit_bytes, chunks_size
        self.index, self.size = 0, 0

    def place(self, nbytes: int) -> tuple[int, int]:
        if self.size > 0 and self.size + nbytes > self.limit:
            self.index, self.size = self.index + 1, 0
        self.size += nbytes
        return divmod(self.index, self.chunks_size)


def _build(
    store, rows: list[dict], root: Path, config: LeRobotExportConfig, progress: bool, log_fn=None
) -> dict:
    fps = float(rows[0]["fps"])
    tasks = sorted({r["prompt"] for r in rows})
    task_index = {t: i for i, t in enumerate(tasks)}
    data_packer = _FilePacker(config.data_files_size_in_mb * 2**20, config.chunks_size)
    video_packer = _FilePacker(config.video_files_size_in_mb * 2**20, config.chunks_size)

    data_files: dict[tuple[int, int], list[pa.Table]] = {}
    video_writer, video_place, video_frames = None, None, 0
    episodes, all_columns = [], {}
    shapes = None
    offset = 0
    try:
        for episode_index, row in enumerate(
            tqdm(rows, desc="lerobot export", unit="ep", disable=not progress)
        ):
            arrays = load_arrays(store.blobs.get_bytes(row["data_uri"]))
            video_bytes = store.blobs.get_bytes(row["video_uri"])
            frames = decode_mp4(video_bytes)
            n = len(arrays["action"])
            if len(frames) != n or len(arrays["state"]) != n:
                raise ExportError(
                    f"rollout {row['task_id']}/{row['method']}/{row['trial']}: {len(frames)} frames, "
                    f"{len(arrays['state'])} states and {n} actions do not line up"
                )
            episode_shapes = (arrays["state"].shape[1], arrays["action"].shape[1], frames.shape[1:])
            if shapes is None:
                shapes = episode_shapes
                if shapes[1] not in ACTION_NAMES_BY_SIZE:
                    raise ExportError(
                        f"unknown action size {shapes[1]} (known: {sorted(ACTION_NAMES_BY_SIZE)})"
                    )
            elif episode_shapes != shapes:
                raise ExportError(
                    f"rollout {row['task_id']}/{row['method']}/{row['trial']} has state/action/frame shapes "
                    f"{episode_shapes}, others {shapes}: filter the selection to one method"
                )
            columns = {
                "observation.state": arrays["state"].astype(np.float32),
                "observation.environment_state": arrays["env_state"].astype(np.float32),
                "action": arrays["action"].astype(np.float32),
                "timestamp": (np.arange(n) / fps).astype(np.float32),
                "frame_index": np.arange(n, dtype=np.int64),
                "episode_index": np.full(n, episode_index, np.int64),
                "index": np.arange(offset, offset + n, dtype=np.int64),
                "task_index": np.full(n, task_index[row["prompt"]], np.int64),
                "next.done": np.arange(n) == n - 1,
            }
            table = _frame_table(columns)
            data_chunk, data_file = data_packer.place(table.nbytes)
            data_files.setdefault((data_chunk, data_file), []).append(table)

            place = video_packer.place(len(video_bytes))
            if place != video_place:
                if video_writer is not None:
                    video_writer.__exit__(None, None, None)
                path = root / VIDEO_PATH.format(
                    video_key=CAMERA_KEY, chunk_index=place[0], file_index=place[1]
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                video_writer = Mp4Writer(str(path), fps, frames.shape[2], frames.shape[1], crf=config.crf)
                video_writer.__enter__()
                video_place, video_frames = place, 0
            video_writer.write(frames)
            from_ts = video_frames / fps
            video_frames += n

            episode = {
                "episode_index": episode_index,
                "tasks": [row["prompt"]],
                "length": n,
                "data/chunk_index": data_chunk,
                "data/file_index": data_file,
                "dataset_from_index": offset,
                "dataset_to_index": offset + n,
                f"videos/{CAMERA_KEY}/chunk_index": place[0],
                f"videos/{CAMERA_KEY}/file_index": place[1],
                f"videos/{CAMERA_KEY}/from_timestamp": from_ts,
                f"videos/{CAMERA_KEY}/to_timestamp": video_frames / fps,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                "physworld/task_id": row["task_id"],
                "physworld/method": row["method"],
                "physworld/trial": row["trial"],
                "physworld/success": row["success"],
                "physworld/family": row["family"],
            }
            for name in STATS_FEATURES:
                for stat, value in _stats(columns[name]).items():
                    episode[f"stats/{name}/{stat}"] = value
            episodes.append(episode)
            for name in STATS_FEATURES:
                all_columns.setdefault(name, []).append(columns[name])
            all_columns.setdefault(CAMERA_KEY, []).append(
                frames[:: max(1, n // 10)]
            )  # subsampled, as LeRobot
            offset += n
            if log_fn and (episode_index + 1) % max(1, len(rows) // 10) == 0:
                log_fn(f"lerobot export: {episode_index + 1}/{len(rows)} episodes, {offset} frames")
    finally:
        if video_writer is not None:
            video_writer.__exit__(None, None, None)

    for (chunk, file_index), tables in data_files.items():
        path = root / DATA_PATH.format(chunk_index=chunk, file_index=file_index)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(tables), path)
    _write_episodes(root, episodes)
    _write_tasks(root, tasks)
    stats = {name: _stats(np.concatenate(v)) for name, v in all_columns.items() if name != CAMERA_KEY}
    stats[CAMERA_KEY] = _image_stats(np.concatenate(all_columns[CAMERA_KEY]))
    (root / "meta" / "stats.json").write_text(json.dumps(stats, indent=2))
    state_size, action_size, (height, width, _) = shapes
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": config.robot_type,
        "total_episodes": len(episodes),
        "total_frames": offset,
        "total_tasks": len(tasks),
        "chunks_size": config.chunks_size,
        "data_files_size_in_mb": config.data_files_size_in_mb,
        "video_files_size_in_mb": config.video_files_size_in_mb,
        "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": _features(state_size, action_size, height, width, fps),
    }
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    return {"episodes": len(episodes), "frames": offset, "tasks": len(tasks), "fps": fps}


def _frame_table(columns: dict[str, np.ndarray]) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        if values.ndim == 2:
            flat = pa.array(values.reshape(-1), type=pa.float32())
            arrays[name] = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def _features(state_size: int, action_size: int, height: int, width: int, fps: float) -> dict:
    scalar = lambda dtype: {"dtype": dtype, "shape": [1], "names": None}
    return {
        CAMERA_KEY: {
            "dtype": "video",
            "shape": [height, width, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": height,
                "video.width": width,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": 3,
                "has_audio": False,
            },
        },
        "observation.state": {"dtype": "float32", "shape": [state_size], "names": list(STATE_NAMES)},
        "observation.environment_state": {
            "dtype": "float32",
            "shape": [len(ENV_STATE_NAMES)],
            "names": list(ENV_STATE_NAMES),
        },
        "action": {
            "dtype": "float32",
            "shape": [action_size],
            "names": list(ACTION_NAMES_BY_SIZE[action_size]),
        },
        "timestamp": scalar("float32"),
        "frame_index": scalar("int64"),
        "episode_index": scalar("int64"),
        "index": scalar("int64"),
        "task_index": scalar("int64"),
        "next.done": scalar("bool"),
    }


def _stats(values: np.ndarray) -> dict:
    """LeRobot's per-feature statistics (over frames, per dimension)."""
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    out = {
        "min": x.min(0).tolist(),
        "max": x.max(0).tolist(),
        "mean": x.mean(0).tolist(),
        "std": x.std(0).tolist(),
        "count": [len(x)],
    }
    for q in _QUANTILES:
        out[f"q{round(q * 100):02d}"] = np.quantile(x, q, axis=0).tolist()
    return out


def _image_stats(frames: np.ndarray) -> dict:
    """Per-channel statistics of pixel values scaled to [0, 1], shaped (3, 1, 1) as LeRobot stores them."""
    x = frames.reshape(-1, 3).astype(np.float64) / 255.0
    shaped = lambda v: [[[float(c)]] for c in v]
    out = {
        "min": shaped(x.min(0)),
        "max": shaped(x.max(0)),
        "mean": shaped(x.mean(0)),
        "std": shaped(x.std(0)),
        "count": [len(frames)],
    }
    for q in _QUANTILES:
        out[f"q{round(q * 100):02d}"] = shaped(np.quantile(x, q, axis=0))
    return out


def _write_episodes(root: Path, episodes: list[dict]) -> None:
    path = root / EPISODES_PATH.format(chunk_index=0, file_index=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(episodes), path)


def _write_tasks(root: Path, tasks: list[str]) -> None:
    """``meta/tasks.parquet``: LeRobot reads it with pandas, the task string as the index."""
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks)})
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    table = table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    (root / "meta").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / "meta" / "tasks.parquet")
