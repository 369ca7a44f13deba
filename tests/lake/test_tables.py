"""The table registry: every declared table is well-formed and keyed as the design says."""

from __future__ import annotations

import pyarrow as pa
import pytest

from physworld_core.lake import TABLES, TableSpec
from physworld_core.lake.tables import CREATED_AT_TYPE, column_doc, validate_task_id

EXPECTED_KEYS = {
    "tasks": ("task_id",),
    "scenes": ("task_id",),
    "perceptions": ("task_id",),
    "videos": ("task_id", "sample"),
    "video_scores": ("task_id", "sample"),
    "reconstructions": ("task_id",),
    "twins": ("task_id",),
    "policies": ("task_id", "method"),
    "evaluations": ("task_id", "method", "trial"),
    "rollouts": ("task_id", "method", "trial"),
    "task_status": ("task_id",),
}


def test_registry_has_the_declared_tables_and_keys() -> None:
    assert {name: spec.keys for name, spec in TABLES.items()} == EXPECTED_KEYS


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_has_task_id_first_and_created_at(name: str) -> None:
    spec = TABLES[name]
    assert spec.name == name
    assert spec.columns[0] == "task_id"
    assert spec.schema.field("created_at").type == CREATED_AT_TYPE
    assert all(not spec.schema.field(k).nullable for k in spec.keys)


def test_optional_columns_are_nullable_and_identity_columns_are_not() -> None:
    nullable = {(name, f.name) for name, spec in TABLES.items() for f in spec.schema if f.nullable}
    assert {("tasks", "family"), ("tasks", "seed"), ("evaluations", "failure")} <= nullable
    assert not any(column in ("task_id", "created_at") for _, column in nullable)


def test_videos_columns_and_types() -> None:
    schema = TABLES["videos"].schema
    assert schema.field("sample").type == pa.int32()
    assert schema.field("seed").type == pa.int64()
    assert schema.field("passed").type == pa.bool_()
    assert "plan_json" in schema.names and "checks_json" in schema.names


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_column_is_described_and_measured_quantities_carry_their_unit(name: str) -> None:
    undescribed = [f.name for f in TABLES[name].schema if len(column_doc(f)[0]) < 8]
    assert not undescribed, f"{name}: columns without a description: {undescribed}"
    units = {f.name: column_doc(f)[1] for f in TABLES[name].schema}
    for column, unit in units.items():
        if column.endswith("_m"):
            assert unit == "m", (name, column, unit)
        if column == "seconds":
            assert unit == "s", (name, column, unit)
        if column in ("width", "height"):
            assert unit == "px", (name, column, unit)


def test_a_new_delta_table_stores_the_column_descriptions_and_units(tmp_path, evaluation_rows) -> None:
    from deltalake import DeltaTable

    from physworld_core.lake import Lake

    lake = Lake(str(tmp_path))
    lake.write_partition("evaluations", evaluation_rows("t1"), "t1")
    stored = {f.name: f.metadata for f in DeltaTable(lake.table_uri("evaluations")).schema().fields}
    assert stored["final_distance"] == {
        "description": "horizontal distance from the object to the goal centre at the end",
        "unit": "m",
    }
    assert stored["task_id"]["description"].startswith("the task")


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema(
        [
            pa.field("task_id", pa.string(), nullable=False),
            *fields,
            pa.field("created_at", CREATED_AT_TYPE, nullable=False),
        ]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad-Name", "schema": _schema(), "keys": ("task_id",)}, "snake case"),
        ({"name": "t", "schema": _schema(), "keys": ("sample",)}, "must start with 'task_id'"),
        ({"name": "t", "schema": _schema(), "keys": ["task_id"]}, "tuple"),
        ({"name": "t", "schema": _schema(), "keys": ("task_id", "missing")}, "not in the schema"),
        (
            {"name": "t", "schema": _schema(pa.field("k", pa.int32())), "keys": ("task_id", "k")},
            "non-nullable",
        ),
        (
            {
                "name": "t",
                "schema": pa.schema([pa.field("task_id", pa.string(), nullable=False)]),
                "keys": ("task_id",),
            },
            "created_at",
        ),
        (
            {
                "name": "t",
                "schema": _schema().append(pa.field("new", pa.int32(), nullable=False)),
                "keys": ("task_id",),
                "added": ("new",),
            },
            "added column 'new' must be nullable",
        ),
        (
            {
                "name": "t",
                "schema": _schema(pa.field("new", pa.int32())),
                "keys": ("task_id",),
                "added": ("new",),
            },
            "must be the last columns",
        ),
    ],
)
def test_table_spec_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TableSpec(**kwargs)


@pytest.mark.parametrize("task_id", ["", "a'b", "a b", "../x", "é", "x" * 129, 5, None])
def test_task_id_validation_rejects(task_id: object) -> None:
    with pytest.raises(ValueError, match="task_id"):
        validate_task_id(task_id)


def test_task_id_validation_accepts() -> None:
    assert validate_task_id("pick_cube-01") == "pick_cube-01"
    assert validate_task_id("x" * 128) == "x" * 128


@pytest.mark.parametrize("task_id", ["-x", "_x", "x\n", "-"])
def test_one_task_id_rule_for_the_scene_and_the_lake(task_id: str) -> None:
    """The scene layer and the lake had two copies that disagreed: the lake took a leading '-' or '_' and a
    trailing newline. One copy now, the stricter; the scene layer (packages, inbox, CLI) uses the lake's."""
    from physworld_core import ingest, scene
    from physworld_core.errors import SceneError

    assert scene.validate_task_id is validate_task_id and ingest.validate_task_id is validate_task_id
    with pytest.raises(SceneError, match="task_id .* is not allowed"):
        validate_task_id(task_id)


def test_a_table_created_without_descriptions_gets_them_at_the_next_write(tmp_path, evaluation_rows) -> None:
    """A lake written before columns were described: the next write adds the descriptions, once."""
    from deltalake import DeltaTable, write_deltalake

    from physworld_core.lake import Lake

    lake = Lake(str(tmp_path))
    bare = pa.schema([pa.field(f.name, f.type, nullable=f.nullable) for f in TABLES["evaluations"].schema])
    write_deltalake(
        lake.table_uri("evaluations"), pa.Table.from_pylist([], schema=bare), partition_by=["task_id"]
    )
    assert not any(f.metadata for f in DeltaTable(lake.table_uri("evaluations")).schema().fields)
    lake.write_partition("evaluations", evaluation_rows("t1"), "t1")
    stored = {f.name: f.metadata for f in DeltaTable(lake.table_uri("evaluations")).schema().fields}
    assert stored["final_distance"]["unit"] == "m"
    version = lake.version("evaluations")
    lake.write_partition("evaluations", evaluation_rows("t2"), "t2")
    assert lake.version("evaluations") == version + 1  # described once: only the write commits
