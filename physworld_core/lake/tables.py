"""Declared schemas of the lake: one Delta table per asset.

Every table is declared here once, with its Arrow schema and its row key, so that writers are validated
against the declaration (not against whatever the first writer happened to produce) and readers can rely on
column names, types and nullability. Every table carries ``task_id`` (the partition column and the first key
column) and ``created_at`` (stamped by :class:`physworld_core.lake.Lake` at write time when a row does not
bring its own).

Columns are non-nullable unless declared otherwise: a missing value is an error at write time, not a
surprise for the consumer three stages later. JSON payloads (plans, checks, metrics, specs) are stored as
strings so that their shape can evolve without a Delta schema migration; large binaries live in the blob
store and rows hold only their URI and SHA-256.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

#: The column every table is partitioned by and every key starts with.
PARTITION_COLUMN = "task_id"

#: Write timestamp, added to every table; filled by the lake when a row does not set it.
CREATED_AT_COLUMN = "created_at"
CREATED_AT_TYPE = pa.timestamp("us", tz="UTC")

#: Task ids end up in Delta predicates and object-store paths (hive partitions), so they are restricted.
TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

_TABLE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class TableSpec:
    """One lake table: its name, declared Arrow schema and row key.

    Args:
        name: Table name; also the directory name under the lake root (lower-case snake case).
        schema: The declared Arrow schema, including ``task_id`` and ``created_at``. Field nullability is
            enforced at write time.
        keys: Columns that identify a row; starts with ``task_id``. No two rows in a write may share a key,
            and key columns may not be null.
        added: Columns declared after the table was first released, in the order they were added. They
            come last (after ``created_at``) and are nullable, so a table created before them is upgraded
            in place: writers add them (a Delta ``add_columns`` commit, which appends), readers see nulls
            for rows written earlier.
    """

    name: str
    schema: pa.Schema
    keys: tuple[str, ...]
    added: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _TABLE_NAME_PATTERN.match(self.name):
            raise ValueError(f"table name {self.name!r} must be lower-case snake case ([a-z][a-z0-9_]*)")
        if not isinstance(self.schema, pa.Schema):
            raise TypeError(f"table {self.name!r}: schema must be a pyarrow.Schema, got {type(self.schema)}")
        names = self.schema.names
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r}: duplicate column names in {names}")
        for required in (PARTITION_COLUMN, CREATED_AT_COLUMN):
            if required not in names:
                raise ValueError(f"table {self.name!r}: schema must contain a {required!r} column")
        if self.schema.field(PARTITION_COLUMN).type != pa.string():
            raise ValueError(f"table {self.name!r}: {PARTITION_COLUMN!r} must be a string column")
        if self.schema.field(CREATED_AT_COLUMN).type != CREATED_AT_TYPE:
            raise ValueError(f"table {self.name!r}: {CREATED_AT_COLUMN!r} must be {CREATED_AT_TYPE}")
        if not isinstance(self.keys, tuple) or not self.keys:
            raise ValueError(f"table {self.name!r}: keys must be a non-empty tuple, got {self.keys!r}")
        if self.keys[0] != PARTITION_COLUMN:
            raise ValueError(
                f"table {self.name!r}: keys must start with {PARTITION_COLUMN!r}, got {self.keys}"
            )
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"table {self.name!r}: duplicate key columns in {self.keys}")
        for key in self.keys:
            if key not in names:
                raise ValueError(f"table {self.name!r}: key column {key!r} is not in the schema {names}")
            if self.schema.field(key).nullable:
                raise ValueError(f"table {self.name!r}: key column {key!r} must be declared non-nullable")
        if tuple(names[len(names) - len(self.added) :]) != self.added:
            raise ValueError(f"table {self.name!r}: added columns {self.added} must be the last columns")
        for column in self.added:
            if not self.schema.field(column).nullable:
                raise ValueError(f"table {self.name!r}: added column {column!r} must be nullable")

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in declared order."""
        return tuple(self.schema.names)


