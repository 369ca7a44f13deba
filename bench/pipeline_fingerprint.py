"""What the pipeline makes of a task, hashed stage by stage: a restructuring must leave every figure as it was.

    .venv/bin/python -m bench.pipeline_fingerprint --families all --seeds 60 --write out.json
    .venv/bin/python -m bench.pipeline_fingerprint --check out.json        # exit 1 on any difference

Each task runs the core stages on a temporary lake (scenes → videos → reconstructions → twins, then the
physical and the visual-imitation plans and two planner episodes of each in the nominal twin) and hashes, per
stage, what it wrote: table rows with their blobs' contents in place of their addresses and without wall times,
and every action the planner sent. JSON payloads are compared parsed (their key order may change). A task the
pipeline refuses is fingerprinted by its error's type and message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds

TIME_KEYS = ("seconds",)
"""Keys of wall times, left out of every hash (they differ from run to run)."""


def _canonical(value):
    """A JSON value with wall times and null entries dropped (a key holding null reads as no key), floats rounded
    to 1e-9 (printing noise only) and keys sorted."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items()) if k not in TIME_KEYS and v is not None}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(_canonical(value), sort_keys=True).encode()).hexdigest()[:16]


def _rows(store, table: str, task_id: str) -> list[dict]:
    """A partition's rows, JSON columns parsed, blob URIs replaced by their contents' hashes."""
    frame = store.lake.read_partition(table, task_id)
    rows = []
    for row in frame.to_dicts():
        out = {}
        for key, value in row.items():
            if key in TIME_KEYS or key.endswith("_at"):
                continue
            if key.endswith("_json") and isinstance(value, str):
                value = _blob_hashes(store, json.loads(value))
            elif key.endswith("_uri") and isinstance(value, str):
                value = hashlib.sha256(store.blobs.get_bytes(value)).hexdigest()
            out[key] = value
        rows.append(out)
    return sorted(rows, key=lambda r: json.dumps(_canonical(r), sort_keys=True, default=str))


def _blob_hashes(store, value):
    if isinstance(value, dict):
        return {k: _blob_hashes(store, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blob_hashes(store, v) for v in value]
    if isinstance(value, str) and (value.startswith("lake://") or "/blobs/sha256/" in value):
        return hashlib.sha256(store.blobs.get_bytes(value)).hexdigest()
    return value


def _planner_actions(store, task_id: str, episodes: int, dump: dict) -> dict:
    """Hash of every action of ``episodes`` planner episodes in the nominal twin, per plan (the plans and the
    actions themselves go to ``dump``)."""
    from physworld_core.policy.stage import closing_axis_at_rest, make_plan
    from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
    from physworld_core.twin.factory import make_twin_env
    from physworld_core.twin.stage import load_twin, localize

    spec, _ = load_twin(store, task_id)
    local = localize(store, spec)
    axis = closing_axis_at_rest(local)
    out = {}
    for name, physical in (("planner", True), ("imitation", False)):
        plan = make_plan(local, physical=physical, closing_axis=axis)
        digest = hashlib.sha256(plan.to_json().encode())
        actions: list = []

        def observe(env, action, actions=actions, digest=digest) -> None:
            digest.update(np.asarray(action).tobytes())
            actions.append(np.asarray(action, dtype=np.float64).tolist())

        env = ObjectCentricTaskEnv(lambda: make_twin_env(local.to_json()), plan)
        successes = []
        try:
            for seed in range(episodes):
                result = run_episode(env, lambda obs, base: base, seed, observer=observe)
                successes.append(result["success"])
        finally:
            env.close()
        dump[f"{name}_plan"] = _canonical(json.loads(plan.to_json()))
        dump[f"{name}_actions"] = actions
        out[name] = {
            "plan": _digest(json.loads(plan.to_json())),
            "actions": digest.hexdigest()[:16],
            "success": successes,
        }
    return out


def fingerprint(family: str, seed: int, episodes: int, dump: dict | None = None) -> dict:
    """One benchmark task through the core stages on a temporary lake; a hash per stage (and what was hashed,
    canonical, in ``dump``)."""
    dump = {} if dump is None else dump
    from physworld_core.errors import PhysworldError
    from physworld_core.ingest import ingest_scene, register_task
    run_reconstruction_stage = _reconstruction_stage()
    from physworld_core.store import Store
    from physworld_core.twin.stage import run_twin_stage
    from physworld_core.video.stage import run_video_stage

    perception_stage = _perception_stage()
    task_id = f"{family}-{seed:04d}"
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="pw-fingerprint-") as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        register_task(store, task_id, f"benchmark:{family}:{seed}")
        stages = [("scenes", lambda: ingest_scene(store, task_id), ("scenes",))]
        if perception_stage is not None:
            stages.append(("perceptions", lambda: perception_stage(store, task_id), ()))
        stages += [
            ("videos", lambda: run_video_stage(store, task_id), ("videos",)),
            (
                "reconstructions",
                lambda: run_reconstruction_stage(store, task_id),
                ("reconstructions", "video_scores"),
            ),
            ("twins", lambda: run_twin_stage(store, task_id), ("twins",)),
        ]
        try:
            for name, run, tables in stages:
                run()
                for table in tables:
                    rows = _rows(store, table, task_id)
                    dump[table] = _canonical(rows)
                    out[table] = _digest(rows)
            out["planner"] = _planner_actions(store, task_id, episodes, dump)
        except PhysworldError as error:
            out["error"] = f"{type(error).__name__}: {error}"
    return out


