"""`physworld` command line: register tasks and run the pipeline without the UI."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="physworld", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser(
        "add-task", help="register a task: a scene-package folder or benchmark:<family>:<seed>"
    )
    add.add_argument("task_id")
    add.add_argument("source")
    add.add_argument("--prompt", help="override the package's prompt.txt / the benchmark's prompt")
    run = sub.add_parser("run", help="materialize the physworld job for a registered task")
    run.add_argument("task_id")
    run.add_argument("--env-steps", type=int, default=16384)
    run.add_argument("--trials", type=int, default=10)
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
