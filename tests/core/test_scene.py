"""Scene packages: valid ones load; each kind of bad input names the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from physworld_core.errors import SceneError
from physworld_core.scene import CameraSpec, ScenePackage, load_scene_package, save_scene_package
from physworld_core.sim.camera import look_at_camera

CAMERA = look_at_camera((0.45, 0.0, 0.6), (0.0, 0.0, 0.0), 32, 24, 58)


def make_scene(**overrides) -> ScenePackage:
    rgb = np.full((24, 32, 3), 120, np.uint8)
    depth = np.full((24, 32), 0.7, np.float32)
    kwargs = {
        "task_id": "t1",
        "rgb": rgb,
        "depth_m": depth,
        "camera": CAMERA,
        "prompt": "put the red can in the bin",
    }
    kwargs.update(overrides)
    return ScenePackage(**kwargs)


def test_round_trip(tmp_path):
    scene = make_scene()
    folder = save_scene_package(scene, tmp_path / "pkg")
    loaded = load_scene_package(folder)
    assert loaded.prompt == scene.prompt
    np.testing.assert_allclose(loaded.depth_m, scene.depth_m)
    np.testing.assert_allclose(loaded.camera.extrinsic, CAMERA.extrinsic)


def test_depth_png_millimetres(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "depth.npy").unlink()
    Image.fromarray(np.full((24, 32), 700, np.uint16)).save(folder / "depth.png")
    assert load_scene_package(folder).depth_m[0, 0] == pytest.approx(0.7)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"depth_m": np.full((20, 32), 0.7, np.float32)}, "same size"),
        ({"depth_m": np.zeros((24, 32), np.float32)}, "valid values"),
        ({"depth_m": np.full((24, 32), np.nan, np.float32)}, "valid values"),
        ({"depth_m": np.full((24, 32), 700.0, np.float32)}, "metres"),
        ({"prompt": "   "}, "prompt is empty"),
        ({"task_id": "../x"}, "not allowed"),
    ],
)
def test_bad_scene(overrides, message):
    with pytest.raises(SceneError, match=message):
        make_scene(**overrides)


def test_intrinsics_outside_image():
    with pytest.raises(SceneError, match="outside"):
        CameraSpec(fx=100, fy=100, cx=500, cy=10, width=32, height=24)


def test_missing_intrinsics(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    data = json.loads((folder / "camera.json").read_text())
    del data["fx"]
    (folder / "camera.json").write_text(json.dumps(data))
    with pytest.raises(SceneError, match="missing intrinsics fx"):
        load_scene_package(folder)


def test_missing_extrinsics():
    camera = CameraSpec(fx=30, fy=30, cx=16, cy=12, width=32, height=24)
    with pytest.raises(SceneError, match="cam_to_world"):
        make_scene(camera=camera)


def test_unreadable_png(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "rgb.png").write_bytes(b"not a png")
    with pytest.raises(SceneError, match="unreadable PNG"):
        load_scene_package(folder)
