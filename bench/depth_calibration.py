"""Metric depth error of the depth backends on benchmark worlds, for frame 0 and for the video's moving parts.

    .venv/bin/python -m bench.depth_calibration                          # bin, seeds 0-4 (~2 min)
    .venv/bin/python -m bench.depth_calibration --families bin,push --seeds 0-2

Per world: capture the RGB-D frame, generate the procedural task video, and re-render the *true* depth of
every video frame with the video's own renderer (the moved object's z-buffer over the background it was
composited on; frame 0 is the sensor). The truth is used only for scoring. Methods:

- ``geometric``: the offline backend (sensor depth where unchanged, table plane where table shows, a height
  prior for the moved object), through :func:`metric_depth_video`.
- ``distorted``: the true depth made into what a relative monocular model gives: disparity with an unknown
  per-frame scale and shift (the scale drifting ±15 % over the clip), 2 % noise and 10 % outlier pixels;
  calibrated per frame on static pixels by :func:`metric_depth_video`. Shows calibration recovering metric
  depth.
- ``distorted_f0``: the same prediction with frame 0's fit applied to every frame, i.e. without per-frame
  alignment: what the drift costs.

Columns: ``f0`` is frame 0's calibration residual on held-out sensor pixels (the pixels the fit never saw);
``mov`` is the error on frames 1.. at the pixels whose true depth differs from the sensor's by more than
5 mm (where the object was and is: what the 4D reconstruction needs), with a pixel given no depth counted as
wrong by its full depth; ``cover`` is the share of those pixels given a depth. ``alpha0`` is frame 0's
fitted scale, ``(true)`` the distortion's (known for the distorted rows only); ``s/frame`` times
prediction + calibration per frame.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from physworld_core.errors import PhysworldError
from physworld_core.reconstruction.depth import (
    DepthBackend,
    DepthPrediction,
    MetricDepthConfig,
    calibrate,
    metric_depth_video,
)

MOVED_MM = 5.0


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


class GivenPrediction(DepthBackend):
    """Replays a fixed prediction (the distorted truth) through the normal calibration path."""

    name = "given"
    config_class = dict

    def __init__(self, values: np.ndarray, kind: str) -> None:
        super().__init__({})
        self.values, self.kind = values, kind

    def predict(self, frames, scene=None) -> DepthPrediction:
        return DepthPrediction(self.values, self.kind, np.isfinite(self.values), self.name)


def true_video_depth(scene, perception, config, frames: np.ndarray) -> np.ndarray:
    """T×H×W true depth of the procedural video, from its own renderer.

    The renderer draws the moved object's points over a background (the scene with the object's pixels
    filled as table, whose depth it keeps). Rendering the points with their camera depth encoded as colour
    (R = 1 marks the object, G·256 + B is the depth in 0.1 mm) over a black background gives, per pixel,
    the depth of exactly what the video shows. Checked: with the real colours the same renderer reproduces
    the video's frames.
    """
    from physworld_core.video.procedural import SplatRenderer, plan_trajectory

    renderer = SplatRenderer(scene, perception, config)
    trajectory = plan_trajectory(perception, config)
    colours, background_rgb = renderer.colours, renderer.background_rgb
    depths = np.empty(frames.shape[:3], dtype=np.float64)
    rotation, position = renderer.cam_to_world[:3, :3], renderer.camera_position
    for index, transform in enumerate(trajectory.transforms_world):
        if np.allclose(transform, np.eye(4)):
            depths[index] = scene.depth_m
            continue
        if not np.array_equal(renderer.render(transform), frames[index]):
            raise RuntimeError(
                f"frame {index}: re-rendering does not reproduce the video; truth would be wrong"
            )
        moved = renderer.points @ transform[:3, :3].T + transform[:3, 3]
        units = np.clip(np.round(((moved - position) @ rotation)[:, 2] * 1e4), 0, 65535).astype(np.int64)
        renderer.colours = np.stack([np.ones_like(units), units >> 8, units & 255], 1).astype(np.uint8)
        renderer.background_rgb = np.zeros_like(background_rgb)
        try:
            encoded = renderer.render(transform).astype(np.int64)
        finally:
            renderer.colours, renderer.background_rgb = colours, background_rgb
        on_object = encoded[..., 0] == 1
        depths[index] = np.where(
            on_object, (encoded[..., 1] * 256 + encoded[..., 2]) / 1e4, renderer.background_depth
        )
    return np.where(np.isfinite(depths), depths, 0.0)


def distort(truth: np.ndarray, seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Disparity with a per-frame unknown affine map (drifting scale), noise and outliers; NaN where no truth."""
    rng = np.random.default_rng(seed)
    disparity = np.where(truth > 0, 1.0 / np.where(truth > 0, truth, 1.0), np.nan)
    base_alpha, base_beta = rng.uniform(0.2, 5.0), rng.uniform(-0.5, 0.5) * np.nanmean(disparity)
    values, maps = np.empty_like(disparity), []
    for t in range(len(truth)):
        alpha = base_alpha * (1.0 + 0.15 * np.sin(2 * np.pi * t / max(len(truth) - 1, 1) + rng.uniform(0, 6)))
        beta = base_beta + rng.normal(0.0, 0.02) * np.nanmean(disparity[t])
        noisy = disparity[t] * (1.0 + rng.normal(0.0, 0.02, disparity[t].shape))
        outliers = rng.random(noisy.shape) < 0.10
        spread = np.nanpercentile(disparity[t], [1, 99])
        noisy[outliers] = rng.uniform(spread[0], spread[1], int(outliers.sum()))
        values[t] = (noisy - beta) / alpha  # so that disparity = alpha * value + beta
        maps.append((alpha, beta))
    return values.astype(np.float32), maps


