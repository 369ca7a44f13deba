"""Video stage figures: frames/s of the procedural backend at 256x256, and the share of samples passing
each cheap check and the physics-feasibility filter, per realism preset, on unseen seeds.

    .venv/bin/python bench/video_samples.py --seeds 40-44
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from bench.bin_family import parse_seeds


def main() -> None:
    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.perception.perceive import perceive
    from physworld_core.reconstruction.reconstruct import reconstruct
    from physworld_core.sim.camera import look_at_camera
    from physworld_core.twin.feasibility import score_reconstructions
    from physworld_core.video import backends
    from physworld_core.video.checks import check_video

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="40-44")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    camera = look_at_camera((0.45, 0.0, 0.6), (0.0, 0.0, 0.0), args.size, args.size, 58)
    passed = defaultdict(list)
    feasibility = defaultdict(list)
    fps = defaultdict(list)
    for seed in parse_seeds(args.seeds):
        scene = capture_scene(BenchmarkTask("bin", seed), camera=camera)
        perception = perceive(scene)
        for preset in ("none", "mild", "harsh"):
            backend = backends.load("procedural", {"realism": preset, "seed": seed})
            start = time.perf_counter()
            video = backend.generate(scene)
            fps[preset].append(video.num_frames / (time.perf_counter() - start))
            checks = check_video(video.frames, scene, perception=perception)
            for key, value in checks.items():
                if isinstance(value, bool):
                    passed[(preset, key)].append(value)
            try:
                recon = reconstruct(scene, video.frames, video.fps)
                report = score_reconstructions({0: recon}, scene.camera.to_json())[0]
                feasibility[preset].append(report.score)
            except PhysworldError:
                feasibility[preset].append(0.0)
    print(f"| preset | frames/s at {args.size}² | passed all checks | feasibility mean | feasibility >= 0.3 |")
    print("|---|---|---|---|---|")
    for preset in ("none", "mild", "harsh"):
        f = np.asarray(feasibility[preset])
        print(f"| {preset} | {np.mean(fps[preset]):.1f} | {np.mean(passed[(preset, 'passed')]):.0%} | "
              f"{f.mean():.2f} | {(f >= 0.3).mean():.0%} |")
    print("\nper-check pass rate:")
    for (preset, key), values in sorted(passed.items()):
        print(f"  {preset:6s} {key:24s} {np.mean(values):.0%}")


if __name__ == "__main__":
    main()
