"""Exports from the command line and as Dagster assets, on the same recorded lake."""

from __future__ import annotations

import dagster as dg

from pipelines.cli import main


def test_cli_exports_then_finds_the_same_export(export_store, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PHYSWORLD_LAKE", export_store.lake.root)
    out = tmp_path / "ds"
    # the lake's failed trial was recorded at another rate: the demonstrations alone are one dataset
    assert main(["export", "lerobot", "--out", str(out), "--where", "success=true"]) == 0
    assert "lerobot export written" in capsys.readouterr().out
    assert main(["export", "lerobot", "--out", str(out), "--where", "success=true"]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main(["export", "videos", "--out", str(tmp_path / "v"), "--where", "colour=red"]) == 2
    assert "unknown column(s) colour" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def test_export_assets_materialize_with_previews(export_store, monkeypatch):
    monkeypatch.setenv("PHYSWORLD_LAKE", export_store.lake.root)
    from pipelines.definitions import build_definitions

    defs = build_definitions("local")
    job = defs.resolve_job_def("export")
    # the assets' defaults: successful rollouts only, generated clips above the core's feasibility threshold
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    metadata = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert metadata["lerobot_dataset"]["uri"].value.startswith(f"{export_store.lake.root}/exports/lerobot/")
    assert "data:image/gif;base64" in metadata["video_training_set"]["first_clip"].value
