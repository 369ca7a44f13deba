"""The world-action model on the platform's own data: record, train, ablate, evaluate.

    .venv/bin/python -m bench.world_model record --families bin,push --train-seeds 100-139 --test-seeds 400-405
    .venv/bin/python -m bench.world_model ablate      # the four ablations of issue 27, on the recorded data
    .venv/bin/python -m bench.world_model evaluate    # world_model vs visual_imitation on the held-out seeds

``record`` runs each task through the core stages the Dagster assets call (scene → 2 video samples →
reconstruction → twin → plans) on a lake of its own (``--lake``, default ``.physworld/bench/world_model``),
then executes and records, as the evaluation stage does: ``--trials`` trials of ``planner_only`` (the
demonstrations) and 2 of ``visual_imitation`` per training task, at ``--size``² and ``--fps`` (10 Hz renders
half the frames of the 20 Hz control rate; rendering is the cost). It then exports the lake the platform's
way: a LeRobot v3 dataset of the successful ``planner_only`` rollouts and a video clip set (every recorded
rollout plus the generated clips that pass the feasibility threshold). A task already in the lake is skipped,
so a killed ``record`` continues. Held-out tasks (``--test-seeds``) get their plans only.

``ablate`` trains on those exports, same data and seeds for every arm, and prints markdown tables:
with vs without video pretraining, L-MTP (lookahead 8) vs next-action only (updates to the same validation
next-action loss), KV cache vs recomputing the context (ms per closed-loop step), and validation loss curves
against the number of training episodes (50, 200, all). ``evaluate`` runs ``world_model`` (with and without
video pretraining) and ``visual_imitation`` on the held-out tasks and scores each trial by the world's own
success test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.bin_family import parse_seeds

DEFAULT_LAKE = Path(".physworld/bench/world_model")
DEMO_METHOD, BASELINE_METHOD = "planner_only", "visual_imitation"
BASELINE_RECORDED = (
    2  # visual_imitation trials recorded per training task (for the clip set), as the stage does
)


def task_id_for(family: str, seed: int) -> str:
    return f"{family}-{seed:04d}"


# -------------------------------------------------------------------------------------------------- record


def prepare_task(store, family: str, seed: int) -> dict:
    """Scene → videos → reconstruction → twin → the two plans; their JSON, or the reason it failed."""
    from physworld_core.errors import PhysworldError
    from physworld_core.ingest import ingest_scene, register_task
    from physworld_core.policy.stage import closing_axis_at_rest, make_plan
    from physworld_core.reconstruction.stage import run_reconstruction_stage
    from physworld_core.twin.stage import load_twin, localize, run_twin_stage
    from physworld_core.video.stage import run_video_stage

    task_id = task_id_for(family, seed)
    try:
        register_task(store, task_id, f"benchmark:{family}:{seed}", None)
        for stage in (ingest_scene, run_video_stage, run_reconstruction_stage, run_twin_stage):
            stage(store, task_id)
        spec, _ = load_twin(store, task_id)
        local = localize(store, spec)
        axis = closing_axis_at_rest(local)
        return {
            DEMO_METHOD: make_plan(local, closing_axis=axis).to_json(),
            BASELINE_METHOD: make_plan(local, physical=False, closing_axis=axis).to_json(),
        }
    except PhysworldError as error:
        return {"error": f"{type(error).__name__}: {str(error)[:160]}"}


def record_task(
    store, family: str, seed: int, plans: dict, trials: int, size: int, fps: float, min_frames: int
) -> list[dict]:
    """Execute and record the task's demonstrations and baseline trials; the ``rollouts`` rows."""
    from physworld_core.evaluation.rollouts import RecordConfig, rollout_row
    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.ingest import load_scene
    from physworld_core.policy.plan import TaskPlan

    task_id = task_id_for(family, seed)
    scene = load_scene(store, task_id)
    rows = []
    for method, count in ((DEMO_METHOD, trials), (BASELINE_METHOD, BASELINE_RECORDED)):
        record = RecordConfig(trials=count, width=size, height=size, min_frames=min_frames, fps=fps)
        recordings: dict = {}
        results = run_trials(
            BenchmarkTask(family, seed),
            method,
            TaskPlan.from_json(plans[method]),
            config=TrialConfig(trials=count),
            record=record,
            camera=scene.camera,
            recordings=recordings,
        )
        for k, recorder in sorted(recordings.items()):
            rows.append(
                rollout_row(
                    store,
                    recorder,
                    task_id=task_id,
                    method=method,
                    trial=k,
                    success=results[k]["success"],
                    failure=results[k]["failure"],
                    camera=scene.camera.resized(size, size),
                    prompt=scene.prompt,
                    family=family,
                    lineage={"env_seed": results[k]["env_seed"]},
                )
            )
    return rows


