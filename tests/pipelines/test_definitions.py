"""The Dagster definitions load, and every stage has an asset with a check."""

from __future__ import annotations

import itertools
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.resources import StoreResource, resources_for

REPO = Path(__file__).resolve().parents[2]

STAGES = ("scenes", "perceptions", "videos", "reconstructions", "twins", "policies", "evaluations")


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
    from assets.reconstruction import reconstruction_confident
    from assets.twin import twin_settles
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


def _parents(graph, key: str) -> set[str]:
    return {k.to_user_string() for k in graph.get(dg.AssetKey(key)).parent_keys}


def test_every_table_is_an_asset_and_the_exports_depend_on_what_they_read():
    from physworld_core.lake import TABLES

    defs = build_definitions("local")
    graph = defs.resolve_asset_graph()
    assert set(TABLES) <= {k.to_user_string() for k in graph.get_all_asset_keys()}
    tasks = graph.get(dg.AssetKey("tasks"))
    assert tasks.is_external and not tasks.is_materializable and tasks.group_name == "scenes"
    assert tasks.partitions_def == graph.get(dg.AssetKey("scenes")).partitions_def
    assert _parents(graph, "scenes") == {"tasks"}
    assert _parents(graph, "video_scores") == {"videos"}
    assert _parents(graph, "rollouts") == {"policies"}
    assert _parents(graph, "lerobot_dataset") == {"rollouts"}
    assert _parents(graph, "video_training_set") == {
        "rollouts",
        "videos",
        "video_scores",
        "tasks",
        "evaluations",
    }
    job_keys = {
        k.to_user_string() for k in defs.resolve_job_def("physworld").asset_layer.executable_asset_keys
    }
    assert job_keys == set(TABLES) - {"tasks", "task_status"}  # written outside runs


def test_every_table_asset_shows_its_declared_columns_with_descriptions_and_units():
    from physworld_core.lake import TABLES
    from physworld_core.lake.tables import column_doc

    graph = build_definitions("local").resolve_asset_graph()
    for name, spec in TABLES.items():
        schema = graph.get(dg.AssetKey(name)).metadata["dagster/column_schema"]
        shown = {c.name: c for c in schema.columns}
        assert list(shown) == list(spec.columns), name
        for field in spec.schema:
            description, unit = column_doc(field)
            assert shown[field.name].description.startswith(description) and description, (name, field.name)
            assert (unit is None) or shown[field.name].description.endswith(f"[{unit}]"), (name, field.name)
            assert shown[field.name].type == str(field.type)
            assert shown[field.name].constraints.nullable == field.nullable


def test_assets_link_their_source_and_the_schedule_says_what_it_does():
    defs = build_definitions("local")
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        references = graph.get(key).metadata.get("dagster/code_references")
        assert references and references.code_references, key
        assert references.code_references[0].file_path.startswith(str(REPO / "assets")), key
    assert "02:00 UTC" in defs.resolve_schedule_def("nightly_generation").description


def test_loading_the_definitions_prints_no_warning():
    import subprocess
    import sys

    load = (
        "import sys, pipelines.definitions as d; d.build_definitions('local'); print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", load], cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    )
    assert "Warning" not in done.stderr, done.stderr[-2000:]
    # Heavy libraries load in the step that needs them (the world model's configs are torch-free).
    assert done.stdout.strip() == "False", "loading the definitions imported torch"


