"""Exports: datasets for training robot policies (LeRobot v3) and video models, built from the lake."""

import dagster as dg

from assets.metadata import OWNERS, Column, gif_md, strip_md, table
from physworld_core.export.lerobot import DEFAULT_WHERE
from physworld_core.export.video_set import VideoSetConfig
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage

_VIDEO_SET_DEFAULTS = VideoSetConfig()  # the asset's defaults are the core's, as the CLI's are


class LeRobotExportAssetConfig(dg.Config):
    out: str | None = None  # default: <lake>/exports/lerobot/<fingerprint>
    where: list[str] = list(DEFAULT_WHERE)  # column=value filters on the `rollouts` table
    since: str | None = None
    until: str | None = None


class VideoSetAssetConfig(dg.Config):
    out: str | None = None  # default: <lake>/exports/videos/<fingerprint>
    where: list[str] = []
    sources: list[str] = list(_VIDEO_SET_DEFAULTS.sources)
    min_feasibility: float = _VIDEO_SET_DEFAULTS.min_feasibility
    samples_per_shard: int = _VIDEO_SET_DEFAULTS.samples_per_shard

    def core(self) -> VideoSetConfig:
        return VideoSetConfig(tuple(self.sources), self.min_feasibility, self.samples_per_shard)


def _result_metadata(result, seconds: float) -> dict:
    mb = result.bytes / 2**20
    return {
        "uri": dg.MetadataValue.path(result.uri),
        "fingerprint": result.fingerprint,
        "written": result.written,
        "files": len(result.files),
        "size_mb": round(mb, 2),
        "seconds": round(seconds, 1),
        "summary": table(
            [result.summary],
            [
                Column(k, "float", digits=2) if isinstance(v, float) else Column(k, _column_type(v))
                for k, v in result.summary.items()
            ],
        ),
    }


def _column_type(value) -> str:
    return "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "string"


@dg.asset(
    owners=OWNERS,
    deps=["rollouts"],  # the episodes, their blobs and their prompts: all in the rollouts table
    group_name="export",
    kinds={"parquet", "video"},
    tags={"stage": "export"},
    description=(
        "A LeRobot v3.0 dataset (parquet + mp4) of the recorded rollouts matching the filters, across all "
        "tasks; re-materializing with the same selection writes nothing."
    ),
)
@retry_on_outage
def lerobot_dataset(
    context: dg.AssetExecutionContext, config: LeRobotExportAssetConfig, store: StoreResource
) -> dg.MaterializeResult:
    import time

    from physworld_core.export.lerobot import export_lerobot
    from physworld_core.export.selection import Selection

    start = time.perf_counter()
    s = store.store()
    result = export_lerobot(
        s, config.out, Selection.parse(config.where, config.since, config.until), log_fn=context.log.info
    )
    context.log.info(f"LeRobot dataset {'written' if result.written else 'unchanged'} at {result.uri}")
    return dg.MaterializeResult(metadata=_result_metadata(result, time.perf_counter() - start))


@dg.asset(
    owners=OWNERS,
    # clips from rollouts and videos, feasibility from video_scores, captions from tasks, whether the task
    # succeeded from evaluations
    deps=["rollouts", "videos", "video_scores", "tasks", "evaluations"],
    group_name="export",
    kinds={"video"},
    tags={"stage": "export"},
    description=(
        "Captioned clips for video-model training: simulated rollouts and generated videos above a physics "
        "feasibility threshold, in WebDataset tar shards with a manifest."
    ),
)
@retry_on_outage
def video_training_set(
    context: dg.AssetExecutionContext, config: VideoSetAssetConfig, store: StoreResource
) -> dg.MaterializeResult:
    import tarfile
    import time

    from physworld_core.export.selection import Selection
    from physworld_core.export.video_set import export_video_set

    start = time.perf_counter()
    s = store.store()
    result = export_video_set(
        s,
        config.out,
        Selection.parse(config.where),
        config.core(),
        log_fn=context.log.info,
    )
    metadata = _result_metadata(result, time.perf_counter() - start)
    first_shard = next(f for f in result.files if f.endswith(".tar"))
    if not result.uri.startswith("s3://"):  # a preview of the first clip, read back from the shard
        from pathlib import Path

        from physworld_core.video.codec import decode_mp4

        with tarfile.open(Path(result.uri) / first_shard) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(".mp4"))
            frames = decode_mp4(tar.extractfile(member).read())
        metadata["first_clip_frames"] = strip_md(frames, f"{member.name}: first, middle, last frame")
        metadata["first_clip"] = gif_md(frames, 10.0, member.name)
    return dg.MaterializeResult(metadata=metadata)
