"""The inbox: good packages become tasks exactly once; each kind of bad package is rejected with a reason."""

from __future__ import annotations

import json
import os
import posixpath

import numpy as np
import pytest
from PIL import Image

from physworld_core.inbox import pending, process_inbox
from physworld_core.ingest import capture_from_source
from physworld_core.scene import save_scene_package
from physworld_core.store import Store
from tests.core.test_scene import make_scene, png_claiming


def _drop(inbox, name, **overrides):
    return save_scene_package(make_scene(**overrides), inbox / name)


def _break(folder, kind):
    if kind == "missing file":
        (folder / "camera.json").unlink()
    elif kind == "unreadable PNG":
        (folder / "rgb.png").write_bytes(b"\x89PNG broken")
    elif kind == "depth in millimetres as metres":
        np.save(folder / "depth.npy", np.full((24, 32), 700.0, np.float32))
    elif kind == "size mismatch":
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(folder / "rgb.png")
    elif kind == "intrinsics outside the image":
        data = json.loads((folder / "camera.json").read_text())
        data["cx"] = 400
        (folder / "camera.json").write_text(json.dumps(data))
    elif kind == "empty prompt":
        (folder / "prompt.txt").write_text("  \n")


BAD = {
    "missing file": "missing camera.json",
    "unreadable PNG": "unreadable PNG",
    "depth in millimetres as metres": "metres",
    "size mismatch": "same size",
    "intrinsics outside the image": "outside",
    "empty prompt": "prompt is empty",
}


