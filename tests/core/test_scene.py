"""Scene packages: valid ones load; each kind of bad input names the problem."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from physworld_core.errors import SceneError
from physworld_core.limits import PackageLimits
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


# --- untrusted packages: limits, links, special files, text (issue #29) -------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A valid 8-bit grey PNG of ``width`` × ``height`` black pixels, a few kB on disk (zlib of zeros)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    compressor = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_image_beyond_the_size_limit_is_refused_from_its_header(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "rgb.png").write_bytes(png_claiming(6000, 6000))
    assert (folder / "rgb.png").stat().st_size < 200_000
    with pytest.raises(SceneError, match=r"rgb.png is 6000x6000 pixels; the limit is 4096 pixels a side"):
        load_scene_package(folder)


def test_depth_npy_header_beyond_the_size_limit_is_refused_before_allocation(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }"
    header += " " * (63 - len(header) % 64) + "\n"
    (folder / "depth.npy").write_bytes(
        b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    )
    with pytest.raises(SceneError, match=r"depth.npy is 100000x100000 pixels"):
        load_scene_package(folder)


def test_file_beyond_the_size_limit_is_refused_before_reading(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "depth.npy").unlink()
    with open(folder / "depth.npy", "wb") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GiB that takes no disk
    with pytest.raises(SceneError, match=r"depth.npy is 1.0 GiB; the limit for this file is 128.0 MiB"):
        load_scene_package(folder)


def test_limits_are_one_config(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    with pytest.raises(SceneError, match=r"rgb.png is 32x24 pixels; the limit is 16 pixels a side"):
        load_scene_package(folder, limits=PackageLimits(max_image_side=16))
    with pytest.raises(SceneError, match=r"is 26 characters; the limit is 10"):
        load_scene_package(folder, limits=PackageLimits(max_prompt_chars=10))
    with pytest.raises(ValueError, match="max_prompt_chars must be a positive integer"):
        PackageLimits(max_prompt_chars=0)
    with pytest.raises(ValueError, match="allowed_control_chars"):
        PackageLimits(allowed_control_chars="\nx")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfeput the can in the bin", r"prompt.txt is not UTF-8 text \(byte 0xff at offset 0\)"),
        (
            b"put the \x00can\x1b[2J in the bin",
            r"prompt.txt holds the control character U\+0000 at character 9",
        ),
        (b"put the can " * 1700, r"prompt.txt is 20,399 characters; the limit is 1,000"),
    ],
    ids=["not UTF-8", "NUL and ESC", "20,000 characters"],
)
def test_bad_prompt_text(tmp_path, content, message):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "prompt.txt").write_bytes(content)
    with pytest.raises(SceneError, match=message) as error:
        load_scene_package(folder)
    assert len(str(error.value)) < 300 and "\x00" not in str(error.value) and "\x1b" not in str(error.value)


def test_windows_prompt_is_read(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "prompt.txt").write_bytes(b"\xef\xbb\xbfput the red can\r\nin the bin\r\n")
    assert load_scene_package(folder).prompt == "put the red can\nin the bin"


def test_symlinks_are_refused_and_not_followed(tmp_path):
    outside = tmp_path / "hostname"
    outside.write_text("secret-host\n")
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "prompt.txt").unlink()
    (folder / "prompt.txt").symlink_to(outside)
    with pytest.raises(SceneError, match=r"pkg/prompt.txt is a symbolic link"):
        load_scene_package(folder)
    (folder / "prompt.txt").unlink()
    (folder / "prompt.txt").symlink_to(tmp_path / "absent")  # dangling
    with pytest.raises(SceneError, match=r"pkg/prompt.txt is a symbolic link"):
        load_scene_package(folder)


@pytest.mark.timeout(30)
def test_special_file_is_refused_without_opening_it(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "prompt.txt").unlink()
    os.mkfifo(folder / "prompt.txt")  # reading it would block for ever
    with pytest.raises(SceneError, match=r"pkg/prompt.txt is a special file, not a regular file"):
        load_scene_package(folder)


def test_unexpected_entries_are_refused(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(SceneError, match=r"unexpected file 'notes.txt'; a scene package holds only rgb.png"):
        load_scene_package(folder)
    (folder / "notes.txt").unlink()
    (folder / "more").mkdir()
    with pytest.raises(SceneError, match=r"unexpected folder 'more'"):
        load_scene_package(folder)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("fx", "115.46", r'^camera.json: fx must be a number, got the string "115.46"$'),
        ("fy", True, r"^camera.json: fy must be a number, got true$"),
        ("width", 128.9, r"^camera.json: width must be a whole number of pixels, got 128.9$"),
        ("height", "24", r'^camera.json: height must be a number, got the string "24"$'),
        ("fx", 1e300, r"^camera.json: fx must be a positive number of pixels up to 1e\+06, got 1e\+300$"),
        ("cx", None, r"^camera.json: cx must be a number, got null$"),
    ],
)
def test_camera_values_that_are_not_numbers(field, value, message):
    data = json.loads(CAMERA.to_json())
    data[field] = value
    with pytest.raises(SceneError, match=message):
        CameraSpec.from_dict(data)


def _matrix_with(row: int, col: int, value) -> list[list]:
    matrix = [list(r) for r in CAMERA.cam_to_world]
    matrix[row][col] = value
    return matrix


@pytest.mark.parametrize(
    "matrix, message",
    [
        (
            _matrix_with(1, 2, float("nan")),
            r"^camera.json: cam_to_world\[1\]\[2\] must be a finite number, got nan$",
        ),
        (
            _matrix_with(0, 3, "0.45"),
            r'^camera.json: cam_to_world\[0\]\[3\] must be a number, got the string "0.45"$',
        ),
        (
            _matrix_with(3, 2, 1.0),
            r"^camera.json: cam_to_world bottom row must be \[0, 0, 0, 1\], got \[0.0, 0.0, 1.0",
        ),
        ([[1, 0, 0, 0]] * 3, r"^camera.json: cam_to_world must be null or 4 rows of 4 numbers"),
    ],
    ids=["NaN", "string", "bottom row", "3 rows"],
)
def test_camera_matrix_names_the_bad_entry(matrix, message):
    data = json.loads(CAMERA.to_json())
    data["cam_to_world"] = matrix
    with pytest.raises(SceneError, match=message):
        CameraSpec.from_dict(data)


def test_camera_json_with_nan_names_the_file_and_entry(tmp_path):
    folder = save_scene_package(make_scene(), tmp_path / "pkg")
    data = json.loads((folder / "camera.json").read_text())
    data["cam_to_world"][2][0] = float("nan")
    (folder / "camera.json").write_text(json.dumps(data))  # json writes the NaN token, which json reads back
    with pytest.raises(SceneError, match=r"pkg/camera.json: cam_to_world\[2\]\[0\] must be a finite number"):
        load_scene_package(folder)


def test_camera_size_is_a_whole_number_of_pixels():
    data = json.loads(CAMERA.to_json())
    data["width"], data["height"] = 32.0, 24.0  # what a float array's tolist() writes
    camera = CameraSpec.from_dict(data)
    assert (camera.width, camera.height) == (32, 24) and isinstance(camera.width, int)
    data["height"] = 24.5  # used to be cut to 24
    with pytest.raises(SceneError, match=r"^camera.json: height must be a whole number of pixels, got 24.5$"):
        CameraSpec.from_dict(data)
