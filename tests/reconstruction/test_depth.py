"""Depth backends and metric calibration (``physworld_core.reconstruction.depth``).

Truth comes from the synthetic ray-caster (``tests/perception/synthetic_scenes.py``): the scene's depth, and
the same scene rendered without the can, which is what the table looks like where the can was. The
transformers backend runs a tiny random Depth Anything built and saved here (no download); its output is
noise, so what is tested is the plumbing: shapes, resizing, kinds, finite metric values, errors.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from physworld_core.errors import ReconstructionError
from physworld_core.reconstruction.depth import (
    DEPTH_BACKENDS,
    DepthBackend,
    DepthCalibrationError,
    DepthModelError,
    DepthPrediction,
    MetricDepthConfig,
    calibrate,
    load,
    metric_depth_video,
)


def _truth_depth(seed: int = 0, shape: tuple[int, int] = (60, 80)) -> np.ndarray:
    """A smooth tabletop-like depth ramp (0.45-1.1 m) with a few boxes standing out."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, shape[0])[:, None]
    depth = 0.45 + 0.65 * rows + 0.02 * np.sin(np.linspace(0, 6, shape[1]))[None, :]
    for _ in range(4):
        r, c = rng.integers(0, shape[0] - 12), rng.integers(0, shape[1] - 12)
        depth[r : r + 12, c : c + 12] -= rng.uniform(0.03, 0.12)
    return depth


