"""Per-seed ground-truth success of the pipeline on the bin family (no Dagster; the same core stages).

    .venv/bin/python -m bench.bin_family --seeds 20-29 --env-steps 0      # planner_only only (fast)
    .venv/bin/python -m bench.bin_family --seeds 20-22 --env-steps 8192   # + residual PPO (physworld)

Seeds here were never used while developing (development used 0-11).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np


def parse_seeds(text: str) -> list[int]:
    """ "0-3", "2,6" or "2,6,8-11" → the seeds, in order."""
    seeds = []
    for item in text.split(","):
        lo, _, hi = item.strip().partition("-")
        seeds += list(range(int(lo), int(hi or lo) + 1))
    return seeds


def local_twin(scene, recon, prefix: str):
    """The twin of a reconstruction with its meshes in a temp folder, and whether it settles."""
    from physworld_core.twin.build import build_twin
    from physworld_core.twin.factory import make_twin_env
    from physworld_core.twin.settle import settle_twin

    built = build_twin(recon, scene.camera.to_json(), (0.6, 0.4, 0.3))
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    for name, data in built.files.items():
        (folder / name).write_bytes(data)
    spec = built.spec.map_uris(lambda name: str(folder / name))
    env = make_twin_env(spec.to_json())
    try:
        settled = settle_twin(env).passed
    finally:
        env.close()
    return spec, settled


def run_seed(seed: int, env_steps: int, trials: int) -> dict:
    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.policy.stage import make_plan
    from physworld_core.policy.train import PolicyTrainConfig, train_policy
    from physworld_core.reconstruction.reconstruct import reconstruct
    from physworld_core.reconstruction.stage import tracking_error
    from physworld_core.video import backends

    task = BenchmarkTask("bin", seed)
    out: dict = {"seed": seed}
    t0 = time.time()
    try:
        scene = capture_scene(task)
        out["prompt"] = scene.prompt
        video = backends.load("procedural").generate(scene)
        recon = reconstruct(scene, video.frames, video.fps)
        out["tracking_mm"] = (tracking_error(recon, video.plan) or {}).get("mean_mm", float("nan"))
        spec, out["settled"] = local_twin(scene, recon, f"bench-bin-{seed}-")
        plan = make_plan(spec)
    except PhysworldError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    config = TrialConfig(trials=trials)
    imitation = make_plan(spec, physical=False)
    for method, method_plan in (("planner_only", plan), ("visual_imitation", imitation)):
        rows = run_trials(task, method, method_plan, config=config)
        out[method] = np.mean([r["success"] for r in rows])
        out[f"{method}_failures"] = Counter(r["failure"] for r in rows if r["failure"])
    if env_steps:
        cfg = PolicyTrainConfig()
        cfg = replace(cfg, ppo=replace(cfg.ppo, total_env_steps=env_steps))
        with tempfile.TemporaryDirectory() as work:
            result = train_policy(spec.to_json(), plan, cfg, Path(work), progress=False)
            meta = {"residual": True, "residual_scale": cfg.ppo.residual_scale}
            rows = run_trials(task, "physworld", plan, result.train.policy, meta, config)
        out["twin_physworld"], out["twin_planner"] = result.twin_success, result.baseline_twin_success
        out["physworld"] = np.mean([r["success"] for r in rows])
        out["physworld_failures"] = Counter(r["failure"] for r in rows if r["failure"])
    out["seconds"] = time.time() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="20-29")
    parser.add_argument("--env-steps", type=int, default=0)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    results = []
    for seed in parse_seeds(args.seeds):
        r = run_seed(seed, args.env_steps, args.trials)
        results.append(r)
        print(r, flush=True)
    ok = [r for r in results if "error" not in r]
    print(f"\nseeds {len(results)}, pipeline errors {len(results) - len(ok)}")
    for key in ("planner_only", "visual_imitation", "physworld"):
        values = [r[key] for r in ok if key in r]
        if values:
            all_values = values + [0.0] * (len(results) - len(ok))
            print(
                f"{key}: mean ground-truth success {np.mean(all_values):.1%} over {len(results)} seeds "
                f"(pipeline errors count as 0)"
            )


if __name__ == "__main__":
    main()
