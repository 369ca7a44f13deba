"""Delta tables of the lake: validated, idempotent, conflict-retrying partition writes.

The contract every asset relies on: materializing a task again *replaces* that task's rows in one atomic
Delta commit (``mode="overwrite"`` with a ``task_id = '…'`` predicate) — it never appends duplicates and a
reader never sees a half-replaced task. Rows are checked against the declared schema in
:mod:`physworld_core.lake.tables` before anything touches storage, so a bad write fails with a message that
names the table, column and row, and leaves the table at its previous version.

Tables are **partitioned by** ``task_id``. Each write replaces exactly one task, so with a partition per
task the replacement is a pure metadata operation (remove that partition's files, add the new ones; no
other task's files are read or rewritten), readers filtering on one task prune by partition value without
touching file statistics, and delta-rs decides whether two concurrent writers conflict from partition values
alone: writers of different tasks never conflict logically, so a lost race is resolved by delta-rs
re-trying the commit at the next version. The cost — one small directory and file per task — is what the
workload produces anyway (one file per task per write), and compaction would not merge across tasks.

Concurrency: Delta's optimistic protocol needs "create the commit file only if absent". Local filesystems
provide it natively; delta-rs 1.x enables S3 conditional puts (``If-None-Match``) by default, which
SeaweedFS honours, so no locking provider (DynamoDB) or ``AWS_S3_ALLOW_UNSAFE_RENAME`` is needed — the base
S3 options (``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION``) suffice. Every failed commit reaches Python as
:class:`deltalake.exceptions.CommitFailedError` (delta-rs maps all its transaction errors to it; it already
re-tries non-conflicting races internally). What reaches us are real conflicts — e.g. two processes
creating the same table at once — and they are retried here with exponential back-off and jitter, then
reported as :class:`~physworld_core.errors.LakeError` naming the table, task and attempt count.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.schema import Field

from physworld_core.errors import LakeError
from physworld_core.lake.journal import record_write
from physworld_core.lake.retry import RetryWindow, storage_message
from physworld_core.lake.storage import describe_location, normalise_root, validate_storage_options
from physworld_core.lake.tables import (
    CREATED_AT_COLUMN,
    PARTITION_COLUMN,
    TABLES,
    TableSpec,
    validate_task_id,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Rows accepted by :meth:`Lake.write_partition`.
Rows = Sequence[Mapping[str, Any]] | pl.DataFrame | pa.Table

#: Keys of custom commit metadata, visible in :meth:`Lake.history`.
COMMIT_TASK_ID = "physworld.task_id"
COMMIT_OPERATION = "physworld.operation"
COMMIT_WRITE_ID = "physworld.write_id"


@dataclass(frozen=True)
class WriteResult:
    """What one :meth:`Lake.write_partition` committed (handy as Dagster output metadata).

    Args:
        table: Table name.
        task_id: The partition that was replaced.
        num_rows: Rows now in that partition.
        version: Delta table version of the commit that replaced it.
    """

    table: str
    task_id: str
    num_rows: int
    version: int


@dataclass(frozen=True)
class Lake:
    """The set of Delta tables under one root, one table per asset (see ``TABLES``).

    Args:
        root: Local directory (made absolute) or ``s3://bucket[/prefix]``. Table ``name`` lives at
            ``<root>/<name>``.
        storage_options: Options for deltalake/object_store and polars, e.g. from
            :func:`~physworld_core.lake.storage.s3_storage_options`.
            Needed for S3 roots; ignored by local ones.
        max_attempts: How many times a write or delete is tried when the commit conflicts with another
            writer before giving up with :class:`LakeError`.
        backoff_initial_s: Back-off before the second attempt; doubles per attempt (with jitter).
        backoff_max_s: Upper bound of one back-off sleep.
        retry: How long every call waits out a storage outage (connection refused, timeouts, 5xx) before it
            fails with a :class:`~physworld_core.lake.retry.StorageUnavailableError` naming the endpoint.
    """

    root: str
    storage_options: dict[str, str] | None = field(default=None, hash=False)
    max_attempts: int = 8
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 2.0
    retry: RetryWindow = RetryWindow()

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", normalise_root(self.root, "Lake.root"))
        object.__setattr__(
            self, "storage_options", validate_storage_options(self.storage_options, "Lake.storage_options")
        )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"Lake.max_attempts must be an int >= 1, got {self.max_attempts!r}")
        if not (0 <= self.backoff_initial_s <= self.backoff_max_s):
            raise ValueError(
                f"Lake back-off must satisfy 0 <= backoff_initial_s ({self.backoff_initial_s}) "
                f"<= backoff_max_s ({self.backoff_max_s})"
            )

    # ------------------------------------------------------------------ locations

    @property
    def is_s3(self) -> bool:
        """Whether the lake lives in S3 (as opposed to a local directory)."""
        return self.root.startswith("s3://")

    def spec(self, name: str) -> TableSpec:
        """The declared :class:`TableSpec` of ``name``; unknown names raise :class:`LakeError`."""
        try:
            return TABLES[name]
        except (KeyError, TypeError):
            raise LakeError(f"unknown lake table {name!r}; declared tables: {sorted(TABLES)}") from None

    def table_uri(self, name: str) -> str:
        """Where table ``name`` lives: ``<root>/<name>``."""
        self.spec(name)
        return f"{self.root}/{name}"

    def _options(self) -> dict[str, str] | None:
        return dict(self.storage_options) if self.storage_options else None

    @property
    def endpoint(self) -> str:
        """Where the lake is, for messages: the S3 endpoint and root, or the local directory."""
        return describe_location(self.root, self.storage_options)

    def _io(self, what: str, attempt: Callable[[], T]) -> T:
        """``attempt`` with transient storage errors retried for ``self.retry``'s window."""
        return self.retry.call(what, self.endpoint, attempt)

    # ------------------------------------------------------------------ table state

    def exists(self, name: str) -> bool:
        """Whether table ``name`` has been created (by a first write)."""
        uri = self.table_uri(name)
        try:
            return self._io(
                f"checking lake table {name!r}",
                lambda: DeltaTable.is_deltatable(uri, storage_options=self._options()),
            )
        except (DeltaError, OSError) as exc:
            raise LakeError(
                f"lake table {name!r}: cannot check {self.table_uri(name)}: {storage_message(exc)}"
            ) from exc

    def _open(self, name: str) -> DeltaTable:
        """Load the latest snapshot of ``name``, or raise :class:`LakeError` if it does not exist yet."""
        return self._open_checked(name)[0]

    def _open_checked(self, name: str) -> tuple[DeltaTable, list[pa.Field]]:
        """:meth:`_open`, with the declared ``added`` columns the stored table lacks (see ``_check_schema``)."""
        uri = self.table_uri(name)
        try:
            table = self._io(
                f"opening lake table {name!r}", lambda: DeltaTable(uri, storage_options=self._options())
            )
        except TableNotFoundError:
            raise LakeError(
                f"lake table {name!r} does not exist yet at {uri} (nothing has been written to it)"
            ) from None
        except (DeltaError, OSError) as exc:
            raise LakeError(f"lake table {name!r}: cannot open {uri}: {storage_message(exc)}") from exc
        return table, self._check_schema(self.spec(name), table)

    def _upgrade(self, spec: TableSpec, table: DeltaTable, missing: list[pa.Field]) -> DeltaTable:
        """Add the declared ``added`` columns a table created before them lacks (one Delta commit).

        A concurrent upgrade makes this commit fail; the write's retry then opens the upgraded table. A table
        created before columns carried descriptions gets them too (:meth:`_describe`)."""
        if not missing:
            return self._describe(spec, table)
        logger.info("lake table %s: adding column(s) %s", spec.name, [f.name for f in missing])
        table.alter.add_columns(
            [Field.from_arrow(f) for f in missing],
            commit_properties=CommitProperties(custom_metadata={COMMIT_OPERATION: "add_columns"}),
        )
        table, still_missing = self._open_checked(spec.name)
        if still_missing:
            raise LakeError(f"lake table {spec.name!r}: adding columns {missing} did not take")
        return self._describe(spec, table)

    def _describe(self, spec: TableSpec, table: DeltaTable) -> DeltaTable:
        """Give a stored table the declared column descriptions and units it lacks (one commit per column,
        once: a table that has them is left alone). Readers other than physworld see them in Delta's schema."""
        stored = {f.name: dict(f.metadata) for f in table.schema().fields}
        changed = False
        for declared_field in spec.schema:
            declared = {k.decode(): v.decode() for k, v in (declared_field.metadata or {}).items()}
            have = stored.get(declared_field.name, {})
            if declared and any(have.get(k) != v for k, v in declared.items()):
                table.alter.set_column_metadata(
                    declared_field.name,
                    declared,
                    commit_properties=CommitProperties(
                        custom_metadata={COMMIT_OPERATION: "describe_columns"}
                    ),
                )
                changed = True
        return self._open(spec.name) if changed else table

    def _open_or_create(self, spec: TableSpec) -> DeltaTable:
        """Load ``spec``'s table, creating it empty with the declared schema when absent.

        Creation is its own commit (version 0) so the table's schema is the declared one even if the first
        write is empty. When two processes create at once, delta-rs would by default "rebase" the loser's
        CREATE onto version 1 — a second metadata commit with a new table id (observed on local disk and
        SeaweedFS). ``max_commit_retries=0`` turns that into a ``CommitFailedError`` instead; the caller's
        retry then finds the table and opens it, so a table has exactly one CREATE commit.
        """
        uri = self.table_uri(spec.name)
        if DeltaTable.is_deltatable(uri, storage_options=self._options()):
            return self._upgrade(spec, *self._open_checked(spec.name))
        logger.info("creating lake table %s at %s", spec.name, uri)
        table = DeltaTable.create(
            uri,
            spec.schema,
            mode="ignore",
            partition_by=[PARTITION_COLUMN],
            name=spec.name,
            description=f"physworld lake table {spec.name!r}; key {spec.keys}",
            storage_options=self._options(),
            commit_properties=CommitProperties(
                custom_metadata={COMMIT_OPERATION: "create_table"}, max_commit_retries=0
            ),
        )
        self._check_schema(spec, table)
        return table

    @staticmethod
    def _check_schema(spec: TableSpec, table: DeltaTable) -> list[pa.Field]:
        """Refuse to read or write a table whose stored schema drifted from the declaration.

        A mismatch means the declaration changed after the table was created; writing would either fail
        deep inside delta-rs or silently produce rows readers cannot interpret. The one accepted difference
        is a table created before some of its ``added`` columns: those missing columns are returned (writers
        add them, readers fill them with nulls).
        """
        stored = pa.schema(table.schema().to_arrow())
        stored_fields = [(f.name, str(f.type), f.nullable) for f in stored]
        declared_fields = [(f.name, str(f.type), f.nullable) for f in spec.schema]
        partitions = list(table.metadata().partition_columns)
        missing = declared_fields[len(stored_fields) :]
        upgradable = stored_fields == declared_fields[: len(stored_fields)] and {
            name for name, _, _ in missing
        } <= set(spec.added)
        if not upgradable or partitions != [PARTITION_COLUMN]:
            raise LakeError(
                f"lake table {spec.name!r} at {table.table_uri} has schema {stored_fields} partitioned by "
                f"{partitions}, but physworld_core.lake.tables declares {declared_fields} partitioned by "
                f"[{PARTITION_COLUMN!r}]; migrate or remove the table"
            )
        return [spec.schema.field(name) for name, _, _ in missing]

    def open_table(self, name: str) -> DeltaTable:
        """The latest snapshot of ``name`` as a :class:`deltalake.DeltaTable`, upgraded to the declared schema
        (for maintenance that rewrites whole tables; stages write through :meth:`write_partition`)."""
        spec = self.spec(name)
        return self._io(
            f"opening lake table {name!r}", lambda: self._upgrade(spec, *self._open_checked(name))
        )

    def version(self, name: str) -> int:
        """Current Delta version of table ``name`` (raises :class:`LakeError` if it does not exist)."""
        return self._open(name).version()

    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Commit history of ``name``, newest first (Delta ``commitInfo`` entries with their version).

        Writes made through :class:`Lake` carry ``physworld.task_id``, ``physworld.operation`` and
        ``physworld.write_id`` in their entry.
        """
        return self._open(name).history(limit)

    # ------------------------------------------------------------------ writes

    def write_partition(self, name: str, rows: Rows, task_id: str) -> WriteResult:
        """Atomically replace all rows of ``task_id`` in table ``name`` with ``rows``.

        ``rows`` is a list of dicts, a polars DataFrame or a pyarrow Table with exactly the declared columns
        (``created_at`` optional: missing or null values are stamped with the current UTC time). Types are
        checked strictly — integers may be narrowed only when they fit, integers may widen to floats, nothing
        is parsed from strings — and every row must belong to ``task_id`` with a unique, non-null key. An
        empty ``rows`` clears the partition. The table is created with its declared schema on first write.

        Re-running with the same ``task_id`` replaces, never duplicates. Commit conflicts are retried up to
        ``max_attempts`` times with exponential back-off and jitter.

        Raises:
            LakeError: invalid rows (nothing is written), schema drift, storage errors, or commit conflicts
                that persisted for ``max_attempts`` attempts.
        """
        spec = self.spec(name)
        task_id = _checked_task_id(name, task_id)
        data = conform_rows(spec, rows, task_id, created_at=dt.datetime.now(dt.UTC))
        write_id = uuid.uuid4().hex
        commit = CommitProperties(
            custom_metadata={
                COMMIT_OPERATION: "write_partition",
                COMMIT_TASK_ID: task_id,
                COMMIT_WRITE_ID: write_id,
            }
        )

        def attempt() -> int:
            table = self._open_or_create(spec)
            write_deltalake(
                table,
                data,
                mode="overwrite",
                predicate=_task_predicate(task_id),
                commit_properties=commit,
            )
            # Writing through the DeltaTable object advances it to the snapshot of our own commit.
            return table.version()

        version = self._with_retries(f"writing task {task_id!r} to lake table {name!r}", attempt)
        logger.debug("lake %s: wrote %d rows of %s at version %d", name, data.num_rows, task_id, version)
        record_write(self, name, version, task_id, write_id, "write_partition", data.num_rows)
        return WriteResult(table=name, task_id=task_id, num_rows=data.num_rows, version=version)

    def delete_partition(self, name: str, task_id: str) -> int:
        """Delete every row of ``task_id`` from ``name``; returns how many rows were deleted.

        Deleting from a table that was never created is a no-op (there is nothing of ``task_id`` in it), so
        clean-up code need not check first. Commit conflicts are retried like writes.
        """
        spec = self.spec(name)
        task_id = _checked_task_id(name, task_id)
        if not self.exists(name):
            return 0
        write_id = uuid.uuid4().hex
        commit = CommitProperties(
            custom_metadata={
                COMMIT_OPERATION: "delete_partition",
                COMMIT_TASK_ID: task_id,
                COMMIT_WRITE_ID: write_id,
            }
        )

        def attempt() -> tuple[int, int]:
            table = self._open(spec.name)
            metrics = table.delete(_task_predicate(task_id), commit_properties=commit)
            return int(metrics.get("num_deleted_rows") or 0), table.version()

        deleted, version = self._with_retries(f"deleting task {task_id!r} from lake table {name!r}", attempt)
        if deleted:  # a delete that matched nothing commits nothing
            record_write(self, name, version, task_id, write_id, "delete_partition", 0)
        return deleted

    def _with_retries(self, what: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it commits, retrying only Delta commit conflicts.

        Back-off is exponential (``backoff_initial_s * 2**k`` capped at ``backoff_max_s``) with "equal
        jitter" (half fixed, half random) so that two writers that collided do not collide again in lock
        step. A storage outage inside an attempt is waited out by ``self.retry``; any other error is not a
        race and is raised at once.
        """
        last_error: CommitFailedError | None = None
        for attempt_number in range(1, self.max_attempts + 1):
            try:
                return self._io(what, attempt)
            except LakeError:
                raise
            except CommitFailedError as exc:
                last_error = exc
                if attempt_number == self.max_attempts:
                    break
                ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (attempt_number - 1))
                delay = ceiling / 2 + random.uniform(0, ceiling / 2)
                logger.warning(
                    "%s: commit conflict on attempt %d/%d (%s); retrying in %.3fs",
                    what,
                    attempt_number,
                    self.max_attempts,
                    exc,
                    delay,
                )
                time.sleep(delay)
            except (DeltaError, OSError) as exc:
                raise LakeError(
                    f"{what} at {self.root}: {type(exc).__name__}: {storage_message(exc)}"
                ) from exc
        raise LakeError(
            f"{what}: the Delta commit failed {self.max_attempts} attempts in a row because of concurrent "
            f"writers; last error: {last_error}"
        ) from last_error

    # ------------------------------------------------------------------ reads

    def scan(self, name: str) -> pl.LazyFrame:
        """Lazy polars view of table ``name`` as of its latest version when ``scan`` is called.

        Nothing is read until the frame is collected; filters on ``task_id`` prune partitions.

        Raises:
            LakeError: the table does not exist yet (or drifted from its declared schema).
        """
        table, missing = self._open_checked(name)
        try:
            frame = self._io(
                f"scanning lake table {name!r}", lambda: pl.scan_delta(table, storage_options=self._options())
            )
        except (DeltaError, OSError, pl.exceptions.PolarsError) as exc:
            raise LakeError(
                f"lake table {name!r}: cannot scan {table.table_uri}: {storage_message(exc)}"
            ) from exc
        # Columns added to the declaration after this table was written are null in every stored row.
        return frame.with_columns(
            pl.lit(None, dtype=pl.from_arrow(pa.nulls(0, f.type)).dtype).alias(f.name) for f in missing
        )

    def read_partition(self, name: str, task_id: str) -> pl.DataFrame:
        """All rows of ``task_id`` in ``name`` (an empty frame with the declared columns if there are none).

        Raises:
            LakeError: the table does not exist yet.
        """
        task_id = _checked_task_id(name, task_id)
        query = self.scan(name).filter(pl.col(PARTITION_COLUMN) == task_id)
        try:
            return self._io(f"reading task {task_id!r} of lake table {name!r}", query.collect)
        except (DeltaError, OSError, pl.exceptions.PolarsError) as exc:
            raise LakeError(
                f"lake table {name!r}: cannot read task {task_id!r}: {storage_message(exc)}"
            ) from exc


