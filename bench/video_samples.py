"""Video stage figures: frames/s of the procedural backend at 256x256, the share of samples passing each
cheap check and the physics-feasibility filter per realism preset, and how well the feasibility score
predicts ground-truth success, on unseen seeds.

    .venv/bin/python -m bench.video_samples --seeds 40-59 --trials 3

Ground truth per sample: the sample's reconstruction becomes a twin and two plans — ``planner_only`` (grasp
and goal from the twin) and ``visual_imitation`` (follow the video's tracked object path) — each executed
``--trials`` times in the true world. The correlation (Pearson and Spearman) is between the sample's
feasibility score and those success rates, over every (seed, preset) sample.
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

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="40-44")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--trials", type=int, default=3, help="world trials per sample and method (0: skip)")
    args = parser.parse_args()
    samples = []
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
            sample = {"seed": seed, "preset": preset, "feasibility": 0.0}
            try:
                recon = reconstruct(scene, video.frames, video.fps)
                report = score_reconstructions({0: recon}, scene.camera.to_json())[0]
                sample["feasibility"] = report.score
                if args.trials:
                    sample.update(ground_truth(BenchmarkTask("bin", seed), scene, recon, args.trials))
            except PhysworldError as exc:
                sample["error"] = type(exc).__name__
                sample.update({"planner_only": 0.0, "visual_imitation": 0.0} if args.trials else {})
            feasibility[preset].append(sample["feasibility"])
            samples.append(sample)
            print(sample, flush=True)
    print(
        f"| preset | frames/s at {args.size}² | passed all checks | feasibility mean | feasibility >= 0.3 |"
    )
    print("|---|---|---|---|---|")
    for preset in ("none", "mild", "harsh"):
        f = np.asarray(feasibility[preset])
        print(
            f"| {preset} | {np.mean(fps[preset]):.1f} | {np.mean(passed[(preset, 'passed')]):.0%} | "
            f"{f.mean():.2f} | {(f >= 0.3).mean():.0%} |"
        )
    print("\nper-check pass rate:")
    for (preset, key), values in sorted(passed.items()):
        print(f"  {preset:6s} {key:24s} {np.mean(values):.0%}")
    if args.trials:
        from scipy.stats import pearsonr, spearmanr

        score = np.array([s["feasibility"] for s in samples])
        print(
            f"\nfeasibility vs ground-truth success over {len(samples)} samples ({len({s['seed'] for s in samples})} seeds):"
        )
        print(
            "| method | mean success | Pearson r | Spearman rho | success, feasibility >= 0.3 | success, < 0.3 |"
        )
        print("|---|---|---|---|---|---|")
        for method in ("planner_only", "visual_imitation"):
            success = np.array([s[method] for s in samples])
            keep = score >= 0.3
            print(
                f"| {method} | {success.mean():.0%} | {pearsonr(score, success)[0]:.2f} | "
                f"{spearmanr(score, success)[0]:.2f} | {success[keep].mean() if keep.any() else float('nan'):.0%} | "
                f"{success[~keep].mean() if (~keep).any() else float('nan'):.0%} |"
            )


def ground_truth(task, scene, recon, trials: int) -> dict:
    """Success rates in the true world of the two plans this sample's reconstruction yields."""
    from bench.bin_family import local_twin
    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.policy.stage import make_plan

    spec, _ = local_twin(scene, recon, f"bench-video-{task.seed}-")
    out = {}
    for method, plan in (
        ("planner_only", make_plan(spec)),
        ("visual_imitation", make_plan(spec, physical=False)),
    ):
        rows = run_trials(task, method, plan, config=TrialConfig(trials=trials))
        out[method] = float(np.mean([r["success"] for r in rows]))
    return out


if __name__ == "__main__":
    main()
