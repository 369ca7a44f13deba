"""Training data for the world-action model, read from the platform's exports by their own layouts.

* **LeRobot v3** (:func:`read_lerobot`): ``meta/info.json`` says the ``codebase_version``, the features, the
  fps and the path templates; ``meta/episodes/*/*.parquet`` says where each episode's rows and video frames
  are (``data/chunk_index``, ``dataset_from_index`` …, ``videos/<camera>/from_timestamp`` …). Nothing here
  knows how physworld wrote the dataset, so any LeRobot v3 dataset with an ``action`` feature and one camera
  (a ``video`` or ``image`` feature) reads the same way.
* **Video clip sets** (:func:`read_clip_set`): WebDataset tar shards. A sample is the members sharing a key (a
  member's name up to its first dot): ``<key>.mp4`` and, if present, a ``<key>.json`` sidecar (``fps``,
  ``source``, ``feasibility``…). ``manifest.json`` lists the shards when there is one; otherwise every
  ``*.tar`` in the folder is a shard.

Both give :class:`Episode` objects at the data's own rate and size; :func:`fit_episode` brings one to the
model's frame rate and resolution, or says why it cannot. Every check runs before any training starts.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image

from physworld_core.errors import PhysworldError
from physworld_core.evaluation.rollouts import DELTA_PREFIX
from physworld_core.lake.storage import s3fs_kwargs
from physworld_core.video.codec import decode_mp4, mp4_fps

SUPPORTED_CODEBASE_VERSIONS = ("v3.0",)
"""LeRobot dataset layouts this reader knows (v2.x keeps one file per episode and another episodes table)."""
VIDEO_SUFFIXES = ("mp4", "webm", "mkv", "avi", "mov")


class WorldModelDataError(PhysworldError):
    """Training data cannot be read, or does not fit the model it is meant for."""


@dataclass(frozen=True, eq=False)
class Episode:
    """One episode or clip.

    Args:
        frames: T×H×W×3 uint8 RGB.
        actions: T×A float32, action t taken after frame t; None for a video clip (no actions).
        fps: frames per second.
        key: where it came from (``<dataset>#<episode index>``, a clip's sample key).
        action_names: names of the action's dimensions, when the dataset gives them.
        task: the episode's instruction, when the dataset gives one.
    """

    frames: np.ndarray
    actions: np.ndarray | None
    fps: float
    key: str
    action_names: tuple[str, ...] | None = None
    task: str = ""

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise WorldModelDataError(
                f"{self.key}: frames must be T×H×W×3 uint8, got {self.frames.dtype} {self.frames.shape}"
            )
        if self.actions is not None and len(self.actions) != len(self.frames):
            raise WorldModelDataError(
                f"{self.key}: {len(self.frames)} frames but {len(self.actions)} action rows; every frame "
                "needs the action taken after it (re-export the dataset)"
            )


def filesystem(root: str | Path, storage_options: dict | None) -> tuple[fsspec.AbstractFileSystem, str]:
    root = str(root)
    if root.startswith("s3://"):
        return fsspec.filesystem("s3", **s3fs_kwargs(storage_options)), root[len("s3://") :].rstrip("/")
    return fsspec.filesystem("file"), str(Path(root).resolve())


# ------------------------------------------------------------------------------------------------ LeRobot


@dataclass(frozen=True)
class LeRobotMeta:
    """What ``meta/`` says about a LeRobot v3 dataset.

    Args:
        root: the dataset's folder (local path or ``s3://``).
        info: ``meta/info.json``.
        camera_key: the camera feature the frames come from.
        episodes: one dict per episode from ``meta/episodes/``, by ``episode_index``.
    """

    root: str
    info: dict
    camera_key: str
    episodes: tuple[dict, ...]

    @property
    def fps(self) -> float:
        return float(self.info["fps"])

    @property
    def action_names(self) -> tuple[str, ...] | None:
        names = self.info["features"]["action"].get("names")
        return tuple(names) if isinstance(names, list) and all(isinstance(n, str) for n in names) else None

    @property
    def action_dim(self) -> int:
        return int(np.prod(self.info["features"]["action"]["shape"]))

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(height, width) of the camera's frames, as the features declare them."""
        feature = self.info["features"][self.camera_key]
        shape, names = feature["shape"], feature.get("names") or []
        if names[:1] == ["channels"] or (len(shape) == 3 and shape[0] == 3 and shape[2] != 3):
            return int(shape[1]), int(shape[2])  # channels first
        return int(shape[0]), int(shape[1])


def open_lerobot(
    root: str | Path, camera_key: str | None = None, storage_options: dict | None = None
) -> LeRobotMeta:
    """Read and check a LeRobot v3 dataset's ``meta/``: the version, an ``action`` feature, one camera.

    Raises:
        WorldModelDataError: no ``meta/info.json``, an unknown ``codebase_version``, no action or camera
            feature (or several cameras and no ``camera_key``), no episodes table.
    """
    fs, path = filesystem(root, storage_options)
    info_path = f"{path}/meta/info.json"
    if not fs.exists(info_path):
        raise WorldModelDataError(
            f"{root} is not a LeRobot dataset: no meta/info.json (point at the dataset's root folder)"
        )
    try:
        info = json.loads(fs.cat_file(info_path))
    except json.JSONDecodeError as error:
        raise WorldModelDataError(f"{root}/meta/info.json is not JSON: {error}") from None
    version = info.get("codebase_version")
    if version not in SUPPORTED_CODEBASE_VERSIONS:
        raise WorldModelDataError(
            f"{root}: LeRobot codebase_version {version!r} is not supported (this reader knows "
            f"{', '.join(SUPPORTED_CODEBASE_VERSIONS)}); convert it with LeRobot's v3.0 converter"
        )
    features = info.get("features") or {}
    for required in ("fps", "data_path"):
        if required not in info:
            raise WorldModelDataError(f"{root}/meta/info.json has no {required!r}")
    if "action" not in features:
        raise WorldModelDataError(
            f"{root}: no 'action' feature (features: {', '.join(sorted(features))}); the world-action model "
            "needs actions to fine-tune on"
        )
    cameras = sorted(k for k, f in features.items() if f.get("dtype") in ("video", "image"))
    if camera_key is None:
        if len(cameras) != 1:
            raise WorldModelDataError(
                f"{root}: {len(cameras)} camera features ({', '.join(cameras) or 'none'}); name the one "
                "to train on (camera_key)"
            )
        camera_key = cameras[0]
    elif camera_key not in cameras:
        raise WorldModelDataError(
            f"{root}: no camera feature {camera_key!r} (cameras: {', '.join(cameras) or 'none'})"
        )
    if features[camera_key]["dtype"] == "video" and "video_path" not in info:
        raise WorldModelDataError(f"{root}/meta/info.json has video features but no 'video_path'")
    episode_files = sorted(fs.glob(f"{path}/meta/episodes/*/*.parquet"))
    if not episode_files:
        raise WorldModelDataError(f"{root}: no episodes table (meta/episodes/chunk-*/file-*.parquet)")
    episodes = []
    for file in episode_files:
        with fs.open(file, "rb") as handle:
            episodes += pq.read_table(handle).to_pylist()
    episodes.sort(key=lambda e: e["episode_index"])
    return LeRobotMeta(str(root), info, camera_key, tuple(episodes))


def read_lerobot(
    root: str | Path,
    episodes: Iterable[int] | None = None,
    camera_key: str | None = None,
    storage_options: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Episode]:
    """The selected episodes (all by default) of a LeRobot v3 dataset, frames and actions.

    Raises:
        WorldModelDataError: the checks of :func:`open_lerobot`; an empty or unknown selection; an episode
            whose video frames and data rows do not line up.
    """
    meta = open_lerobot(root, camera_key, storage_options)
    by_index = {int(e["episode_index"]): e for e in meta.episodes}
    wanted = sorted(by_index) if episodes is None else list(episodes)
    if not wanted:
        raise WorldModelDataError(f"{root}: the episode selection is empty; select at least one episode")
    unknown = [i for i in wanted if i not in by_index]
    if unknown:
        raise WorldModelDataError(
            f"{root}: no episode {unknown[0]} (the dataset holds {len(by_index)}: indices "
            f"{min(by_index)}-{max(by_index)})"
        )
    fs, path = filesystem(root, storage_options)
    info, camera = meta.info, meta.camera_key
    is_video = info["features"][camera]["dtype"] == "video"
    tasks = _tasks(fs, path)

    data_files: dict[str, pa.Table] = {}
    videos: dict[str, np.ndarray] = {}
    out = []
    for n, index in enumerate(wanted):
        episode = by_index[index]
        data_path = info["data_path"].format(
            chunk_index=episode["data/chunk_index"], file_index=episode["data/file_index"]
        )
        if data_path not in data_files:
            columns = ["episode_index", "frame_index", "action"] + ([] if is_video else [camera])
            with fs.open(f"{path}/{data_path}", "rb") as handle:
                data_files = {
                    data_path: pq.read_table(handle, columns=columns)
                }  # one file in memory at a time
        table = data_files[data_path]
        rows = table.filter(pc.equal(table["episode_index"], index)).sort_by("frame_index")
        actions = np.asarray(rows["action"].to_pylist(), dtype=np.float32).reshape(rows.num_rows, -1)
        key = f"{Path(str(root)).name}#{index}"
        if rows.num_rows != int(episode["length"]):
            raise WorldModelDataError(
                f"{key}: the episodes table says {episode['length']} frames but {data_path} holds "
                f"{rows.num_rows} rows of it"
            )
        if is_video:
            video_path = info["video_path"].format(
                video_key=camera,
                chunk_index=episode[f"videos/{camera}/chunk_index"],
                file_index=episode[f"videos/{camera}/file_index"],
            )
            if video_path not in videos:
                with fs.open(f"{path}/{video_path}", "rb") as handle:
                    videos = {video_path: decode_mp4(handle.read())}
            video = videos[video_path]
            first = round(float(episode[f"videos/{camera}/from_timestamp"]) * meta.fps)
            last = round(float(episode[f"videos/{camera}/to_timestamp"]) * meta.fps)
            if last - first != rows.num_rows or last > len(video):
                raise WorldModelDataError(
                    f"{key}: {rows.num_rows} data rows but {min(last, len(video)) - first} video frames "
                    f"({video_path}, {first / meta.fps:.2f}-{last / meta.fps:.2f} s, {len(video)} frames "
                    "in the file): frame and row counts must match"
                )
            frames = video[first:last]
        else:
            frames = np.stack([_decode_image(item) for item in rows[camera].to_pylist()])
        task_names = episode.get("tasks") or []
        out.append(
            Episode(
                frames=frames,
                actions=actions,
                fps=meta.fps,
                key=key,
                action_names=meta.action_names,
                task=task_names[0] if task_names else tasks.get(index, ""),
            )
        )
        if progress is not None:
            progress(n + 1, len(wanted))
    return out


def _tasks(fs: fsspec.AbstractFileSystem, path: str) -> dict[int, str]:
    """task_index → task, when ``meta/tasks.parquet`` is there (only used when episodes lack ``tasks``)."""
    tasks_path = f"{path}/meta/tasks.parquet"
    if not fs.exists(tasks_path):
        return {}
    with fs.open(tasks_path, "rb") as handle:
        table = pq.read_table(handle)
    if "task" not in table.column_names:
        return {}
    return dict(zip(table["task_index"].to_pylist(), table["task"].to_pylist(), strict=True))


def _decode_image(item) -> np.ndarray:
    """An ``image`` feature's cell (``{"bytes": png/jpeg, "path": …}``) → H×W×3 uint8."""
    data = item["bytes"] if isinstance(item, dict) else item
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# ------------------------------------------------------------------------------------------------ clip sets


def read_clip_set(
    root: str | Path,
    storage_options: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Episode]:
    """Every clip of a WebDataset clip set (frames only), in shard order.

    Raises:
        WorldModelDataError: no shards, a sample without a video, an unreadable sidecar, no clips at all.
    """
    fs, path = filesystem(root, storage_options)
    manifest_path = f"{path}/manifest.json"
    if fs.exists(manifest_path):
        shards = [f"{path}/{s['name']}" for s in json.loads(fs.cat_file(manifest_path))["shards"]]
    else:
        shards = sorted(fs.glob(f"{path}/*.tar"))
    if not shards:
        raise WorldModelDataError(f"{root}: no WebDataset shards (*.tar, or a manifest.json listing them)")
    clips = []
    for n, shard in enumerate(shards):
        samples: dict[str, dict[str, bytes]] = {}
        with fs.open(shard, "rb") as handle, tarfile.open(fileobj=handle, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name.rsplit("/", 1)[-1]
                key, _, suffix = name.partition(".")  # WebDataset: the key ends at the first dot
                samples.setdefault(key, {})[suffix.lower()] = tar.extractfile(member).read()
        for key, members in samples.items():
            video = next((members[s] for s in VIDEO_SUFFIXES if s in members), None)
            if video is None:
                raise WorldModelDataError(
                    f"{root}: sample {key!r} in {Path(shard).name} has no video ({', '.join(sorted(members))})"
                )
            sidecar = {}
            if "json" in members:
                try:
                    sidecar = json.loads(members["json"])
                except json.JSONDecodeError as error:
                    raise WorldModelDataError(f"{root}: {key}.json is not JSON: {error}") from None
            fps = float(sidecar["fps"]) if sidecar.get("fps") else mp4_fps(video)
            clips.append(Episode(frames=decode_mp4(video), actions=None, fps=fps, key=key))
        if progress is not None:
            progress(n + 1, len(shards))
    if not clips:
        raise WorldModelDataError(f"{root}: the shards hold no clips")
    return clips


# ------------------------------------------------------------------------------------------------ fitting


def fit_frames(frames: np.ndarray, size: int, key: str) -> np.ndarray:
    """Frames at ``size``², from ``size``² or a whole multiple of it (averaged over k×k blocks).

    Raises:
        WorldModelDataError: frames that are not square, or not ``size`` times a whole number a side.
    """
    height, width = frames.shape[1:3]
    factor = height // size
    if height != width or factor < 1 or height % size:
        raise WorldModelDataError(
            f"{key}: {width}x{height} frames, but the model was built for {size}x{size} (or a whole "
            f"multiple of it, averaged down); export at {size}x{size} or build the model with "
            f"image_size={height}" + ("" if height == width else " from square frames")
        )
    if factor == 1:
        return frames
    blocks = frames.reshape(len(frames), size, factor, size, factor, 3).astype(np.float32)
    return blocks.mean(axis=(2, 4)).round().astype(np.uint8)


def fit_episode(episode: Episode, size: int, fps: float, action_dim: int | None = None) -> Episode:
    """``episode`` at the model's resolution and frame rate.

    An episode with actions must be recorded at a whole multiple ``n`` of ``fps``: every ``n``-th frame is
    kept with the sum of the moves (action dimensions named ``delta_*``) over the ``n`` control steps it
    spans and the last value of the others (a gripper command). A clip without actions is resampled to
    ``fps`` by time (the nearest frame).

    Raises:
        WorldModelDataError: another action size than the model's, a rate that is no multiple of ``fps``,
            moves that cannot be told apart (no action names) when frames must be skipped, wrong resolution.
    """
    frames = fit_frames(episode.frames, size, episode.key)
    if episode.actions is None:
        times = np.arange(0.0, len(frames) / episode.fps - 1e-9, 1.0 / fps)
        picked = np.minimum(np.round(times * episode.fps).astype(int), len(frames) - 1)
        return Episode(frames[picked], None, fps, episode.key, task=episode.task)

    actions = episode.actions
    if action_dim is not None and actions.shape[1] != action_dim:
        raise WorldModelDataError(
            f"{episode.key}: {actions.shape[1]}-dim actions, but the model was built for {action_dim}"
        )
    ratio = episode.fps / fps
    stride = round(ratio)
    if stride < 1 or abs(ratio - stride) > 1e-6:
        raise WorldModelDataError(
            f"{episode.key}: recorded at {episode.fps:g} fps, which is no whole multiple of the model's "
            f"{fps:g} fps; build the model with fps={episode.fps:g} (or a divisor of it)"
        )
    if stride > 1:
        names = episode.action_names
        if names is None or len(names) != actions.shape[1]:
            raise WorldModelDataError(
                f"{episode.key}: the model runs at 1/{stride} of the recorded rate, so moves must be summed "
                f"over skipped steps, but the actions carry no names saying which dimensions are moves "
                f"('{DELTA_PREFIX}*'); build the model with fps={episode.fps:g}"
            )
        moves = np.array([n.startswith(DELTA_PREFIX) for n in names])
        usable = len(frames) // stride * stride
        grouped = actions[:usable].reshape(-1, stride, actions.shape[1])
        actions = np.where(moves, grouped.sum(axis=1), grouped[:, -1]).astype(np.float32)
        frames = frames[:usable:stride]
    return Episode(frames, actions, fps, episode.key, episode.action_names, episode.task)
