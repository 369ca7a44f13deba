"""The lake's write journal: which commit each partition write made, kept outside the Delta log.

Delta's log is the truth about a table, so it cannot testify against itself: delete the newest
``_delta_log/*.json`` and the table silently reads as of the version before, and every reader (an export
included) takes the older rows for current. After each committed partition write the lake records one small
object, ``<root>/_physworld/journal/<table>/<version>-<write id>.json``, naming the table version, the task and
the write id that the commit also carries in its ``commitInfo``. :mod:`physworld_core.lake.check` compares the
two: a journaled version newer than the table, or a commit at that version with another write id, is a write
that was lost.

Recording is best effort: the data is already committed when it runs, so a failure to record is logged, not
raised (the check then has nothing to compare for that write — a gap, never a false alarm).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

import fsspec

from physworld_core.errors import LakeError
from physworld_core.lake.storage import s3fs_kwargs

if TYPE_CHECKING:
    from physworld_core.lake.delta import Lake

logger = logging.getLogger(__name__)

JOURNAL_DIR = "_physworld/journal"


@dataclass(frozen=True)
class JournalEntry:
    """One committed partition write.

    Args:
        table: Lake table name.
        version: The Delta version the write committed.
        task_id: The partition it replaced (or deleted).
        write_id: The id also stored in the commit's ``commitInfo`` (``physworld.write_id``).
        operation: ``write_partition`` or ``delete_partition``.
        rows: Rows the partition held after the write.
        written_at: ISO time of the record.
    """

    table: str
    version: int
    task_id: str
    write_id: str
    operation: str
    rows: int
    written_at: str


def _filesystem(lake: Lake) -> tuple[fsspec.AbstractFileSystem, str]:
    if lake.is_s3:
        return fsspec.filesystem("s3", **s3fs_kwargs(lake.storage_options)), lake.root[len("s3://") :]
    return fsspec.filesystem("file"), lake.root


def record_write(
    lake: Lake, table: str, version: int, task_id: str, write_id: str, operation: str, rows: int
) -> None:
    """Record a committed write (best effort; see the module docstring)."""
    entry = JournalEntry(
        table, version, task_id, write_id, operation, rows, dt.datetime.now(dt.UTC).isoformat()
    )
    fs, root = _filesystem(lake)
    path = posixpath.join(root, JOURNAL_DIR, table, f"{version:020d}-{write_id}.json")
    data = json.dumps(entry.__dict__, sort_keys=True).encode()

    def put() -> None:
        if lake.is_s3:
            fs.pipe_file(path, data)  # one PUT: whole or absent
            return
        os.makedirs(posixpath.dirname(path), exist_ok=True)
        temp = f"{path}.{os.getpid()}.tmp"
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)

    try:
        lake.retry.call(f"journaling version {version} of lake table {table!r}", lake.endpoint, put)
    except (OSError, LakeError) as error:  # the commit stands; the journal only loses this entry
        logger.warning("lake table %s: could not journal version %d (%s)", table, version, error)


def read_journal(lake: Lake, table: str) -> list[JournalEntry]:
    """Every recorded write of ``table``, oldest version first."""
    fs, root = _filesystem(lake)
    folder = posixpath.join(root, JOURNAL_DIR, table)
    try:
        paths = lake.retry.call(f"listing the journal of {table!r}", lake.endpoint, lambda: fs.find(folder))
    except FileNotFoundError:
        return []
    entries = []
    for path in sorted(paths):
        if not path.endswith(".json"):
            continue
        raw = lake.retry.call(f"reading {path}", lake.endpoint, lambda p=path: fs.cat_file(p))
        try:
            entries.append(JournalEntry(**json.loads(raw)))
        except (ValueError, TypeError) as error:  # a damaged entry tells nothing; the others still do
            logger.warning("lake journal entry %s is unreadable (%s); skipped", path, error)
    return sorted(entries, key=lambda e: (e.version, e.written_at))


def journaled_tables(lake: Lake) -> list[str]:
    """Tables the journal has entries for (a table whose whole log was deleted still appears here)."""
    fs, root = _filesystem(lake)
    folder = posixpath.join(root, JOURNAL_DIR)
    try:
        listing = lake.retry.call(
            "listing the lake journal", lake.endpoint, lambda: fs.ls(folder, detail=True)
        )
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(e["name"].rstrip("/")) for e in listing if e["type"] == "directory")
