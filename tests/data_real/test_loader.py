"""The real captures in tests/data/real load, are metric, and their ground truth agrees with their depth.

These tests check the data and the loader, not the pipeline: every capture has the arrays the loader promises,
its depth is in metres and looks like a tabletop, its masks sit on objects that stand above the table, its
poses sit where the depth says the objects are, and the files stay small enough to live in the repository.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests import real_captures
from tests.real_captures import DATA_DIR, RealCapture, capture_names, load_capture

NAMES = capture_names()
MAX_CAPTURE_BYTES = 1_500_000
MAX_FOLDER_BYTES = 8_000_000


@pytest.fixture(scope="module", params=NAMES)
def capture(request) -> RealCapture:
    return load_capture(request.param)


def _backproject(capture: RealCapture, depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    v, u = np.nonzero(mask & (depth > 0))
    z = depth[v, u].astype(np.float64)
    cam = capture.camera
    return np.stack([(u - cam.cx) * z / cam.fx, (v - cam.cy) * z / cam.fy, z], axis=1)


def _table_plane(capture: RealCapture) -> tuple[np.ndarray, float]:
    """RANSAC plane through the unlabelled (or table-labelled) pixels, oriented so the camera is above it."""
    if capture.name in _PLANES:
        return _PLANES[capture.name]
    background = capture.support_mask if capture.support_mask is not None else capture.instances == 0
    points = _backproject(capture, capture.depth, background)
    rng = np.random.default_rng(0)
    points = points[rng.choice(len(points), min(len(points), 5000), replace=False)]
    # 300 hypotheses from random point triples, all scored in one matrix product.
    a, b, c = (points[rng.choice(len(points), 300)] for _ in range(3))
    normals = np.cross(b - a, c - a)
    lengths = np.linalg.norm(normals, axis=1)
    keep = lengths > 1e-9
    normals = normals[keep] / lengths[keep, None]
    offsets = -np.einsum("ij,ij->i", normals, a[keep])
    counts = (np.abs(points @ normals.T + offsets) < 0.01).sum(axis=0)
    best = int(np.argmax(counts))
    inliers = points[np.abs(points @ normals[best] + offsets[best]) < 0.01]
    centre = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centre, full_matrices=False)[2][2]
    offset = float(-normal @ centre)
    _PLANES[capture.name] = (normal, offset) if offset > 0 else (-normal, -offset)
    return _PLANES[capture.name]


_PLANES: dict[str, tuple[np.ndarray, float]] = {}


def test_there_are_real_captures_with_masks_and_with_poses():
    captures = [load_capture(name) for name in NAMES]
    assert 3 <= len(captures) <= 6
    assert any(c.instances is not None for c in captures)
    assert any(c.poses for c in captures)
    # Issue #25's clutter case: at least one capture where many labelled objects touch each other.
    assert max(len(c.objects) for c in captures) >= 10


def test_arrays_have_the_promised_types_and_shapes(capture: RealCapture):
    h, w = capture.camera.height, capture.camera.width
    assert capture.rgb.dtype == np.uint8 and capture.rgb.shape == (h, w, 3)
    assert capture.depth.dtype == np.float32 and capture.depth.shape == (h, w)
    assert np.isfinite(capture.depth).all() and (capture.depth >= 0).all()
    assert capture.rgb.std() > 10, "colour image is blank"
    assert capture.camera.cam_to_world is None
    assert capture.objects, "a capture needs at least one annotated object"
    if capture.instances is not None:
        assert capture.instances.dtype == np.int32 and capture.instances.shape == (h, w)
        for obj in capture.objects:
            assert capture.mask(obj.id).sum() >= 300, f"{obj.name} has a tiny mask"
    for pose in capture.poses.values():
        rotation = pose[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-4)
        assert np.linalg.det(rotation) == pytest.approx(1.0, abs=1e-4)
        np.testing.assert_allclose(pose[3], [0, 0, 0, 1])


def test_intrinsics_are_a_plausible_pinhole(capture: RealCapture):
    cam = capture.camera
    assert cam.fx == pytest.approx(cam.fy, rel=0.01)
    assert 0.4 * cam.width < cam.fx < 2.5 * cam.width
    assert abs(cam.cx - cam.width / 2) < 0.1 * cam.width
    assert abs(cam.cy - cam.height / 2) < 0.1 * cam.height


def test_depth_is_metric_and_looks_like_a_tabletop(capture: RealCapture):
    valid = capture.depth > 0
    assert valid.mean() > 0.4, f"only {valid.mean():.0%} of the depth is valid"
    assert 0.3 < float(np.median(capture.depth[valid])) < 2.5
    normal, offset = _table_plane(capture)
    # The table is a plane 0.3-1.5 m from the camera, seen from above (the camera on its positive side) at a
    # steep enough angle: its normal points back towards the camera.
    assert 0.3 < offset < 1.5
    assert normal[2] < -0.3, f"table normal {normal} in camera axes"
    if capture.depth_reference is not None:
        reference = capture.depth_reference
        both = valid & (reference > 0) & (capture.instances == 0)
        # Away from the annotated (transparent) objects the sensor agrees with the reference depth.
        assert np.median(np.abs(capture.depth[both] - reference[both])) < 0.005


def test_masks_sit_on_objects_above_the_table(capture: RealCapture):
    if capture.instances is None:
        pytest.skip("no masks")
    normal, offset = _table_plane(capture)
    depth = capture.depth_reference if capture.depth_reference is not None else capture.depth
    for obj in capture.objects:
        mask = capture.mask(obj.id)
        assert (depth[mask] > 0).mean() > 0.7, f"{obj.name}: the mask is mostly over missing depth"
        heights = _backproject(capture, depth, mask) @ normal + offset
        assert (heights > 0.005).mean() > 0.9, f"{obj.name}: the mask covers table, not an object"
        assert 0.01 < np.median(heights) < 0.4, f"{obj.name}: median height {np.median(heights):.3f} m"
    if capture.support_mask is not None:
        table = _backproject(capture, capture.depth, capture.support_mask) @ normal + offset
        assert np.median(np.abs(table)) < 0.005
        assert not (capture.support_mask & (capture.instances > 0)).any()


def test_poses_agree_with_the_depth_inside_their_masks(capture: RealCapture):
    if not capture.poses:
        pytest.skip("no poses")
    assert capture.instances is not None
    for obj in capture.objects:
        translation = obj.pose_cam[:3, 3]
        points = _backproject(capture, capture.depth, capture.mask(obj.id))
        visible_z = float(np.median(points[:, 2]))
        # The visible surface lies in front of the model origin (inside the object), by less than its size.
        assert translation[2] - 0.06 < visible_z < translation[2] + 0.01, (obj.name, visible_z, translation)
        lateral = np.median(points[:, :2], axis=0) - translation[:2]
        assert np.all(np.abs(lateral) < 0.03), (obj.name, lateral)
        cam = capture.camera
        u = cam.fx * translation[0] / translation[2] + cam.cx
        v = cam.fy * translation[1] / translation[2] + cam.cy
        rows, cols = np.nonzero(capture.mask(obj.id))
        assert cols.min() <= u <= cols.max() and rows.min() <= v <= rows.max(), obj.name


def test_prompts_and_descriptions_name_objects_that_are_there(capture: RealCapture):
    assert len(capture.description) > 40
    assert 2 <= len(capture.prompts) <= 3
    head_nouns = {obj.name.split()[-1].lower() for obj in capture.objects}
    for prompt in capture.prompts:
        words = set(re.findall(r"[a-z\-]+", prompt.lower()))
        assert words & head_nouns, f"prompt {prompt!r} names none of {sorted(head_nouns)}"


def test_sources_and_licences_are_recorded(capture: RealCapture):
    source = capture.source
    assert source["repository"].startswith("https://github.com/")
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert source["paths"]
    meta = json.loads((capture.folder / "meta.json").read_text())
    assert capture.licence
    for licence_file in meta["licence"]["files"]:
        assert (DATA_DIR / licence_file).is_file(), licence_file
    readme = (DATA_DIR / "README.md").read_text()
    assert capture.name in readme and source["commit"] in readme


def test_files_stay_small():
    total = 0
    for path in DATA_DIR.rglob("*"):
        if path.is_file():
            total += path.stat().st_size
    assert total < MAX_FOLDER_BYTES, f"tests/data/real holds {total / 1e6:.1f} MB"
    for name in NAMES:
        size = sum(p.stat().st_size for p in (DATA_DIR / name).iterdir())
        assert size < MAX_CAPTURE_BYTES, f"{name} is {size / 1e6:.2f} MB"


def test_unknown_capture_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="no real capture named 'nope'.*osd_"):
        load_capture("nope")


def test_loader_refuses_labels_that_disagree_with_the_object_list(tmp_path: Path, monkeypatch):
    name = next(n for n in NAMES if load_capture(n).instances is not None)
    shutil.copytree(DATA_DIR / name, tmp_path / name)
    meta_path = tmp_path / name / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["objects"] = meta["objects"][:-1]
    meta_path.write_text(json.dumps(meta))
    monkeypatch.setattr(real_captures, "DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match="do not match the objects"):
        real_captures.load_capture(name)
