"""The fault cases of ``python -m bench.faults``, registered by name in :data:`CASES`.

Classes (issue #29): **crash point** (``kill -9`` of ``physworld run`` while each stage's step runs, then a
run again), **concurrency** (two runs of one task at once; 4 writer processes × 15 commits on one table; two
inbox processors), **bad input** (untrusted inbox packages, command-line mistakes, bad ``camera.json``
values), **corruption** (a blob overwritten or deleted, the newest Delta commit deleted or garbled), **S3
loss** (the lake's SeaweedFS stopped for less and for longer than the retry window) and **dead run** (a killed
run cleared by run monitoring, the queue moving on).

Fast cases (no pipeline run) also run in ``make test`` through ``tests/faults``; slow ones run whole tiny
pipelines (:data:`bench.faults.TINY_RUN`, ~2-3 min each on 2 busy cores).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Self

from bench.faults import (
    BIN,
    PYTHON,
    REPO,
    RUN_TIMEOUT_S,
    SOURCE,
    STAGES,
    TASK,
    TINY_RUN,
    Bench,
    CaseFailed,
    Completed,
    FaultCase,
    Findings,
    Outcome,
    Scratch,
    _environment,
    compare_rows,
    is_one_line_error,
    lake_files,
    one_line,
    row_keys,
)

PROMPT = "put the red can in the bin"
MARKER = b"PHYSWORLD-FAULTS-OUTSIDE-MARKER: this file lives outside every package and lake\n"


# --------------------------------------------------------------------------------------------- helpers


def _package(folder: Path, prompt: str = PROMPT, width: int = 32, height: int = 24) -> Path:
    """A valid scene package folder (flat grey frame, depth 0.7 m, a camera looking down at the table)."""
    import numpy as np

    from physworld_core.scene import ScenePackage, save_scene_package
    from physworld_core.sim.camera import look_at_camera

    scene = ScenePackage(
        task_id="pkg",
        rgb=np.full((height, width, 3), 120, np.uint8),
        depth_m=np.full((height, width), 0.7, np.float32),
        camera=look_at_camera((0.45, 0.0, 0.6), (0.0, 0.0, 0.0), width, height, 58),
        prompt=prompt,
    )
    return save_scene_package(scene, folder)


def _png(width: int, height: int, channels: int, bit_depth: int = 8) -> bytes:
    """A real PNG of ``width`` × ``height`` zero pixels (grey, or RGB with ``channels=3``), streamed through
    zlib so a 6000×6000 frame costs no 100 MB array; it decodes to exactly that image."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(tag + data).to_bytes(4, "big")

    colour = {1: 0, 3: 2}[channels]
    compressor = zlib.compressobj(6)
    row = bytes(1 + width * channels * bit_depth // 8)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([bit_depth, colour, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _outside_marker(scratch: Scratch) -> Path:
    """A file outside every package and the lake, whose bytes must never appear in the lake."""
    folder = scratch.root / "outside"
    folder.mkdir(exist_ok=True)
    path = folder / "marker.txt"
    path.write_bytes(MARKER)
    scratch.watched.append(path)
    return path


def _task_row(task_id: str, prompt: str = PROMPT) -> dict:
    return {"task_id": task_id, "source": SOURCE, "prompt": prompt, "family": "bin", "seed": 3}


def _row_of(table: str, task_id: str, **values) -> dict:
    """A row of ``table`` with a plain value of its declared type in every column not given."""
    import pyarrow as pa

    from physworld_core.lake.tables import TABLES

    row = {}
    for column in TABLES[table].schema:
        if column.name in ("task_id", "created_at"):
            continue
        kind = column.type
        row[column.name] = (
            "x"
            if pa.types.is_string(kind)
            else True
            if pa.types.is_boolean(kind)
            else 0
            if pa.types.is_integer(kind)
            else 0.0
        )
    return {**row, **values, "task_id": task_id}


def _unchanged(f: Findings, before: dict, after: dict, what: str = "the lake") -> None:
    changed = sorted(set(before) ^ set(after) | {k for k in before if k in after and before[k] != after[k]})
    f.expect(not changed, f"{what} unchanged" if not changed else f"{what} changed: {', '.join(changed[:4])}")


def _refused(f: Findings, done: Completed, fragment: str, label: str) -> None:
    """A command refused with exit code 2 and one line on stderr holding ``fragment``."""
    lines = [line for line in done.err.splitlines() if line.strip()]
    shown = one_line(lines[0], 130) if lines else ""
    ok = (
        done.code == 2
        and is_one_line_error(done.err)
        and fragment in done.err
        and "internal error" not in done.err  # the CLI's wording for a bug, not a refusal
    )
    extra = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    f.expect(ok, f"{label}: {shown!r}" if ok else f"{label}: exit {done.code}, {shown!r}{extra}")


# ------------------------------------------------------------------------------------ bad input: inbox


def _inbox_lake(scratch: Scratch):
    store = scratch.store()
    inbox = scratch.lake_dir / "inbox"
    inbox.mkdir(parents=True)
    return store, inbox


def _process_inbox(scratch: Scratch, store):
    from physworld_core.inbox import process_inbox

    with _environment(scratch.env(), scratch.cwd):
        return process_inbox(store)


def _inbox_case(
    breaker: Callable[[Path, Scratch], None], reason: str, bench: Bench, scratch: Scratch
) -> Outcome:
    """A bad package ``a-bad`` next to a good ``b-good``: the bad one rejected with ``reason`` (one printable
    line), the good one accepted, no task of the bad one, nothing kept beyond the package's own files."""
    f = Findings()
    store, inbox = _inbox_lake(scratch)
    breaker(_package(inbox / "a-bad"), scratch)
    _package(inbox / "b-good")
    decisions = {d.name: d for d in _process_inbox(scratch, store)}
    bad, good = decisions.get("a-bad"), decisions.get("b-good")
    f.expect(good is not None and good.accepted, "the good package was accepted")
    if not f.expect(bad is not None and not bad.accepted, "the bad package was rejected"):
        return f.outcome()
    text = bad.reason or ""
    f.expect(reason in text and len(text) <= 500 and text.isprintable(), f"reason {one_line(text, 160)!r}")
    kept = scratch.lake_dir / "inbox" / "rejected" / "a-bad"
    f.expect((kept / "reason.txt").read_text() == text + "\n", "reason.txt holds the same line")
    extra = sorted(
        p.name
        for p in kept.iterdir()
        if p.name not in ("reason.txt", "rgb.png", "depth.npy", "depth.png", "camera.json", "prompt.txt")
    )
    f.expect(not extra, "only package files kept in rejected/" if not extra else f"kept {extra}")
    tasks = sorted(store.lake.scan("tasks").collect()["task_id"]) if store.lake.exists("tasks") else []
    f.expect(tasks == ["b-good"], f"tasks: {tasks}")
    f.expect(_process_inbox(scratch, store) == [], "a second pass finds nothing left")
    return f.outcome()


def _prompt_not_utf8(folder: Path, scratch: Scratch) -> None:
    (folder / "prompt.txt").write_bytes(b"\xff" + PROMPT.encode())


def _dangling_symlink(folder: Path, scratch: Scratch) -> None:
    (folder / "rgb.png").unlink()
    (folder / "rgb.png").symlink_to(folder.parent / "nowhere.png")


def _links_to(name: str, target: str, folder: Path, scratch: Scratch) -> None:
    scratch.watched.append(Path(target))
    (folder / name).unlink()
    (folder / name).symlink_to(target)


def _folder_links_outside(folder: Path, scratch: Scratch) -> None:
    """The package folder is a link to a capture elsewhere; its prompt (unlike the good package's) and a
    marker file are watched, so storing anything read through the link shows up as a file outside."""
    outside = _package(
        _outside_marker(scratch).parent / "capture", prompt="put the can from outside in the bin"
    )
    (outside / "notes.txt").write_bytes(MARKER)
    scratch.watched += [outside / "prompt.txt", outside / "notes.txt"]
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)


