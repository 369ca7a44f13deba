"""`physworld` command line: register tasks, run the pipeline, see where tasks stand, export, look after the lake.

Every command resolves the same configuration a Dagster run does (``PHYSWORLD_ENV``, ``PHYSWORLD_LAKE``, the
``AWS_*`` variables; see :func:`pipelines.resources.environment_store`), and every failure a user can act on is
one line on stderr naming what was wrong and what to do (exit code 2); ``PHYSWORLD_DEBUG=1`` adds tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from physworld_core.errors import PhysworldError


class UsageError(PhysworldError):
    """The command line asks for something that does not exist (a task, a lake, a config file)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="physworld",
        description="Register tasks, run the physworld pipeline, inspect and export its lake.",
        epilog="Environment: PHYSWORLD_ENV (local|prod), PHYSWORLD_LAKE (directory or s3://bucket/prefix), "
        "DAGSTER_HOME, and for prod AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add = sub.add_parser("add-task", help="register a task (its lake row and Dagster partition)")
    add.add_argument("task_id", help="the task's id: 1-128 letters, digits, '-' or '_'")
    add.add_argument(
        "source",
        help="a scene-package folder (captured into the lake), benchmark:<family>:<seed>, or "
        "maniskill:<env id>:<seed>[:<W>x<H>[:<camera>]] (a stock ManiSkill Panda env; give --prompt)",
    )
    add.add_argument("--prompt", help="the instruction; overrides prompt.txt / the benchmark's own prompt")
    add.add_argument(
        "--force",
        action="store_true",
        help="replace a task already registered with another source or prompt; its stages become stale",
    )

    run = sub.add_parser("run", help="materialize the physworld job for a registered task, in this process")
    run.add_argument("task_id", help="a registered task (see `physworld list`)")
    run.add_argument("--env-steps", type=int, default=None, help="residual PPO budget in env steps (8192)")
    run.add_argument("--trials", type=int, default=None, help="ground-truth trials per method (10)")
    run.add_argument(
        "--config",
        metavar="RUN_CONFIG.yaml",
        help="a Dagster run config (ops: {policies: {config: ...}, ...}); --env-steps/--trials win over it",
    )

    sub.add_parser("list", help="registered tasks with their latest stage, success and run status")
    status = sub.add_parser("status", help="one task: each stage's rows and figures, the latest run")
    status.add_argument("task_id", help="a registered task")

    export = sub.add_parser("export", help="write a dataset from the lake (no Dagster run needed)")
    export.add_argument(
        "kind", choices=("lerobot", "videos"), help="LeRobot v3 dataset or WebDataset clip set"
    )
    export.add_argument("--out", help="local folder or s3:// prefix (default: <lake>/exports/<kind>/<hash>)")
    export.add_argument(
        "--where",
        action="append",
        default=None,
        metavar="COLUMN=VALUE",
        help="filter, repeatable: task_id=bin-0003, family=bin, method=physworld, success=true, trial=0,1 "
        "(default for lerobot: success=true, physworld_core.export.lerobot.DEFAULT_WHERE)",
    )
    export.add_argument("--since", help="only rows written at or after this ISO time (2026-11-22T08:00)")
    export.add_argument("--until", help="only rows written before this ISO time")
    export.add_argument(
        "--min-feasibility",
        type=float,
        default=None,
        help="videos: drop clips scored below this, 0..1 (default 0.5, VideoSetConfig)",
    )
    export.add_argument(
        "--sources", default=None, help="videos: rollouts, generated or both (comma-separated)"
    )
    export.add_argument("--shard-size", type=int, default=None, help="videos: clips per tar shard")

    lake = sub.add_parser("lake", help="check, repair or migrate the lake")
    lake_sub = lake.add_subparsers(dest="lake_command", required=True, metavar="LAKE_COMMAND")
    check = lake_sub.add_parser(
        "check", help="verify every table's version against what runs wrote, and every blob against its hash"
    )
    check.add_argument("--task", action="append", help="only these tasks (repeatable)")
    check.add_argument("--no-blobs", action="store_true", help="skip hashing blobs (tables only)")
    check.add_argument(
        "--repair", action="store_true", help="re-run the stages of every task the check found damaged"
    )
    check.add_argument(
        "--config",
        metavar="RUN_CONFIG.yaml",
        help="with --repair: the run config the damaged tasks were run with (default: the job's defaults)",
    )
    migrate = lake_sub.add_parser(
        "migrate", help="rewrite absolute blob paths as lake:// references (one Delta commit per table)"
    )
    migrate.add_argument("--dry-run", action="store_true", help="only count what would change")

    calibrate = sub.add_parser(
        "calibrate",
        help="fit the table in a capture's depth and write camera.json with cam_to_world and a workspace box",
    )
    calibrate.add_argument(
        "folder",
        help="a capture folder: depth.png (uint16 mm) or depth.npy (float32 m), camera.json (intrinsics)",
    )
    calibrate.add_argument(
        "--base",
        nargs=2,
        type=float,
        metavar=("FORWARD", "LEFT"),
        default=None,
        help="the robot base's position in metres from the reference point, along the camera's view laid on the "
        "table and to its left (default: -0.615 0, on the camera's side facing away from it)",
    )
    calibrate.add_argument(
        "--heading",
        type=float,
        default=0.0,
        help="the way the robot faces, degrees anticlockwise from forward",
    )
    calibrate.add_argument(
        "--pixel",
        nargs=2,
        type=float,
        metavar=("ROW", "COL"),
        default=None,
        help="the reference point, a pixel on the table (default: the centre of the table's visible area)",
    )
    calibrate.add_argument("--out", help="where to write camera.json (default: the folder's camera.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = COMMANDS[args.command]
    try:
        return command(args)
    except PhysworldError as error:
        print(f"physworld {args.command}: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"physworld {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last line of defence: one line, the traceback only when asked
        if os.environ.get("PHYSWORLD_DEBUG"):
            raise
        print(
            f"physworld {args.command}: internal error {type(error).__name__}: {_one_line(error, 300)} "
            "(set PHYSWORLD_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


# ----------------------------------------------------------------------------------------------- helpers


def _one_line(error: BaseException | str, limit: int = 1000) -> str:
    """An error's message on one line: storage errors arrive with the storage library's line breaks and colours."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).replace("↳", "->")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _store(must_exist: bool = True):
    """The environment's store; with ``must_exist``, a lake that has no ``tasks`` table is a mistyped root."""
    from pipelines.resources import environment_store

    store = environment_store()
    if must_exist and not store.lake.exists("tasks"):
        raise UsageError(
            f"no lake at {store.lake.root} (it has no tasks table): check PHYSWORLD_LAKE, or register a task "
            "first with `physworld add-task`"
        )
    return store


def _instance():
    import dagster as dg

    os.makedirs(
        os.environ.setdefault("DAGSTER_HOME", os.path.abspath(".physworld/dagster_home")), exist_ok=True
    )
    return dg.DagsterInstance.get()


def _require_task(store, task_id: str) -> dict:
    from physworld_core.scene import validate_task_id

    validate_task_id(task_id)
    frame = store.lake.read_partition("tasks", task_id)
    if frame.height == 0:
        raise UsageError(f"no task {task_id} in {store.lake.root}; add it with `physworld add-task`")
    return frame.row(0, named=True)


# ---------------------------------------------------------------------------------------------- commands


def _add_task(args) -> int:
    from physworld_core.errors import TaskExistsError
    from pipelines.tasks import add_task

    store = _store(must_exist=False)
    try:
        row = add_task(_instance(), store, args.task_id, args.source, args.prompt, force=args.force)
    except TaskExistsError as error:
        existing = error.existing
        raise UsageError(
            f"task {args.task_id} is already registered as {existing.get('source')} "
            f"({existing.get('prompt')!r}); add --force to replace it (its stages then show stale and re-run)"
        ) from None
    print(f"registered {row['task_id']}: {row['prompt']!r} from {row['source']} (lake {store.lake.root})")
    return 0


def _read_run_config(path: str) -> dict:
    import yaml

    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except OSError as error:
        raise UsageError(f"cannot read run config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"run config {path} is not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(config, dict):
        raise UsageError(f"run config {path} must be a mapping (ops: ...)")
    return config


def _run_config(args) -> dict:
    config: dict = _read_run_config(args.config) if args.config else {}
    ops = config.setdefault("ops", {})
    for op, key, value in (
        ("policies", "total_env_steps", args.env_steps),
        ("evaluations", "trials", args.trials),
    ):
        if value is not None:
            ops.setdefault(op, {}).setdefault("config", {})[key] = value
    return config


def _run(args) -> int:
    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.launcher import worker_tags
    from pipelines.partitions import tasks_partitions
    from pipelines.pools import prepare_pools
    from pipelines.tasks import failure_reason

    store = _store()
    _require_task(store, args.task_id)
    instance = _instance()
    if not instance.has_dynamic_partition(tasks_partitions.name, args.task_id):
        # Registered in the lake by another Dagster instance (or before this DAGSTER_HOME existed).
        instance.add_dynamic_partitions(tasks_partitions.name, [args.task_id])
    _refuse_a_second_run(instance, args.task_id)
    prepare_pools(instance)  # the simulator pool sized to this machine; no slot held by a killed run
    run_config = _run_config(args)
    job = build_definitions().resolve_job_def("physworld")
    try:
        result = job.execute_in_process(
            partition_key=args.task_id,
            instance=instance,
            raise_on_error=False,
            run_config=run_config,
            tags=worker_tags(),
        )
    except dg.DagsterInvalidConfigError as error:
        lines = [" ".join(e.message.split()) for e in error.errors][:3]
        raise UsageError(f"the run config is not valid: {'; '.join(lines)}") from None
    failed = False
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            failed = True
            print(
                f"physworld run: step {event.step_key} failed: "
                f"{_one_line(failure_reason(event.event_specific_data.error))}",
                file=sys.stderr,
            )
    if result.success:
        print(f"run {result.run_id} succeeded; `physworld status {args.task_id}` shows its figures")
        return 0
    if not failed:
        print(f"physworld run: run {result.run_id} failed (see the Dagster UI)", file=sys.stderr)
    return 1


def _refuse_a_second_run(instance, task_id: str) -> None:
    """One run of a task at a time: two would train into the same checkpoint folder and race on its rows.
    A run whose process is gone does not count (run monitoring marks it failed)."""
    import dagster as dg

    from pipelines.launcher import WorkerStatus, worker_health

    active = instance.get_run_records(
        dg.RunsFilter(
            tags={"dagster/partition": task_id},
            statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
        )
    )
    for record in active:
        if worker_health(instance, record.dagster_run).status == WorkerStatus.RUNNING:
            raise UsageError(
                f"task {task_id} is already running in run {record.dagster_run.run_id}; wait for it to finish "
                "or cancel it in the UI"
            )


def _list(args) -> int:
    from pipelines.status import list_tasks
    from pipelines.text_table import text_table

    store = _store()
    print(text_table(list_tasks(store, _instance())))
    return 0


def _status(args) -> int:
    from pipelines.status import task_status
    from pipelines.text_table import key_values

    store = _store()
    _require_task(store, args.task_id)
    print(key_values(task_status(store, _instance(), args.task_id)))
    return 0


def _export(args) -> int:
    """Exports read the lake directly: they need no Dagster instance."""
    from physworld_core.export.selection import Selection

    store = _store()
    start = time.perf_counter()
    if args.kind == "lerobot":
        from physworld_core.export import lerobot

        where = args.where if args.where is not None else list(lerobot.DEFAULT_WHERE)
        result = lerobot.export_lerobot(store, args.out, Selection.parse(where, args.since, args.until))
    else:
        from physworld_core.export.video_set import VideoSetConfig, export_video_set

        defaults = VideoSetConfig()
        config = VideoSetConfig(
            tuple(args.sources.split(",")) if args.sources else defaults.sources,
            defaults.min_feasibility if args.min_feasibility is None else args.min_feasibility,
            args.shard_size or defaults.samples_per_shard,
        )
        result = export_video_set(
            store, args.out, Selection.parse(args.where or [], args.since, args.until), config
        )
    state = "written" if result.written else "unchanged (same selection already exported)"
    print(f"{args.kind} export {state}: {result.uri}")
    print(
        f"  {', '.join(f'{k} {v}' for k, v in result.summary.items())}; {len(result.files)} files, "
        f"{result.bytes / 2**20:.2f} MB, {time.perf_counter() - start:.1f} s"
    )
    return 0


def _lake(args) -> int:
    return LAKE_COMMANDS[args.lake_command](args)


def _lake_check(args) -> int:
    from physworld_core.lake.check import check_lake
    from pipelines.lake_ops import repair_lake
    from pipelines.text_table import text_table

    store = _store()
    report = check_lake(store, tasks=args.task, blobs=not args.no_blobs)
    print(
        f"checked {report.tables} tables, {report.partitions} task partitions, {report.blobs} blobs in "
        f"{store.lake.root}"
    )
    if not report.problems:
        print("no problem found")
        return 0
    print(text_table([p.as_row() for p in report.problems], max_width=90))
    if not args.repair:
        print(f"{len(report.problems)} problem(s); `physworld lake check --repair` re-runs the damaged tasks")
        return 1
    run_config = _read_run_config(args.config) if args.config else None
    repaired = repair_lake(store, _instance(), report, run_config=run_config, log=print)
    print(f"repaired {len(repaired)} task(s): {', '.join(repaired) or '-'}")
    return 0 if len(repaired) == len(report.damaged_tasks()) else 1


def _lake_migrate(args) -> int:
    from physworld_core.lake.migrate import migrate_blob_references
    from pipelines.text_table import text_table

    store = _store()
    changes = migrate_blob_references(store.lake, dry_run=args.dry_run)
    print(text_table([{"table": c.table, "rows changed": c.rows, "version": c.version} for c in changes]))
    verb = "would rewrite" if args.dry_run else "rewrote"
    print(f"{verb} {sum(c.rows for c in changes)} row(s) to lake:// references")
    return 0


def _calibrate(args) -> int:
    """Fit the table, place the robot, write camera.json: nothing is written when any step refuses."""
    import json
    from pathlib import Path

    from physworld_core.perception.calibration import RobotPlacement, calibrate, write_camera_json
    from physworld_core.scene import CameraSpec, read_package_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; give the capture's folder (depth + camera.json)")
    files = read_package_folder(folder)
    if "camera.json" not in files:
        raise UsageError(f"{folder}: missing camera.json (fx, fy, cx, cy, width, height)")
    try:
        camera_data = json.loads(files["camera.json"])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{folder}/camera.json: not JSON ({error})") from None
    intrinsics = CameraSpec.from_dict(camera_data, source=f"{folder}/camera.json")
    depth_m = _calibration_depth(files, folder)
    try:
        placement = RobotPlacement(
            **({} if args.base is None else {"base_forward_m": args.base[0], "base_left_m": args.base[1]}),
            heading_deg=args.heading,
            pixel=None if args.pixel is None else tuple(args.pixel),
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    calibration = calibrate(depth_m, intrinsics, placement)
    out = write_camera_json(calibration, intrinsics, args.out or folder / "camera.json")
    lo, hi = calibration.workspace_min, calibration.workspace_max
    print(
        f"wrote {out}: camera {calibration.camera_height_m:.3f} m above the table, looking "
        f"{calibration.camera_pitch_deg:.1f} deg down; table fit RMS {1000 * calibration.plane_rms_m:.1f} mm; "
        f"workspace x {lo[0]:+.2f}..{hi[0]:+.2f}, y {lo[1]:+.2f}..{hi[1]:+.2f}, z {lo[2]:+.2f}..{hi[2]:+.2f} m"
    )
    return 0


def _calibration_depth(files: dict[str, bytes], folder) -> object:
    """The folder's depth in metres: depth.npy (float32 m) or depth.png (uint16 mm), as scene packages hold it."""
    import io

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if "depth.npy" in files:
        try:
            depth = np.load(io.BytesIO(files["depth.npy"]), allow_pickle=False)
        except ValueError as error:
            raise UsageError(f"{folder}/depth.npy: not a plain .npy array ({error})") from None
        if depth.ndim != 2 or depth.dtype.kind != "f":
            raise UsageError(f"{folder}/depth.npy: must be an H×W float array of metres, got {depth.dtype}")
        return depth.astype(np.float32)
    if "depth.png" not in files:
        raise UsageError(f"{folder}: missing depth.png (uint16 mm) or depth.npy (float32 m)")
    try:
        raw = np.asarray(Image.open(io.BytesIO(files["depth.png"])))
    except (UnidentifiedImageError, OSError) as error:
        raise UsageError(f"{folder}/depth.png: unreadable PNG ({error})") from None
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise UsageError(
            f"{folder}/depth.png: must be a 16-bit single-channel PNG of millimetres, got {raw.dtype}"
        )
    return raw.astype(np.float32) / 1000.0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "add-task": _add_task,
    "run": _run,
    "list": _list,
    "status": _status,
    "export": _export,
    "lake": _lake,
    "calibrate": _calibrate,
}
LAKE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": _lake_check,
    "migrate": _lake_migrate,
}


if __name__ == "__main__":
    sys.exit(main())
