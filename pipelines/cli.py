"""`physworld` command line: register tasks and run the pipeline without the UI."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="physworld", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser(
        "add-task",
        help="register a task: a scene-package folder, benchmark:<family>:<seed> or "
        "maniskill:<env id>:<seed>[:<W>x<H>[:<camera>]] (a stock ManiSkill Panda env; give --prompt)",
    )
    add.add_argument("task_id")
    add.add_argument("source")
    add.add_argument(
        "--prompt",
        help="override the package's prompt.txt / the benchmark's prompt (required for maniskill:)",
    )
    run = sub.add_parser("run", help="materialize the physworld job for a registered task")
    run.add_argument("task_id")
    run.add_argument("--env-steps", type=int, default=8192)
    run.add_argument("--trials", type=int, default=10)
    export = sub.add_parser("export", help="write a dataset from the lake (no Dagster run needed)")
    export.add_argument("kind", choices=("lerobot", "videos"))
    export.add_argument("--out", help="local folder or s3:// prefix (default: <lake>/exports/<kind>/<hash>)")
    export.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="filter, repeatable: task_id=bin-0003, family=bin, method=physworld, success=true, trial=0,1",
    )
    export.add_argument("--since", help="only rows written at or after this ISO time")
    export.add_argument("--until", help="only rows written before this ISO time")
    export.add_argument("--min-feasibility", type=float, default=0.0, help="videos: drop clips below this")
    export.add_argument("--sources", default="rollouts,generated", help="videos: rollouts, generated or both")
    export.add_argument("--shard-size", type=int, default=256, help="videos: clips per tar shard")
    args = parser.parse_args(argv)
    if args.command == "export":
        return _export(args)

    import dagster as dg

    from physworld_core.errors import PhysworldError
    from pipelines.definitions import build_definitions
    from pipelines.tasks import add_task, failure_reason

    os.makedirs(
        os.environ.setdefault("DAGSTER_HOME", os.path.abspath(".physworld/dagster_home")), exist_ok=True
    )
    instance = dg.DagsterInstance.get()
    defs = build_definitions()
    store = defs.resources["store"].store()
    if args.command == "add-task":
        try:
            row = add_task(instance, store, args.task_id, args.source, args.prompt)
        except PhysworldError as exc:
            print(f"physworld: {exc}", file=sys.stderr)
            return 2
        print(f"registered {row['task_id']}: {row['prompt']!r} from {row['source']}")
        return 0
    result = defs.resolve_job_def("physworld").execute_in_process(
        partition_key=args.task_id,
        instance=instance,
        raise_on_error=False,
        run_config={
            "ops": {
                "policies": {"config": {"total_env_steps": args.env_steps}},
                "evaluations": {"config": {"trials": args.trials}},
            }
        },
    )
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            print(
                f"physworld: step {event.step_key} failed: {failure_reason(event.event_specific_data.error)}",
                file=sys.stderr,
            )
    return 0 if result.success else 1


def _export(args) -> int:
    """Exports read the lake directly: they need no Dagster instance."""
    import time

    from physworld_core.errors import PhysworldError
    from pipelines.resources import resources_for

    store = resources_for(os.environ.get("PHYSWORLD_ENV", "local"), os.environ.get("PHYSWORLD_LAKE"))[
        "store"
    ].store()
    start = time.perf_counter()
    try:
        from physworld_core.export.selection import Selection

        selection = Selection.parse(args.where, args.since, args.until)
        if args.kind == "lerobot":
            from physworld_core.export.lerobot import export_lerobot

            result = export_lerobot(store, args.out, selection)
        else:
            from physworld_core.export.video_set import VideoSetConfig, export_video_set

            config = VideoSetConfig(tuple(args.sources.split(",")), args.min_feasibility, args.shard_size)
            result = export_video_set(store, args.out, selection, config)
    except PhysworldError as exc:
        print(f"physworld export: {exc}", file=sys.stderr)
        return 2
    state = "written" if result.written else "unchanged (same selection already exported)"
    print(f"{args.kind} export {state}: {result.uri}")
    print(
        f"  {result.summary}; {len(result.files)} files, {result.bytes / 2**20:.2f} MB, "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