def test_good_package_becomes_a_task_once(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    _drop(tmp_path / "lake" / "inbox", "kitchen-1")
    decisions = process_inbox(store)
    assert [d.accepted for d in decisions] == [True]
    task = store.one_row("tasks", "kitchen-1")
    assert task["source"].startswith("package:") and task["prompt"] == "put the red can in the bin"
    assert (tmp_path / "lake" / "inbox" / "done" / "kitchen-1" / "rgb.png").is_file()
    assert pending(store) == [] and process_inbox(store) == []  # a second tick finds nothing
    scene = capture_from_source(store, "kitchen-1", task["source"], task["prompt"])
    assert scene.rgb.shape == (24, 32, 3)


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_package_is_rejected_with_a_reason(tmp_path, kind):
    store = Store.at(str(tmp_path / "lake"))
    folder = _drop(tmp_path / "lake" / "inbox", "pkg")
    _break(folder, kind)
    [decision] = process_inbox(store)
    assert not decision.accepted
    assert BAD[kind] in decision.reason
    reason = (tmp_path / "lake" / "inbox" / "rejected" / "pkg" / "reason.txt").read_text()
    assert BAD[kind] in reason and "/tmp" not in reason.split("inbox/pkg")[0]
    assert not store.lake.exists("tasks")  # nothing else changed


def test_unsafe_name_is_rejected(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    _drop(tmp_path / "lake" / "inbox", "..x")
    [decision] = process_inbox(store)
    assert not decision.accepted and "not allowed" in decision.reason
    assert (tmp_path / "lake" / "inbox" / "rejected" / "..x" / "reason.txt").is_file()


def test_same_name_dropped_again_is_refused_unless_it_is_the_same_package(tmp_path):
    """A name that is already a task id is refused (it used to replace the task's row); the very package that
    was registered under it is accepted again without a new commit (a retried drop, a claim taken over)."""
    store = Store.at(str(tmp_path / "lake"))
    inbox = tmp_path / "lake" / "inbox"
    _drop(inbox, "again")
    [first] = process_inbox(store)
    version = store.lake.version("tasks")
    _drop(inbox, "again", prompt="put the blue box in the bin")
    [second] = process_inbox(store)
    assert not second.accepted and second.reason.startswith(
        "task again already exists (registered as package:"
    )
    assert "drop the package under a new name" in second.reason
    assert store.one_row("tasks", "again")["prompt"] == "put the red can in the bin"
    _drop(inbox, "again")
    [third] = process_inbox(store)
    assert third.accepted and third.source == first.source and store.lake.version("tasks") == version
    assert len(list((inbox / "done").iterdir())) == 2 and len(list((inbox / "rejected").iterdir())) == 1


def test_existing_task_id_is_refused(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    row = {
        "task_id": "bin-0003",
        "source": "benchmark:bin:3",
        "prompt": "put the can in the bin",
        "family": "bin",
        "seed": 3,
    }
    store.lake.write_partition("tasks", [row], "bin-0003")
    _drop(tmp_path / "lake" / "inbox", "bin-0003")
    [decision] = process_inbox(store)
    assert not decision.accepted
    assert decision.reason.startswith(
        "task bin-0003 already exists (registered as benchmark:bin:3 with prompt"
    )
    kept = store.one_row("tasks", "bin-0003")
    assert {k: kept[k] for k in row} == row


def test_sensor_requests_a_partition_and_a_run_once(tmp_path):
    import dagster as dg

    from pipelines.resources import StoreResource
    from pipelines.sensors import inbox_sensor

    _drop(tmp_path / "lake" / "inbox", "cap-7")
    _drop(tmp_path / "lake" / "inbox", "cap-8")
    (tmp_path / "lake" / "inbox" / "cap-8" / "prompt.txt").unlink()
    resources = {"store": StoreResource(root=str(tmp_path / "lake"))}
    with dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources=resources) as context:
        result = inbox_sensor(context)
        assert [r.partition_key for r in result.run_requests] == ["cap-7"]
        assert result.dynamic_partitions_requests[0].partition_keys == ["cap-7"]
        [observed] = result.asset_events  # the task's first data version, as add-task gives it
        assert observed.asset_key == dg.AssetKey("tasks") and observed.partition == "cap-7"
        assert "dagster/data_version" in observed.tags
        assert isinstance(inbox_sensor(context), dg.SkipReason)


@pytest.mark.s3
def test_inbox_on_s3(tmp_path, s3_root, s3_options):
    import fsspec

    from physworld_core.lake.storage import s3fs_kwargs

    store = Store.at(s3_root, s3_options)
    local = _drop(tmp_path, "remote-1")
    fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_options))
    base = s3_root[len("s3://") :]
    fs.put(str(local), f"{base}/inbox/remote-1", recursive=True)
    bad = _drop(tmp_path, "remote-2")
    _break(bad, "empty prompt")
    fs.put(str(bad), f"{base}/inbox/remote-2", recursive=True)
    decisions = {d.name: d for d in process_inbox(store)}
    assert decisions["remote-1"].accepted and not decisions["remote-2"].accepted
    assert fs.exists(f"{base}/inbox/done/remote-1/rgb.png")
    assert "prompt is empty" in fs.cat(f"{base}/inbox/rejected/remote-2/reason.txt").decode()
    assert pending(store) == []
    task = store.one_row("tasks", "remote-1")
    assert capture_from_source(store, "remote-1", task["source"], task["prompt"]).width == 32


# --- issue #29: one bad package never stops the inbox; untrusted packages stay inside the lake ---------------


def _files_under(root):
    return [p for p in root.rglob("*") if p.is_symlink() or p.is_file()]


def _assert_not_in_lake(lake, secret: bytes):
    for path in _files_under(lake):
        assert not path.is_symlink(), f"{path} is a link in the lake"
        if path.stat().st_size < 1 << 20:
            assert secret not in path.read_bytes(), f"{path} holds the outside file's bytes"


