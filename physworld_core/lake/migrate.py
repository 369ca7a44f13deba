"""``physworld lake migrate``: rewrite a lake written with absolute blob paths into ``lake://`` references.

Lakes written before blob references became lake-relative hold addresses such as
``/home/me/.physworld/lake/blobs/sha256/ab/cd/….mp4`` in their rows (``*_uri`` columns, ``package:`` sources,
JSON payloads). Reads already resolve those into the current lake (a content address names its bytes), but a
migrated lake no longer mentions where it once lived. Each table that has such references is rewritten in one
Delta commit (a full overwrite of the snapshot that was read, so a concurrent writer makes the commit fail
instead of being overwritten); rows keep their ``created_at``. Run it when no pipeline run writes to the lake.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError

from physworld_core.errors import LakeError
from physworld_core.lake.blobs import ABSOLUTE_ADDRESS_PATTERN, to_lake_references
from physworld_core.lake.delta import COMMIT_OPERATION, conform_rows
from physworld_core.lake.tables import TABLES


@dataclass(frozen=True)
class MigrationChange:
    """Args:
    table: the table.
    rows: rows whose text changed.
    version: the Delta version of the rewrite (None in a dry run or when nothing changed).
    """

    table: str
    rows: int
    version: int | None


def _rewrite(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """``frame`` with absolute addresses in its string columns made relative, and how many rows changed."""
    changed = pl.Series([False] * frame.height)
    columns = []
    for name, dtype in frame.schema.items():
        column = frame[name]
        if dtype == pl.String and name != "task_id":
            rewritten = column.map_elements(
                lambda v: to_lake_references(v) if v and ABSOLUTE_ADDRESS_PATTERN.search(v) else v,
                return_dtype=pl.String,
            )
            changed = changed | (rewritten != column).fill_null(False)
            column = rewritten
        columns.append(column)
    return pl.DataFrame(columns), int(changed.sum())


def migrate_blob_references(lake, dry_run: bool = False) -> list[MigrationChange]:
    """Rewrite every table that holds absolute blob addresses (see the module docstring)."""
    changes = []
    for name, spec in TABLES.items():
        if not lake.exists(name):
            continue
        table = lake.open_table(name)  # upgraded to the declared schema, so rows conform
        read_version = table.version()
        frame = pl.from_arrow(table.to_pyarrow_table())
        rewritten, rows = _rewrite(frame)
        if rows == 0 or dry_run:
            changes.append(MigrationChange(name, rows, None))
            continue
        data = conform_rows_all(spec, rewritten)
        try:
            write_deltalake(
                table,
                data,
                mode="overwrite",
                commit_properties=CommitProperties(
                    custom_metadata={COMMIT_OPERATION: "migrate_blob_references"}, max_commit_retries=0
                ),
            )
        except CommitFailedError as error:
            raise LakeError(
                f"lake table {name!r} changed while it was migrated (read at version {read_version}): {error}; "
                "run the migration again when no pipeline run writes to the lake"
            ) from None
        except (DeltaError, OSError) as error:
            raise LakeError(f"migrating lake table {name!r}: {error}") from error
        changes.append(MigrationChange(name, rows, table.version()))
    return changes


def conform_rows_all(spec, frame: pl.DataFrame) -> pa.Table:
    """A whole table's rows, validated against its declaration like a partition write (every task at once)."""
    now = dt.datetime.now(dt.UTC)
    parts = [
        conform_rows(spec, frame.filter(pl.col("task_id") == task_id), task_id, created_at=now)
        for task_id in frame["task_id"].unique(maintain_order=True)
    ]
    return pa.concat_tables(parts)
