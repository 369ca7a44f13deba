"""The perception stage: the scene perceived once per task, stored, read back as it was, read by the later
stages instead of perceiving again; the same scene again writes nothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from physworld_core.errors import LakeError
from physworld_core.ingest import ingest_scene, register_task
from physworld_core.perception import perceive as perceive_module
from physworld_core.perception.codec import decode, encode
from physworld_core.perception.stage import load_perception, run_perception_stage
from physworld_core.scene import save_scene_package
from physworld_core.store import Store


@pytest.fixture()
def stored_task(tmp_path, default_scene):
    """A task registered from a synthetic scene package folder, its scene ingested."""
    store = Store.at(str(tmp_path / "lake"))
    folder = save_scene_package(default_scene.scene, tmp_path / "capture")
    register_task(store, "kitchen", str(folder))
    ingest_scene(store, "kitchen")
    return store


def test_the_stored_perception_reads_back_as_it_was_made(stored_task):
    result = run_perception_stage(stored_task, "kitchen")
    assert result.written and result.row["target"] == result.perceived.perception.target.description
    back = load_perception(stored_task, "kitchen")
    made, read = result.perceived.perception, back.perception
    assert read.to_dict() == made.to_dict()
    assert read.target is read.objects[read.target.index]  # the grounding's objects are the perception's
    for a, b in zip(made.objects, read.objects, strict=True):
        np.testing.assert_array_equal(a.points_world, b.points_world)
        np.testing.assert_array_equal(a.mask, b.mask)
        assert a.points_world.dtype == b.points_world.dtype


def test_the_same_scene_again_writes_nothing(stored_task):
    run_perception_stage(stored_task, "kitchen")
    version = stored_task.lake.version("perceptions")
    again = run_perception_stage(stored_task, "kitchen")
    assert not again.written
    assert stored_task.lake.version("perceptions") == version


def test_later_stages_read_it_instead_of_perceiving_again(stored_task, monkeypatch):
    from physworld_core.video.stage import VideoStageConfig, run_video_stage

    run_perception_stage(stored_task, "kitchen")
    calls = []
    original = perceive_module.perceive

    def counting(scene):
        calls.append(scene.task_id)
        return original(scene)

    from physworld_core.video import checks, procedural

    for module in (perceive_module, procedural, checks):  # wherever a stage could perceive from
        monkeypatch.setattr(module, "perceive", counting)
    run_video_stage(stored_task, "kitchen", VideoStageConfig(samples=2, backend_config={"num_frames": 24}))
    assert calls == []


def test_a_task_registered_again_is_perceived_again(stored_task, tmp_path, default_scene):
    first = run_perception_stage(stored_task, "kitchen").row
    scene = dataclasses.replace(default_scene.scene, prompt="put the blue box in the bin")
    folder = save_scene_package(scene, tmp_path / "capture2")
    register_task(stored_task, "kitchen", str(folder), force=True)
    ingest_scene(stored_task, "kitchen")
    perceived = load_perception(stored_task, "kitchen")  # the stored one was made from the old scene
    assert perceived.perception.instruction.object_noun == "box"
    assert stored_task.one_row("perceptions", "kitchen")["scene_sha256"] != first["scene_sha256"]


def test_only_the_stored_types_are_read_back():
    import io
    import json

    with pytest.raises(TypeError, match="cannot store a object"):
        encode({"x": object()})
    with pytest.raises(LakeError, match="not an .npz blob"):
        decode(b"garbage", "the blob")
    document = {
        "format": "physworld-perception/1",
        "value": {"__type__": "os:system", "__id__": 0, "fields": {}},
    }
    buffer = io.BytesIO()
    np.savez(buffer, **{"tree.json": np.frombuffer(json.dumps(document).encode(), np.uint8)})
    with pytest.raises(LakeError, match="holds a os:system, which is not a stored type"):
        decode(buffer.getvalue(), "the blob")