def _huge_image(folder: Path, scratch: Scratch) -> None:
    """A consistent 6000×6000 package: RGB and depth PNGs of that size and a camera that says so."""
    (folder / "rgb.png").write_bytes(_png(6000, 6000, 3))
    (folder / "depth.npy").unlink()
    (folder / "depth.png").write_bytes(_png(6000, 6000, 1, bit_depth=16))
    camera = json.loads((folder / "camera.json").read_text())
    scale = 6000 / camera["width"]
    camera.update(
        fx=camera["fx"] * scale,
        fy=camera["fy"] * 6000 / camera["height"],
        cx=3000.0,
        cy=3000.0,
        width=6000,
        height=6000,
    )
    (folder / "camera.json").write_text(json.dumps(camera))


def _sparse_extra(folder: Path, scratch: Scratch) -> None:
    with open(folder / "extra.bin", "wb") as handle:
        handle.truncate(1 << 30)


def _long_prompt(folder: Path, scratch: Scratch) -> None:
    text = ("put the red can in the bin \x00\x1b[31m " * 700)[:20_000]
    (folder / "prompt.txt").write_text(text)


def _existing_task_name(bench: Bench, scratch: Scratch) -> Outcome:
    """A package named like a registered task is refused; the task's row stays as it was."""
    f = Findings()
    store, inbox = _inbox_lake(scratch)
    store.lake.write_partition("tasks", [_task_row(TASK)], TASK)
    before = store.lake.read_partition("tasks", TASK).to_dicts()
    _package(inbox / TASK, prompt="put the blue box in the bin")
    [decision] = _process_inbox(scratch, store)
    f.expect(not decision.accepted, "the package was rejected")
    f.expect(
        (decision.reason or "").startswith(f"task {TASK} already exists"),
        f"reason {one_line(decision.reason or '', 140)!r}",
    )
    after = store.lake.read_partition("tasks", TASK).to_dicts()
    f.expect(after == before, "the task's row is unchanged" if after == before else f"the row became {after}")
    return f.outcome()


INBOX_PROCESSOR = """
import json, sys, time
from pathlib import Path
from physworld_core.inbox import process_inbox
from physworld_core.store import Store
go = Path(sys.argv[2])
(go.parent / f"ready-{sys.argv[3]}").touch()
while not go.exists():
    time.sleep(0.01)
decisions = process_inbox(Store.at(sys.argv[1]))
print(json.dumps([[d.name, d.accepted] for d in decisions]))
"""