def _with_outliers(prediction: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    outliers = rng.random(prediction.shape) < fraction
    corrupted = prediction.copy()
    corrupted[outliers] = rng.uniform(prediction.min(), prediction.max(), int(outliers.sum()))
    return corrupted, outliers


@pytest.mark.parametrize("kind", ["disparity", "depth"])
def test_calibration_recovers_known_scale_and_shift_despite_20_percent_outliers(kind):
    depth = _truth_depth()
    alpha, beta = (0.37, 0.8) if kind == "disparity" else (2.5, -0.4)
    space = 1.0 / depth if kind == "disparity" else depth  # where metric = alpha * prediction + beta
    noise = np.random.default_rng(1).normal(0.0, 1e-3 * space.std(), depth.shape)
    prediction, outliers = _with_outliers((space - beta) / alpha + noise, 0.2, seed=2)

    calibration = calibrate(prediction, depth, kind)

    assert calibration.alpha == pytest.approx(alpha, rel=0.01)
    assert calibration.beta == pytest.approx(beta, rel=0.01, abs=1e-3)
    assert calibration.residual_mm < 1.0  # median over held-out pixels, 20 % of which are outliers
    assert calibration.p90_mm > 10.0  # ...which the 90th percentile does show
    assert 0.75 < calibration.inlier_fraction < 0.85
    assert calibration.num_fit_pixels + calibration.num_heldout_pixels == depth.size
    metric = calibration.apply(prediction)
    assert np.median(np.abs(metric - depth)[~outliers]) < 1e-3
    report = calibration.to_dict()
    assert report["kind"] == kind and set(report) >= {"alpha", "beta", "residual_mm", "inlier_fraction"}


def test_plain_least_squares_would_not_recover_it():
    """The robust fit matters: ordinary least squares on the same corrupted disparities is far off."""
    depth = _truth_depth()
    prediction, _ = _with_outliers((1.0 / depth - 0.8) / 0.37, 0.2, seed=2)
    ls_alpha = np.polyfit(prediction.ravel(), (1.0 / depth).ravel(), 1)[0]
    assert abs(ls_alpha - 0.37) / 0.37 > 0.2
    assert calibrate(prediction, depth, "disparity").alpha == pytest.approx(0.37, rel=0.01)


def test_calibration_rejects_bad_input():
    depth = _truth_depth()
    with pytest.raises(
        DepthCalibrationError, match="prediction is 40x30 but the metric depth frame is 80x60"
    ):
        calibrate(np.ones((30, 40)), depth, "depth")
    few = np.zeros(depth.shape, dtype=bool)
    few[:5, :5] = True
    with pytest.raises(DepthCalibrationError, match="only 25 pixels .* at least 100"):
        calibrate(depth, depth, "depth", mask=few)
    invalid = depth.copy()
    invalid[1:] = 0.0  # the sensor saw one row only
    with pytest.raises(DepthCalibrationError, match="only 80 pixels"):
        calibrate(depth, invalid, "depth")
    with pytest.raises(DepthCalibrationError, match="prediction is constant"):
        calibrate(np.full(depth.shape, 3.0), depth, "disparity")
    with pytest.raises(DepthCalibrationError, match=r"degenerate calibration: alpha=-.*is it disparity"):
        calibrate(1.0 / depth, depth, "depth")  # a disparity map declared as depth
    with pytest.raises(
        DepthCalibrationError, match=r"degenerate calibration: alpha=-.*rather than disparity"
    ):
        calibrate(depth, depth, "disparity")
    with pytest.raises(ValueError, match="kind must be one of"):
        calibrate(depth, depth, "inverse")
    with pytest.raises(ValueError, match="holdout_fraction"):
        calibrate(depth, depth, "depth", holdout_fraction=0.9)


# --- the video -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def can_removed(synth, default_scene):
    """The default synthetic scene rendered again without the can: truth for the revealed table."""
    shapes = [s for s in default_scene.shapes if s.name != "can"]
    return synth.render(shapes, prompt=default_scene.scene.prompt)


class GivenPrediction(DepthBackend):
    """A backend replaying fixed predictions (stands in for a model whose output we control)."""

    name = "given"
    config_class = dict

    def __init__(self, values: np.ndarray, kind: str) -> None:
        super().__init__({})
        self.values, self.kind = values, kind

    def predict(self, frames, scene=None):
        return DepthPrediction(self.values, self.kind, np.isfinite(self.values), self.name)


def test_video_frames_are_aligned_to_the_sensor_on_static_pixels(default_scene, can_removed):
    """Each frame has its own unknown scale and shift; static pixels pin them to the scene's metric depth,
    so the changed pixels (where the can was) come out metric too."""
    scene = default_scene.scene
    frames = np.stack([scene.rgb, can_removed.scene.rgb])
    truth = np.stack([scene.depth_m, can_removed.scene.depth_m]).astype(np.float64)
    disparity = np.where(truth > 0, 1.0 / np.where(truth > 0, truth, 1.0), np.nan)
    per_frame = [(0.5, 0.3), (2.0, -1.1)]  # disparity = alpha * prediction + beta, different per frame
    values = np.stack([(disparity[t] - b) / a for t, (a, b) in enumerate(per_frame)])

    video = metric_depth_video(
        frames, scene, GivenPrediction(values, "disparity"), MetricDepthConfig(fuse_static=False)
    )

    assert video.depths_m.shape == (2, 128, 128) and video.num_frames == 2
    for t, (a, b) in enumerate(per_frame):
        assert video.calibrations[t].alpha == pytest.approx(a, rel=1e-4)
        assert video.calibrations[t].beta == pytest.approx(b, rel=1e-4, abs=1e-4)
    revealed = default_scene.mask("can") & (can_removed.scene.depth_m > 0)
    assert revealed.sum() > 100
    np.testing.assert_allclose(video.depths_m[1][revealed], can_removed.scene.depth_m[revealed], atol=1e-4)
    assert video.static_fractions[0] == 1.0 and 0.5 < video.static_fractions[1] < 0.99
    points, pixels = video.points_world(1)
    assert points.shape[1] == 3 and len(points) == len(pixels) > 1000
    assert video.to_dict()["frames"][1]["static_fraction"] == video.static_fractions[1]


def test_geometric_backend_reproduces_frame_0_exactly(default_scene):
    scene = default_scene.scene
    backend = load("geometric")
    prediction = backend.predict(scene.rgb[None], scene)
    assert prediction.kind == "depth"
    np.testing.assert_array_equal(prediction.values[0], scene.depth_m)
    np.testing.assert_array_equal(prediction.valid[0], scene.depth_m > 0)

    unfused = metric_depth_video(scene.rgb[None], scene, backend, MetricDepthConfig(fuse_static=False))
    calibration = unfused.calibrations[0]
    assert calibration.alpha == pytest.approx(1.0, abs=1e-9) and calibration.beta == pytest.approx(
        0.0, abs=1e-9
    )
    assert calibration.residual_mm < 1e-6 and calibration.inlier_fraction == 1.0
    np.testing.assert_allclose(unfused.depths_m[0], scene.depth_m, atol=1e-6)
    fused = metric_depth_video(scene.rgb[None], scene, backend)
    np.testing.assert_array_equal(fused.depths_m[0], scene.depth_m)


def test_geometric_backend_puts_revealed_table_on_the_plane(default_scene, can_removed):
    """Where the can stood, a later frame shows table: the backend gives it the fitted plane's depth."""
    scene = default_scene.scene
    frames = np.stack([scene.rgb, can_removed.scene.rgb])
    video = metric_depth_video(frames, scene, "geometric")
    revealed = default_scene.mask("can") & (can_removed.object_ids == -1)
    assert revealed.sum() > 100
    error_mm = 1000 * np.abs(video.depths_m[1][revealed] - can_removed.scene.depth_m[revealed])
    assert np.median(error_mm) < 2.0 and np.percentile(error_mm, 90) < 5.0
    unchanged = ~default_scene.mask("can")
    np.testing.assert_array_equal(video.depths_m[1][unchanged], scene.depth_m[unchanged])


def test_geometric_backend_gives_every_frame_of_a_procedural_video_depth(default_scene):
    from physworld_core.video.procedural import ProceduralVideoConfig, generate

    scene = default_scene.scene
    video = generate(scene, ProceduralVideoConfig(num_frames=24))
    depth = metric_depth_video(video.frames, scene, load("geometric"))
    assert depth.depths_m.shape == (24, 128, 128)
    assert np.all(np.isfinite(depth.depths_m))
    for t in range(24):
        assert (depth.depths_m[t] > 0).mean() >= (scene.depth_m > 0).mean() - 1e-9
        assert depth.calibrations[t].alpha == pytest.approx(1.0, abs=1e-6)
    moving = np.abs(video.frames[12].astype(int) - scene.rgb.astype(int)).max(-1) > 24
    assert moving.sum() > 100  # the carried can is somewhere else in frame 12, with depth there
    assert np.all(depth.depths_m[12][moving] > 0.2) and np.all(depth.depths_m[12][moving] < 1.5)


def test_metric_depth_video_rejects_bad_frames(default_scene):
    scene = default_scene.scene
    backend = load("geometric")
    with pytest.raises(ReconstructionError, match="frames are 64x32 but the scene's depth frame is 128x128"):
        metric_depth_video(np.zeros((2, 32, 64, 3), np.uint8), scene, backend)
    with pytest.raises(ReconstructionError, match="T×H×W×3 uint8"):
        metric_depth_video(np.zeros((2, 128, 128), np.float32), scene, backend)
    noise = np.random.default_rng(0).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    with pytest.raises(
        ReconstructionError, match=r"frame 1: only .*% of the depth pixels still look.*camera moved"
    ):
        metric_depth_video(np.concatenate([scene.rgb[None], noise]), scene, backend)


def test_registry_and_config_errors(tmp_path):
    assert {"geometric", "transformers"} <= set(DEPTH_BACKENDS)
    with pytest.raises(ValueError, match="unknown depth backend 'midas'.*geometric"):
        load("midas")
    with pytest.raises(ValueError, match="has no setting.*colour_tolerance"):
        load("geometric", colour_tolerance=3)
    with pytest.raises(ValueError, match="change_threshold"):
        load("geometric", change_threshold=0)
    with pytest.raises(DepthModelError, match="model_dir is required"):
        load("transformers")
    with pytest.raises(ValueError, match="output_kind"):
        load("transformers", model_dir=str(tmp_path), output_kind="inverse")
    with pytest.raises(ValueError, match="MetricDepthConfig|min_static_fraction"):
        MetricDepthConfig(min_static_fraction=0)


def test_importing_the_module_loads_no_model_library():
    code = (
        "import sys, physworld_core.reconstruction.depth;"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- transformers backend with a tiny random Depth Anything ---------------------------------------------------


def test_transformers_backend_runs_end_to_end(tiny_depth_anything, default_scene):
    scene = default_scene.scene
    frames = np.stack([scene.rgb, scene.rgb, scene.rgb])
    backend = load("transformers", model_dir=str(tiny_depth_anything), batch_size=2)
    assert backend.kind == "disparity"  # relative Depth Anything predicts inverse depth
    prediction = backend.predict(frames)
    assert prediction.values.shape == (3, 128, 128) and prediction.values.dtype == np.float32
    assert np.all(np.isfinite(prediction.values)) and np.ptp(prediction.values) > 0
    # Batches agree (float32: a frame's place in the batch moves the last digits).
    np.testing.assert_allclose(prediction.values[2], prediction.values[0], rtol=1e-4)

    # Random weights know nothing of depth: declare the kind whose sign fits, so the fit is not degenerate.
    valid = scene.depth_m > 0
    agrees = np.corrcoef(prediction.values[0][valid], 1.0 / scene.depth_m[valid])[0, 1] > 0
    kind = "disparity" if agrees else "depth"
    backend = load("transformers", model_dir=str(tiny_depth_anything), output_kind=kind)
    video = metric_depth_video(frames, scene, backend, MetricDepthConfig(fuse_static=False))
    assert video.depths_m.shape == (3, 128, 128)
    assert np.all(np.isfinite(video.depths_m)) and np.median(video.depths_m[:, valid]) > 0.1
    assert all(c.alpha > 0 and np.isfinite(c.residual_mm) for c in video.calibrations)


def test_transformers_backend_model_dir_errors(tmp_path, tiny_depth_anything):
    with pytest.raises(DepthModelError, match=r"model_dir .*absent.* does not exist"):
        load("transformers", model_dir=str(tmp_path / "absent"))
    with pytest.raises(DepthModelError, match=r"model_dir .* has no config\.json"):
        load("transformers", model_dir=str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "dpt"}')
    with pytest.raises(DepthModelError, match=r"has no preprocessor_config\.json"):
        load("transformers", model_dir=str(tmp_path))
    (tmp_path / "preprocessor_config.json").write_text("{}")
    (tmp_path / "config.json").write_text('{"model_type": "sapiens"}')
    with pytest.raises(DepthModelError, match="'sapiens' model.*set output_kind"):
        load("transformers", model_dir=str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "dpt"}')  # no weights in the folder
    backend = load("transformers", model_dir=str(tmp_path))
    with pytest.raises(DepthModelError, match=r"cannot load a depth-estimation model"):
        backend.predict(np.zeros((1, 8, 8, 3), np.uint8))


def test_missing_models_extra_says_what_to_install(monkeypatch, tiny_depth_anything):
    monkeypatch.setitem(sys.modules, "transformers", None)  # what `import transformers` sees when absent
    with pytest.raises(DepthModelError, match=r"cannot import transformers .*pip install -e '\.\[models\]'"):
        load("transformers", model_dir=str(tiny_depth_anything))


def test_an_mp4_round_trip_does_not_count_as_change(default_scene):
    """Videos are stored as mp4: codec ringing at saturated edges must not unanchor the static scene."""
    from physworld_core.video.codec import decode_mp4, encode_mp4
    from physworld_core.video.procedural import ProceduralVideoConfig, generate

    scene = default_scene.scene
    video = generate(scene, ProceduralVideoConfig(num_frames=24))
    decoded = decode_mp4(encode_mp4(video.frames, video.fps))
    assert np.abs(decoded[0].astype(int) - scene.rgb.astype(int)).max() > 24  # the codec did change pixels
    depth = metric_depth_video(decoded, scene, "geometric")
    assert depth.static_fractions[0] == 1.0
    np.testing.assert_array_equal(depth.depths_m[0], scene.depth_m)
    assert min(depth.static_fractions) > 0.9
