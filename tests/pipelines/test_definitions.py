"""The Dagster definitions load, and every stage has an asset with a check."""

from __future__ import annotations

import itertools

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.resources import StoreResource, resources_for

STAGES = ("scenes", "videos", "reconstructions", "twins", "policies", "evaluations")


def test_definitions_load():
    defs = build_definitions("local")
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(STAGES) <= keys
    checked = {c.asset_key.to_user_string() for c in graph.asset_check_keys}
    assert set(STAGES) <= checked
    job = defs.resolve_job_def("physworld")
    assert job.partitions_def is not None
    assert defs.resolve_schedule_def("nightly_generation").cron_schedule == "0 2 * * *"


def test_blocking_checks_guard_the_expensive_stages():
    from assets.reconstruction import reconstruction_confident, twin_settles
    from assets.video import video_usable

    for check in (twin_settles, reconstruction_confident, video_usable):
        assert all(spec.blocking for spec in check.check_specs)


def test_lineage_reads_left_to_right():
    graph = build_definitions("local").resolve_asset_graph()
    for upstream, downstream in itertools.pairwise(STAGES):
        parents = {k.to_user_string() for k in graph.get(dg.AssetKey(downstream)).parent_keys}
        assert upstream in parents, (downstream, parents)


def test_resources_per_environment(tmp_path):
    local = resources_for("local", local_lake=str(tmp_path))
    assert isinstance(local["store"], StoreResource)
    assert local["store"].store().lake.root == str(tmp_path)
    prod = resources_for("prod")
    assert isinstance(prod["store"], StoreResource)
    with pytest.raises(ValueError, match="PHYSWORLD_ENV"):
        resources_for("staging")


def test_local_instance_config_loads(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    shutil.copy(
        Path(__file__).resolve().parents[2] / "infra" / "dagster.local.yaml", tmp_path / "dagster.yaml"
    )
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("tasks", ["t1"])
        assert instance.has_dynamic_partition("tasks", "t1")
