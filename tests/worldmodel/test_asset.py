"""The ``world_model`` asset on the tiny lake: trained from the exports the export assets wrote, with its
lineage, curves and predictions as metadata."""

from __future__ import annotations

import dagster as dg

from assets.export import lerobot_dataset, video_training_set
from assets.metadata import INLINE_MARKDOWN_LIMIT
from assets.worldmodel import latest_world_model_checkpoint, world_model, world_model_learned
from physworld_core.worldmodel.checkpoint import load_checkpoint
from pipelines.resources import StoreResource

TINY = {
    "image_size": 16,
    "latent_grid": 4,
    "width": 32,
    "layers": 2,
    "heads": 2,
    "lookahead": 2,
    "context_frames": 4,
    "autoencoder_updates": 6,
    "video_updates": 4,
    "action_updates": 4,
    "batch_size": 4,
    "threads": 1,
}


def test_world_model_asset_trains_on_the_latest_exports(tiny_lake):
    store, *_ = tiny_lake
    instance = dg.DagsterInstance.ephemeral()
    assert latest_world_model_checkpoint(instance) is None
    resources = {"store": StoreResource(root=store.lake.root)}
    result = dg.materialize(
        [lerobot_dataset, video_training_set, world_model, world_model_learned],
        resources=resources,
        run_config={"ops": {"world_model": {"config": TINY}}},
        instance=instance,
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert {"val_action", "val_next_action"} <= set(check.metadata)  # "first -> last", shown on the check
    assert check.passed or check.severity == dg.AssetCheckSeverity.WARN
    events = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    metadata = events["world_model"].step_materialization_data.materialization.metadata
    exports = {
        name: events[asset].step_materialization_data.materialization.metadata["uri"].value
        for name, asset in (("lerobot", "lerobot_dataset"), ("clips", "video_training_set"))
    }
    assert metadata["lerobot_uri"].value == exports["lerobot"]  # lineage: the exports it read
    assert metadata["clips_uri"].value == exports["clips"]
    model, meta, _ = load_checkpoint(store.blobs.local_path(metadata["checkpoint_uri"].value))
    assert sum(p.numel() for p in model.parameters()) == metadata["parameters"].value
    assert meta["lineage"]["lerobot"]["uri"] == exports["lerobot"]
    for key in ("learning_curve", "predictions"):  # shown inline in the UI
        assert len(metadata[key].value) < INLINE_MARKDOWN_LIMIT
    assert "data:image/gif;base64" in metadata["predictions_animated"].value
    assert 0 < metadata["val_next_action"].value < 10
    version = events["world_model"].step_materialization_data.materialization.tags["dagster/data_version"]
    assert metadata["checkpoint_sha256"].value.startswith(version)
    assert latest_world_model_checkpoint(instance) == metadata["checkpoint_uri"].value

    # A model blob changed after it was recorded fails the check (an ERROR), with the reason.
    path = store.blobs.local_path(metadata["checkpoint_uri"].value)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-8] + b"00000000")
    rerun = dg.materialize(
        [world_model, world_model_learned],
        selection=dg.AssetSelection.checks(world_model_learned),
        resources=resources,
        instance=instance,
    )
    (check,) = rerun.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "cannot be read" in check.metadata["reason"].value


def test_world_model_asset_without_pretraining_reads_only_the_dataset(tiny_lake):
    store, lerobot_root, _, _ = tiny_lake
    result = dg.materialize(
        [world_model],
        resources={"store": StoreResource(root=store.lake.root)},
        run_config={
            "ops": {"world_model": {"config": {**TINY, "lerobot": lerobot_root, "pretrain_video": False}}}
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    metadata = result.asset_materializations_for_node("world_model")[0].metadata
    assert metadata["lerobot_uri"].value == lerobot_root and "clips_uri" not in metadata
    assert metadata["data"].value.records[0].data["clips"] == 0
