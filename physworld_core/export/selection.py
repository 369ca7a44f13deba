"""Which rows an export takes: equality/membership filters on declared columns plus a date window.

Filters are checked against the table's declared schema before anything is read, so a typo in a column name
is an error that names the columns that exist, not an empty dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from physworld_core.errors import ExportError
from physworld_core.lake.tables import CREATED_AT_COLUMN, TABLES


@dataclass(frozen=True)
class Selection:
    """Args:
    where: column -> value, or list of accepted values (e.g. ``{"method": "physworld", "success": True}``).
    since, until: keep rows written in [since, until) (timezone-aware or UTC-naive datetimes).
    """

    where: dict = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and _utc(self.since) >= _utc(self.until):
            raise ExportError(f"selection: since ({self.since}) must be before until ({self.until})")

    @classmethod
    def parse(cls, filters: list[str], since: str | None = None, until: str | None = None) -> Selection:
        """From CLI strings: ``column=value`` or ``column=a,b``. Values stay text here and are read as the
        filtered column's declared type when the selection is applied (``task_id=0003`` stays a string,
        ``trial=3`` becomes a number, ``success=yes`` is an error naming the values ``success`` takes)."""
        where: dict = {}
        for item in filters:
            if "=" not in item:
                raise ExportError(f"filter {item!r} must look like column=value")
            column, value = item.split("=", 1)
            values = [v.strip() for v in value.split(",")]
            where[column.strip()] = values[0] if len(values) == 1 else values
        try:
            return cls(
                where,
                datetime.fromisoformat(since) if since else None,
                datetime.fromisoformat(until) if until else None,
            )
        except ValueError as exc:
            raise ExportError(f"selection dates must be ISO 8601 (e.g. 2026-11-22T08:00): {exc}") from None

    def describe(self) -> dict:
        return {
            "where": {k: self.where[k] for k in sorted(self.where)},
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    def check_columns(self, tables: tuple[str, ...]) -> None:
        """Every filter column must exist in at least one of ``tables`` (a typo is an error, not a filter
        that silently matches nothing)."""
        known = {c for t in tables for c in TABLES[t].columns}
        unknown = sorted(set(self.where) - known)
        if unknown:
            raise ExportError(
                f"unknown column(s) {', '.join(unknown)} in the filter on {' / '.join(tables)}; "
                f"columns are: {', '.join(sorted(known))}"
            )
        for table in tables:  # a value the column cannot hold is a mistake, not an empty selection
            for column in set(self.where) & set(TABLES[table].columns):
                self._values(table, column)

    def _values(self, table: str, column: str) -> list:
        """The filter values of ``column`` read as its declared type in ``table``."""
        value = self.where[column]
        values = value if isinstance(value, list | tuple) else [value]
        arrow_type = TABLES[table].schema.field(column).type
        return [_as_column_type(column, arrow_type, v) for v in values]

    def applies_to(self, table: str) -> bool:
        """Can rows of ``table`` satisfy every filter (does it have every filtered column)?"""
        return set(self.where) <= set(TABLES[table].columns)

    def apply(self, lake, table: str, allow_empty: bool = False) -> pl.DataFrame:
        """The selected rows of ``table`` (all partitions), sorted by key."""
        spec = TABLES[table]
        self.check_columns((table,))
        if not lake.exists(table):
            raise ExportError(f"table {table!r} does not exist yet: nothing has been recorded to export")
        frame = lake.scan(table)
        for column in self.where:
            frame = frame.filter(pl.col(column).is_in(self._values(table, column)))
        if self.since:
            frame = frame.filter(pl.col(CREATED_AT_COLUMN) >= _utc(self.since))
        if self.until:
            frame = frame.filter(pl.col(CREATED_AT_COLUMN) < _utc(self.until))
        rows = frame.collect().sort(list(spec.keys))
        if rows.height == 0 and not allow_empty:
            raise ExportError(f"the selection {self.describe()} matches no row of table {table!r}")
        return rows


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_TRUE, _FALSE = ("true",), ("false",)


def _as_column_type(column: str, arrow_type: pa.DataType, value: object):
    """``value`` (text from the command line, or a Python value) as a value of the column's type."""
    text = str(value).strip()
    if pa.types.is_boolean(arrow_type):
        if isinstance(value, bool):
            return value
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ExportError(f"filter {column}={text}: {column} is true or false")
    if pa.types.is_integer(arrow_type):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(text)
        except ValueError:
            raise ExportError(
                f"filter {column}={text}: {column} takes whole numbers (e.g. {column}=0,1)"
            ) from None
    if pa.types.is_floating(arrow_type):
        try:
            return float(text)
        except ValueError:
            raise ExportError(f"filter {column}={text}: {column} takes numbers") from None
    if pa.types.is_timestamp(arrow_type):
        raise ExportError(f"filter {column}={text}: filter times with --since/--until")
    return value if isinstance(value, str) else text
