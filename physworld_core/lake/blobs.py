"""Content-addressed blob store for everything too big for a Delta row (videos, meshes, checkpoints).

A blob's address is its SHA-256: ``<root>/blobs/sha256/ab/cd/<sha256><suffix>``. That gives, for free:

* **dedupe** — the same bytes written twice (a re-materialized asset, two tasks sharing a mesh) are stored
  once, and a second ``put`` is a cheap existence check;
* **immutability** — a row's URI can never start pointing at different bytes, so Delta rows holding
  ``(uri, sha256)`` stay valid across re-runs and time travel;
* **verification** — a reader recomputes the hash and detects corruption or truncation instead of feeding a
  broken checkpoint to the next stage.

Writes never leave a partial object at its final name: locally the bytes go to a temporary file in the same
directory, are fsync'ed and then renamed (atomic on POSIX); on S3 a single PUT (or a completed multipart
upload) is atomic by itself. The suffix (``.mp4``, ``.safetensors``) is part of the name only so that tools
can tell the format; identity is the hash.

**References are relative to the lake.** A blob's URI is ``lake://blobs/sha256/ab/cd/<sha256><suffix>``,
resolved against the store's root when it is read, so a lake copied or synced elsewhere (another machine,
local → S3) keeps working. Lakes written before that hold absolute addresses (``/…/blobs/sha256/…`` or
``s3://…/blobs/sha256/…``); a content address names its bytes, so those are read from *this* lake's blob store
too, and ``physworld lake migrate`` rewrites them.

**A write skips only what is verifiably there.** An object already at the address is kept only when its bytes
hash to the address; a corrupt one (same size, other bytes) is replaced, so re-running a stage heals it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import fsspec

from physworld_core.errors import LakeError
from physworld_core.lake.retry import RetryWindow
from physworld_core.lake.storage import (
    describe_location,
    normalise_root,
    s3fs_kwargs,
    validate_storage_options,
)

if TYPE_CHECKING:
    from physworld_core.lake.delta import Lake

T = TypeVar("T")
logger = logging.getLogger(__name__)
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX_PATTERN = re.compile(r"^(\.[A-Za-z0-9_-]{1,16}){0,3}$")
#: Matches the tail of a content address; group 1 is the hash, group 2 the suffix.
_ADDRESS_PATTERN = re.compile(
    r"/blobs/sha256/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})((?:\.[A-Za-z0-9_-]{1,16}){0,3})$"
)
_CHUNK_BYTES = 1 << 20
#: Scheme of blob references relative to the lake root.
LAKE_SCHEME = "lake://"
#: A lake-relative content address, e.g. inside JSON payloads (``lake check`` finds references with it).
LAKE_ADDRESS_PATTERN = re.compile(
    r"lake://blobs/sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}(?:\.[A-Za-z0-9_-]{1,16}){0,3}"
)


@dataclass(frozen=True)
class BlobRef:
    """A stored blob: where it is, its SHA-256 (hex) and its size in bytes. Store both URI and hash in rows.

    Args:
        uri: Content address, ``lake://blobs/sha256/…`` (relative to the lake root).
        sha256: Lower-case hex SHA-256 of the bytes.
        size: Size in bytes.
    """

    uri: str
    sha256: str
    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.uri, str) or not self.uri:
            raise ValueError(f"BlobRef.uri must be a non-empty string, got {self.uri!r}")
        if not isinstance(self.sha256, str) or not _SHA256_PATTERN.match(self.sha256):
            raise ValueError(f"BlobRef.sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"BlobRef.size must be a non-negative int, got {self.size!r}")


#: An absolute content address as lakes before ``lake://`` references wrote them (local path or ``s3://``),
#: inside any text; group 1 is the lake-relative part. Never matches inside a ``lake://`` reference.
ABSOLUTE_ADDRESS_PATTERN = re.compile(
    r"(?<!lake:)(?<!lake:/)(?:s3://|/)[^\s\"':]*?/"
    r"(blobs/sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}(?:\.[A-Za-z0-9_-]{1,16}){0,3})"
)


def to_lake_references(text: str) -> str:
    """``text`` with every absolute content address replaced by its ``lake://`` reference."""
    return ABSOLUTE_ADDRESS_PATTERN.sub(lambda m: LAKE_SCHEME + m.group(1), text)


def relative_address(uri: str) -> str | None:
    """``lake://blobs/sha256/…`` for any content address (lake-relative or absolute), else ``None``."""
    match = _ADDRESS_PATTERN.search(uri)
    if match is None or sha256_of_address(uri) is None:
        return None
    first, second, digest, suffix = match.groups()
    return f"{LAKE_SCHEME}blobs/sha256/{first}/{second}/{digest}{suffix}"