def record(args: argparse.Namespace) -> None:
    from physworld_core.export.lerobot import export_lerobot
    from physworld_core.export.selection import Selection
    from physworld_core.export.video_set import export_video_set
    from physworld_core.store import Store

    root = Path(args.lake)
    store = Store.at(str(root / "lake"))
    plans_path = root / "plans.json"
    plans = json.loads(plans_path.read_text()) if plans_path.exists() else {}
    families = args.families.split(",")
    jobs = [(f, s, "train") for s in parse_seeds(args.train_seeds) for f in families]
    jobs += [(f, s, "test") for s in parse_seeds(args.test_seeds) for f in families]
    recorded = set()
    if store.lake.exists("rollouts"):
        recorded = set(store.lake.scan("rollouts").select("task_id").collect()["task_id"].to_list())
    start = time.perf_counter()
    for n, (family, seed, split) in enumerate(jobs, 1):
        task_id = task_id_for(family, seed)
        if task_id not in plans:
            plans[task_id] = {
                "split": split,
                "family": family,
                "seed": seed,
                **prepare_task(store, family, seed),
            }
            plans_path.write_text(json.dumps(plans, indent=1))
        entry = plans[task_id]
        if split == "train" and "error" not in entry and task_id not in recorded:
            rows = record_task(store, family, seed, entry, args.trials, args.size, args.fps, args.min_frames)
            store.lake.write_partition("rollouts", rows, task_id)
        status = entry.get("error", "ok")
        print(
            f"[{n}/{len(jobs)} {time.perf_counter() - start:.0f}s] {task_id} ({split}): {status}", flush=True
        )

    rollouts = store.lake.scan("rollouts").collect()
    demos = rollouts.filter((rollouts["method"] == DEMO_METHOD) & rollouts["success"])
    print(f"\n{rollouts.height} rollouts recorded, {demos.height} successful {DEMO_METHOD} demonstrations")
    # Each export lands in <lake>/exports/<kind>/<fingerprint>: recording more tasks gives new ones.
    # Held-out tasks' generated clips stay out of the clip set: nothing of a test layout is trained on.
    train = sorted(t for t, entry in plans.items() if entry["split"] == "train" and "error" not in entry)
    demos = Selection({"method": DEMO_METHOD, "success": True, "task_id": train})
    lerobot = export_lerobot(store, None, demos, progress=False)
    clips = export_video_set(store, None, Selection({"task_id": train}), progress=False)
    (root / "exports.json").write_text(json.dumps({"lerobot": lerobot.uri, "clips": clips.uri}, indent=1))
    print(f"LeRobot v3: {lerobot.summary} at {lerobot.uri}")
    print(f"video clip set: {clips.summary} at {clips.uri}")


# ---------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record demonstrations and export them")
    rec.add_argument("--lake", default=str(DEFAULT_LAKE))
    rec.add_argument("--families", default="bin,push")
    rec.add_argument("--train-seeds", default="100-139")
    rec.add_argument("--test-seeds", default="400-405")
    rec.add_argument("--trials", type=int, default=4, help="planner_only trials recorded per training task")
    rec.add_argument("--size", type=int, default=64)
    rec.add_argument("--fps", type=float, default=10.0)
    rec.add_argument(
        "--min-frames",
        type=int,
        default=75,
        help="record on after a trial's end to this many frames (75 at 10 fps: an evaluation episode's length)",
    )
    args = parser.parse_args()
    {"record": record}[args.command](args)


if __name__ == "__main__":
    main()