def _make_bad(folder, kind, outside):
    if kind == "prompt not UTF-8":
        (folder / "prompt.txt").write_bytes(b"\xffput the red can in the bin")
    elif kind == "dangling symlink":
        (folder / "rgb.png").unlink()
        (folder / "rgb.png").symlink_to(folder.parent / "nowhere.png")
    elif kind == "prompt links outside":
        (folder / "prompt.txt").unlink()
        (folder / "prompt.txt").symlink_to(outside)
    elif kind == "rgb links outside":
        (folder / "rgb.png").unlink()
        (folder / "rgb.png").symlink_to(outside)
    elif kind == "folder links outside":
        import shutil

        shutil.rmtree(folder)
        folder.symlink_to(outside.parent / "elsewhere", target_is_directory=True)
    elif kind == "FIFO prompt":
        (folder / "prompt.txt").unlink()
        os.mkfifo(folder / "prompt.txt")
    elif kind == "6000x6000 image":
        (folder / "rgb.png").write_bytes(png_claiming(6000, 6000))
    elif kind == "sparse 1 GiB extra file":
        with open(folder / "extra.bin", "wb") as handle:
            handle.truncate(1 << 30)
    elif kind == "sparse 1 GiB depth":
        (folder / "depth.npy").unlink()
        with open(folder / "depth.npy", "wb") as handle:
            handle.truncate(1 << 30)
    elif kind == "long prompt with NUL and ESC":
        (folder / "prompt.txt").write_text("put the red can in the bin \x00\x1b[31m " * 560)
    elif kind == "camera fx is a string":
        data = json.loads((folder / "camera.json").read_text())
        data["fx"] = "115.46"
        (folder / "camera.json").write_text(json.dumps(data))
    elif kind == "deeply nested camera.json":
        (folder / "camera.json").write_text("[" * 100_000 + "]" * 100_000)


