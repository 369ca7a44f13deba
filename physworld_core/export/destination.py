"""Where an export lands, written all at once or not at all, and never over somebody else's files.

An export is built in a local staging directory, then moved into place (local) or uploaded with its marker
file last (S3). The marker holds the export's fingerprint — a hash of the selected rows' content hashes and
the export options — so exporting the same selection again finds the same fingerprint and writes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import fsspec

from physworld_core.errors import ExportError
from physworld_core.lake.storage import s3fs_kwargs

MARKER = "physworld_export.json"


@dataclass(frozen=True)
class ExportResult:
    """Args:
    uri: the export's root.
    fingerprint: content hash of what was exported.
    written: False when an identical export was already there (nothing was rewritten).
    files: relative paths of the export's files.
    bytes: their total size.
    summary: format-specific counts (episodes, frames, shards...).
    """

    uri: str
    fingerprint: str
    written: bool
    files: tuple[str, ...]
    bytes: int
    summary: dict


def _fs(uri: str, storage_options: dict | None) -> tuple[fsspec.AbstractFileSystem, str]:
    if uri.startswith("s3://"):
        return fsspec.filesystem("s3", **s3fs_kwargs(storage_options)), uri[len("s3://") :].rstrip("/")
    return fsspec.filesystem("file"), str(Path(uri).resolve())


def default_destination(
    store, out_uri: str | None, kind: str, fingerprint: str, storage_options: dict | None
) -> tuple[str, dict | None]:
    """``out_uri`` as given, or ``<lake root>/exports/<kind>/<fingerprint[:16]>`` with the lake's credentials."""
    if out_uri is not None:
        return out_uri, storage_options
    options = storage_options if storage_options is not None else store.lake.storage_options
    return f"{store.lake.root.rstrip('/')}/exports/{kind}/{fingerprint[:16]}", options


def existing_fingerprint(uri: str, storage_options: dict | None = None) -> str | None:
    """The fingerprint of the export at ``uri``; None when nothing is there. Raises when ``uri`` holds files
    that are not a physworld export."""
    fs, path = _fs(uri, storage_options)
    marker = f"{path}/{MARKER}"
    if fs.exists(marker):
        with fs.open(marker, "r") as handle:
            return json.load(handle)["fingerprint"]
    if fs.exists(path) and (not fs.isdir(path) or fs.ls(path, detail=False)):
        raise ExportError(
            f"export destination {uri} already holds other files (no {MARKER}); choose an empty or new "
            "path, nothing was written"
        )
    return None


def write_export(
    uri: str,
    fingerprint: str,
    build: Callable[[Path], dict],
    storage_options: dict | None = None,
    describe: dict | None = None,
) -> ExportResult:
    """Build into staging with ``build(staging_dir) -> summary`` and publish at ``uri`` unless the same
    fingerprint is already there. A different export at ``uri`` is an error (nothing is overwritten)."""
    found = existing_fingerprint(uri, storage_options)
    fs, path = _fs(uri, storage_options)
    if found == fingerprint:
        files, size = _listing(uri, storage_options)
        with fs.open(f"{path}/{MARKER}", "r") as handle:
            summary = json.load(handle).get("summary", {})
        return ExportResult(uri, fingerprint, False, files, size, summary)
    if found is not None:
        raise ExportError(
            f"export destination {uri} holds a different export (fingerprint {found[:12]}, this one is "
            f"{fingerprint[:12]}); choose another path, nothing was written"
        )
    local = not uri.startswith("s3://")
    parent = Path(path).parent if local else None
    if local:
        parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=parent))
    try:
        summary = build(staging)
        marker = {"fingerprint": fingerprint, "summary": summary, "selection": describe or {}}
        (staging / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True))
        files = tuple(sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file()))
        size = sum((staging / f).stat().st_size for f in files)
        if local:
            if Path(path).exists():  # an empty directory left by the user
                Path(path).rmdir()
            os.replace(staging, path)
        else:
            for rel in files:  # the marker last: a reader never sees a marker without its files
                if rel != MARKER:
                    fs.put_file(str(staging / rel), f"{path}/{rel}")
            fs.put_file(str(staging / MARKER), f"{path}/{MARKER}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(uri, fingerprint, True, files, size, summary)


def _listing(uri: str, storage_options: dict | None) -> tuple[tuple[str, ...], int]:
    fs, path = _fs(uri, storage_options)
    found = fs.find(path, detail=True)
    files = tuple(sorted(p[len(path) + 1 :] for p in found))
    return files, int(sum(info.get("size", 0) for info in found.values()))