def test_a_task_registered_again_makes_scenes_stale(tmp_path, monkeypatch):
    """`tasks` is external: a registration reports an observation carrying the task's data version (as
    `physworld add-task` does); `scenes` records the event it read, and a new version makes it stale."""
    # Dagster has no public way to ask an asset's stale status outside the UI; these are what the UI uses.
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
    from dagster._core.definitions.data_version import DATA_VERSION_TAG, CachingStaleStatusResolver
    from dagster._time import get_current_datetime

    from physworld_core.ingest import register_task

    monkeypatch.setenv("PHYSWORLD_LAKE", str(tmp_path / "lake"))
    defs = build_definitions("local")
    instance = dg.DagsterInstance.ephemeral()
    store = defs.resources["store"].store()
    instance.add_dynamic_partitions("tasks", ["bin-0003"])

    def observe(version: str) -> None:
        instance.report_runless_asset_event(
            dg.AssetObservation(asset_key="tasks", partition="bin-0003", tags={DATA_VERSION_TAG: version})
        )

    def status() -> str:
        graph = defs.resolve_asset_graph()
        view = AssetGraphView(
            temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
            instance=instance,
            asset_graph=graph,
        )
        resolver = CachingStaleStatusResolver(instance, graph, loading_context=view)
        return resolver.get_status(dg.AssetKey("scenes"), "bin-0003").value

    register_task(store, "bin-0003", "benchmark:bin:3")
    observe("v1")
    result = defs.resolve_job_def("physworld").execute_in_process(
        partition_key="bin-0003", instance=instance, asset_selection=[dg.AssetKey("scenes")]
    )
    assert result.success
    # Dagster records which `tasks` event the run read (for a partitioned input it hashes materialization
    # versions only, so the pointer, not dagster/input_data_version/tasks, is what staleness follows).
    consumed = result.get_asset_materialization_events()[0].step_materialization_data.materialization.tags
    assert "dagster/input_event_pointer/tasks" in consumed
    assert status() == "FRESH"
    observe("v1")  # registered again unchanged: still fresh
    assert status() == "FRESH"
    observe("v2")
    assert status() == "STALE"


def test_the_tables_written_beside_another_are_checked():
    from assets.evaluation import rollout_problems
    from assets.reconstruction import selection_problems

    graph = build_definitions("local").resolve_asset_graph()
    checked = {c.asset_key.to_user_string() for c in graph.asset_check_keys}
    assert {"video_scores", "rollouts"} <= checked

    scores = [
        {"sample": 0, "selected": True, "reconstructed": True},
        {"sample": 1, "selected": False, "reconstructed": False},
    ]
    assert selection_problems(scores, 0) == []
    assert selection_problems(scores, 1) == ["reconstructions used sample 1, video_scores selected [0]"]
    both = [{**r, "selected": True} for r in scores]
    assert selection_problems(both, 0) == [
        "2 samples selected ([0, 1]), expected exactly one",
        "sample 1 is selected but was not reconstructed",
    ]

    row = {"method": "physworld", "trial": 0, "frames": 40, "data_uri": "d", "video_uri": "v"}
    assert rollout_problems([row], lambda uri: True) == []
    assert rollout_problems([{**row, "video_uri": None, "frames": 0}], lambda uri: True) == [
        "physworld trial 0: no frames",
        "physworld trial 0: no camera video",
    ]
    assert rollout_problems([row], lambda uri: uri != "v") == ["physworld trial 0: blob v is missing"]


def test_assets_import_pipelines_and_pipelines_never_import_assets():
    """One direction: the asset modules use ``pipelines`` (partitions, resources, the retry wrapper); the
    definitions load them by name, and no module of ``pipelines`` imports ``assets``, not even in a function."""
    import ast

    from pipelines.definitions import ASSET_MODULES

    for path in sorted((REPO / "pipelines").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "assets" or n.startswith("assets.") for n in names), (path, names)
    for name in ASSET_MODULES:  # one module per stage, named after it
        assert (REPO / (name.replace(".", "/") + ".py")).is_file(), name
    assert "assets.policy" in ASSET_MODULES and "assets.twin" in ASSET_MODULES


def test_the_world_model_trains_in_its_own_unpartitioned_job_on_the_exports():
    """One model reads every task's exported data: not a task partition, not in the per-task job; its own job
    (training takes far longer than an export, and it reads the latest export, so it can run on its own)."""
    defs = build_definitions("local")
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("world_model")).partitions_def is None
    assert _parents(graph, "world_model") == {"lerobot_dataset", "video_training_set"}

    def keys(job: str) -> set[str]:
        return {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.executable_asset_keys}

    assert keys("train_world_model") == {"world_model"}
    assert defs.resolve_job_def("train_world_model").partitions_def is None
    # What a code server does on start: a job named like an asset's op would fail it (`dagster job launch`).
    defs.get_repository_def().load_all_definitions()
    assert "world_model" not in keys("physworld") | keys("export")
