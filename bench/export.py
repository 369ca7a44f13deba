"""Export throughput: record scripted demonstrations, export them as LeRobot v3 and as a video set.

    .venv/bin/python -m bench.export --episodes 100 --size 128

Prints episodes/s and MB/s of each export, its size on disk against the raw rows (uint8 frames + float32
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


def record(store, episodes: int, size: int) -> list[dict]:
    from physworld_core.evaluation.oracle import run_oracle
    from physworld_core.evaluation.rollouts import RolloutRecorder, rollout_row
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.sim.base_env import CONTROL_HZ, DEFAULT_CAMERA
    from physworld_core.world import get_family

    camera = DEFAULT_CAMERA.resized(size, size)
    rows = []
    for k in range(episodes):
        task = BenchmarkTask("bin", k // 5)
        recorder = RolloutRecorder()
        result = run_oracle(task, episode_seed=k % 5, observer=recorder, camera=camera)
        family = get_family("bin")
        rows.append(
            rollout_row(
                store,
                recorder,
                task_id=task.task_id,
                method="oracle",
                trial=k % 5,
                success=result.success,
                failure=None if result.success else "execution",
                fps=float(CONTROL_HZ),
                camera=camera,
                prompt=family.prompt_for(family.sample_layout(task.seed), None),
                family="bin",
                lineage={"source": "scripted oracle"},
            )
        )
        print(f"\rrecorded {k + 1}/{episodes}", end="", flush=True)
    print()
    return rows


def main() -> None:
    from physworld_core.evaluation.rollouts import load_arrays
    from physworld_core.export.lerobot import CAMERA_KEY, export_lerobot
    from physworld_core.export.video_set import VideoSetConfig, export_video_set
    from physworld_core.store import Store
    from physworld_core.video.codec import decode_mp4

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--size", type=int, default=128, help="camera width = height (pixels)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        start = time.perf_counter()
        rows = record(store, args.episodes, args.size)
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
            ("lerobot v3", lambda out: export_lerobot(store, out, progress=False)),
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
    print(
        f"recording (oracle + rendering): {record_s:.1f} s; reference decode of all clips: {decode_s:.2f} s"
    )
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