def _reconstruction_stage():
    """The reconstructions stage (in the twin layer since #23: it picks the sample a twin follows best)."""
    import importlib.util

    if importlib.util.find_spec("physworld_core.twin.selection") is not None:
        from physworld_core.twin.selection import run_reconstruction_stage
    else:
        from physworld_core.reconstruction.stage import run_reconstruction_stage
    return run_reconstruction_stage


def _perception_stage():
    """The perception stage, where the pipeline has one (it is stored once per task since #23)."""
    import importlib.util

    if importlib.util.find_spec("physworld_core.perception.stage") is None:
        return None
    from physworld_core.perception.stage import run_perception_stage

    return run_perception_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default="all", help="comma-separated family names, or 'all'")
    parser.add_argument("--seeds", default="60")
    parser.add_argument("--episodes", type=int, default=2, help="planner episodes per plan in the twin")
    parser.add_argument("--write", default=None, help="write the fingerprints to this JSON file")
    parser.add_argument("--check", default=None, help="compare with the fingerprints in this JSON file")
    parser.add_argument("--dump", default=None, help="folder for what was hashed, one JSON file per task")
    args = parser.parse_args(argv)
    expected = json.loads(Path(args.check).read_text()) if args.check else {}
    if args.check:
        tasks = list(expected)
    else:
        from physworld_core.world import family_names

        families = family_names() if args.families == "all" else args.families.split(",")
        tasks = [f"{family}:{seed}" for family in families for seed in parse_seeds(args.seeds)]
    found, differ = {}, []
    for task in tasks:
        family, seed = task.split(":")
        dump: dict = {}
        found[task] = fingerprint(family, int(seed), args.episodes, dump)
        if args.dump:
            Path(args.dump).mkdir(parents=True, exist_ok=True)
            (Path(args.dump) / f"{family}-{seed}.json").write_text(json.dumps(dump, default=str))
        note = ""
        if args.check:
            changed = sorted(
                k
                for k in set(found[task]) | set(expected[task])
                if found[task].get(k) != expected[task].get(k)
            )
            note = " same" if not changed else f" DIFFERENT: {', '.join(changed)}"
            if changed:
                differ.append(task)
        print(f"{task}: {json.dumps(found[task])}{note}", flush=True)
        if args.write:
            Path(args.write).write_text(json.dumps(found, indent=1) + "\n")
    if differ:
        print(f"the pipeline's outputs differ for: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