def moving_error(depths_m: np.ndarray, truth: np.ndarray, sensor: np.ndarray) -> tuple[np.ndarray, float]:
    """Errors (mm) on frames 1.. where the true depth moved away from the sensor's; and the coverage."""
    moved = (truth[1:] > 0) & (np.abs(truth[1:] - sensor[None]) * 1000.0 > MOVED_MM)
    estimate, true = depths_m[1:][moved].astype(np.float64), truth[1:][moved]
    errors = 1000.0 * np.where(estimate > 0, np.abs(estimate - true), true)
    return errors, float((estimate > 0).mean()) if len(estimate) else float("nan")


def run_world(family: str, seed: int, num_frames: int) -> list[dict]:
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.perception.perceive import perceive
    from physworld_core.video.procedural import ProceduralVideoConfig, generate

    scene = capture_scene(BenchmarkTask(family, seed))
    config = ProceduralVideoConfig(num_frames=num_frames, seed=seed)
    video = generate(scene, config)
    truth = true_video_depth(scene, perceive(scene), config, video.frames)
    sensor = scene.depth_m.astype(np.float64)
    rows = []

    def row(method: str, depths: np.ndarray, calibration, seconds: float, alpha_true: float = np.nan) -> dict:
        errors, cover = moving_error(depths, truth, sensor)
        return {
            "world": f"{family}-{seed}",
            "method": method,
            "f0_med": calibration.residual_mm,
            "f0_p90": calibration.p90_mm,
            "mov_med": float(np.median(errors)) if len(errors) else float("nan"),
            "mov_p90": float(np.percentile(errors, 90)) if len(errors) else float("nan"),
            "cover": cover,
            "alpha": calibration.alpha,
            "alpha_true": alpha_true,
            "beta": calibration.beta,
            "s_per_frame": seconds / len(video.frames),
        }

    start = time.perf_counter()
    geometric = metric_depth_video(video.frames, scene, "geometric")
    rows.append(row("geometric", geometric.depths_m, geometric.calibrations[0], time.perf_counter() - start))

    values, maps = distort(truth, seed)
    start = time.perf_counter()
    aligned = metric_depth_video(
        video.frames, scene, GivenPrediction(values, "disparity"), MetricDepthConfig()
    )
    seconds = time.perf_counter() - start
    rows.append(row("distorted", aligned.depths_m, aligned.calibrations[0], seconds, maps[0][0]))

    start = time.perf_counter()
    first = calibrate(values[0], scene.depth_m, "disparity")
    frame0_only = np.stack([first.apply(v) for v in values])
    frame0_only = np.where(np.isfinite(values), frame0_only, 0.0)
    rows.append(row("distorted_f0", frame0_only, first, time.perf_counter() - start, maps[0][0]))
    return rows


def _maybe(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.4g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,7")
    parser.add_argument("--families", default="bin", help="comma-separated world families, or 'all'")
    parser.add_argument("--frames", type=int, default=24, help="procedural video length (>= 24)")
    args = parser.parse_args()
    from physworld_core.world.registry import family_names

    families = family_names() if args.families == "all" else args.families.split(",")
    unknown = sorted(set(families) - set(family_names()))
    if unknown:
        parser.error(f"unknown families {', '.join(unknown)}; known: {', '.join(family_names())}")

    header = (
        f"{'world':<12}{'method':<14}{'f0 med':>8}{'f0 p90':>8}{'mov med':>9}{'mov p90':>9}{'cover':>7}"
        f"{'alpha0':>9}{'(true)':>9}{'beta0':>9}{'s/frame':>9}"
    )
    print("errors in mm; f0 = frame 0 held-out sensor pixels; mov = moved pixels of frames 1..")
    print(header)
    print("-" * len(header))
    by_method: dict[str, list[dict]] = {}
    for family in families:
        for seed in parse_seeds(args.seeds):
            try:
                rows = run_world(family, seed, args.frames)
            except PhysworldError as exc:
                print(f"{family}-{seed:<10} skipped: {type(exc).__name__}: {exc}")
                continue
            for r in rows:
                by_method.setdefault(r["method"], []).append(r)
                print(
                    f"{r['world']:<12}{r['method']:<14}{r['f0_med']:>8.2f}{r['f0_p90']:>8.2f}{r['mov_med']:>9.1f}"
                    f"{r['mov_p90']:>9.1f}{r['cover']:>7.2f}{r['alpha']:>9.4g}{_maybe(r['alpha_true']):>9}{r['beta']:>9.3g}"
                    f"{r['s_per_frame']:>9.4f}"
                )
    print("-" * len(header))
    for method, rows in by_method.items():
        print(
            f"{'median':<12}{method:<14}{np.median([r['f0_med'] for r in rows]):>8.2f}"
            f"{np.median([r['f0_p90'] for r in rows]):>8.2f}{np.median([r['mov_med'] for r in rows]):>9.1f}"
            f"{np.median([r['mov_p90'] for r in rows]):>9.1f}{np.median([r['cover'] for r in rows]):>7.2f}"
            f"{'':>27}{np.median([r['s_per_frame'] for r in rows]):>9.4f}"
        )


if __name__ == "__main__":
    main()
