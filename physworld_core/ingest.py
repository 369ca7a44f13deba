"""Tasks and scenes: register a task (its source and prompt) and turn its source into a stored scene package.

A task's source is ``benchmark:<family>:<seed>`` (a procedural world renders the frame),
``maniskill:<env id>:<seed>[:<W>x<H>[:<camera>]]`` (a stock ManiSkill env's sensor camera) or
``package:<manifest uri>``: a user's capture, whose files were copied into the content-addressed blob store
when the task was registered (from the inbox or from a folder given to ``add-task``), so the task does not
depend on where the folder was or on edits made to it later. Rows written before folders were captured may
still hold a folder path; those are read from the folder. Either way the ``scenes`` row holds the same
thing: RGB and depth blobs, the camera JSON and the prompt.

A task id names one task for good: registering it again with the same source and prompt changes nothing,
while a different source or prompt is refused unless ``force`` is given, since ``scenes``, ``rollouts`` and
the rest were made from the registered one.
"""

from __future__ import annotations

import io
import json
import posixpath
from collections.abc import Mapping

import numpy as np
from PIL import Image

from physworld_core.errors import SceneError, TaskExistsError
from physworld_core.limits import PackageLimits, quoted
from physworld_core.scene import (
    PACKAGE_FILES,
    ScenePackage,
    load_scene,  # noqa: F401 - a stored scene read back: it lives with the scene layer; its callers import it here too
    load_scene_package,
    read_package_folder,
    scene_from_files,
    validate_task_id,
)
from physworld_core.sources import TaskSource, register_source, source_for
from physworld_core.store import Store

TASK_COLUMNS = ("task_id", "source", "prompt", "family", "seed")
PACKAGE_PREFIX = "package:"


def register_task(
    store: Store,
    task_id: str,
    source: str,
    prompt: str | None = None,
    *,
    force: bool = False,
    limits: PackageLimits | None = None,
) -> dict:
    """Write the ``tasks`` row and return it. For benchmark sources the prompt comes from the world when not
    given; a folder source is validated and its files captured as blobs (source ``package:<manifest uri>``).

    The same id registered again with the same source and prompt returns the stored row without a new Delta
    commit; a different source or prompt raises :class:`TaskExistsError` unless ``force`` (then it replaces
    the row). ``limits`` bound the package and the prompt (default :class:`PackageLimits`).
    """
    validate_task_id(task_id)
    limits = limits or PackageLimits()
    if not isinstance(source, str) or not source.strip():
        raise SceneError(f"task {task_id}: the source is empty")
    label = f"task {task_id}'s prompt"
    if prompt is not None:
        prompt = limits.check_prompt(prompt, label)
    kind = source_for(source)
    if kind.kind is None:  # a folder: captured into the blob store, registered as a package
        files = read_package_folder(source, limits)
        return register_package(store, task_id, files, prompt, force=force, limits=limits, where=source)
    prompt, family, seed = kind.describe(source, prompt, task_id)
    row = {
        "task_id": task_id,
        "source": source,
        "prompt": limits.check_prompt(prompt, label),
        "family": family,
        "seed": seed,
    }
    existing = existing_task(store, task_id)
    if existing is not None and (existing["source"], existing["prompt"]) == (row["source"], row["prompt"]):
        return existing
    if existing is not None and not force:
        raise _exists(existing, row["source"], row["prompt"])
    store.lake.write_partition("tasks", [row], task_id)
    return row


def register_package(
    store: Store,
    task_id: str,
    files: Mapping[str, bytes],
    prompt: str | None = None,
    *,
    force: bool = False,
    limits: PackageLimits | None = None,
    where: str | None = None,
) -> dict:
    """Validate a package held as ``{file name: bytes}``, store its files as blobs and register it as task
    ``task_id`` with source ``package:<manifest uri>``; returns the ``tasks`` row.

    The prompt defaults to the package's ``prompt.txt``. An existing task with the same files and prompt is
    returned as it is (no blob or Delta write); one with anything else raises :class:`TaskExistsError` unless
    ``force``. Nothing is written before the package has passed validation and that check.
    """
    validate_task_id(task_id)
    limits = limits or PackageLimits()
    where = where or f"package of task {task_id}"
    scene = scene_from_files(files, task_id, where=where, source=where, limits=limits)
    prompt = scene.prompt if prompt is None else limits.check_prompt(prompt, f"task {task_id}'s prompt")
    existing = existing_task(store, task_id)
    if existing is not None and not force:
        same_files = _holds_files(store, existing["source"], files)
        if same_files and existing["prompt"] == prompt:
            return existing
        raise _exists(existing, existing["source"] if same_files else f"the package at {where}", prompt)
    row = {
        "task_id": task_id,
        "source": PACKAGE_PREFIX + store_package(store, files),
        "prompt": prompt,
        "family": None,
        "seed": None,
    }
    if existing != row:
        store.lake.write_partition("tasks", [row], task_id)
    return row


def existing_task(store: Store, task_id: str) -> dict | None:
    """The ``tasks`` row of ``task_id`` (its declared columns), or ``None`` when it is not registered."""
    if not store.lake.exists("tasks"):
        return None
    frame = store.lake.read_partition("tasks", task_id)
    if frame.height == 0:
        return None
    row = frame.row(0, named=True)
    return {column: row[column] for column in TASK_COLUMNS}


