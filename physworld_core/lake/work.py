"""Work folders: the files a long job keeps in the lake while it runs, so a killed run resumes instead of
starting over.

A job's folder is ``<lake root>/work/<stage>/<task_id>/<key>/``. ``key`` names everything the files depend on
(the policy stage puts the method and a fingerprint of its config, plan and twin there), so a run with other
settings never picks up files that are not its own; it only finds them stale.

On a local lake the job reads and writes the folder itself (``WorkFolder.local`` is the folder). On S3 it
works in a local mirror, ``<cache_dir>/<hash of the lake root>/<stage>/<task_id>/<key>/``: :meth:`pull` fills
the mirror from the bucket before the job starts and :meth:`push` copies one file back each time the job
saves it, as a single PUT, so the bucket only ever holds whole files. The mirror's path is the same on every
run, so a rerun after a kill overwrites it instead of leaving another copy behind.

When a job's results are stored, :meth:`WorkArea.clear` removes the task's folders (and their mirrors): the
finished run's and any left by runs with other settings.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec

from physworld_core.errors import LakeError
from physworld_core.lake.storage import normalise_root, s3fs_kwargs, validate_storage_options
from physworld_core.lake.tables import validate_task_id

if TYPE_CHECKING:
    from physworld_core.lake.delta import Lake

WORK_DIR = "work"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _checked_name(what: str, value: object) -> str:
    """Path components come from code and configs: refuse anything that could leave the folder."""
    if not isinstance(value, str) or not _NAME_PATTERN.match(value) or ".." in value:
        raise LakeError(
            f"work folder {what} {value!r} must be 1-128 letters, digits, '_', '-' or '.' (no '..', no '/')"
        )
    return value


@dataclass(frozen=True)
class WorkFolder:
    """One job's folder: ``uri`` in the lake, ``local`` where the job reads and writes its files.

    Args:
        uri: ``<root>/work/<stage>/<task_id>/<key>`` (a local path or ``s3://…``).
        local: The folder itself on a local lake; its local mirror on S3.
        fs: The lake's filesystem (local or s3fs).
    """

    uri: str
    local: Path
    fs: fsspec.AbstractFileSystem = field(repr=False, compare=False)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    def files(self) -> list[str]:
        """Names of the files the folder holds in the lake (sorted). Hidden ones (a write a kill cut short,
        ``.<name>.<id>.tmp``) are not files of the folder."""
        names = (path.split("/")[0] for path in _below(self.fs, self.uri, "work folder"))
        return sorted(name for name in names if not name.startswith("."))

    def pull(self) -> list[str]:
        """Make ``local`` hold the folder's files and return their names (sorted).

        On S3 the mirror is emptied first, then every file is downloaded: the bucket is the truth, and a
        mirror file written by a killed run after its last push is discarded with the rest."""
        self.local.mkdir(parents=True, exist_ok=True)
        names = self.files()
        if not self.is_s3:
            return names
        shutil.rmtree(self.local)
        self.local.mkdir(parents=True)
        for name in names:
            temp = self.local / f".{name}.{uuid.uuid4().hex}.tmp"
            try:
                self.fs.get_file(f"{self.uri}/{name}", str(temp))
                os.replace(temp, self.local / name)
            except OSError as exc:
                raise LakeError(f"cannot download {name} from work folder {self.uri}: {exc}") from exc
            finally:
                temp.unlink(missing_ok=True)
        return names

    def push(self, name: str) -> str:
        """Copy ``local/name`` to the folder in the lake and return its URI.

        Locally the file already is in the folder (the job wrote it there, atomically): nothing to do. On S3
        the whole file goes up in one PUT, so a kill mid-upload leaves the previous object in place."""
        name = _checked_name("file name", name)
        source = self.local / name
        if not source.is_file():
            raise LakeError(f"work folder {self.uri}: no file {name!r} in {self.local} to push")
        target = f"{self.uri}/{name}"
        if self.is_s3:
            try:
                self.fs.pipe_file(target, source.read_bytes())
            except OSError as exc:
                raise LakeError(f"cannot upload {source} to {target}: {exc}") from exc
        return target


@dataclass(frozen=True)
class WorkArea:
    """The ``work/`` part of a lake: per-task folders that outlive a killed process.

    Args:
        root: The lake root (local directory or ``s3://bucket[/prefix]``).
        storage_options: The lake's ``AWS_*`` options; used for S3 roots.
        cache_dir: Where S3 folders are mirrored; defaults to ``<system temp>/physworld-work``.
    """

    root: str
    storage_options: dict[str, str] | None = field(default=None, hash=False)
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", normalise_root(self.root, "WorkArea.root"))
        object.__setattr__(
            self,
            "storage_options",
            validate_storage_options(self.storage_options, "WorkArea.storage_options"),
        )
        cache_dir = self.cache_dir
        if cache_dir is None:
            cache_dir = os.path.join(tempfile.gettempdir(), "physworld-work")
        if not isinstance(cache_dir, (str, os.PathLike)) or "://" in str(cache_dir):
            raise ValueError(f"WorkArea.cache_dir must be a local directory, got {cache_dir!r}")
        object.__setattr__(self, "cache_dir", os.path.abspath(os.fspath(cache_dir)))

    @classmethod
    def from_lake(cls, lake: Lake, cache_dir: str | None = None) -> WorkArea:
        return cls(root=lake.root, storage_options=lake.storage_options, cache_dir=cache_dir)

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    @cached_property
    def _fs(self) -> fsspec.AbstractFileSystem:
        if self.is_s3:
            return fsspec.filesystem("s3", **s3fs_kwargs(self.storage_options))
        return fsspec.filesystem("file")

    def _parts(self, stage: str, task_id: str) -> tuple[str, str]:
        try:
            task_id = validate_task_id(task_id)
        except ValueError as exc:
            raise LakeError(f"work folder: {exc}") from None
        return _checked_name("stage", stage), task_id

    def task_uri(self, stage: str, task_id: str) -> str:
        """``<root>/work/<stage>/<task_id>``: the parent of the task's folders."""
        stage, task_id = self._parts(stage, task_id)
        return f"{self.root}/{WORK_DIR}/{stage}/{task_id}"

    def _mirror(self, stage: str, task_id: str) -> Path:
        root_key = hashlib.sha256(self.root.encode()).hexdigest()[:16]
        return Path(self.cache_dir, root_key, stage, task_id)

    def folder(self, stage: str, task_id: str, key: str) -> WorkFolder:
        """The folder of one job (it is created by :meth:`WorkFolder.pull`, not here)."""
        key = _checked_name("key", key)
        uri = f"{self.task_uri(stage, task_id)}/{key}"
        local = self._mirror(*self._parts(stage, task_id)) / key if self.is_s3 else Path(uri)
        return WorkFolder(uri, local, self._fs)

    def keys(self, stage: str, task_id: str) -> list[str]:
        """The keys of the task's folders that hold at least one file in the lake (sorted)."""
        files = _below(self._fs, self.task_uri(stage, task_id), "work folders")
        return sorted({path.split("/")[0] for path in files if "/" in path})

    def clear(self, stage: str, task_id: str) -> None:
        """Remove every folder of the task, in the lake and its local mirrors; nothing there is fine."""
        prefix = self.task_uri(stage, task_id)
        try:
            if self.is_s3:
                files = [f"{prefix}/{path}" for path in _below(self._fs, prefix, "work folders")]
                if files:
                    self._fs.rm(files)
            elif os.path.isdir(prefix):
                shutil.rmtree(prefix)
        except OSError as exc:
            raise LakeError(f"cannot remove work folders under {prefix}: {exc}") from exc
        if self.is_s3:
            shutil.rmtree(self._mirror(*self._parts(stage, task_id)), ignore_errors=True)


def _below(fs: fsspec.AbstractFileSystem, uri: str, what: str) -> list[str]:
    """Paths of the files under ``uri``, relative to it. A store that keeps directory entries (SeaweedFS, after
    its files are deleted) may list ``uri`` itself or an emptied sub-folder as an object: not files."""
    try:
        found = fs.find(uri)
    except OSError as exc:
        raise LakeError(f"cannot list {what} under {uri}: {exc}") from exc
    base = uri.removeprefix("s3://").rstrip("/") + "/"
    return [path.removeprefix(base) for path in found if path.startswith(base)]
