"""``physworld lake check``: is every table where its writers left it, and every blob what its address says?

Two kinds of damage go unnoticed by readers:

* **a table rolled back** — its newest ``_delta_log`` commit deleted (or replaced): the table reads as of an
  older version. Found by comparing the :mod:`write journal <physworld_core.lake.journal>` with the log: for
  each (table, task) the newest journaled write must be in the log, at its version, with its write id.
* **a blob that is missing or corrupt** — every content address found in a table's rows (``*_uri`` columns and
  ``lake://`` references inside JSON payloads) must exist and hash to its address.

The report names each damaged (table, task); the repair is to materialize that task's stage again, which
rewrites the rows and — since writes verify existing blobs by hash — the blobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import polars as pl
from tqdm.auto import tqdm

from physworld_core.errors import LakeError
from physworld_core.lake.blobs import (
    ABSOLUTE_ADDRESS_PATTERN,
    LAKE_ADDRESS_PATTERN,
    relative_address,
    sha256_of_address,
)
from physworld_core.lake.journal import JournalEntry, journaled_tables, read_journal
from physworld_core.lake.retry import StorageUnavailableError
from physworld_core.lake.tables import TABLES


@dataclass(frozen=True)
class Problem:
    """One piece of damage.

    Args:
        kind: ``rolled back``, ``lost write``, ``unreadable table``, ``missing blob`` or ``corrupt blob``.
        table: The table it is in.
        task_id: The partition it damages (None when the whole table is unreadable).
        detail: What was found, for a person.
    """

    kind: str
    table: str
    task_id: str | None
    detail: str

    def as_row(self) -> dict:
        return {"problem": self.kind, "table": self.table, "task": self.task_id, "detail": self.detail}


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_lake` looked at and found."""

    tables: int
    partitions: int
    blobs: int
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    def damaged_tasks(self) -> dict[str, set[str]]:
        """task id → the tables damaged for it."""
        damaged: dict[str, set[str]] = {}
        for problem in self.problems:
            if problem.task_id is not None:
                damaged.setdefault(problem.task_id, set()).add(problem.table)
        return damaged


def blob_references(frame: pl.DataFrame) -> Iterable[tuple[str, str]]:
    """``(task_id, content address)`` for every blob the rows of ``frame`` refer to."""
    for column, dtype in frame.schema.items():
        if dtype != pl.String or column == "task_id":
            continue
        for task_id, value in zip(frame["task_id"], frame[column], strict=True):
            if not value or "blobs/sha256/" not in value:
                continue
            for match in LAKE_ADDRESS_PATTERN.findall(value):
                yield task_id, match
            for match in ABSOLUTE_ADDRESS_PATTERN.finditer(value):
                yield task_id, match.group(0)


def _check_log(lake, table: str, entries: list[JournalEntry], tasks: set[str] | None) -> list[Problem]:
    """The newest journaled write of each task must be the commit at its version in the log."""
    newest: dict[str, JournalEntry] = {}
    for entry in entries:  # oldest first: later entries win
        if tasks is None or entry.task_id in tasks:
            newest[entry.task_id] = entry
    if not newest:
        return []
    if not lake.exists(table):
        return [
            Problem("rolled back", table, task, f"the table is gone; version {e.version} wrote this task")
            for task, e in sorted(newest.items())
        ]
    version = lake.version(table)
    write_ids = {h["version"]: h.get("physworld.write_id") for h in lake.history(table)}
    problems = []
    for task, entry in sorted(newest.items()):
        if entry.version > version:
            problems.append(
                Problem(
                    "rolled back",
                    table,
                    task,
                    f"the table reads as of version {version}, but version {entry.version} wrote this task "
                    f"({entry.operation}, {entry.rows} rows, {entry.written_at[:19]})",
                )
            )
        elif entry.version in write_ids and write_ids[entry.version] != entry.write_id:
            problems.append(
                Problem(
                    "lost write",
                    table,
                    task,
                    f"version {entry.version} is another commit than the write of this task recorded at "
                    f"{entry.written_at[:19]}",
                )
            )
    return problems


def check_lake(
    store,
    tasks: Iterable[str] | None = None,
    blobs: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> CheckReport:
    """Check every declared table (optionally only ``tasks``) against the journal and, with ``blobs``,
    every referenced blob against its hash."""
    lake = store.lake
    wanted = set(tasks) if tasks else None
    problems: list[Problem] = []
    partitions: set[tuple[str, str]] = set()
    references: dict[str, set[tuple[str, str]]] = {}  # relative address → {(table, task)}
    names = [t for t in TABLES if t in set(journaled_tables(lake)) or lake.exists(t)]
    for table in names:
        try:
            problems += _check_log(lake, table, read_journal(lake, table), wanted)
            if not lake.exists(table):
                continue
            frame = lake.scan(table)
            if wanted is not None:
                frame = frame.filter(pl.col("task_id").is_in(sorted(wanted)))
            frame = frame.collect()
        except LakeError as error:
            problems.append(Problem("unreadable table", table, None, " ".join(str(error).split())[:300]))
            continue
        partitions |= {(table, t) for t in frame["task_id"].unique()}
        if blobs:
            for task_id, address in blob_references(frame):
                references.setdefault(relative_address(address) or address, set()).add((table, task_id))
    if log:
        log(f"lake check: {len(names)} tables, {len(partitions)} partitions, {len(references)} blobs to hash")
    for address in tqdm(sorted(references), desc="lake check: blobs", unit="blob", disable=not progress):
        try:
            store.blobs.get_bytes(address)  # verifies the hash of a content address
            continue
        except StorageUnavailableError:
            raise  # an outage is not damage
        except LakeError as error:
            text = str(error)
            kind = "corrupt blob" if "is corrupt" in text else "missing blob"
            detail = f"{address} ({sha256_of_address(address)[:12]}…): {' '.join(text.split())[:200]}"
        for table, task_id in sorted(references[address]):
            problems.append(Problem(kind, table, task_id, detail))
    return CheckReport(
        tables=len(names), partitions=len(partitions), blobs=len(references), problems=tuple(problems)
    )
