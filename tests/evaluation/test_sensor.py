"""The depth sensor model: its figures hold on frames whose truth is known, a benchmark source names a preset,
and a benchmark capture through the realistic preset still perceives the task."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.errors import SceneError
from physworld_core.evaluation.sensor import SENSORS, SensorModel, get_sensor
from physworld_core.evaluation.worlds import BenchmarkTask

REALISTIC = SENSORS["realistic"]


def _flat(z: float, shape=(120, 160), grey: int = 128):
    return np.full(shape, z, np.float32), np.full((*shape, 3), grey, np.uint8)


def test_ideal_gives_the_rendered_frame_unchanged():
    depth, rgb = _flat(0.8)
    assert get_sensor("ideal").apply(depth, rgb, fx=200.0, seed=0) is depth


def test_noise_grows_with_the_square_of_distance_and_the_bias_is_added():
    model = SensorModel("noise", noise_per_m2=1.6e-3, bias_m=0.002)
    for z in (0.5, 1.0, 2.0):
        depth, rgb = _flat(z, shape=(200, 200))
        out = model.apply(depth, rgb, fx=200.0, seed=1)
        assert np.std(out - depth) == pytest.approx(1.6e-3 * z**2, rel=0.05)
        assert np.mean(out - depth) == pytest.approx(0.002, abs=3 * 1.6e-3 * z**2 / 200)


def test_depth_comes_in_steps_that_grow_with_the_square_of_distance():
    model = SensorModel("steps", quantisation_per_m2=2.8e-3)
    depth = np.linspace(0.9, 1.1, 200 * 200, dtype=np.float32).reshape(200, 200)
    out = model.apply(depth, np.zeros((200, 200, 3), np.uint8), fx=200.0, seed=0)
    levels = np.unique(out).astype(np.float64)
    middle = (levels[1:] + levels[:-1]) / 2
    assert len(levels) > 50 and np.allclose(np.diff(levels) / middle**2, 2.8e-3, rtol=0.02)  # 2.8 mm · z²
    assert np.abs(out - depth).max() <= 0.5 * 2.8e-3 * 1.1**2 + 1e-6


def test_a_near_box_casts_a_shadow_band_as_wide_as_the_baseline_says_on_one_side_only():
    depth, rgb = _flat(1.0)
    depth[40:80, 60:90] = 0.8  # a box 20 cm nearer
    fx = 300.0
    out = SensorModel("shadow", baseline_m=0.075).apply(depth, rgb, fx=fx, seed=0)
    holes = out == 0
    band = fx * 0.075 * (1 / 0.8 - 1 / 1.0)  # 5.6 px
    row = holes[60]
    assert row[90 : 90 + int(band)].all() and not row[90 + int(np.ceil(band)) :].any()
    assert not row[:60].any() and not holes[40:80, 60:90].any()  # not left of the box, not on it
    assert not holes[:40].any() and not holes[80:].any()


def test_dark_and_saturated_pixels_lose_depth_with_the_stated_probability_reproducibly():
    depth, rgb = _flat(1.0, shape=(200, 200))
    rgb[:100] = 5  # dark
    rgb[100:, :100] = 255  # saturated
    out = REALISTIC.apply(depth, rgb, fx=200.0, seed=3)
    assert (out[:100] == 0).mean() == pytest.approx(0.5, abs=0.03)
    assert (out[100:, :100] == 0).mean() == pytest.approx(0.5, abs=0.04)
    assert not (out[100:, 100:] == 0).any()
    assert np.array_equal(out, REALISTIC.apply(depth, rgb, fx=200.0, seed=3))
    assert not np.array_equal(out, REALISTIC.apply(depth, rgb, fx=200.0, seed=4))


@pytest.mark.parametrize(
    "field, value", [("noise_per_m2", -1.0), ("bias_m", 0.2), ("dark_hole_probability", 1.5), ("name", "a b")]
)
def test_a_bad_model_is_refused_naming_the_field(field, value):
    kwargs = {"name": "x", field: value}
    with pytest.raises(ValueError, match=field.split("_")[0]):
        SensorModel(**kwargs)


def test_a_benchmark_source_names_its_sensor_and_reads_back():
    task = BenchmarkTask.parse("benchmark:bin:3:realistic")
    assert (task.family, task.seed, task.sensor) == ("bin", 3, "realistic")
    assert task.source == "benchmark:bin:3:realistic" and task.task_id == "bin-0003"
    assert (
        BenchmarkTask.parse("benchmark:bin:3").source == "benchmark:bin:3"
    )  # the default is not spelled out
    with pytest.raises(SceneError, match="no depth sensor preset 'lidar'; presets: ideal, realistic"):
        BenchmarkTask.parse("benchmark:bin:3:lidar")


def test_a_realistic_capture_has_holes_and_noise_and_still_grounds_the_same_target():
    from physworld_core.perception.perceive import perceive

    ideal = BenchmarkTask("push", 1).capture()
    real = BenchmarkTask("push", 1, "realistic").capture()
    holes = real.depth_m <= 0
    assert 0 < holes.mean() < 0.05 and not (ideal.depth_m <= 0).any()
    both = ~holes
    error = real.depth_m[both] - ideal.depth_m[both]
    assert 0.001 < np.median(error) < 0.003 and error.std() > 1e-4  # the bias, and noise around it
    a, b = perceive(ideal).target, perceive(real).target
    assert np.linalg.norm(a.points_world.mean(0) - b.points_world.mean(0)) < 0.01