def sha256_of_address(uri: str) -> str | None:
    """The hash a content-addressed ``uri`` claims, or ``None`` when ``uri`` is not a content address."""
    match = _ADDRESS_PATTERN.search(uri)
    if match is None:
        return None
    first, second, digest, _suffix = match.groups()
    if digest[:2] != first or digest[2:4] != second:
        return None
    return digest


def _validate_suffix(suffix: object) -> str:
    if not isinstance(suffix, str) or not _SUFFIX_PATTERN.match(suffix):
        raise LakeError(
            f"blob suffix {suffix!r} must be empty or up to three '.ext' parts of [A-Za-z0-9_-] (e.g. '.mp4')"
        )
    return suffix


@dataclass(frozen=True)
class BlobStore:
    """Content-addressed blobs under ``<root>/blobs`` on a local disk or S3 (through fsspec/s3fs).

    Args:
        root: Local directory (made absolute) or ``s3://bucket[/prefix]``; usually the lake root.
        storage_options: The same ``AWS_*`` options as :class:`~physworld_core.lake.Lake`; translated to s3fs
            arguments. Ignored for local roots.
        cache_dir: Where :meth:`local_path` keeps downloaded remote blobs (keyed by hash, so entries never go
            stale). Defaults to ``<system temp>/physworld-blob-cache``.
        retry: How long reads and writes wait out a storage outage (see :mod:`physworld_core.lake.retry`).
    """

    root: str
    storage_options: dict[str, str] | None = field(default=None, hash=False)
    cache_dir: str | None = None
    retry: RetryWindow = RetryWindow()

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", normalise_root(self.root, "BlobStore.root"))
        object.__setattr__(
            self,
            "storage_options",
            validate_storage_options(self.storage_options, "BlobStore.storage_options"),
        )
        cache_dir = self.cache_dir
        if cache_dir is None:
            cache_dir = os.path.join(tempfile.gettempdir(), "physworld-blob-cache")
        if not isinstance(cache_dir, (str, os.PathLike)) or "://" in str(cache_dir):
            raise ValueError(f"BlobStore.cache_dir must be a local directory, got {cache_dir!r}")
        object.__setattr__(self, "cache_dir", os.path.abspath(os.fspath(cache_dir)))

    @classmethod
    def from_lake(cls, lake: Lake, cache_dir: str | None = None) -> BlobStore:
        """The blob store that lives next to ``lake``'s tables, with the same storage options and retries."""
        return cls(
            root=lake.root, storage_options=lake.storage_options, cache_dir=cache_dir, retry=lake.retry
        )

    @property
    def endpoint(self) -> str:
        """Where the blobs are, for messages: the S3 endpoint and root, or the local directory."""
        return describe_location(self.root, self.storage_options)

    def _io(self, what: str, attempt: Callable[[], T]) -> T:
        """``attempt`` with transient storage errors retried (see :class:`RetryWindow`)."""
        return self.retry.call(what, self.endpoint, attempt)

    # ------------------------------------------------------------------ locations

    @property
    def is_s3(self) -> bool:
        """Whether blobs live in S3."""
        return self.root.startswith("s3://")

    def address(self, sha256: str, suffix: str = "") -> str:
        """The lake-relative URI of the blob with hash ``sha256`` and ``suffix``."""
        if not isinstance(sha256, str) or not _SHA256_PATTERN.match(sha256):
            raise LakeError(f"not a SHA-256 hex digest: {sha256!r}")
        suffix = _validate_suffix(suffix)
        return f"{LAKE_SCHEME}blobs/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"

    def resolve(self, uri: str) -> str:
        """Where ``uri`` lives now: a ``lake://`` reference, or an absolute content address written by this lake
        at another place (a copied or synced lake), maps into this store's root; anything else is as given."""
        if not isinstance(uri, str) or not uri:
            raise LakeError(f"blob URI must be a non-empty string, got {uri!r}")
        if uri.startswith(LAKE_SCHEME):
            relative = uri[len(LAKE_SCHEME) :]
            if relative_address(uri) is None or ".." in relative.split("/"):
                raise LakeError(f"blob URI {uri!r} is not a content address under the lake")
            return f"{self.root}/{relative}"
        relative = relative_address(uri)
        if relative is not None:
            return f"{self.root}/{relative[len(LAKE_SCHEME) :]}"
        return uri

    @cached_property
    def _s3(self) -> fsspec.AbstractFileSystem:
        return fsspec.filesystem("s3", **s3fs_kwargs(self.storage_options))

    def _fs(self, uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
        """Filesystem and path for ``uri`` (resolved, see :meth:`resolve`): S3 URIs use this store's
        credentials, anything else is local."""
        uri = self.resolve(uri)
        if uri.startswith("s3://"):
            return self._s3, uri
        if "://" in uri and not uri.startswith("file://"):
            raise LakeError(f"blob URI {uri!r}: only local paths and s3:// URIs are supported")
        path = uri.removeprefix("file://")
        return fsspec.filesystem("file"), os.path.abspath(path)

    def exists(self, uri: str) -> bool:
        """Whether an object exists at ``uri``."""
        fs, path = self._fs(uri)
        try:
            return self._io(f"checking blob {uri}", lambda: bool(fs.exists(path)))
        except OSError as exc:
            raise LakeError(f"cannot check blob {uri}: {exc}") from exc

    # ------------------------------------------------------------------ writes

    def put_bytes(self, data: bytes | bytearray | memoryview, suffix: str = "") -> BlobRef:
        """Store ``data`` under its content address (unless already there) and return its :class:`BlobRef`.

        An existing object at the address is kept only if its bytes hash to the address; anything else there
        (truncated, overwritten with other bytes) is replaced.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise LakeError(f"put_bytes needs bytes, got {type(data).__name__}")
        data = bytes(data)
        suffix = _validate_suffix(suffix)
        digest = hashlib.sha256(data).hexdigest()
        ref = BlobRef(uri=self.address(digest, suffix), sha256=digest, size=len(data))
        if self._present(ref):
            return ref
        fs, path = self._fs(ref.uri)
        try:
            if self.is_s3:  # one PUT: the object appears whole or not at all
                self._io(f"writing blob {ref.uri}", lambda: fs.pipe_file(path, data))
            else:
                with self._local_temp_beside(path) as temp_path:
                    with open(temp_path, "wb") as handle:
                        handle.write(data)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(temp_path, path)
        except OSError as exc:
            raise LakeError(f"cannot write blob {ref.uri}: {exc}") from exc
        return ref

    def put_file(self, path: str | os.PathLike[str], suffix: str | None = None) -> BlobRef:
        """Store the file at ``path`` under its content address and return its :class:`BlobRef`.

        ``suffix`` defaults to the file's extension. The file is hashed while it is copied into a spool file
        and the spool is what gets stored, so a file modified during the call can never be stored under a
        hash that does not match its bytes. For S3 roots the spool then becomes this machine's cache entry.
        """
        source = Path(path)
        if not source.is_file():
            raise LakeError(f"put_file: {source} is not a file")
        suffix = _validate_suffix(source.suffix if suffix is None else suffix)
        # Spool on the destination's filesystem (local) so the final rename is atomic, or in the cache (S3).
        spool_dir = os.path.join(self.cache_dir if self.is_s3 else os.path.join(self.root, "blobs"), "tmp")
        os.makedirs(spool_dir, exist_ok=True)
        spool = os.path.join(spool_dir, f"{uuid.uuid4().hex}.spool")
        try:
            hasher = hashlib.sha256()
            size = 0
            with open(source, "rb") as reader, open(spool, "wb") as writer:
                while chunk := reader.read(_CHUNK_BYTES):
                    hasher.update(chunk)
                    writer.write(chunk)
                    size += len(chunk)
                writer.flush()
                os.fsync(writer.fileno())
            digest = hasher.hexdigest()
            ref = BlobRef(uri=self.address(digest, suffix), sha256=digest, size=size)
            if not self._present(ref):
                fs, target = self._fs(ref.uri)
                if self.is_s3:  # single PUT or completed multipart upload: atomic
                    self._io(f"writing blob {ref.uri}", lambda: fs.put_file(spool, target))
                else:
                    fs.makedirs(os.path.dirname(target), exist_ok=True)
                    os.replace(spool, target)
            if self.is_s3 and os.path.exists(spool):
                self._adopt_into_cache(spool, digest, suffix)
            return ref
        except OSError as exc:
            raise LakeError(f"cannot store {source} as a blob under {self.root}: {exc}") from exc
        finally:
            if os.path.exists(spool):
                os.remove(spool)

    def _present(self, ref: BlobRef) -> bool:
        """Whether the bytes of ``ref`` are already at its address: right size *and* right hash (an object
        overwritten in place with other bytes of the same size is not present, so the write heals it)."""
        fs, path = self._fs(ref.uri)

        def check() -> bool:
            try:
                if not fs.exists(path) or int(fs.size(path)) != ref.size:
                    return False
                actual = (
                    _hash_file(Path(path))
                    if not self.is_s3
                    else hashlib.sha256(fs.cat_file(path)).hexdigest()
                )
            except FileNotFoundError:
                return False
            if actual != ref.sha256:
                logger.warning("blob %s is corrupt (its bytes hash to %s); writing it again", ref.uri, actual)
                return False
            return True

        try:
            return self._io(f"checking blob {ref.uri}", check)
        except OSError as exc:
            raise LakeError(f"cannot check blob {ref.uri}: {exc}") from exc

    @contextmanager
    def _local_temp_beside(self, path: str) -> Iterator[str]:
        """A unique temporary name in ``path``'s directory (same filesystem, so ``os.replace`` is atomic)."""
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temp_path = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        try:
            yield temp_path
        finally:
            if os.path.exists(temp_path):
                os.remove(temp_path)

    # ------------------------------------------------------------------ reads

    def get_bytes(self, uri: str) -> bytes:
        """The bytes at ``uri``; for a content address, verified against the hash in the address.

        Raises:
            LakeError: the blob does not exist, cannot be read, or its bytes do not match its address.
        """
        fs, path = self._fs(uri)
        try:
            data = self._io(f"reading blob {uri}", lambda: fs.cat_file(path))
        except FileNotFoundError:
            raise LakeError(f"blob not found: {uri} (looked at {path})") from None
        except OSError as exc:
            raise LakeError(f"cannot read blob {uri}: {exc}") from exc
        expected = sha256_of_address(uri)
        if expected is not None:
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise LakeError(
                    f"blob {uri} is corrupt: its content hashes to {actual}, not {expected} "
                    f"({len(data)} bytes read)"
                )
        return data

    def open(self, uri: str) -> IO[bytes]:
        """Open ``uri`` for streaming reads (binary). Not verified: use :meth:`get_bytes` or
        :meth:`local_path` when the content must be checked."""
        fs, path = self._fs(uri)
        try:
            return self._io(f"opening blob {uri}", lambda: fs.open(path, "rb"))
        except FileNotFoundError:
            raise LakeError(f"blob not found: {uri}") from None
        except OSError as exc:
            raise LakeError(f"cannot open blob {uri}: {exc}") from exc

    def local_path(self, uri: str, verify: bool = True) -> Path:
        """A path on this machine holding the bytes of ``uri``, for consumers that need a real file
        (video decoders, mesh loaders, safetensors).

        Local blobs are returned in place (hash-verified when ``verify``) — treat the file as read-only. Remote content-addressed blobs are
        downloaded once into ``cache_dir`` under their hash, verified before they enter the cache (so a
        cached file is always good), and reused. Remote URIs that are not content addresses are downloaded
        again on every call, since nothing tells whether they changed.

        Raises:
            LakeError: missing blob or hash mismatch.
        """
        expected = sha256_of_address(uri)
        fs, path = self._fs(uri)
        if not self.resolve(uri).startswith("s3://"):
            local = Path(path)
            if not local.is_file():
                raise LakeError(f"blob not found: {uri} (looked at {path})")
            if verify and expected is not None:
                actual = _hash_file(local)
                if actual != expected:
                    raise LakeError(f"blob {uri} is corrupt: its content hashes to {actual}, not {expected}")
            return local

        if expected is None:
            key = hashlib.sha256(uri.encode()).hexdigest()
            target = Path(self.cache_dir, "by-uri", key, os.path.basename(path) or "blob")
        else:
            target = self._cache_path(expected, _ADDRESS_PATTERN.search(uri).group(4))  # type: ignore[union-attr]
            if target.is_file():
                return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._local_temp_beside(str(target)) as temp_path:
            try:
                self._io(f"downloading blob {uri}", lambda: fs.get_file(path, temp_path))
            except FileNotFoundError:
                raise LakeError(f"blob not found: {uri}") from None
            except OSError as exc:
                raise LakeError(f"cannot download blob {uri}: {exc}") from exc
            if expected is not None:
                actual = _hash_file(Path(temp_path))
                if actual != expected:
                    raise LakeError(f"blob {uri} is corrupt: its content hashes to {actual}, not {expected}")
            os.replace(temp_path, target)
        return target

    def _cache_path(self, sha256: str, suffix: str) -> Path:
        return Path(self.cache_dir, "sha256", sha256[:2], f"{sha256}{suffix}")

    def _adopt_into_cache(self, spool: str, sha256: str, suffix: str) -> None:
        """Move a verified spool file into the download cache (it already holds exactly these bytes)."""
        target = self._cache_path(sha256, suffix)
        if target.is_file():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spool, target)  # the spool lives in cache_dir/tmp: same filesystem, atomic


def _hash_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()