def _col(name: str, type_: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


def _table(
    name: str, keys: tuple[str, ...], *fields: pa.Field, added: tuple[pa.Field, ...] = ()
) -> TableSpec:
    """Declare a table: ``task_id`` first, then ``fields``, then ``created_at``, then the ``added`` columns
    (declared after the table's first release; see :class:`TableSpec`)."""
    schema = pa.schema(
        [_col(PARTITION_COLUMN, pa.string()), *fields, _col(CREATED_AT_COLUMN, CREATED_AT_TYPE), *added]
    )
    return TableSpec(name=name, schema=schema, keys=keys, added=tuple(f.name for f in added))


_STR = pa.string()
_I32 = pa.int32()
_I64 = pa.int64()
_F64 = pa.float64()
_BOOL = pa.bool_()

_SPECS = (
    _table(
        "tasks",
        ("task_id",),
        _col("source", _STR),
        _col("prompt", _STR),
        _col("family", _STR, nullable=True),
        _col("seed", _I64, nullable=True),
    ),
    _table(
        "scenes",
        ("task_id",),
        _col("rgb_uri", _STR),
        _col("rgb_sha256", _STR),
        _col("depth_uri", _STR),
        _col("depth_sha256", _STR),
        _col("camera_json", _STR),
        _col("prompt", _STR),
        _col("source", _STR),
        _col("width", _I32),
        _col("height", _I32),
    ),
    _table(
        "videos",
        ("task_id", "sample"),
        _col("sample", _I32),
        _col("backend", _STR),
        _col("seed", _I64),
        _col("fps", _F64),
        _col("num_frames", _I32),
        _col("width", _I32),
        _col("height", _I32),
        _col("video_uri", _STR),
        _col("video_sha256", _STR),
        _col("plan_json", _STR),
        _col("checks_json", _STR),
        _col("passed", _BOOL),
        _col("seconds", _F64),
    ),
    _table(
        "video_scores",
        ("task_id", "sample"),
        _col("sample", _I32),
        _col("reconstructed", _BOOL),
        _col("feasibility", _F64),
        _col("max_gap_m", _F64, nullable=True),
        _col("max_penetration_m", _F64, nullable=True),
        _col("peak_accel", _F64, nullable=True),
        _col("tracking_iou", _F64, nullable=True),
        _col("reasons_json", _STR),
        _col("selected", _BOOL),
    ),
    _table(
        "reconstructions",
        ("task_id",),
        _col("sample", _I32),
        _col("target", _STR),
        _col("container", _STR),
        _col("plane_json", _STR),
        _col("objects_json", _STR),
        _col("trajectory_json", _STR),
        _col("metrics_json", _STR),
        _col("seconds", _F64),
    ),
    _table(
        "twins",
        ("task_id",),
        _col("spec_json", _STR),
        _col("spec_uri", _STR),
        _col("settle_json", _STR),
        _col("passed", _BOOL),
        _col("seconds", _F64),
    ),
    _table(
        "policies",
        ("task_id", "method"),
        _col("method", _STR),
        _col("plan_json", _STR),
        _col("checkpoint_uri", _STR, nullable=True),
        _col("checkpoint_sha256", _STR, nullable=True),
        _col("env_steps", _I64),
        _col("twin_success", _F64),
        _col("curve_json", _STR),
        _col("seconds", _F64),
        # What a learned method deploys: "residual" (its checkpoint) or "planner" (the gate kept the planner
        # because the residual did no better in the nominal twin); null for methods with nothing to choose.
        added=(_col("deployed", _STR, nullable=True),),
    ),
    _table(
        "evaluations",
        ("task_id", "method", "trial"),
        _col("method", _STR),
        _col("trial", _I32),
        _col("success", _BOOL),
        _col("failure", _STR, nullable=True),
        _col("env_seed", _I64),
        _col("steps", _I32),
        _col("final_distance", _F64),
        _col("seconds", _F64),
    ),
    _table(
        "rollouts",
        ("task_id", "method", "trial"),
        _col("method", _STR),
        _col("trial", _I32),
        _col("family", _STR, nullable=True),
        _col("prompt", _STR),
        _col("success", _BOOL),
        _col("failure", _STR, nullable=True),
        _col("frames", _I32),
        _col("fps", _F64),
        _col("data_uri", _STR),
        _col("data_sha256", _STR),
        _col("video_uri", _STR, nullable=True),
        _col("video_sha256", _STR, nullable=True),
        _col("camera_json", _STR, nullable=True),
        _col("lineage_json", _STR),
    ),
)

#: Registry of every lake table, by name. Add a table by declaring it above, not by mutating this dict.
TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _SPECS}


def validate_task_id(task_id: object) -> str:
    """Return ``task_id`` if it matches ``[A-Za-z0-9_-]{1,128}``, else raise ``ValueError``.

    Task ids are interpolated into Delta predicates and become partition directory names, so anything
    outside this alphabet is refused rather than escaped.
    """
    if not isinstance(task_id, str) or not TASK_ID_PATTERN.match(task_id):
        raise ValueError(f"task_id {task_id!r} must match {TASK_ID_PATTERN.pattern}")
    return task_id
