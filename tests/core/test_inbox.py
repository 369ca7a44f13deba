"""The inbox: good packages become tasks exactly once; each kind of bad package is rejected with a reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from physworld_core.inbox import pending, process_inbox
from physworld_core.ingest import capture_from_source
from physworld_core.scene import save_scene_package
from physworld_core.store import Store
from tests.core.test_scene import make_scene


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


def test_same_name_dropped_twice_keeps_both(tmp_path):
    store = Store.at(str(tmp_path / "lake"))
    inbox = tmp_path / "lake" / "inbox"
    _drop(inbox, "again")
    process_inbox(store)
    _drop(inbox, "again", prompt="put the blue box in the bin")
    [decision] = process_inbox(store)
    assert decision.accepted and store.one_row("tasks", "again")["prompt"] == "put the blue box in the bin"
    assert len(list((inbox / "done").iterdir())) == 2


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