def _two_processors(bench: Bench, scratch: Scratch) -> Outcome:
    """Two processes run ``process_inbox`` on the same 12 packages (one bad) at the same moment."""
    f = Findings()
    store, inbox = _inbox_lake(scratch)
    names = [f"cap-{i:02d}" for i in range(12)]
    for name in names:
        _package(inbox / name)
    _prompt_not_utf8(inbox / "cap-05", scratch)
    go = scratch.root / "barrier" / "go"
    go.parent.mkdir()
    workers = [
        scratch.start(f"inbox-{i}", [PYTHON, "-c", INBOX_PROCESSOR, scratch.lake_uri, str(go), str(i)])
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((go.parent / f"ready-{i}").exists() for i in range(2)):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise CaseFailed("the inbox processors did not get ready")
        time.sleep(0.02)
    go.touch()
    decided = []
    for i, worker in enumerate(workers):
        code = worker.wait(timeout=300)
        f.expect(
            code == 0,
            f"processor {i} exit {code}" + ("" if code == 0 else f": {scratch.log(f'inbox-{i}.err')[-300:]}"),
        )
        if code == 0:
            decided += json.loads(scratch.log(f"inbox-{i}.out").strip().splitlines()[-1])
    counts = {name: sum(1 for n, _ in decided if n == name) for name in names}
    f.expect(all(c == 1 for c in counts.values()), f"each package decided once ({len(decided)} decisions)")
    tasks = sorted(store.lake.scan("tasks").collect()["task_id"])
    good = [n for n in names if n != "cap-05"]
    lost = len(set(good) - set(tasks))
    f.expect(tasks == good, f"{len(tasks)} tasks registered, cap-05 rejected")
    done = sorted(p.name for p in (inbox / "done").iterdir())
    f.expect(
        done == good and [p.name for p in (inbox / "rejected").iterdir()] == ["cap-05"],
        "done/ and rejected/ as decided",
    )
    f.expect(not any((inbox / ".processing").iterdir()), "no claim left behind")
    version = store.lake.version("tasks")
    return f.outcome(lost=lost, duplicated=max(0, version - len(good)))


# ------------------------------------------------------------------------------ bad input: command line


def _cli_lake(scratch: Scratch):
    """A lake holding one registered task and one recorded rollout (what exports filter)."""
    store = scratch.store()
    store.lake.write_partition("tasks", [_task_row(TASK)], TASK)
    rollout = _row_of("rollouts", TASK, method="physworld", trial=0, success=True, fps=20.0, frames=10)
    store.lake.write_partition("rollouts", [rollout], TASK)
    return store


def _cli_mistakes(
    commands: list[tuple[list[str], str]], bench: Bench, scratch: Scratch, lake: str | None = None
) -> Outcome:
    """Each command is refused with exit code 2 and one line holding its fragment; the lake is unchanged."""
    f = Findings()
    _cli_lake(scratch)
    before = lake_files(scratch.lake_dir)
    for argv, fragment in commands:
        _refused(f, scratch.cli(*argv, lake_uri=lake), fragment, " ".join(argv))
    _unchanged(f, before, lake_files(scratch.lake_dir))
    if lake is not None:
        f.expect(not Path(lake).exists(), f"{Path(lake).name}/ not created")
    return f.outcome()


def _mistyped_lake(bench: Bench, scratch: Scratch) -> Outcome:
    typo = str(scratch.root / "lkae")
    commands = [
        (argv, f"no lake at {typo}")
        for argv in (
            ["list"],
            ["status", TASK],
            ["run", TASK],
            ["export", "videos"],
            ["export", "lerobot"],
            ["lake", "check"],
            ["lake", "migrate"],
        )
    ]
    return _cli_mistakes(commands, bench, scratch, lake=typo)


# --------------------------------------------------------------------------------- bad input: camera.json


def _camera_case(field_path: tuple, value, fragment: str, bench: Bench, scratch: Scratch) -> Outcome:
    """``add-task`` of a folder whose camera.json holds ``value`` at ``field_path``: refused naming the field,
    nothing written to the lake."""
    f = Findings()
    store = scratch.store()
    store.lake.write_partition("tasks", [_task_row(TASK)], TASK)
    folder = _package(scratch.root / "capture")
    camera = json.loads((folder / "camera.json").read_text())
    target = camera
    for key in field_path[:-1]:
        target = target[key]
    target[field_path[-1]] = value
    (folder / "camera.json").write_text(json.dumps(camera))  # NaN is written as the JSON extension NaN
    before = lake_files(scratch.lake_dir)
    _refused(
        f,
        scratch.cli("add-task", "cam-1", str(folder)),
        fragment,
        f"camera {_path_text(field_path)} = {value!r}",
    )
    _unchanged(f, before, lake_files(scratch.lake_dir))
    return f.outcome()


def _path_text(field_path: tuple) -> str:
    return field_path[0] + "".join(f"[{k}]" for k in field_path[1:])


# -------------------------------------------------------------------------- corruption (hand-made lake)


def _twin_row(store, task_id: str, mesh: bytes) -> dict:
    """A twins row referring to two blobs: a mesh (inside the spec JSON) and the spec file."""
    mesh_ref = store.blobs.put_bytes(mesh, ".ply")
    spec = store.blobs.put_bytes(json.dumps({"meshes": [mesh_ref.uri]}).encode(), ".json")
    return _row_of(
        "twins",
        task_id,
        spec_json=json.dumps({"target_mesh": mesh_ref.uri}),
        spec_uri=spec.uri,
        settle_json="{}",
        passed=True,
        seconds=1.0,
    )


def _small_lake(scratch: Scratch):
    """Two tasks with a twin each: the rows a real lake holds, made by hand in a second."""
    store = scratch.store()
    rows = {}
    for task in ("a", "b"):
        store.lake.write_partition("tasks", [_task_row(task)], task)
        rows[task] = _twin_row(store, task, f"mesh of task {task} ".encode() * 40)
        store.lake.write_partition("twins", [rows[task]], task)
    return store, rows


def _check(f: Findings, scratch: Scratch, expect: str | None) -> Completed:
    """``physworld lake check``: clean (``expect`` None) or exit 1 with a problem of kind ``expect``."""
    done = scratch.cli("lake", "check")
    if expect is None:
        f.expect(done.code == 0 and "no problem found" in done.out, f"lake check clean (exit {done.code})")
    else:
        lines = [one_line(line, 140) for line in done.out.splitlines() if expect in line]
        f.expect(
            done.code == 1 and bool(lines),
            f"lake check exit {done.code}: {lines[0] if lines else done.out[-200:]!r}",
        )
    return done


def _blob_damaged(delete: bool, bench: Bench, scratch: Scratch) -> Outcome:
    """A blob overwritten with other bytes of the same size (or deleted) is reported by ``lake check``; the
    stage's write of the same content (what a re-run does) heals it in place."""
    f = Findings()
    store, rows = _small_lake(scratch)
    keys = row_keys(store)
    uri = json.loads(rows["a"]["spec_json"])["target_mesh"]
    path = Path(store.blobs.local_path(uri))
    original = path.read_bytes()
    if delete:
        path.unlink()
    else:
        path.write_bytes(bytes(b ^ 0xFF for b in original))
    _check(f, scratch, "missing blob" if delete else "corrupt blob")
    again = store.blobs.put_bytes(original, ".ply").uri  # the stage writing its output again
    store.lake.write_partition("twins", [rows["a"]], "a")
    f.expect(
        again == uri and path.read_bytes() == original, "the re-write put the right bytes back at the address"
    )
    _check(f, scratch, None)
    diff = compare_rows(keys, row_keys(store))
    return f.outcome(diff.lost, diff.duplicated)


def _newest_commit(scratch: Scratch, table: str) -> Path:
    return max((scratch.lake_dir / table / "_delta_log").glob("*.json"))


def _commit_deleted(bench: Bench, scratch: Scratch) -> Outcome:
    """The newest ``_delta_log`` JSON deleted: readers silently see the version before; ``lake check``
    reports the rollback with both versions; writing the partition again (the repair) makes it current."""
    f = Findings()
    store, _ = _small_lake(scratch)
    store.lake.write_partition("tasks", [_task_row("a", "put the blue box in the bin")], "a")
    keys = row_keys(store)
    _newest_commit(scratch, "tasks").unlink()
    prompt = store.lake.read_partition("tasks", "a")["prompt"][0]
    f.note(f"a reader now sees the older prompt {prompt!r}")
    done = _check(f, scratch, "rolled back")
    f.expect("version" in done.out and " a " in done.out, "the report names task a and the versions")
    store.lake.write_partition("tasks", [_task_row("a", "put the blue box in the bin")], "a")
    _check(f, scratch, None)
    prompt = store.lake.read_partition("tasks", "a")["prompt"][0]
    f.expect(prompt == "put the blue box in the bin", "after the rewrite readers see the current prompt")
    diff = compare_rows(keys, row_keys(store))
    return f.outcome(diff.lost, diff.duplicated)


def _commit_garbled(bench: Bench, scratch: Scratch) -> Outcome:
    """The newest commit JSON replaced by garbage of the same size: every reader refuses the table (never the
    older version silently), ``lake check`` reports it unreadable, a command says so in one line."""
    from physworld_core.errors import LakeError

    f = Findings()
    store, _ = _small_lake(scratch)
    store.lake.write_partition("tasks", [_task_row("a", "put the blue box in the bin")], "a")
    newest = _newest_commit(scratch, "tasks")
    newest.write_bytes(b"{garbled" + b"#" * (newest.stat().st_size - 8))
    try:
        prompt = store.lake.read_partition("tasks", "a")["prompt"][0]
        f.expect(False, f"the table was read, prompt {prompt!r}")
    except LakeError as error:
        f.expect(True, f"readers refuse the table ({one_line(str(error), 80)!r})")
    _check(f, scratch, "unreadable table")
    _refused(f, scratch.cli("status", "a"), "tasks", "physworld status a")
    return f.outcome()


# ------------------------------------------------------------------------------ concurrency (fast ones)


def _writers(processes: int, writes: int, bench: Bench, scratch: Scratch) -> Outcome:
    """``processes`` OS processes each rewrite their own partition of ``evaluations`` ``writes`` times,
    released together (tests/lake/concurrent_writer.py): every commit lands, each partition holds its last
    write, no row is doubled."""
    import polars as pl

    from physworld_core.lake import Lake
    from physworld_core.lake.delta import COMMIT_OPERATION, COMMIT_TASK_ID

    f = Findings()
    trials = 3
    barrier = scratch.root / "barrier"
    barrier.mkdir()
    tasks = [f"writer-{i}" for i in range(processes)]
    script = REPO / "tests" / "lake" / "concurrent_writer.py"
    workers = {}
    for task in tasks:
        config = {
            "root": scratch.lake_uri,
            "storage_options": scratch.storage_options,
            "task_id": task,
            "writes": writes,
            "trials": trials,
            "barrier_dir": str(barrier),
        }
        workers[task] = scratch.start(task, [PYTHON, str(script), json.dumps(config)])
    deadline = time.monotonic() + 120
    while not all((barrier / f"ready-{t}").exists() for t in tasks):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers.values()):
            raise CaseFailed("the writers did not get ready")
        time.sleep(0.02)
    started = time.monotonic()
    (barrier / "go").touch()
    versions = {}
    for task, worker in workers.items():
        code = worker.wait(timeout=600)
        if f.expect(code == 0, f"{task} exit {code}") and code == 0:
            versions[task] = json.loads(scratch.log(f"{task}.out").strip().splitlines()[-1])["versions"]
    seconds = time.monotonic() - started
    lake = Lake(scratch.lake_uri, storage_options=scratch.storage_options)
    frame = lake.scan("evaluations").collect()
    committed = sorted(v for vs in versions.values() for v in vs)
    total = processes * writes
    f.expect(
        committed == list(range(1, total + 1)), f"{len(set(committed))}/{total} commits, each its own version"
    )
    history = lake.history("evaluations")
    per_task = {
        t: sum(
            1 for h in history if h.get(COMMIT_TASK_ID) == t and h.get(COMMIT_OPERATION) == "write_partition"
        )
        for t in tasks
    }
    f.expect(
        all(n == writes for n in per_task.values()),
        f"history holds {sum(per_task.values())} partition writes",
    )
    last = frame.group_by("task_id").agg(rows=pl.len(), steps=pl.col("steps").min())
    latest = {row["task_id"]: (row["rows"], row["steps"]) for row in last.iter_rows(named=True)}
    f.expect(
        latest == {t: (trials, writes - 1) for t in tasks},
        f"each partition holds its last write ({seconds:.0f} s)",
    )
    keys = frame.select("task_id", "method", "trial").iter_rows()
    rows = list(keys)
    lost = processes * trials - len(set(rows))
    return f.outcome(lost=max(lost, 0) + total - len(set(committed)), duplicated=len(rows) - len(set(rows)))