UNTRUSTED = {
    "prompt not UTF-8": "inbox/a-bad/prompt.txt is not UTF-8 text (byte 0xff at offset 0)",
    "dangling symlink": "inbox/a-bad/rgb.png is a symbolic link",
    "prompt links outside": "inbox/a-bad/prompt.txt is a symbolic link",
    "rgb links outside": "inbox/a-bad/rgb.png is a symbolic link",
    "folder links outside": "inbox/a-bad is a symbolic link",
    "FIFO prompt": "inbox/a-bad/prompt.txt is a special file, not a regular file",
    "6000x6000 image": "inbox/a-bad/rgb.png is 6000x6000 pixels; the limit is 4096 pixels a side",
    "sparse 1 GiB extra file": "inbox/a-bad: unexpected file 'extra.bin'",
    "sparse 1 GiB depth": "inbox/a-bad/depth.npy is 1.0 GiB; the limit for this file is 128.0 MiB",
    "long prompt with NUL and ESC": "inbox/a-bad/prompt.txt holds the control character U+0000 at character 28",
    "camera fx is a string": 'inbox/a-bad/camera.json: fx must be a number, got the string "115.46"',
    "deeply nested camera.json": "inbox/a-bad/camera.json: not usable JSON (RecursionError",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", list(UNTRUSTED))
def test_untrusted_package_is_rejected_and_the_rest_go_through(tmp_path, kind):
    """Each used to raise on every tick (stopping the inbox), hang, be accepted, or copy an outside file."""
    lake = tmp_path / "lake"
    store = Store.at(str(lake))
    outside = tmp_path / "outside" / "hostname"
    outside.parent.mkdir()
    outside.write_bytes(b"SECRET-OUTSIDE-THE-LAKE\n")
    (outside.parent / "elsewhere").mkdir()
    _make_bad(_drop(lake / "inbox", "a-bad"), kind, outside)
    _drop(lake / "inbox", "b-good")
    decisions = {d.name: d for d in process_inbox(store)}
    assert decisions["b-good"].accepted and not decisions["a-bad"].accepted
    reason = decisions["a-bad"].reason
    assert reason.startswith(UNTRUSTED[kind]), reason
    assert len(reason) <= 500 and reason.isprintable()
    assert (lake / "inbox" / "rejected" / "a-bad" / "reason.txt").read_text() == reason + "\n"
    assert store.lake.read_partition("tasks", "a-bad").height == 0
    assert process_inbox(store) == [] and pending(store) == []
    _assert_not_in_lake(lake, b"SECRET-OUTSIDE-THE-LAKE")
    limit = 128 << 20
    for path in _files_under(lake / "inbox"):
        assert path.stat().st_size <= limit, f"{path} was kept though it is over the file limit"
    kept = sorted(p.name for p in (lake / "inbox" / "rejected" / "a-bad").iterdir())
    assert set(kept) <= {"reason.txt", "rgb.png", "depth.npy", "depth.png", "camera.json", "prompt.txt"}
    assert outside.read_bytes() == b"SECRET-OUTSIDE-THE-LAKE\n" and (outside.parent / "elsewhere").is_dir()


def test_two_processors_at_once_process_each_package_once(tmp_path):
    """Two process_inbox calls at the same time used to both take the same packages (one raised
    FileNotFoundError, or a package was registered and moved twice)."""
    lake = tmp_path / "lake"
    store = Store.at(str(lake))
    names = [f"cap-{i:02d}" for i in range(12)]
    for name in names:
        _drop(lake / "inbox", name)
    _make_bad(lake / "inbox" / "cap-05", "prompt not UTF-8", None)
    decisions, errors = _run_concurrently(lambda: process_inbox(Store.at(str(lake))), 2)
    assert errors == []
    assert sorted(d.name for d in decisions) == names
    assert sum(d.accepted for d in decisions) == 11
    tasks = store.lake.scan("tasks").collect()
    assert sorted(tasks["task_id"].to_list()) == [n for n in names if n != "cap-05"]
    assert sorted(p.name for p in (lake / "inbox" / "done").iterdir()) == [n for n in names if n != "cap-05"]
    assert [p.name for p in (lake / "inbox" / "rejected").iterdir()] == ["cap-05"]
    assert list((lake / "inbox" / ".processing").iterdir()) == []


def _run_concurrently(work, count):
    import threading
    import traceback

    barrier = threading.Barrier(count)
    decisions, errors = [], []

    def run():
        barrier.wait()
        try:
            decisions.extend(work())
        except Exception:  # noqa: BLE001 - the test reports every error of every worker
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return decisions, errors


def test_claim_of_a_processor_that_died_is_taken_over(tmp_path):
    import time

    lake = tmp_path / "lake"
    store = Store.at(str(lake))
    hour_ago = time.time_ns() - 3600 * 10**9
    _drop(lake / "inbox" / ".processing" / f"{hour_ago}-dead", "orphan")
    _drop(lake / "inbox" / ".processing" / f"{time.time_ns()}-busy", "in-hand")
    [decision] = process_inbox(store)
    assert decision.name == "orphan" and decision.accepted
    assert (lake / "inbox" / "done" / "orphan" / "rgb.png").is_file()
    [held] = (lake / "inbox" / ".processing").iterdir()  # the fresh claim is left to its processor
    assert held.name.endswith("-busy") and (held / "in-hand" / "rgb.png").is_file()


def test_sensor_keeps_working_after_a_bad_package(tmp_path):
    import dagster as dg

    from pipelines.resources import StoreResource
    from pipelines.sensors import inbox_sensor

    lake = tmp_path / "lake"
    _make_bad(_drop(lake / "inbox", "a-bad"), "prompt not UTF-8", None)
    _make_bad(_drop(lake / "inbox", "b-bad"), "dangling symlink", None)
    _drop(lake / "inbox", "c-good")
    resources = {"store": StoreResource(root=str(lake))}
    with dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources=resources) as context:
        result = inbox_sensor(context)
        assert [r.partition_key for r in result.run_requests] == ["c-good"]
        assert isinstance(inbox_sensor(context), dg.SkipReason)
    assert sorted(p.name for p in (lake / "inbox" / "rejected").iterdir()) == ["a-bad", "b-bad"]


