"""Content-addressed blobs on a local root: layout, dedupe, atomicity, corruption detection."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from physworld_core.errors import LakeError
from physworld_core.lake import BlobRef, BlobStore, Lake


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(str(tmp_path / "lake"), cache_dir=str(tmp_path / "cache"))


def test_put_bytes_round_trip_and_layout(store: BlobStore) -> None:
    data = b"a tiny video"
    digest = hashlib.sha256(data).hexdigest()
    ref = store.put_bytes(data, ".mp4")
    assert ref == BlobRef(
        uri=f"lake://blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}.mp4", sha256=digest, size=len(data)
    )
    assert store.resolve(ref.uri) == f"{store.root}/blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}.mp4"
    assert store.get_bytes(ref.uri) == data
    assert store.local_path(ref.uri) == Path(store.resolve(ref.uri))
    with store.open(ref.uri) as handle:
        assert handle.read() == data


def test_dedupe_stores_once_and_leaves_no_temp_files(store: BlobStore) -> None:
    first = store.put_bytes(b"same bytes", ".bin")
    mtime = os.stat(store.resolve(first.uri)).st_mtime_ns
    second = store.put_bytes(bytearray(b"same bytes"), ".bin")
    assert first == second
    assert os.stat(store.resolve(first.uri)).st_mtime_ns == mtime  # not rewritten
    files = [p for p in Path(store.root, "blobs").rglob("*") if p.is_file()]
    assert files == [Path(store.resolve(first.uri))]


def test_put_file_uses_extension_and_matches_put_bytes(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "weights.safetensors"
    source.write_bytes(b"\x00\x01" * 1000)
    ref = store.put_file(source)
    assert ref.uri.endswith(".safetensors") and ref.size == 2000
    assert ref == store.put_bytes(source.read_bytes(), ".safetensors")
    assert store.get_bytes(ref.uri) == source.read_bytes()
    assert not any(Path(store.root, "blobs", "tmp").iterdir())


def test_corruption_is_detected(store: BlobStore) -> None:
    ref = store.put_bytes(b"checkpoint bytes", ".safetensors")
    Path(store.resolve(ref.uri)).write_bytes(b"checkpoint bytez")  # same size, different content
    with pytest.raises(LakeError, match="corrupt"):
        store.get_bytes(ref.uri)
    with pytest.raises(LakeError, match="corrupt"):
        store.local_path(ref.uri)


def test_truncated_blob_is_repaired_by_the_next_put(store: BlobStore) -> None:
    ref = store.put_bytes(b"0123456789")
    Path(store.resolve(ref.uri)).write_bytes(b"01234")
    assert store.put_bytes(b"0123456789") == ref
    assert store.get_bytes(ref.uri) == b"0123456789"


@pytest.mark.parametrize("how", ["put_bytes", "put_file"])
def test_same_size_corruption_is_healed_by_the_next_put(store: BlobStore, tmp_path: Path, how: str) -> None:
    """An object overwritten with other bytes of the same size is not 'present': the next put rewrites it."""
    data = b"checkpoint bytes"
    ref = store.put_bytes(data, ".bin")
    Path(store.resolve(ref.uri)).write_bytes(b"checkpoint bytez")
    if how == "put_bytes":
        assert store.put_bytes(data, ".bin") == ref
    else:
        source = tmp_path / "again.bin"
        source.write_bytes(data)
        assert store.put_file(source) == ref
    assert store.get_bytes(ref.uri) == data


def test_references_survive_a_moved_lake(store: BlobStore, tmp_path: Path) -> None:
    """lake:// references resolve under the current root; an old absolute address of the same lake, written
    before references were relative, is read from the current root too (the hash names the bytes)."""
    import shutil

    ref = store.put_bytes(b"frame", ".png")
    legacy = f"{store.root}/blobs/sha256/{ref.sha256[:2]}/{ref.sha256[2:4]}/{ref.sha256}.png"
    moved = BlobStore(
        str(shutil.copytree(store.root, tmp_path / "elsewhere")), cache_dir=str(tmp_path / "c2")
    )
    shutil.rmtree(store.root)
    assert moved.get_bytes(ref.uri) == b"frame"
    assert moved.get_bytes(legacy) == b"frame" and moved.local_path(legacy).is_file()
    with pytest.raises(LakeError, match="not a content address"):
        moved.get_bytes("lake://blobs/../../etc/passwd")


def test_errors(store: BlobStore, tmp_path: Path) -> None:
    missing = store.address("0" * 64, ".mp4")
    with pytest.raises(LakeError, match="not found"):
        store.get_bytes(missing)
    with pytest.raises(LakeError, match="not found"):
        store.local_path(missing)
    with pytest.raises(LakeError, match="suffix"):
        store.put_bytes(b"x", "mp4")
    with pytest.raises(LakeError, match="suffix"):
        store.put_bytes(b"x", "./../x")
    with pytest.raises(LakeError, match="not a file"):
        store.put_file(tmp_path / "nope.bin")
    with pytest.raises(LakeError, match="bytes"):
        store.put_bytes("text")  # type: ignore[arg-type]


def test_non_addressed_files_are_read_unverified(store: BlobStore, tmp_path: Path) -> None:
    plain = tmp_path / "camera.json"
    plain.write_text("{}")
    assert store.get_bytes(str(plain)) == b"{}"


def test_blob_ref_validation() -> None:
    with pytest.raises(ValueError, match="sha256"):
        BlobRef(uri="x", sha256="abc", size=1)
    with pytest.raises(ValueError, match="size"):
        BlobRef(uri="x", sha256="0" * 64, size=-1)


def test_from_lake_shares_root_and_options(tmp_path: Path) -> None:
    lake = Lake("s3://bucket/prefix", storage_options={"AWS_REGION": "eu-west-1"})
    store = BlobStore.from_lake(lake, cache_dir=str(tmp_path))
    assert store.root == "s3://bucket/prefix" and store.storage_options == {"AWS_REGION": "eu-west-1"}
    assert store.address("ab" + "c" * 62, ".ply") == f"lake://blobs/sha256/ab/cc/ab{'c' * 62}.ply"
    assert store.resolve(store.address("ab" + "c" * 62, ".ply")) == (
        f"s3://bucket/prefix/blobs/sha256/ab/cc/ab{'c' * 62}.ply"
    )
