"""The lake's ``inbox/``: scene packages dropped by users become tasks, or are rejected with a reason.

Layout under the lake root (local directory or ``s3://bucket/prefix``)::

    inbox/<name>/{rgb.png, depth.png|depth.npy, camera.json, prompt.txt}   waiting
    inbox/done/<name>/                                                    accepted (task id = <name>)
    inbox/rejected/<name>/reason.txt                                      rejected, no task changed
    inbox/.processing/<claim>/<name>/   (local)   inbox/.claims/<name>   (S3)   being processed

A package is claimed before anything reads it, so two processors (two sensor ticks, a tick and a manual run)
never handle the same one: locally the folder is renamed into ``.processing/`` (atomic; the loser finds it
gone); on S3, which cannot rename, a claim marker is created with a conditional PUT (``If-None-Match: *``)
that only one processor can win, and the package's objects are moved before the marker is released. A claim
left by a processor that died is taken over after ``stale_after_s`` (atomically: a rename, or a PUT
conditional on the stale marker's ETag).

Packages are untrusted. Only the documented files may be there, each a regular file within
:class:`~physworld_core.limits.PackageLimits`; symbolic links and special files are refused and never
followed, read or copied. Any failure of one package (a bad file, a decoder error, a lake error) rejects that
package with a one-line reason and the others go on. An accepted package's files are stored as blobs with a
manifest; the task's source is ``package:<manifest uri>``. A name that is already a task id is refused
unless the package is the very one registered under it (then it is accepted again, and nothing changes).
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import shutil
import stat
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import botocore.session
import fsspec
from botocore.exceptions import ClientError

from physworld_core.errors import PhysworldError, SceneError, TaskExistsError
from physworld_core.ingest import register_package, store_package  # noqa: F401 - store_package: public here too
from physworld_core.lake.storage import s3fs_kwargs
from physworld_core.limits import PackageLimits, quoted
from physworld_core.scene import (
    PACKAGE_FILES,
    TEXT_FILES,
    check_package_entry,
    read_package_folder,
    validate_task_id,
)
from physworld_core.store import Store

logger = logging.getLogger(__name__)

RESERVED = ("done", "rejected", ".processing", ".claims")
STALE_CLAIM_S = 600.0
"""A claim older than this is taken to belong to a processor that died; checking and registering one package
takes seconds."""
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class InboxDecision:
    name: str
    accepted: bool
    task_id: str | None = None
    source: str | None = None
    prompt: str | None = None
    reason: str | None = None


def pending(store: Store) -> list[str]:
    """Names of the package folders waiting in the inbox, in name order (on S3 also those being processed:
    their objects stay until they are decided)."""
    return _open_inbox(store).waiting()


def process_inbox(
    store: Store,
    limit: int | None = None,
    *,
    limits: PackageLimits | None = None,
    stale_after_s: float = STALE_CLAIM_S,
) -> list[InboxDecision]:
    """Claim and check each waiting package (at most ``limit``): accepted ones are stored and registered as
    tasks and moved to ``done/``; bad ones go to ``rejected/`` with ``reason.txt`` and change nothing else.

    Safe to run concurrently: each package is processed by exactly one caller. Raises only when the inbox
    itself cannot be listed; a failure of one package is that package's rejection.
    """
    limits = limits or PackageLimits()
    if limit is not None and limit <= 0:
        return []
    inbox = _open_inbox(store)
    decisions = []
    for claim in inbox.claims(stale_after_s):
        decisions.append(_process(store, inbox, claim, limits))
        if limit is not None and len(decisions) >= limit:
            break
    return decisions


def _process(
    store: Store, inbox: _LocalInbox | _S3Inbox, claim: _Claim, limits: PackageLimits
) -> InboxDecision:
    name = claim.name
    where = f"inbox/{name}"
    try:
        validate_task_id(name)
        files = inbox.read(claim, where, limits)
        row = register_package(store, name, files, None, limits=limits, where=where)
    except TaskExistsError as exc:
        reason = (
            f"task {name} already exists (registered as {exc.existing.get('source')} with prompt "
            f"{quoted(str(exc.existing.get('prompt')))}); drop the package under a new name"
        )
    except PhysworldError as exc:
        reason = str(exc)
    except Exception as exc:
        logger.warning("inbox: %s failed unexpectedly", where, exc_info=True)
        reason = f"{where} could not be processed: {type(exc).__name__}: {exc}"
    else:
        _settle(lambda: inbox.accept(claim), where)
        return InboxDecision(
            name=name, accepted=True, task_id=name, source=row["source"], prompt=row["prompt"]
        )
    reason = _one_line(reason)
    _settle(lambda: inbox.reject(claim, reason, limits), where)
    return InboxDecision(name=name, accepted=False, reason=reason)


def _settle(move: Callable[[], None], where: str) -> None:
    """Move a decided package out of its claim; if that fails the claim stays and, once stale, the package
    is decided again (a registered one is then found unchanged and accepted without a new write)."""
    try:
        move()
    except Exception:
        logger.warning(
            "inbox: could not move %s out of its claim; retried when the claim is stale", where, exc_info=True
        )


def _one_line(text: str) -> str:
    """A reason as one printable line (control characters escaped), cut at ``MAX_REASON_CHARS``."""
    text = "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in text)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _has_entries(folder: str) -> bool:
    try:
        return bool(os.listdir(folder))
    except FileNotFoundError:  # claimed by another processor since it was listed
        return False


def _stamp() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class _Claim:
    """A package this processor holds: ``name`` in the inbox, ``key`` where the claim lives (local: the
    claim folder holding the package; S3: the marker's key) and ``token`` (S3: the marker's ETag)."""

    name: str
    key: str
    token: str = ""


def _open_inbox(store: Store) -> _LocalInbox | _S3Inbox:
    if store.lake.root.startswith("s3://"):
        return _S3Inbox(store)
    return _LocalInbox(posixpath.join(store.lake.root, "inbox"))


class _LocalInbox:
    """An inbox on a local disk: claims are folder renames, reads never follow links."""

    def __init__(self, inbox: str) -> None:
        self.inbox = inbox
        self.processing = os.path.join(inbox, ".processing")

    def waiting(self) -> list[str]:
        try:
            entries = list(os.scandir(self.inbox))
        except FileNotFoundError:
            return []
        names = []
        for entry in entries:
            if entry.name in RESERVED:
                continue
            # A link is claimed only to be refused; an empty folder may still be being copied in.
            if entry.is_symlink() or (entry.is_dir(follow_symlinks=False) and _has_entries(entry.path)):
                names.append(entry.name)
        return sorted(names)

    def claims(self, stale_after_s: float) -> Iterator[_Claim]:
        for name in self.waiting():
            claim = self._claim(name)
            if claim is not None:
                yield claim
        yield from self._stale(stale_after_s)

    def _new_holder(self) -> str:
        os.makedirs(self.processing, exist_ok=True)
        return os.path.join(self.processing, f"{time.time_ns()}-{uuid.uuid4().hex}")

    def _claim(self, name: str) -> _Claim | None:
        holder = self._new_holder()
        os.mkdir(holder)
        try:
            os.rename(os.path.join(self.inbox, name), os.path.join(holder, name))
        except OSError as exc:
            os.rmdir(holder)
            if not isinstance(exc, FileNotFoundError):  # gone = claimed by another processor: nothing to say
                logger.warning("inbox: cannot claim %r (%s); it stays in the inbox", name, exc)
            return None
        return _Claim(name, holder)

    def _stale(self, stale_after_s: float) -> Iterator[_Claim]:
        try:
            holders = sorted(os.listdir(self.processing))
        except FileNotFoundError:
            return
        for holder in holders:
            claimed_ns = holder.partition("-")[0]
            if not claimed_ns.isdigit() or time.time_ns() - int(claimed_ns) < stale_after_s * 1e9:
                continue
            fresh = self._new_holder()
            try:
                os.rename(os.path.join(self.processing, holder), fresh)  # one processor wins the take-over
            except FileNotFoundError:
                continue
            inside = os.listdir(fresh)
            if len(inside) != 1:  # died between making the claim folder and moving the package in
                shutil.rmtree(fresh)
                continue
            logger.warning(
                "inbox: taking over %r, claimed %.0f s ago",
                inside[0],
                (time.time_ns() - int(claimed_ns)) / 1e9,
            )
            yield _Claim(inside[0], fresh)

    def read(self, claim: _Claim, where: str, limits: PackageLimits) -> dict[str, bytes]:
        folder = os.path.join(claim.key, claim.name)
        mode = os.lstat(folder).st_mode
        if stat.S_ISLNK(mode):
            raise SceneError(f"{where} is a symbolic link; move the package folder itself into the inbox")
        if not stat.S_ISDIR(mode):
            raise SceneError(f"{where} is not a folder; a scene package is a folder of files")
        return read_package_folder(folder, limits, where)

    def accept(self, claim: _Claim) -> None:
        os.makedirs(os.path.join(self.inbox, "done"), exist_ok=True)
        for target in self._targets("done", claim.name):
            try:
                os.rename(os.path.join(claim.key, claim.name), target)
                break
            except OSError:
                if not os.path.lexists(target):
                    raise
        os.rmdir(claim.key)

    def reject(self, claim: _Claim, reason: str, limits: PackageLimits) -> None:
        """``rejected/<name>/`` gets ``reason.txt`` and the package's regular files within limits (moved, not
        read); links, special files and anything unexpected are deleted without being followed."""
        os.makedirs(os.path.join(self.inbox, "rejected"), exist_ok=True)
        for target in self._targets("rejected", claim.name):
            try:
                os.mkdir(target)
                break
            except FileExistsError:
                continue
        folder = os.path.join(claim.key, claim.name)
        if stat.S_ISDIR(os.lstat(folder).st_mode):
            for name in PACKAGE_FILES:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                limit = limits.max_text_bytes if name in TEXT_FILES else limits.max_file_bytes
                if stat.S_ISREG(info.st_mode) and info.st_size <= limit:
                    os.rename(path, os.path.join(target, name))
        with open(os.path.join(target, "reason.txt"), "w", encoding="utf-8") as handle:
            handle.write(reason + "\n")
        shutil.rmtree(claim.key)  # unlinks links and special files; never follows them

    def _targets(self, bucket: str, name: str) -> Iterator[str]:
        parent = os.path.join(self.inbox, bucket)
        yield os.path.join(parent, name)
        while True:  # the same name was decided before: keep both
            yield os.path.join(parent, f"{name}-{_stamp()}")


class _S3Inbox:
    """An inbox under ``s3://bucket/prefix``: claims are markers created with conditional PUTs.

    S3 has no links or special files; everything else (expected names, sizes, nested keys) is checked as
    locally, and object sizes are checked from the listing before any object is read.
    """

    def __init__(self, store: Store) -> None:
        options = s3fs_kwargs(store.lake.storage_options)
        self.fs = fsspec.filesystem("s3", **options)
        self.inbox = posixpath.join(store.lake.root[len("s3://") :], "inbox")
        self.bucket = self.inbox.split("/", 1)[0]
        self._client_options = options

    def _client(self):
        # botocore directly: conditional PUT/DELETE with their 412 answer, which s3fs translates ambiguously.
        options = self._client_options
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=options.get("endpoint_url"),
            aws_access_key_id=options.get("key"),
            aws_secret_access_key=options.get("secret"),
            aws_session_token=options.get("token"),
            region_name=options.get("client_kwargs", {}).get("region_name"),
        )

    def _key(self, path: str) -> str:
        return path.split("/", 1)[1]

    def waiting(self) -> list[str]:
        if not self.fs.exists(self.inbox):
            return []
        names = []
        for entry in self.fs.ls(self.inbox, detail=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            # SeaweedFS's filer keeps an emptied folder listed: only folders with objects wait.
            if entry["type"] == "directory" and name not in RESERVED and self._objects(name):
                names.append(name)
        return sorted(names)

    def _objects(self, name: str) -> dict[str, int]:
        """``{path relative to the package: size}`` of the objects under ``inbox/<name>/``."""
        folder = posixpath.join(self.inbox, name)
        found = self.fs.find(folder, detail=True)
        return {
            posixpath.relpath(path.rstrip("/"), folder): int(info.get("size") or 0)
            for path, info in found.items()
            if info["type"] == "file" and path.rstrip("/") != folder
        }

    def claims(self, stale_after_s: float) -> Iterator[_Claim]:
        client = self._client()
        for name in self.waiting():
            try:
                claim = self._claim(client, name, stale_after_s)
            except ClientError as exc:
                logger.warning("inbox: cannot claim %r (%s); it stays in the inbox", name, exc)
                continue
            if claim is None:
                continue
            if not self._objects(name):  # decided by another processor after we listed it
                self._release(claim)
                continue
            yield claim

    def _claim(self, client, name: str, stale_after_s: float) -> _Claim | None:
        key = self._key(posixpath.join(self.inbox, ".claims", name))
        body = json.dumps({"claimed_at": time.time(), "claimant": uuid.uuid4().hex}).encode()
        try:
            return _Claim(
                name, key, client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")["ETag"]
            )
        except Exception as exc:
            if not _lost_condition(exc):
                raise
        try:
            held = client.get_object(Bucket=self.bucket, Key=key)
            claimed_at = float(json.loads(held["Body"].read())["claimed_at"])
        except Exception as exc:  # noqa: BLE001 - released meanwhile or unreadable: left for the next tick
            logger.debug("inbox: claim marker of %r unreadable (%s)", name, exc)
            return None
        if time.time() - claimed_at < stale_after_s:
            return None
        try:
            etag = client.put_object(Bucket=self.bucket, Key=key, Body=body, IfMatch=held["ETag"])["ETag"]
        except Exception as exc:
            if _lost_condition(exc):
                return None
            raise
        logger.warning("inbox: taking over %r, claimed %.0f s ago", name, time.time() - claimed_at)
        return _Claim(name, key, etag)

    def _release(self, claim: _Claim) -> None:
        try:
            self._client().delete_object(Bucket=self.bucket, Key=claim.key, IfMatch=claim.token)
        except Exception as exc:
            if not _lost_condition(exc):  # a lost condition: the claim was taken over; it is theirs now
                raise

    def read(self, claim: _Claim, where: str, limits: PackageLimits) -> dict[str, bytes]:
        objects = self._objects(claim.name)
        for relative, size in sorted(objects.items()):
            top, nested, _ = relative.partition("/")
            check_package_entry(top, "folder" if nested else "file", size, where, limits)
        files = {}
        for relative in sorted(objects):
            limit = limits.max_text_bytes if relative in TEXT_FILES else limits.max_file_bytes
            data = self.fs.cat_file(posixpath.join(self.inbox, claim.name, relative), start=0, end=limit + 1)
            limits.check_file_size(f"{where}/{relative}", len(data), text=relative in TEXT_FILES)
            files[relative] = data
        return files

    def _target(self, bucket: str, name: str) -> str:
        target = posixpath.join(self.inbox, bucket, name)
        while self.fs.exists(target):  # the same name was decided before: keep both
            target = posixpath.join(self.inbox, bucket, f"{name}-{_stamp()}")
        return target

    def _finish(self, claim: _Claim, keep: list[str], target: str) -> None:
        """Copy ``keep`` (relative paths) under ``target``, delete the package's objects, release the claim:
        in this order, so a processor that claims the name afterwards finds nothing left to process."""
        source = posixpath.join(self.inbox, claim.name)
        for relative in keep:
            self.fs.copy(posixpath.join(source, relative), posixpath.join(target, relative))
        objects = [posixpath.join(source, relative) for relative in self._objects(claim.name)]
        if objects:
            self.fs.rm(objects)
        self._release(claim)

    def accept(self, claim: _Claim) -> None:
        self._finish(claim, sorted(self._objects(claim.name)), self._target("done", claim.name))

    def reject(self, claim: _Claim, reason: str, limits: PackageLimits) -> None:
        target = self._target("rejected", claim.name)
        self.fs.pipe_file(posixpath.join(target, "reason.txt"), (reason + "\n").encode())
        keep = [
            relative
            for relative, size in sorted(self._objects(claim.name).items())
            if relative in PACKAGE_FILES
            and size <= (limits.max_text_bytes if relative in TEXT_FILES else limits.max_file_bytes)
        ]
        self._finish(claim, keep, target)


def _lost_condition(exc: Exception) -> bool:
    """Whether an S3 error says a conditional request lost (412, or 409 for a concurrent conditional write)."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("PreconditionFailed", "ConditionalRequestConflict", "412") or status in (409, 412)