def _s3_objects(fs, prefix):
    """Objects under ``prefix`` (SeaweedFS's filer keeps an emptied folder listed as a directory)."""
    return [path for path, info in fs.find(prefix, detail=True).items() if info["type"] == "file"]


def _put_s3(tmp_path, fs, base, name, bad=None):
    local = _drop(tmp_path / "staging", name)
    if bad is not None:
        _make_bad(local, bad, None)
    fs.put(str(local), f"{base}/inbox/{name}", recursive=True)


@pytest.mark.s3
def test_inbox_on_s3_refuses_untrusted_packages_and_processes_each_once_concurrently(
    tmp_path, s3_root, s3_options
):
    """Two processors at once on S3 (no rename there: claims are conditional PUTs), with bad packages among
    good ones: each package is decided exactly once and nothing raises."""
    import fsspec

    from physworld_core.lake.storage import s3fs_kwargs

    fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_options))
    base = s3_root[len("s3://") :]
    good = [f"good-{i}" for i in range(6)]
    for name in good:
        _put_s3(tmp_path, fs, base, name)
    _put_s3(tmp_path, fs, base, "bad-utf8", "prompt not UTF-8")
    _put_s3(tmp_path, fs, base, "bad-long", "long prompt with NUL and ESC")
    _put_s3(tmp_path, fs, base, "bad-camera", "camera fx is a string")
    fs.pipe_file(f"{base}/inbox/bad-extra/notes/readme.txt", b"hello")
    fs.pipe_file(f"{base}/inbox/bad-big/prompt.txt", b"put the red can in the bin " * 50_000)  # 1.3 MB
    decisions, errors = _run_concurrently(lambda: process_inbox(Store.at(s3_root, s3_options)), 2)
    assert errors == []
    by_name = {d.name: d for d in decisions}
    assert len(decisions) == len(by_name) == 11
    assert all(by_name[n].accepted for n in good)
    assert "prompt.txt is not UTF-8 text" in by_name["bad-utf8"].reason
    assert "control character U+0000" in by_name["bad-long"].reason and len(by_name["bad-long"].reason) <= 500
    assert 'fx must be a number, got the string "115.46"' in by_name["bad-camera"].reason
    assert "unexpected folder 'notes'" in by_name["bad-extra"].reason
    assert "prompt.txt is 1.3 MiB; the limit for this file is 1.0 MiB" in by_name["bad-big"].reason
    store = Store.at(s3_root, s3_options)
    assert sorted(store.lake.scan("tasks").collect()["task_id"].to_list()) == good
    assert sorted(posixpath.basename(p) for p in fs.ls(f"{base}/inbox/done")) == good
    assert _s3_objects(fs, f"{base}/inbox/.claims") == [] and pending(store) == []
    assert fs.cat(f"{base}/inbox/rejected/bad-utf8/reason.txt").decode() == by_name["bad-utf8"].reason + "\n"
    assert not fs.exists(f"{base}/inbox/rejected/bad-big/prompt.txt")  # over the limit: not kept
    assert not fs.exists(f"{base}/inbox/rejected/bad-extra/notes/readme.txt")
    assert fs.exists(f"{base}/inbox/rejected/bad-utf8/rgb.png")


@pytest.mark.s3
def test_stale_claim_on_s3_is_taken_over(tmp_path, s3_root, s3_options):
    import fsspec

    from physworld_core.lake.storage import s3fs_kwargs

    fs = fsspec.filesystem("s3", **s3fs_kwargs(s3_options))
    base = s3_root[len("s3://") :]
    _put_s3(tmp_path, fs, base, "held")
    fs.pipe_file(f"{base}/inbox/.claims/held", json.dumps({"claimed_at": 0, "claimant": "dead"}).encode())
    store = Store.at(s3_root, s3_options)
    assert process_inbox(store, stale_after_s=10**12) == []  # not stale yet: left to its claimant
    [decision] = process_inbox(store)
    assert decision.accepted and _s3_objects(fs, f"{base}/inbox/.claims") == []