def _holds_files(store: Store, source: str, files: Mapping[str, bytes]) -> bool:
    """Whether ``source`` is a stored package with exactly these files (compared byte for byte)."""
    if not source.startswith(PACKAGE_PREFIX):
        return False
    return read_stored_package(store, source[len(PACKAGE_PREFIX) :]) == dict(files)


def _exists(existing: dict, new_source: str, new_prompt: str) -> TaskExistsError:
    task_id = existing["task_id"]
    now = f"{existing['source']} with prompt {quoted(existing['prompt'])}"
    if existing["source"] == new_source:
        new = f"prompt {quoted(new_prompt)}"
    elif existing["prompt"] == new_prompt:
        new = new_source
    else:
        new = f"{new_source} with prompt {quoted(new_prompt)}"
    return TaskExistsError(
        f"task {task_id} is already registered as {now}, not {new}; pass force to replace it (CLI: --force)",
        task_id=task_id,
        existing=existing,
    )


def store_package(store: Store, files: Mapping[str, bytes]) -> str:
    """Copy a validated package's files into the blob store; returns the URI of its manifest.

    The manifest (``{file name: blob uri}``, sorted) is itself a blob, so the same files give the same
    manifest URI: storing a package again writes nothing new.
    """
    unexpected = sorted(set(files) - set(PACKAGE_FILES))
    if unexpected:
        raise SceneError(f"a scene package holds only {', '.join(PACKAGE_FILES)}; not {unexpected}")
    manifest = {
        name: store.blobs.put_bytes(data, posixpath.splitext(name)[1]).uri
        for name, data in sorted(files.items())
    }
    return store.blobs.put_bytes(json.dumps(manifest, sort_keys=True).encode(), ".json").uri


def read_stored_package(store: Store, manifest_uri: str) -> dict[str, bytes]:
    """The files of a stored package, ``{file name: bytes}`` (each blob hash-verified by the store)."""
    try:
        manifest = json.loads(store.blobs.get_bytes(manifest_uri))
    except ValueError as exc:
        raise SceneError(f"package manifest {manifest_uri} is not JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise SceneError(f"package manifest {manifest_uri} must be a JSON object")
    files = {}
    for name, uri in sorted(manifest.items()):
        if name not in PACKAGE_FILES or not isinstance(uri, str):
            raise SceneError(f"package manifest {manifest_uri} names an unexpected file {name!r}")
        files[name] = store.blobs.get_bytes(uri)
    return files


def capture_from_source(
    store: Store, task_id: str, source: str, prompt: str, *, limits: PackageLimits | None = None
) -> ScenePackage:
    """The scene a task's source describes: a benchmark world's render, a stored package, or a folder."""
    scene = source_for(source).capture(store, task_id, source, prompt, limits)
    if prompt != scene.prompt:
        scene = ScenePackage(
            task_id=task_id,
            rgb=scene.rgb,
            depth_m=scene.depth_m,
            camera=scene.camera,
            prompt=prompt,
            source=source,
        )
    return scene


@register_source
class PackageSource(TaskSource):
    """``package:<manifest uri>``: a user's capture, its files copied into the blob store when registered."""

    kind = PACKAGE_PREFIX.rstrip(":")
    form = "package:<manifest uri>"

    def describe(self, source: str, prompt: str | None, task_id: str) -> tuple[str, str | None, int | None]:
        if prompt is None:
            raise SceneError(f"task {task_id}: a stored package is registered with its prompt")
        return prompt, None, None

    def capture(
        self, store: Store, task_id: str, source: str, prompt: str, limits: PackageLimits | None
    ) -> ScenePackage:
        files = read_stored_package(store, source[len(PACKAGE_PREFIX) :])
        return scene_from_files(
            files, task_id, where=f"task {task_id}'s package", source=source, limits=limits
        )


@register_source
class FolderSource(TaskSource):
    """A scene package folder on disk: registering one captures it as a package (:class:`PackageSource`); a
    task registered before folders were captured still names the folder, and is read from it."""

    kind = None
    form = "a scene package folder"

    def capture(
        self, store: Store, task_id: str, source: str, prompt: str, limits: PackageLimits | None
    ) -> ScenePackage:
        return load_scene_package(source, task_id=task_id, limits=limits)


def ingest_scene(store: Store, task_id: str, *, limits: PackageLimits | None = None) -> ScenePackage:
    """The ``scenes`` stage: capture/load, validate, store blobs, write the row (last, so failures write nothing)."""
    task = store.one_row("tasks", task_id)
    scene = capture_from_source(store, task_id, task["source"], task["prompt"], limits=limits)
    png = io.BytesIO()
    Image.fromarray(scene.rgb).save(png, format="PNG")
    rgb_ref = store.blobs.put_bytes(png.getvalue(), ".png")
    npy = io.BytesIO()
    np.save(npy, scene.depth_m.astype(np.float32), allow_pickle=False)
    depth_ref = store.blobs.put_bytes(npy.getvalue(), ".npy")
    store.lake.write_partition(
        "scenes",
        [
            {
                "task_id": task_id,
                "rgb_uri": rgb_ref.uri,
                "rgb_sha256": rgb_ref.sha256,
                "depth_uri": depth_ref.uri,
                "depth_sha256": depth_ref.sha256,
                "camera_json": scene.camera.to_json(),
                "prompt": scene.prompt,
                "source": scene.source,
                "width": scene.width,
                "height": scene.height,
            }
        ],
        task_id,
    )
    return scene