# ------------------------------------------------------------------------- slow cases: pipeline runs

KILL_DELAY_S = {
    "scenes": 5.0,
    "videos": 0.5,
    "reconstructions": 4.0,
    "twins": 4.0,
    "policies": 0.0,
    "evaluations": 10.0,
}
"""How long after its step started each stage is killed (the steps take ~20, 3, 14, 20, 25-40, 70 s here)."""
SHORT_OUTAGE_S = 10.0
LONG_OUTAGE_WINDOW_S = 10.0
"""Retry window of the store the long-outage case builds to call the scenes stage itself (the CLI's own
default window, 120 s, is measured in the same case on ``physworld status``)."""
_RESUMED = re.compile(r"resuming from update (\d+) of (\d+)")
_PPO_UPDATE = re.compile(r"PPO update (\d+):")


def _wait_for(predicate, timeout_s: float, what: str, process=None, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise CaseFailed(f"waiting for {what}: the process exited first (exit {process.returncode})")
        if time.monotonic() > deadline:
            raise CaseFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def _tiny_config(scratch: Scratch, env_steps: int | None = None) -> str:
    config = json.loads(json.dumps(TINY_RUN))
    if env_steps is not None:
        config["ops"]["policies"]["config"]["total_env_steps"] = env_steps
    return str(scratch.write_config(config))


def _checkpointed_env_steps() -> int:
    """A PPO budget (one twin env) of two updates past the first checkpoint: the killed policies step has a
    checkpoint in the lake while it still trains, so the kill lands mid-training."""
    from physworld_core.policy.train import PolicyTrainConfig

    ppo = PolicyTrainConfig().ppo
    return ppo.num_steps * (ppo.checkpoint_every + 2)


def _run_logged(scratch: Scratch, name: str, *argv: str) -> Completed:
    """``physworld <argv>`` to the end, its output kept in ``logs/<name>.*`` (as :meth:`Scratch.physworld`)."""
    started = time.monotonic()
    process = scratch.start_physworld(name, *argv)
    code = process.wait(timeout=RUN_TIMEOUT_S)
    return Completed(code, scratch.log(f"{name}.out"), scratch.log(f"{name}.err"), time.monotonic() - started)


def _add_task(scratch: Scratch) -> None:
    added = scratch.physworld("add-task", TASK, SOURCE)
    if added.code != 0:
        raise CaseFailed(f"add-task failed: {added.last_err()}")


def _latest_run(instance):
    records = instance.get_run_records(limit=1)
    return records[0].dagster_run if records else None


def _step_events(instance, run_id: str, step: str) -> set[str]:
    import dagster as dg

    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    return {
        e.dagster_event.event_type_value
        for e in instance.all_logs(run_id, of_type=kinds)
        if e.step_key == step
    }


def _in_step(scratch: Scratch, process, step: str) -> tuple[str, float]:
    """Wait (polling the run's Dagster instance) until ``step`` of the run ``process`` executes; returns the
    run id and the moment its STEP_START was seen."""
    with scratch.instance() as instance:
        run = _wait_for(lambda: _latest_run(instance), 600, "the run to be created", process)
        _wait_for(
            lambda: "STEP_START" in _step_events(instance, run.run_id, step),
            RUN_TIMEOUT_S,
            f"step {step} to start",
            process,
        )
    return run.run_id, time.monotonic()


def _kill(process) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # the run's own process group: its env workers die with it
    process.wait(timeout=60)


def _terminate(process, grace_s: float = 60.0) -> None:
    """Stop a server the case started (its process group) the way an operator does, so it can remove its
    sockets and temp files; SIGKILL only if it does not exit within ``grace_s``."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _kill(process)


def _run_messages(scratch: Scratch, run_id: str | None = None) -> list[str]:
    """Every message of a run's event log (the latest run by default)."""
    with scratch.instance() as instance:
        run_id = run_id or _latest_run(instance).run_id
        return [e.user_message or "" for e in instance.all_logs(run_id)]


def _checkpoint_in_lake(scratch: Scratch) -> Callable[[], bool]:
    from physworld_core.lake.work import WorkArea
    from physworld_core.policy.ppo import CHECKPOINT_NAME

    work = WorkArea.from_lake(scratch.store().lake)
    return lambda: any(
        CHECKPOINT_NAME in work.folder("policies", TASK, key).files() for key in work.keys("policies", TASK)
    )


def _after_run(f: Findings, bench: Bench, scratch: Scratch, done: Completed | None, what: str):
    """The checks after a run that should have healed everything: success (of ``done``, when given), the
    clean run's row keys, lake check clean, no work files left."""
    if done is not None:
        f.expect(
            done.code == 0,
            f"{what} succeeded ({done.seconds:.0f} s)"
            if done.code == 0
            else f"{what} exit {done.code}: {done.last_err()}",
        )
    diff = compare_rows(bench.reference().keys, row_keys(scratch.store()))
    f.expect(diff.extra == 0 or what.startswith("lake check --repair"), diff.detail)
    checked = scratch.physworld("lake", "check")
    f.expect(
        checked.code == 0 and "no problem found" in checked.out,
        "lake check clean"
        if checked.code == 0
        else f"lake check exit {checked.code}: {one_line(checked.out[-300:] + checked.err[-200:])}",
    )
    if not scratch.is_s3:
        left = sorted(lake_files(scratch.lake_dir / "work"))
        f.expect(not left, "no work files left" if not left else f"work files left: {left[:3]}")
    return diff


def _crash_case(stage: str, bench: Bench, scratch: Scratch) -> Outcome:
    """``kill -9`` of ``physworld run`` (its whole process group) while ``stage``'s step runs, then the same
    command again."""
    from physworld_core.lake.check import check_lake

    f = Findings()
    bench.reference()
    _add_task(scratch)
    config = _tiny_config(scratch, _checkpointed_env_steps() if stage == "policies" else None)
    process = scratch.start_physworld("killed-run", "run", TASK, "--config", config)
    _, started = _in_step(scratch, process, stage)
    if stage == "policies":
        _wait_for(_checkpoint_in_lake(scratch), 900, "a PPO checkpoint in the lake", process, poll_s=0.05)
    time.sleep(max(0.0, started + KILL_DELAY_S[stage] - time.monotonic()))
    _kill(process)
    into = time.monotonic() - started
    with scratch.instance() as instance:
        finished = _step_events(instance, _latest_run(instance).run_id, stage) - {"STEP_START"}
    f.expect(
        not finished,
        f"killed {into:.1f} s into step {stage}" + (f" (too late: {finished})" if finished else ""),
    )
    if stage == "policies":
        killed_at = _PPO_UPDATE.findall(scratch.log("killed-run.err"))
        f.note(f"the killed run had logged PPO update {killed_at[-1] if killed_at else '?'}")
    problems = check_lake(scratch.store(), progress=False).problems
    f.expect(
        not problems,
        "lake consistent after the kill" if not problems else f"after the kill: {problems[0].as_row()}",
    )
    rerun = _run_logged(scratch, "run-again", "run", TASK, "--config", config)
    diff = _after_run(f, bench, scratch, rerun, "run again")
    if stage == "policies":
        in_log = [m.group(0) for m in map(_RESUMED.search, _run_messages(scratch)) if m]
        printed = _RESUMED.findall(rerun.err)
        updates = [int(u) for u, _ in printed] + [int(_RESUMED.search(m).group(1)) for m in in_log]
        f.expect(
            any(u > 0 for u in updates),
            f"PPO resumed from update {max(updates)}"
            if updates
            else "PPO did not resume (started at update 1)",
        )
        f.expect(
            bool(in_log),
            "the resume is in the run's event log"
            if in_log
            else "the resume is not in the run's event log (stderr only)",
        )
    return f.outcome(diff.lost, diff.duplicated)


def _two_runs(bench: Bench, scratch: Scratch) -> Outcome:
    f = Findings()
    bench.reference()
    _add_task(scratch)
    config = _tiny_config(scratch)
    started = time.monotonic()
    first = scratch.start_physworld("run-0", "run", TASK, "--config", config)
    _in_step(scratch, first, "scenes")  # the second is started while the first is running
    runs = [first, scratch.start_physworld("run-1", "run", TASK, "--config", config)]
    codes = []
    for i, run in enumerate(runs):
        codes.append(run.wait(timeout=RUN_TIMEOUT_S))
        lines = [
            line for line in scratch.log(f"run-{i}.err").splitlines() if line.startswith("physworld run")
        ]
        refused = codes[-1] == 2 and len(lines) == 1 and "already running" in lines[0]
        f.note(
            f"run {i} succeeded"
            if codes[-1] == 0
            else f"run {i} {'refused' if refused else 'failed'}, exit {codes[-1]}: {one_line(' / '.join(lines), 300)}"
        )
        f.expect(codes[-1] == 0 or refused, f"run {i}: success or a one-line refusal")
    f.expect(0 in codes, "at least one run succeeded")
    f.note(f"both ended after {time.monotonic() - started:.0f} s")
    diff = _after_run(f, bench, scratch, None, "both runs")
    return f.outcome(diff.lost, diff.duplicated)


def _copy_reference(bench: Bench, scratch: Scratch):
    """This case's lake: a copy of the clean run's (blob references are relative, so a copy is a lake)."""
    shutil.copytree(bench.reference().lake, scratch.lake_dir)
    return scratch.store()


def _check_reports(f: Findings, scratch: Scratch, kind: str) -> None:
    checked = scratch.physworld("lake", "check")
    lines = [one_line(line, 120) for line in checked.out.splitlines() if line.startswith(kind)]
    f.expect(
        checked.code == 1 and bool(lines),
        f"lake check exit {checked.code}: {lines[0] if lines else one_line(checked.out[-200:] + checked.err[-200:])!r}",
    )


def _real_blob_corrupt(bench: Bench, scratch: Scratch) -> Outcome:
    f = Findings()
    store = _copy_reference(bench, scratch)
    uri = store.lake.read_partition("scenes", TASK)["rgb_uri"][0]
    path = store.blobs.local_path(uri)
    original = path.read_bytes()
    path.write_bytes(bytes(b ^ 0xFF for b in original))
    _check_reports(f, scratch, "corrupt blob")
    diff = _after_run(
        f, bench, scratch, scratch.physworld("run", TASK, "--config", _tiny_config(scratch)), "run again"
    )
    again = store.lake.read_partition("scenes", TASK)["rgb_uri"][0]
    healed = path.read_bytes() == original
    f.expect(
        again != uri or healed,
        "the blob was rewritten in place" if again == uri else "the run wrote a new blob",
    )
    return f.outcome(diff.lost, diff.duplicated)


def _repair(f: Findings, bench: Bench, scratch: Scratch):
    """``physworld lake check --repair --config`` with the run config the clean run used, so the repaired
    partition holds the same rows."""
    repaired = _run_logged(scratch, "repair", "lake", "check", "--repair", "--config", _tiny_config(scratch))
    lines = [line for line in repaired.out.splitlines() if line.startswith("repaired")]
    f.note(lines[-1] if lines else f"repair: {repaired.last_err()}")
    return _after_run(f, bench, scratch, repaired, "lake check --repair")


def _real_blob_missing(bench: Bench, scratch: Scratch) -> Outcome:
    f = Findings()
    store = _copy_reference(bench, scratch)
    store.blobs.local_path(store.lake.read_partition("twins", TASK)["spec_uri"][0]).unlink()
    _check_reports(f, scratch, "missing blob")
    diff = _repair(f, bench, scratch)
    return f.outcome(diff.lost, diff.duplicated)


def _episodes(done: Completed) -> int | None:
    match = re.search(r"episodes (\d+)", done.out)
    return int(match.group(1)) if match else None


def _real_rollback(bench: Bench, scratch: Scratch) -> Outcome:
    f = Findings()
    store = _copy_reference(bench, scratch)
    where = ["--where", f"task_id={TASK}"]
    before = scratch.physworld("export", "lerobot", *where, "--out", str(scratch.root / "export-before"))
    f.note(f"export before: {_episodes(before)} episodes")
    max((scratch.lake_dir / "rollouts" / "_delta_log").glob("*.json")).unlink()
    rolled = scratch.physworld("export", "lerobot", *where, "--out", str(scratch.root / "export-rolled-back"))
    f.note(f"export of the rolled-back table: {_episodes(rolled) if rolled.code == 0 else rolled.last_err()}")
    _check_reports(f, scratch, "rolled back")
    diff = _repair(f, bench, scratch)
    after = scratch.physworld("export", "lerobot", *where, "--out", str(scratch.root / "export-after"))
    rows = store.lake.read_partition("rollouts", TASK).height
    f.expect(
        after.code == 0 and _episodes(after) == rows,
        f"export after the repair: {_episodes(after)} episodes, the table holds {rows} rollouts",
    )
    return f.outcome(diff.lost, diff.duplicated)


class _OwnS3:
    """A SeaweedFS server of the case's own (tests/conftest.py helpers): stopped and started again on the
    same ports and data, as an S3 endpoint restarting."""

    def __init__(self, workdir: Path) -> None:
        from tests.conftest import _free_port_pairs, _weed_binary

        self.workdir, self.weed, self.ports = workdir, _weed_binary(), _free_port_pairs(5)
        self.process = None
        self.start()

    def start(self) -> None:
        from tests.conftest import _start_weed_mini

        self.process, self.server = _start_weed_mini(self.weed, self.workdir, self.ports)

    def stop(self) -> None:
        from tests.conftest import _stop

        _stop(self.process)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _s3_short_outage(bench: Bench, scratch: Scratch) -> Outcome:
    f = Findings()
    bench.reference()
    with _OwnS3(scratch.root / "weed") as s3:
        scratch.use_s3(s3.server.uri("lake"), s3.server.storage_options())
        _add_task(scratch)
        config = _tiny_config(scratch)
        run = scratch.start_physworld("run", "run", TASK, "--config", config)
        started = time.monotonic()
        run_id, _ = _in_step(scratch, run, "videos")
        s3.stop()
        down = time.monotonic()
        time.sleep(max(0.0, down + SHORT_OUTAGE_S - time.monotonic()))
        s3.start()
        f.note(f"S3 down {time.monotonic() - down:.0f} s from the start of step videos")
        code = run.wait(timeout=RUN_TIMEOUT_S)
        retries = [m for m in _run_messages(scratch, run_id) if "unavailable" in m and "retry" in m]
        f.expect(bool(retries), f"the outage was felt: {len(retries)} retried storage calls")
        diff = _after_run(
            f,
            bench,
            scratch,
            Completed(code, "", scratch.log("run.err"), time.monotonic() - started),
            "the run",
        )
    return f.outcome(diff.lost, diff.duplicated)


def _s3_long_outage(bench: Bench, scratch: Scratch) -> Outcome:
    from physworld_core.ingest import ingest_scene
    from physworld_core.lake.retry import RetryWindow, StorageUnavailableError

    f = Findings()
    bench.reference()
    with _OwnS3(scratch.root / "weed") as s3:
        endpoint = s3.server.endpoint_url
        scratch.use_s3(s3.server.uri("lake"), s3.server.storage_options())
        _add_task(scratch)
        s3.stop()
        store = scratch.store(retry=RetryWindow(total_s=LONG_OUTAGE_WINDOW_S, initial_s=0.5, max_s=2.0))
        started = time.monotonic()
        try:
            with _environment(scratch.env(), scratch.cwd):
                ingest_scene(store, TASK)
            f.expect(False, "the scenes stage ran without its storage")
        except StorageUnavailableError as error:
            text = str(error)
            ok = endpoint in text and "\n" not in text and "\x1b" not in text
            f.expect(
                ok,
                f"scenes stage ({LONG_OUTAGE_WINDOW_S:.0f} s window) failed after {time.monotonic() - started:.0f} s: {one_line(text, 150)!r}",
            )
        status = scratch.physworld("status", TASK)
        lines = [line for line in status.err.splitlines() if line.strip()]
        retried = sum("unavailable" in line and "retry" in line for line in lines[:-1])
        ok = (
            status.code == 2
            and bool(lines)
            and lines[-1].startswith("physworld status: ")
            and endpoint in lines[-1]
            and len(lines) == retried + 1
            and "Traceback" not in status.err
        )
        f.expect(
            ok,
            f"physworld status (default window) exit {status.code} after {status.seconds:.0f} s, "
            f"{retried} retry warnings, then {one_line(lines[-1] if lines else '', 150)!r}",
        )
        s3.start()
        diff = _after_run(
            f,
            bench,
            scratch,
            scratch.physworld("run", TASK, "--config", _tiny_config(scratch)),
            "a run once S3 is back",
        )
    return f.outcome(diff.lost, diff.duplicated)


def _dead_run(bench: Bench, scratch: Scratch) -> Outcome:
    """dagster-daemon up, a ``physworld run`` killed with SIGKILL while a run waits in the queue behind it
    (one run at a time): run monitoring fails the dead run at its next poll and the queue moves."""
    import dagster as dg
    import yaml

    f = Findings()
    poll = yaml.safe_load((scratch.home / "dagster.yaml").read_text())["run_monitoring"][
        "poll_interval_seconds"
    ]
    _add_task(scratch)
    workspace = str(REPO / "workspace.yaml")
    daemon = scratch.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], cwd=REPO)
    with scratch.instance() as instance:
        _wait_for(
            lambda: "MONITORING" in instance.get_daemon_heartbeats(), 300, "the monitoring daemon", daemon
        )
        run = scratch.start_physworld("killed-run", "run", TASK, "--config", _tiny_config(scratch))
        killed = _wait_for(
            lambda: instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])),
            600,
            "the run to start",
            run,
        )[0].dagster_run
        launch = subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-w", workspace, "-j", "export"],
            cwd=REPO,
            env=scratch.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        f.expect(
            launch.returncode == 0,
            "an export run submitted"
            if launch.returncode == 0
            else f"dagster job launch: {one_line(launch.stderr[-300:])}",
        )
        queued = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
        f.expect(len(queued) == 1, f"{len(queued)} run queued behind the running one")
        time.sleep(poll + 2)
        waiting = instance.get_run_by_id(queued[0].dagster_run.run_id).status if queued else None
        f.expect(waiting == dg.DagsterRunStatus.QUEUED, f"it waits while the run is alive ({waiting})")
        _kill(run)
        killed_at = time.time()
        failed = _wait_for(
            lambda: instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE,
            poll + 120,
            "the dead run to be failed",
            daemon,
            poll_s=0.2,
        )
        failures = instance.all_logs(killed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        cleared = (failures[-1].timestamp if failures else time.time()) - killed_at
        f.expect(
            failed and cleared <= poll + 5,
            f"dead run failed {cleared:.0f} s after the kill (poll interval {poll} s)",
        )
        message = " ".join(f"{e.user_message or ''} {e.dagster_event.message or ''}" for e in failures)
        f.expect("is gone" in message, f"reason {one_line(message, 120)!r}")
        if queued:
            run_id = queued[0].dagster_run.run_id
            _wait_for(
                lambda: instance.get_run_by_id(run_id).status != dg.DagsterRunStatus.QUEUED,
                180,
                "the queued run to launch",
                daemon,
            )
            f.expect(True, f"the queued run launched {time.time() - killed_at - cleared:.0f} s after")
    _terminate(daemon)
    return f.outcome()


# ---------------------------------------------------------------------------- registry (fast cases)

_INBOX = {
    "prompt-not-utf8": (_prompt_not_utf8, "inbox/a-bad/prompt.txt is not UTF-8 text"),
    "dangling-symlink": (_dangling_symlink, "inbox/a-bad/rgb.png is a symbolic link"),
    "prompt-links-etc-hostname": (
        partial(_links_to, "prompt.txt", "/etc/hostname"),
        "prompt.txt is a symbolic link",
    ),
    "rgb-links-etc-passwd": (partial(_links_to, "rgb.png", "/etc/passwd"), "rgb.png is a symbolic link"),
    "folder-links-outside": (_folder_links_outside, "inbox/a-bad is a symbolic link"),
    "image-6000x6000": (_huge_image, "6000x6000 pixels; the limit is 4096 pixels a side"),
    "sparse-1gib-extra-file": (_sparse_extra, "unexpected file 'extra.bin'"),
    "prompt-20000-chars-nul-esc": (_long_prompt, "control character U+0000"),
}

_CLI = {
    "unknown-task": [
        (["run", "nosuch-0001"], "no task nosuch-0001"),
        (["status", "nosuch-0001"], "no task nosuch-0001"),
    ],
    "unknown-family": [(["add-task", "x-1", "benchmark:nofamily:3"], "unknown world family 'nofamily'")],
    "malformed-source": [
        (["add-task", "x-1", "benchmark:bin"], "expected benchmark:<family>:<seed>"),
        (["add-task", "x-1", "benchmark:bin:-1"], "expected benchmark:<family>:<seed>"),
        (
            ["add-task", "x-1", "maniskill:NoSuchEnv-v9:0", "--prompt", "push it"],
            "not a registered ManiSkill env",
        ),
        (["add-task", "x-1", "ftp://host/x"], "does not exist"),
        (["add-task", "../x", SOURCE], "not allowed"),
    ],
    "bad-where": [
        (["export", "lerobot", "--where", "success=maybe"], "success"),
        (["export", "lerobot", "--where", "trial=abc"], "trial"),
        (["export", "lerobot", "--where", "nocolumn=1"], "unknown column(s) nocolumn"),
        (["export", "lerobot", "--where", "task_id"], "must look like column=value"),
        (["export", "videos", "--since", "yesterday"], "ISO 8601"),
    ],
}

_CAMERA = {
    "fx-string": (("fx",), "115.46", 'fx must be a number, got the string "115.46"'),
    "width-boolean": (("width",), True, "width must be a number, got true"),
    "width-fraction": (("width",), 128.9, "width must be a whole number of pixels, got 128.9"),
    "fx-1e300": (("fx",), 1e300, "fx must be a positive number of pixels"),
    "bottom-row": (("cam_to_world", 3), [0.0, 0.0, 1.0, 1.0], "bottom row must be [0, 0, 0, 1]"),
    "nan-matrix": (("cam_to_world", 0, 0), float("nan"), "cam_to_world[0][0] must be a finite number"),
}


def _registry() -> dict[str, FaultCase]:
    cases: list[FaultCase] = []
    for kind, (breaker, reason) in _INBOX.items():
        cases.append(
            FaultCase(
                f"inbox-{kind}",
                "bad input",
                f"rejected: '{reason}'; the good package next to it accepted; no file outside read",
                partial(_inbox_case, breaker, reason),
            )
        )
    cases.append(
        FaultCase(
            "inbox-name-of-existing-task",
            "bad input",
            "rejected (task exists); the task's row unchanged",
            _existing_task_name,
        )
    )
    cases.append(
        FaultCase(
            "inbox-two-processors",
            "concurrency",
            "2 processes × 12 packages: each decided once, 11 tasks, no error",
            _two_processors,
        )
    )
    for kind, commands in _CLI.items():
        cases.append(
            FaultCase(
                f"cli-{kind}",
                "bad input",
                "exit 2, one line naming the mistake; lake unchanged",
                partial(_cli_mistakes, commands),
            )
        )
    cases.append(
        FaultCase(
            "cli-mistyped-lake",
            "bad input",
            "every command: exit 2 'no lake at …'; nothing created",
            _mistyped_lake,
        )
    )
    for kind, (field_path, value, fragment) in _CAMERA.items():
        cases.append(
            FaultCase(
                f"camera-{kind}",
                "bad input",
                f"add-task refused: '{fragment}'; nothing written",
                partial(_camera_case, field_path, value, fragment),
            )
        )
    cases += [
        FaultCase(
            "corrupt-blob-same-size",
            "corruption",
            "lake check: corrupt blob; the stage's re-write heals it in place",
            partial(_blob_damaged, False),
        ),
        FaultCase(
            "corrupt-blob-deleted",
            "corruption",
            "lake check: missing blob; the stage's re-write heals it",
            partial(_blob_damaged, True),
        ),
        FaultCase(
            "corrupt-newest-commit-deleted",
            "corruption",
            "lake check: rolled back (both versions); a rewrite makes it current",
            _commit_deleted,
        ),
        FaultCase(
            "corrupt-commit-garbled",
            "corruption",
            "readers refuse the table; lake check: unreadable table; one-line error",
            _commit_garbled,
        ),
        FaultCase(
            "concurrent-writers-4x15",
            "concurrency",
            "4 processes × 15 commits on evaluations: 60 versions, last write per task, no duplicate",
            partial(_writers, 4, 15),
        ),
    ]
    cases += _slow_cases()
    return {case.name: case for case in cases}


def _slow_cases() -> list[FaultCase]:
    cases = [
        FaultCase(
            f"crash-{stage}",
            "crash point",
            f"kill -9 during step {stage}; run again: success, the clean run's rows, lake check clean"
            + ("; PPO resumes from its checkpoint (update > 0)" if stage == "policies" else ""),
            partial(_crash_case, stage),
            slow=True,
        )
        for stage in STAGES
    ]
    cases += [
        FaultCase(
            "concurrent-runs-same-task",
            "concurrency",
            "a second physworld run of a task while its first runs: refused in one line (already running), the "
            "first succeeds, one row set, lake check clean",
            _two_runs,
            slow=True,
        ),
        FaultCase(
            "corrupt-blob-same-size-rerun",
            "corruption",
            "scene blob overwritten (same size): check reports it; physworld run again heals it",
            _real_blob_corrupt,
            slow=True,
        ),
        FaultCase(
            "corrupt-blob-deleted-repair",
            "corruption",
            "twin spec blob deleted: check reports it; lake check --repair heals it",
            _real_blob_missing,
            slow=True,
        ),
        FaultCase(
            "corrupt-rollouts-rolled-back-repair",
            "corruption",
            "newest rollouts commit deleted: check says rolled back; repair re-runs; export has the current rows",
            _real_rollback,
            slow=True,
        ),
        FaultCase(
            "s3-outage-10s",
            "S3 loss",
            f"SeaweedFS down {SHORT_OUTAGE_S:.0f} s during step videos: the run waits it out and succeeds",
            _s3_short_outage,
            slow=True,
        ),
        FaultCase(
            "s3-outage-beyond-window",
            "S3 loss",
            "SeaweedFS down past the retry window: one line naming the endpoint; a run once it is back succeeds",
            _s3_long_outage,
            slow=True,
        ),
        FaultCase(
            "dead-run-cleared",
            "dead run",
            "kill -9 of a run with dagster-daemon up: failed within the poll interval; the queued run launches",
            _dead_run,
            slow=True,
        ),
    ]
    return cases


CASES: dict[str, FaultCase] = _registry()
"""Every fault case by name (registry order: fast cases first)."""
