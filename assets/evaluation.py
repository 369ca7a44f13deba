"""Evaluations: each method executed in the ground-truth world, scored by the world's own test."""

import dagster as dg

from assets.metadata import (
    OWNERS,
    Column,
    by_unit,
    gif_md,
    rate,
    seconds,
    strip_md,
    table,
    table_metadata,
)
from assets.policy import policies
from assets.worldmodel import latest_world_model_checkpoint
from physworld_core.evaluation.methods import EVALUATED_METHODS
from physworld_core.evaluation.rollouts import RecordConfig
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage

MIN_TRIALS = 10


_RECORD = RecordConfig()  # the asset's recording defaults are the core's


class EvaluationConfig(dg.Config):
    trials: int = MIN_TRIALS
    seed: int = 1000
    record_trials: int = _RECORD.trials  # per method, rendered into the `rollouts` table for dataset export
    record_width: int = _RECORD.width
    record_height: int = _RECORD.height
    record_min_frames: int = _RECORD.min_frames  # a recorded episode that ends sooner is recorded on to this
    record_fps: float | None = _RECORD.fps  # None: every control step; else a divisor of the control rate
    world_model: bool = True  # run the `world_model` method too (skipped, with a note, before any checkpoint)
    world_model_checkpoint: str | None = None  # its blob URI; None: the latest world_model materialization's

    def record(self) -> RecordConfig:
        return RecordConfig(
            self.record_trials, self.record_width, self.record_height, self.record_min_frames, self.record_fps
        )


def external_methods(instance: dg.DagsterInstance, config: EvaluationConfig, store) -> tuple:
    """The methods trained outside the per-task stages, for the stage to run on the same trials: the world
    model from the configured checkpoint or the latest ``world_model`` materialization's (skipped, with the
    reason, before there is one). It sits after evaluation in the layer order, so this composition root loads
    it and hands it to the stage."""
    if not config.world_model:
        return ()
    from physworld_core.worldmodel.policy import world_model_method  # torch: only when the method runs

    uri = config.world_model_checkpoint or latest_world_model_checkpoint(instance)
    return (world_model_method(store, uri),)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "evaluations",
            deps=[policies],
            owners=OWNERS,
            group_name="evaluation",
            kinds={"deltalake", "maniskill"},
            tags={"stage": "evaluation"},
            metadata=table_metadata("evaluations"),
            description=(
                "Every method executed in the ground-truth world with noisy object observations, scored by "
                "the world's own success test (table `evaluations`)."
            ),
        ),
        dg.AssetSpec(
            "rollouts",
            deps=[policies],
            owners=OWNERS,
            group_name="evaluation",
            kinds={"deltalake", "video"},
            tags={"stage": "evaluation"},
            metadata=table_metadata("rollouts"),
            description=(
                "Recorded camera + state + action episodes of the first trials of each method, for dataset "
                "export (table `rollouts`, written in the same step as `evaluations`)."
            ),
        ),
    ],
    partitions_def=tasks_partitions,
)
@retry_on_outage
def evaluations(context: dg.AssetExecutionContext, config: EvaluationConfig, store: StoreResource):
    from physworld_core.evaluation.stage import run_evaluation_stage
    from physworld_core.evaluation.trials import TrialConfig

    s = store.store()
    external = external_methods(context.instance, config, s)
    result = run_evaluation_stage(
        s,
        context.partition_key,
        TrialConfig(trials=config.trials, seed=config.seed),
        config.record(),
        external,
    )
    for name, reason in result.skipped.items():
        context.log.info(f"method {name} skipped: {reason}")
    summary = []
    for method, success in result.success.items():
        failures = [r["failure"] for r in result.rows if r["method"] == method and r["failure"]]
        summary.append(
            {
                "method": method,
                "success": success,
                "trials": sum(r["method"] == method for r in result.rows),
                "failures": ", ".join(f"{f}×{failures.count(f)}" for f in sorted(set(failures))) or "-",
            }
        )
    yield dg.MaterializeResult(asset_key="rollouts", metadata=_rollout_metadata(s, result.rollouts))
    yield dg.MaterializeResult(
        asset_key="evaluations",
        metadata={
            "results": table(summary, RESULT_COLUMNS),
            **{f"success_{m}": rate(v) for m, v in result.success.items()},
            **{
                f"reconstruction_{k}": by_unit(k, v)
                for k, v in result.reconstruction_error.items()
                if v is not None
            },
            **{f"skipped_{name}": reason for name, reason in result.skipped.items()},
            **{f"{m.name}_{k}": v for m in external if m.policy is not None for k, v in m.lineage.items()},
            "seconds": seconds(result.seconds),
        },
    )


RESULT_COLUMNS = (
    Column("method", "string", "policy executed (policies.method)"),
    Column("success", "float", "success rate in the ground-truth world, 0-1", digits=2),
    Column("trials", "int", "ground-truth trials"),
    Column("failures", "string", "failure classes of the failed trials, with counts"),
)


def _rollout_metadata(store, rollouts: list[dict]) -> dict:
    """First recorded trial of each method: a strip of frames inline, the animation one click away."""
    from physworld_core.video.codec import decode_mp4

    metadata: dict = {"recorded": len(rollouts)}
    shown = set()
    for row in rollouts:
        if not row["video_uri"] or row["method"] in shown:
            continue
        shown.add(row["method"])
        frames = decode_mp4(store.blobs.get_bytes(row["video_uri"]))
        outcome = "success" if row["success"] else f"failed ({row['failure']})"
        caption = f"{row['method']} trial {row['trial']}: {outcome}"
        metadata[f"{row['method']}"] = strip_md(frames, caption)
        metadata[f"{row['method']}_animated"] = gif_md(frames, row["fps"], caption)
        metadata[f"{row['method']}_uri"] = dg.MetadataValue.path(row["video_uri"])
    return metadata


@dg.asset_check(
    asset="evaluations",
    partitions_def=tasks_partitions,
    description=f"Every method ran at least {MIN_TRIALS} ground-truth trials.",
)
def enough_trials(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    frame = store.store().lake.read_partition("evaluations", context.partition_key)
    counts = {m: frame.filter(frame["method"] == m).height for m in EVALUATED_METHODS}
    return dg.AssetCheckResult(passed=min(counts.values()) >= MIN_TRIALS, metadata=counts)


@dg.asset_check(
    asset="rollouts",
    partitions_def=tasks_partitions,
    description=(
        "Every recorded rollout can be exported: it has frames, a camera video, and its state/action and video "
        "blobs are in the blob store."
    ),
)
def rollouts_exportable(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    s = store.store()
    rows = s.lake.read_partition("rollouts", context.partition_key).to_dicts()
    problems = rollout_problems(rows, s.blobs.exists)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"rollouts": len(rows), "problems": "; ".join(problems[:10]) or "none"},
    )


def rollout_problems(rows: list[dict], blob_exists) -> list[str]:
    """Why each of ``rows`` (``rollouts``) could not be exported, if it could not."""
    problems = []
    for r in rows:
        name = f"{r['method']} trial {r['trial']}"
        if r["frames"] < 1:
            problems.append(f"{name}: no frames")
        if not r["video_uri"]:
            problems.append(f"{name}: no camera video")
        for uri in (r["data_uri"], r["video_uri"]):
            if uri and not blob_exists(uri):
                problems.append(f"{name}: blob {uri} is missing")
    return problems
