"""Registering tasks: an id names one task for good; a folder's content is captured when it is added."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from physworld_core.errors import PhysworldError, SceneError, TaskExistsError
from physworld_core.ingest import capture_from_source, ingest_scene, register_task, store_package
from physworld_core.scene import read_package_folder, save_scene_package
from physworld_core.store import Store
from tests.core.test_scene import make_scene

PROMPT = "put the red can in the bin"


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store.at(str(tmp_path / "lake"))


def _stored_source(store: Store, tmp_path, name: str = "pkg", **overrides) -> str:
    folder = save_scene_package(make_scene(**overrides), tmp_path / name)
    return "package:" + store_package(store, read_package_folder(folder))


def test_same_source_and_prompt_again_is_a_no_op(store, tmp_path):
    source = _stored_source(store, tmp_path)
    row = register_task(store, "t-1", source, PROMPT)
    version = store.lake.version("tasks")
    assert register_task(store, "t-1", source, PROMPT) == row
    assert register_task(store, "t-1", source, f"  {PROMPT}\n") == row  # the same prompt once stripped
    assert store.lake.version("tasks") == version  # no new Delta commit


def test_different_source_or_prompt_is_refused_with_one_line(store, tmp_path):
    """Re-registering an id used to overwrite its row while scenes/rollouts still held the old task."""
    source = _stored_source(store, tmp_path)
    other = _stored_source(store, tmp_path, "other", prompt="put the blue box in the bin")
    register_task(store, "bin-0007", source, PROMPT)
    version = store.lake.version("tasks")
    with pytest.raises(TaskExistsError) as error:
        register_task(store, "bin-0007", other, PROMPT)
    message = str(error.value)
    assert message.startswith(f"task bin-0007 is already registered as {source} with prompt '{PROMPT}', not ")
    assert message.endswith("; pass force to replace it (CLI: --force)") and "\n" not in message
    assert isinstance(error.value, PhysworldError) and error.value.existing["source"] == source
    with pytest.raises(TaskExistsError, match=r"with prompt 'put the red can in the bin', not prompt 'put"):
        register_task(store, "bin-0007", source, "put the can on the plate")
    assert store.lake.version("tasks") == version
    assert store.one_row("tasks", "bin-0007")["source"] == source


def test_force_replaces(store, tmp_path):
    register_task(store, "t-1", _stored_source(store, tmp_path), PROMPT)
    other = _stored_source(store, tmp_path, "other")
    row = register_task(store, "t-1", other, "put the can on the plate", force=True)
    stored = store.one_row("tasks", "t-1")
    assert (
        (stored["source"], stored["prompt"])
        == (other, "put the can on the plate")
        == (row["source"], row["prompt"])
    )


def test_folder_is_captured_when_added(store, tmp_path, monkeypatch):
    """A folder used to be stored as a (relative) path: it failed from another directory, and edits made
    after validation were what ran."""
    save_scene_package(make_scene(), tmp_path / "captures" / "kitchen")
    monkeypatch.chdir(tmp_path)
    row = register_task(store, "kitchen", "captures/kitchen")
    assert row["source"].startswith("package:") and row["prompt"] == PROMPT
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(tmp_path / "captures" / "kitchen" / "rgb.png")
    (tmp_path / "captures" / "kitchen" / "prompt.txt").write_text("put the blue box in the bin")
    monkeypatch.chdir(tmp_path / "captures")
    scene = ingest_scene(store, "kitchen")
    assert scene.prompt == PROMPT and int(scene.rgb[0, 0, 0]) == 120 and scene.source == row["source"]


def test_unchanged_folder_again_is_a_no_op_and_a_changed_one_is_refused(store, tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "kitchen")
    row = register_task(store, "kitchen", str(folder))
    version = store.lake.version("tasks")
    assert register_task(store, "kitchen", str(folder)) == row
    assert store.lake.version("tasks") == version
    with pytest.raises(
        TaskExistsError, match=r"^task kitchen is already registered as package:.*, not prompt 'put"
    ):
        register_task(store, "kitchen", str(folder), "put the can on the plate")  # same files, another prompt
    (folder / "prompt.txt").write_text("put the blue box in the bin")
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(folder / "rgb.png")
    with pytest.raises(TaskExistsError, match=rf"not the package at {folder} with prompt 'put the blue box"):
        register_task(store, "kitchen", str(folder))
    assert store.lake.version("tasks") == version
    replaced = register_task(store, "kitchen", str(folder), force=True)
    assert replaced["source"] != row["source"] and replaced["prompt"] == "put the blue box in the bin"
    task = store.one_row("tasks", "kitchen")
    assert int(capture_from_source(store, "kitchen", task["source"], task["prompt"]).rgb.max()) == 0


def test_bad_folder_registers_nothing(store, tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "kitchen")
    (folder / "prompt.txt").unlink()
    (folder / "prompt.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(SceneError, match="prompt.txt is a symbolic link"):
        register_task(store, "kitchen", str(folder))
    assert not store.lake.exists("tasks") and not (tmp_path / "lake" / "blobs").exists()


@pytest.mark.parametrize(
    "prompt, message",
    [
        (
            "put the can\x1b[2J in the bin",
            r"task t-1's prompt holds the control character U\+001B at character 12",
        ),
        ("x" * 5000, r"task t-1's prompt is 5,000 characters; the limit is 1,000"),
    ],
)
def test_given_prompt_is_held_to_the_package_rules(store, tmp_path, prompt, message):
    source = _stored_source(store, tmp_path)
    with pytest.raises(SceneError, match=message):
        register_task(store, "t-1", source, prompt)
