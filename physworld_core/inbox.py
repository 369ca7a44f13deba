"""The lake's ``inbox/``: scene packages dropped by users become tasks, or are rejected with a reason.

Layout under the lake root (local directory or ``s3://bucket/prefix``)::

    inbox/<name>/{rgb.png, depth.png|depth.npy, camera.json, prompt.txt}   waiting
    inbox/done/<name>/                                                    accepted (task id = <name>)
    inbox/rejected/<name>/ + reason.txt                                   rejected, nothing else changed

An accepted package is copied into the content-addressed blob store with a manifest; the task's source is
``package:<manifest uri>``, immutable, so a later drop with the same name cannot change a stored task.
Moving a package out of ``inbox/`` is what makes it processed exactly once, however often the sensor ticks.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import fsspec

from physworld_core.errors import PhysworldError, SceneError
from physworld_core.scene import load_scene_package, validate_task_id
from physworld_core.store import Store

PACKAGE_FILES = ("rgb.png", "depth.png", "depth.npy", "camera.json", "prompt.txt", "masks.png", "labels.json")
RESERVED = ("done", "rejected")


@dataclass(frozen=True)
class InboxDecision:
    name: str
    accepted: bool
    task_id: str | None = None
    source: str | None = None
    prompt: str | None = None
    reason: str | None = None


def _filesystem(store: Store) -> tuple[fsspec.AbstractFileSystem, str]:
    root = store.lake.root
    if root.startswith("s3://"):
        from physworld_core.lake.storage import s3fs_kwargs

        return fsspec.filesystem("s3", **s3fs_kwargs(store.lake.storage_options)), root[len("s3://") :]
    return fsspec.filesystem("file"), root


def inbox_root(store: Store) -> str:
    return posixpath.join(store.lake.root, "inbox")


def pending(store: Store) -> list[str]:
    """Names of the package folders waiting in the inbox, oldest name first."""
    fs, root = _filesystem(store)
    inbox = posixpath.join(root, "inbox")
    if not fs.exists(inbox):
        return []
    names = []
    for entry in fs.ls(inbox, detail=True):
        name = posixpath.basename(entry["name"].rstrip("/"))
        # Some object stores (SeaweedFS's filer) keep an emptied folder listed: only folders with files wait.
        if entry["type"] == "directory" and name not in RESERVED and _has_files(fs, entry["name"]):
            names.append(name)
    return sorted(names)


def _has_files(fs: fsspec.AbstractFileSystem, folder: str) -> bool:
    folder = folder.rstrip("/")
    return any(
        info["type"] == "file" and info["name"].rstrip("/") != folder
        for info in fs.find(folder, detail=True).values()
    )


def _move(fs: fsspec.AbstractFileSystem, src: str, dst_parent: str, name: str) -> str:
    dst = posixpath.join(dst_parent, name)
    if fs.exists(dst):  # the same name was processed before: keep both
        dst = posixpath.join(dst_parent, f"{name}-{time.strftime('%Y%m%dT%H%M%S')}")
    # File by file: object stores have no directories to rename (s3fs's recursive mv trips over that).
    for path in fs.find(src):
        target = posixpath.join(dst, posixpath.relpath(path, src))
        fs.makedirs(posixpath.dirname(target), exist_ok=True)
        fs.copy(path, target)
    fs.rm(src, recursive=True)
    return dst


def _reject(fs, inbox: str, name: str, reason: str) -> InboxDecision:
    dst = _move(fs, posixpath.join(inbox, name), posixpath.join(inbox, "rejected"), name)
    with fs.open(posixpath.join(dst, "reason.txt"), "w") as f:
        f.write(reason + "\n")
    return InboxDecision(name=name, accepted=False, reason=reason)


def store_package(store: Store, folder: Path) -> str:
    """Copy a validated package's files into the blob store; returns the manifest's URI."""
    manifest = {}
    for filename in PACKAGE_FILES:
        path = folder / filename
        if path.is_file():
            manifest[filename] = store.blobs.put_file(path).uri
    return store.blobs.put_bytes(json.dumps(manifest, sort_keys=True).encode(), ".json").uri


def fetch_package(store: Store, manifest_uri: str, target: Path) -> Path:
    """Materialize a stored package as a local folder (for :func:`load_scene_package`)."""
    manifest = json.loads(store.blobs.get_bytes(manifest_uri))
    target.mkdir(parents=True, exist_ok=True)
    for filename, uri in manifest.items():
        if filename not in PACKAGE_FILES:
            raise SceneError(f"package manifest {manifest_uri} names an unexpected file {filename!r}")
        (target / filename).write_bytes(store.blobs.get_bytes(uri))
    return target


def process_inbox(store: Store, limit: int | None = None) -> list[InboxDecision]:
    """Validate each waiting package: accepted ones are stored and registered as tasks, moved to ``done/``;
    bad ones are moved to ``rejected/`` with ``reason.txt``. Nothing else changes for a rejected package."""
    from physworld_core.ingest import register_task

    fs, root = _filesystem(store)
    inbox = posixpath.join(root, "inbox")
    decisions = []
    for name in pending(store)[:limit]:
        try:
            validate_task_id(name)
        except SceneError as exc:
            decisions.append(_reject(fs, inbox, name, str(exc)))
            continue
        with tempfile.TemporaryDirectory(prefix="physworld-inbox-") as tmp:
            local = Path(tmp) / name
            local.mkdir()
            for remote in fs.ls(posixpath.join(inbox, name), detail=False):
                filename = posixpath.basename(remote.rstrip("/"))
                if filename in PACKAGE_FILES:
                    fs.get(remote, str(local / filename))
            try:
                scene = load_scene_package(local, task_id=name)
                source = f"package:{store_package(store, local)}"
                register_task(store, name, source, scene.prompt)
            except PhysworldError as exc:
                decisions.append(_reject(fs, inbox, name, str(exc).replace(str(local), f"inbox/{name}")))
                continue
        _move(fs, posixpath.join(inbox, name), posixpath.join(inbox, "done"), name)
        decisions.append(
            InboxDecision(name=name, accepted=True, task_id=name, source=source, prompt=scene.prompt)
        )
    return decisions
