"""Recording and export throughput: record scripted demonstrations, export them as LeRobot v3 and as a video set.

    .venv/bin/python -m bench.export --episodes 100 --size 128 [--per-world 5] [--fps 20]

Recording is measured two ways in the same run, on the same episodes (``--per-world`` episode seeds of each
bin world), and given as recorded episodes per hour and their ratio:

- *rebuilding*: a world built for every episode (``run_oracle``), as the bench recorded before. SAPIEN sets its
  renderer up again for each new world once the last one is gone: 5-11 s on CPU, against ~50 ms a frame.
- *reusing*: each world built once and reset for each of its episodes, the renderer kept up across worlds
  (``keep_renderer``), rendering only the recorded steps (every ``CONTROL_HZ / fps``-th; at the default fps,
  every step).

Then prints episodes/s and MB/s of each export, its size on disk against the raw rows (uint8 frames + float32
arrays), and the time to the first frame of an exported episode. Every time is also given as a ratio to a
reference measured in the same run: decoding the recorded clips straight from the blob store (what any
export must at least do) and decoding one stored clip's first frame.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

HOLD_STEPS = 10  # run_oracle's default: success must hold this many steps


def _episodes(episodes: int, per_world: int):
    """(world seed, episode seed) of every recorded episode: ``per_world`` episodes in each world."""
    return [(k // per_world, k % per_world) for k in range(episodes)]


def _row(store, recorder, task, episode_seed: int, success: bool, camera, fps: float) -> dict:
    from physworld_core.evaluation.rollouts import rollout_row
    from physworld_core.world import get_family

    family = get_family(task.family)
    return rollout_row(
        store,
        recorder,
        task_id=task.task_id,
        method="oracle",
        trial=episode_seed,
        success=success,
        failure=None if success else "execution",
        fps=fps,
        camera=camera,
        prompt=family.prompt_for(family.sample_layout(task.seed), None),
        family=task.family,
        lineage={"source": "scripted oracle"},
    )


def record_rebuilding(store, episodes: int, size: int, per_world: int) -> list[dict]:
    """The old way: ``run_oracle`` builds (and first renders) a new world for every episode."""
    from physworld_core.evaluation.oracle import run_oracle
    from physworld_core.evaluation.rollouts import RolloutRecorder
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.sim.base_env import CONTROL_HZ, DEFAULT_CAMERA

    camera = DEFAULT_CAMERA.resized(size, size)
    rows = []
    for k, (world_seed, episode_seed) in enumerate(_episodes(episodes, per_world)):
        task = BenchmarkTask("bin", world_seed)
        recorder = RolloutRecorder()
        result = run_oracle(task, episode_seed=episode_seed, observer=recorder, camera=camera)
        rows.append(_row(store, recorder, task, episode_seed, result.success, camera, float(CONTROL_HZ)))
        print(f"\rrebuilding: recorded {k + 1}/{episodes}", end="", flush=True)
    print()
    return rows


def record_reusing(store, episodes: int, size: int, per_world: int, fps: float | None) -> list[dict]:
    """The new way: each world built once, every one of its episodes run and recorded in it."""
    from physworld_core.evaluation.oracle import episode_limit
    from physworld_core.evaluation.rollouts import RecordConfig, RolloutRecorder, keep_renderer
    from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
    from physworld_core.sim.base_env import DEFAULT_CAMERA
    from physworld_core.world import get_family

    camera = DEFAULT_CAMERA.resized(size, size)
    record = RecordConfig(width=size, height=size, fps=fps)
    family = get_family("bin")
    names = tuple(f"delta_{i}" for i in range(6)) + ("gripper",)  # pd_ee_delta_pose: 6 moves + gripper
    rows, env, built = [], None, None
    try:
        for k, (world_seed, episode_seed) in enumerate(_episodes(episodes, per_world)):
            task = BenchmarkTask("bin", world_seed)
            if built != world_seed:
                if env is not None:
                    env.close()
                env = make_world_env(
                    task, control_mode=family.oracle_control_mode, camera=camera, render_mode="rgb_array"
                )
                keep_renderer(env)
                built = world_seed
            recorder = RolloutRecorder(
                frame_step=record.frame_step(), fps=record.recorded_fps(), action_names=names
            )
            env.reset(seed=episode_seed)
            policy, held, info = family.oracle(env.unwrapped), 0, {}
            for _ in range(episode_limit(family.env_id)):  # run_oracle's loop, in a world already built
                action = policy()
                recorder(env, action)
                _, _, _, _, info = env.step(action)
                held = held + 1 if bool(info["success"][0]) else 0
                if held >= HOLD_STEPS:
                    break
            rows.append(
                _row(store, recorder, task, episode_seed, bool(info["success"][0]), camera, recorder.fps)
            )
            print(f"\rreusing: recorded {k + 1}/{episodes}", end="", flush=True)
    finally:
        if env is not None:
            env.close()
    print()
    return rows


def main() -> None:
    from physworld_core.evaluation.rollouts import load_arrays
    from physworld_core.export.lerobot import CAMERA_KEY, export_lerobot
    from physworld_core.export.selection import Selection
    from physworld_core.export.video_set import VideoSetConfig, export_video_set
    from physworld_core.store import Store
    from physworld_core.video.codec import decode_mp4

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--size", type=int, default=128, help="camera width = height (pixels)")
    parser.add_argument("--per-world", type=int, default=5, help="episodes recorded in each world")
    parser.add_argument("--fps", type=float, default=None, help="recorded rate (default: the control rate)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        record_rebuilding(Store.at(str(Path(tmp) / "scratch")), args.episodes, args.size, args.per_world)
        rebuild_s = time.perf_counter() - start
        store = Store.at(str(Path(tmp) / "lake"))
        start = time.perf_counter()
        rows = record_reusing(store, args.episodes, args.size, args.per_world, args.fps)
        record_s = time.perf_counter() - start
        for task_id in sorted({r["task_id"] for r in rows}):
            store.lake.write_partition("rollouts", [r for r in rows if r["task_id"] == task_id], task_id)

        start = time.perf_counter()  # reference: read every recorded clip and array back from the blobs
        raw_bytes = 0
        for r in rows:
            frames = decode_mp4(store.blobs.get_bytes(r["video_uri"]))
            arrays = load_arrays(store.blobs.get_bytes(r["data_uri"]))
            raw_bytes += frames.nbytes + sum(a.nbytes for a in arrays.values())
        decode_s = time.perf_counter() - start

        results = {}
        for name, run in (
            (
                "lerobot v3",
                lambda out: export_lerobot(store, out, Selection(), progress=False),
            ),  # every episode
            (
                "video set",
                lambda out: export_video_set(
                    store, out, config=VideoSetConfig(("rollouts",)), progress=False
                ),
            ),
        ):
            out = str(Path(tmp) / name.replace(" ", "_"))
            start = time.perf_counter()
            result = run(out)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            again = run(out)
            results[name] = (result, seconds, time.perf_counter() - start, again.written)

        root = Path(tmp) / "lerobot_v3"  # time to first frame of the last episode, through the metadata
        start = time.perf_counter()
        import pyarrow.parquet as pq

        info = json.loads((root / "meta/info.json").read_text())
        episode = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()[-1]
        video = root / info["video_path"].format(
            video_key=CAMERA_KEY,
            chunk_index=episode[f"videos/{CAMERA_KEY}/chunk_index"],
            file_index=episode[f"videos/{CAMERA_KEY}/file_index"],
        )
        first_frame = _frame_at(video, episode[f"videos/{CAMERA_KEY}/from_timestamp"])
        ttff = time.perf_counter() - start
        start = time.perf_counter()
        decode_mp4(store.blobs.get_bytes(rows[-1]["video_uri"]))[0]
        ref_ttff = time.perf_counter() - start
        assert first_frame.shape == (args.size, args.size, 3)

    frames = sum(r["frames"] for r in rows)
    print(f"\n## Export, {args.episodes} episodes ({frames} frames, {args.size}x{args.size} camera)\n")
    old, new = 3600 * args.episodes / rebuild_s, 3600 * args.episodes / record_s
    print(f"recording (scripted oracle + rendering), {args.per_world} episodes per world:\n")
    print("| recording | seconds | recorded episodes per hour |")
    print("|---|---|---|")
    print(f"| rebuilding the world per episode (before) | {rebuild_s:.1f} | {old:.0f} |")
    print(f"| reusing the built world (now) | {record_s:.1f} | {new:.0f} |")
    print(f"\nreusing / rebuilding: {new / old:.2f}x; reference decode of all clips: {decode_s:.2f} s\n")
    print(
        "| export | seconds | episodes/s | MB/s written | size MB | size vs raw rows | vs reference decode | re-export s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (result, seconds, again_s, rewritten) in results.items():
        mb = result.bytes / 2**20
        print(
            f"| {name} | {seconds:.2f} | {args.episodes / seconds:.1f} | {mb / seconds:.2f} | {mb:.2f} | "
            f"{result.bytes / raw_bytes:.3f} | {seconds / decode_s:.2f}x | {again_s:.3f}"
            f"{' (rewrote!)' if rewritten else ' (unchanged)'} |"
        )
    print(
        f"\ntime to first frame of an exported episode: {1000 * ttff:.1f} ms "
        f"({ttff / ref_ttff:.2f}x decoding the stored clip's first frame, {1000 * ref_ttff:.1f} ms)"
    )


def _frame_at(path: Path, timestamp: float) -> np.ndarray:
    """Seek into a concatenated episode video and decode the frame at ``timestamp``."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(timestamp / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-6 >= timestamp:
                return frame.to_ndarray(format="rgb24")
    raise RuntimeError(f"no frame at {timestamp} s in {path}")


if __name__ == "__main__":
    main()