# ---------------------------------------------------------------------- validation


def _checked_task_id(name: str, task_id: object) -> str:
    try:
        return validate_task_id(task_id)
    except ValueError as exc:
        raise LakeError(f"lake table {name!r}: {exc}") from None


def _task_predicate(task_id: str) -> str:
    """SQL predicate selecting one task. ``task_id`` is already validated; quotes are escaped regardless."""
    escaped = task_id.replace("'", "''")
    return f"{PARTITION_COLUMN} = '{escaped}'"


class _ValueTypeError(Exception):
    """A single value does not fit its column (internal; turned into a LakeError with context)."""


def _python_value_converter(type_: pa.DataType) -> tuple[str, Callable[[Any], Any]]:
    """Return (description, converter) for Python values of an Arrow column type.

    The converter returns the value to hand to ``pa.array`` or raises :class:`_ValueTypeError`. ``None``
    never reaches it (nullability is checked separately).
    """
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):

        def convert_str(value: Any) -> Any:
            if not isinstance(value, str):
                raise _ValueTypeError
            return value

        return "str", convert_str
    if pa.types.is_boolean(type_):

        def convert_bool(value: Any) -> Any:
            if not isinstance(value, (bool, np.bool_)):
                raise _ValueTypeError
            return bool(value)

        return "bool", convert_bool
    if pa.types.is_integer(type_):
        bits = type_.bit_width
        low, high = (
            (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            if pa.types.is_signed_integer(type_)
            else (0, 2**bits - 1)
        )

        def convert_int(value: Any) -> Any:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise _ValueTypeError
            value = int(value)
            if not low <= value <= high:
                raise _ValueTypeError(f"{value} is outside the {type_} range [{low}, {high}]")
            return value

        return f"int ({type_})", convert_int
    if pa.types.is_floating(type_):

        def convert_float(value: Any) -> Any:
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                raise _ValueTypeError
            value = float(value)
            if math.isnan(value):
                raise _ValueTypeError("NaN is not allowed (use a nullable column for missing values)")
            return value

        return "float", convert_float
    if pa.types.is_timestamp(type_):

        def convert_timestamp(value: Any) -> Any:
            if not isinstance(value, dt.datetime):
                raise _ValueTypeError
            if value.tzinfo is None or value.utcoffset() is None:
                raise _ValueTypeError("naive datetime; give it a time zone (e.g. datetime.timezone.utc)")
            return value.astimezone(dt.UTC)

        return "timezone-aware datetime", convert_timestamp
    raise TypeError(f"no Python value conversion for Arrow type {type_}")  # a declaration bug, not user input


def _check_columns(spec: TableSpec, present: Sequence[str], where: str) -> None:
    declared = spec.columns
    extra = [c for c in present if c not in declared]
    missing = [c for c in declared if c not in present and c != CREATED_AT_COLUMN]
    if extra:
        raise LakeError(
            f"lake table {spec.name!r}: {where} has undeclared column(s) {extra}; declared: {list(declared)}"
        )
    if missing:
        raise LakeError(f"lake table {spec.name!r}: {where} is missing column(s) {missing}")


def _arrays_from_dicts(spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> dict[str, pa.Array]:
    values: dict[str, list[Any]] = {c: [] for c in spec.columns}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise LakeError(
                f"lake table {spec.name!r}: row {index} is a {type(row).__name__}, expected a dict"
            )
        _check_columns(spec, list(row), f"row {index}")
        for column in spec.columns:
            values[column].append(row.get(column))
    arrays: dict[str, pa.Array] = {}
    for schema_field in spec.schema:
        description, convert = _python_value_converter(schema_field.type)
        converted = []
        for index, value in enumerate(values[schema_field.name]):
            if value is None:
                converted.append(None)
                continue
            try:
                converted.append(convert(value))
            except _ValueTypeError as exc:
                detail = f": {exc}" if str(exc) else ""
                raise LakeError(
                    f"lake table {spec.name!r}: column {schema_field.name!r} expects {description}, row {index} "
                    f"has {type(value).__name__} {value!r}{detail}"
                ) from None
        arrays[schema_field.name] = pa.array(converted, type=schema_field.type)
    return arrays


def _polars_column_to_arrow(spec: TableSpec, schema_field: pa.Field, series: pl.Series) -> pa.Array:
    type_ = schema_field.type
    dtype = series.dtype

    def mismatch(expected: str) -> LakeError:
        return LakeError(
            f"lake table {spec.name!r}: column {schema_field.name!r} expects {expected} ({type_}), "
            f"got polars dtype {dtype}"
        )

    if dtype == pl.Null:
        return pa.nulls(len(series), type=type_)
    if pa.types.is_string(type_):
        if dtype != pl.String:
            raise mismatch("a String column")
    elif pa.types.is_boolean(type_):
        if dtype != pl.Boolean:
            raise mismatch("a Boolean column")
    elif pa.types.is_integer(type_):
        if not dtype.is_integer():
            raise mismatch("an integer column")
        target = pl.from_arrow(pa.array([], type=type_)).dtype
        try:
            series = series.cast(target, strict=True)
        except pl.exceptions.InvalidOperationError:
            raise LakeError(
                f"lake table {spec.name!r}: column {schema_field.name!r} has values outside the {type_} range"
            ) from None
    elif pa.types.is_floating(type_):
        if not (dtype.is_float() or dtype.is_integer()):
            raise mismatch("a float or integer column")
        series = series.cast(pl.Float64)
        nan_rows = series.is_nan().fill_null(False).arg_true()
        if len(nan_rows):
            raise LakeError(
                f"lake table {spec.name!r}: column {schema_field.name!r} is NaN in row {nan_rows[0]} "
                "(NaN is not allowed; use a nullable column for missing values)"
            )
    elif pa.types.is_timestamp(type_):
        if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
            raise mismatch("a time-zone-aware Datetime column")
        series = series.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    else:  # pragma: no cover - declaration bug
        raise TypeError(f"no polars conversion for Arrow type {type_}")
    return series.rechunk().to_arrow().cast(type_)


def _arrays_from_frame(spec: TableSpec, frame: pl.DataFrame) -> dict[str, pa.Array]:
    _check_columns(spec, frame.columns, "the DataFrame")
    return {
        schema_field.name: _polars_column_to_arrow(spec, schema_field, frame.get_column(schema_field.name))
        for schema_field in spec.schema
        if schema_field.name in frame.columns
    }


def conform_rows(spec: TableSpec, rows: Rows, task_id: str, *, created_at: dt.datetime) -> pa.Table:
    """Validate ``rows`` for one partition write and return them as a table with exactly ``spec.schema``.

    Checks, in order: columns (missing / undeclared), value types, nulls in non-nullable columns, that
    every row belongs to ``task_id``, and key uniqueness. ``created_at`` is filled with ``created_at``
    where absent or null.

    Raises:
        LakeError: naming the table, the column and the first offending row.
    """
    if isinstance(rows, pa.Table):
        rows = pl.from_arrow(rows)
    if isinstance(rows, pl.DataFrame):
        arrays = _arrays_from_frame(spec, rows)
        num_rows = rows.height
    elif isinstance(rows, Sequence) and not isinstance(rows, (str, bytes)):
        arrays = _arrays_from_dicts(spec, rows)
        num_rows = len(rows)
    else:
        raise LakeError(
            f"lake table {spec.name!r}: rows must be a list of dicts, a polars DataFrame or a pyarrow Table, "
            f"got {type(rows).__name__}"
        )

    if created_at.tzinfo is None:
        raise ValueError("conform_rows: created_at must be timezone-aware")
    stamp = pa.scalar(created_at.astimezone(dt.UTC), type=spec.schema.field(CREATED_AT_COLUMN).type)
    if CREATED_AT_COLUMN in arrays:
        arrays[CREATED_AT_COLUMN] = pc.fill_null(arrays[CREATED_AT_COLUMN], stamp)
    else:
        arrays[CREATED_AT_COLUMN] = pa.array([stamp.as_py()] * num_rows, type=stamp.type)

    for schema_field in spec.schema:
        array = arrays[schema_field.name]
        if not schema_field.nullable and array.null_count:
            first = pc.index(pc.is_null(array), True).as_py()
            kind = "key column" if schema_field.name in spec.keys else "column"
            raise LakeError(
                f"lake table {spec.name!r}: {kind} {schema_field.name!r} is null in row {first} "
                "but is declared non-nullable"
            )

    task_ids = arrays[PARTITION_COLUMN]
    foreign = pc.not_equal(task_ids, pa.scalar(task_id))
    if num_rows and pc.any(foreign).as_py():
        first = pc.index(foreign, True).as_py()
        raise LakeError(
            f"lake table {spec.name!r}: row {first} has task_id {task_ids[first].as_py()!r} but this write "
            f"replaces partition {task_id!r}"
        )

    seen: dict[tuple[Any, ...], int] = {}
    key_values = zip(*(arrays[k].to_pylist() for k in spec.keys)) if num_rows else iter(())
    for index, key in enumerate(key_values):
        if key in seen:
            described = ", ".join(f"{k}={v!r}" for k, v in zip(spec.keys, key))
            raise LakeError(
                f"lake table {spec.name!r}: duplicate key ({described}) in rows {seen[key]} and {index}; "
                f"key columns are {spec.keys}"
            )
        seen[key] = index

    return pa.Table.from_arrays([arrays[c] for c in spec.columns], schema=spec.schema)
