"""The world-action model on the platform's own data: record, train, ablate, evaluate.

    .venv/bin/python -m bench.world_model record --families bin,push --train-seeds 100-139 --test-seeds 400-405
    .venv/bin/python -m bench.world_model ablate      # the four ablations of issue 27, on the recorded data
    .venv/bin/python -m bench.world_model evaluate    # world_model vs visual_imitation on the held-out seeds
    .venv/bin/python -m bench.world_model all         # the three in turn (make bench)

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
video pretraining) and ``visual_imitation`` on the held-out tasks through the evaluation stage's
``run_trials`` (same seeds, same worlds) and scores each trial by the world's own success test.
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
    from physworld_core.twin.selection import run_reconstruction_stage
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

    export(args)


def export(args: argparse.Namespace) -> None:
    """Export what the lake holds so far (a ``record`` still running keeps adding tasks)."""
    from physworld_core.export.lerobot import export_lerobot
    from physworld_core.export.selection import Selection
    from physworld_core.export.video_set import export_video_set
    from physworld_core.store import Store

    root = Path(args.lake)
    store = Store.at(str(root / "lake"))
    plans = json.loads((root / "plans.json").read_text())
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


# -------------------------------------------------------------------------------------------------- ablate

ARMS = {
    # name: (video pretraining, lookahead K, training episodes (None: all))
    "full": (True, 8, None),
    "no_pretraining": (False, 8, None),
    "next_action_only": (True, 1, None),
}


def _read_exports(root: Path):
    from physworld_core.worldmodel.data import read_clip_set, read_lerobot

    exports = json.loads((root / "exports.json").read_text())
    start = time.perf_counter()
    episodes, clips = read_lerobot(exports["lerobot"]), read_clip_set(exports["clips"])
    print(f"read {len(episodes)} episodes and {len(clips)} clips in {time.perf_counter() - start:.0f} s")
    return episodes, clips


def train_arm(root: Path, name: str, episodes, clips, args) -> dict:
    """Train one arm (cached: a finished arm's result is read back) and save its model."""
    from dataclasses import replace

    from physworld_core.worldmodel.checkpoint import save_checkpoint
    from physworld_core.worldmodel.model import WorldModelConfig
    from physworld_core.worldmodel.train import TrainConfig, prepare_data, train_world_model

    out = root / "arms" / f"{name}.json"
    if out.exists():
        return json.loads(out.read_text())
    pretrain, lookahead, max_episodes = ARMS[name]
    model_cfg = WorldModelConfig(lookahead=lookahead)
    cfg = TrainConfig(
        autoencoder_updates=args.autoencoder_updates,
        video_updates=args.video_updates if pretrain else 0,
        action_updates=args.action_updates,
        eval_every=args.eval_every,
        max_episodes=max_episodes,
        seed=args.seed,
        threads=args.threads,
    )
    data = prepare_data(model_cfg, episodes, clips if pretrain else [], cfg.validation_fraction, max_episodes)
    print(f"\n## arm {name}: {data.summary()}", flush=True)
    result = train_world_model(data, model_cfg, cfg, root / "arms" / f"{name}-checkpoint", progress=True)
    save_checkpoint(
        root / "arms" / f"{name}.safetensors",
        result.model,
        {"action_names": list(data.action_names), "curve": result.curve, "train_config": cfg.to_dict()},
    )
    summary = {
        "name": name,
        "pretrain": pretrain,
        "lookahead": lookahead,
        "data": result.data,
        "parameters": result.parameters,
        "wall_seconds": result.wall_seconds,
        "phase_seconds": _phase_seconds(result.curve),
        "curve": result.curve,
        "config": replace(cfg).to_dict(),
    }
    out.write_text(json.dumps(summary, indent=1))
    return summary


def _phase_seconds(curve: list[dict]) -> dict:
    ends = {}
    for entry in curve:
        ends[entry["phase"]] = entry["wall_s"]
    starts, previous = {}, 0.0
    for phase, end in ends.items():
        starts[phase], previous = round(end - previous, 1), end
    return starts


def _final(summary: dict, name: str) -> float | None:
    values = [e[f"val_{name}"] for e in summary["curve"] if f"val_{name}" in e]
    return values[-1] if values else None


def _updates_to(summary: dict, name: str, target: float) -> int | None:
    """The first fine-tuning update whose validation ``name`` loss is at or below ``target``."""
    for entry in summary["curve"]:
        if entry["phase"] == "actions" and entry[f"val_{name}"] <= target:
            return entry["update"]
    return None


def kv_cache_timing(model_path: Path, episode, steps: int, threads: int) -> dict:
    """ms per closed-loop policy step (frame in, action out, action appended) with and without the KV cache,
    best of 3, on a validation episode's frames; and the same for a 4x longer context."""
    import torch

    from physworld_core.worldmodel.checkpoint import load_checkpoint
    from physworld_core.worldmodel.model import Rollout, WorldActionModel, frames_to_tensor
    from physworld_core.worldmodel.policy import torch_threads

    trained, _, _ = load_checkpoint(model_path)
    out = {}
    with torch_threads(threads), torch.no_grad():
        latents = trained.encode_frames(frames_to_tensor(episode.frames[:steps]))
        actions = torch.as_tensor(episode.actions[:steps])
        for label, model in (
            (f"trained model, {trained.cfg.context_frames}-frame context", trained),
            (
                "same width, 64-frame context (untrained)",
                WorldActionModel(_replace_context(trained.cfg, 64)).eval(),
            ),
        ):
            timing = {}
            for use_cache in (True, False):
                best = float("inf")
                for _ in range(3):
                    rollout = Rollout(model, use_cache=use_cache)
                    start = time.perf_counter()
                    for t in range(len(latents)):
                        rollout.observe(latents[t])
                        rollout.act(actions[t], predict=False)
                    best = min(best, (time.perf_counter() - start) / len(latents) * 1000)
                timing["cache" if use_cache else "recompute"] = best
            out[label] = timing
    return out


def _replace_context(cfg, frames: int):
    from dataclasses import replace

    return replace(cfg, context_frames=frames)


def ablate(args: argparse.Namespace) -> None:
    root = Path(args.lake)
    episodes, clips = _read_exports(root)
    (root / "arms").mkdir(exist_ok=True)
    counts = [int(n) for n in args.episodes.split(",") if n]
    for n in counts:
        ARMS[f"episodes_{n}"] = (True, 8, n)
    results = {name: train_arm(root, name, episodes, clips, args) for name in ARMS}

    print(
        "\n## World model ablations (same data and seed; validation losses are standardised: 1 ~ the mean)\n"
    )
    print(f"{len(episodes)} LeRobot episodes, {len(clips)} clips; seed {args.seed}\n")
    print(
        "| arm | pretraining | K | train episodes | val next action | val action (K) | val next frame | train s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {'yes' if r['pretrain'] else 'no'} | {r['lookahead']} | {r['data']['train_episodes']} | "
            f"{_final(r, 'next_action'):.4f} | {_final(r, 'action'):.4f} | {_final(r, 'frame'):.4f} | "
            f"{r['wall_seconds']:.0f} ({', '.join(f'{k} {v:.0f}' for k, v in r['phase_seconds'].items())}) |"
        )

    full, single = results["full"], results["next_action_only"]
    target = min(_final(single, "next_action"), _final(full, "next_action"))
    target = max(target, min(e["val_next_action"] for e in single["curve"] if e["phase"] == "actions"))
    print(
        f"\n### L-MTP vs next-action only: fine-tuning updates to validation next-action loss <= {target:.4f}\n"
    )
    print("| arm | K | updates to the loss | final next-action loss |")
    print("|---|---|---|---|")
    for r in (full, single):
        reached = _updates_to(r, "next_action", target)
        print(
            f"| {r['name']} | {r['lookahead']} | {reached if reached else 'not reached'} | {_final(r, 'next_action'):.4f} |"
        )

    print("\n### Learning curves against the number of training episodes (validation next-action loss)\n")
    arms = [f"episodes_{n}" for n in counts] + ["full"]
    updates = sorted({e["update"] for e in full["curve"] if e["phase"] == "actions"})
    shown = updates[:: max(1, len(updates) // 8)] + (
        [updates[-1]] if updates[-1] not in updates[:: max(1, len(updates) // 8)] else []
    )
    print("| update | " + " | ".join(f"{results[a]['data']['train_episodes']} episodes" for a in arms) + " |")
    print("|---|" + "---|" * len(arms))
    for u in shown:
        row = []
        for a in arms:
            value = next(
                (
                    e["val_next_action"]
                    for e in results[a]["curve"]
                    if e["phase"] == "actions" and e["update"] == u
                ),
                None,
            )
            row.append(f"{value:.4f}" if value is not None else "-")
        print(f"| {u} | " + " | ".join(row) + " |")

    from physworld_core.worldmodel.model import WorldModelConfig
    from physworld_core.worldmodel.train import prepare_data  # the same validation episode the arms held out

    validation = prepare_data(WorldModelConfig(), episodes).validation[0]
    timing = kv_cache_timing(root / "arms" / "full.safetensors", validation, 64, args.threads or 1)
    print("\n### KV cache: ms per closed-loop step (frame in, action out), best of 3, one thread\n")
    print("| model | with cache | recomputing the context | speed-up |")
    print("|---|---|---|---|")
    for label, t in timing.items():
        print(f"| {label} | {t['cache']:.2f} | {t['recompute']:.2f} | {t['recompute'] / t['cache']:.2f}x |")
    (root / "ablations.json").write_text(json.dumps({"timing": timing, "target": target}, indent=1))


# ------------------------------------------------------------------------------------------------ evaluate


def evaluate(args: argparse.Namespace) -> None:
    from collections import Counter

    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.ingest import load_scene
    from physworld_core.policy.plan import TaskPlan
    from physworld_core.sim.base_env import CONTROL_HZ
    from physworld_core.store import Store
    from physworld_core.worldmodel.policy import WorldModelPolicy

    root = Path(args.lake)
    store = Store.at(str(root / "lake"))
    plans = json.loads((root / "plans.json").read_text())
    tests = {t: e for t, e in plans.items() if e["split"] == "test" and "error" not in e}
    arms = [a for a in args.arms.split(",") if a]
    policies = {
        a: WorldModelPolicy.from_checkpoint(root / "arms" / f"{a}.safetensors", control_hz=CONTROL_HZ)
        for a in arms
    }
    out_path = root / "evaluation.jsonl"
    done = {}
    if out_path.exists():
        for line in out_path.read_text().splitlines():
            row = json.loads(line)
            done[(row["task_id"], row["method"])] = row
    for task_id, entry in sorted(tests.items()):
        task = BenchmarkTask(entry["family"], entry["seed"])
        camera = load_scene(store, task_id).camera
        for method in [BASELINE_METHOD, DEMO_METHOD, *arms]:
            if (task_id, method) in done:
                continue
            start = time.perf_counter()
            # The world model's episodes start from the planner_only plan (its object start, the goal its
            # failures are judged by), as the evaluation stage runs it; it acts on the rendered camera.
            rows = run_trials(
                task,
                method,
                TaskPlan.from_json(entry[DEMO_METHOD if method in policies else method]),
                policies.get(method),
                config=TrialConfig(args.trials, seed=args.seed),
                camera=camera,
            )
            row = {
                "task_id": task_id,
                "family": entry["family"],
                "method": method,
                "successes": sum(r["success"] for r in rows),
                "trials": len(rows),
                "failures": dict(Counter(r["failure"] for r in rows if r["failure"])),
                "seconds": time.perf_counter() - start,
            }
            done[(task_id, method)] = row
            with out_path.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(
                f"{task_id} {method}: {row['successes']}/{row['trials']} ({row['seconds']:.0f} s)", flush=True
            )

    methods = [BASELINE_METHOD, DEMO_METHOD, *arms]
    families = sorted({e["family"] for e in tests.values()})
    print(f"\n## Held-out seeds: success by each world's own test ({args.trials} trials per task)\n")
    print("| method | " + " | ".join(families) + " | all | s per trial |")
    print("|---|" + "---|" * (len(families) + 2))
    for method in methods:
        rows = [r for r in done.values() if r["method"] == method]
        cells = []
        for family in [*families, None]:
            picked = [r for r in rows if family is None or r["family"] == family]
            wins, total = sum(r["successes"] for r in picked), sum(r["trials"] for r in picked)
            cells.append(f"{wins}/{total} ({100 * wins / max(total, 1):.0f} %)")
        per_trial = sum(r["seconds"] for r in rows) / max(1, sum(r["trials"] for r in rows))
        print(f"| {method} | " + " | ".join(cells) + f" | {per_trial:.1f} |")


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
    exp = sub.add_parser("export", help="export what the lake holds so far")
    exp.add_argument("--lake", default=str(DEFAULT_LAKE))
    abl = sub.add_parser("ablate", help="train the ablation arms on the exports")
    abl.add_argument("--lake", default=str(DEFAULT_LAKE))
    abl.add_argument("--episodes", default="50,200", help="training-episode counts for the learning curves")
    abl.add_argument("--autoencoder-updates", type=int, default=1500)
    abl.add_argument("--video-updates", type=int, default=500)
    abl.add_argument("--action-updates", type=int, default=1500)
    abl.add_argument("--eval-every", type=int, default=50)
    abl.add_argument("--seed", type=int, default=0)
    abl.add_argument("--threads", type=int, default=1, help="torch CPU threads (see TrainConfig.threads)")
    ev = sub.add_parser("evaluate", help="world_model vs visual_imitation on the held-out tasks")
    ev.add_argument("--lake", default=str(DEFAULT_LAKE))
    ev.add_argument("--arms", default="full,no_pretraining")
    ev.add_argument("--trials", type=int, default=5)
    ev.add_argument("--seed", type=int, default=1000)
    every = sub.add_parser("all", help="record (resumable), ablate, evaluate: what make bench runs")
    for option, default in (
        ("--lake", str(DEFAULT_LAKE)),
        ("--families", "bin,push"),
        ("--train-seeds", "100-139"),
        ("--test-seeds", "400-405"),
        ("--episodes", "50,200"),
        ("--arms", "full,no_pretraining"),
    ):
        every.add_argument(option, default=default)
    args = parser.parse_args()
    if args.command == "all":  # every other setting at the subcommands' defaults
        for command in ("record", "ablate", "evaluate"):
            extra = {
                "record": [
                    "--families",
                    args.families,
                    "--train-seeds",
                    args.train_seeds,
                    "--test-seeds",
                    args.test_seeds,
                ],
                "ablate": ["--episodes", args.episodes],
                "evaluate": ["--arms", args.arms],
            }[command]
            step = parser.parse_args([command, "--lake", args.lake, *extra])
            {"record": record, "ablate": ablate, "evaluate": evaluate}[command](step)
        return
    {"record": record, "export": export, "ablate": ablate, "evaluate": evaluate}[args.command](args)


if __name__ == "__main__":
    main()
